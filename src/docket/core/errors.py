"""The error hierarchy: every failure docket reports is a :class:`DocketError`.

Errors carry their facts as attributes and build their text in ``__str__``, ending with a
hint where there is one. An error (or :class:`Issue`) that has a place in a JSON document keeps
it as *segments*, a tuple of keys and indexes, and derives both renderings from them: the
``$``-rooted path ``$["volume-metadata"]["fee"]`` (``json_path``; the one notation a person
reads, in ``str(error)`` and the CLI) and the RFC 6901 JSON Pointer ``/volume-metadata/fee``
(``pointer``; carried as a field in machine output).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from docket.core.display import display, escape_hidden

if TYPE_CHECKING:
    from docket.core.losses import DataLoss

PathSegment = str | int
Segments = tuple[PathSegment, ...]
Location = str | Sequence[PathSegment]
"""Where a problem is: segments (what new code passes), or for compatibility an already
rendered ``$``-path (``$["a"][0]``) or JSON Pointer (``/a/0``, every segment read as a key)."""


# The patterns below are compiled on first use: they serve text with lone surrogates and
# paths given as text, which most runs never meet (``docket validate`` starts without them).
@functools.cache
def _surrogate() -> re.Pattern[str]:
    return re.compile(r"[\ud800-\udfff]")


def _printable(text: str) -> str:
    """``text`` with each lone surrogate (which no UTF-8 output can carry; the codec refuses
    them, naming where they are) written as its JSON escape, ``\\ud800``."""
    if text.isascii():
        return text
    return _surrogate().sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def show(value: Any) -> str:
    """``value`` as JSON writes it, for messages: ``null``, ``true``, ``"a"``, ``[1, 2]``,
    ``NaN`` (not Python's ``None``, ``True``, ``'a'``); what JSON cannot write (a set, bytes,
    an object), as Python's ``repr``."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON data, or a cycle
        return repr(value)
    # json.dumps escapes C0 controls only: DEL, C1 controls, bidirectional overrides and
    # line separators (and lone surrogates) too, so no value a message quotes moves the
    # cursor, colours a terminal or starts a line.
    return escape_hidden(text)


def json_path(segments: Iterable[PathSegment]) -> str:
    """Render path segments as a ``$``-rooted path: ``$["a"][0]`` (a lone surrogate, a
    control or format character or a line separator in a key as its JSON escape,
    ``$["na\\ud800me"]``, ``$["k\\u001b"]``: a path is one line nothing interprets)."""
    out = ["$"]
    for seg in segments:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        else:
            escaped = escape_hidden(seg.replace("\\", "\\\\").replace('"', '\\"'))
            out.append(f'["{escaped}"]')
    return "".join(out)


def json_pointer(segments: Iterable[PathSegment]) -> str:
    """Render path segments as an RFC 6901 JSON Pointer: ``/a/0`` (a lone surrogate, which a
    pointer cannot hold, as the text of its escape, ``\\ud800``)."""
    return "".join("/" + _printable(str(s).replace("~", "~0").replace("/", "~1")) for s in segments)


_CHAR_ESCAPE = r"u[0-9a-fA-F]{4}"


@functools.cache
def _path_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(one step of a ``$``-path, an escape in its key)."""
    return (
        re.compile(r'\[(?:(0|[1-9][0-9]*)|"((?:[^"\\]|\\["\\]|\\' + _CHAR_ESCAPE + r')*)")\]'),
        re.compile(r"\\(" + _CHAR_ESCAPE + "|.)"),
    )


def _unescape(match: re.Match[str]) -> str:
    escaped = match.group(1)
    return chr(int(escaped[1:], 16)) if len(escaped) == 5 else escaped


def _key_of(text: str) -> str:
    """A key read from a ``$``-path: a character beyond the BMP written as its escaped
    surrogate pair is one character again (a lone surrogate stays as it is)."""
    if text.isascii():
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def segments_of(location: Location) -> Segments:
    """The segments of a location given as segments, a ``$``-path or a JSON Pointer."""
    if not isinstance(location, str):
        return tuple(location)
    if location == "" or location.startswith("/"):
        steps = location.split("/")[1:]
        return tuple(s.replace("~1", "/").replace("~0", "~") for s in steps)
    if not location.startswith("$"):
        raise ValueError(f"{show(location)} is neither a $-path nor a JSON Pointer")
    out: list[PathSegment] = []
    path_step, path_escape = _path_patterns()
    at = 1
    while at < len(location):
        step = path_step.match(location, at)
        if step is None:
            raise ValueError(f"{show(location)} is not a $-path (at character {at})")
        index, key = step.groups()
        out.append(int(index) if index is not None else _key_of(path_escape.sub(_unescape, key)))
        at = step.end()
    return tuple(out)


class Located:
    """What has a place in a JSON document: ``segments``, rendered two ways."""

    segments: Segments

    @property
    def json_path(self) -> str:
        """The place as a ``$``-rooted path: ``$["a"][0]`` (``$`` for the whole document)."""
        return json_path(self.segments)

    @property
    def pointer(self) -> str:
        """The place as an RFC 6901 JSON Pointer: ``/a/0`` (``""`` for the whole document)."""
        return json_pointer(self.segments)


@dataclass(frozen=True, init=False)
class Issue(Located):
    """One problem found in a container: where it is and what is wrong.

    Build one as ``Issue(segments, message, keyword)``; ``segments`` (keys and indexes, ``()``
    for the whole document) is the location, ``json_path`` and ``pointer`` render it.
    """

    segments: Segments
    message: str
    keyword: str = ""
    """The JSON Schema keyword (or docket check, e.g. ``digest``) that failed."""
    line: int | None = field(default=None, compare=False)
    """1-based line of the place in the text it was read from, when known (see
    :mod:`docket.core.locate`); not part of equality."""
    column: int | None = field(default=None, compare=False)
    """1-based column (in characters) of the place in its line, when known."""

    def __init__(
        self,
        where: Location,
        message: str,
        keyword: str = "",
        segments: Sequence[PathSegment] | None = None,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        # ``segments``, when given, wins over ``where``: the form of releases that passed a
        # rendered pointer first and the segments last.
        located = segments_of(where) if segments is None else tuple(segments)
        object.__setattr__(self, "segments", located)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "keyword", keyword)
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "column", column)

    @property
    def path(self) -> str:
        """The place as a ``$``-path, as :attr:`LocatedError.path` is: ``.path`` has one
        meaning everywhere (``.pointer`` is the JSON Pointer)."""
        return self.json_path

    def __str__(self) -> str:
        return f"{self.json_path}: {self.message}"


class DocketError(Exception):
    """Root of every error docket raises."""

    hint: str = ""

    def describe(self) -> str:
        return super().__str__()

    def __str__(self) -> str:
        text = self.describe()
        return f"{text} (hint: {self.hint})" if self.hint else text


class LocatedError(Located, DocketError):
    """An error at a place in a JSON document: ``segments`` is the place, ``path`` (the
    ``$``-path, as ``json_path``) and ``pointer`` render it."""

    def __init__(self, reason: str, *, path: Location = (), hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.segments: Segments = segments_of(path)
        self.hint = hint

    @property
    def path(self) -> str:
        """The place as a ``$``-path (the same as :attr:`json_path`)."""
        return self.json_path

    def describe(self) -> str:
        return f"{self.path}: {self.reason}" if self.segments else self.reason


# --- input / codec -----------------------------------------------------------------------


class ParseError(LocatedError, ValueError):
    """The input is not acceptable JSON."""

    def __init__(
        self, reason: str, *, position: int | None = None, path: Location = (), hint: str = ""
    ) -> None:
        super().__init__(reason, path=path, hint=hint)
        self.position = position
        self.line: int | None = None
        """1-based line of ``position`` in the text (set by the codec when it knows it)."""
        self.column: int | None = None
        """1-based column of ``position`` in its line, counted in characters."""

    def describe(self) -> str:
        at = f" at {self.path}" if self.segments else ""
        return f"{self.unlocated()}{at}"

    def unlocated(self) -> str:
        """The text without the ``$``-path (for an :class:`Issue`, which carries it)."""
        where = f" at byte {self.position}" if self.position is not None else ""
        return f"cannot parse container{where}: {self.reason}"


class InvalidJSON(ParseError):
    """Malformed JSON text (truncated, bad syntax, wrong encoding)."""


class TrailingData(InvalidJSON):
    """More text after a complete JSON value (``position``: where it starts).

    ``new_line`` when it starts on a line of its own: the text looks like JSON Lines (one
    container per line), and the hint says so."""

    def __init__(self, position: int, *, new_line: bool) -> None:
        hint = (
            "this looks like JSON Lines, one container per line"
            if new_line
            else "a container is one JSON object: remove what follows it"
        )
        super().__init__("Extra data", position=position, hint=hint)
        self.new_line = new_line


class DuplicateKey(ParseError):
    """An object has the same key twice; JSON parsers disagree on which wins."""

    def __init__(self, key: str, *, path: Location = ()) -> None:
        super().__init__(
            f"duplicate key {show(key)}",
            path=path,
            hint="remove one of the two members; docket refuses ambiguous input",
        )
        self.key = key


class NonFiniteNumber(ParseError):
    """NaN or Infinity, which JSON does not allow."""

    def __init__(self, token: str, *, path: Location = ()) -> None:
        if token.lstrip("-") in ("NaN", "Infinity"):
            reason, hint = (
                f"{token} is not a JSON number",
                "JSON has no NaN or Infinity: write null or a string",
            )
        else:  # a number JSON allows, but too large for a double (1e999)
            reason = f"{token} is too large for a double (it would read as infinity)"
            hint = "write a number this large as a string"
        super().__init__(reason, path=path, hint=hint)
        self.token = token


class NotAnObject(ParseError, TypeError):
    """The document's root is not a JSON object."""

    def __init__(self, found: str) -> None:
        super().__init__(f"the root must be a JSON object, found {found}")
        self.found = found


class LimitExceeded(ParseError):
    """The input is larger or deeper than the configured limits allow.

    ``value`` is what was found; for ``max_bytes`` it is None when only a bounded read of a
    stream was made (the input is more than ``maximum`` bytes, how much more is not known).
    """

    def __init__(self, limit: str, value: int | None, maximum: int, *, path: Location = ()) -> None:
        if limit == "max_bytes":
            if value is None:  # a bounded read stopped past the limit
                reason = f"the input is more than {maximum} bytes, the limit (max_bytes)"
            else:
                reason = f"the input is {value} bytes, more than the limit of {maximum} (max_bytes)"
        else:
            reason = f"{limit} {value} exceeds the limit of {maximum}"
        super().__init__(reason, path=path, hint=f"raise Limits.{limit} if this input is trusted")
        self.limit = limit
        self.value = value
        self.maximum = maximum


# --- versions ----------------------------------------------------------------------------


class VersionError(DocketError, ValueError):
    """The container's ``version`` member is missing, malformed or not supported."""

    def __init__(self, family: str, found: Any, supported: Sequence[Any], reason: str) -> None:
        super().__init__(reason)
        self.family = family
        self.found = found
        self.supported = tuple(supported)
        self.reason = reason
        self.hint = "supported versions: " + ", ".join(show(v) for v in self.supported)

    def describe(self) -> str:
        return f"{self.family}: {self.reason}"


class MissingVersion(VersionError):
    def __init__(self, family: str, supported: Sequence[Any]) -> None:
        super().__init__(family, None, supported, 'the container has no "version" member')


class MalformedVersion(VersionError):
    def __init__(self, family: str, found: Any, supported: Sequence[Any], expected: str) -> None:
        super().__init__(family, found, supported, f"version {show(found)} is not {expected}")


class UnknownVersion(VersionError):
    def __init__(self, family: str, found: Any, supported: Sequence[Any]) -> None:
        super().__init__(family, found, supported, f"version {show(found)} is not a known version")


class VersionTooNew(UnknownVersion):
    """Written by a newer release than this one; upgrade docket to read it."""

    def __init__(self, family: str, found: Any, supported: Sequence[Any]) -> None:
        VersionError.__init__(
            self,
            family,
            found,
            supported,
            f"version {show(found)} is newer than the current version {show(supported[-1])}",
        )
        self.hint = (
            f"this container was written by a newer release; upgrade docket "
            f"(supported versions: {', '.join(show(v) for v in self.supported)})"
        )


# --- validation / integrity --------------------------------------------------------------


class ValidationError(DocketError, ValueError):
    """The container does not match its version's schema. ``issues`` lists every problem."""

    def __init__(self, family: str, version: Any, issues: Sequence[Issue]) -> None:
        super().__init__(family, version)
        self.family = family
        self.version = version
        self.issues = tuple(issues)

    def describe(self) -> str:
        head = f"{self.family} v{self.version}: {len(self.issues)} problem(s)"
        shown = "; ".join(str(i) for i in self.issues[:5])
        more = f"; and {len(self.issues) - 5} more" if len(self.issues) > 5 else ""
        return f"{head}: {shown}{more}"


class IntegrityError(LocatedError, ValueError):
    """A digest or signature does not match the container's content."""

    def describe(self) -> str:
        return f"{self.path}: {self.reason}"


class DigestMismatch(IntegrityError):
    def __init__(self, expected: str, found: str) -> None:
        super().__init__(
            f"digest {found} does not match the content (computed {expected})",
            path=("digest",),
            hint="the container was altered after it was written; restore from another copy",
        )
        self.expected = expected
        self.found = found


class SignatureError(IntegrityError):
    """Signing is required and the signature is missing or wrong."""


# --- documents, registry, graph ----------------------------------------------------------


class SchemaDocumentError(LocatedError, ValueError):
    """A schema document, manifest or policy is malformed. ``line`` and ``column`` (1-based,
    when known) place the ``$``-path in the file ``source``: ``FILE:LINE:COLUMN: $-PATH``."""

    def __init__(self, source: str, reason: str, *, path: Location = (), hint: str = "") -> None:
        super().__init__(reason, path=path, hint=hint)
        self.source = source
        self.line: int | None = None
        self.column: int | None = None

    @property
    def place(self) -> str:
        """``FILE:LINE:COLUMN`` (``FILE`` when the place in it is not known)."""
        at = f":{self.line}:{self.column}" if self.line is not None else ""
        return f"{display(self.source)}{at}"

    def describe(self) -> str:
        return f"{self.place}: {self.path}: {self.reason}"


class FingerprintMismatch(SchemaDocumentError):
    """A released version's document changed after release."""


class UnknownFamily(DocketError, LookupError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = tuple(known)
        self.hint = "known families: " + (", ".join(self.known) or "none")

    def describe(self) -> str:
        return f"unknown family {show(self.name)}"


class UnknownRule(DocketError, LookupError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(name)
        self.name = name
        self.hint = "registered rules: " + (", ".join(sorted(known)) or "none")

    def describe(self) -> str:
        return f"unknown restore rule {show(self.name)}"


class GraphError(DocketError, ValueError):
    """The migration graph of a family is not sound.

    ``edge`` is the migration involved as ``(source, target)`` (None when the problem is not
    one edge); ``versions`` are the versions involved.
    """

    def __init__(
        self,
        family: str,
        reason: str,
        hint: str = "",
        *,
        edge: tuple[Any, Any] | None = None,
        versions: Sequence[Any] = (),
    ) -> None:
        super().__init__(reason)
        self.family = family
        self.reason = reason
        self.hint = hint
        self.edge = edge
        self.versions = tuple(versions)

    def describe(self) -> str:
        return f"{self.family}: {self.reason}"


class DuplicateEdge(GraphError):
    """Two migrations join the same two versions (``edge``)."""


class DanglingEdge(GraphError):
    """A migration (``edge``), or the current version, names a version the family does not
    have (``versions``)."""


class NonAdjacentEdge(GraphError):
    """A migration (``edge``) skips versions (``versions``); migrations join adjacent
    versions only."""


class CycleDetected(GraphError):
    """The upgrades loop back to a version already passed."""


class BackwardEdge(CycleDetected):
    """An upgrade (``edge``) goes to an older version, or to the same one: with the edges
    that lead up to it, it would close a cycle."""


class MultipleHeads(GraphError):
    """More than one version has no upgrade out of it (``versions``)."""


class VersionAfterCurrent(MultipleHeads):
    """Versions (``versions``) are newer than the current one, so the newest version is a
    second head besides current."""


class UnreachableVersion(GraphError):
    """Versions (``versions``) older than current have no path of upgrades to it."""


class UnsoundMigration(GraphError):
    """A migration does not do what its document says (found without running it, by
    :mod:`docket.core.soundness`): an operation names a field its version lacks, a default or
    mapped value the target version refuses, a downgrade declared exact that loses something,
    or declared losses that are not what it loses.

    ``findings`` lists every problem of the family (each with its edge, operation and
    ``$``-path); ``edge`` is the first one's edge, as the operation runs (``(3, 2)`` for a
    downgrade).
    """

    def __init__(self, family: str, findings: Sequence[Any]) -> None:
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        super().__init__(
            family,
            f"{first.describe().removeprefix(family + ': ')}{more}",
            first.hint,
            edge=(first.source, first.target),
            versions=(first.source, first.target),
        )
        self.findings = tuple(findings)


class MigrationError(DocketError, ValueError):
    """A migration could not be applied to a container."""

    def __init__(self, family: str, source: Any, target: Any, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.family = family
        self.source = source
        self.target = target
        self.reason = reason
        self.hint = hint

    def describe(self) -> str:
        return f"{self.family} {show(self.source)} -> {show(self.target)}: {self.reason}"


class LossyMigration(MigrationError):
    """A migration would lose information and ``allow_lossy`` was not given.

    ``losses`` says what in words. ``report`` holds the values the container holds that
    would be lost, as :class:`docket.core.losses.DataLoss` values, each with its ``$``-path:
    :meth:`docket.Family.migrate` refuses by them (and ``losses`` describes each one);
    :meth:`~docket.Family.downgrade` and :meth:`~docket.Family.dump` refuse a downgrade the
    family declares lossy (``losses`` are the declared ones) and leave ``report`` empty.
    """

    def __init__(
        self,
        family: str,
        source: Any,
        target: Any,
        losses: Sequence[str],
        *,
        report: Sequence[DataLoss] = (),
    ) -> None:
        what = "it would lose values the container holds" if report else "downgrade is lossy"
        super().__init__(
            family,
            source,
            target,
            f"{what}: " + "; ".join(losses),
            hint="pass allow_lossy=True (CLI: --allow-lossy) to accept the loss",
        )
        self.losses = tuple(losses)
        self.report: tuple[DataLoss, ...] = tuple(report)


class NoMigrationPath(MigrationError):
    pass


# --- restore -----------------------------------------------------------------------------


class RestoreError(LocatedError):
    """A restore was refused or failed; nothing was written."""


class RestoreRefused(RestoreError, ValueError):
    """A restore rule refused the container for this target."""


class UnknownField(RestoreRefused):
    """The section's policy rejects fields its schema does not define."""


# ValueTooLong and KeyConflict, the refusals only a database raises, are defined in
# docket.store.errors (docket.errors exports them).


# --- arguments and commands --------------------------------------------------------------


class UsageError(DocketError, ValueError):
    """A command was given an argument or option it cannot use (exit code 2)."""

    def __init__(self, argument: str, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.argument = argument
        self.reason = reason
        self.hint = hint

    def describe(self) -> str:
        return f"{self.argument}: {self.reason}"


class CommandFailed(DocketError, RuntimeError):
    """A command could not finish for a reason outside its input (a worker process died)."""

    def __init__(self, reason: str, *, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


class MissingCinder(DocketError, ImportError):
    """``docket.cinder`` was imported outside a Cinder environment: Cinder's own packages,
    which its drivers build on, are not importable (``reason`` says which import failed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"docket.cinder runs inside Cinder's environment: {reason}")
        self.reason = reason
        self.hint = (
            "install docket into the environment cinder-backup runs from "
            "(`<cinder venv>/bin/pip install docket`), or use docket.backup.posix outside Cinder"
        )


# --- store -------------------------------------------------------------------------------
# The base stays here: a command reports a database failure as a StoreError without loading
# SQLAlchemy (docket.cli.common). Deadlock, VolumeNotFound and the connection errors are
# defined where they are raised, in docket.store.errors.


class StoreError(DocketError):
    """The database could not be read or written as asked; a write left it as it was."""

    def __init__(self, reason: str, *, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint

    def describe(self) -> str:
        return self.reason


# --- backups -----------------------------------------------------------------------------
# The base and DriverOptionError stay here: every command maps a DriverOptionError to exit 2
# (docket.cli.common.run), `docket validate` included, which loads no backup driver. The
# errors only the drivers and records raise are defined in docket.backup.errors.


class BackupError(LocatedError):
    """A backup could not be written, found, restored or read."""

    def __init__(
        self, reason: str, *, backup_id: str | None = None, path: Location = (), hint: str = ""
    ) -> None:
        super().__init__(reason, path=path, hint=hint)
        self.backup_id = backup_id

    def describe(self) -> str:
        where = f"backup {self.backup_id}: " if self.backup_id else ""
        return where + super().describe()


class DriverOptionError(BackupError, ValueError):
    """A backup driver was given an option it cannot work with."""


# --- files -------------------------------------------------------------------------------


class UnsafeFile(DocketError, ValueError):
    """A file docket was given or found is not one it reads or writes safely: not a regular
    file (a FIFO, device, socket, directory or symbolic link), or outside where it must be.

    ``filename`` is the path as given, ``what`` says what the file was for ("key file",
    "the _metadata object"), ``found`` what it is ("a FIFO"); ``backup_id`` names the backup
    when the file belongs to one.
    """

    def __init__(
        self,
        filename: str,
        what: str,
        found: str,
        *,
        backup_id: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(filename, what, found)
        self.filename = filename
        self.what = what
        self.found = found
        self.backup_id = backup_id
        self.hint = hint

    def describe(self) -> str:
        where = f"backup {self.backup_id}: " if self.backup_id else ""
        name = display(self.filename) if self.filename else '""'
        return f"{where}{self.what} {name} is {self.found}"


class FileTooLarge(UnsafeFile):
    """A file or stream holds more bytes than docket reads for its purpose."""

    def __init__(
        self,
        filename: str,
        what: str,
        size: int | None,
        limit: int,
        *,
        backup_id: str | None = None,
        hint: str = "",
    ) -> None:
        shown = f"{size} bytes" if size is not None else f"more than {limit} bytes"
        super().__init__(
            filename,
            what,
            f"too large: {shown}, the limit is {limit}",
            backup_id=backup_id,
            hint=hint,
        )
        self.size = size
        """The file's size when known (``None``: a stream that went on past ``limit``)."""
        self.limit = limit
