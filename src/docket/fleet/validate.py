"""Validate many containers at once: files, directories, JSON Lines, in worker processes.

:func:`validate_many` is what ``docket validate`` runs, as a library function a CI system or
a backup driver can call without the command line. The input is cut into tasks: a byte range
of a JSON Lines file (aligned to line starts), a group of files, or lines already read from
standard input. Tasks run here or, with ``jobs > 1``, in worker processes with at most two
tasks per worker in flight, so memory stays flat however long the input. Results come back in
input order whatever the number of workers.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, cast

import orjson

from docket.core._frozen import filled
from docket.core.codec import Limits, parse
from docket.core.converters import BUILTIN_CONVERTERS
from docket.core.documents import FamilySource
from docket.core.errors import (
    DocketError,
    Issue,
    LimitExceeded,
    ParseError,
    TrailingData,
    UnsafeFile,
    UsageError,
    show,
)
from docket.core.family import Family, parse_issue
from docket.core.registry import (
    Registry,
    foreign_family,
    foreign_members,
    load_registry,
)
from docket.core.rules import BUILTIN_RULES
from docket.fleet._input import file_size, open_stream, read_lines, split_lines
from docket.fleet.pool import Progress, in_order, workers
from docket.fleet.shards import check_shard, parse_shard
from docket.fs import kind_of, open_file, read_prefix, standard_input, stream_size

DEFAULT_FAMILY = "backup-metadata"
"""The family of a container without a ``family`` member, unless the caller names another."""
STDIN = "-"
"""The path that means standard input."""

_CHUNK_BYTES = 4 * 1024 * 1024
_FILES_PER_TASK = 200
_STDIN_LINES_PER_TASK = 2000
_PEEK_BYTES = 64 * 1024

CONTAINER_SUFFIXES = (".json", ".jsonl")
"""The files a directory is searched for: ``*.json`` containers and ``*.jsonl`` lines."""
NOT_A_CONTAINER_FILE = "not named *.json or *.jsonl"
"""Why a file below a directory was skipped for its name (see :class:`Skipped`)."""


@dataclass(frozen=True)
class Skipped:
    """A path below a directory that was not validated, and why (a dangling link, a FIFO or
    other file that is not a regular file, a directory that cannot be read, a symbolic link
    to a directory, a file with another name)."""

    path: str
    reason: str


OnSkip = Callable[[Skipped], None]


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


def _result(
    file: str, line: int | None, family: str | None, version: Any, errors: tuple[Issue, ...]
) -> Result:
    """``Result(file, line, family, version, errors)``, made directly (a valid line's
    bookkeeping costs about as much as the frozen dataclass's ``__init__``)."""
    return filled(
        Result,
        {"file": file, "line": line, "family": family, "version": version, "errors": errors},
    )


# --- tasks ------------------------------------------------------------------------------------


# The tasks are named tuples, not dataclasses: they are as cheap to send to a worker, and far
# cheaper to define at import time, which every `docket validate` pays for.


class _Lines(NamedTuple):
    """Lines of a JSON Lines file: bytes ``start`` to ``end``, the first being ``first_line``."""

    path: str
    display: str
    start: int
    end: int
    first_line: int
    first_slot: int


class _Files(NamedTuple):
    """Whole-file containers, each with its slot (its place in the input, for a shard)."""

    files: tuple[tuple[str, int], ...]
    size: int


_Entry = tuple[int | None, bytes | None, str, int]
"""A container already read: (line number or None, bytes, why unreadable, slot). Bytes None
and a line number: the line was longer than the limit (and the input ends there)."""


class _Raw(NamedTuple):
    """Containers already read (standard input, a FIFO or device), as :data:`_Entry` items."""

    display: str
    entries: tuple[_Entry, ...]
    size: int = 0
    whole: int | None = None
    """The size of a whole container read over the limit, when the stream knows it."""


class _Block(NamedTuple):
    """Lines of a JSON Lines file already read and split (the in-process path): the first is
    line ``first_line``; None is a line longer than the container limit."""

    display: str
    first_line: int
    first_slot: int
    lines: list[bytes | None]
    size: int


_Task = _Lines | _Files | _Raw | _Block


def _task_size(task: _Task) -> int:
    return task.end - task.start if isinstance(task, _Lines) else task.size


class _Checker:
    """Validates containers as ``Family.load`` checks them, choosing each one's family."""

    def __init__(
        self, registry: Registry, default_family: str | None, shard: tuple[int, int] | None
    ) -> None:
        self.registry = registry
        self.default = DEFAULT_FAMILY if default_family is None else default_family
        self.shard = shard
        self._families: dict[str, Family | None] = {}
        self._limits = registry.limits
        # Not named by the caller, the default family is a guess: a container holding members
        # it never declares and another family does is that family's (see foreign_family).
        # None (the family named, or no other family declares anything): no cost per line.
        self._foreign: dict[str, tuple[str, ...]] = (
            foreign_members(registry, self.default)
            if default_family is None and self.default in registry
            else {}
        )
        # A frozenset's own isdisjoint, bound: the cheapest form of the question per line.
        self._own: Callable[[Iterable[str]], bool] | None = (
            frozenset(self._foreign).isdisjoint if self._foreign else None
        )

    def _family(self, name: str) -> Family | None:
        """The family ``name`` when a container parsed with the registry's limits can be
        handed to it as it is (None: it parses the bytes itself, with its own limits)."""
        try:
            return self._families[name]
        except KeyError:
            family = self.registry.family(name)
            found = family if family.limits == self.registry.limits else None
            self._families[name] = found
            return found

    def _peek(self, raw: bytes) -> Mapping[str, Any] | None:
        # Only for input the strict parse refused: a lenient read naming the family that
        # explains the refusal. Small input bounds what it can allocate.
        if len(raw) > _PEEK_BYTES:
            return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def _explain(self, file: str, line: int | None, raw: bytes, err: DocketError) -> Result:
        """The verdict on a container the strict parse refused (``err``), from the family
        it names."""
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
            return self._unknown(file, line, raw, name, version)
        if isinstance(err, TrailingData) and err.new_line and line is None:
            err.hint = "this looks like JSON Lines: pass --jsonl"  # validate_many(jsonl=True)
        if isinstance(err, ParseError) and self._family(name) is not None:
            # The family parses with the same limits: its refusal is ``err``, not parsed again.
            issues = [parse_issue(err, raw)]
        else:
            issues = self.registry.family(name).validate(raw)
        from docket.core.locate import place  # invalid input only

        return Result(file, line, name, version, tuple(place(raw, issues, first_line=line or 1)))

    def _oversized(self, file: str, raw: bytes, size: int | None) -> Result:
        """The verdict on a whole container longer than the limit (``raw``: its first
        ``limit + 1`` bytes; ``size``: its length when known, else None)."""
        limit = self._limits.max_bytes
        known = size if size is not None and size > limit else None
        return self._explain(file, None, raw, LimitExceeded("max_bytes", known, limit))

    def _unknown(self, file: str, line: int | None, raw: bytes, name: str, version: Any) -> Result:
        known = ", ".join(self.registry.families())
        issue = Issue(("family",), f"unknown family {show(name)} (known: {known})", "family")
        from docket.core.locate import place  # invalid input only

        placed = place(raw, [issue], first_line=line or 1)
        return Result(file, line, name, version, tuple(placed))

    def check(self, file: str, line: int | None, raw: bytes | None, unreadable: str = "") -> Result:
        """The verdict on one container (``raw`` None: it could not be read, see why; with a
        line number, the line was too long). Problems carry their line and column."""
        if raw is None:
            if line is not None:
                issue = Issue((), unreadable, "limit", line=line, column=1)
            else:
                issue = Issue((), unreadable, "read")
            return Result(file, line, None, None, (issue,))
        # One strict parse (duplicate keys, limits, numbers) finds the family and version and
        # is what the family validates: no container is parsed twice.
        try:
            obj = parse(raw, self._limits)
        except DocketError as err:
            return self._explain(file, line, raw, err)
        name = obj.get("family")
        version = obj.get("version")
        if type(version) is not int and type(version) is not str:
            version = None
        if type(name) is not str:
            name = self.default
            if self._own is not None and not self._own(obj):
                return self._not_default(file, line, raw, obj, version)
        if name in self._families:
            family = self._families[name]
        elif name in self.registry:
            family = self._family(name)
        else:
            return self._unknown(file, line, raw, name, version)
        issues = (
            family.validate_parsed(obj)
            if family is not None
            else (self.registry.family(name).validate(raw))
        )
        if issues:  # only invalid input pays for finding where its problems are
            from docket.core.locate import place

            # The strict parse accepted it: its keys are unique, members are found directly.
            placed = place(raw, issues, first_line=line or 1, unique_keys=True)
            return _result(file, line, name, version, tuple(placed))
        return _result(file, line, name, version, ())

    def _not_default(
        self, file: str, line: int | None, raw: bytes, obj: Mapping[str, Any], version: Any
    ) -> Result:
        """The verdict on a container naming no family whose members are another family's:
        invalid, at its first such member, naming the family to pass (as ``docket migrate``
        refuses it)."""
        why = foreign_family(self.registry, obj, self.default, self._foreign)
        assert why is not None
        first = next(m for m in obj if m in self._foreign)
        issue = Issue((first,), f"{why[0]} (hint: {why[1]})", "family")
        from docket.core.locate import place  # invalid input only

        placed = place(raw, [issue], first_line=line or 1, unique_keys=True)
        return _result(file, line, self.default, version, tuple(placed))

    def _mine(self, slot: int) -> bool:
        return self.shard is None or slot % self.shard[1] == self.shard[0] - 1

    def results(self, task: _Task) -> Iterator[Result]:
        """The verdicts on the containers of one task (those of this shard)."""
        limit = self.registry.limits.max_bytes
        if isinstance(task, _Block):
            yield from self._block(
                task.lines, task.display, task.first_line, task.first_slot, limit
            )
        elif isinstance(task, _Raw):
            for line, raw, unreadable, slot in task.entries:
                if not self._mine(slot):
                    continue
                if line is None and raw is not None and len(raw) > limit:
                    yield self._oversized(task.display, raw, task.whole)
                else:
                    yield self.check(task.display, line, raw, unreadable)
        elif isinstance(task, _Files):
            for path, slot in task.files:
                if not self._mine(slot):
                    continue
                try:
                    raw = read_prefix(path, limit + 1, what="container", follow=True)
                except (OSError, UnsafeFile) as err:
                    yield self.check(path, None, None, _cannot_read(err))
                else:
                    if len(raw) > limit:
                        yield self._oversized(path, raw, file_size(path))
                    else:
                        yield self.check(path, None, raw)
        else:
            try:
                with open(task.path, "rb") as fh:
                    fh.seek(task.start)
                    span = task.end - task.start
                    # A task of ordinary lines is read in one piece (about _CHUNK_BYTES); one
                    # holding a very long line is read line by line, in bounded pieces.
                    if span <= 2 * _CHUNK_BYTES:
                        lines = cast("list[bytes | None]", fh.read(span).split(b"\n"))
                        if lines[-1] == b"":
                            lines.pop()  # the block ends with a newline (or is empty)
                        yield from self._block(
                            lines, task.display, task.first_line, task.first_slot, limit
                        )
                        return
                    pieces = read_lines(fh, limit, span)
                    display, first_line, first_slot = task.display, task.first_line, task.first_slot
                    every = self.shard is None
                    for offset, raw in pieces:
                        if raw is None:
                            yield self.check(display, first_line + offset, None, _too_long(limit))
                        elif raw.strip() and (every or self._mine(first_slot + offset)):
                            yield self.check(display, first_line + offset, raw)
            except OSError as err:
                yield self.check(task.display, None, None, _cannot_read(err))

    def _block(
        self,
        lines: list[bytes | None],
        display: str,
        first_line: int,
        first_slot: int,
        limit: int,
    ) -> Iterator[Result]:
        """:meth:`results` of lines already split (None: longer than ``limit``), the first
        being ``first_line`` (the checks inlined: this runs once per line of JSON Lines)."""
        every = self.shard is None
        check = self.check
        for offset, raw in enumerate(lines):
            if raw is None or len(raw) > limit:
                yield check(display, first_line + offset, None, _too_long(limit))
                continue
            raw = raw.rstrip(b"\r")
            # A blank line holds no container (raw.strip() would copy every line).
            if raw and not raw.isspace() and (every or self._mine(first_slot + offset)):
                yield check(display, first_line + offset, raw)


def _cannot_read(err: OSError | UnsafeFile) -> str:
    """Why a container could not be read, as results say it."""
    if isinstance(err, UnsafeFile):
        return f"cannot read: not a regular file ({err.found})"
    return f"cannot read: {err.strerror or err}"


def _too_long(limit: int, stream: str | None = None) -> str:
    text = f"the line is longer than the container limit of {limit} bytes (Limits.max_bytes)"
    return text if stream is None else f"{text}; the rest of {stream} is not read"


def input_size(paths: Iterable[str | os.PathLike[str]]) -> int:
    """Bytes the paths hold (every ``*.json`` and ``*.jsonl`` below a directory; standard
    input, FIFOs and devices count 0)."""
    total = 0
    for text in paths:
        path = Path(text)
        if str(text) == STDIN:
            continue
        if path.is_dir():
            total += sum(file_size(Path(p)) for p in walk(str(path)))
        elif path.is_file():
            total += file_size(path)
    return total


def walk(root: str, on_skip: OnSkip | None = None) -> list[str]:
    """The container files below directory ``root``, sorted: regular files (or symbolic
    links to regular files) named ``*.json`` or ``*.jsonl``. Symbolic links to directories
    are not followed. Everything else is passed to ``on_skip`` with the reason."""

    def skip(path: str, reason: str) -> None:
        if on_skip is not None:
            on_skip(Skipped(path, reason))

    def unreadable(err: OSError) -> None:
        skip(err.filename or root, f"cannot read the directory: {err.strerror or err}")

    found: list[str] = []

    def visit(top: str) -> list[str]:
        """One directory's files; the directories below it, to visit next."""
        # os.walk(top, followlinks=False), top-down, keeping the directory entries: their
        # types come with the listing, so a regular file costs no lstat of its own.
        try:
            listing = os.scandir(top)
        except OSError as err:
            unreadable(err)
            return []
        dirs: list[os.DirEntry[str]] = []
        files: list[os.DirEntry[str]] = []
        with listing:
            while True:
                try:
                    entry = next(listing, None)
                except OSError as err:
                    unreadable(err)
                    return []
                if entry is None:
                    break
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                (dirs if is_dir else files).append(entry)
        below = []
        for entry in dirs:
            if _is_link(entry):
                skip(entry.path, "a symbolic link to a directory (not followed)")
            else:
                below.append(entry.path)
        for entry in files:
            path = entry.path
            if not entry.name.endswith(CONTAINER_SUFFIXES):
                skip(path, NOT_A_CONTAINER_FILE)
                continue
            try:
                if entry.is_symlink():
                    try:
                        mode = os.stat(path).st_mode
                    except OSError:
                        skip(path, "a dangling symbolic link")
                        continue
                    if not stat.S_ISREG(mode):
                        skip(path, f"a symbolic link to {kind_of(mode)}, not a regular file")
                        continue
                elif not entry.is_file(follow_symlinks=False):
                    mode = entry.stat(follow_symlinks=False).st_mode
                    skip(path, f"{kind_of(mode)}, not a regular file")
                    continue
            except OSError as err:
                skip(path, f"cannot read: {err.strerror or err}")
                continue
            found.append(path)
        return below

    # Depth first without recursion: a tree of any depth costs a list of names, not a stack.
    todo = [root]
    while todo:
        todo += reversed(visit(todo.pop()))
    return sorted(found)


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


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
                continue  # inside a long line: read on
            end = offset - len(block) + cut + 1
            yield _Lines(path, path, start, end, line, first_slot + line - 1)
            line += block.count(b"\n")  # every newline of the block is before the cut
            start = end
    if offset > start:  # a last line without a newline
        yield _Lines(path, path, start, offset, line, first_slot + line - 1)
        line += 1
    yield line - 1


def _inline_chunks(path: str, first_slot: int, limit: int) -> Iterator[_Block | int]:
    """:func:`_line_chunks` for tasks checked in this process: each block is read once and
    split as it is read (:func:`~docket.fleet._input.split_lines`); then the line count."""
    count = 0
    with open_file(path, what="container", follow=True) as fh:
        for first, lines, size in split_lines(fh, _CHUNK_BYTES, limit):
            yield _Block(path, first, first_slot + first - 1, lines, size)
            count = max(count, first - 1 + len(lines))
    yield count


def _stream_tasks(
    source: BinaryIO, display: str, jsonl: bool, limit: int, slot: int
) -> Iterator[_Raw | int]:
    """A stream read once (standard input, a FIFO, a device) as tasks; then the number of
    slots it used. At most ``limit + 1`` bytes are held for one container."""
    if not jsonl:
        whole = source.read(limit + 1)
        # Over the limit, a stream that is a regular file (`< big.json`) knows its size.
        size = stream_size(source) if len(whole) > limit else None
        yield _Raw(display, ((None, whole, "", slot),), whole=size)
        yield 1
        return
    used = 0
    entries: list[_Entry] = []
    for index, raw in read_lines(source, limit, stream=True):
        if raw is None:
            entries.append((index + 1, None, _too_long(limit, display), slot + used))
        elif raw.strip():  # blank lines hold no container, as in files
            entries.append((index + 1, raw, "", slot + used))
        used += 1
        if len(entries) >= _STDIN_LINES_PER_TASK:
            yield _Raw(display, tuple(entries))
            entries = []
    if entries:
        yield _Raw(display, tuple(entries))
    yield used


def _tasks(
    paths: Sequence[str],
    jsonl: bool,
    stdin: BinaryIO | None,
    limit: int,
    on_skip: OnSkip | None = None,
    sizes: bool = True,
    inline: bool = False,
) -> Iterator[_Task]:
    """The input as tasks, in order, each container given its slot (for a shard); the size
    of a group of files is counted only with ``sizes`` (for progress). ``inline`` (tasks
    checked in this process) reads JSON Lines files once, as :class:`_Block` tasks."""
    slot = 0
    files: list[tuple[str, int]] = []
    files_size = 0

    def flush() -> Iterator[_Task]:
        nonlocal files, files_size
        if files:
            yield _Files(tuple(files), files_size)
        files, files_size = [], 0

    def lines_of(text: str, stream: BinaryIO | None) -> Iterator[_Task]:
        nonlocal slot
        display = "<stdin>" if text == STDIN else text
        try:
            if stream is not None:
                as_lines = jsonl or text.endswith(".jsonl")
                chunks: Iterator[_Task | int] = _stream_tasks(
                    stream, display, as_lines, limit, slot
                )
            elif inline:
                chunks = _inline_chunks(text, slot, limit)
            else:
                chunks = _line_chunks(text, slot)
            for chunk in chunks:
                if isinstance(chunk, int):
                    slot += chunk
                else:
                    yield chunk
        except (OSError, UnsafeFile) as err:
            yield _Raw(display, ((None, None, _cannot_read(err), slot),))
            slot += 1

    for text in paths:
        if text == STDIN:
            yield from flush()
            yield from lines_of(text, stdin if stdin is not None else standard_input())
            continue
        if os.path.isdir(text):
            found = walk(text, on_skip)
        else:
            stream = open_stream(text)
            if stream is not None:  # a FIFO or device: read once, as it comes
                yield from flush()
                with stream:
                    yield from lines_of(text, stream)
                continue
            found = [text]
        for name in found:
            if name.endswith(".jsonl") or (jsonl and name == text):
                yield from flush()
                yield from lines_of(name, None)
                continue
            files.append((name, slot))
            if sizes:
                files_size += file_size(name)
            slot += 1
            if len(files) >= _FILES_PER_TASK:
                yield from flush()
    yield from flush()


# --- worker processes -------------------------------------------------------------------------


class _Documents:
    """A registry built from documents alone, in a form that crosses to a worker process."""

    def __init__(
        self, sources: Mapping[str, FamilySource], signing_key: bytes | None, limits: Limits
    ) -> None:
        self.sources = sources
        self.signing_key = signing_key
        self.limits = limits

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
        raise UsageError(
            "registry",
            "a registry with Python migrations, rules or converters cannot be sent to worker "
            "processes: pass registry= a module-level function that builds it, or use jobs=1",
        )
    return _Documents(registry.sources, registry.signing_key, registry.limits)


# Each worker process builds its checker once; a pool's initializer can only leave it in a
# module global.
_WORKER: _Checker | None = None


def _init_worker(
    factory: Callable[[], Registry], default_family: str | None, shard: tuple[int, int] | None
) -> None:
    global _WORKER
    _WORKER = _Checker(factory(), default_family, shard)
    import gc  # our own spawned process: what it built lives as long as it does (see cli.app)

    gc.freeze()


def _work(task: _Task) -> list[Result]:
    assert _WORKER is not None, "worker not initialised"
    return list(_WORKER.results(task))


# --- the entry point --------------------------------------------------------------------------


def validate_many(
    paths: Sequence[str | os.PathLike[str]],
    *,
    registry: Registry | Callable[[], Registry] | None = None,
    family: str | None = None,
    jobs: int = 1,
    shard: tuple[int, int] | None = None,
    jsonl: bool = False,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    on_skip: OnSkip | None = None,
) -> Iterator[Result]:
    """The verdict on every container in ``paths``, in input order, as they are found.

    A path is a container file, a directory (every ``*.json`` and ``*.jsonl`` file below it,
    see :func:`walk`), a JSON Lines file (``*.jsonl``, or any file with ``jsonl=True``) or
    ``-`` for ``stdin`` (standard input when None); a FIFO or device is read once, as a
    stream. A container's family is its ``family`` member, else ``family``; when ``family``
    is None, ``backup-metadata``, unless the container holds members backup-metadata never
    declares and another family of the registry does: that one is invalid, its problem
    naming the family to pass (backup-metadata's Cinder versions allow any member, so it
    would pass as one). What a directory
    holds that is not validated is passed to ``on_skip`` as a :class:`Skipped`. A line of
    JSON Lines longer than the container limit is refused without being read whole, and
    reading of that input ends there.

    ``registry`` is a :class:`Registry` (default: the bundled families), or a picklable
    function building one, which worker processes need when the registry has Python
    migrations, rules or converters. ``jobs`` worker processes validate (0: one per CPU);
    ``shard=(I, N)`` keeps only the containers ``k`` (counting files and lines in order from
    0) with ``k mod N == I - 1``. ``progress(done, total)`` is called after each piece of work
    with bytes validated so far. A worker process that dies raises
    :class:`concurrent.futures.process.BrokenProcessPool`.
    """
    names = [os.fspath(p) for p in paths]
    count = workers(jobs)
    check_shard(shard)
    if names.count(STDIN) > 1:
        raise UsageError("paths", "standard input (-) can be read once")
    if registry is None:
        registry = load_registry()
    built = registry if isinstance(registry, Registry) else registry()
    # Checked now, not when the first result is asked for.
    factory = _portable(registry) if count > 1 and isinstance(registry, Registry) else registry
    tasks = _tasks(
        names,
        jsonl,
        stdin,
        built.limits.max_bytes,
        on_skip,
        sizes=progress is not None,
        inline=count == 1,
    )
    if count == 1:
        checker = _Checker(built, family, shard)
        finished: Iterable[tuple[_Task, Iterable[Result]]] = (
            (task, checker.results(task)) for task in tasks
        )
    else:
        finished = in_order(tasks, count, _work, _init_worker, (factory, family, shard))
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
    "CONTAINER_SUFFIXES",
    "DEFAULT_FAMILY",
    "NOT_A_CONTAINER_FILE",
    "STDIN",
    "OnSkip",
    "Progress",
    "Result",
    "Skipped",
    "input_size",
    "parse_shard",
    "validate_many",
    "walk",
]
