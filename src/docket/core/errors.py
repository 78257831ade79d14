"""The error hierarchy: every failure docket reports is a :class:`DocketError`.

Errors carry their facts as attributes and build their text in ``__str__``, ending with a
hint where there is one. Locations are ``$``-rooted paths such as ``$["volume-metadata"]["fee"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PathSegment = str | int


def json_path(segments: Iterable[PathSegment]) -> str:
    """Render path segments as a ``$``-rooted path: ``$["a"][0]``."""
    out = ["$"]
    for seg in segments:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        else:
            escaped = seg.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
    return "".join(out)


def json_pointer(segments: Iterable[PathSegment]) -> str:
    """Render path segments as an RFC 6901 JSON Pointer: ``/a/0``."""
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in segments)


@dataclass(frozen=True)
class Issue:
    """One problem found in a container: where it is and what is wrong."""

    path: str
    """JSON Pointer to the offending value (``""`` for the whole document)."""
    message: str
    keyword: str = ""
    """The JSON Schema keyword (or docket check, e.g. ``digest``) that failed."""
    segments: tuple[PathSegment, ...] = ()

    @property
    def json_path(self) -> str:
        return json_path(self.segments)

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


# --- input / codec -----------------------------------------------------------------------


class ParseError(DocketError, ValueError):
    """The input is not acceptable JSON."""

    def __init__(self, reason: str, *, position: int | None = None, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position
        self.hint = hint

    def describe(self) -> str:
        where = f" at byte {self.position}" if self.position is not None else ""
        return f"cannot parse container{where}: {self.reason}"


class InvalidJSON(ParseError):
    """Malformed JSON text (truncated, bad syntax, wrong encoding)."""


class DuplicateKey(ParseError):
    """An object has the same key twice; JSON parsers disagree on which wins."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"duplicate key {key!r}",
            hint="remove one of the two members; docket refuses ambiguous input",
        )
        self.key = key


class NonFiniteNumber(ParseError):
    """NaN or Infinity, which JSON does not allow."""

    def __init__(self, token: str) -> None:
        super().__init__(f"{token} is not a JSON number")
        self.token = token


class NotAnObject(ParseError, TypeError):
    """The document's root is not a JSON object."""

    def __init__(self, found: str) -> None:
        super().__init__(f"the root must be a JSON object, found {found}")
        self.found = found


class LimitExceeded(ParseError):
    """The input is larger or deeper than the configured limits allow."""

    def __init__(self, limit: str, value: int, maximum: int, *, path: str = "$") -> None:
        super().__init__(
            f"{limit} {value} exceeds the limit of {maximum} at {path}",
            hint=f"raise Limits.{limit} if this input is trusted",
        )
        self.limit = limit
        self.value = value
        self.maximum = maximum
        self.path = path


# --- versions ----------------------------------------------------------------------------


class VersionError(DocketError, ValueError):
    """The container's ``version`` member is missing, malformed or not supported."""

    def __init__(self, family: str, found: Any, supported: Sequence[Any], reason: str) -> None:
        super().__init__(reason)
        self.family = family
        self.found = found
        self.supported = tuple(supported)
        self.reason = reason
        self.hint = "supported versions: " + ", ".join(repr(v) for v in self.supported)

    def describe(self) -> str:
        return f"{self.family}: {self.reason}"


class MissingVersion(VersionError):
    def __init__(self, family: str, supported: Sequence[Any]) -> None:
        super().__init__(family, None, supported, 'the container has no "version" member')


class MalformedVersion(VersionError):
    def __init__(self, family: str, found: Any, supported: Sequence[Any], expected: str) -> None:
        super().__init__(family, found, supported, f"version {found!r} is not {expected}")


class UnknownVersion(VersionError):
    def __init__(self, family: str, found: Any, supported: Sequence[Any]) -> None:
        super().__init__(family, found, supported, f"version {found!r} is not a known version")


class VersionTooNew(UnknownVersion):
    """Written by a newer release than this one; upgrade docket to read it."""

    def __init__(self, family: str, found: Any, supported: Sequence[Any]) -> None:
        VersionError.__init__(
            self,
            family,
            found,
            supported,
            f"version {found!r} is newer than the current version {supported[-1]!r}",
        )
        self.hint = (
            f"this container was written by a newer release; upgrade docket "
            f"(supported versions: {', '.join(repr(v) for v in self.supported)})"
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


class IntegrityError(DocketError, ValueError):
    """A digest or signature does not match the container's content."""

    def __init__(self, reason: str, *, path: str = "$", hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path
        self.hint = hint

    def describe(self) -> str:
        return f"{self.path}: {self.reason}"


class DigestMismatch(IntegrityError):
    def __init__(self, expected: str, found: str) -> None:
        super().__init__(
            f"digest {found} does not match the content (computed {expected})",
            path='$["digest"]',
            hint="the container was altered after it was written; restore from another copy",
        )
        self.expected = expected
        self.found = found


class SignatureError(IntegrityError):
    """Signing is required and the signature is missing or wrong."""


# --- documents, registry, graph ----------------------------------------------------------


class SchemaDocumentError(DocketError, ValueError):
    """A schema document, manifest or policy is malformed."""

    def __init__(self, source: str, reason: str, *, path: str = "$", hint: str = "") -> None:
        super().__init__(reason)
        self.source = source
        self.reason = reason
        self.path = path
        self.hint = hint

    def describe(self) -> str:
        return f"{self.source}: {self.path}: {self.reason}"


class FingerprintMismatch(SchemaDocumentError):
    """A released version's document changed after release."""


class UnknownFamily(DocketError, LookupError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = tuple(known)
        self.hint = "known families: " + (", ".join(self.known) or "none")

    def describe(self) -> str:
        return f"unknown family {self.name!r}"


class UnknownRule(DocketError, LookupError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(name)
        self.name = name
        self.hint = "registered rules: " + (", ".join(sorted(known)) or "none")

    def describe(self) -> str:
        return f"unknown restore rule {self.name!r}"


class GraphError(DocketError, ValueError):
    """The migration graph of a family is not sound."""

    def __init__(self, family: str, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.family = family
        self.reason = reason
        self.hint = hint

    def describe(self) -> str:
        return f"{self.family}: {self.reason}"


class DuplicateEdge(GraphError):
    pass


class DanglingEdge(GraphError):
    pass


class CycleDetected(GraphError):
    pass


class MultipleHeads(GraphError):
    pass


class UnreachableVersion(GraphError):
    pass


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
        return f"{self.family} {self.source!r} -> {self.target!r}: {self.reason}"


class LossyMigration(MigrationError):
    """A downgrade would lose information and ``allow_lossy`` was not given."""

    def __init__(self, family: str, source: Any, target: Any, losses: Sequence[str]) -> None:
        super().__init__(
            family,
            source,
            target,
            "downgrade is lossy: " + "; ".join(losses),
            hint="pass allow_lossy=True (CLI: --allow-lossy) to accept the loss",
        )
        self.losses = tuple(losses)


class NoMigrationPath(MigrationError):
    pass


# --- restore -----------------------------------------------------------------------------


class RestoreError(DocketError):
    """A restore was refused or failed; nothing was written."""

    def __init__(self, reason: str, *, path: str = "$", hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path
        self.hint = hint

    def describe(self) -> str:
        return f"{self.path}: {self.reason}" if self.path != "$" else self.reason


class RestoreRefused(RestoreError, ValueError):
    """A restore rule refused the container for this target."""


class UnknownField(RestoreRefused):
    """The section's policy rejects fields its schema does not define."""


class ValueTooLong(RestoreRefused):
    """A value is longer than its database column holds; refused before anything is written."""

    def __init__(self, path: str, length: int, limit: int, unit: str, column: str) -> None:
        super().__init__(
            f"{length} {unit} do not fit column {column} ({limit} {unit} at most)",
            path=path,
            hint="shorten the value, or widen the column",
        )
        self.length = length
        self.limit = limit
        self.unit = unit
        self.column = column


class KeyConflict(RestoreRefused):
    """Two metadata keys the database would take for one (MySQL/MariaDB compare keys
    case-insensitively); refused rather than lose one of them."""

    def __init__(self, path: str, keys: Sequence[str], database: str) -> None:
        super().__init__(
            f"keys {', '.join(repr(k) for k in keys)} are one key to {database}, which "
            "compares metadata keys without case, accents or trailing spaces",
            path=path,
            hint="rename one of the keys; restoring both would lose one",
        )
        self.keys = tuple(keys)
        self.database = database


# --- store -------------------------------------------------------------------------------


class StoreError(DocketError):
    """The database could not be read or written as asked; a write left it as it was."""

    def __init__(self, reason: str, *, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint

    def describe(self) -> str:
        return self.reason


class Deadlock(StoreError):
    """The database failed the restore to break a deadlock (or a serialization conflict) each
    time it was tried; nothing was written."""

    def __init__(self, attempts: int, reason: str) -> None:
        super().__init__(
            f"the database broke a deadlock by failing this restore ({attempts} attempts): "
            f"{reason}",
            hint="nothing was written; run it again once the other writers are done",
        )
        self.attempts = attempts


class VolumeNotFound(StoreError, LookupError):
    """No volume (that is not soft-deleted) has the id."""

    def __init__(self, volume_ids: Sequence[str]) -> None:
        self.volume_ids = tuple(volume_ids)
        shown = ", ".join(self.volume_ids[:5])
        more = f" and {len(self.volume_ids) - 5} more" if len(self.volume_ids) > 5 else ""
        noun = "volume" if len(self.volume_ids) == 1 else "volumes"
        super().__init__(
            f"{noun} {shown}{more} not found",
            hint="check the id; deleted volumes do not exist for docket",
        )


# --- backups -----------------------------------------------------------------------------


class BackupError(DocketError):
    """A backup could not be written, found, restored or read."""

    def __init__(
        self, reason: str, *, backup_id: str | None = None, path: str = "$", hint: str = ""
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.backup_id = backup_id
        self.path = path
        self.hint = hint

    def describe(self) -> str:
        where = f"backup {self.backup_id}: " if self.backup_id else ""
        at = f"{self.path}: " if self.path != "$" else ""
        return f"{where}{at}{self.reason}"


class BackupNotFound(BackupError, LookupError):
    """No backup with that id is stored where the driver looks."""


class InvalidBackup(BackupError, ValueError):
    """The stored backup is incomplete, corrupt, or in a format this driver does not read."""


class RecordError(BackupError, ValueError):
    """A backup record cannot be imported."""


class RecordDecodeError(RecordError):
    """The record is not base64 text (Cinder: "Can't decode backup record.")."""


class RecordParseError(RecordError):
    """The decoded record is not a JSON object (Cinder: "Can't parse backup record.")."""


class MissingRecordFields(RecordError):
    """The record lacks fields an import needs."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            "the backup record is missing required field(s): " + ", ".join(self.missing),
            path=json_path([self.missing[0]]) if self.missing else "$",
            hint="export the record again from the backup service that made it",
        )


class ForeignRecord(RecordError):
    """The record belongs to another family or backup service."""


class DriverOptionError(BackupError, ValueError):
    """A backup driver was given an option it cannot work with."""
