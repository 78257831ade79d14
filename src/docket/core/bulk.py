"""Validate many containers at once: files, directories, JSON Lines, in worker processes.

:func:`validate_many` is what ``docket validate`` runs, as a library function a CI system or
a backup driver can call without the command line. The input is cut into tasks: a byte range
of a JSON Lines file (aligned to line starts), a group of files, or lines already read from
standard input. Tasks run here or, with ``jobs > 1``, in worker processes with at most two
tasks per worker in flight, so memory stays flat however long the input. Results come back in
input order whatever the number of workers.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from docket.core.codec import Limits, parse
from docket.core.documents import FamilySource
from docket.core.errors import DocketError, Issue
from docket.core.migrations import BUILTIN_CONVERTERS
from docket.core.registry import Registry, load_registry
from docket.core.rules import BUILTIN_RULES

DEFAULT_FAMILY = "backup-metadata"
"""The family of a container without a ``family`` member, unless the caller names another."""
STDIN = "-"
"""The path that means standard input."""

_CHUNK_BYTES = 4 * 1024 * 1024
_FILES_PER_TASK = 200
_STDIN_LINES_PER_TASK = 2000
_PEEK_BYTES = 64 * 1024

Progress = Callable[[int, int], None]
"""``progress(done, total)``: bytes of input validated so far, of the bytes the paths hold."""


@dataclass(frozen=True)
class Result:
    """The verdict on one container."""

    file: str
    """The path it was read from (``<stdin>`` for standard input)."""
    line: int | None
    """Its line in a JSON Lines input (from 1), None for a whole file."""
    family: str | None
    """The family it was checked as (None when it could not be read)."""
    version: Any
    """Its ``version`` member as found (None when there is none)."""
    errors: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (``1 <= I <= N``) as ``(I, N)``; :class:`ValueError` for anything else."""
    index, sep, count = text.partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"{text!r} is not I/N")
    i, n = int(index), int(count)
    if not 1 <= i <= n:
        raise ValueError(f"{text!r}: I must be between 1 and N")
    return i, n


# --- tasks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lines:
    """Lines of a JSON Lines file: bytes ``start`` to ``end``, the first being ``first_line``."""

    path: str
    display: str
    start: int
    end: int
    first_line: int
    first_slot: int


@dataclass(frozen=True)
class _Files:
    """Whole-file containers, each with its slot (its place in the input, for a shard)."""

    files: tuple[tuple[str, int], ...]
    size: int


@dataclass(frozen=True)
class _Raw:
    """Lines already read (standard input): (line number or None, bytes, why unreadable, slot)."""

    display: str
    entries: tuple[tuple[int | None, bytes | None, str, int], ...]
    size: int = 0


_Task = _Lines | _Files | _Raw


def _task_size(task: _Task) -> int:
    return task.end - task.start if isinstance(task, _Lines) else task.size


class _Checker:
    """Validates containers as ``Family.load`` checks them, choosing each one's family."""

    def __init__(
        self, registry: Registry, default_family: str, shard: tuple[int, int] | None
    ) -> None:
        self.registry = registry
        self.default = default_family
        self.shard = shard

    def _peek(self, raw: bytes) -> Mapping[str, Any] | None:
        # The strict parse in Family.validate decides validity; this only finds the family and
        # version. orjson is ~5x faster, and small input bounds what it can allocate.
        if len(raw) > _PEEK_BYTES:
            try:
                return parse(raw, self.registry.limits)
            except DocketError:
                return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def check(self, file: str, line: int | None, raw: bytes | None, unreadable: str = "") -> Result:
        """The verdict on one container (``raw`` None: it could not be read, see why)."""
        if raw is None:
            return Result(file, line, None, None, (Issue((), unreadable, "read"),))
        obj = self._peek(raw)
        name, version = self.default, None
        if obj is not None:
            named = obj.get("family")
            if isinstance(named, str):
                name = named
            found = obj.get("version")
            if isinstance(found, int | str) and not isinstance(found, bool):
                version = found
        if name not in self.registry:
            known = ", ".join(self.registry.families())
            issue = Issue(("family",), f"unknown family {name!r} (known: {known})", "family")
            return Result(file, line, name, version, (issue,))
        issues = self.registry.family(name).validate(raw)
        return Result(file, line, name, version, tuple(issues))

    def _mine(self, slot: int) -> bool:
        return self.shard is None or slot % self.shard[1] == self.shard[0] - 1

    def results(self, task: _Task) -> Iterator[Result]:
        """The verdicts on the containers of one task (those of this shard)."""
        limit = self.registry.limits.max_bytes
        if isinstance(task, _Raw):
            for line, raw, unreadable, slot in task.entries:
                if self._mine(slot):
                    yield self.check(task.display, line, raw, unreadable)
        elif isinstance(task, _Files):
            for path, slot in task.files:
                if not self._mine(slot):
                    continue
                try:
                    with open(path, "rb") as fh:
                        raw = fh.read(limit + 1)
                except OSError as err:
                    yield self.check(path, None, None, f"cannot read: {err.strerror or err}")
                else:
                    yield self.check(path, None, raw)
        else:
            try:
                with open(task.path, "rb") as fh:
                    fh.seek(task.start)
                    for offset, raw in _lines(fh, limit, task.end - task.start):
                        slot = task.first_slot + offset
                        if raw.strip() and self._mine(slot):
                            yield self.check(task.display, task.first_line + offset, raw)
            except OSError as err:
                yield self.check(task.display, None, None, f"cannot read: {err.strerror or err}")


def _lines(fh: BinaryIO, limit: int, span: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(index, content)`` per line, over at most ``span`` bytes. A line longer than
    ``limit`` is cut to ``limit + 1`` bytes (so parsing refuses it) without reading it whole."""
    index, used = 0, 0
    while span is None or used < span:
        line = fh.readline(limit + 1)
        if not line:
            return
        consumed = len(line)
        if not line.endswith(b"\n") and len(line) > limit:
            while True:  # skip the rest of an over-long line in bounded pieces
                rest = fh.readline(1024 * 1024)
                consumed += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        used += consumed
        yield index, line.rstrip(b"\r\n")
        index += 1


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def input_size(paths: Iterable[str | os.PathLike[str]]) -> int:
    """Bytes the paths hold (every ``*.json`` below a directory; standard input counts 0)."""
    total = 0
    for text in paths:
        path = Path(text)
        if str(text) == STDIN:
            continue
        if path.is_dir():
            total += sum(_size(p) for p in path.rglob("*.json") if p.is_file())
        else:
            total += _size(path)
    return total


def _line_chunks(path: str, first_slot: int) -> Iterator[_Lines | int]:
    """Tasks of about ``_CHUNK_BYTES`` each, cut after a newline; then the number of lines.

    Counting newlines runs at memory speed, so splitting costs little beside validating.
    """
    line, start, offset = 1, 0, 0
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK_BYTES):
            offset += len(block)
            cut = block.rfind(b"\n")
            if cut < 0:
                continue  # inside an over-long line: read on
            end = offset - len(block) + cut + 1
            yield _Lines(path, path, start, end, line, first_slot + line - 1)
            line += block.count(b"\n")  # every newline of the block is before the cut
            start = end
    if offset > start:  # a last line without a newline
        yield _Lines(path, path, start, offset, line, first_slot + line - 1)
        line += 1
    yield line - 1


def _stdin_tasks(source: BinaryIO, jsonl: bool, limit: int, slot: int) -> Iterator[_Raw | int]:
    """Standard input as tasks; then the number of slots it used."""
    if not jsonl:
        yield _Raw("<stdin>", ((None, source.read(limit + 1), "", slot),))
        yield 1
        return
    used = 0
    entries: list[tuple[int | None, bytes | None, str, int]] = []
    for index, raw in _lines(source, limit):
        if raw.strip():  # blank lines hold no container, as in files
            entries.append((index + 1, raw, "", slot + used))
        used += 1
        if len(entries) >= _STDIN_LINES_PER_TASK:
            yield _Raw("<stdin>", tuple(entries))
            entries = []
    if entries:
        yield _Raw("<stdin>", tuple(entries))
    yield used


def _tasks(
    paths: Sequence[str], jsonl: bool, stdin: BinaryIO | None, limit: int
) -> Iterator[_Task]:
    """The input as tasks, in order, each container given its slot (for a shard)."""
    slot = 0
    files: list[tuple[str, int]] = []
    files_size = 0

    def flush() -> Iterator[_Task]:
        nonlocal files, files_size
        if files:
            yield _Files(tuple(files), files_size)
        files, files_size = [], 0

    for text in paths:
        path = Path(text)
        stream = text == STDIN or (not path.is_dir() and (jsonl or text.endswith(".jsonl")))
        if stream:
            yield from flush()
            display = "<stdin>" if text == STDIN else text
            try:
                if text == STDIN:
                    source = stdin if stdin is not None else sys.stdin.buffer
                    chunks: Iterator[_Task | int] = _stdin_tasks(source, jsonl, limit, slot)
                else:
                    chunks = _line_chunks(text, slot)
                for chunk in chunks:
                    if isinstance(chunk, int):
                        slot += chunk
                    else:
                        yield chunk
            except OSError as err:
                yield _Raw(display, ((None, None, f"cannot read: {err.strerror or err}", slot),))
                slot += 1
            continue
        found = [text]
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*.json") if p.is_file())
        for name in found:
            files.append((name, slot))
            files_size += _size(Path(name))
            slot += 1
            if len(files) >= _FILES_PER_TASK:
                yield from flush()
    yield from flush()


# --- worker processes -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Documents:
    """A registry built from documents alone, in a form that crosses to a worker process."""

    sources: Mapping[str, FamilySource]
    signing_key: bytes | None
    limits: Limits

    def __call__(self) -> Registry:
        return Registry(dict(self.sources), signing_key=self.signing_key, limits=self.limits)


def _portable(registry: Registry) -> Callable[[], Registry]:
    """A picklable way to build ``registry`` again in a worker process.

    Python migrations, rules and converters are functions, which cannot be sent to another
    process; a registry with its own needs a factory function from the caller.
    """
    own = (
        registry.migrations
        or dict(registry.rules) != BUILTIN_RULES
        or dict(registry.converters) != BUILTIN_CONVERTERS
    )
    if own:
        raise ValueError(
            "a registry with Python migrations, rules or converters cannot be sent to worker "
            "processes: pass registry= a module-level function that builds it, or use jobs=1"
        )
    return _Documents(registry.sources, registry.signing_key, registry.limits)


# Each worker process builds its checker once; a pool's initializer can only leave it in a
# module global.
_WORKER: _Checker | None = None


def _init_worker(
    factory: Callable[[], Registry], default_family: str, shard: tuple[int, int] | None
) -> None:
    global _WORKER
    _WORKER = _Checker(factory(), default_family, shard)


def _work(task: _Task) -> list[Result]:
    assert _WORKER is not None, "worker not initialised"
    return list(_WORKER.results(task))


def _in_pool(
    tasks: Iterable[_Task], jobs: int, initargs: tuple[Any, ...]
) -> Iterator[tuple[_Task, list[Result]]]:
    """Tasks and their results in input order, at most ``2 * jobs`` in flight (flat memory)."""
    # spawn, not fork: a caller's thread (a progress bar) may be running when the pool starts.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_init_worker, initargs=initargs
    ) as pool:
        window: collections.deque[tuple[_Task, Future[list[Result]]]] = collections.deque()
        for task in tasks:
            window.append((task, pool.submit(_work, task)))
            if len(window) >= 2 * jobs:
                done, future = window.popleft()
                yield done, future.result()
        while window:
            done, future = window.popleft()
            yield done, future.result()


# --- the entry point --------------------------------------------------------------------------


def validate_many(
    paths: Sequence[str | os.PathLike[str]],
    *,
    registry: Registry | Callable[[], Registry] | None = None,
    family: str = DEFAULT_FAMILY,
    jobs: int = 1,
    shard: tuple[int, int] | None = None,
    jsonl: bool = False,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
) -> Iterator[Result]:
    """The verdict on every container in ``paths``, in input order, as they are found.

    A path is a container file, a directory (every ``*.json`` below it), a JSON Lines file
    (``*.jsonl``, or any file with ``jsonl=True``) or ``-`` for ``stdin`` (standard input when
    None). A container's family is its ``family`` member, else ``family``.

    ``registry`` is a :class:`Registry` (default: the bundled families), or a picklable
    function building one, which worker processes need when the registry has Python
    migrations, rules or converters. ``jobs`` worker processes validate (0: one per CPU);
    ``shard=(I, N)`` keeps only the containers ``k`` (counting files and lines in order from
    0) with ``k mod N == I - 1``. ``progress(done, total)`` is called after each piece of work
    with bytes validated so far. A worker process that dies raises
    :class:`concurrent.futures.process.BrokenProcessPool`.
    """
    names = [os.fspath(p) for p in paths]
    if jobs < 0:
        raise ValueError(f"jobs={jobs}: give a number of processes, or 0 for one per CPU")
    if shard is not None and not 1 <= shard[0] <= shard[1]:
        raise ValueError(f"shard={shard!r}: I must be between 1 and N")
    if names.count(STDIN) > 1:
        raise ValueError("standard input (-) can be read once")
    if registry is None:
        registry = load_registry()
    built = registry if isinstance(registry, Registry) else registry()
    workers = jobs or os.cpu_count() or 1
    # Checked now, not when the first result is asked for.
    factory = _portable(registry) if workers > 1 and isinstance(registry, Registry) else registry
    tasks = _tasks(names, jsonl, stdin, built.limits.max_bytes)
    if workers == 1:
        checker = _Checker(built, family, shard)
        finished: Iterable[tuple[_Task, Iterable[Result]]] = (
            (task, checker.results(task)) for task in tasks
        )
    else:
        finished = _in_pool(tasks, workers, (factory, family, shard))
    return _report(finished, input_size(names) if progress is not None else 0, progress)


def _report(
    finished: Iterable[tuple[_Task, Iterable[Result]]], total: int, progress: Progress | None
) -> Iterator[Result]:
    """The results of each task, calling ``progress`` before the first and after each."""
    done = 0
    if progress is not None:
        progress(done, total)
    for task, results in finished:
        yield from results
        done += _task_size(task)
        if progress is not None:
            progress(done, total)


__all__ = [
    "DEFAULT_FAMILY",
    "STDIN",
    "Progress",
    "Result",
    "input_size",
    "parse_shard",
    "validate_many",
]
