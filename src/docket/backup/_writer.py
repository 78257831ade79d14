"""Writing one data object: hashing and compressing the bytes of a run of the volume as they
arrive, into a sink of an object store.

Pieces of zlib and bz2 objects are compressed side by side on a pool of threads
(:mod:`~docket.backup._compress`), zstd objects by the zstandard library's own workers; the
MD5s and the sink see the pieces in order on the caller's writer thread.

An object is stored compressed only when that makes it smaller (Cinder's rule). Until
:data:`HOLD` bytes of it have passed, both forms are held in memory and the smaller is
written; past that, the form that was smaller so far is written from then on. So an
incompressible run is written once, raw, never compressed and then rewritten.

An object stored raw is still compressed as it goes, and its compressed stream is kept aside
in a temporary file (:class:`_Spool`, up to :data:`SPOOL_LIMIT` bytes; memory holds none of
it): when the whole object turns out smaller compressed (random bytes first, then long runs of
zeros, say), that stream is what is stored, read back and checked against the CRC-32 taken as
it was kept, with no second read of the volume and no second compression. Only an object whose
compressed stream outgrew the spool (or found no temporary space), or one compressed at first
that ends larger than raw, is written again from a second read of the volume. Zero runs of an
object stored raw are left as holes where the store leaves holes, and a piece that is all
zeros is compressed once per length (:func:`~docket.backup._compress.zero_piece`), not
deflated each time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

from docket.backup._chunks import PIECE, Compression, _compressor, _zstandard
from docket.backup._compress import (
    COMPRESS_PIECE,
    WINDOW,
    ZERO_WINDOW,
    Piece,
    PieceStream,
    zero_piece,
)
from docket.backup._deflate import zlib
from docket.backup.errors import InvalidBackup

if TYPE_CHECKING:
    from docket.backup.store import ObjectSink

HOLD = 2 << 20
"""Bytes of an object held (raw and compressed) before its stored form is chosen."""
SPOOL_LIMIT = 256 << 20
"""Bytes of an object's compressed stream kept aside while the object is stored raw; past
this (an object that mostly does not compress), the spool is dropped, and the rare object
that still ends smaller compressed is compressed again from the volume."""

_CHANGED = "the volume changed while {} was written"
_RESIZED = "the volume changed size while it was backed up; back it up again"


class ObjectWriter:
    """One data object being written: compresses and hashes as bytes arrive, into a sink of
    an object store (``open_sink`` starts one; a second one when the object is rewritten).

    zstd needs the object's length up front, so that every frame records its content size.
    When ``size`` is not known (the runs of an incremental backup end where the changes end),
    the bytes are only hashed as they arrive, and :meth:`finish` compresses the object whole
    from the volume, in pieces, once its length is known. With a ``pool``, zlib and bz2
    pieces are compressed on it (see :meth:`submit`).
    """

    def __init__(
        self,
        open_sink: Callable[[], ObjectSink],
        name: str,
        offset: int,
        compression: Compression,
        *,
        size: int | None = None,
        pool: Executor | None = None,
        hasher: Executor | None = None,
    ) -> None:
        self.name = name
        self.offset = offset
        self.compression = compression
        self.length = 0
        self.stored = 0
        self._size = size
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._hasher = hasher
        self._stored_md5 = hashlib.md5(usedforsecurity=False)
        self._hash_stored = compression is not Compression.NONE
        """Whether the stored bytes need an MD5 of their own: not while they are the raw
        bytes themselves, whose MD5 (:attr:`_md5`) is the stored one too."""
        self._deferred = compression is Compression.ZSTD and size is None
        piecewise = COMPRESS_PIECE.get(compression) if pool is not None else None
        self._piecewise = piecewise
        self._pool = pool
        self._stream = PieceStream(compression)
        self._primer = b""
        self._compressor = (
            None if self._deferred or piecewise else _compressor(compression, size or 0)
        )
        self._mode = "raw" if compression is Compression.NONE else "hold"
        self._chosen = compression
        self._shadow: int | None = None
        """Once stored raw mid-object: the compressed size so far, still counted, so the
        object ends compressed whenever Cinder's rule (compressed when smaller) says so."""
        self._spool: _Spool | None = None
        """Meanwhile, the compressed stream itself, while it fits :data:`SPOOL_LIMIT`."""
        self._held_raw: list[bytes] = []
        self._held_out: list[bytes] = []
        self._held = 0
        self._open_sink = open_sink
        self._sink = open_sink()  # committed in finish, dropped in abort
        self._bind_sink()

    def _bind_sink(self) -> None:
        """Write through the sink's ``write_known`` and ``skip`` where it has them (the
        sink then leaves the MD5 to this writer, which takes it once)."""
        self._put = getattr(self._sink, "write_known", self._sink.write)
        self._skip: Callable[[int], None] | None = getattr(self._sink, "skip", None)
        self._sink_md5 = not getattr(self._sink, "md5_unused", False)
        """Whether the sink's commit looks at the MD5 of the stored bytes: a sink saying
        ``md5_unused`` (a local file written through ``write_known``) does not, and the
        compressed bytes are then not hashed at all (the metadata keeps the MD5 of the
        uncompressed ones)."""

    # --- bytes in ---------------------------------------------------------------------------

    def submit(
        self, data: memoryview, writer: Executor, zeros: Sequence[tuple[int, int]] = ()
    ) -> list[Future[None]]:
        """Queue ``data`` (the next bytes of the object; the caller keeps the buffer until
        the returned futures are done): its compression starts now on the pool, its MD5
        on the hashing thread, and the writer thread stores it in order. ``zeros``: the
        (start, end) runs of ``data`` known to be zero bytes (holes, when stored raw)."""
        futures = []
        if self._hasher is not None:
            futures.append(self._hasher.submit(self._md5.update, data))
        job: Future[Piece] | Piece | None = None
        if self._piecewise is not None and self._pool is not None and self._compressing:
            if (
                len(zeros) == 1
                and zeros[0] == (0, len(data))
                and self._primer in (b"", ZERO_WINDOW)
            ):  # all zeros after zeros (or first): the same bytes every time
                job = zero_piece(self._chosen, len(data), self._primer)
            else:
                job = self._pool.submit(self._piecewise, data, self._primer)
            self._primer = bytes(data[-WINDOW:]) if len(data) >= WINDOW else (
                (self._primer + bytes(data))[-WINDOW:]
            )
        futures.append(writer.submit(self.write, data, job, zeros, self._hasher is None))
        return futures

    @property
    def _hashing_stored(self) -> bool:
        """Whether the stored bytes take an MD5 of their own: they are not the raw bytes
        (whose MD5 is taken anyway), and the sink's commit looks at it."""
        return self._hash_stored and self._sink_md5

    @property
    def _compressing(self) -> bool:
        return self._mode != "raw" or self._shadow is not None

    def write(
        self,
        data: bytes | memoryview,
        job: Future[Piece] | Piece | None = None,
        zeros: Sequence[tuple[int, int]] = (),
        md5: bool = True,
    ) -> None:
        """Store the next bytes of the object (``md5``: take their MD5 here too)."""
        if md5:
            self._md5.update(data)
        self.length += len(data)
        if self._deferred:
            return
        if not self._compressing:
            self._store_raw_piece(data, zeros)
            return
        if isinstance(job, Piece):
            out = self._stream.add(job)
        elif job is not None:
            out = self._stream.add(job.result())
        elif self._piecewise is not None:  # the pool is gone: compress here
            out = self._stream.add(self._piecewise(data, b""))
        else:
            out = self._compress(data)
        self._emit(out, data, zeros)

    def _emit(
        self, out: bytes, data: bytes | memoryview, zeros: Sequence[tuple[int, int]] = ()
    ) -> None:
        """Hold, or store in the chosen form, the compressed ``out`` of raw ``data``."""
        if self._mode == "compressed":
            if out:
                self._store(out)
        elif self._mode == "raw":
            if self._shadow is not None:
                self._shadow += len(out)
                self._keep(out)
            self._store_raw_piece(data, zeros)
        else:
            self._held_raw.append(bytes(data))
            if out:
                self._held_out.append(out)
            self._held += len(data)
            if self._held >= HOLD:
                self._choose(None)

    def _choose(self, tail: bytes | None) -> None:
        """Store what is held in the smaller form, and keep to that form (``tail``: what
        closes the compressed stream, at the end of the object; None while it goes on)."""
        if tail is None and self._compressor is not None:
            # What the compressor still buffers counts too (zstd's workers lag behind).
            pending = self._flush_block()
            if pending:
                self._held_out.append(pending)
        compressed = sum(len(o) for o in self._held_out) + len(tail or b"")
        if compressed < self._held:
            for out in self._held_out:
                self._store(out)
            if tail:
                self._store(tail)
            self._mode = "compressed"
        else:
            self._hash_stored = False  # the stored bytes are the raw ones from here on
            for raw in self._held_raw:
                self._store(raw)
            self._mode = "raw"
            self.compression = Compression.NONE
            if tail is None:
                self._shadow = compressed
                self._spool = _Spool.made()
                for out in self._held_out:
                    self._keep(out)
        self._held_raw, self._held_out, self._held = [], [], 0

    def _keep(self, out: bytes) -> None:
        """Add to the compressed stream kept aside, or drop it once it outgrows the limit."""
        if self._spool is None or not out:
            return
        if self._spool.size + len(out) > SPOOL_LIMIT:
            self._drop_spool()
            return
        try:
            self._spool.add(out)
        except OSError:  # no temporary space: compressed again from the volume if needed
            self._drop_spool()

    def _drop_spool(self) -> None:
        if self._spool is not None:
            spool, self._spool = self._spool, None
            spool.close()

    def _store(self, out: bytes | memoryview) -> None:
        self._put(out)
        if self._hashing_stored:
            self._stored_md5.update(out)
        self.stored += len(out)

    def _store_raw_piece(self, data: bytes | memoryview, zeros: Sequence[tuple[int, int]]) -> None:
        """Store raw bytes, their zero runs as holes where the sink leaves holes."""
        if not zeros or self._skip is None or self._hash_stored:
            self._store(data)
            return
        view = memoryview(data)
        at = 0
        for start, end in zeros:
            if start > at:
                self._put(view[at:start])
            self._skip(end - start)
            at = end
        if at < len(view):
            self._put(view[at:])
        self.stored += len(view)

    def _compress(self, data: bytes | memoryview) -> bytes:
        assert self._compressor is not None
        try:
            return self._compressor.compress(data)  # type: ignore[arg-type]
        except Exception as err:  # zstd refuses more bytes than the pledged size
            raise InvalidBackup(f"cannot compress {self.name}: {err}", hint=_RESIZED) from None

    def _flush_block(self) -> bytes:
        """Everything the compressor holds back, the stream going on after it."""
        assert self._compressor is not None
        if self.compression is Compression.ZSTD:
            return self._compressor.flush(_zstandard().COMPRESSOBJ_FLUSH_BLOCK)  # type: ignore[call-arg]
        if self.compression is Compression.ZLIB:
            return self._compressor.flush(zlib.Z_SYNC_FLUSH)  # type: ignore[call-arg]
        return b""  # bz2 holds up to a block (900 kB) back: a small part of what is held

    def _tail(self) -> bytes:
        if self._compressor is None:
            return self._stream.tail()
        try:
            return self._compressor.flush()
        except Exception as err:
            raise InvalidBackup(f"cannot compress {self.name}: {err}", hint=_RESIZED) from None

    # --- the end ----------------------------------------------------------------------------

    def finish(self, reread: Callable[[int, int], Iterator[bytes]]) -> dict[str, Any]:
        """Store the object and return its ``objects`` entry.

        ``reread`` (offset, length -> pieces of the volume, which must give the same bytes)
        serves a zstd object of unknown size, compressed now, and the rare rewrite.
        """
        md5 = self._md5.hexdigest()
        try:
            if self._deferred:
                self._compress_whole(reread, md5)
            if self._size is not None and self.length != self._size:
                raise InvalidBackup(
                    f"{self.name} holds {self.length} bytes, not the {self._size} expected",
                    hint=_RESIZED,
                )
            if self._mode == "hold":
                self._choose(self._tail())
            elif self._mode == "compressed":
                self._store(self._tail())
                if self.stored >= self.length:
                    self._store_raw(reread, md5)
            elif self._shadow is not None:
                tail = self._tail()
                if self._shadow + len(tail) < self.length:
                    # Incompressible at first, smaller compressed over all: stored as Cinder
                    # would, from the stream kept aside when it is there.
                    try:
                        if self._spool is None:
                            raise _SpoolLost
                        self._store_spooled(self._spool, tail)
                    except _SpoolLost:
                        self._store_compressed(reread, md5)
        finally:
            self._drop_spool()
        self._sink.commit(self._stored_md5.hexdigest() if self._hashing_stored else md5)
        return {
            "offset": self.offset,
            "length": self.length,
            "compression": self.compression.value,
            "md5": md5,
        }

    def _compress_whole(self, reread: Callable[[int, int], Iterator[bytes]], md5: str) -> None:
        """Compress the object from the volume now that its length is known."""
        self._compressor = _compressor(self.compression, self.length)
        again = hashlib.md5(usedforsecurity=False)
        for piece in reread(self.offset, self.length):
            again.update(piece)
            self._emit(self._compress(piece) if self._compressing else b"", piece)
        if again.hexdigest() != md5:
            raise InvalidBackup(
                _CHANGED.format(self.name), hint="back up a snapshot or an unmounted volume"
            )

    def _store_raw(self, reread: Callable[[int, int], Iterator[bytes]], md5: str) -> None:
        # Objects are written once (no rewrite in place in an object store): start over.
        self._restart()
        again = hashlib.md5(usedforsecurity=False)
        for piece in reread(self.offset, self.length):
            again.update(piece)
            self._store(piece)
        if again.hexdigest() != md5:
            raise InvalidBackup(
                _CHANGED.format(self.name), hint="back up a snapshot or an unmounted volume"
            )
        self.compression = Compression.NONE

    def _store_spooled(self, spool: _Spool, tail: bytes) -> None:
        """Start over with the compressed stream kept aside, read back once (and checked
        against the CRC-32 taken as it was kept) before the object is committed."""
        self._restart()
        self.compression = self._chosen
        for part in spool.replay(self.name):
            self._store(part)
        self._store(tail)

    def _store_compressed(
        self, reread: Callable[[int, int], Iterator[bytes]], md5: str
    ) -> None:
        """Start over, compressed in one stream (the rare object stored raw at first)."""
        self._restart()
        self.compression = self._chosen
        compressor = _compressor(self._chosen, self.length)
        assert compressor is not None
        self._compressor = compressor
        again = hashlib.md5(usedforsecurity=False)
        for piece in reread(self.offset, self.length):
            again.update(piece)
            self._store(self._compress(piece))
        self._store(compressor.flush())
        if again.hexdigest() != md5:
            raise InvalidBackup(
                _CHANGED.format(self.name), hint="back up a snapshot or an unmounted volume"
            )

    def _restart(self) -> None:
        """Drop what was stored and start the object over in a new sink."""
        self._sink.abort()
        self._sink = self._open_sink()
        self._bind_sink()
        self._stored_md5 = hashlib.md5(usedforsecurity=False)
        self._hash_stored = True
        self.stored = 0

    def abort(self) -> None:
        self._drop_spool()
        self._sink.abort()


class _SpoolLost(Exception):
    """The stream kept aside cannot be used (no temporary file, or it cannot be read back):
    the object is compressed again from the volume."""


class _Spool:
    """An object's compressed stream kept aside in an unnamed temporary file while the object
    is stored raw, with the CRC-32 of what was kept: the stream is kept for every object whose
    first bytes do not compress and is rarely used, so its check costs a fraction of an MD5
    (the stored MD5 is taken as it is read back, when it is used). It is only a shortcut: a
    temporary directory that is missing, full or failing costs a second read of the volume,
    not the backup."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115  (closed in close)
        self._crc = 0
        self.size = 0

    @classmethod
    def made(cls) -> _Spool | None:
        """A new spool, or None when no temporary file can be made."""
        try:
            return cls()
        except OSError:
            return None

    def add(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        view = memoryview(data)
        while view:
            view = view[self._file.write(view) :]
        self.size += len(data)

    def replay(self, name: str) -> Iterator[bytes]:
        """What was kept, in pieces; at the end, raises when the bytes read back are not the
        ones kept (the caller commits nothing then)."""
        crc, left = 0, self.size
        while left > 0:
            part = self._read(self.size - left, min(PIECE, left))
            if not part:
                break
            crc = zlib.crc32(part, crc)
            left -= len(part)
            yield part
        if left or crc != self._crc:
            raise InvalidBackup(
                f"the compressed copy of {name} kept in a temporary file changed",
                hint="check the temporary directory's disk, and back up again",
            )

    def _read(self, at: int, n: int) -> bytes:
        try:
            return os.pread(self._file.fileno(), n, at)
        except OSError:  # the temporary file's disk failed: the volume is read again
            raise _SpoolLost from None

    def close(self) -> None:
        self._file.close()
