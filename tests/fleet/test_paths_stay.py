"""Paths from users stay where they belong (issue 24, class 6).

``new-version`` writes only under ``--schemas``; ``docket check`` refuses a schema file that
is a link to ``/dev/zero`` or a FIFO, at once, in bounded memory; the audit walk goes by
directory descriptors, so a directory swapped for a symbolic link while it runs is reported,
never followed, and nothing outside the root is listed or read.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from docket.cli import cli
from docket.fleet.audit import audit, walk
from tests._child import run_python
from tests._rss import PEAK_RSS_SOURCE

LEDGER = Path(__file__).resolve().parents[1] / "families" / "ledger"


def _tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    directory = tmp_path / "schemas"
    directory.mkdir()
    shutil.copytree(LEDGER, directory / "ledger")
    return directory


@pytest.mark.parametrize("family", ["../outside/ledger", "{outside}/ledger", "..", ".", "a/b"])
def test_new_version_refuses_a_family_that_is_a_path(
    family: str, schemas: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(LEDGER, outside / "ledger")
    before, theirs = _tree(schemas), _tree(outside)
    argv = ["new-version", family.format(outside=outside), "--schemas", str(schemas)]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert "is not a family name" in result.stderr
    assert _tree(schemas) == before and _tree(outside) == theirs


def test_new_version_refuses_a_family_folder_that_is_a_link(schemas: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(LEDGER, outside)
    (schemas / "linked").symlink_to(outside)
    theirs = _tree(outside)
    result = CliRunner().invoke(cli, ["new-version", "linked", "--schemas", str(schemas)])
    assert result.exit_code == 2 and "symbolic link" in result.stderr
    assert _tree(outside) == theirs


CHECK_IN_CHILD = (
    PEAK_RSS_SOURCE
    + """
import sys
from click.testing import CliRunner
from docket.cli import cli
result = CliRunner().invoke(cli, ["check", sys.argv[1]])
print(result.exit_code)
print(result.stdout.strip().splitlines()[0] if result.stdout.strip() else result.stderr)
print(PEAK_RSS_KIB())
"""
)


@pytest.mark.parametrize("kind", ["link to /dev/zero", "FIFO"])
def test_check_refuses_a_schema_file_that_is_not_one(kind: str, schemas: Path) -> None:
    document = schemas / "ledger" / "2.json"
    document.unlink()
    if kind == "FIFO":
        os.mkfifo(document)  # nobody writes: reading it would hang
    else:
        document.symlink_to("/dev/zero")  # endless: reading it whole is a MemoryError
    done = run_python(CHECK_IN_CHILD, str(schemas))
    code, first, peak = done.stdout.splitlines()[-3:]
    assert code == "1", done.stderr
    assert "2.json" in first and ("a FIFO" in first or "character device" in first)
    assert int(peak) < 400 * 1024  # KiB: no read of the device
    assert "Traceback" not in done.stderr


def test_a_directory_swapped_for_a_link_while_walking_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "aa").mkdir(parents=True)
    (root / "aa" / "stray").write_bytes(b"x")
    (root / "ab").mkdir()
    outside = tmp_path / "outside"
    (outside / "cd").mkdir(parents=True)
    (outside / "secret").write_bytes(b"host file")
    (outside / "cd" / "secret2").write_bytes(b"host file")
    places = walk(root)
    first = next(places)  # "ab" is listed as a directory; now it becomes a link
    assert first.path == "aa/stray"
    (root / "ab").rmdir()
    (root / "ab").symlink_to(outside)
    rest = list(places)
    assert [(e.path, e.problem) for e in rest] == [("ab", "no longer a directory (not followed)")]
    verdicts = list(audit(root))
    assert all("secret" not in (v.path or "") for v in verdicts)
    assert any(v.path == "ab" and "symbolic link" in v.findings[0].message for v in verdicts)


def test_a_deep_chain_of_empty_directories_is_walked_without_recursion(tmp_path: Path) -> None:
    root = tmp_path / "root"
    deep = root / "zz-not-layout"
    deep.mkdir(parents=True)
    fd = os.open(deep, os.O_RDONLY)
    try:  # 1500 levels, made relative to a descriptor (a path this long is over PATH_MAX)
        for _ in range(1500):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
    try:
        assert list(walk(root)) == []  # empty all the way down: not reported, no RecursionError
    finally:
        _unchain(deep)


def _unchain(top: Path) -> None:
    """Remove a chain of ``d`` directories below ``top`` a level at a time (rmtree recurses)."""
    fd = os.open(top, os.O_RDONLY)
    try:
        while True:
            try:
                os.rename("d/d", "t", src_dir_fd=fd, dst_dir_fd=fd)
            except FileNotFoundError:
                os.rmdir("d", dir_fd=fd)
                return
            os.rmdir("d", dir_fd=fd)
            os.rename("t", "d", src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)
