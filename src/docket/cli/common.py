"""What every command shares: exit codes, the one place errors become them, and small helpers.

:func:`run` turns a :class:`DocketError` (and a file system error) into a message on ``stderr``
and an exit code: 2 for a usage error, 1 for everything else (invalid, unreadable, refused).
Nothing prints a traceback or leaves a partial file. ``docket`` and ``docket volume`` both
use these.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from docket.cli.errors import UsageError
from docket.core.codec import Limits, parse
from docket.core.display import display, guard_lines
from docket.core.documents import MANIFEST
from docket.core.errors import (
    CommandFailed,
    DocketError,
    DriverOptionError,
    Issue,
    LimitExceeded,
    StoreError,
    UnsafeFile,
    ValidationError,
    show,
)
from docket.core.family import Container, Family
from docket.core.registry import (
    Registry,
    declared_members,
    foreign_family,
    foreign_members,
    load_registry,
)
from docket.core.versions import Version
from docket.fleet.validate import DEFAULT_FAMILY, STDIN
from docket.fs import open_file, read_bounded, read_upto, standard_input, stream_size

EXIT_OK = 0
EXIT_FAILED = 1
"""Invalid, unreadable, refused, or a check found something."""
EXIT_USAGE = 2
"""A bad argument or option."""
EXIT_ERROR = 3
"""The command could not do its work, where exit 1 means it did and found something
(``docket audit``: a batch wrapper's ``test $? -le 1`` must not pass a shard that failed)."""

KEY_ENV = "DOCKET_SIGNING_KEY_FILE"
KEY_LIMIT = 64 << 10
"""The most bytes a key file may hold (an HMAC key is 32-64 bytes)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``, as the backup driver and :func:`docket.fleet.validate.validate_many`
call it."""


class ContainerProblems(DocketError):
    """``cause``, an error about the container read from ``file``, as its problems placed in
    the text: what :func:`run` prints, ``FILE:LINE:COLUMN: PATH: message`` as ``docket
    validate`` writes them."""

    def __init__(self, file: str, cause: DocketError, issues: Sequence[Issue]) -> None:
        super().__init__(str(cause))
        self.file = file
        self.cause = cause
        self.issues = tuple(issues)

    def lines(self) -> list[str]:
        """The message, one line per problem (under a heading for a schema's problems)."""
        shown = display(self.file)
        placed = [
            f"{shown}:{i.line or 1}:{i.column or 1}: {i.json_path}: {i.message}"
            for i in self.issues
        ]
        if not isinstance(self.cause, ValidationError):
            return placed
        head = f"{shown}: {self.cause.family} v{self.cause.version}: {len(placed)} problem(s)"
        return [head, *(f"  {line}" for line in placed)]


@contextlib.contextmanager
def about_container(path: str, raw: bytes) -> Iterator[None]:
    """Report an error about the container ``raw`` (read from ``path``) at its places in the
    text, as :class:`ContainerProblems`; other errors pass as they are."""
    try:
        yield
    except DocketError as err:
        from docket.core.locate import place_error  # the error path only

        issues = place_error(err, raw)
        if issues is None:
            raise
        raise ContainerProblems("<stdin>" if path == STDIN else path, err, issues) from err


def run(stderr: TextIO, work: Callable[[], int], *, failed: int = EXIT_FAILED) -> int:
    """Run a command body; report a :class:`DocketError` or ``OSError`` as one message (with
    no line a CI runner would read as a workflow command, whatever names it holds) and exit
    ``failed`` (2 for a usage error)."""

    def say(text: str) -> None:
        stderr.write(guard_lines(text) + "\n")

    try:
        return work()
    except (UsageError, DriverOptionError) as err:
        say(f"error: {err}")
        return EXIT_USAGE
    except ContainerProblems as err:
        first, *rest = err.lines()
        say(f"error: {first}")
        for line in rest:
            say(line)
        return failed
    except ValidationError as err:
        say(f"error: {err.family} v{err.version}: {len(err.issues)} problem(s)")
        for issue in err.issues:
            say(f"  {issue.json_path}: {issue.message}")
        return failed
    except DocketError as err:
        say(f"error: {err}")
        return failed
    except BrokenPipeError:
        raise  # the reader went away (``| head``): main() stops quietly
    except OSError as err:
        where = f": {display(err.filename)}" if err.filename else ""
        say(f"error: {err.strerror or err}{where}")
        return failed


def counted(n: int, noun: str) -> str:
    """``n noun``, the noun plural unless ``n`` is 1 (``1 object``, ``2 objects``)."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


# --- registries, families, versions -----------------------------------------------------------


def read_key(path: str | os.PathLike[str]) -> bytes:
    """The HMAC signing key in a file (its bytes, less one trailing newline).

    The file must be a regular file (not a link, FIFO or device) of at most
    :data:`KEY_LIMIT` bytes; anything else is a usage error of ``--key-file``.
    """
    try:
        key = read_bounded(path, KEY_LIMIT, what="key file")
    except UnsafeFile as err:
        raise UsageError("--key-file", err.describe(), "give the key's own file") from None
    except OSError as err:
        raise UsageError(
            "--key-file", f"cannot read {path}: {err.strerror}", f"or unset {KEY_ENV}"
        ) from None
    key = key.removesuffix(b"\n").removesuffix(b"\r")
    if not key:
        raise UsageError("--key-file", f"{path} is empty", "put the operator's key in it")
    return key


def build_registry(
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
    family: str | None = None,
    *,
    check_soundness: bool = True,
) -> Registry:
    """The bundled families plus those under ``schemas``, signing with the key in ``key_file``;
    a ``family`` (``--family``) it does not have is a usage error. ``check_soundness=False``
    skips the migration checks (see :attr:`~docket.core.registry.Registry.check_soundness`)."""
    registry = load_registry(check_soundness=check_soundness)
    if schemas is not None:
        if not Path(schemas).is_dir():
            raise UsageError("--schemas", f"{schemas} is not a directory")
        if (Path(schemas) / MANIFEST).is_file():
            raise UsageError(
                "--schemas",
                f"{schemas} is a family folder (it holds {MANIFEST}), not a schema directory",
                f"pass the directory holding it: {Path(schemas).parent}",
            )
        registry = registry.with_schemas(Path(schemas))
    if key_file is not None:
        registry = registry.with_signing_key(read_key(key_file))
    if family is not None:
        named_family(registry, family)
    return registry


def named_family(registry: Registry, name: str, option: str = "--family") -> Family:
    """The family ``name`` given on the command line (unknown: a usage error of ``option``)."""
    if name not in registry:
        raise UsageError(
            option,
            f"unknown family {show(name)}",
            "known families: " + ", ".join(registry.families()),
        )
    return registry.family(name)


def named_version(family: Family, text: str, option: str) -> Version:
    """The version ``text`` given on the command line (not one: a usage error of ``option``):
    :meth:`~docket.core.family.Family.named_version`, the reading every command shares."""
    return family.named_version(text, option)


# --- databases -------------------------------------------------------------------------------


def redact(url: str) -> str:
    """A database URL fit to print (no password)."""
    from docket.store.engines import redact as printable  # SQLAlchemy: only with a database

    return printable(url)


@contextlib.contextmanager
def database(url: str, option: str = "--db", *, create: bool = False) -> Iterator[Any]:
    """An engine on ``url`` that has connected once, disposed after: every command that
    takes a database URL opens it here (``create``: a SQLite file may be made).

    A URL docket cannot use (unparsable, no such dialect, its driver not installed) is a
    usage error of ``option``; a server it cannot reach, a missing table and a failure of
    the database are :class:`~docket.core.errors.StoreError` (exit 1).
    """
    import sqlalchemy as sa

    from docket.store.engines import open_engine
    from docket.store.errors import BadDatabaseURL, reason_of

    try:
        engine = open_engine(url, create=create)
    except BadDatabaseURL as err:
        raise UsageError(option, err.describe(), err.hint) from None
    try:
        yield engine
    except sa.exc.SQLAlchemyError as err:
        raise StoreError(f"database error: {reason_of(err)}", hint="nothing was written") from None
    finally:
        engine.dispose()


# --- input and output -------------------------------------------------------------------------


def read_input(path: str, stdin: BinaryIO | None, limits: Limits) -> bytes:
    """A whole file (or standard input for ``-``), refusing more than ``limits.max_bytes``."""
    # A FIFO, device or link given by name is refused (UnsafeFile) rather than read or
    # followed; standard input is read as it is, and left open.
    try:
        opened = (
            contextlib.nullcontext(stdin if stdin is not None else standard_input("input"))
            if path == STDIN
            else open_file(path, what="input file")
        )
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as err:
        # Worded as `docket validate` words it: the file, then what went wrong.
        raise CommandFailed(
            f"{display(path)}: cannot read: {err.strerror}",
            hint="check the path" if isinstance(err, FileNotFoundError) else "check the file",
        ) from None
    with opened as fh:
        # In pieces: memory grows with the input, not with the limit.
        raw = b"".join(read_upto(fh.read, limits.max_bytes + 1))
        size = stream_size(fh) if len(raw) > limits.max_bytes else None
    if len(raw) > limits.max_bytes:
        # Only the first max_bytes + 1 bytes were read: the size is the file's, if known.
        known = size if size is not None and size > limits.max_bytes else None
        # Named at its place, FILE:LINE:COLUMN, as every other error about the container.
        with about_container(path, raw):
            raise LimitExceeded("max_bytes", known, limits.max_bytes)
    return raw


def family_of(registry: Registry, obj: Mapping[str, Any], default: str | None) -> Family:
    """The family a container names (``family`` member), else ``default``.

    With neither, the container is read as ``backup-metadata``, unless it holds members that
    family never declares and another family does (``task`` of a family of your own): that
    is a usage error naming ``--family``, not a container of your family silently read and
    migrated as Cinder's (whose versions 1 and 2 allow any member)."""
    named = obj.get("family")
    if isinstance(named, str):
        return registry.family(named)  # an unknown one is UnknownFamily: bad input, exit 1
    family = named_family(registry, default or DEFAULT_FAMILY)
    if default is not None or declared_members(family).issuperset(obj):
        return family  # the other families are looked at only for a member it lacks
    why = foreign_family(registry, obj, family.name, foreign_members(registry, family.name))
    if why is None:
        return family
    raise UsageError("--family", *why)


def load_at_own_version(
    registry: Registry, path: str, family_name: str | None, stdin: BinaryIO | None
) -> tuple[Family, Container]:
    """Parse, validate and integrity-check a container without migrating it.

    A version that cannot carry a signature is read without the key (which would refuse it):
    the operator who gives the key is signing what this writes, not trusting the input.
    """
    raw = read_input(path, stdin, registry.limits)
    with about_container(path, raw):
        obj = parse(raw, registry.limits)
        family = family_of(registry, obj, family_name)
        version = family.detect(obj)
        integrity = family.spec(version).integrity
        reader = family if integrity and integrity.signature else family.with_signing_key(None)
        return family, reader.load(obj, to=version)


@contextlib.contextmanager
def progress_bar(
    stderr: TextIO, label: str, show: bool | None, *, min_total: int = 0
) -> Iterator[Progress | None]:
    """``progress(done, total)`` drawing a rich progress bar on ``stderr``, or None.

    ``show`` None means: only on a terminal, and only once the total reaches ``min_total``
    bytes (a bar only helps, and only draws well, there and for large input).
    """
    if show is None:
        show = stderr.isatty()
    elif show:
        min_total = 0
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stderr),
        transient=True,
    )
    task: list[Any] = []  # the bar's task, once the bar is drawn

    def update(done: int, total: int) -> None:
        if not task:
            if total < min_total:
                return
            bar.start()
            task.append(bar.add_task(label, total=total))
        bar.update(task[0], completed=done, total=total)

    try:
        yield update
    finally:
        if task:
            bar.stop()
