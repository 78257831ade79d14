"""The restore pipeline with many objects: objects read, decompressed and checked side by side,
no more than :data:`docket.backup._restore.OBJECTS` at once; a damaged one among them refuses
the restore, is named, and leaves the target as it was."""

from __future__ import annotations

import io
import random
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup, InvalidBackup, _restore
from docket.backup._restore import RestoreWriter
from docket.errors import DocketError
from tests._hostile_storage import CHUNK, FULL, VOLUME_ID, driver, object_path

COUNT = 8
BEFORE = b"the target before the restore\n" * 100


def _backed_up(tmp: Path, compression: str) -> tuple[Path, bytes]:
    """A full backup of :data:`COUNT` data objects, the last one short."""
    root = tmp / "root"
    rng = random.Random(7)
    words = [rng.randbytes(4).hex() for _ in range(50)]
    data = " ".join(rng.choice(words) for _ in range(COUNT * CHUNK // 9)).encode()
    data = data[: COUNT * CHUNK - 100]  # compressible: zlib objects stay zlib
    volume = tmp / "volume"
    volume.write_bytes(data)
    driver(root, compression=compression).backup(Backup(id=FULL, volume_id=VOLUME_ID), volume)
    return root, data


def _damage(root: Path, n: int, compression: str) -> str:
    """One byte of object ``n`` changed, the object still a valid stream: only the SHA-256
    of its block (and its MD5) can tell. Its name."""
    path = object_path(root, FULL, f"-{n:05d}")
    stored = path.read_bytes()
    plain = bytearray(zlib.decompress(stored) if compression == "zlib" else stored)
    plain[len(plain) // 2] ^= 1
    path.write_bytes(zlib.compress(bytes(plain)) if compression == "zlib" else bytes(plain))
    return path.name


def _restore_onto(root: Path, target: Path, onto: str) -> None:
    if onto == "path":
        driver(root).restore(FULL, None, target)
    else:
        with open(target, "r+b") as out:
            driver(root).restore(FULL, None, out)


@pytest.mark.parametrize("compression", ["none", "zlib"])
@pytest.mark.parametrize("damaged", [1, 4, COUNT])
@pytest.mark.parametrize("onto", ["path", "open file"])
def test_a_damaged_object_among_several_refuses_the_restore_and_is_named(
    tmp_path: Path, compression: str, damaged: int, onto: str
) -> None:
    root, _ = _backed_up(tmp_path, compression)
    name = _damage(root, damaged, compression)
    target = tmp_path / "target"
    target.write_bytes(BEFORE)
    with pytest.raises(InvalidBackup) as err:
        _restore_onto(root, target, onto)
    assert name in str(err.value)
    others = [f"-{n:05d}" for n in range(1, COUNT + 1) if n != damaged]
    assert not any(other in str(err.value) for other in others)
    assert target.read_bytes() == BEFORE
    assert sorted(p.name for p in tmp_path.iterdir() if "target" in p.name) == ["target"]


def _watched(
    monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any], before: Callable[[str], None]
) -> None:
    """RestoreWriter._object counted while it runs (``before(name)`` first), into ``seen``."""
    seen.update(running=0, peak=0, failed={}, lock=threading.Lock())
    seen["overlapped"] = threading.Event()
    real = RestoreWriter._object

    def counted(self: RestoreWriter, *args: Any) -> None:
        name = args[2]
        with seen["lock"]:
            seen["running"] += 1
            seen["peak"] = max(seen["peak"], seen["running"])
            if seen["running"] > 1:
                seen["overlapped"].set()
        try:
            before(name)
            real(self, *args)
        except BaseException as err:
            seen["failed"][name[-5:]] = err
            raise
        finally:
            with seen["lock"]:
                seen["running"] -= 1

    monkeypatch.setattr(RestoreWriter, "_object", counted)


def test_objects_are_restored_side_by_side_and_no_more_at_once_than_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, data = _backed_up(tmp_path, "zlib")
    seen: dict[str, Any] = {}

    def first_waits_for_a_second(name: str) -> None:
        if name.endswith("-00001"):
            seen["overlapped"].wait(60)  # the second object starts while the first is held

    _watched(monkeypatch, seen, first_waits_for_a_second)
    target = tmp_path / "target"
    report = driver(root).restore(FULL, None, target)
    assert target.read_bytes() == data
    assert report.written == len(data)
    assert seen["overlapped"].is_set()
    assert seen["peak"] == _restore.OBJECTS
    assert not seen["failed"]


def test_a_failure_stops_the_object_beside_it_and_is_the_one_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Object 5 fails while object 4 is held: object 4 stops at its first piece, quietly,
    and the restore names object 5 (the one that failed), not the one it stopped."""
    root, _ = _backed_up(tmp_path, "none")
    name = _damage(root, 5, "none")
    seen: dict[str, Any] = {}

    def fourth_waits_for_the_fifth(name: str) -> None:
        if name.endswith("-00004"):
            for _ in range(600):
                if "00005" in seen["failed"]:
                    return
                threading.Event().wait(0.1)

    _watched(monkeypatch, seen, fourth_waits_for_the_fifth)
    target = tmp_path / "target"
    with pytest.raises(InvalidBackup) as err:
        driver(root).restore(FULL, None, target)
    assert name in str(err.value)
    assert isinstance(seen["failed"]["00005"], InvalidBackup)
    assert isinstance(seen["failed"].get("00004"), _restore._Stopped)
    assert not target.exists()
    # Nothing after the failure was opened: at most the objects already in flight ran.
    assert {"00006", "00007", "00008"}.isdisjoint(seen["failed"])
    assert seen["peak"] <= _restore.OBJECTS


def test_progress_reaches_the_total_in_order(tmp_path: Path) -> None:
    root, data = _backed_up(tmp_path, "zlib")
    calls: list[tuple[int, int]] = []
    target = tmp_path / "target"
    driver(root).restore(FULL, None, target, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] == len(data)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.mark.parametrize("seed", range(5))
def test_decompressed_fragments_are_cut_into_whole_pieces_unchanged(seed: int) -> None:
    """Short and long outputs of a decompressor, cut into pieces of ``batch`` bytes: the
    pieces are bytes, whole (the last may be short), and hold the stream unchanged."""
    rng = random.Random(seed)
    batch = rng.choice([4096, 32768, 1 << 20])
    stream = rng.randbytes(rng.randint(1, 5 * batch))
    held = _restore._Held()
    pieces: list[bytes] = []
    at = 0
    while at < len(stream):
        n = rng.choice([1, 100, batch - 1, batch, batch + 1, 3 * batch])
        held.add(stream[at : at + n])
        at += n
        while held.size >= batch:
            pieces.append(held.take(batch))
    if held.size:
        pieces.append(held.take(held.size))
    assert b"".join(pieces) == stream
    assert all(type(p) is bytes for p in pieces)
    assert all(len(p) == batch for p in pieces[:-1])


def test_a_chain_with_an_object_past_the_side_by_side_limit_goes_one_object_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, data = _backed_up(tmp_path, "zlib")
    monkeypatch.setattr(_restore, "SIDE_BY_SIDE_MAX", CHUNK - 1)  # every object is past it
    seen: dict[str, Any] = {}
    _watched(monkeypatch, seen, lambda name: None)
    target = tmp_path / "target"
    driver(root).restore(FULL, None, target)
    assert target.read_bytes() == data
    assert seen["peak"] == 1
    assert not seen["overlapped"].is_set()


class _Interrupt(BaseException):
    """Not an Exception, as KeyboardInterrupt: whichever lane meets it, the restore ends."""


@pytest.mark.parametrize("lane", ["first", "other"])
def test_an_interrupt_in_any_lane_ends_the_restore_and_leaves_the_target(
    tmp_path: Path, lane: str
) -> None:
    """Raised once, in the calling thread's lane or in a helper's: the restore ends with it,
    it is not lost with the helper thread."""
    root, _ = _backed_up(tmp_path, "zlib")
    target = tmp_path / "target"
    target.write_bytes(BEFORE)
    raised: list[str] = []

    def interrupt(done: int, total: int) -> None:
        first = threading.current_thread() is threading.main_thread()
        if not raised and first == (lane == "first"):
            raised.append(threading.current_thread().name)
            raise _Interrupt

    with pytest.raises(_Interrupt):
        driver(root).restore(FULL, None, target, progress=interrupt)
    assert raised
    assert target.read_bytes() == BEFORE
    assert sorted(p.name for p in tmp_path.iterdir() if "target" in p.name) == ["target"]


class _SlowSeekFile(io.RawIOBase):
    """An open target without a descriptor whose seek waits on something (a file over the
    network, say): another thread runs between its seek and its write."""

    def __init__(self) -> None:
        super().__init__()
        self.data = io.BytesIO()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        at = self.data.seek(offset, whence)
        threading.Event().wait(0.005)
        return at

    def tell(self) -> int:
        return self.data.tell()

    def write(self, data: Any) -> int:
        return self.data.write(data)

    def readinto(self, buffer: Any) -> int:
        return self.data.readinto(buffer)

    def truncate(self, size: int | None = None) -> int:
        return self.data.truncate(size)


@pytest.mark.parametrize("compression", ["none", "zlib"])
def test_lanes_writing_side_by_side_onto_a_file_without_a_descriptor_keep_every_byte_in_place(
    tmp_path: Path, compression: str
) -> None:
    """Each lane's blocks worker seeks, then writes: a seek of the other lane between the two
    would put a piece at the other's offset."""
    root, data = _backed_up(tmp_path, compression)
    for _ in range(3):
        out = _SlowSeekFile()
        driver(root).restore(FULL, None, out)
        assert out.data.getvalue() == data


class _ShortWriteFile(_SlowSeekFile):
    """A raw target whose write takes at most 1000 bytes at a time, as a raw file may."""

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.data.seek(offset, whence)

    def write(self, data: Any) -> int:
        return self.data.write(bytes(data[:1000]))


class _StuckFile(_ShortWriteFile):
    """A raw target that takes nothing."""

    def write(self, data: Any) -> int:
        return 0


def test_a_target_taking_part_of_each_write_gets_every_byte(tmp_path: Path) -> None:
    root, data = _backed_up(tmp_path, "zlib")
    out = _ShortWriteFile()
    driver(root).restore(FULL, None, out)
    assert out.data.getvalue() == data


def test_a_target_taking_nothing_is_a_typed_error_not_a_hang(tmp_path: Path) -> None:
    root, _ = _backed_up(tmp_path, "none")
    with pytest.raises(DocketError, match="took none of the bytes"):
        driver(root).restore(FULL, None, _StuckFile())
