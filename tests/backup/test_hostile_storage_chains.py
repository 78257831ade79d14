"""Hostile storage, round two (issue 24, class 9): a backup directory that is a link, and a
child of another volume's backup passed off as this volume's.

Each refusal is typed, the CLI exits 1 without a traceback, and nothing changes: no file
outside the root, no byte of the restore target, no row of the database.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import docket.store
from docket.backup import Backup
from docket.errors import InvalidBackup, UnsafeFile
from tests._databases import dump
from tests._hostile_storage import (
    FULL,
    INCR,
    VOLUME_ID,
    driver,
    make_volume,
    object_path,
    rewrite,
    run_cli,
    stored_dir,
    volume_bytes,
)

OTHER = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


def _tree(top: Path) -> dict[str, bytes | None]:
    """Every path under ``top`` (links not followed) with its bytes (None: not a file)."""
    out: dict[str, bytes | None] = {}
    for here, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(here) / name
            out[str(path.relative_to(top))] = (
                path.read_bytes() if path.is_file() and not path.is_symlink() else None
            )
    return out


@pytest.mark.parametrize("level", ["ab", "ab/cd", "ab/cd/<id>"])
def test_a_backup_directory_that_is_a_link_gets_nothing_written_through_it(
    tmp_path: Path, level: str
) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (elsewhere / "kept").write_bytes(b"theirs")
    link = root / level.replace("ab", FULL[0:2], 1).replace("cd", FULL[2:4]).replace("<id>", FULL)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere)
    before_elsewhere, before_root = _tree(elsewhere), _tree(root)
    src = tmp_path / "src"
    src.write_bytes(volume_bytes())
    with pytest.raises(UnsafeFile, match="symbolic link") as caught:
        driver(root).backup(Backup(id=FULL, volume_id=VOLUME_ID), src)
    assert caught.value.hint
    assert _tree(elsewhere) == before_elsewhere
    assert _tree(root) == before_root
    result = run_cli(["volume", "backup", str(src), "--root", str(root),
                      "--backup-id", FULL, "--volume-id", VOLUME_ID])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "symbolic link" in result.output
    assert _tree(elsewhere) == before_elsewhere and _tree(root) == before_root


def test_a_directory_swapped_for_a_link_mid_backup_gets_no_object(tmp_path: Path) -> None:
    """The container is checked when made, and every object is then written in the
    directory held open: a link swapped in afterwards is not written through."""
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    elsewhere.mkdir()
    store = driver(root).store
    container = f"{FULL[0:2]}/{FULL[2:4]}/{FULL}"
    store.create_container(container)
    sink = store.open_writer(container, f"volume_{VOLUME_ID}_20260101000000_backup_{FULL}-00001")
    real = root / container
    real.rename(tmp_path / "moved")
    real.symlink_to(elsewhere)
    sink.write(b"data")
    sink.commit(hashlib.md5(b"data").hexdigest())
    assert list(elsewhere.iterdir()) == []
    with pytest.raises(UnsafeFile):
        store.put_object(container, "x_metadata", b"{}", md5="99914b932bd37a50b983c5e7c90ae93b")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_sync_does_not_follow_a_directory_swapped_for_a_link(tmp_path: Path, kind: str) -> None:
    """``sync`` flushes the container as every object was reached: a link swapped in for it
    (to a directory elsewhere, whose flush would leave the backup's own unflushed; to a FIFO,
    whose open would block the backup for ever) is refused."""
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    if kind == "fifo":
        os.mkfifo(elsewhere)
    else:
        elsewhere.mkdir()
    store = driver(root).store
    container = f"{FULL[0:2]}/{FULL[2:4]}/{FULL}"
    store.create_container(container)
    store.put_object(container, f"volume_{VOLUME_ID}_x_metadata", b"{}", md5=EMPTY_OBJECT_MD5)
    real = root / container
    real.rename(tmp_path / "moved")
    real.symlink_to(elsewhere)
    with pytest.raises(UnsafeFile, match="symbolic link"):
        store.sync(container)


EMPTY_OBJECT_MD5 = hashlib.md5(b"{}").hexdigest()


def test_a_failed_backups_clean_up_runs_past_an_object_swapped_for_a_link(
    tmp_path: Path,
) -> None:
    """A backup that fails after writing an object whose background flush then meets a
    link (swapped in for the object) still removes what it wrote: the flush's refusal does
    not stop the clean-up, nor replace the backup's own error."""
    root, src = tmp_path / "root", tmp_path / "src"
    src.write_bytes(volume_bytes())
    d = driver(root)
    store, victim = d.store, tmp_path / "victim"
    victim.write_bytes(b"theirs")
    real_writer = store.open_writer
    gate = threading.Event()  # holds the flushing thread until the swap is done

    def open_writer(container: str, name: str) -> Any:
        if name.endswith("-00001"):
            store._flush_later(container, lambda _: gate.wait(60), None)
        if name.endswith("-00002"):  # the first object is committed: swap it, then fail
            first = next((root / container).glob("volume_*-00001"))
            first.unlink()
            first.symlink_to(victim)
            gate.set()
            raise OSError(5, "Input/output error")
        return real_writer(container, name)

    store.open_writer = open_writer  # type: ignore[method-assign]
    with pytest.raises(OSError, match="Input/output error"):
        d.backup(Backup(id=FULL, volume_id=VOLUME_ID), src)
    assert victim.read_bytes() == b"theirs"
    assert not list(root.rglob("*_backup_*")), "the failed backup's files were left"


# --- a child of another volume's backup --------------------------------------------------------


def _chain_of_other_volume(tmp_path: Path, root: Path) -> Path:
    """OTHER's full backup (FULL) and incremental (INCR) under ``root``; the volume file."""
    src = tmp_path / "other-src"
    src.write_bytes(volume_bytes(seed=7))
    driver(root).backup(Backup(id=FULL, volume_id=OTHER), src)
    driver(root).backup(Backup(id=INCR, volume_id=OTHER, parent_id=FULL), src)
    return src


def _restore_refused(tmp_path: Path, root: Path, url: str, engine: Any, match: str) -> None:
    api = docket.store.BackupMetadataAPI(engine)
    target = tmp_path / "target"
    target.write_bytes(b"this volume's bytes")
    before = dump(engine)
    with pytest.raises(InvalidBackup, match=match):
        driver(root, metadata_api=api).restore(INCR, VOLUME_ID, target)
    assert target.read_bytes() == b"this volume's bytes" and dump(engine) == before
    result = run_cli(["volume", "restore", INCR, "--root", str(root), str(target),
                      "--db", url, "--volume-id", VOLUME_ID])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert target.read_bytes() == b"this volume's bytes" and dump(engine) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".target")]


def _relabel(tmp_path: Path, root: Path, src: Path) -> None:
    """The metadata objects now say VOLUME_ID; the objects are still named for OTHER."""
    for backup_id in (FULL, INCR):
        rewrite(object_path(root, backup_id, "_metadata"), lambda d: d.update(volume_id=VOLUME_ID))


def _adopt(tmp_path: Path, root: Path, src: Path) -> None:
    """INCR made again as this volume's incremental of its own full backup, then pointed at
    OTHER's full backup instead."""
    shutil.rmtree(stored_dir(root, INCR))
    mine = "cc33dd44-mine"
    driver(root).backup(Backup(id=mine, volume_id=VOLUME_ID), src)
    driver(root).backup(Backup(id=INCR, volume_id=VOLUME_ID, parent_id=mine), src)
    rewrite(object_path(root, INCR, "_metadata"), lambda d: d.update(parent_id=FULL))


@pytest.mark.parametrize(
    ("forge", "match"),
    [(_relabel, f"objects are named for volume .{OTHER}"), (_adopt, "of another volume")],
    ids=["relabelled-chain", "child-of-another-volumes-backup"],
)
def test_another_volumes_backup_is_not_restored_into_this_volume(
    tmp_path: Path, sqlite_db: tuple[str, Any], forge: Any, match: str
) -> None:
    url, engine = sqlite_db
    make_volume(engine)
    root = tmp_path / "root"
    forge(tmp_path, root, _chain_of_other_volume(tmp_path, root))
    _restore_refused(tmp_path, root, url, engine, match)
