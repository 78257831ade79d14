"""The chunked engine's restore side: a checked chain's objects streamed onto a volume.

Every object is decompressed once, in pieces of whole SHA blocks, through a bounded pipeline
of three stages on their own threads (zlib, bz2, zstandard and hashlib release the GIL on
large buffers, so the stages share the machine's cores):

1. the lane's reader (the calling thread for the first lane, a helper thread for each
   other) reads and decompresses the object, and checks its length;
2. the MD5 worker of its lane takes the object's MD5 as the pieces pass, in order;
3. the blocks worker of its lane checks every SHA block against the backup's
   ``_sha256file`` and writes the blocks that matched: a byte reaches the output only once
   its block's SHA-256 is the listed one.

Up to :data:`OBJECTS` objects go through at once, each in a lane of its own (its reader,
its MD5 and its blocks worker), each lane taking the next object of the chain as it is free:
an object store's GETs overlap, and so do the MD5s, one stream per object (a chain with an
object larger than :data:`SIDE_BY_SIDE_MAX` goes one object at a time). Objects of a backup
do not overlap (:func:`plan`) and each block is written by one backup only, so the objects
in flight never write the same byte. The first object that fails stops the others at their
next piece, and gives up their reads from an object store (a body stalled in the store would
hold its lane through the store's timeout and retries); the failure raised is that of the
earliest object (in the chain's order) that failed, once no thread of the restore is running
(an interrupt too is raised only then).

At most :data:`_IN_FLIGHT` pieces (each :data:`PIECE` bytes or one SHA block, whichever is
larger) are held per object in flight, whatever the size of an object; nothing is spooled to
disk. Each block is written once: by the newest backup of the chain that holds it (the older
ones are still read and checked, as their MD5s need). A block the list says is zeros is left
as a hole in a new file, so the file takes the disk its data needs. What a piece wrote is
sent on to the disk at once (its writeback started), so the fsync that ends a restore waits
for the last pieces only.

The object's MD5 is compared when its last piece has passed. By then its verified blocks may
be on the output (and those of the objects beside it): that is why the engine restores a
path into a temporary file that replaces it only at the end, and runs
:meth:`RestoreWriter.verify` over the whole chain before writing onto a target that cannot
be thrown away (a block device, an open file).
"""

from __future__ import annotations

import array
import collections
import contextlib
import errno
import functools
import hashlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import IO, Any

from docket.backup._chunks import PIECE, ObjectDamaged, compression_named, object_pieces
from docket.backup._layout import LoadedBackup
from docket.backup._model import Progress
from docket.backup._threads import executor, lock, primitives
from docket.backup.errors import InvalidBackup
from docket.core.errors import BackupError

_IN_FLIGHT = 3
"""Pieces of one object between its decompressing thread and its writer: one per stage."""
OBJECTS = 2
"""Objects read, decompressed and checked side by side (each with its own pieces in flight):
an object store's GETs and the objects' MD5s, serial within an object, overlap."""
SIDE_BY_SIDE_MAX = 256 << 20
"""A chain holding an object larger than this (a POSIX chunk of Cinder's 1.9 GB) is restored
one object at a time: a second reader's buffers (5-7 MiB with the allocator's share) would
take what a large volume's SHA-256 list needs of the 64 MiB budget, and such objects are
long enough to keep both cores busy alone."""
_DIGEST = 32
_NO_OWNER = 0xFFFF
MAX_CHAIN = _NO_OWNER - 1
"""Backups a restored chain may hold (one owner mark per SHA block, two bytes each)."""

UNTOUCHED = (
    "the target is left as it was (a new or regular-file target is replaced only at the end; "
    "a device or open file only after the whole chain is checked)"
)
"""What a damaged object's error says of the target (a one-pass restore onto a new volume,
:mod:`~docket.backup._targets`, says otherwise)."""


@dataclass(frozen=True)
class Layer:
    """One backup of a chain as restore trusts it: its objects and its SHA-256 list (packed,
    32 bytes a block)."""

    loaded: LoadedBackup
    shas: bytes | bytearray
    block_size: int

    @property
    def blocks(self) -> int:
        return len(self.shas) // _DIGEST


def plan(
    chain: Sequence[LoadedBackup],
    sha256: Callable[[LoadedBackup], tuple[bytes | bytearray, int]],
    record_size: int | None = None,
) -> list[Layer]:
    """Check what each backup of a chain (oldest first) declares before anything is read or
    written: its objects start on SHA block edges, lie inside the volume its ``_sha256file``
    describes (and inside ``record_size`` bytes when a record gives the size), and do not
    overlap. Declared lengths then bound nothing but what the restore writes."""
    if len(chain) > MAX_CHAIN:
        raise InvalidBackup(
            f"the chain holds {len(chain)} backups, more than {MAX_CHAIN}",
            backup_id=chain[-1].backup_id,
        )
    layers: list[Layer] = []
    for loaded in chain:
        shas, block_size = sha256(loaded)
        if layers and block_size != layers[0].block_size:
            raise InvalidBackup(
                f"SHA blocks of {block_size} bytes; the backup it builds on used "
                f"{layers[0].block_size}",
                backup_id=loaded.backup_id,
                path=("chunk_size",),
            )
        layer = Layer(loaded, shas, block_size)
        _check_ranges(layer, record_size)
        layers.append(layer)
    return layers


def _check_ranges(layer: Layer, record_size: int | None) -> None:
    loaded, bs = layer.loaded, layer.block_size
    volume = layer.blocks * bs
    if record_size is not None:
        volume = min(volume, record_size)
    end_seen = 0
    for name, entry in sorted(loaded.objects, key=lambda item: item[1]["offset"]):
        offset, length = entry["offset"], entry["length"]
        problem = None
        if offset % bs:
            problem = f"starts at {offset}, not on a SHA block edge ({bs} bytes)"
        elif offset + length > volume:
            problem = (
                f"reaches to byte {offset + length}; the volume has at most {volume} "
                f"({layer.blocks} SHA blocks of {bs} bytes"
                + (f", {record_size} bytes by the record)" if record_size is not None else ")")
            )
        elif offset < end_seen:
            problem = "overlaps the object before it"
        if problem is not None:
            raise InvalidBackup(
                f"object {name} {problem}",
                backup_id=loaded.backup_id,
                path=("objects",),
                hint="the metadata object or the sha256file was altered; nothing was written",
            )
        end_seen = offset + length


class RestoreWriter:
    """Streams a planned chain's objects onto an output, oldest backup first, each block
    written by the newest backup that holds it."""

    def __init__(self, layers: list[Layer], size: int, progress: Progress | None) -> None:
        self.layers = layers
        self.chain = [layer.loaded for layer in layers]
        self.size = size
        self.total = sum(e["length"] for c in self.chain for _, e in c.objects)
        self.done = 0
        self.progress = progress
        self.block_size = layers[0].block_size if layers else PIECE
        self._batch = max(self.block_size, PIECE // self.block_size * self.block_size)
        blocks = -(-size // self.block_size)
        self._owner = array.array("H", [_NO_OWNER]) * blocks
        for index, layer in enumerate(layers):
            for _, entry in layer.loaded.objects:
                first = entry["offset"] // self.block_size
                last = -(-(entry["offset"] + entry["length"]) // self.block_size)
                self._owner[first:last] = array.array("H", [index]) * (last - first)
        self._zero = _zeros(self.block_size)
        self._zero_block = bytes(self.block_size)
        self._lock = lock()
        self._left = UNTOUCHED

    def write(self, out: IO[bytes], *, sparse: bool, left: str = UNTOUCHED) -> None:
        """``sparse``: ``out`` is new and empty, so blocks of zeros are skipped (left as
        holes); otherwise every block of the chain is written. ``left``: what a damaged
        object's error says of the target."""
        self._left = left
        self._run(_Output(out, sparse))

    def verify(self) -> None:
        """Read and check every object of the chain, writing nothing (before a restore onto
        a target that cannot be thrown away: a block device or an open file)."""
        self._left = UNTOUCHED
        self._run(None)

    def _run(self, out: _Output | None) -> None:
        """Every object of the chain through :meth:`_object`, up to :data:`OBJECTS` side by
        side, each lane (a reader with its MD5 and blocks workers) taking the next object
        as it is free; the calling thread reads for the first lane (its memory is the one
        the engine's thread already holds). The objects are opened in the chain's order (an
        object store asks for the next one ahead); the first to fail stops the others at
        their next piece, and the failure of the earliest object (in the chain's order)
        that failed is raised once none is running."""
        self.done = 0
        jobs = _Jobs(
            (index, layer, name, entry)
            for index, layer in enumerate(self.layers)
            for name, entry in layer.loaded.objects
        )
        lengths = [entry["length"] for layer in self.layers for _, entry in layer.loaded.objects]
        width = OBJECTS if max(lengths, default=0) <= SIDE_BY_SIDE_MAX else 1
        lanes = [_Lane() for _ in range(max(1, min(width, len(lengths))))]
        helpers = executor("object", len(lanes) - 1) if len(lanes) > 1 else None
        running: list[Future[None]] = []
        try:
            for lane in lanes[1:]:
                assert helpers is not None
                running.append(helpers.submit(self._lane, jobs, lane, out))
            self._lane(jobs, lanes[0], out)
        except BaseException:
            jobs.give_up()  # an interrupt: the other lanes stop at their next piece
            raise
        finally:
            interrupt = _wait_for(
                ([helpers.shutdown] if helpers is not None else [])
                + [lane.close for lane in lanes],
                jobs,
                running,
            )
        if interrupt is not None:
            raise interrupt
        jobs.raise_first()

    def _lane(self, jobs: _Jobs, lane: _Lane, out: _Output | None) -> None:
        """Objects through one lane until none is left or one has failed."""
        while (taken := jobs.take()) is not None:
            number, (index, layer, name, entry), fh = taken
            try:
                self._object(index, layer, name, entry, out, fh, lane, jobs.stop)
            except BaseException as err:  # an interrupt too: a helper's would be lost
                jobs.failed(number, err)
                return
            finally:
                jobs.closed(number)

    def _object(
        self,
        index: int,
        layer: Layer,
        name: str,
        entry: Mapping[str, Any],
        out: _Output | None,
        fh: IO[bytes],
        lane: _Lane,
        stop: Any,
    ) -> None:
        loaded = layer.loaded
        length, offset = entry["length"], entry["offset"]
        md5 = hashlib.md5(usedforsecurity=False)
        pending: list[Future[None]] = []
        at = offset
        try:
            for piece in self._pieces(loaded, name, entry, fh):
                if stop.is_set():
                    raise _Stopped
                pending.append(lane.md5.submit(md5.update, piece))
                pending.append(
                    lane.blocks.submit(self._blocks, index, layer, name, piece, at, out)
                )
                at += len(piece)
                while len(pending) > 2 * _IN_FLIGHT:
                    pending.pop(0).result()
                self._advance(len(piece))
            while pending:
                pending.pop(0).result()
        finally:
            fh.close()
            for future in pending:  # a failure: nothing of this object runs on after it
                future.cancel()
            for future in pending:
                if not future.cancelled():
                    future.exception()
        if at - offset < length:
            raise self._damaged(loaded, name, f"is truncated: {at - offset} of {length} bytes")
        if md5.hexdigest() != entry["md5"]:
            raise self._damaged(loaded, name, "does not match its MD5")

    def _damaged(self, loaded: LoadedBackup, name: str, what: str) -> InvalidBackup:
        return InvalidBackup(
            f"object {name} {what}; no block of it that failed a check was written, and "
            + self._left,
            backup_id=loaded.backup_id,
            hint="`docket volume verify` lists every damaged object",
        )

    def _advance(self, n: int) -> None:
        with self._lock:
            self.done += n
            if self.progress is not None:
                self.progress(self.done, self.total)

    def _pieces(
        self, loaded: LoadedBackup, name: str, entry: Mapping[str, Any], opened: IO[bytes]
    ) -> Iterator[bytes]:
        """The object's bytes in pieces of whole SHA blocks (the last may be short); more
        bytes than its recorded length are refused as they appear."""
        length = entry["length"]
        compression = compression_named(entry["compression"])
        assert compression is not None  # checked when the metadata was loaded
        batch = self._batch
        seen = 0
        held = _Held()
        try:
            for piece in object_pieces(opened, compression, length):
                seen += len(piece)
                if seen > length:
                    raise self._damaged(loaded, name, f"holds more than its {length} bytes")
                if not held.size and len(piece) == batch:
                    yield piece
                    continue
                held.add(piece)
                while held.size >= batch:
                    yield held.take(batch)
        except ObjectDamaged as err:
            raise self._damaged(loaded, name, f"cannot be decompressed ({err})") from None
        except OSError as err:  # the storage failed a read (the target's errors are not here)
            raise unreadable(loaded.backup_id, name, err, self._left) from None
        if held.size:
            yield held.take(held.size)

    def _blocks(
        self,
        index: int,
        layer: Layer,
        name: str,
        piece: bytes,
        at: int,
        out: _Output | None,
    ) -> None:
        """Check each SHA block of ``piece`` (at volume offset ``at``) against the list, then
        write the runs of blocks this backup owns (and that are not holes to leave)."""
        bs, shas, owner = layer.block_size, layer.shas, self._owner
        view = memoryview(piece)
        first = at // bs
        run_start: int | None = None
        for start in range(0, len(view), bs):
            block = view[start : start + bs]
            number = first + start // bs
            listed = shas[number * _DIGEST : (number + 1) * _DIGEST]
            zero = (
                listed == self._zero
                and len(block) == bs
                and piece.startswith(self._zero_block, start, start + bs)
            )  # a block of zeros, listed as one: its SHA-256 is known
            if not zero and hashlib.sha256(block).digest() != listed:
                raise self._damaged(
                    layer.loaded,
                    name,
                    f"block {number} (offset {number * bs}) does not match the sha256file",
                )
            keep = out is not None and owner[number] == index
            if keep and out is not None and out.sparse:
                keep = listed != (self._zero if len(block) == bs else _zeros(len(block)))
            if keep and out is not None and out.sparse and _zero_edge(block, at + start):
                # A zero run begins or ends inside this block: its zero units stay holes.
                if run_start is not None:
                    out.put(view[run_start:start], at + run_start)
                    run_start = None
                out.put_sparse(block, at + start)
            elif keep:
                if run_start is None:
                    run_start = start
            elif run_start is not None:
                assert out is not None
                out.put(view[run_start:start], at + run_start)
                run_start = None
        if run_start is not None:
            assert out is not None
            out.put(view[run_start:], at + run_start)
        if out is not None:
            out.written(at, len(view))


class _Held:
    """Decompressed bytes not yet cut into a piece: the pieces as they came, each copied
    once, into the piece it ends up in (a decompressor's short outputs are common)."""

    def __init__(self) -> None:
        self.parts: collections.deque[bytes | memoryview] = collections.deque()
        self.size = 0

    def add(self, piece: bytes) -> None:
        self.parts.append(piece)
        self.size += len(piece)

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes (``n`` <= :attr:`size`)."""
        taken: list[bytes | memoryview] = []
        need = n
        while need:
            part = self.parts.popleft()
            if len(part) > need:
                view = memoryview(part)
                self.parts.appendleft(view[need:])
                part = view[:need]
            taken.append(part)
            need -= len(part)
        self.size -= n
        return taken[0] if len(taken) == 1 and isinstance(taken[0], bytes) else b"".join(taken)


class _Stopped(Exception):
    """An object given up because another one failed (that failure is the one raised)."""


class _Lane:
    """The workers of one object in flight: its MD5, in order, and its blocks."""

    def __init__(self) -> None:
        self.md5 = executor("md5")
        self.blocks = executor("blocks")

    def close(self) -> None:
        self.md5.shutdown(wait=True, cancel_futures=True)
        self.blocks.shutdown(wait=True, cancel_futures=True)


Job = tuple[int, Layer, str, Mapping[str, Any]]


class _Jobs:
    """The chain's objects, handed to the lanes in order (each opened as it is handed), and
    how those that failed ended. The first failure gives up the reads of the other objects
    in flight (a body that stalls in the store would hold its lane until the store's
    timeout and retries); what such an object then raises is its stop, not a failure."""

    def __init__(self, jobs: Iterator[Job]) -> None:
        self._jobs = enumerate(jobs)
        self._lock = lock()
        self._failures: dict[int, BaseException] = {}
        self._open: dict[int, IO[bytes]] = {}
        self._given_up: set[int] = set()
        self.stop = primitives().Event()

    def take(self) -> tuple[int, Job, IO[bytes]] | None:
        """The next object and its opened body; None when none is left or one failed."""
        with self._lock:
            if self.stop.is_set():
                return None
            number, job = next(self._jobs, (-1, None))
            if job is None:
                return None
            try:
                try:
                    fh = job[1].loaded.stored.open_object(job[2])
                except OSError as err:
                    raise unreadable(job[1].loaded.backup_id, job[2], err, UNTOUCHED) from None
            except BaseException as err:
                self._failures[number] = err
                self._stop_others(number)
                return None
            self._open[number] = fh
            return number, job, fh

    def closed(self, number: int) -> None:
        with self._lock:
            self._open.pop(number, None)

    def failed(self, number: int, err: BaseException) -> None:
        with self._lock:
            if number in self._given_up and isinstance(err, Exception):
                err = _Stopped()  # its read was given up: what it raised follows from that
            self._failures[number] = err
            self._stop_others(number)

    def give_up(self) -> None:
        """Stop every lane and give up every read in flight (an interrupt)."""
        with self._lock:
            self._stop_others(-1)

    def _stop_others(self, number: int) -> None:
        """Stop the lanes; give up the reads of the other objects in flight (under the lock)."""
        self.stop.set()
        for other, fh in self._open.items():
            if other != number and other not in self._given_up:
                self._given_up.add(other)
                interrupt = getattr(getattr(fh, "raw", fh), "interrupt", None)
                if callable(interrupt):  # a read-ahead of an object store
                    interrupt()

    def raise_first(self) -> None:
        """An interrupt first (KeyboardInterrupt, SystemExit), else the failure of the earliest
        object that failed (not merely stopped), if any."""
        failures = [self._failures[number] for number in sorted(self._failures)]
        for failure in failures:
            if not isinstance(failure, Exception):
                raise failure
        for failure in failures:
            if not isinstance(failure, _Stopped):
                raise failure


def unreadable(backup_id: str, name: str, err: OSError, left: str) -> BackupError:
    """A read of backup storage that failed (EIO, EACCES...): said as the storage's failure,
    not the target's, and not as damage (the bytes were never seen); one gone since the
    listing is missing from the backup."""
    if isinstance(err, FileNotFoundError):
        return InvalidBackup(
            f"object {name} is missing; {left}",
            backup_id=backup_id,
            hint="`docket volume verify` lists every damaged object",
        )
    return BackupError(
        f"cannot read object {name}: {err.strerror or err}; {left}",
        backup_id=backup_id,
        hint="the backup storage failed a read; check it, then `docket volume verify` the backup",
    )


def _wait_for(
    waits: list[Callable[[], None]], jobs: _Jobs, running: Sequence[Future[None]] = ()
) -> BaseException | None:
    """Call each of ``waits`` (a pool's shutdown, which waits for its threads) to its end,
    even through an interrupt (Ctrl-C while the calling thread waits for the other lane):
    the lanes are then stopped and their reads given up, and waited for all the same, so
    that no thread of the restore writes on after it. The first interrupt met, to raise.

    The lanes still ``running`` are waited for first, in steps of :data:`_POLL` seconds: a
    Ctrl-C that comes just before the calling thread blocks on a thread's lock is handled
    only when that wait returns, which an unbounded wait would put off until the other
    lane ends (a stalled store's timeouts and retries). An interrupt anywhere in here
    resumes the wait it stopped (each may run again)."""
    steps = [functools.partial(_wait_lane, lane) for lane in running] + list(waits)
    caught: BaseException | None = None
    done = 0
    while True:
        try:
            while done < len(steps):
                steps[done]()
                done += 1
            return caught
        except BaseException as err:
            caught = caught or err
            jobs.give_up()


def _wait_lane(lane: Future[None]) -> None:
    """Wait for a lane's end, :data:`_POLL` seconds at a time (the future's own condition,
    a real one under eventlet (see :mod:`docket.cinder._native`), not the events of
    ``concurrent.futures.wait``); what the lane raised is its jobs' to report."""
    while True:
        try:
            lane.exception(timeout=_POLL)
            return
        except CancelledError:
            return
        except TimeoutError:
            continue


_POLL = 0.1
"""Seconds between the checks for a Ctrl-C while the calling thread waits for the lanes."""


@functools.lru_cache(maxsize=4)
def _zeros(size: int) -> bytes:
    """The SHA-256 of ``size`` zero bytes (a short last block of the volume)."""
    return hashlib.sha256(bytes(size)).digest()


HOLE_UNIT = 4096
"""Inside a block where a zero run starts or ends, zeros are left as holes in units of this
many bytes, aligned in the volume (the page and file-system block size almost everywhere)."""
_ZERO_UNIT = bytes(HOLE_UNIT)


def _units(at: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the hole units of ``size`` bytes at volume offset ``at``, relative."""
    start, end = 0, min(size, HOLE_UNIT - at % HOLE_UNIT)
    while start < size:
        yield start, end
        start, end = end, min(size, end + HOLE_UNIT)


def _zero_edge(block: memoryview, at: int) -> bool:
    """Whether the first or last hole unit of a block is all zeros."""
    first_end = min(len(block), HOLE_UNIT - at % HOLE_UNIT)
    last_start = max(len(block) - ((at + len(block)) % HOLE_UNIT or HOLE_UNIT), 0)
    return (
        block[:first_end] == _ZERO_UNIT[:first_end]
        or block[last_start:] == _ZERO_UNIT[: len(block) - last_start]
    )


_ADVISE: int | None = getattr(os, "POSIX_FADV_DONTNEED", None) if sys.platform == "linux" else None


class _Output:
    """Where verified blocks go: positioned writes (``pwrite`` on a real file; on a file
    object without a descriptor, a seek and a write under one lock, as the lanes' blocks
    workers write side by side)."""

    def __init__(self, out: IO[bytes], sparse: bool) -> None:
        self.sparse = sparse
        self._out = out
        self._seeking = lock()
        try:
            out.flush()
            self._fd: int | None = out.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None  # an in-memory file

    def put_sparse(self, data: memoryview, at: int) -> None:
        """Write ``data`` at ``at``, leaving its zero units as holes."""
        span: int | None = None
        for start, end in _units(at, len(data)):
            if data[start:end] == _ZERO_UNIT[: end - start]:
                if span is not None:
                    self.put(data[span:start], at + span)
                    span = None
            elif span is None:
                span = start
        if span is not None:
            self.put(data[span:], at + span)

    def written(self, at: int, size: int) -> None:
        """The bytes put in ``size`` bytes at ``at`` start on their way to the disk now, so
        that the fsync at the end of the restore waits for little more than the last ones
        (Linux: ``POSIX_FADV_DONTNEED`` starts the writeback of dirty pages and leaves
        them cached until they are written)."""
        if self._fd is not None and _ADVISE is not None:
            with contextlib.suppress(OSError):  # advice only: a target may refuse it
                os.posix_fadvise(self._fd, at, size, _ADVISE)

    def put(self, data: memoryview, at: int) -> None:
        if self._fd is None:
            with self._seeking:  # another lane's seek must not come between
                self._out.seek(at)
                while data:
                    n = self._out.write(data)
                    # A raw file may take part of it; None from a file object's write (not
                    # a non-blocking file's: a restore target blocks) is all of it.
                    if n == 0:
                        raise OSError(errno.EIO, "the target took none of the bytes")
                    data = data[len(data) if n is None else n :]
            return
        while data:
            n = os.pwrite(self._fd, data, at)
            data, at = data[n:], at + n

