"""A backup sends each stored byte to the store once: an object that does not shrink is
written raw from the start, never compressed and then rewritten (issue 26)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup
from docket.backup.posix import PosixBackupDriver

BLOCK = 32768


class _Counted:
    """A store's sink, counting the bytes sent to it."""

    def __init__(self, sink: Any, sent: list[int]) -> None:
        self._sink, self._sent = sink, sent

    def write(self, data: bytes | memoryview) -> None:
        self._sent[0] += len(data)
        self._sink.write(data)

    def commit(self, md5: str) -> None:
        self._sink.commit(md5)

    def abort(self) -> None:
        self._sink.abort()


def _counting(driver: PosixBackupDriver) -> list[int]:
    """Bytes sent to the store's data-object sinks, counted as the driver writes."""
    sent = [0]
    store = driver.store
    opener = store.open_writer

    def open_writer(container: str, name: str) -> Any:
        sink = opener(container, name)
        return _Counted(sink, sent) if name[-6:-5] == "-" else sink

    store.open_writer = open_writer  # type: ignore[method-assign]
    return sent


def _stored(root: Path, backup_id: str) -> int:
    where = root / backup_id[0:2] / backup_id[2:4] / backup_id
    return sum(p.stat().st_size for p in where.iterdir() if p.name[-6:-5] == "-")


@pytest.mark.parametrize("compression", ["zlib", "bz2", "zstd"])
def test_an_incremental_of_incompressible_blocks_writes_each_byte_once(
    tmp_path: Path, compression: str
) -> None:
    rng = random.Random(5)
    text = b"the quick brown fox jumps over the lazy dog " * 200_000
    volume = tmp_path / "vol"
    volume.write_bytes(text[: 6 << 20])
    root = tmp_path / "root"
    driver = PosixBackupDriver(root, compression=compression, chunk_size=4 << 20)
    driver.backup(Backup(id="f1", volume_id="v"), volume)
    data = bytearray(volume.read_bytes())
    # Runs of random bytes: one short, one longer than what is held before choosing.
    for start, length in ((5 * BLOCK, 3 * BLOCK), (40 * BLOCK, 160 * BLOCK)):
        data[start : start + length] = rng.randbytes(length)
    volume.write_bytes(bytes(data))
    sent = _counting(driver)
    driver.backup(Backup(id="f2", volume_id="v", parent_id="f1"), volume)
    stored = _stored(root, "f2")
    assert sent[0] == stored
    # Both runs were stored raw: the random bytes do not shrink.
    assert stored == 163 * BLOCK
    driver.restore("f2", None, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == bytes(data)


@pytest.mark.parametrize("compression", ["zlib", "bz2", "zstd"])
def test_a_full_backup_of_random_bytes_is_written_once_raw(
    tmp_path: Path, compression: str
) -> None:
    volume = tmp_path / "vol"
    volume.write_bytes(random.Random(6).randbytes(10 << 20))
    root = tmp_path / "root"
    driver = PosixBackupDriver(root, compression=compression, chunk_size=8 << 20)
    sent = _counting(driver)
    driver.backup(Backup(id="r1", volume_id="v"), volume)
    assert sent[0] == _stored(root, "r1") == 10 << 20
