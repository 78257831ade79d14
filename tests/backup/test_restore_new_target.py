"""A restore onto an open file made for it (``target_is_new``, Cinder's ``volume_is_new``):
one pass, zero blocks left as holes, every block checked before it is written; a damaged
object raises InvalidBackup. Onto an existing open file: the chain is checked first (two
passes), and a damaged object leaves the file as it was."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup
from docket.backup.errors import InvalidBackup
from docket.backup.posix import PosixBackupDriver

MIB = 1 << 20


def _volume(tmp_path: Path) -> bytes:
    rng = random.Random(27)
    data = bytearray(24 * MIB)
    data[0 : 3 * MIB] = rng.randbytes(3 * MIB)
    data[10 * MIB : 11 * MIB] = b"docket and Cinder\n" * (MIB // 18) + b"x" * (MIB % 18)
    data[20 * MIB + 4096 : 20 * MIB + 4196] = b"\xff" * 100  # an island in zeros
    (tmp_path / "vol").write_bytes(bytes(data))
    return bytes(data)


def _driver(tmp_path: Path) -> tuple[PosixBackupDriver, list[str]]:
    """A driver with a full backup and an incremental of the volume, and the names of the
    data objects it opens to read, in order."""
    driver = PosixBackupDriver(tmp_path / "root", compression="zlib", chunk_size=8 * MIB)
    driver.backup(Backup(id="full", volume_id="v"), tmp_path / "vol")
    with open(tmp_path / "vol", "r+b") as fh:
        fh.seek(5 * MIB)
        fh.write(random.Random(28).randbytes(MIB))
    driver.backup(Backup(id="incr", volume_id="v", parent_id="full"), tmp_path / "vol")
    opened: list[str] = []
    opener = driver.store.open_object

    def open_object(container: str, name: str, *, limit: int | None = None) -> Any:
        if name[-6:-5] == "-":
            opened.append(name)
        return opener(container, name, limit=limit)

    driver.store.open_object = open_object  # type: ignore[method-assign]
    return driver, opened


def _allocated(path: Path) -> int:
    return path.stat().st_blocks * 512


def test_onto_a_new_file_one_pass_leaves_holes_and_is_byte_identical(tmp_path: Path) -> None:
    _volume(tmp_path)
    driver, opened = _driver(tmp_path)
    expected = (tmp_path / "vol").read_bytes()
    out = tmp_path / "new-volume"
    out.write_bytes(b"\x01" * (30 * MIB))  # bytes of an older file: dropped, not kept
    with open(out, "wb") as fh:  # as Cinder's manager opens a new volume's file
        report = driver.restore("incr", None, fh, target_is_new=True)
    assert out.read_bytes() == expected
    assert report.size == len(expected)
    assert len(opened) == len(set(opened)), "an object was read twice"
    if _allocated(tmp_path / "vol") < len(expected):  # the file system keeps holes
        assert _allocated(out) < len(expected) // 2, "the zero blocks were written out"


def test_onto_an_existing_file_the_chain_is_checked_first(tmp_path: Path) -> None:
    _volume(tmp_path)
    driver, opened = _driver(tmp_path)
    expected = (tmp_path / "vol").read_bytes()
    out = tmp_path / "existing"
    out.write_bytes(b"\x01" * (30 * MIB))
    with open(out, "r+b") as fh:
        driver.restore("incr", None, fh)
    assert out.read_bytes() == expected
    assert len(opened) == 2 * len(set(opened)), "each object is read to check, then to write"


def _damage(driver: PosixBackupDriver, backup_id: str) -> None:
    """Flip bytes in the middle of the backup's last data object."""
    directory = driver.store.root / driver.backup_dir_for(backup_id)
    name = sorted(p for p in directory.iterdir() if p.name[-6:-5] == "-")[-1]
    blob = bytearray(name.read_bytes())
    middle = len(blob) // 2
    blob[middle : middle + 16] = bytes(b ^ 0x5A for b in blob[middle : middle + 16])
    os.chmod(name, 0o600)
    name.write_bytes(bytes(blob))


def test_a_damaged_object_onto_a_new_file_raises_invalid_backup(tmp_path: Path) -> None:
    _volume(tmp_path)
    driver, _ = _driver(tmp_path)
    _damage(driver, "full")
    out = tmp_path / "new-volume"
    with open(out, "wb") as fh, pytest.raises(InvalidBackup) as caught:
        driver.restore("incr", None, fh, target_is_new=True)
    assert caught.value.backup_id == "full"
    assert "left partly written" in str(caught.value)
    assert "left as it was" not in str(caught.value)


def test_a_damaged_object_onto_an_existing_file_leaves_it_as_it_was(tmp_path: Path) -> None:
    _volume(tmp_path)
    driver, _ = _driver(tmp_path)
    _damage(driver, "full")
    out = tmp_path / "existing"
    before = b"\x01" * (30 * MIB)
    out.write_bytes(before)
    with open(out, "r+b") as fh, pytest.raises(InvalidBackup) as caught:
        driver.restore("incr", None, fh)
    assert "left as it was" in str(caught.value)
    assert out.read_bytes() == before
