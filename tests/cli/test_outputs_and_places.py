"""What the commands write and say about a container: an output file replaced keeps its
permissions, an empty output path is refused, and an error about the container a command
reads names its file, line, column and $-path, as ``docket validate`` does."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import pytest

from docket.cli import commands
from tests._databases import three_volumes
from tests._fork import fork_reporting
from tests.cli.test_commands import Run, cinder, v3


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A container file Cinder writes and four that are refused, each for another reason."""
    tampered = json.loads(v3())
    tampered["volume-metadata"]["fee"] = "changed"
    texts = {
        "v2": json.dumps(cinder(2)),
        "invalid": json.dumps(cinder(2, size="big")),
        "too-new": json.dumps({**cinder(2), "version": 9}),
        "tampered": json.dumps(tampered),
        "broken": '{"version": 2, ',
    }
    paths = {}
    for name, text in texts.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(text)
    return paths


@pytest.fixture
def database(tmp_path: Path) -> str:
    return three_volumes(tmp_path / "cinder.db")


# --- output files ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_a_replaced_file_keeps_its_permissions(
    files: dict[str, Path], tmp_path: Path, mode: int
) -> None:
    # -o replaces through a temporary file and a rename; a private file must stay private
    # (as `cp` or a shell's > over it would leave it), not become 0666 less the umask.
    out = tmp_path / "private.json"
    out.write_text("old")
    out.chmod(mode)
    assert commands.migrate(str(files["v2"]), to="3", output=str(out), **Run().kw) == 0
    assert out.stat().st_mode & 0o777 == mode and json.loads(out.read_text())["version"] == 3


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_a_file_whose_owner_cannot_be_kept_keeps_only_the_owners_permissions(
    files: dict[str, Path],
) -> None:
    # nobody may replace root's 0644 file in nobody's directory, but cannot give the new
    # file root as its owner: it gets the owner's permissions only, never more access.
    # (Not under tmp_path: pytest's directories are root's own, closed to nobody.)
    with tempfile.TemporaryDirectory() as top:
        where = Path(top)
        os.chmod(where, 0o755)
        os.chown(where, 65534, 65534)
        _replace_as_nobody(files, where)


def _replace_as_nobody(files: dict[str, Path], where: Path) -> None:
    source = where / "v2.json"
    source.write_bytes(files["v2"].read_bytes())
    out = where / "out.json"
    out.write_text("old")
    out.chmod(0o644)

    def as_nobody(fd: int) -> None:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        run = Run()
        code = commands.migrate(str(source), to="3", output=str(out), **run.kw)
        os.write(fd, f"{code} {run.err}".encode())

    pid, read = fork_reporting(as_nobody)
    with os.fdopen(read, "rb") as fh:
        said = fh.read().decode()
    assert os.waitpid(pid, 0)[1] == 0 and said.startswith("0 "), said
    assert out.stat().st_uid == 65534 and out.stat().st_mode & 0o777 == 0o600


def test_an_empty_output_path_is_refused(database: str, files: dict[str, Path]) -> None:
    before = sorted(os.listdir("."))
    run = Run()
    assert commands.migrate(str(files["v2"]), to="3", output="", **run.kw) == 1
    assert 'output file "" is an empty path' in run.err
    run = Run()
    assert commands.backup(database, ["vol-a"], output="", **run.kw) == 2
    assert "-o: an empty path" in run.err
    assert sorted(os.listdir(".")) == before  # nothing written into the current directory


# --- errors at their place ---------------------------------------------------------------------


def _placed(text: str, file: str) -> list[str]:
    """The lines of ``text`` that name a place in ``file``: FILE:LINE:COLUMN: PATH: message."""
    pattern = re.compile(re.escape(file) + r":[0-9]+:[0-9]+: \$")
    return [
        m
        for line in text.splitlines()
        if (m := line.removeprefix("error: ").strip()) and pattern.match(m)
    ]


@pytest.mark.parametrize("name", ["broken", "too-new", "tampered", "invalid"])
def test_a_refused_container_is_reported_at_its_place_as_validate_reports_it(
    files: dict[str, Path], name: str
) -> None:
    path = str(files[name])
    report = Run()
    assert commands.validate([path], **report.kw) == 1
    expected = _placed(report.out, path)
    assert expected, report.out
    calls = [lambda r: commands.migrate(path, to="3", **r.kw)]
    if name != "tampered":  # inspect shows a digest that does not match in its report
        calls.append(lambda r: commands.inspect(path, **r.kw))
    for call in calls:
        run = Run()
        assert call(run) == 1 and run.out == ""
        assert _placed(run.err, path) == expected, run.err
    run = Run(files[name].read_bytes())
    assert commands.migrate("-", to="1", stdin=run.stdin, **run.kw) == 1
    assert _placed(run.err, "<stdin>") == [e.replace(path, "<stdin>", 1) for e in expected]


def test_a_refused_restore_names_the_file_line_and_member(
    database: str, files: dict[str, Path]
) -> None:
    run = Run()
    assert commands.restore(database, "target", str(files["v2"]), **run.kw) == 1
    (line,) = run.err.splitlines()
    volume_type = '$["volume-base-metadata"]["volume_type_id"]: volume type'
    assert line.startswith(f"error: {files['v2']}:1:") and volume_type in line, line
    run = Run()
    assert commands.restore(database, "no-such-volume", str(files["v2"]), **run.kw) == 1
    assert run.err.startswith("error: volume no-such-volume not found"), run.err


def test_backup_into_a_directory_refuses_before_writing_any_file(
    database: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep")
    (out / "vol-b.json").symlink_to(elsewhere)
    run = Run()
    assert commands.backup(database, ["vol-a", "vol-b"], output=str(out), **run.kw) == 1
    assert "vol-b.json is a symbolic link" in run.err
    assert sorted(p.name for p in out.iterdir()) == ["vol-b.json"]  # vol-a.json not written
    assert elsewhere.read_text() == "keep"


def test_a_volume_id_that_is_not_a_file_name_is_refused_for_a_directory(
    database: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    run = Run()
    assert commands.backup(database, ["vol-a", "../vol-b"], output=f"{out}/", **run.kw) == 2
    assert 'volume id "../vol-b" cannot name a file' in run.err
    assert list(out.iterdir()) == [] and sorted(os.listdir(tmp_path)) == ["cinder.db", "out"]
