"""A backup sends each stored byte to the store once: an object that does not shrink is
written raw from the start, never compressed and then rewritten (issue 26)."""

from __future__ import annotations

import bz2
import io
import json
import os
import random
import zlib
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup, _writer
from docket.backup.errors import InvalidBackup
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
    driver.backup(Backup(id="f10", volume_id="v"), volume)
    data = bytearray(volume.read_bytes())
    # Runs of random bytes: one short, one longer than what is held before choosing.
    for start, length in ((5 * BLOCK, 3 * BLOCK), (40 * BLOCK, 160 * BLOCK)):
        data[start : start + length] = rng.randbytes(length)
    volume.write_bytes(bytes(data))
    sent = _counting(driver)
    driver.backup(Backup(id="f20", volume_id="v", parent_id="f10"), volume)
    stored = _stored(root, "f20")
    assert sent[0] == stored
    # Both runs were stored raw: the random bytes do not shrink.
    assert stored == 163 * BLOCK
    driver.restore("f20", None, tmp_path / "out")
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
    driver.backup(Backup(id="r10", volume_id="v"), volume)
    assert sent[0] == _stored(root, "r10") == 10 << 20


class _Recorded:
    """A POSIX sink, recording what reached it: bytes written, bytes left as holes, and
    whether it was committed."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self.written = self.skipped = 0
        self.committed = False

    def write(self, data: bytes | memoryview) -> None:
        self.written += len(data)
        self._sink.write(data)

    def write_known(self, data: bytes | memoryview) -> None:
        self.written += len(data)
        self._sink.write_known(data)

    def skip(self, size: int) -> None:
        self.skipped += size
        self._sink.skip(size)

    def commit(self, md5: str) -> None:
        self._sink.commit(md5)
        self.committed = True

    def abort(self) -> None:
        self._sink.abort()


class _CountedVolume(io.FileIO):
    """A volume file counting the bytes read from it."""

    read_bytes = 0

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer) or 0
        self.read_bytes += n
        return n

    def read(self, size: int = -1) -> bytes:
        data = super().read(size) or b""
        self.read_bytes += len(data)
        return data


@pytest.mark.parametrize("compression", ["zlib", "bz2", "zstd"])
def test_random_bytes_then_zeros_are_read_and_compressed_once(
    tmp_path: Path, compression: str
) -> None:
    """An object whose first bytes do not compress is stored raw (zeros as holes) with its
    compressed stream kept aside; smaller compressed over all, it is stored from that stream:
    the volume is read once, and Cinder's decompression gives the volume back."""
    data = random.Random(27).randbytes(3 << 20) + bytes(13 << 20)
    volume = tmp_path / "vol"
    volume.write_bytes(data)
    root = tmp_path / "root"
    driver = PosixBackupDriver(root, compression=compression, chunk_size=16 << 20)
    sinks: list[_Recorded] = []
    opener = driver.store.open_writer

    def open_writer(container: str, name: str) -> Any:
        sink = opener(container, name)
        if name[-6:-5] != "-":
            return sink
        sinks.append(_Recorded(sink))
        return sinks[-1]

    driver.store.open_writer = open_writer  # type: ignore[method-assign]
    with _CountedVolume(volume) as fh:
        done = driver.backup(Backup(id="z10", volume_id="v"), fh)
        assert fh.read_bytes == len(data), "the volume was read again"
    raw, stored = sinks
    assert not raw.committed and stored.committed
    assert raw.skipped >= 12 << 20, "the zeros of the object stored raw were written out"
    assert raw.written + raw.skipped == len(data)
    (name,) = [p for p in (root / done.container).iterdir() if p.name.endswith("-00001")]
    assert stored.written == name.stat().st_size < 4 << 20
    metadata = json.loads(next((root / done.container).glob("*_metadata")).read_text())
    assert metadata["objects"][0][name.name]["compression"] == compression
    # What Cinder's restore does with the object: decompress it whole.
    assert _decompress(compression, name.read_bytes()) == data
    assert driver.verify("z10").problems == ()


def _decompress(compression: str, blob: bytes) -> bytes:
    if compression == "zlib":
        return zlib.decompress(blob)
    if compression == "bz2":
        return bz2.decompress(blob)
    import zstandard

    return zstandard.ZstdDecompressor().decompress(blob)


def test_a_compressed_stream_past_the_spool_limit_is_compressed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past :data:`SPOOL_LIMIT`, the stream kept aside is dropped, and the object that still
    ends smaller compressed is compressed again from a second read of the volume."""
    monkeypatch.setattr(_writer, "SPOOL_LIMIT", 4 << 20)
    data = random.Random(28).randbytes(6 << 20) + bytes(10 << 20)
    volume = tmp_path / "vol"
    volume.write_bytes(data)
    root = tmp_path / "root"
    driver = PosixBackupDriver(root, compression="zlib", chunk_size=16 << 20)
    with _CountedVolume(volume) as fh:
        done = driver.backup(Backup(id="z20", volume_id="v"), fh)
        assert fh.read_bytes == 2 * len(data)
    (name,) = [p for p in (root / done.container).iterdir() if p.name.endswith("-00001")]
    assert zlib.decompress(name.read_bytes()) == data
    assert driver.verify("z20").problems == ()


def test_a_compressed_stream_changed_in_its_temporary_file_is_not_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream kept aside is checked as it is read back: bytes that changed on the
    temporary file's disk fail the backup, and nothing of it is left."""
    add = _writer._Spool.add

    def add_then_damage(self: Any, data: bytes) -> None:
        add(self, data)
        os.pwrite(self._file.fileno(), b"\xff", 0)  # the disk under the spool flips a byte

    monkeypatch.setattr(_writer._Spool, "add", add_then_damage)
    volume = tmp_path / "vol"
    volume.write_bytes(random.Random(29).randbytes(3 << 20) + bytes(5 << 20))
    root = tmp_path / "root"
    driver = PosixBackupDriver(root, compression="zlib", chunk_size=8 << 20)
    with pytest.raises(InvalidBackup, match="kept in a temporary file changed"):
        driver.backup(Backup(id="z30", volume_id="v"), volume)
    assert not [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("compression", ["zlib", "zstd"])
def test_without_temporary_space_the_stream_is_compressed_again_from_the_volume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compression: str
) -> None:
    """The stream kept aside is only a shortcut: when no temporary file can be made (the
    temporary directory is gone, or full), a POSIX backup, which needs no temporary space
    of its own, goes on and compresses the object again from the volume."""
    gone = tmp_path / "no-such-tmp"
    monkeypatch.setattr("tempfile.tempdir", str(gone))
    data = random.Random(30).randbytes(3 << 20) + bytes(5 << 20)
    volume = tmp_path / "vol"
    volume.write_bytes(data)
    root = tmp_path / "root"
    driver = PosixBackupDriver(root, compression=compression, chunk_size=8 << 20)
    with _CountedVolume(volume) as fh:
        done = driver.backup(Backup(id="z40", volume_id="v"), fh)
        assert fh.read_bytes == 2 * len(data)
    (name,) = [p for p in (root / done.container).iterdir() if p.name.endswith("-00001")]
    assert _decompress(compression, name.read_bytes()) == data
    assert not gone.exists()
