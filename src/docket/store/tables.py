"""Cinder's tables: the layout ``init_db`` creates, and what the store reads of a live database.

The store never relies on a table having exactly the columns docket declares. It reflects the
four tables once per engine (:func:`layout`), requires only the columns it works with, and
reads every column of ``volumes`` whatever the release that made it.
"""

from __future__ import annotations

import codecs
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from docket.core.errors import StoreError, show
from docket.store.errors import DatabaseUnreachable, MissingTable, reason_of, where
from docket.store.values import Kind

VOLUMES = "volumes"
USER = "volume_metadata"
GLANCE = "volume_glance_metadata"
TYPES = "volume_types"
BACKUPS = "backups"


def _datetime() -> Any:
    # MySQL's DATETIME drops the microseconds Cinder's timestamps carry; keep them.
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


# Every column of Cinder 29's volume row, in the model's order (the order its get() writes).
_VOLUME_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("id", sa.String(36)),
    ("_name_id", sa.String(36)),
    ("use_quota", sa.Boolean()),
    ("ec2_id", sa.String(255)),
    ("user_id", sa.String(255)),
    ("project_id", sa.String(255)),
    ("snapshot_id", sa.String(36)),
    ("cluster_name", sa.String(255)),
    ("host", sa.String(255)),
    ("size", sa.Integer()),
    ("availability_zone", sa.String(255)),
    ("status", sa.String(255)),
    ("attach_status", sa.String(255)),
    ("migration_status", sa.String(255)),
    ("scheduled_at", _datetime()),
    ("launched_at", _datetime()),
    ("terminated_at", _datetime()),
    ("display_name", sa.String(255)),
    ("display_description", sa.String(255)),
    ("provider_location", sa.String(256)),
    ("provider_auth", sa.String(256)),
    ("provider_geometry", sa.String(255)),
    ("provider_id", sa.String(255)),
    ("volume_type_id", sa.String(36)),
    ("source_volid", sa.String(36)),
    ("encryption_key_id", sa.String(36)),
    ("consistencygroup_id", sa.String(36)),
    ("group_id", sa.String(36)),
    ("bootable", sa.Boolean()),
    ("multiattach", sa.Boolean()),
    ("replication_status", sa.String(255)),
    ("replication_extended_status", sa.String(255)),
    ("replication_driver_data", sa.String(255)),
    ("previous_status", sa.String(255)),
    ("service_uuid", sa.String(36)),
    ("shared_targets", sa.Boolean()),
    ("deleted_at", _datetime()),
    ("deleted", sa.Boolean()),
    ("created_at", _datetime()),
    ("updated_at", _datetime()),
)

# Cinder 29's ``backups`` row after the timestamps, in its model's order; ``docket audit --db``
# reads id, volume_id, parent_id, status, container, service_metadata, service and deleted.
_BACKUP_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("user_id", sa.String(255)),
    ("project_id", sa.String(255)),
    ("volume_id", sa.String(36)),
    ("host", sa.String(255)),
    ("availability_zone", sa.String(255)),
    ("display_name", sa.String(255)),
    ("display_description", sa.String(255)),
    ("container", sa.String(255)),
    ("parent_id", sa.String(36)),
    ("status", sa.String(255)),
    ("fail_reason", sa.String(255)),
    ("service_metadata", sa.String(255)),
    ("service", sa.String(255)),
    ("size", sa.Integer()),
    ("object_count", sa.Integer()),
    ("temp_volume_id", sa.String(36)),
    ("temp_snapshot_id", sa.String(36)),
    ("num_dependent_backups", sa.Integer()),
    ("snapshot_id", sa.String(36)),
    ("data_timestamp", _datetime()),
    ("restore_volume_id", sa.String(36)),
    ("encryption_key_id", sa.String(36)),
)
_BACKUP_REQUIRED = frozenset({"user_id", "project_id", "volume_id"})

_TABLE_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", _datetime()),
        sa.Column("updated_at", _datetime()),
        sa.Column("deleted_at", _datetime()),
        sa.Column("deleted", sa.Boolean(), default=False),
    ]


def cinder_metadata() -> sa.MetaData:
    """Cinder 29's layout of ``volumes``, ``volume_metadata``, ``volume_glance_metadata``,
    ``volume_types`` and ``backups`` (what :func:`docket.store.init_db` creates): the tables
    the store and ``docket audit --db`` read.

    Differences, on purpose: ``volumes.volume_type_id`` may be null (as before Cinder made it
    NOT NULL, so the "target has no type" rule can be exercised), and MySQL tables are
    ``utf8mb4`` (Cinder's are ``utf8``, which cannot hold 4-byte characters).
    """
    md = sa.MetaData()
    sa.Table(
        TYPES,
        md,
        *_timestamps(),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("qos_specs_id", sa.String(36)),
        sa.Column("is_public", sa.Boolean()),
        sa.Column("description", sa.String(255)),
        **_TABLE_OPTIONS,
    )
    columns = []
    for name, type_ in _VOLUME_COLUMNS:
        if name == "id":
            columns.append(sa.Column(name, type_, primary_key=True))
        elif name in ("deleted", "bootable", "multiattach"):
            columns.append(sa.Column(name, type_, default=False))
        else:
            columns.append(sa.Column(name, type_))
    sa.Table(VOLUMES, md, *columns, **_TABLE_OPTIONS)
    sa.Table(
        USER,
        md,
        *_timestamps(),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "volume_id", sa.String(36), sa.ForeignKey("volumes.id"), nullable=False, index=True
        ),
        sa.Column("key", sa.String(255)),
        sa.Column("value", sa.String(255)),
        **_TABLE_OPTIONS,
    )
    sa.Table(
        GLANCE,
        md,
        *_timestamps(),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("volume_id", sa.String(36), sa.ForeignKey("volumes.id"), index=True),
        sa.Column("snapshot_id", sa.String(36), index=True),
        sa.Column("key", sa.String(255)),
        sa.Column("value", sa.Text()),
        **_TABLE_OPTIONS,
    )
    sa.Table(
        BACKUPS,
        md,
        *_timestamps(),
        sa.Column("id", sa.String(36), primary_key=True),
        *(sa.Column(n, t, nullable=n not in _BACKUP_REQUIRED) for n, t in _BACKUP_COLUMNS),
        **_TABLE_OPTIONS,
    )
    return md


# --- what the store reads of a live database ---------------------------------------------------

_REQUIRED: Mapping[str, tuple[str, ...]] = {
    VOLUMES: ("id", "deleted"),
    USER: ("id", "volume_id", "key", "value", "deleted"),
    GLANCE: ("id", "volume_id", "key", "value", "deleted"),
    TYPES: ("id", "deleted"),
}
_OPTIONAL = ("created_at", "updated_at", "deleted_at")

_SQL_TYPES: Mapping[Kind, Any] = {
    Kind.NAIVE_DATETIME: sa.DateTime,
    Kind.UTC_DATETIME: sa.DateTime,
    Kind.BOOLEAN: sa.Boolean,
    Kind.INTEGER: sa.Integer,
}

# MySQL's text types hold bytes, not characters.
_MYSQL_TEXT_BYTES = {
    "TINYTEXT": 255,
    "TEXT": 65_535,
    "MEDIUMTEXT": 16_777_215,
    "LONGTEXT": 4_294_967_295,
}


@dataclass(frozen=True)
class Limit:
    """How much a text column holds."""

    size: int
    unit: str
    """``"characters"`` or ``"bytes"`` (MySQL's TEXT types)."""

    @property
    def surely_fits(self) -> int:
        """Text of at most this many characters fits without measuring it."""
        return self.size // 4 if self.unit == "bytes" else self.size  # UTF-8: <= 4 bytes each

    charset: str | None = None
    """MySQL/MariaDB: the column's character set when it cannot hold every character (as
    ``utf8mb3``, which holds none beyond U+FFFF); None: it holds any text."""

    def measure(self, text: str) -> int:
        return len(text.encode("utf-8")) if self.unit == "bytes" else len(text)

    def unstorable(self, text: str) -> str | None:
        """The first character of ``text`` the column's character set cannot hold, if any."""
        if self.charset is None or text.isascii():
            return None
        return _first_unstorable(text, self.charset)


# MySQL's character sets that hold every character; those that hold the Basic Multilingual
# Plane only; and Python's names for the others, whose text is checked by encoding it.
_MYSQL_ALL_TEXT = frozenset({"utf8mb4", "utf16", "utf16le", "utf32", "binary"})
_MYSQL_BMP = frozenset({"utf8mb3", "utf8", "ucs2"})
_MYSQL_CODECS = {"latin1": "cp1252", "koi8r": "koi8_r", "koi8u": "koi8_u", "ujis": "euc_jp"}
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _first_unstorable(text: str, charset: str) -> str | None:
    if charset in _MYSQL_BMP:
        found = _ASTRAL.search(text)
        return found.group() if found else None
    codec = _MYSQL_CODECS.get(charset, charset)
    try:
        codecs.lookup(codec)
    except LookupError:
        codec = "ascii"  # a character set Python does not know: only ASCII is sure to fit
    for character in text:
        try:
            character.encode(codec)
        except UnicodeEncodeError:
            return character
    return None


def _mysql_charsets(conn: sa.Connection, table: str) -> dict[str, str]:
    """Per text column of ``table``, its character set when it cannot hold every character."""
    rows = conn.execute(
        sa.text(
            "SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table"
        ),
        {"table": table},
    )
    return {
        str(name): str(charset).lower()
        for name, charset in rows
        if charset is not None and str(charset).lower() not in _MYSQL_ALL_TEXT
    }


@dataclass(frozen=True)
class Layout:
    """The four tables as this database has them, typed for the store."""

    dialect: str
    volumes: sa.Table
    """Every column of ``volumes``, in the database's order."""
    user: sa.Table
    glance: sa.Table
    types: sa.Table
    hints: Mapping[str, Kind]
    """Per ``volumes`` column, the kind its SQL type suggests."""
    limits: Mapping[tuple[str, str], Limit]
    """Per (table, column), what a text column holds."""
    ranges: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    """Per (table, column), the least and greatest integer an integer column holds."""

    @property
    def case_insensitive_keys(self) -> bool:
        return self.dialect in ("mysql", "mariadb")


def _is_mysql_bool(type_: Any) -> bool:
    return isinstance(type_, mysql.TINYINT) and getattr(type_, "display_width", None) == 1


def _hint(type_: Any) -> Kind | None:
    if isinstance(type_, sa.DateTime):
        return Kind.NAIVE_DATETIME
    if isinstance(type_, sa.Boolean) or _is_mysql_bool(type_):
        return Kind.BOOLEAN
    if isinstance(type_, sa.Integer):
        return Kind.INTEGER
    if isinstance(type_, sa.Uuid):
        return Kind.UUID
    return None


# Bits of the integer types whose SQLAlchemy class does not say (MySQL's); INTEGER is 32.
_INT_BITS = {"TINYINT": 8, "MEDIUMINT": 24}


def _int_range(type_: Any) -> tuple[int, int] | None:
    """The integers a column of ``type_`` holds, as its declared type says (SQLite's INTEGER,
    which stores 64 bits, is taken at its word: the same values fit on every database)."""
    if not isinstance(type_, sa.Integer) or _is_mysql_bool(type_):
        return None
    if isinstance(type_, sa.BigInteger):
        bits = 64
    elif isinstance(type_, sa.SmallInteger):
        bits = 16
    else:
        bits = _INT_BITS.get(type(type_).__name__.upper(), 32)
    if getattr(type_, "unsigned", False):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _limit(type_: Any, dialect: str) -> Limit | None:
    if dialect in ("mysql", "mariadb"):
        name = type(type_).__name__.upper()
        if name in _MYSQL_TEXT_BYTES:
            return Limit(_MYSQL_TEXT_BYTES[name], "bytes")
    if isinstance(type_, sa.String) and type_.length is not None:
        return Limit(type_.length, "characters")
    return None


_Ranges = dict[tuple[str, str], tuple[int, int]]


def _reflect(
    conn: sa.Connection, name: str, kinds: Mapping[str, Kind], md: sa.MetaData
) -> tuple[sa.Table, dict[str, Kind], dict[tuple[str, str], Limit], _Ranges]:
    try:
        reflected = sa.inspect(conn).get_columns(name)
    except sa.exc.NoSuchTableError:
        reflected = []
    if not reflected:
        raise MissingTable(name)
    present = {c["name"] for c in reflected}
    missing = [c for c in _REQUIRED[name] if c not in present]
    if missing:
        raise StoreError(
            f"table {show(name)} has no column(s) {', '.join(missing)}",
            hint="docket works on Cinder's layout of this table",
        )
    keep_all = name == VOLUMES
    dialect = conn.dialect.name
    columns = []
    hints: dict[str, Kind] = {}
    limits: dict[tuple[str, str], Limit] = {}
    ranges: _Ranges = {}
    charsets = _mysql_charsets(conn, name) if dialect in ("mysql", "mariadb") else {}
    for col in reflected:
        cname = col["name"]
        if not keep_all and cname not in _REQUIRED[name] and cname not in _OPTIONAL:
            continue
        kind = kinds.get(cname)
        type_ = col["type"]
        if kind is not None and kind in _SQL_TYPES:
            typed = _SQL_TYPES[kind]()
        elif cname in ("deleted",) or _is_mysql_bool(type_):
            typed = sa.Boolean()
        elif cname in _OPTIONAL:
            typed = sa.DateTime()
        else:
            typed = type_
        hint = _hint(typed)
        if hint is not None:
            hints[cname] = hint
        limit = _limit(type_, dialect)
        if limit is not None:
            limits[(name, cname)] = replace(limit, charset=charsets.get(cname))
        span = _int_range(type_)
        if span is not None:
            ranges[(name, cname)] = span
        columns.append(sa.Column(cname, typed, primary_key=cname == "id"))
    return sa.Table(name, md, *columns), hints, limits, ranges


def connect(engine: sa.Engine) -> sa.Connection:
    """``engine.connect()``, a database that cannot be connected to (down, a wrong password
    or database name) being :class:`~docket.store.errors.DatabaseUnreachable`, as
    :func:`~docket.store.open_engine` reports it, for callers that made the engine
    themselves."""
    try:
        return engine.connect()
    except sa.exc.DBAPIError as err:
        raise DatabaseUnreachable(where(engine.url), reason_of(err)) from err


def reflect_layout(engine: sa.Engine, kinds: Mapping[str, Kind]) -> Layout:
    """Read the four tables' columns from the database (``kinds``: the volume fields' kinds)."""
    md = sa.MetaData()
    with connect(engine) as conn:
        volumes, hints, limits, ranges = _reflect(conn, VOLUMES, kinds, md)
        user, _, user_limits, _ = _reflect(conn, USER, {}, md)
        glance, _, glance_limits, _ = _reflect(conn, GLANCE, {}, md)
        types, _, _, _ = _reflect(conn, TYPES, {}, md)
        dialect = conn.dialect.name
    return Layout(
        dialect=dialect,
        volumes=volumes,
        user=user,
        glance=glance,
        types=types,
        hints=hints,
        limits={**limits, **user_limits, **glance_limits},
        ranges=ranges,
    )


# Reflection costs a few queries; do it once per engine (and family kinds), not per call.
# No lock: each access below is one operation on a dict (atomic), and two threads reflecting
# the same engine at once make equal layouts. A lock made at import would be one of
# eventlet's green locks in cinder-backup, where the engine's operations run in OS threads,
# and a green lock waited on across OS threads fails ("Cannot switch to a different thread").
_LAYOUTS: weakref.WeakKeyDictionary[sa.Engine, dict[tuple[tuple[str, Kind], ...], Layout]] = (
    weakref.WeakKeyDictionary()
)


def layout(engine: sa.Engine, kinds: Mapping[str, Kind]) -> Layout:
    """The reflected layout of ``engine``'s database, cached per engine."""
    key = tuple(sorted(kinds.items(), key=lambda kv: kv[0]))
    found = _LAYOUTS.get(engine, {}).get(key)
    if found is not None:
        return found
    made = reflect_layout(engine, kinds)
    _LAYOUTS.setdefault(engine, {})[key] = made
    return made


def forget_layout(engine: sa.Engine) -> None:
    """Drop the cached layout of ``engine`` (after its tables changed)."""
    _LAYOUTS.pop(engine, None)
