"""What verify (and so import-record and ``audit --deep``) calls intact, restore restores.

The attack: whoever can write the backup storage rewrites ``_metadata`` and ``_sha256file``
so that every object still matches its own MD5 and SHA-256 blocks, yet restore refuses the
backup: two objects that overlap in the volume (each holding the right bytes for where it
claims to be), or an incremental whose SHA block size is not its parent's (its skipped blocks
then "match" the parent's list index for index). verify used to say ``ok`` to both, and an
operator or ``import-record`` took the backup as good; it now reports each, on POSIX and on
Swift, and restore still refuses with the target unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup
from docket.backup._chunks import cinder_json
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from docket.errors import InvalidBackup
from docket.fleet.audit import audit
from tests._hostile_storage import (
    BLOCK,
    CHUNK,
    FULL,
    INCR,
    VOLUME_ID,
    backed_up_root,
    driver,
    make_backup,
    object_path,
    run_cli,
    stored_dir,
    volume_bytes,
)
from tests._swift import Saio, fresh_container, saio_environment

pytestmark = pytest.mark.usefixtures("never_blocks")

Edit = Callable[[dict[str, Any]], None]


def _overlap(data: bytes, write: Callable[[str, bytes], None]) -> Edit:
    """An edit of a full backup's ``_metadata`` that makes its second object start one SHA
    block early (it overlaps the first), holding the volume's bytes from there: its MD5 and
    every block it covers still match."""

    def edit(meta: dict[str, Any]) -> None:
        ((name, entry),) = meta["objects"][1].items()
        moved = data[entry["offset"] - BLOCK : entry["offset"] + entry["length"]]
        write(name, moved)
        entry.update(
            offset=entry["offset"] - BLOCK,
            length=len(moved),
            compression="none",
            md5=hashlib.md5(moved).hexdigest(),
        )

    return edit


# --- POSIX ------------------------------------------------------------------------------------


def _edit_posix(root: Path, backup_id: str, suffix: str, change: Edit) -> None:
    path = object_path(root, backup_id, suffix)
    data = json.loads(path.read_bytes())
    change(data)
    path.write_bytes(cinder_json(data))


def _posix_overlap(tmp_path: Path) -> Path:
    root = backed_up_root(tmp_path)
    folder = stored_dir(root, FULL)
    edit = _overlap(volume_bytes(), lambda name, body: (folder / name).write_bytes(body))
    _edit_posix(root, FULL, "_metadata", edit)
    return root


def test_overlapping_objects_are_reported_by_verify(tmp_path: Path) -> None:
    root = _posix_overlap(tmp_path)
    report = driver(root).verify(FULL)
    assert not report.ok
    [problem] = report.problems
    assert problem.kind == "metadata"
    assert problem.object is not None and problem.object.endswith("-00002")
    assert "overlaps the object before it" in problem.message
    target = tmp_path / "out.img"
    with pytest.raises(InvalidBackup, match="overlaps the object before it"):
        driver(root).restore(FULL, None, target)
    assert not target.exists()
    result = run_cli(["volume", "verify", FULL, "--root", str(root)])
    assert result.exit_code == 1
    assert "overlaps the object before it" in result.output


@pytest.mark.parametrize("deep", [True, False])
def test_audit_reports_overlapping_objects(tmp_path: Path, deep: bool) -> None:
    """The shallow audit listed cinder and docket as readers of a backup restore refuses:
    the overlap is seen in the metadata object alone."""
    root = _posix_overlap(tmp_path)
    [verdict] = [v for v in audit(root, deep=deep) if v.backup_id == FULL]
    found = [(f.kind, f.message) for f in verdict.findings]
    assert found.count(("metadata", "overlaps the object before it in the volume")) == 1
    assert verdict.readers == ()
    assert verdict.integrity == "damaged"


def _incremental_of_another_block_size(tmp_path: Path) -> Path:
    """A full backup and an incremental of the same bytes (no objects of its own) whose
    ``_sha256file`` claims blocks twice as large, its list copied from the parent's."""
    root = tmp_path / "root"
    data = volume_bytes()
    make_backup(root, tmp_path, data)
    make_backup(root, tmp_path, data, INCR, parent_id=FULL)
    parent = json.loads(object_path(root, FULL, "_sha256file").read_bytes())

    def relabel(sha: dict[str, Any]) -> None:
        sha["chunk_size"] = 2 * BLOCK
        sha["sha256s"] = parent["sha256s"]

    _edit_posix(root, INCR, "_sha256file", relabel)
    return root


def test_block_size_changed_in_an_incremental_is_reported_by_verify(tmp_path: Path) -> None:
    root = _incremental_of_another_block_size(tmp_path)
    report = driver(root).verify(INCR)
    assert [(p.backup_id, p.kind) for p in report.problems] == [(INCR, "sha256")]
    assert f"the backup it builds on used {BLOCK}" in report.problems[0].message
    target = tmp_path / "out.img"
    with pytest.raises(InvalidBackup, match=f"the backup it builds on used {BLOCK}"):
        driver(root).restore(INCR, None, target)
    assert not target.exists()
    record = driver(root).export_record(INCR)
    result = run_cli(["volume", "import-record", record, "--root", str(root)])
    assert result.exit_code == 1, result.output


# --- Swift ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saio() -> Iterator[Saio]:
    with saio_environment() as found:
        yield found


def test_overlapping_objects_on_swift(saio: Saio, tmp_path: Path) -> None:
    store = SwiftStore(auth_url=saio.auth_url, user=saio.user, key=saio.key)
    container = fresh_container()
    swift = SwiftBackupDriver(
        store, container=container, chunk_size=CHUNK, sha_block_size=BLOCK, compression="none"
    )
    data = volume_bytes()
    image = tmp_path / "vol.img"
    image.write_bytes(data)
    done = swift.backup(Backup(id=FULL, volume_id=VOLUME_ID), image)
    prefix = str(done.service_metadata)

    def read(name: str) -> bytes:
        with store.open_object(container, name) as fh:
            return fh.read()

    def write(name: str, body: bytes) -> None:
        store.put_object(container, name, body, md5=hashlib.md5(body).hexdigest())

    meta = json.loads(read(prefix + "_metadata"))
    _overlap(data, write)(meta)
    write(prefix + "_metadata", cinder_json(meta))
    report = swift.verify(FULL)
    assert [p.kind for p in report.problems] == ["metadata"]
    assert "overlaps the object before it" in report.problems[0].message
    target = tmp_path / "out.img"
    with pytest.raises(InvalidBackup, match="overlaps the object before it"):
        swift.restore(FULL, None, target)
    assert not target.exists()
