"""What ``docket release`` and ``docket new-version`` do to the files of a family folder that
an operator made private or someone tampered with: modes kept, links and FIFOs refused before
anything changes, no hang on a FIFO among golden containers, one run at a time, and versions
named only as docket writes them."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import docket.authoring
from docket import load_registry
from docket.authoring import plan_release
from docket.cli.authoring import new_version, release
from docket.cli.check import check
from docket.core.errors import UsageError
from tests.authoring.test_release import _write_family, grow, run, tree
from tests.backup.conftest import never_blocks as never_blocks  # a FIFO fails, not hangs


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    return _write_family(tmp_path / "schemas")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


# --- versions as docket writes them -----------------------------------------------------------


@pytest.mark.parametrize("typed", [" 1", "1 ", "01", "+1", "v1", "\u0661"])
def test_release_names_a_version_only_as_docket_writes_it(schemas: Path, typed: str) -> None:
    """`` 1`` and ``01`` released version 1 (int() read them); now a usage error (exit 2)
    whose hint is the spelling meant, and nothing is written."""
    before = tree(schemas)
    code, out, err = run(release, "notes", typed, schemas=schemas)
    assert code == 2, out + err
    assert err.startswith("error: VERSION: ") and "did you mean 1?" in err, err
    assert tree(schemas) == before
    with pytest.raises(UsageError) as caught:
        docket.authoring.release(schemas / "notes", typed, golden=False)
    assert caught.value.argument == "VERSION" and caught.value.hint == "did you mean 1?"
    assert tree(schemas) == before


# --- modes --------------------------------------------------------------------------------------


def test_a_file_replaced_keeps_its_mode_and_a_new_one_gets_the_umasks(schemas: Path) -> None:
    """The manifest an operator made 0640 came back 0644 (the umask's) after a release, and a
    version document made 0600 after new-version --update; new files keep the umask's mode."""
    folder = schemas / "notes"
    os.chmod(folder / "manifest.json", 0o640)
    assert run(release, "notes", "1", schemas=schemas)[0] == 0
    assert mode(folder / "manifest.json") == 0o640
    goldens = sorted((folder / "golden" / "1").glob("*.json"))
    assert goldens and {mode(p) for p in goldens} == {new_file_mode()}
    assert run(new_version, "notes", schemas=schemas)[0] == 0
    os.chmod(folder / "2.json", 0o600)
    os.chmod(folder / "manifest.json", 0o604)
    assert run(new_version, "notes", schemas=schemas, update=True)[0] == 0
    assert mode(folder / "2.json") == 0o600
    assert run(release, "notes", "2", schemas=schemas, golden=False)[0] == 0
    assert mode(folder / "manifest.json") == 0o604


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_file_replaced_keeps_its_owner(schemas: Path) -> None:
    manifest = schemas / "notes" / "manifest.json"
    os.chown(manifest, 4321, 4321)
    assert run(release, "notes", "1", schemas=schemas, golden=False)[0] == 0
    assert (os.stat(manifest).st_uid, os.stat(manifest).st_gid) == (4321, 4321)


# --- links and FIFOs ------------------------------------------------------------------------------


def _outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside.json"
    secret.write_text("not docket's\n")
    return secret


@pytest.mark.usefixtures("never_blocks")
@pytest.mark.parametrize("planted", ["link", "fifo", "dangling link"])
def test_a_link_or_fifo_at_a_target_is_refused_before_anything_changes(
    schemas: Path, tmp_path: Path, planted: str
) -> None:
    """A link at the name of a golden container the release writes was replaced by a regular
    file (after reading through it), and a FIFO there hung the release; both are refused
    (exit 1, UnsafeFile naming the file), every file as it was, the link's target untouched."""
    secret = _outside(tmp_path)
    plan = plan_release(load_registry(schemas).family("notes"), 1)
    target = plan.golden[3]
    target.parent.mkdir(parents=True)
    if planted == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to(secret if planted == "link" else tmp_path / "nowhere")
    before = tree(schemas)
    code, out, err = run(release, "notes", "1", schemas=schemas)
    assert code == 1, out + err
    assert str(target) in err and ("symbolic link" in err or "FIFO" in err), err
    assert tree(schemas) == before
    assert os.path.islink(target) or stat.S_ISFIFO(os.lstat(target).st_mode)
    assert secret.read_text() == "not docket's\n"
    assert (
        "released" not in err
        and not json.loads((schemas / "notes" / "manifest.json").read_text())["released"]
    )


def test_a_linked_golden_directory_is_not_written_through(schemas: Path, tmp_path: Path) -> None:
    """``golden`` a link to a directory elsewhere: the release wrote its containers there."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (schemas / "notes" / "golden").symlink_to(elsewhere)
    before = tree(schemas)
    code, out, err = run(release, "notes", "1", schemas=schemas)
    assert code == 1, out + err
    assert "golden" in err and "symbolic link" in err, err
    assert list(elsewhere.iterdir()) == []
    assert tree(schemas) == before


def test_a_fifo_among_older_golden_containers_is_a_problem_not_a_hang(schemas: Path) -> None:
    """Releasing 2 reads version 1's golden containers to pin their upgrades, and docket check
    reads every golden container: each opened a FIFO named ``*.json`` and waited forever.
    Run in a child process, so the old code fails on the timeout instead of hanging."""
    assert run(release, "notes", "1", schemas=schemas)[0] == 0
    grow(schemas, "pages")
    fifo = schemas / "notes" / "golden" / "1" / "zz.json"
    os.mkfifo(fifo)
    before = tree(schemas)
    for argv in (["release", "notes", "2"], ["check"]):
        proc = subprocess.run(
            [sys.executable, "-m", "docket", "--schemas", str(schemas), *argv],
            capture_output=True,
            text=True,
            timeout=50,
            check=False,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        said = proc.stdout + proc.stderr
        assert f"{fifo}: golden container is a FIFO" in said, said
        assert said.count(str(fifo)) == 1, said  # the path once, not again in the reason
        assert "Traceback" not in proc.stderr
    assert tree(schemas) == before


# --- one run at a time -----------------------------------------------------------------------


@pytest.fixture
def held(schemas: Path) -> Iterator[Path]:
    """The family folder, locked as another docket run holds it."""
    fd = os.open(schemas / "notes", os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield schemas
    finally:
        os.close(fd)


def test_a_release_while_another_run_changes_the_family_is_refused(held: Path) -> None:
    """Two runs each read the manifest and wrote it whole: run together, the second dropped
    the first's release (its golden containers left without the release they belong to)."""
    before = tree(held)
    for argv, kwargs in ((("notes", "1"), {}), (("notes",), {})):
        command = release if len(argv) == 2 else new_version
        code, out, err = run(command, *argv, schemas=held, **kwargs)
        assert code == 1, out + err
        assert "another docket is changing" in err and "wait for it" in err, err
    assert tree(held) == before


# --- what an author gets told ---------------------------------------------------------------------


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def test_a_document_off_the_metaschema_is_named_by_file_line_column_and_path(
    schemas: Path,
) -> None:
    """The error named the file and the $-path but not where in the file: now
    ``FILE:LINE:COLUMN: $-PATH``, in docket check (text and JSON) and in a refused release."""
    document = schemas / "notes" / "1.json"
    _edit(
        document,
        lambda d: d["schema"]["properties"]["note"]["properties"]["text"].update(maxLength="x"),
    )
    lines = document.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if '"maxLength"' in text)
    column = lines[line - 1].index('"maxLength"') + 1
    path = '$["schema"]["properties"]["note"]["properties"]["text"]["maxLength"]'
    code, out, err = run(release, "notes", "1", schemas=schemas)
    assert code == 1
    assert err.startswith(f"error: {document}:{line}:{column}: {path}: "), err
    code, out, _ = run(check, schemas)
    assert f"notes: metaschema: {document}:{line}:{column}: {path}: " in out, out
    code, out, _ = run(check, schemas, output_format="json")
    (finding,) = json.loads(out)["findings"]
    assert (finding["path"], finding["line"], finding["column"]) == (str(document), line, column)
    assert finding["message"].startswith(f"{path}: ")


def test_a_second_document_of_a_version_is_a_finding(schemas: Path) -> None:
    """``01.json`` beside ``1.json``: docket reads only ``1.json``, so an author editing the
    other changed nothing, and docket check said all was well."""
    folder = schemas / "notes"
    (folder / "01.json").write_bytes((folder / "1.json").read_bytes())
    (folder / "notes.json").write_text("{}")  # not named as a version: not this finding
    code, out, _ = run(check, schemas, output_format="json")
    assert code == 1
    found = [f for f in json.loads(out)["findings"] if f["check"] == "document"]
    assert [f["path"] for f in found] == [str(folder / "01.json")]
    assert "second document of version 1" in found[0]["message"]


def test_a_second_document_of_a_version_refuses_a_release(schemas: Path) -> None:
    """It was a finding of ``docket check`` only: ``release`` froze ``1.json`` while the
    author's edits sat in ``01.json``. Refused, naming the file; nothing written."""
    folder = schemas / "notes"
    (folder / "01.json").write_bytes((folder / "1.json").read_bytes())
    before = tree(schemas)
    code, out, err = run(release, "notes", "1", schemas=schemas)
    assert code != 0, out + err
    assert "second document of a version" in err and str(folder / "01.json") in err, err
    assert tree(schemas) == before
    (folder / "01.json").unlink()
    code, out, err = run(release, "notes", "1", schemas=schemas)
    assert code == 0, out + err
