"""Streaming pieces of a chunked backup driver: compression, object files, Cinder-style JSON.

Everything here works a piece (at most :data:`PIECE` bytes) at a time, so memory stays flat
whatever the size of a chunk or of the volume.
"""

from __future__ import annotations

import bz2
import enum
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from docket.backup.store import ObjectSink
from docket.backup._deflate import DeflateError, zlib
from docket.core.errors import BackupError

PIECE = 1 << 20
"""Bytes read, compressed, hashed or written in one step."""

# Objects are written under a dot name first (docket.fs.TEMP_PREFIX): Cinder lists a backup's
# directory by the object prefix, so a half-written object is never mistaken for a real one.


class Compression(enum.Enum):
    """How one data object is stored."""

    NONE = "none"
    ZLIB = "zlib"
    BZ2 = "bz2"
    ZSTD = "zstd"


# Cinder records its configured algorithm name as given, so these spellings exist in the wild.
_ALIASES = {
    "none": Compression.NONE,
    "off": Compression.NONE,
    "no": Compression.NONE,
    "zlib": Compression.ZLIB,
    "gzip": Compression.ZLIB,
    "bz2": Compression.BZ2,
    "bzip2": Compression.BZ2,
    "zstd": Compression.ZSTD,
}


def compression_named(name: str | None) -> Compression | None:
    """The compression a stored ``compression`` value names, or None when it is unknown."""
    if name is None:
        return Compression.NONE
    return _ALIASES.get(name.lower())


def _zstandard() -> ModuleType:
    try:
        import zstandard
    except ImportError:  # pragma: no cover - the dev extra installs it
        raise BackupError(
            "zstd compression needs the zstandard package",
            hint="pip install 'docket[zstd]'",
        ) from None
    return zstandard


class _Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


ZSTD_JOB = 2 << 20
"""Bytes of input a zstd worker thread compresses at a time (one frame all the same)."""
ZSTD_THREADS = 0
"""zstandard worker threads for a zstd object: none by default (slower on two cores and more
memory; see below)."""


def _compressor(compression: Compression, size: int) -> _Compressor | None:
    if compression is Compression.ZLIB:
        return zlib.compressobj()
    if compression is Compression.BZ2:
        return bz2.BZ2Compressor()
    if compression is Compression.ZSTD:
        zstandard = _zstandard()
        # A checksum lets the decompressor itself catch a damaged frame; the content size
        # lets one-shot decompressors size their output: Cinder's ``zstd.decompress`` fails
        # with "length mismatch" on a frame without it once it holds more than 128 KiB.
        # zstd compresses on the writer thread, beside the reading and hashing thread and
        # the MD5 thread: zstandard's own workers were slower on two cores (one: 0.96 s,
        # two: 0.84 s, none: 0.72 s per 256 MiB) and took 49-64 MiB at peak, so they are off
        # (ZSTD_THREADS > 0 turns them on; docs/performance.md).
        threads = ZSTD_THREADS if size > ZSTD_JOB else 0
        params = zstandard.ZstdCompressionParameters.from_level(
            3, write_checksum=True, threads=threads, job_size=ZSTD_JOB
        )
        cctx = zstandard.ZstdCompressor(compression_params=params)
        return cctx.compressobj(size=size)  # type: ignore[no-any-return]
    return None


# --- reading objects ---------------------------------------------------------------------


class ObjectDamaged(Exception):
    """Raised inside this module when an object's stored bytes cannot be decompressed."""


def _raw_pieces(fh: IO[bytes], limit: int) -> Iterator[bytes]:
    """Up to ``limit`` bytes of ``fh`` from where it stands, a piece at a time."""
    remaining = limit
    while remaining > 0:
        data = fh.read(min(PIECE, remaining))
        if not data:
            return
        remaining -= len(data)
        yield data


def _zlib_pieces(fh: IO[bytes], limit: int) -> Iterator[bytes]:
    d = zlib.decompressobj()
    produced = 0
    while not d.eof and produced < limit:
        data = fh.read(PIECE)
        if not data:
            return
        while data and not d.eof and produced < limit:
            try:
                out = d.decompress(data, PIECE)
            except DeflateError as err:
                raise ObjectDamaged(f"zlib: {err}") from None
            produced += len(out)
            if out:
                yield out
            data = d.unconsumed_tail
    if d.eof and (d.unused_data or fh.read(1)):
        raise ObjectDamaged("zlib: data after the end of the stream")


def _bz2_pieces(fh: IO[bytes], limit: int) -> Iterator[bytes]:
    """bz2 streams one after another (as ``bz2.decompress`` reads them, Cinder's too): the
    concurrent backup writes one stream per piece."""
    d = bz2.BZ2Decompressor()
    produced = 0
    data = b""
    while produced < limit:
        if d.eof:
            data = d.unused_data
            if len(data) < 4:  # a stream's header may straddle two reads
                data += fh.read(PIECE)
            if not data:
                return
            if not data.startswith(b"BZh"):
                raise ObjectDamaged("bz2: data after the end of the stream")
            d = bz2.BZ2Decompressor()
        elif d.needs_input:
            data = fh.read(PIECE)
            if not data:
                return
        else:
            data = b""
        try:
            out = d.decompress(data, PIECE)
        except (OSError, EOFError) as err:
            raise ObjectDamaged(f"bz2: {err}") from None
        produced += len(out)
        if out:
            yield out


ZSTD_MAX_WINDOW = 8 << 20
"""The largest zstd window read (what a frame may ask the decompressor to hold): every
standard level up to 19 stays within it (Cinder's and docket's level 3 frames ask for 2 MiB
at most); a frame asking for more (ultra levels, long mode, or a hostile object asking for up
to zstd's 128 MiB default limit, per object being restored) is refused, which keeps a
restore's memory bounded."""


def _zstd_pieces(fh: IO[bytes], limit: int) -> Iterator[bytes]:
    zstandard = _zstandard()
    walk = _FrameWalk(fh)
    reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).stream_reader(
        walk, read_across_frames=False
    )
    produced = 0
    while produced < limit:
        try:
            out = reader.read(PIECE)
        except zstandard.ZstdError as err:
            if "too much memory" in str(err):
                raise ObjectDamaged(
                    f"zstd: the frame asks for a window larger than the "
                    f"{ZSTD_MAX_WINDOW >> 20} MiB docket reads"
                ) from None
            raise ObjectDamaged(f"zstd: {err}") from None
        if not out:
            break
        produced += len(out)
        yield out
    if produced == limit - 1:
        # The frame ended with the recorded length (``limit`` is one past it): it must end
        # the object too (a skippable or second frame after it is data the MD5 never saw).
        # A shorter stream is reported as truncated by the caller.
        walk.check_end()


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _FrameWalk:
    """The object's bytes as the zstd decompressor reads them, its first frame's block
    headers (RFC 8878) followed as they pass, so that where the frame ends is known without
    reading the object again (a second GET of a whole object, on Swift or S3)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.seen = 0
        """Bytes of the object read so far."""
        self.end: int | None = None
        """Where the frame ends, once its last block header has passed."""
        self._at, self._want = 0, 5  # the next header: magic number and frame header byte
        self._head = b""
        self._parse: Callable[[bytes], None] = self._frame_header

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self._pass(data)
        return data

    def _pass(self, data: bytes) -> None:
        start = self.seen
        self.seen += len(data)
        while self.end is None and self._at + len(self._head) < self.seen:
            lo = self._at + len(self._head) - start
            self._head += data[lo : lo + self._want - len(self._head)]
            if len(self._head) < self._want:
                return  # the header goes on in the next read
            head, self._head = self._head, b""
            self._parse(head)

    def _frame_header(self, head: bytes) -> None:
        if head[:4] != _ZSTD_MAGIC:
            raise ObjectDamaged("zstd: the object does not start with a zstd frame")
        fhd = head[4]
        single = (fhd >> 5) & 1
        self._checksum = 4 if (fhd >> 2) & 1 else 0
        at = 5 + (0 if single else 1) + (0, 1, 2, 4)[fhd & 3]
        self._at, self._want = at + ((1 if single else 0), 2, 4, 8)[fhd >> 6], 3
        self._parse = self._block_header

    def _block_header(self, head: bytes) -> None:
        value = int.from_bytes(head, "little")
        kind = (value >> 1) & 3
        if kind == 3:
            raise ObjectDamaged("zstd: reserved block type")
        self._at += 3 + (1 if kind == 1 else value >> 3)
        if value & 1:
            self.end = self._at + self._checksum

    def check_end(self) -> None:
        """The frame must end exactly where the object does (read on to see that)."""
        if self.end is None or self.seen < self.end:
            while self.end is None or self.seen < self.end:
                if not self.read(min(PIECE, (self.end or self.seen + PIECE) - self.seen)):
                    raise ObjectDamaged("zstd: the frame is cut short")
        if self.seen == self.end:
            self.read(1)
        if self.seen > self.end:
            raise ObjectDamaged(f"zstd: {self.seen - self.end} byte(s) after the end of the frame")


_READERS: dict[Compression, Callable[[IO[bytes], int], Iterator[bytes]]] = {
    Compression.NONE: _raw_pieces,
    Compression.ZLIB: _zlib_pieces,
    Compression.BZ2: _bz2_pieces,
    Compression.ZSTD: _zstd_pieces,
}


def object_pieces(fh: IO[bytes], compression: Compression, length: int) -> Iterator[bytes]:
    """The uncompressed bytes of an object, in pieces; one byte past ``length`` at most.

    Reading one byte past the recorded length is how a too-long object is noticed without
    decompressing all of it. Raises :class:`ObjectDamaged` when the stream is corrupt.
    """
    return _READERS[compression](fh, length + 1)


# --- Cinder-style JSON -------------------------------------------------------------------


def cinder_json(obj: Mapping[str, Any]) -> bytes:
    """The bytes Cinder writes for its metadata objects: sorted keys, indent 2, UTF-8."""
    return json.dumps(obj, sort_keys=True, indent=2).encode("utf-8")


_MARK = "@@docket-sha256s@@"


class Sha256FileWriter:
    """Writes ``<prefix>_sha256file`` into a sink one hash at a time, byte for byte as
    :func:`cinder_json` would write the whole object, so the list of hashes is never held in
    memory."""

    def __init__(self, sink: ObjectSink, header: Mapping[str, Any]) -> None:
        text = cinder_json({**header, "sha256s": [_MARK]}).decode("utf-8")
        before, after = text.split(json.dumps(_MARK))
        self._open = before.rstrip()  # ends with "["
        self._item = "\n" + before[len(before.rstrip()) :].lstrip("\n")
        close_at = after.index("]")
        self._close = after[: close_at + 1]
        self._rest = after[close_at + 1 :]
        self.count = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._sink = sink  # committed in close, dropped in abort
        self._write(self._open)

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        self._md5.update(data)
        self._sha256.update(data)
        self._sink.write(data)

    def add(self, digest: bytes) -> None:
        self.add_many((digest,))

    def add_many(self, digests: Sequence[bytes]) -> None:
        """Add the next digests, in order, in one write."""
        if not digests:
            return
        item = self._item
        text = ",".join(f'{item}"{d.hex()}"' for d in digests)
        self._write(("," if self.count else "") + text)
        self.count += len(digests)

    def close(self) -> None:
        """Finish the object and store it."""
        self._write((self._close if self.count else "]") + self._rest)
        self._sink.commit(self._md5.hexdigest())

    @property
    def digest(self) -> str:
        """The SHA-256 of the object's bytes (``sha256:<hex>``), once closed."""
        return "sha256:" + self._sha256.hexdigest()

    def abort(self) -> None:
        self._sink.abort()


# --- reading the volume ------------------------------------------------------------------


def read_full(fh: IO[bytes], view: memoryview) -> int:
    """Fill ``view`` from ``fh`` (short reads retried); fewer bytes only at end of file."""
    total = 0
    while total < len(view):
        n = fh.readinto(view[total:])  # type: ignore[attr-defined]
        if not n:
            break
        total += n
    return total


def volume_size(fh: IO[bytes]) -> int:
    """Bytes in a regular file or block device (seeking to the end works for both)."""
    here = fh.tell()
    try:
        return fh.seek(0, os.SEEK_END)
    finally:
        fh.seek(here)


def read_range(fh: IO[bytes], offset: int, length: int) -> Iterator[bytes]:
    """Pieces of ``fh`` from ``offset``; the stream position is restored afterwards."""
    here = fh.tell()
    try:
        fh.seek(offset)
        yield from _raw_pieces(fh, length)
    finally:
        fh.seek(here)
