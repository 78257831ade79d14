"""Keys round-trip in the CLI (issue 24, class 8) and what was left from round one (class 9):
a closed standard input, an unchecked volume id, an error naming a temporary file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from docket.cli import cli
from tests._child import run_python

BACKUP = "7a7a0000-0000-4000-8000-000000000001"
VOLUME = "vol-keys"


def _docket(
    *argv: str, env: dict[str, str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docket", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A backup root with one backup made with a key, and the key file."""
    tmp = tmp_path_factory.mktemp("keys")
    key = tmp / "key"
    key.write_bytes(os.urandom(32).hex().encode() + b"\n")
    volume = tmp / "volume.img"
    volume.write_bytes(os.urandom(200_000))
    root = tmp / "backups"
    argv = ["volume", "backup", str(volume), "--root", str(root), "--backup-id", BACKUP]
    result = CliRunner().invoke(cli, [*argv, "--volume-id", VOLUME, "--key-file", str(key)])
    assert result.exit_code == 0, result.stderr
    return root, key


def test_a_keyed_export_is_accepted_by_a_keyed_import(keyed: tuple[Path, Path]) -> None:
    root, key = keyed
    out = CliRunner().invoke(
        cli, ["volume", "export-record", BACKUP, "--root", str(root), "--key-file", str(key)]
    )
    assert out.exit_code == 0, out.stderr
    record = out.stdout.strip()
    back = _import(record, root, key)
    assert back.exit_code == 0, back.stderr
    assert "signature verified" in back.stdout


def test_the_key_environment_variable_signs_the_export(keyed: tuple[Path, Path]) -> None:
    root, key = keyed
    env = {"DOCKET_SIGNING_KEY_FILE": str(key)}
    out = _docket("volume", "export-record", BACKUP, "--root", str(root), env=env)
    assert out.returncode == 0, out.stderr
    back = _docket("volume", "import-record", "-", "--root", str(root), env=env, input=out.stdout)
    assert back.returncode == 0, back.stderr
    assert "signature verified" in back.stdout


def test_an_unkeyed_export_is_still_refused_by_a_keyed_import(keyed: tuple[Path, Path]) -> None:
    root, key = keyed
    out = CliRunner().invoke(cli, ["volume", "export-record", BACKUP, "--root", str(root)])
    back = _import(out.stdout.strip(), root, key)
    assert back.exit_code == 1 and "not signed" in back.stderr


def test_a_record_signed_with_another_key_is_refused(
    keyed: tuple[Path, Path], tmp_path: Path
) -> None:
    root, key = keyed
    other = tmp_path / "other"
    other.write_bytes(b"another key")
    out = CliRunner().invoke(
        cli, ["volume", "export-record", BACKUP, "--root", str(root), "--key-file", str(other)]
    )
    assert out.exit_code == 0
    back = _import(out.stdout.strip(), root, key)
    assert back.exit_code == 1 and "signature" in back.stderr


def _import(record: str, root: Path, key: Path) -> Result:
    return CliRunner().invoke(
        cli, ["volume", "import-record", record, "--root", str(root), "--key-file", str(key)]
    )


# --- a closed standard input ------------------------------------------------------------------

READS_STDIN = {
    "validate": ["validate", "-"],
    "migrate": ["migrate", "-", "--to", "3"],
    "inspect": ["inspect", "-"],
    "import-record -": ["volume", "import-record", "-", "--root", "{root}"],
    "import-record huge": ["volume", "import-record", "{huge}", "--root", "{root}"],
    "audit merge": ["audit", "merge", "-"],
}


@pytest.mark.parametrize("name", sorted(READS_STDIN))
def test_a_closed_standard_input_is_a_typed_error(name: str, keyed: tuple[Path, Path]) -> None:
    root, _ = keyed
    huge = "A" * 100_000  # a record too long to be one, given as the argument
    argv = [a.format(root=root, huge=huge) for a in READS_STDIN[name]]
    done = subprocess.run(
        [sys.executable, "-m", "docket", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.close(0),  # started with no standard input at all
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (1, 3)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    if "huge" not in name:
        assert "<stdin> is closed" in last


# --- an unchecked volume id -------------------------------------------------------------------


@pytest.mark.parametrize("volume_id", ["x/../..", "../../etc", "a b", "x\n", "."])
def test_a_volume_id_that_is_not_a_name_is_refused_before_writing(
    volume_id: str, tmp_path: Path
) -> None:
    volume = tmp_path / "volume.img"
    volume.write_bytes(b"\x01" * 65536)
    root = tmp_path / "backups"
    root.mkdir()
    argv = ["volume", "backup", str(volume), "--root", str(root), "--volume-id", volume_id]
    result = CliRunner().invoke(cli, [*argv, "--backup-id", BACKUP])
    assert result.exit_code == 2, result.stderr
    assert "volume id" in result.stderr and "volume_x" not in result.stderr
    assert list(root.iterdir()) == []  # nothing made


# --- an error names the path the user gave ------------------------------------------------------

FSIZE_CHILD = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))
from docket.cli import main
sys.argv = ["docket", *sys.argv[1:]]
main()
"""


def test_a_failed_write_names_the_output_not_its_temporary_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "stray").mkdir(parents=True)
    (root / "stray" / "file").write_bytes(b"x")
    out = tmp_path / "out.json"
    out.write_text("before")
    done = run_python(FSIZE_CHILD, "audit", str(root), "--format", "json", "-o", str(out))
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line == f"error: File too large: {out}"
    assert out.read_text() == "before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "root"]  # no temporary left
