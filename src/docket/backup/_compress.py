"""Compressing one object's pieces side by side, each object still one stream Cinder reads.

- zlib: each piece is deflated on its own (raw deflate, primed with the 32 KiB before it as
  its dictionary, ended by a sync flush, as pigz does), and the pieces are joined under one
  zlib header, closed by an empty final block and the Adler-32 of the whole object, combined
  from the pieces' own. ``zlib.decompress`` (Cinder's restore) reads it as one stream.
- bz2: each piece is a bz2 stream of its own; ``bz2.decompress`` (Cinder's) reads streams one
  after another.

zstd needs none of this: it compresses one frame on the writer thread, beside the thread that
reads the volume and takes its SHA-256s.
"""

from __future__ import annotations

import bz2
import functools
from dataclasses import dataclass

from docket.backup._chunks import Compression
from docket.backup._deflate import zlib

WINDOW = 32768
"""The deflate window: the bytes before a piece that prime its dictionary."""
ZLIB_HEADER = b"\x78\x9c"
"""A zlib header for deflate with a 32 KiB window at the default level (what zlib writes)."""
_FINAL_EMPTY_BLOCK = b"\x03\x00"
_ADLER_BASE = 65521


@dataclass(frozen=True)
class Piece:
    """One piece, compressed: its bytes and the Adler-32 of what it holds."""

    data: bytes
    adler: int
    length: int


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings one after another, from each one's Adler-32 and the
    second's length (zlib's ``adler32_combine``)."""
    rem = second_length % _ADLER_BASE
    sum1 = first & 0xFFFF
    sum2 = (rem * sum1) % _ADLER_BASE
    sum1 += (second & 0xFFFF) + _ADLER_BASE - 1
    sum2 += ((first >> 16) & 0xFFFF) + ((second >> 16) & 0xFFFF) + _ADLER_BASE - rem
    sum1 %= _ADLER_BASE
    sum2 %= _ADLER_BASE
    return sum1 | (sum2 << 16)


SEGMENT = 64 << 10
"""Bytes of a piece judged at a time: deflated, or stored as they are when they do not
compress (random or already compressed data), which costs deflate's whole match search for
nothing."""
_SAMPLE = 4096
_STORED_MAX = 65535


def _incompressible(segment: memoryview) -> bool:
    """Whether three samples of a whole segment (start, middle, end) do not shrink at level 1:
    a cheap guess (a few percent of deflating it) that deflate would store it."""
    if len(segment) < SEGMENT:
        return False
    for at in (0, (len(segment) - _SAMPLE) // 2, len(segment) - _SAMPLE):
        if len(zlib.compress(segment[at : at + _SAMPLE], 1)) < _SAMPLE * 0.97:
            return False
    return True


def _stored(segment: memoryview) -> bytes:
    """Deflate stored blocks holding ``segment`` (the stream is on a byte edge here)."""
    out = bytearray()
    for at in range(0, len(segment), _STORED_MAX):
        part = segment[at : at + _STORED_MAX]
        size = len(part)
        out += b"\x00" + size.to_bytes(2, "little") + (size ^ 0xFFFF).to_bytes(2, "little")
        out += part
    return bytes(out)


def _deflate(data: memoryview, primer: bytes) -> bytes:
    if primer:
        c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15, zdict=primer)
    else:
        c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)


def deflate_piece(data: bytes | memoryview, primer: bytes) -> Piece:
    """Raw deflate of ``data`` ending on a byte edge (sync flush), primed with ``primer``
    (the bytes before it in the object; empty for the first piece). Segments that do not
    compress are stored as they are, in stored blocks between sync-flushed deflate runs."""
    view = memoryview(data)
    out: list[bytes] = []
    run = 0  # where the run of segments to deflate starts
    for start in range(0, len(view), SEGMENT):
        segment = view[start : start + SEGMENT]
        if not _incompressible(segment):
            continue
        if run < start:
            out.append(_deflate(view[run:start], _before(primer, view, run)))
        out.append(_stored(segment))
        run = start + len(segment)
    if run < len(view) or not out:
        out.append(_deflate(view[run:], _before(primer, view, run)))
    return Piece(b"".join(out), zlib.adler32(view), len(view))


def _before(primer: bytes, view: memoryview, at: int) -> bytes:
    """The window of bytes before ``at`` in the object (the primer, then the piece)."""
    if at >= WINDOW:
        return bytes(view[at - WINDOW : at])
    return (primer + bytes(view[:at]))[-WINDOW:]


def bz2_piece(data: bytes | memoryview, primer: bytes) -> Piece:
    """One bz2 stream of ``data`` (``primer`` is not used: bz2 streams stand alone)."""
    return Piece(bz2.compress(data), 0, len(data))


class PieceStream:
    """Joins compressed pieces, in order, into one object's stream."""

    def __init__(self, compression: Compression) -> None:
        self.compression = compression
        self._adler = 1
        self._started = False

    def add(self, piece: Piece) -> bytes:
        """The bytes of the object that ``piece`` adds."""
        if self.compression is not Compression.ZLIB:
            return piece.data
        self._adler = adler32_combine(self._adler, piece.adler, piece.length)
        if self._started:
            return piece.data
        self._started = True
        return ZLIB_HEADER + piece.data

    def tail(self) -> bytes:
        """What closes the stream."""
        if self.compression is not Compression.ZLIB:
            return b""
        head = b"" if self._started else ZLIB_HEADER
        return head + _FINAL_EMPTY_BLOCK + self._adler.to_bytes(4, "big")


COMPRESS_PIECE = {Compression.ZLIB: deflate_piece, Compression.BZ2: bz2_piece}
"""How a piece is compressed on its own, for the compressions that are built of pieces."""

ZERO_WINDOW = bytes(WINDOW)


@functools.lru_cache(maxsize=8)
def zero_piece(compression: Compression, length: int, primer: bytes) -> Piece:
    """A piece of ``length`` zero bytes, compressed once and then reused: the long zero runs
    of a sparse volume cost a lookup, not a deflate each (``primer``: empty, or
    :data:`ZERO_WINDOW`, the only primers a run of zeros is looked up with)."""
    return COMPRESS_PIECE[compression](bytes(length), primer)
