"""The ``docket`` commands as plain functions: arguments and streams in, an exit code out.

Every function turns a :class:`DocketError` (and a file system error) into a message on
``stderr`` and an exit code in one place, :func:`run`: 2 for a usage error, 1 for everything
else (invalid, unreadable, refused). Nothing here prints a traceback or leaves a partial file.
The click layer in :mod:`docket.cli` only parses options and calls these.
"""

from __future__ import annotations

import collections
import contextlib
import json
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson

from docket.cli.checks import run_checks
from docket.cli.errors import CommandFailed, UsageError
from docket.core.codec import Limits, parse
from docket.core.compat import VersionDiff, diff_versions
from docket.core.documents import bundled_schemas
from docket.core.errors import (
    DocketError,
    Issue,
    LimitExceeded,
    StoreError,
    ValidationError,
)
from docket.core.family import Container, Family
from docket.core.registry import Registry, load_registry
from docket.core.versions import Version

EXIT_OK = 0
EXIT_FAILED = 1
"""Invalid, unreadable, refused, or a check found something."""
EXIT_USAGE = 2
"""A bad argument or option."""

DEFAULT_FAMILY = "backup-metadata"
KEY_ENV = "DOCKET_SIGNING_KEY_FILE"
FORMATS = ("text", "json")
VALIDATE_FORMATS = ("text", "json", "github")
STDIN = "-"


# --- the one place errors become exit codes ----------------------------------------------------


def run(stderr: TextIO, work: Callable[[], int]) -> int:
    """Run a command body; report a :class:`DocketError` or ``OSError`` as one message."""
    try:
        return work()
    except UsageError as err:
        stderr.write(f"error: {err}\n")
        return EXIT_USAGE
    except ValidationError as err:
        stderr.write(f"error: {err.family} v{err.version}: {len(err.issues)} problem(s)\n")
        for issue in err.issues:
            stderr.write(f"  {issue.path or '(root)'}: {issue.message}\n")
        return EXIT_FAILED
    except DocketError as err:
        stderr.write(f"error: {err}\n")
        return EXIT_FAILED
    except OSError as err:
        where = f": {err.filename}" if err.filename else ""
        stderr.write(f"error: {err.strerror or err}{where}\n")
        return EXIT_FAILED


# --- shared pieces --------------------------------------------------------------------------


def read_key(path: str | os.PathLike[str]) -> bytes:
    """The HMAC signing key in a file (its bytes, less one trailing newline)."""
    try:
        key = Path(path).read_bytes()
    except OSError as err:
        raise UsageError(
            "--key-file", f"cannot read {path}: {err.strerror}", f"or unset {KEY_ENV}"
        ) from None
    key = key.removesuffix(b"\n").removesuffix(b"\r")
    if not key:
        raise UsageError("--key-file", f"{path} is empty", "put the operator's key in it")
    return key


def build_registry(
    schemas: str | os.PathLike[str] | None = None, key_file: str | os.PathLike[str] | None = None
) -> Registry:
    """The bundled families plus those under ``schemas``, signing with the key in ``key_file``."""
    registry = load_registry()
    if schemas is not None:
        if not Path(schemas).is_dir():
            raise UsageError("--schemas", f"{schemas} is not a directory")
        registry = registry.with_schemas(Path(schemas))
    if key_file is not None:
        registry = registry.with_signing_key(read_key(key_file))
    return registry


def _family(registry: Registry, name: str, option: str = "--family") -> Family:
    if name not in registry:
        raise UsageError(
            option,
            f"unknown family {name!r}",
            "known families: " + ", ".join(registry.families()),
        )
    return registry.family(name)


def _version(family: Family, text: str, option: str) -> Version:
    try:
        return family.parse_version(text)
    except (DocketError, ValueError) as err:
        raise UsageError(
            option,
            f"{text!r} is not a version of {family.name}",
            "versions: " + ", ".join(str(v) for v in family.versions),
        ) from err


def _read_input(path: str, stdin: BinaryIO | None, limits: Limits) -> bytes:
    """A whole file (or standard input for ``-``), refusing more than ``limits.max_bytes``."""
    if path == STDIN:
        source = stdin if stdin is not None else sys.stdin.buffer
        raw = source.read(limits.max_bytes + 1)
    else:
        with open(path, "rb") as fh:
            raw = fh.read(limits.max_bytes + 1)
    if len(raw) > limits.max_bytes:
        raise LimitExceeded("max_bytes", len(raw), limits.max_bytes)
    return raw


def _family_of(registry: Registry, obj: Mapping[str, Any], default: str | None) -> Family:
    """The family a container names (``family`` member), else ``default``."""
    named = obj.get("family")
    if isinstance(named, str):
        return registry.family(named)  # an unknown one is UnknownFamily: bad input, exit 1
    return _family(registry, default or DEFAULT_FAMILY)


def _load_at_own_version(
    registry: Registry, path: str, family_name: str | None, stdin: BinaryIO | None
) -> tuple[Family, Container]:
    """Parse, validate and integrity-check a container without migrating it.

    A version that cannot carry a signature is read without the key (which would refuse it):
    the operator who gives the key is signing what this writes, not trusting the input.
    """
    raw = _read_input(path, stdin, registry.limits)
    obj = parse(raw, registry.limits)
    family = _family_of(registry, obj, family_name)
    version = family.detect(obj)
    integrity = family.spec(version).integrity
    reader = family if integrity and integrity.signature else family.with_signing_key(None)
    return family, reader.load(obj, to=version)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _dump_json(stdout: TextIO, value: Any) -> None:
    stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def _progress_bar(
    stderr: TextIO, label: str, total: int, show: bool
) -> Iterator[Callable[[int], None] | None]:
    """``advance(nbytes)`` for a rich progress bar on ``stderr``, or None when not shown."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
    from rich.progress import TimeRemainingColumn as Remaining

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        Remaining(),
        console=Console(file=stderr),
        transient=True,
    )
    task = bar.add_task(label, total=total)
    with bar:
        yield lambda n: bar.advance(task, n)


# --- validate -----------------------------------------------------------------------------
#
# The input is cut into tasks: a byte range of a JSON Lines file (aligned to line starts), a
# group of files, or lines already read from standard input. A task is validated and *rendered*
# by whoever runs it (this process, or a worker with --jobs), so only finished text crosses
# between processes and at most two tasks per worker are in flight: memory stays flat however
# long the input.

_CHUNK_BYTES = 4 * 1024 * 1024
_FILES_PER_TASK = 200
_STDIN_LINES_PER_TASK = 2000
_PEEK_BYTES = 64 * 1024
PROGRESS_MIN_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Result:
    """The verdict on one container, as ``validate --format json`` prints it."""

    file: str
    line: int | None
    family: str | None
    version: Any
    errors: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "valid": self.valid,
            "family": self.family,
            "version": self.version,
            "errors": [
                {"pointer": i.path, "message": i.message, "keyword": i.keyword} for i in self.errors
            ],
        }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(result: Result, output_format: str) -> str:
    """One result in an output format; a JSON element starts with its ``,`` separator."""
    if output_format == "json":
        return ",\n  " + orjson.dumps(result.as_dict()).decode("utf-8")
    out = []
    where = result.file if result.line is None else f"{result.file}:{result.line}"
    for issue in result.errors:
        message = f"{issue.path or '(root)'}: {issue.message}"
        if output_format == "github":
            props = f"file={_escape_property(result.file)}"
            if result.line is not None:
                props += f",line={result.line}"
            props += ",title=docket validate"
            out.append(f"::error {props}::{_escape_data(message)}\n")
        else:
            out.append(f"{where}: {message}\n")
    return "".join(out)


@dataclass(frozen=True)
class LinesTask:
    """Lines of a JSON Lines file: bytes ``start`` to ``end``, the first being ``first_line``."""

    path: str
    display: str
    start: int
    end: int
    first_line: int
    first_slot: int


@dataclass(frozen=True)
class FilesTask:
    """Whole-file containers, each with its slot (its place in the input, for --shard)."""

    files: tuple[tuple[str, int], ...]
    size: int


@dataclass(frozen=True)
class RawTask:
    """Lines already read (standard input): (line number or None, bytes, slot)."""

    display: str
    entries: tuple[tuple[int | None, bytes | None, str, int], ...]
    size: int


Task = LinesTask | FilesTask | RawTask


@dataclass(frozen=True)
class Done:
    """A validated task: its rendered output and its tally."""

    text: str
    count: int
    invalid: int
    size: int


class Validator:
    """Validates containers the way ``Family.load`` checks them, choosing each one's family."""

    def __init__(
        self,
        registry: Registry,
        default_family: str,
        output_format: str = "text",
        shard: tuple[int, int] | None = None,
    ) -> None:
        self.registry = registry
        self.default = default_family
        self.format = output_format
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
            return Result(file, line, None, None, (Issue("", unreadable, "read"),))
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
            issue = Issue("/family", f"unknown family {name!r} (known: {known})", "family")
            return Result(file, line, name, version, (issue,))
        issues = self.registry.family(name).validate(raw)
        return Result(file, line, name, version, tuple(issues))

    def _mine(self, slot: int) -> bool:
        return self.shard is None or slot % self.shard[1] == self.shard[0] - 1

    def _results(self, task: Task) -> Iterator[Result]:
        limit = self.registry.limits.max_bytes
        if isinstance(task, RawTask):
            for line, raw, unreadable, slot in task.entries:
                if self._mine(slot):
                    yield self.check(task.display, line, raw, unreadable)
        elif isinstance(task, FilesTask):
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

    def run(self, task: Task) -> Done:
        """Validate and render one task."""
        parts, count, invalid = [], 0, 0
        for result in self._results(task):
            count += 1
            invalid += not result.valid
            parts.append(render(result, self.format))
        size = task.end - task.start if isinstance(task, LinesTask) else task.size
        return Done("".join(parts), count, invalid, size)


def _lines(fh: BinaryIO, limit: int, span: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(index, content)`` per line, over at most ``span`` bytes. A line
    longer than ``limit`` is cut to ``limit + 1`` bytes (so parsing refuses it) without
    reading it whole into memory."""
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


# Each worker process builds its validator once; a pool's initializer can only leave it in a
# module global.
_WORKER: Validator | None = None


def _init_worker(
    schemas: str | None,
    key: bytes | None,
    default_family: str,
    output_format: str,
    shard: tuple[int, int] | None,
) -> None:
    global _WORKER
    registry = build_registry(schemas).with_signing_key(key)
    _WORKER = Validator(registry, default_family, output_format, shard)


def _work(task: Task) -> Done:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.run(task)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` (1 <= I <= N) as ``(I, N)``."""
    if text is None:
        return None
    index, sep, count = text.partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise UsageError("--shard", f"{text!r} is not I/N", "for example --shard 2/4")
    i, n = int(index), int(count)
    if not 1 <= i <= n:
        raise UsageError("--shard", f"{text!r}: I must be between 1 and N", "e.g. --shard 1/4")
    return i, n


def _input_size(path: Path) -> int:
    """Bytes a PATH argument holds (every *.json below a directory)."""
    if path.is_dir():
        return sum(_size(p) for p in path.rglob("*.json") if p.is_file())
    return _size(path)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _line_chunks(path: str, display: str, first_slot: int) -> Iterator[LinesTask | int]:
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
            yield LinesTask(path, display, start, end, line, first_slot + line - 1)
            line += block.count(b"\n")  # every newline of the block is before the cut
            start = end
    if offset > start:  # a last line without a newline
        yield LinesTask(path, display, start, offset, line, first_slot + line - 1)
        line += 1
    yield line - 1


def _tasks(paths: Sequence[str], jsonl: bool, stdin: BinaryIO | None, limit: int) -> Iterator[Task]:
    """The input as tasks, in order, each container given its slot for --shard."""
    slot = 0
    files: list[tuple[str, int]] = []
    files_size = 0

    def flush() -> Iterator[Task]:
        nonlocal files, files_size
        if files:
            yield FilesTask(tuple(files), files_size)
        files, files_size = [], 0

    for text in paths:
        if text == STDIN:
            yield from flush()
            source = stdin if stdin is not None else sys.stdin.buffer
            if not jsonl:
                yield RawTask("<stdin>", ((None, source.read(limit + 1), "", slot),), 0)
                slot += 1
                continue
            entries: list[tuple[int | None, bytes | None, str, int]] = []
            for index, raw in _lines(source, limit):
                if raw.strip():  # blank lines hold no container, as in files
                    entries.append((index + 1, raw, "", slot))
                slot += 1
                if len(entries) >= _STDIN_LINES_PER_TASK:
                    yield RawTask("<stdin>", tuple(entries), 0)
                    entries = []
            if entries:
                yield RawTask("<stdin>", tuple(entries), 0)
            continue
        path = Path(text)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*.json") if p.is_file())
        elif jsonl or text.endswith(".jsonl"):
            yield from flush()
            try:
                for chunk in _line_chunks(text, text, slot):
                    if isinstance(chunk, int):
                        slot += chunk
                    else:
                        yield chunk
            except OSError as err:
                yield RawTask(text, ((None, None, f"cannot read: {err.strerror or err}", slot),), 0)
                slot += 1
            continue
        else:
            found = [text]
        for name in found:
            files.append((name, slot))
            files_size += _size(Path(name))
            slot += 1
            if len(files) >= _FILES_PER_TASK:
                yield from flush()
    yield from flush()


def _in_pool(tasks: Iterable[Task], jobs: int, initargs: tuple[Any, ...]) -> Iterator[Done]:
    """Finished tasks in input order, at most ``2 * jobs`` in flight (flat memory)."""
    # spawn, not fork: the progress bar's thread may be running when the pool starts.
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_init_worker, initargs=initargs
        ) as pool:
            window: collections.deque[Future[Done]] = collections.deque()
            for task in tasks:
                window.append(pool.submit(_work, task))
                if len(window) >= 2 * jobs:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
    except BrokenProcessPool as err:
        raise CommandFailed(f"a worker process died ({err})", hint="retry with --jobs 1") from None


def validate(
    paths: Sequence[str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    stdin: BinaryIO | None = None,
    family: str | None = None,
    output_format: str = "text",
    jobs: int = 1,
    shard: str | None = None,
    jsonl: bool = False,
    progress: bool | None = None,
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket validate``: exit 0 when every container is valid, 1 when any is not."""

    def work() -> int:
        if not paths:
            raise UsageError("PATH", "give at least one file, directory or -")
        if output_format not in VALIDATE_FORMATS:
            raise UsageError("--format", f"{output_format!r} is not one of {VALIDATE_FORMATS}")
        if jobs < 0:
            raise UsageError("--jobs", f"{jobs} is not a number of processes", "0 uses every CPU")
        if list(paths).count(STDIN) > 1:
            raise UsageError("PATH", "standard input (-) can be read once")
        workers = jobs or os.cpu_count() or 1
        part = parse_shard(shard)
        registry = build_registry(schemas, key_file)
        default = family or DEFAULT_FAMILY
        _family(registry, default)
        total = sum(_input_size(Path(p)) for p in paths if p != STDIN)
        # A bar only helps (and only draws well) on a terminal, and only for large input.
        large = total >= PROGRESS_MIN_BYTES
        show = progress if progress is not None else (large and stderr.isatty())
        tasks = _tasks(paths, jsonl, stdin, registry.limits.max_bytes)
        if workers == 1:
            checker = Validator(registry, default, output_format, part)
            done: Iterable[Done] = map(checker.run, tasks)
        else:
            where = None if schemas is None else str(schemas)
            initargs = (where, registry.signing_key, default, output_format, part)
            done = _in_pool(tasks, workers, initargs)
        count = invalid = 0
        if output_format == "json":
            stdout.write("[")
        with _progress_bar(stderr, "validating", total, show) as advance:
            for finished in done:
                text = finished.text
                if output_format == "json" and count == 0:
                    text = text.removeprefix(",")
                stdout.write(text)
                count += finished.count
                invalid += finished.invalid
                if advance is not None:
                    advance(finished.size)
        if output_format == "json":
            stdout.write("\n]\n" if count else "]\n")
        if count == 0:
            stderr.write("docket validate: no containers found\n")
        elif invalid:
            stderr.write(f"docket validate: {invalid} of {count} container(s) invalid\n")
        elif output_format != "json":
            stderr.write(f"docket validate: {count} container(s) valid\n")
        return EXIT_FAILED if invalid else EXIT_OK

    return run(stderr, work)


# --- migrate ------------------------------------------------------------------------------


def _restored_fields(family: Family, container: Container) -> set[tuple[str, str]]:
    """(section, field) pairs a restore of ``container`` onto a new volume writes."""
    try:
        plan = family.restore_policy(container).filter(container)
    except DocketError:
        return set()
    return {(section, name) for section, values in plan.items() for name in values}


def migrate(
    path: str,
    *,
    to: str,
    stdout: TextIO,
    stderr: TextIO,
    stdin: BinaryIO | None = None,
    output: str | None = None,
    allow_lossy: bool = False,
    family: str | None = None,
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket migrate``: the container at another version, canonical JSON on stdout or OUT."""

    def work() -> int:
        registry = build_registry(schemas, key_file)
        if family is not None:
            _family(registry, family)
        fam, container = _load_at_own_version(registry, path, family, stdin)
        target = _version(fam, to, "--to")
        losses = fam.losses(container.version, target)
        if losses and not allow_lossy:
            stderr.write(
                f"error: {fam.name} {container.version!r} -> {target!r} is lossy; it would lose:\n"
            )
            for loss in losses:
                stderr.write(f"  - {loss}\n")
            stderr.write("hint: pass --allow-lossy to accept the loss\n")
            return EXIT_FAILED
        data = fam.dump(container, version=target, allow_lossy=allow_lossy)
        before = _restored_fields(fam, container)
        after = _restored_fields(fam, fam.load(data, to=target))
        for loss in losses:
            stderr.write(f"warning: lossy: {loss}\n")
        if after - before:
            names = ", ".join(f"{s}.{f}" for s, f in sorted(after - before))
            stderr.write(
                f"note: version {target!r}'s restore policy also restores {names}, which "
                f"version {container.version!r}'s did not; restoring the migrated container "
                "writes more than restoring the original would\n"
            )
        if before - after:
            names = ", ".join(f"{s}.{f}" for s, f in sorted(before - after))
            stderr.write(f"note: version {target!r}'s restore policy no longer restores {names}\n")
        if output is None or output == STDIN:
            stdout.write(data.decode("utf-8") + "\n")
        else:
            write_atomic(output, data + b"\n")
            stderr.write(f"wrote {output} ({fam.name} version {target!r})\n")
        return EXIT_OK

    return run(stderr, work)


# --- inspect ------------------------------------------------------------------------------


def _describe_container(
    registry: Registry, path: str, family_name: str | None, stdin: BinaryIO | None
) -> dict[str, Any]:
    raw = _read_input(path, stdin, registry.limits)
    obj = parse(raw, registry.limits)
    family = _family_of(registry, obj, family_name)
    version = family.detect(obj)
    issues = family.validate(obj)
    integrity_issues = [i for i in issues if i.keyword in ("digest", "signature")]
    if len(integrity_issues) != len(issues):
        raise ValidationError(family.name, version, issues)
    spec = family.spec(version)
    integrity = spec.integrity
    if integrity is None:
        digest, signature = "none", "none"
    else:
        digest = "mismatch" if any(i.keyword == "digest" for i in issues) else "ok"
        signed = integrity.signature is not None and integrity.signature in obj
        if any(i.keyword == "signature" for i in issues):
            signature = "invalid"
        elif family.signing_key is not None and signed:
            signature = "verified"
        else:
            signature = "unverified" if signed else "absent"
    container = Container(family.name, version, obj, version, signature)
    policy = family.restore_policy(container)
    restore: dict[str, Any] = {"policy_version": version, "target": "a new volume"}
    try:
        plan = policy.plan(container)
    except DocketError as err:
        restore["refused"] = str(err)
    else:
        # Values a rule set (not the backed-up ones) are shown: they are the rule's constants.
        restore["sections"] = {
            name: {
                "mode": write.mode.value,
                "fields": sorted(write.values),
                "set_by_rules": {
                    k: v
                    for k, v in sorted(write.values.items())
                    if not isinstance(obj.get(name), dict)
                    or k not in obj[name]
                    or obj[name][k] != v
                },
            }
            for name, write in plan.sections.items()
        }
        restore["dropped"] = [
            {"section": d.section, "field": d.field, "reason": d.reason} for d in plan.dropped
        ]
    return {
        "file": "<stdin>" if path == STDIN else path,
        "family": family.name,
        "version": version,
        "current": family.current,
        "sections": {name: len(value) for name, value in container.sections().items()},
        "digest": digest,
        "signature": signature,
        "restore": restore,
        "problems": [
            {"pointer": i.path, "message": i.message, "keyword": i.keyword} for i in issues
        ],
    }


def _inspect_text(info: Mapping[str, Any]) -> str:
    lines = [
        f"file       {info['file']}",
        f"family     {info['family']}",
        f"version    {info['version']!r} (current {info['current']!r})",
        f"digest     {info['digest']}",
        f"signature  {info['signature']}",
        "sections",
    ]
    width = max((len(n) for n in info["sections"]), default=0)
    for name, count in info["sections"].items():
        lines.append(f"  {name:<{width}}  {count} field(s)")
    restore = info["restore"]
    lines.append(
        f"restore    with the policy of version {restore['policy_version']!r}, onto "
        f"{restore['target']}"
    )
    if "refused" in restore:
        lines.append(f"  refused: {restore['refused']}")
    else:
        width = max((len(n) for n in restore["sections"]), default=0)
        for name, write in restore["sections"].items():
            ruled = write["set_by_rules"]
            listed = ", ".join(
                f"{f}={json.dumps(ruled[f])} (set by a rule)" if f in ruled else f
                for f in write["fields"]
            )
            if not listed:
                replace = write["mode"] == "replace"
                listed = "(none: the target's entries are deleted)" if replace else "(none)"
            lines.append(f"  {name:<{width}}  {write['mode']:<7}  {listed}")
        reasons: dict[str, list[str]] = {}
        for d in restore["dropped"]:
            reasons.setdefault(d["reason"], []).append(f"{d['section']}.{d['field']}")
        if reasons:
            lines.append("not restored")
            for reason, names in reasons.items():
                lines.append(f"  {reason}: {', '.join(names)}")
    for problem in info["problems"]:
        lines.append(f"PROBLEM    {problem['pointer'] or '(root)'}: {problem['message']}")
    return "\n".join(lines) + "\n"


def inspect(
    path: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    stdin: BinaryIO | None = None,
    output_format: str = "text",
    family: str | None = None,
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket inspect``: what a container is and exactly what restoring it would write."""

    def work() -> int:
        registry = build_registry(schemas, key_file)
        if family is not None:
            _family(registry, family)
        info = _describe_container(registry, path, family, stdin)
        if output_format == "json":
            _dump_json(stdout, info)
        else:
            stdout.write(_inspect_text(info))
        failed = info["problems"] or "refused" in info["restore"]
        return EXIT_FAILED if failed else EXIT_OK

    return run(stderr, work)


# --- diff, schema -------------------------------------------------------------------------


def diff_text(result: VersionDiff) -> str:
    """A version diff as text for a terminal or a pull-request comment."""
    old, new = result.old, result.new
    yes_no = {True: "yes", False: "NO"}
    lines = [
        f"{result.family} {old!r} -> {new!r}: {result.compatibility.value}",
        f"  backward: {yes_no[result.backward]:<3}  version {new!r} readers "
        f"{'accept every' if result.backward else 'refuse some'} version {old!r} container(s)",
        f"  forward:  {yes_no[result.forward]:<3}  version {old!r} readers "
        f"{'accept every' if result.forward else 'refuse some'} version {new!r} container(s)",
        "",
        "schema changes (B: breaks backward, F: breaks forward):",
    ]
    if not result.changes:
        lines.append("  none")
    ordered = sorted(result.changes, key=lambda c: (c.backward and c.forward, c.backward))
    for change in ordered:
        flags = ("B" if not change.backward else "-") + ("F" if not change.forward else "-")
        lines.append(f"  {flags}  {change.pointer}  {change.describe()}")
    lines += ["", "restore policy changes:"]
    lines += [f"  {p.describe()}" for p in result.policy] or ["  none"]
    lines += ["", "migration:"]
    lines += [f"  {step}" for step in result.migration] or ["  none (same version)"]
    return "\n".join(lines) + "\n"


def diff(
    family: str,
    old: str,
    new: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    output_format: str = "text",
    schemas: str | os.PathLike[str] | None = None,
) -> int:
    """``docket diff``: typed changes and the compatibility class between two versions."""

    def work() -> int:
        fam = _family(build_registry(schemas), family, "FAMILY")
        result = diff_versions(fam, _version(fam, old, "A"), _version(fam, new, "B"))
        if output_format == "json":
            _dump_json(stdout, result.as_dict())
        else:
            stdout.write(diff_text(result))
        return EXIT_OK

    return run(stderr, work)


def schema(
    family: str,
    version: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    schemas: str | os.PathLike[str] | None = None,
) -> int:
    """``docket schema``: print a version's JSON Schema."""

    def work() -> int:
        fam = _family(build_registry(schemas), family, "FAMILY")
        _dump_json(stdout, fam.schema(_version(fam, version, "VERSION")))
        return EXIT_OK

    return run(stderr, work)


# --- check --------------------------------------------------------------------------------


def check(
    directory: str | os.PathLike[str] | None = None,
    *,
    stdout: TextIO,
    stderr: TextIO,
    against: str | None = None,
    output_format: str = "text",
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket check``: exit 1 when any check finds something."""

    def work() -> int:
        target = Path(directory or schemas or bundled_schemas())
        if not target.is_dir():
            raise UsageError("SCHEMA_DIR", f"{target} is not a directory")
        registry = build_registry(None, key_file)
        report = run_checks(target, registry, against=against)
        if output_format == "json":
            _dump_json(
                stdout,
                {
                    "directory": str(target),
                    "ok": report.ok,
                    "families": report.families,
                    "versions": report.versions,
                    "golden": report.golden,
                    "released_compared": report.released_compared,
                    "findings": [f.as_dict() for f in report.findings],
                },
            )
        else:
            for finding in report.findings:
                stdout.write(f"{finding}\n")
            since = (
                f"; {report.released_compared} released document(s) compared with {against}"
                if against
                else ""
            )
            verdict = "ok" if report.ok else f"{len(report.findings)} finding(s)"
            stdout.write(
                f"{target}: {report.families} famil{'y' if report.families == 1 else 'ies'}, "
                f"{report.versions} version(s), {report.golden} golden container(s){since}: "
                f"{verdict}\n"
            )
        return EXIT_OK if report.ok else EXIT_FAILED

    return run(stderr, work)


# --- the store: db init, backup, restore, demo -------------------------------------------------
#
# SQLAlchemy (through docket.store) is imported only by these commands, so the others start
# without it.


def _redact(url: str) -> str:
    """A database URL fit to print (no password)."""
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable URL>"


@contextlib.contextmanager
def _database(url: str) -> Iterator[Any]:
    """An engine for ``url`` (a bad URL or missing driver is a usage error); disposed after."""
    import sqlalchemy as sa

    from docket import store

    try:
        engine = store.make_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as err:
        raise UsageError(
            "--db",
            f"cannot use database URL {_redact(url)}: {err}",
            "e.g. sqlite:///cinder.db or postgresql+psycopg://user@host/cinder",
        ) from None
    try:
        yield engine
    except sa.exc.SQLAlchemyError as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:300]
        raise StoreError(f"database error: {reason}", hint="nothing was written") from None
    finally:
        engine.dispose()


def db_init(url: str, *, stdout: TextIO, stderr: TextIO) -> int:
    """``docket db init``: create Cinder's four tables where they do not exist."""

    def work() -> int:
        from docket import store

        with _database(url) as engine:
            store.init_db(engine)
            tables = ", ".join(sorted(store.cinder_metadata().tables))
        stdout.write(f"{_redact(url)}: tables {tables} are ready\n")
        return EXIT_OK

    return run(stderr, work)


def _api(engine: Any, registry: Registry, version: str | None) -> Any:
    from docket import store

    family = registry.family(store.FAMILY)
    chosen = 2 if version is None else _version(family, version, "--version")
    return store.BackupMetadataAPI(engine, version=chosen, registry=registry)


def backup(
    url: str,
    volume_ids: Sequence[str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    output: str | None = None,
    version: str | None = None,
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket backup``: the volumes' metadata containers, as Cinder's backup drivers get them.

    One volume goes to standard output (or OUT); several go to standard output as JSON Lines,
    to OUT as JSON Lines when it ends in ``.jsonl``, else to OUT as a directory of
    ``<volume id>.json`` files.
    """

    def work() -> int:
        if not volume_ids:
            raise UsageError("VOLUME_ID", "name at least one volume")
        registry = build_registry(schemas, key_file)
        ids = list(dict.fromkeys(volume_ids))
        target = None if output in (None, STDIN) else Path(output)
        as_lines = target is not None and target.suffix == ".jsonl"
        as_dir = (
            target is not None
            and not as_lines
            and (
                target.is_dir() or output.endswith(os.sep) or len(ids) > 1  # type: ignore[union-attr]
            )
        )
        if as_dir and target is not None and target.suffix == ".json":
            raise UsageError(
                "-o",
                f"{len(ids)} volumes do not fit in one file {output}",
                "give a directory, or a .jsonl file",
            )
        with _database(url) as engine:
            api = _api(engine, registry, version)
            containers = api.get_many(ids)
            for problem in api.last_report:
                stderr.write(f"warning: left out (does not serialize): {problem}\n")
        if target is None:
            for vid in ids:
                stdout.write(containers[vid] + "\n")
        elif as_dir:
            target.mkdir(parents=True, exist_ok=True)
            for vid in ids:
                write_atomic(target / f"{vid}.json", containers[vid].encode("utf-8") + b"\n")
        else:
            text = "".join(containers[vid] + "\n" for vid in ids)
            write_atomic(target, text.encode("utf-8"))
        where = "standard output" if target is None else str(target)
        stderr.write(f"backed up {len(ids)} volume(s) at version {api.version!r} to {where}\n")
        return EXIT_OK

    return run(stderr, work)


def _restore_text(result: Any, source: str) -> str:
    lines = [
        f"restored {source} into volume {result.volume_id} "
        f"(with the policy of version {result.version!r})"
    ]
    for section, values in result.written.items():
        lines.append(f"  wrote    {section}: {', '.join(values) or '(nothing)'}")
    for section, keys in result.removed.items():
        if keys:
            lines.append(f"  removed  {section}: {', '.join(keys)}")
    lines += [f"  left out {line}" for line in _dropped_lines(result.dropped)]
    return "\n".join(lines) + "\n"


def _dropped_lines(dropped: Iterable[Any], shown: int = 6) -> list[str]:
    """Fields a restore left out, grouped by section and reason; long groups abbreviated."""
    groups: dict[tuple[str, str], list[str]] = {}
    for d in dropped:
        groups.setdefault((d.section, d.reason), []).append(d.field)
    out = []
    for (section, reason), fields in groups.items():
        listed = ", ".join(fields[:shown]) + (", ..." if len(fields) > shown else "")
        out.append(f"{section}, {reason}: {len(fields)} field(s): {listed}")
    return out


def _restore_json(result: Any) -> dict[str, Any]:
    return {
        "volume_id": result.volume_id,
        "version": result.version,
        "written": {s: dict(v) for s, v in result.written.items()},
        "removed": {s: list(k) for s, k in result.removed.items()},
        "dropped": [
            {"section": d.section, "field": d.field, "reason": d.reason} for d in result.dropped
        ],
    }


def restore(
    url: str,
    volume_id: str,
    path: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    stdin: BinaryIO | None = None,
    output_format: str = "text",
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket restore``: restore a container into a volume, in one transaction."""

    def work() -> int:
        registry = build_registry(schemas, key_file)
        raw = _read_input(path, stdin, registry.limits)
        with _database(url) as engine:
            result = _api(engine, registry, None).put(volume_id, raw)
        if output_format == "json":
            _dump_json(stdout, _restore_json(result))
        else:
            stdout.write(_restore_text(result, "<stdin>" if path == STDIN else path))
        return EXIT_OK

    return run(stderr, work)


_DEMO_VOLUMES: tuple[dict[str, Any], ...] = (
    {
        "display_name": "web-root",
        "display_description": "root disk of the web server",
        "size": 10,
        "metadata": {"tier": "gold", "owner": "web-team"},
        "glance": {"image_name": "ubuntu-24.04", "disk_format": "qcow2", "min_ram": 512},
    },
    {
        "display_name": "db-data",
        "display_description": "PostgreSQL data",
        "size": 100,
        "metadata": {"tier": "platinum", "backup": "nightly"},
    },
    {"display_name": "scratch", "display_description": None, "size": 1},
)


def _state(api: Any, volume_id: str) -> dict[str, Any]:
    """A volume's row and metadata, read the way a backup reads them."""
    return dict(json.loads(api.get(volume_id)))


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    out = []
    base_a, base_b = before.get(BASE_SECTION, {}), after.get(BASE_SECTION, {})
    for name in base_b:
        if name != "updated_at" and base_a.get(name) != base_b[name]:
            out.append(f"{name}: {json.dumps(base_a.get(name))} -> {json.dumps(base_b[name])}")
    for section in ("volume-metadata", "volume-glance-metadata"):
        a, b = before.get(section, {}), after.get(section, {})
        if a != b:
            out.append(f"{section}: {json.dumps(a)} -> {json.dumps(b)}")
    return out


BASE_SECTION = "volume-base-metadata"


def demo(
    *,
    stdout: TextIO,
    stderr: TextIO,
    db: str | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> int:
    """``docket demo``: Cinder's metadata backup and restore, end to end, on a fresh database."""

    def work() -> int:
        import uuid

        from docket import store

        where = (
            Path(directory)
            if directory is not None
            else Path(tempfile.mkdtemp(prefix="docket-demo-"))
        )
        where.mkdir(parents=True, exist_ok=True)
        url = db or f"sqlite:///{where / 'cinder.db'}"
        registry = build_registry()
        family = registry.family(store.FAMILY)
        say = stdout.write

        say("docket demo: backing up and restoring Cinder volume metadata\n")
        say(f"database: {_redact(url)}{'' if db else ' (a fresh SQLite file)'}\n\n")
        with _database(url) as engine:
            store.init_db(engine)
            type_id = store.create_volume_type(engine, name="ssd-encrypted")
            say("1. Cinder's volumes, with user metadata and image (glance) metadata\n")
            ids = []
            for spec in _DEMO_VOLUMES:
                vid = store.create_volume(
                    engine,
                    display_name=spec["display_name"],
                    display_description=spec["display_description"],
                    size=spec["size"],
                    volume_type_id=type_id,
                    metadata=spec.get("metadata"),
                    glance=spec.get("glance"),
                    encryption_key_id=str(uuid.uuid4()) if spec["size"] >= 100 else None,
                )
                ids.append(vid)
                say(
                    f"   {vid}  {spec['display_name']:<9} {spec['size']:>4} GiB  "
                    f"metadata {json.dumps(spec.get('metadata') or {})}\n"
                )

            api = store.BackupMetadataAPI(engine, version=2, registry=registry)
            backups = where / "backups"
            backups.mkdir(exist_ok=True)
            say(
                "\n2. Back up their metadata as Cinder's backup drivers do "
                "(BackupMetadataAPI.get, version 2)\n"
            )
            containers = api.get_many(ids)
            for vid, text in containers.items():
                write_atomic(backups / f"{vid}.json", text.encode("utf-8") + b"\n")
            say(f"   wrote {len(containers)} containers to {backups}/\n")
            shown = ids[0]
            container = json.loads(containers[shown])
            base = container[BASE_SECTION]
            brief = {k: v for k, v in base.items() if v is not None}
            say(f"   {shown}.json ({len(base)} columns of the volume row; the non-null ones):\n")
            pretty = {**container, BASE_SECTION: brief}
            for line in json.dumps(pretty, indent=2).splitlines():
                say(f"     {line}\n")

            say("\n3. Migrate it to version 3 (docket's: family, UTC timestamps, a digest)\n")
            loaded = family.load(containers[shown], to=2)
            v3_bytes = family.dump(loaded, version=3)
            v3_path = backups / f"{shown}.v3.json"
            write_atomic(v3_path, v3_bytes + b"\n")
            upgraded = json.loads(v3_bytes)
            for name in sorted(set(upgraded) - set(container)):
                say(f"   + {name}: {json.dumps(upgraded[name])}\n")
            for name, value in upgraded[BASE_SECTION].items():
                if base.get(name) != value:
                    say(f"   ~ {name}: {json.dumps(base.get(name))} -> {json.dumps(value)}\n")
            say(f"   wrote {v3_path}\n")

            backup_id = str(uuid.uuid4())
            name = f"restore_backup_{backup_id}"
            say(
                f"\n4. Restore it into a new volume, created the way Cinder creates one "
                f"for a restore:\n   {name}\n"
            )
            target = store.create_volume(
                engine, display_name=name, size=base["size"], volume_type_id=type_id
            )
            before = _state(api, target)
            result = api.put(target, v3_bytes)
            after = _state(api, target)
            say(f"   volume {target}; what changed:\n")
            for line in _changes(before, after):
                say(f"     {line}\n")
            for line in _dropped_lines(result.dropped):
                say(f"   left out: {line}\n")
            say(
                "   (bootable is set because the backup has image metadata: the set-field "
                "rule of its glance section)\n"
            )

            say("\n5. The same backup onto a volume that already has a name of its own\n")
            own = store.create_volume(
                engine, display_name="keep-my-name", size=base["size"], volume_type_id=type_id
            )
            before = _state(api, own)
            api.put(own, v3_bytes)
            after = _state(api, own)
            for line in _changes(before, after):
                say(f"     {line}\n")
            say(
                "   the name and description stay: Cinder's display-name rule restores them "
                "only onto a volume it named restore_backup_<id>\n"
            )
        say(
            f"\nTry next:\n"
            f"   docket inspect {v3_path}\n"
            f"   docket validate {backups}\n"
            f"   docket diff backup-metadata 2 3\n"
        )
        return EXIT_OK

    return run(stderr, work)


__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Result",
    "Validator",
    "backup",
    "build_registry",
    "check",
    "db_init",
    "demo",
    "diff",
    "inspect",
    "migrate",
    "read_key",
    "restore",
    "run",
    "schema",
    "validate",
]
