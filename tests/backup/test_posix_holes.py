"""A `none` object keeps the volume's zero blocks as holes, reads back every byte, and is
checked end to end as before; a sink written with `write_known` and `skip` leaves the MD5 to
its caller (issue 26)."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from docket.backup import Backup
from docket.backup.errors import InvalidBackup
from docket.backup.posix import PosixBackupDriver, PosixStore

BLOCK = 32768


def _holes_supported(where: Path) -> bool:
    probe = where / "probe"
    with open(probe, "wb") as fh:
        fh.truncate(1 << 20)
        fh.write(b"x")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        return probe.stat().st_blocks * 512 < 1 << 19
    finally:
        probe.unlink()


def test_zero_blocks_are_holes_in_a_raw_object(tmp_path: Path) -> None:
    if not _holes_supported(tmp_path):
        pytest.skip("this file system keeps no holes")
    rng = random.Random(26)
    blocks = [rng.randbytes(BLOCK) if i % 4 == 0 else bytes(BLOCK) for i in range(256)]
    data = b"".join(blocks) + b"\0" * 100  # ends in a short zero block: a hole to the end
    volume = tmp_path / "volume"
    volume.write_bytes(data)
    driver = PosixBackupDriver(tmp_path / "root", compression="none", chunk_size=64 * BLOCK)
    done = driver.backup(Backup(id="b01", volume_id="v1"), volume)
    directory = tmp_path / "root" / done.container
    objects = sorted(p for p in directory.iterdir() if p.name.split("-")[-1].isdigit())
    assert b"".join(p.read_bytes() for p in objects) == data
    on_disk = sum(p.stat().st_blocks * 512 for p in objects)
    assert on_disk < len(data) // 2, "the zero blocks were written out"
    listed = json.loads(next(directory.glob("*_sha256file")).read_text())["sha256s"]
    assert listed[1] == hashlib.sha256(bytes(BLOCK)).hexdigest()
    assert listed[-1] == hashlib.sha256(b"\0" * 100).hexdigest()
    assert driver.verify("b01").problems == ()
    driver.restore("b01", None, tmp_path / "restored")
    assert (tmp_path / "restored").read_bytes() == data


def test_a_sink_told_the_md5_leaves_it_to_the_caller(tmp_path: Path) -> None:
    store = PosixStore(tmp_path)
    store.create_container("c")
    sink = store.open_writer("c", "volume_x-00001")
    sink.write_known(b"abc")
    sink.skip(5)
    sink.write_known(b"def")
    sink.skip(3)
    whole = b"abc" + bytes(5) + b"def" + bytes(3)
    sink.commit(hashlib.md5(whole).hexdigest())
    store.sync("c")
    assert (tmp_path / "c" / "volume_x-00001").read_bytes() == whole

    # Written with write() alone, the sink still checks the MD5 it is given.
    sink = store.open_writer("c", "volume_x-00002")
    sink.write(b"abc")
    with pytest.raises(InvalidBackup, match="MD5"):
        sink.commit(hashlib.md5(b"abd").hexdigest())
    assert not (tmp_path / "c" / "volume_x-00002").exists()
