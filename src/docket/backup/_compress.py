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
import zlib
from dataclasses import dataclass

from docket.backup._chunks import Compression

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


def deflate_piece(data: bytes | memoryview, primer: bytes) -> Piece:
    """Raw deflate of ``data`` ending on a byte edge (sync flush), primed with ``primer``
    (the bytes before it in the object; empty for the first piece)."""
    if primer:
        c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15, zdict=primer)
    else:
        c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return Piece(out, zlib.adler32(data), len(data))


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
