"""Data objects and object lists written by whoever can write the backup storage: a stream that
inflates past its declared length is stopped at the bound (not inflated whole), a list that
overlaps, repeats or mixes SHA block sizes is refused before the target changes, and a refused
restore leaves no descriptor, thread or temporary file behind."""

from __future__ import annotations

import bz2
import functools
import io
import os
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from docket.backup._chunks import (
    ZSTD_MAX_WINDOW,
    Compression,
    ObjectDamaged,
    _compressor,
    object_pieces,
)
from docket.errors import InvalidBackup
from tests import _hostile_storage as hostile
from tests._hostile_storage import CHUNK, FULL, INCR, make_backup, object_path, rewrite
from tests._trees import snapshot

pytestmark = pytest.mark.usefixtures("never_blocks")

zstandard = pytest.importorskip("zstandard")

TIB = 1 << 40
KEEP = b"the target before the restore\n" * 100


def _files_open() -> list[str]:
    """The process's open descriptors but its sockets: a POSIX restore opens none, and an
    earlier test's HTTP connections (a client's pool, a proxy's handler) may close while
    this one runs."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                out.append(fd)
        except OSError:  # closed meanwhile (or the listing's own descriptor)
            continue
    return sorted(out)


@contextmanager
def _nothing_left() -> Iterator[None]:
    """The block leaves as many open descriptors as it found, and no thread of docket's."""
    fds = _files_open()
    threads = set(threading.enumerate())
    yield
    assert [t.name for t in threading.enumerate() if t not in threads] == []
    assert _files_open() == fds


def _backed_up(tmp_path: Path) -> tuple[Path, bytes]:
    root = tmp_path / "root"
    data = hostile.volume_bytes()
    make_backup(root, tmp_path, data)
    return root, data


@functools.cache
def _zeros(compression: str) -> bytes:
    if compression == "bz2":
        return bz2.compress(bytes(46 << 20))  # 81 bytes
    c = zlib.compressobj(9)
    return c.compress(bytes(256 << 20)) + c.flush(zlib.Z_FULL_FLUSH)


def _bz2_bomb(head: bytes) -> bytes:
    """``head``, then about 1 TiB of zeros: bz2 streams one after another (as Cinder reads
    them), each 46 MiB of zeros in 81 bytes."""
    zeros = _zeros("bz2")
    return bz2.compress(head) + zeros * (TIB // (46 << 20))


def _zstd_bomb(head: bytes) -> bytes:
    """One zstd frame (no content size): ``head`` in a raw block, then 1 TiB of zeros in
    run-length blocks of 128 KiB, 4 bytes each."""
    header = b"\x28\xb5\x2f\xfd" + bytes([0x00, (17 - 10) << 3])  # window: 128 KiB
    raw = (len(head) << 3 | 0 << 1).to_bytes(3, "little") + head
    rle = ((128 << 10) << 3 | 1 << 1).to_bytes(3, "little") + b"\x00"
    last = ((128 << 10) << 3 | 1 << 1 | 1).to_bytes(3, "little") + b"\x00"
    return header + raw + rle * (TIB // (128 << 10) - 1) + last


def _zlib_bomb(head: bytes) -> bytes:
    """``head``, then 1 GiB of zeros (deflate reaches about 1000:1 at most): runs of 256 MiB
    deflated once, each ending on a full flush, so that they can follow one another."""
    c = zlib.compressobj(9)
    return c.compress(head) + c.flush(zlib.Z_FULL_FLUSH) + _zeros("zlib")[2:] * 4


BOMBS = {"bz2": _bz2_bomb, "zstd": _zstd_bomb, "zlib": _zlib_bomb}


@pytest.mark.parametrize("compression", sorted(BOMBS))
@pytest.mark.parametrize("onto", ["path", "open file", "new open file"])
def test_an_object_inflating_past_its_declared_length_is_stopped_at_the_bound(
    tmp_path: Path, compression: str, onto: str
) -> None:
    """The second object's stream holds its own bytes (their MD5 and SHA-256s are the listed
    ones), then a terabyte of zeros: the restore stops one byte past the declared length
    (inflating it all would outlast the test's alarm) and names the object."""
    root, data = _backed_up(tmp_path)
    victim = object_path(root, FULL, "-00002")
    victim.write_bytes(BOMBS[compression](data[CHUNK : 2 * CHUNK]))

    def declare(meta: dict[str, Any]) -> None:
        (entry,) = meta["objects"][1].values()
        entry["compression"] = compression

    rewrite(object_path(root, FULL, "_metadata"), declare)
    target = tmp_path / "target"
    target.write_bytes(KEEP)
    with _nothing_left(), pytest.raises(InvalidBackup, match="holds more than its") as err:
        if onto == "path":
            hostile.driver(root).restore(FULL, None, target)
        else:
            with open(target, "wb" if onto == "new open file" else "r+b") as out:
                hostile.driver(root).restore(FULL, None, out, target_is_new=onto == "new open file")
    assert victim.name in str(err.value)
    if onto != "new open file":
        assert target.read_bytes() == KEEP


def _refused(root: Path, tmp_path: Path, backup_id: str, match: str) -> None:
    """Restoring ``backup_id`` onto a path and onto an open file is refused with ``match``,
    the target and the directory as they were, nothing left open."""
    target = tmp_path / "target"
    target.write_bytes(KEEP)
    before = snapshot(tmp_path)
    with _nothing_left():
        with pytest.raises(InvalidBackup, match=match):
            hostile.driver(root).restore(backup_id, None, target)
        with open(target, "r+b") as out, pytest.raises(InvalidBackup, match=match):
            hostile.driver(root).restore(backup_id, None, out)
    assert snapshot(tmp_path) == before


def test_an_object_listed_twice_is_refused(tmp_path: Path) -> None:
    root, _ = _backed_up(tmp_path)
    rewrite(
        object_path(root, FULL, "_metadata"),
        lambda meta: meta["objects"].insert(2, dict(meta["objects"][1])),
    )
    _refused(root, tmp_path, FULL, "listed twice")


def test_objects_that_overlap_on_block_edges_are_refused(tmp_path: Path) -> None:
    """Object 3 moved back one SHA block (still on an edge): it overlaps object 2."""
    root, _ = _backed_up(tmp_path)

    def shift(meta: dict[str, Any]) -> None:
        (entry,) = meta["objects"][2].values()
        entry["offset"] -= 4096

    rewrite(object_path(root, FULL, "_metadata"), shift)
    _refused(root, tmp_path, FULL, "overlaps the object before it")


def test_objects_listed_out_of_order_restore_where_their_offsets_say(tmp_path: Path) -> None:
    """The list's order is not the volume's: each object lands at its offset."""
    root, data = _backed_up(tmp_path)
    rewrite(object_path(root, FULL, "_metadata"), lambda meta: meta["objects"].reverse())
    hostile.driver(root).restore(FULL, None, tmp_path / "target")
    assert (tmp_path / "target").read_bytes() == data


def test_a_sha256file_shorter_than_the_objects_is_refused(tmp_path: Path) -> None:
    root, _ = _backed_up(tmp_path)
    rewrite(object_path(root, FULL, "_sha256file"), lambda sha: sha["sha256s"].pop())
    _refused(root, tmp_path, FULL, "reaches to byte")


def test_a_chain_whose_parent_has_other_sha_blocks_is_refused(tmp_path: Path) -> None:
    """An incremental whose SHA-256 list uses another block size than its parent's: its list
    could not be compared block for block, so nothing is read."""
    root, data = _backed_up(tmp_path)
    changed = bytearray(data)
    changed[CHUNK : CHUNK + 10] = b"0123456789"
    make_backup(root, tmp_path, bytes(changed), INCR, parent_id=FULL)
    sha = object_path(root, INCR, "_sha256file")

    def halve(doc: dict[str, Any]) -> None:
        doc["chunk_size"] //= 2
        doc["sha256s"] = doc["sha256s"] * 2

    rewrite(sha, halve)
    _refused(root, tmp_path, INCR, "the backup it builds on used")


def test_an_incremental_lands_over_its_parent_whichever_lane_ends_first(tmp_path: Path) -> None:
    """Objects of the full and of the incremental run side by side (the incremental's one
    object beside the full's last): each block is the newest backup's, onto a path and onto
    a new open file, whatever order the lanes finish in."""
    root, data = _backed_up(tmp_path)
    changed = bytearray(data)
    for at in (100, CHUNK + 100, 5 * CHUNK + 10):
        changed[at : at + 8] = b"newbytes"
    make_backup(root, tmp_path, bytes(changed), INCR, parent_id=FULL)
    for _ in range(5):
        hostile.driver(root).restore(INCR, None, tmp_path / "target")
        assert (tmp_path / "target").read_bytes() == bytes(changed)
        with open(tmp_path / "new", "wb") as out:
            hostile.driver(root).restore(INCR, None, out, target_is_new=True)
        assert (tmp_path / "new").read_bytes() == bytes(changed)


def test_a_refused_restore_onto_a_new_volume_leaves_nothing_open(tmp_path: Path) -> None:
    root, _ = _backed_up(tmp_path)
    last = object_path(root, FULL, "-00003")
    last.write_bytes(last.read_bytes()[:-3] + b"xyz")
    with (
        _nothing_left(),
        open(tmp_path / "new", "wb") as out,
        pytest.raises(InvalidBackup, match="left partly written"),
    ):
        hostile.driver(root).restore(FULL, None, out, target_is_new=True)


class _Trickle(io.RawIOBase):
    """A body that gives at most ``step`` bytes a read (a store's short reads)."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__()
        self._data, self._at, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._step, len(self._data) - self._at)
        buffer[:n] = self._data[self._at : self._at + n]
        self._at += n
        return n


@pytest.mark.parametrize("step", [1, 3, 7, 1 << 20])
@pytest.mark.parametrize("change", ["none", "a byte after", "checksum cut", "last block cut"])
def test_a_zstd_frame_must_end_the_object_whatever_the_reads(step: int, change: str) -> None:
    """The frame's end is found from its block headers as the bytes pass, in reads of any
    size: the object is its frame exactly, or it is refused as damaged."""
    data = hostile.volume_bytes(200_000) + bytes(300_000)  # raw, run-length and compressed blocks
    frame = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(data)
    stored = {
        "none": frame,
        "a byte after": frame + b"\x00",
        "checksum cut": frame[:-2],
        "last block cut": frame[:-6],
    }[change]
    body = io.BufferedReader(_Trickle(stored, step), 8)
    pieces = object_pieces(body, Compression.ZSTD, len(data))
    if change == "none":
        assert b"".join(pieces) == data
    elif change == "last block cut":  # short: the restore refuses it as truncated
        assert len(b"".join(pieces)) < len(data)
    else:
        with pytest.raises(ObjectDamaged):
            b"".join(pieces)


def test_a_zstd_frame_asking_for_a_window_past_the_bound_is_refused(tmp_path: Path) -> None:
    """A zstd frame may ask the decompressor to hold up to 128 MiB of window (per object
    being restored, with zstd's defaults); docket reads windows of ZSTD_MAX_WINDOW at most,
    so a frame asking for 16 MiB is refused before it is decompressed, the target as it was.
    Its own bytes are the listed ones: only the window it asks for is wrong."""
    root, data = _backed_up(tmp_path)
    victim = object_path(root, FULL, "-00002")
    wide = zstandard.ZstdCompressionParameters(window_log=24, write_checksum=True)
    body = data[CHUNK : 2 * CHUNK]
    frame = zstandard.ZstdCompressor(compression_params=wide).compress(body + bytes(20 << 20))
    assert zstandard.get_frame_parameters(frame).window_size > ZSTD_MAX_WINDOW
    victim.write_bytes(frame)

    def declare(meta: dict[str, Any]) -> None:
        (entry,) = meta["objects"][1].values()
        entry["compression"] = "zstd"

    rewrite(object_path(root, FULL, "_metadata"), declare)
    _refused(root, tmp_path, FULL, "window larger than the 8 MiB")


def test_docket_and_cinders_zstd_frames_stay_within_the_window_bound() -> None:
    """What docket's writer and Cinder's level (3) make of a large chunk asks for a window
    well within the bound."""
    data = os.urandom(1 << 20) * 40
    mine = _compressor(Compression.ZSTD, len(data))
    assert mine is not None
    frame = mine.compress(data) + mine.flush()
    cinders = zstandard.ZstdCompressor(level=3).compress(data)
    for made in (frame, cinders):
        assert zstandard.get_frame_parameters(made).window_size <= ZSTD_MAX_WINDOW
