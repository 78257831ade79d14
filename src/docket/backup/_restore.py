"""The POSIX driver's restore side: writing a checked chain's objects onto a volume."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from typing import IO, Any

from docket.backup._chunks import PIECE, ObjectDamaged, compression_named, object_pieces
from docket.backup._layout import LoadedBackup
from docket.backup._model import Progress
from docket.backup.errors import InvalidBackup

HOLE_UNIT = 4096
"""Zero runs are left as holes in units of this many bytes, aligned in the volume (the page
and file-system block size almost everywhere)."""
_ZERO = memoryview(bytes(PIECE))
SPOOL_MEMORY = 8 << 20
"""An object is verified before any of its bytes reach the target: up to this many bytes it
is held in memory, beyond it in a private temporary file (mode 0600, already unlinked)."""


def truncate_regular(fh: IO[bytes], size: int) -> None:
    """Cut ``fh`` to ``size`` bytes when it is a regular (or in-memory) file, not a device."""
    try:
        regular = stat.S_ISREG(os.fstat(fh.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        regular = True  # an in-memory file behaves like a regular one
    if regular:
        fh.truncate(size)


class RestoreWriter:
    """Writes a checked chain's objects onto an output, oldest backup first."""

    def __init__(self, chain: list[LoadedBackup], size: int, progress: Progress | None) -> None:
        self.chain = chain
        self.size = size
        self.total = sum(e["length"] for c in chain for _, e in c.objects)
        self.done = 0
        self.progress = progress

    def write(self, out: IO[bytes], *, sparse: bool) -> None:
        """``sparse``: ``out`` is new and empty, so the full backup's zero runs are skipped
        (left as holes). Later backups of the chain write their zeros: an older backup may
        have put data there."""
        for layer, loaded in enumerate(self.chain):
            for name, entry in loaded.objects:
                self._object(out, loaded, name, entry, skip_zeros=sparse and layer == 0)

    def _object(
        self,
        out: IO[bytes],
        loaded: LoadedBackup,
        name: str,
        entry: Mapping[str, Any],
        *,
        skip_zeros: bool,
    ) -> None:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as spool:
            self._verified(loaded, name, entry, spool.write)
            spool.seek(0)
            out.seek(entry["offset"])
            at = entry["offset"]
            while piece := spool.read(PIECE):
                if skip_zeros:
                    _write_sparse(out, piece, at)
                else:
                    out.write(piece)
                at += len(piece)
                self.done += len(piece)
                if self.progress is not None:
                    self.progress(self.done, self.total)

    def verify(self) -> None:
        """Read and check every object of the chain, writing nothing (before a restore onto
        a target that cannot be thrown away: a block device or an open file)."""
        for loaded in self.chain:
            for name, entry in loaded.objects:
                self._verified(loaded, name, entry, lambda _piece: None)

    @staticmethod
    def _verified(
        loaded: LoadedBackup,
        name: str,
        entry: Mapping[str, Any],
        sink: Callable[[bytes], object],
    ) -> None:
        """Decompress one object into ``sink``, checking its length and MD5 (a private
        spool: what it holds reaches the target only once this returns)."""
        length = entry["length"]
        compression = compression_named(entry["compression"])
        assert compression is not None  # checked when the metadata was loaded
        md5 = hashlib.md5(usedforsecurity=False)
        seen = 0
        try:
            with loaded.stored.open_object(name) as fh:
                for piece in object_pieces(fh, compression, length):
                    seen += len(piece)
                    if seen > length:
                        raise _damaged(loaded, name, f"holds more than its {length} bytes")
                    md5.update(piece)
                    sink(piece)
        except ObjectDamaged as err:
            raise _damaged(loaded, name, f"cannot be decompressed ({err})") from None
        if seen < length:
            raise _damaged(loaded, name, f"is truncated: {seen} of {length} bytes")
        if md5.hexdigest() != entry["md5"]:
            raise _damaged(loaded, name, "does not match its MD5")


def _write_sparse(out: IO[bytes], piece: bytes, at: int) -> None:
    """Write ``piece`` (which starts at volume offset ``at``, where ``out`` is positioned),
    seeking over every zero unit instead of writing it."""
    view = memoryview(piece)
    size = len(view)
    if view == _ZERO[:size]:
        out.seek(size, os.SEEK_CUR)
        return
    span: int | None = None  # where the data not yet written starts
    start = 0
    end = min(size, HOLE_UNIT - at % HOLE_UNIT)
    while start < size:
        if view[start:end] == _ZERO[: end - start]:
            if span is not None:
                out.write(view[span:start])
                span = None
            out.seek(end - start, os.SEEK_CUR)
        elif span is None:
            span = start
        start, end = end, min(size, end + HOLE_UNIT)
    if span is not None:
        out.write(view[span:])


def _damaged(loaded: LoadedBackup, name: str, what: str) -> InvalidBackup:
    return InvalidBackup(
        f"object {name} {what}; none of its bytes were written (nothing at all onto a new "
        "or regular-file target)",
        backup_id=loaded.backup_id,
        hint="`docket volume verify` lists every damaged object",
    )
