"""Typed values: a version's JSON values and the database values they stand for.

A version document types its section fields with ``x-docket-type`` (``naive-datetime``,
``utc-datetime``, ``uuid``, ``boolean``, ``integer``, ``string``). From that this module builds a
marshmallow schema per section, the reference definition of how a database value (a
``datetime``, a ``bool``, an ``int``, a ``UUID``...) becomes the JSON value a container holds and
back. Hot paths (a store dumping ten thousand volume rows) use converters compiled per field
from the same kinds; ``tests/store/test_values.py`` proves the two agree.

A value that has no JSON form (bytes that are not text, a float that is not finite, an object
of no known type) is never dropped silently and never crashes a dump: it is left out of the
section and reported as an :class:`Unserializable` (section, field, type name).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import marshmallow
from marshmallow import fields

from docket.core.errors import json_path, show
from docket.store.errors import InvalidValue

__all__ = [
    "Kind",
    "SectionValues",
    "Unserializable",
    "kinds_of",
]

UTC = dt.UTC


class Kind(enum.Enum):
    """How a field's value is typed on both sides (``x-docket-type``, or ``any``)."""

    NAIVE_DATETIME = "naive-datetime"
    """A naive UTC ``datetime`` <-> ``YYYY-MM-DDTHH:MM:SS.ffffff`` (Cinder's form)."""
    UTC_DATETIME = "utc-datetime"
    """A UTC ``datetime`` <-> ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (docket's v3 form)."""
    UUID = "uuid"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    STRING = "string"
    ANY = "any"
    """Untyped: any JSON value as it is; other database values by their Python type."""


@dataclass(frozen=True)
class Unserializable:
    """A database value that has no JSON form and was left out of a dump."""

    section: str
    field: str
    type_name: str
    volume_id: str | None = None

    @property
    def path(self) -> str:
        return json_path([self.section, self.field])

    def __str__(self) -> str:
        where = f"volume {self.volume_id}: " if self.volume_id else ""
        return f"{where}{self.path}: a {self.type_name} value does not serialize; left out"


class NoJSON(Exception):
    """Raised by a converter: the value has no JSON form under its field's kind."""


def _utf8_text(value: bytes | bytearray | memoryview) -> str:
    """Bytes as the text they encode in UTF-8; ``NoJSON`` when they encode none."""
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise NoJSON from None


# --- the value forms -------------------------------------------------------------------------

_NAIVE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\Z")
_AWARE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\Z")


def _as_naive_utc(value: dt.datetime) -> dt.datetime:
    # The database keeps naive UTC; an aware value (a timestamptz column) is moved to UTC.
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def naive_text(value: dt.datetime) -> str:
    """Cinder's datetime text: ``YYYY-MM-DDTHH:MM:SS.ffffff``, UTC, no offset."""
    # isoformat, not strftime: glibc's %Y does not zero-pad years before 1000.
    return _as_naive_utc(value).isoformat(timespec="microseconds")


def utc_text(value: dt.datetime) -> str:
    """docket's canonical aware form: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return naive_text(value) + "Z"


def parse_naive(text: str) -> dt.datetime:
    if not _NAIVE_TEXT.match(text):
        raise InvalidValue(text, f"{show(text)} is not a timestamp YYYY-MM-DDTHH:MM:SS[.ffffff]")
    return dt.datetime.fromisoformat(text)


def parse_utc(text: str) -> dt.datetime:
    """An aware timestamp as the naive UTC ``datetime`` a database column holds."""
    if not _AWARE_TEXT.match(text):
        raise InvalidValue(text, f"{show(text)} is not a timezone-aware timestamp")
    return (
        dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
    )


# --- marshmallow fields: the reference definition ----------------------------------------------


class _StrictDateTime(fields.DateTime):
    """Serializes only a ``datetime`` and loads only text (marshmallow would take a date or a
    number); the subclasses below put it before the marshmallow field whose form they use."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is not None and not isinstance(value, dt.datetime):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class CinderDateTime(_StrictDateTime, fields.NaiveDateTime):
    """A naive UTC datetime in Cinder's text form."""

    SERIALIZATION_FUNCS = {**fields.NaiveDateTime.SERIALIZATION_FUNCS, "cinder": naive_text}
    DESERIALIZATION_FUNCS = {**fields.NaiveDateTime.DESERIALIZATION_FUNCS, "cinder": parse_naive}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="cinder", timezone=UTC, **kwargs)


class UTCDateTime(_StrictDateTime, fields.AwareDateTime):
    """A UTC datetime as ``...Z`` text; loads to the naive UTC value a database column holds."""

    SERIALIZATION_FUNCS = {**fields.AwareDateTime.SERIALIZATION_FUNCS, "utc": utc_text}
    DESERIALIZATION_FUNCS = {
        **fields.AwareDateTime.DESERIALIZATION_FUNCS,
        "utc": lambda text: parse_utc(text).replace(tzinfo=UTC),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="utc", default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        aware = super()._deserialize(value, attr, data, **kwargs)
        return aware.astimezone(UTC).replace(tzinfo=None)


class _ExactLoad(fields.Field[Any]):
    """Loads only a JSON value of exactly type ``exact``: no ``true`` for 1, no 1 for ``true``."""

    exact: ClassVar[type]

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if type(value) is not self.exact:
            raise self.make_error("invalid", input=value)
        return value


class StrictBoolean(_ExactLoad, fields.Boolean):
    """A boolean; databases without one (MySQL ``TINYINT(1)``) give 0 and 1."""

    exact = bool

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(truthy={True}, falsy={False}, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        if type(value) is bool or (type(value) is int and value in (0, 1)):
            return bool(value)
        raise self.make_error("invalid", input=value)


class StrictInteger(_ExactLoad, fields.Integer):
    """An integer, never a bool or a float in disguise."""

    exact = int

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        if type(value) is int:
            return value
        if isinstance(value, decimal.Decimal) and value.is_finite() and value == int(value):
            return int(value)
        raise self.make_error("invalid", input=value)


class UUIDText(fields.UUID):
    """A UUID kept as text on both sides (Cinder's ids are ``VARCHAR(36)``)."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, str):
            return value
        raise self.make_error("invalid_uuid")

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid_uuid")
        super()._deserialize(value, attr, data, **kwargs)  # checks the form
        return value


class StrictString(fields.String):
    """Text; UTF-8 bytes and UUIDs become text, anything else does not serialize."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, bytes | bytearray | memoryview):
            try:
                return bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise self.make_error("invalid_utf8") from None
        raise self.make_error("invalid")

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


def _any_to_json(value: Any, datetime_kind: Kind) -> Any:
    """The JSON form of an untyped database value (by its Python type), or ``NoJSON``."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise NoJSON
    if isinstance(value, dt.datetime):
        return utc_text(value) if datetime_kind is Kind.UTC_DATETIME else naive_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        # As Cinder's serializer does for these two types.
        if isinstance(value, decimal.Decimal) and not value.is_finite():
            raise NoJSON
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _utf8_text(value)
    raise NoJSON


class AnyValue(fields.Raw):
    """An untyped value: JSON values as they are, other database values by their type."""

    def __init__(self, *, datetime_kind: Kind = Kind.NAIVE_DATETIME, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.datetime_kind = datetime_kind

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        try:
            return _any_to_json(value, self.datetime_kind)
        except NoJSON:
            raise marshmallow.ValidationError("the value has no JSON form") from None


_FIELDS: dict[Kind, type[fields.Field[Any]]] = {
    Kind.NAIVE_DATETIME: CinderDateTime,
    Kind.UTC_DATETIME: UTCDateTime,
    Kind.BOOLEAN: StrictBoolean,
    Kind.INTEGER: StrictInteger,
    Kind.UUID: UUIDText,
    Kind.STRING: StrictString,
}


def marshmallow_field(
    kind: Kind, *, datetime_kind: Kind = Kind.NAIVE_DATETIME
) -> fields.Field[Any]:
    """The marshmallow field that defines ``kind``."""
    if kind is Kind.ANY:
        return AnyValue(allow_none=True, datetime_kind=datetime_kind)
    return _FIELDS[kind](allow_none=True)


# --- compiled converters: the fast path --------------------------------------------------------

ValueConverter = Callable[[Any], Any]
"""Turns a non-null value into its other form; raises ``NoJSON``/``ValueError`` if none."""


def _dump_naive(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return naive_text(value)
    raise NoJSON


def _dump_utc(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return utc_text(value)
    raise NoJSON


def _dump_bool(value: Any) -> Any:
    if value is True or value is False:
        return value
    if type(value) is int and (value == 0 or value == 1):
        return value == 1
    raise NoJSON


def _dump_int(value: Any) -> Any:
    if type(value) is int:
        return value
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == int(value):
        return int(value)
    raise NoJSON


def _dump_uuid(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    raise NoJSON


def _dump_str(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return _utf8_text(value)
    return _dump_uuid(value)  # text as it is, a UUID as its text


def _dump_any_naive(value: Any) -> Any:
    return _any_to_json(value, Kind.NAIVE_DATETIME)


def _dump_any_utc(value: Any) -> Any:
    return _any_to_json(value, Kind.UTC_DATETIME)


def _load_naive(value: Any) -> Any:
    if not isinstance(value, str):
        raise InvalidValue(value, "expected a timestamp string")
    return parse_naive(value)


def _load_utc(value: Any) -> Any:
    if not isinstance(value, str):
        raise InvalidValue(value, "expected a timestamp string")
    return parse_utc(value)


def _load_bool(value: Any) -> Any:
    if type(value) is not bool:
        raise InvalidValue(value, "expected a boolean")
    return value


def _load_int(value: Any) -> Any:
    if type(value) is not int:
        raise InvalidValue(value, "expected an integer")
    return value


def _load_uuid(value: Any) -> Any:
    if not isinstance(value, str):
        raise InvalidValue(value, "expected a UUID string")
    try:
        uuid.UUID(value)
    except ValueError as err:
        raise InvalidValue(value, str(err)) from None
    return value


def _load_str(value: Any) -> Any:
    if not isinstance(value, str):
        raise InvalidValue(value, "expected a string")
    return value


_DUMPERS: dict[Kind, ValueConverter] = {
    Kind.NAIVE_DATETIME: _dump_naive,
    Kind.UTC_DATETIME: _dump_utc,
    Kind.BOOLEAN: _dump_bool,
    Kind.INTEGER: _dump_int,
    Kind.UUID: _dump_uuid,
    Kind.STRING: _dump_str,
}
_LOADERS: dict[Kind, ValueConverter | None] = {
    Kind.NAIVE_DATETIME: _load_naive,
    Kind.UTC_DATETIME: _load_utc,
    Kind.BOOLEAN: _load_bool,
    Kind.INTEGER: _load_int,
    Kind.UUID: _load_uuid,
    Kind.STRING: _load_str,
    Kind.ANY: None,
}


def dump_converter(kind: Kind, *, datetime_kind: Kind = Kind.NAIVE_DATETIME) -> ValueConverter:
    """The compiled database -> JSON converter of ``kind`` (for non-null values)."""
    if kind is Kind.ANY:
        return _dump_any_utc if datetime_kind is Kind.UTC_DATETIME else _dump_any_naive
    return _DUMPERS[kind]


def load_converter(kind: Kind) -> ValueConverter | None:
    """The compiled JSON -> database converter of ``kind``; None when values pass as they are."""
    return _LOADERS[kind]


# --- sections ----------------------------------------------------------------------------------


def _kind_of(prop: Any) -> Kind:
    if not isinstance(prop, Mapping):
        return Kind.ANY
    declared = prop.get("x-docket-type")
    if declared is not None:
        return Kind(declared)
    types = prop.get("type")
    if isinstance(types, str):
        types = [types]
    if isinstance(types, list):
        named = [t for t in types if t != "null"]
        if named == ["string"]:
            return Kind.STRING
        if named == ["integer"]:
            return Kind.INTEGER
        if named == ["boolean"]:
            return Kind.BOOLEAN
    return Kind.ANY


def kinds_of(document: Mapping[str, Any], section: str) -> dict[str, Kind]:
    """The kind of every property a version document declares for ``section``."""
    props = document["schema"].get("properties", {}).get(section, {}).get("properties", {})
    return {name: _kind_of(prop) for name, prop in props.items()}


_TEXT_AS_IS = frozenset({Kind.STRING, Kind.UUID, Kind.ANY})

RowDumper = Callable[[Sequence[Any], "str | None"], tuple[dict[str, Any], list[Unserializable]]]


@dataclass(frozen=True)
class SectionValues:
    """The typed fields of one section of one version.

    ``kinds`` comes from the version document; a field it does not name (a column another
    release added) takes the kind its database column suggests (``hints``), else ``any``.
    Datetimes of unnamed fields take ``datetime_kind``, the form the version uses.
    """

    section: str
    kinds: Mapping[str, Kind]
    datetime_kind: Kind = Kind.NAIVE_DATETIME

    @classmethod
    def from_document(cls, document: Mapping[str, Any], section: str) -> SectionValues:
        kinds = kinds_of(document, section)
        utc = any(k is Kind.UTC_DATETIME for k in kinds.values())
        return cls(section, kinds, Kind.UTC_DATETIME if utc else Kind.NAIVE_DATETIME)

    def kind(self, name: str, hint: Kind | None = None) -> Kind:
        """The kind of field ``name`` (``hint``: what its database column says)."""
        found = self.kinds.get(name)
        if found is not None:
            return found
        if hint in (Kind.NAIVE_DATETIME, Kind.UTC_DATETIME):
            return self.datetime_kind
        return hint if hint is not None else Kind.ANY

    # --- the reference (marshmallow) ----------------------------------------------------

    def schema(
        self, names: Iterable[str], hints: Mapping[str, Kind] | None = None
    ) -> marshmallow.Schema:
        """A marshmallow schema over ``names``."""
        hints = hints or {}
        declared: dict[str, fields.Field[Any]] = {
            name: marshmallow_field(
                self.kind(name, hints.get(name)), datetime_kind=self.datetime_kind
            )
            for name in names
        }
        schema_class = marshmallow.Schema.from_dict(declared, name=f"Section_{self.section}")
        return schema_class(unknown=marshmallow.RAISE)

    def dump(
        self,
        row: Mapping[str, Any],
        hints: Mapping[str, Kind] | None = None,
        *,
        volume_id: str | None = None,
    ) -> tuple[dict[str, Any], list[Unserializable]]:
        """A row's JSON values through marshmallow, and the values that have none."""
        schema = self.schema(row, hints)
        out: dict[str, Any] = {}
        report: list[Unserializable] = []
        for name, value in row.items():
            try:
                out[name] = schema.fields[name].serialize(name, row)
            except (marshmallow.ValidationError, TypeError, ValueError, AttributeError):
                report.append(Unserializable(self.section, name, type(value).__name__, volume_id))
        return out, report

    def load(
        self, values: Mapping[str, Any], hints: Mapping[str, Kind] | None = None
    ) -> dict[str, Any]:
        """JSON values as database values through marshmallow; raises
        ``marshmallow.ValidationError`` naming every bad field."""
        loaded: dict[str, Any] = self.schema(values, hints).load(values)
        return loaded

    # --- the fast path ------------------------------------------------------------------

    def dumper(
        self,
        names: Sequence[str],
        hints: Mapping[str, Kind] | None = None,
        pre: Sequence[Callable[[Any], Any] | None] | None = None,
    ) -> RowDumper:
        """A compiled function: a row (values in ``names`` order) -> (JSON values, report).

        ``pre`` holds, per field, a function applied first to a non-null value (a database
        driver's value turned into Python's, e.g. SQLite's datetime text); None for none.
        """
        hints = hints or {}
        pres = list(pre) if pre is not None else [None] * len(names)
        if len(pres) != len(names):
            raise ValueError("pre must have one entry per name")
        # The function is generated with one unrolled step per field, the way attrs and
        # dataclasses build their methods: a row is 40 columns and a backup is many rows.
        namespace: dict[str, Any] = {
            "_Unserializable": Unserializable,
            "_ERRORS": (NoJSON, ValueError, TypeError),
            "_section": self.section,
        }
        lines = [
            "def dump(row, volume_id=None):",
            "    out = {}",
            "    report = []",
        ]
        for i, (name, before) in enumerate(zip(names, pres, strict=True)):
            kind = self.kind(name, hints.get(name))
            namespace[f"_c{i}"] = dump_converter(kind, datetime_kind=self.datetime_kind)
            namespace[f"_n{i}"] = name
            call = f"_c{i}(v)"
            if before is not None:
                namespace[f"_p{i}"] = before
                call = f"_c{i}(_p{i}(v))"
            test = "v is None or type(v) is str" if kind in _TEXT_AS_IS else "v is None"
            lines += [
                f"    v = row[{i}]",
                f"    if {test}:",
                f"        out[_n{i}] = v",
                "    else:",
                "        try:",
                f"            out[_n{i}] = {call}",
                "        except _ERRORS:",
                "            report.append(",
                f"                _Unserializable(_section, _n{i}, type(v).__name__, volume_id)",
                "            )",
            ]
        lines.append("    return out, report")
        exec(compile("\n".join(lines), f"<docket dumper {self.section}>", "exec"), namespace)
        dump: RowDumper = namespace["dump"]
        return dump

    def loader(
        self, names: Iterable[str], hints: Mapping[str, Kind] | None = None
    ) -> dict[str, ValueConverter | None]:
        """Compiled JSON -> database converters per field (None: the value passes as is)."""
        hints = hints or {}
        return {name: load_converter(self.kind(name, hints.get(name))) for name in names}
