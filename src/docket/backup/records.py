"""Backup records: what ``export_record`` writes and ``import_record`` reads.

A record is base64 text of a JSON object holding the backup's fields, plus driver info that
never replaces a real field (Cinder's format). The object is a container of the
``backup-record`` family, so it is versioned and validated like any other:

- version 1 is Cinder's record. On the wire it has no ``version`` member; a record without one
  is read as version 1, and version 1 is written without one so Cinder can import it.
- version 2 adds ``family``, a ``digest`` over the fields and, when the registry has a signing
  key, an HMAC-SHA256 ``signature``. With a key configured, unsigned records (including every
  version 1 record) and records whose signature does not match are refused.

An import never takes ``user_id``, ``project_id``, ``status`` or any ``deleted*`` field from a
record: the importer owns the imported backup and decides its state.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from docket.backup._model import Backup, ImportedRecord
from docket.backup.errors import (
    ForeignRecord,
    MissingRecordFields,
    RecordDecodeError,
    RecordError,
    RecordParseError,
)
from docket.core.codec import canonical, parse
from docket.core.errors import BackupError, MissingVersion, ParseError, SignatureError, show
from docket.core.family import Family
from docket.core.versions import Version

REQUIRED_FIELDS = (
    "id",
    "size",
    "display_name",
    "display_description",
    "container",
    "service_metadata",
    "object_count",
)
"""Fields an import needs (Cinder's list)."""

NEVER_IMPORTED = ("user_id", "project_id", "status")
"""Fields an import leaves out, with every field whose name starts with ``deleted``."""

DRIVER_INFO = "driver_info"

RECORD_TEXT_LIMIT = 24 << 20
"""The most bytes of record text (base64, line breaks included) an import reads: a record is
at most 16 MiB of JSON (the container limit), 21.4 MiB as base64. Longer text is refused
before it is decoded."""

DECODE_MESSAGE = "Can't decode backup record."
PARSE_MESSAGE = "Can't parse backup record."


def _members(family: Family, version: Version | None = None) -> frozenset[str]:
    """Container members that are not backup fields: version, family and integrity members
    (of every version, or those ``version`` has)."""
    out = {"version", "family"}
    for each in family.versions if version is None else (version,):
        integrity = family.spec(each).integrity
        if integrity is not None:
            out.add(integrity.digest)
            if integrity.signature:
                out.add(integrity.signature)
    if version is not None and "family" not in family.schema(version).get("properties", {}):
        out.discard("family")
    return frozenset(out)


def _never_imported(name: str) -> bool:
    return name in NEVER_IMPORTED or name.startswith("deleted")


MAX_SIZE_GIB = 1 << 20
"""The largest ``size`` a record may give: 1 PiB in GiB, the most volume any object may
reach into (``docket.backup._layout.MAX_VOLUME_SIZE``)."""
MAX_COUNT = (1 << 31) - 1
"""The largest ``object_count`` or ``num_dependent_backups``: Cinder keeps them in
``INTEGER`` columns, 32 bits on MySQL."""
_COUNTS = {"size": MAX_SIZE_GIB, "object_count": MAX_COUNT, "num_dependent_backups": MAX_COUNT}
TIME_FIELDS = ("created_at", "updated_at", "data_timestamp")
"""Times an import takes: ISO 8601 text (``2026-01-02T03:04:05.123456Z``), at most 64
characters."""
TEXT_FIELDS = {"display_name": "", "display_description": "\n\t", "fail_reason": "\n\t"}
"""Fields people write, each with the controls it may hold; they, the backup's user
``metadata`` and fields docket does not model are free text. Every other text field (ids,
``service``, ``host``, ``availability_zone``, ``container``, times) holds no control or
format character at all."""
_MACHINE = frozenset(Backup.field_names()) - set(TEXT_FIELDS)
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_HIDDEN = frozenset(("Cc", "Cs", "Zl", "Zp"))
_HINT = "the record was altered or made by another tool; export it again from its backup"


def check_text(
    value: str,
    path: tuple[str, ...],
    *,
    allowed: str | None = None,
    error: type[BackupError] = RecordError,
    hint: str = _HINT,
    what: str = "",
) -> None:
    """Refuse (``error`` at ``path``) text of a record that would reach a terminal or a
    database as something else than it reads: a control, a bidirectional override, a lone
    surrogate, a line or paragraph separator. Free text (``allowed``: the controls it may
    hold) may hold other format characters (an emoji's joiner); other text (None) no
    format character at all (a zero-width space in an id)."""
    hidden = _HIDDEN if allowed is not None else _HIDDEN | {"Cf"}
    bad = next(
        (
            c
            for c in value
            if (c in _BIDI or unicodedata.category(c) in hidden) and c not in (allowed or "")
        ),
        None,
    )
    if bad is not None:
        raise error(
            f"{what}{' ' if what else ''}{show(value[:80])} holds {show(bad)} "
            f"(U+{ord(bad):04X}), which this text never does",
            path=path,
            hint=hint,
        )


_EXPORT_HINT = (
    "the backup's own record holds it: correct the field on the backup (a name or "
    "description: `cinder backup-update`), then export again"
)
"""The hint of a refusal on export: the backup itself, not a record, holds the value."""


def check_fields(
    fields: Mapping[str, Any], *, error: type[BackupError] = RecordError, hint: str = _HINT
) -> None:
    """Refuse what the schema lets through but nothing downstream should take: a size past
    1 PiB, counts past Cinder's columns, times that are not times, and text (field names
    too) holding characters it never does. Each refusal is ``error`` naming the ``$``-path,
    with ``hint`` (by default: the record was altered)."""
    for name, value in fields.items():
        check_text(name, (name,), error=error, hint=hint)
        if name in _COUNTS and value is not None:
            if type(value) is not int or value > _COUNTS[name]:
                raise error(
                    f"{show(value)} is not a whole number up to {_COUNTS[name]}"
                    + (" (GiB: 1 PiB)" if name == "size" else ""),
                    path=(name,),
                    hint=hint,
                )
        elif isinstance(value, str):
            allowed = None if name in _MACHINE else TEXT_FIELDS.get(name, "")
            check_text(value, (name,), allowed=allowed, error=error, hint=hint)
            if name in TIME_FIELDS:
                _check_time(name, value, error, hint)
        elif name == "metadata" and isinstance(value, Mapping):
            for key, item in value.items():
                check_text(key, (name, key), allowed="", error=error, hint=hint)
                if isinstance(item, str):
                    check_text(item, (name, key), allowed="", error=error, hint=hint)


def _check_time(name: str, value: str, error: type[BackupError], hint: str) -> None:
    try:
        ok = len(value) <= 64 and bool(datetime.fromisoformat(value))
    except ValueError:
        ok = False
    if not ok:
        raise error(
            f"{show(value[:80])} is not an ISO 8601 time (2026-01-02T03:04:05.123456Z)",
            path=(name,),
            hint=hint,
        )


def build_record(
    family: Family, fields: Mapping[str, Any], info: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The record object: ``info`` first, then the backup's fields, which always win."""
    members = _members(family)
    clash = sorted(k for k in fields if k in members)
    if clash:
        raise RecordError(
            f"backup field {show(clash[0])} has the name of a record member",
            path=(clash[0],),
            hint="rename the field; " + ", ".join(sorted(members)) + " are reserved",
        )
    record = {k: v for k, v in (info or {}).items() if k not in members}
    record.update(fields)
    return record


def export_record(
    family: Family,
    fields: Mapping[str, Any],
    *,
    info: Mapping[str, Any] | None = None,
    version: Version | None = None,
) -> str:
    """Base64 text of the record for ``fields`` at ``version`` (current by default).

    ``info`` (such as ``{"driver_info": {...}}``) is merged under the fields: a key that is also
    a field keeps the field's value. Signed when the family has a signing key and the version
    declares a signature.
    """
    target = family.current if version is None else version
    record = build_record(family, fields, info)
    if "family" in family.schema(target).get("properties", {}):
        record["family"] = family.name
    container = family.new(record, version=target)
    # After the schema: a field it refuses is its ValidationError.
    check_fields(fields, hint=_EXPORT_HINT)
    data = dict(container.data)
    if target == family.versions[0]:
        del data["version"]  # Cinder's own record has no version member
    return base64.b64encode(canonical(data)).decode("ascii")


def decode_record(family: Family, backup_url: str | bytes) -> dict[str, Any]:
    """The JSON object inside a record, strictly parsed, before any check of its content."""
    limit = min(RECORD_TEXT_LIMIT, 4 * -(-family.limits.max_bytes // 3) * 77 // 76 + 64)
    if len(backup_url) > limit:
        raise RecordDecodeError(
            f"{DECODE_MESSAGE} (the record has {len(backup_url)} characters; at most {limit} "
            "are read)",
            hint="a backup record is the short base64 text export_record wrote",
        )
    try:
        raw = backup_url.encode("ascii") if isinstance(backup_url, str) else bytes(backup_url)
        # Python 2 wrapped base64 at 76 columns, so old records carry newlines.
        data = base64.b64decode(b"".join(raw.split()), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError) as err:
        raise RecordDecodeError(
            f"{DECODE_MESSAGE} ({err})",
            hint="pass the backup_url text exactly as export_record wrote it",
        ) from None
    try:
        return parse(data, family.limits)
    except ParseError as err:
        raise RecordParseError(
            f"{PARSE_MESSAGE} ({err})",
            hint="the record was cut short or is not a backup record",
        ) from None


def import_record(family: Family, backup_url: str | bytes) -> ImportedRecord:
    """Decode, check and upgrade a record; the importable fields become a :class:`Backup`.

    Raises :class:`RecordDecodeError` (bad base64), :class:`RecordParseError` (bad JSON),
    :class:`ForeignRecord` (another family's container), :class:`MissingRecordFields`,
    version, validation and integrity errors.
    """
    obj = decode_record(family, backup_url)
    found_family = obj.get("family")
    if found_family is not None and found_family != family.name:
        raise ForeignRecord(
            f"this is a {show(found_family)} container, not a backup record",
            path=("family",),
            hint="import it with the tool for that family",
        )
    if "version" not in obj:
        if found_family is not None:
            raise MissingVersion(family.name, family.versions)
        obj["version"] = family.versions[0]
    missing = [name for name in REQUIRED_FIELDS if name not in obj]
    if missing:
        raise MissingRecordFields(missing)
    version = family.detect(obj)
    stray = sorted((_members(family) - _members(family, version)) & obj.keys())
    if stray:
        # A version 2 record relabelled version 1 would skip its digest check.
        raise RecordError(
            f"a version {version} record has no {show(stray[0])} member",
            path=(stray[0],),
            hint="the record's version was changed or the record altered; export it again",
        )
    if family.signing_key is not None and family.spec(version).integrity is None:
        raise SignatureError(
            f"version {version} records cannot be signed and a signing key is configured",
            path="$",
            hint="export the record again with the operator key (version 2 or later)",
        )
    container = family.load(obj)
    members = _members(family)
    fields = {k: v for k, v in container.data.items() if k not in members}
    driver_info = fields.pop(DRIVER_INFO, None)
    ignored = tuple(sorted(k for k in fields if _never_imported(k)))
    for name in ignored:
        check_text(name, (name,))  # listed as ignored: a name shown like any other
        del fields[name]
    check_fields(fields)
    return ImportedRecord(
        backup=Backup.from_fields(fields),
        driver_info=driver_info,
        version=container.written_version,
        signature=container.signature,
        ignored=ignored,
    )


def wrap(backup_service: str, backup_url: str) -> dict[str, Any]:
    """The API's envelope: ``{"backup-record": {"backup_service", "backup_url"}}``."""
    return {"backup-record": {"backup_service": backup_service, "backup_url": backup_url}}
