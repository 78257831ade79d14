"""The restore engine behind ``BackupMetadataAPI.put``/``put_many``.

Containers arrive loaded (parsed, validated, upgraded). For a batch, the engine selects the
target volumes in one query, plans every restore with the policy of the version each container
was written at, checks every value against its column (length, NUL, keys MySQL would merge),
and only then writes, with set-based statements: one ``UPDATE`` per shape of base write
(executemany), one select of the existing entries per metadata table, batched soft deletes,
then the updates and inserts of entries a few statements per table (on SQLite and PostgreSQL
the rows as one JSON text the database's ``json_each`` reads, on MySQL/MariaDB as rows of
parameters). The writes go in volume id order (updates of existing rows in row id order), not
the batch's: each index and table page is visited once, in order, instead of at random (a
restore of 10,000 volumes on SQLite read and wrote about a third fewer pages). The caller runs
it inside one transaction.
"""

from __future__ import annotations

import re
import sqlite3
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain, groupby, islice
from operator import itemgetter
from typing import Any

import orjson
import sqlalchemy as sa

from docket.core.errors import MigrationError, RestoreRefused, StoreError, json_path, show
from docket.core.family import Container, Family
from docket.core.policy import Dropped, Mode, RestorePlan, RestorePolicy
from docket.core.versions import Version
from docket.store.errors import (
    KeyConflict,
    UnstorableValue,
    ValueOutOfRange,
    ValueTooLong,
    VolumeNotFound,
)
from docket.store.sql import InSql, LazyRow, Sql, bind_processor, in_list, result_processors
from docket.store.tables import Layout
from docket.store.values import SectionValues, ValueConverter

BASE = "volume-base-metadata"
USER_SECTION = "volume-metadata"
GLANCE_SECTION = "volume-glance-metadata"

# Columns no policy may move: the row's identity and its soft-delete state.
_NEVER_WRITTEN = frozenset({"id", "deleted", "deleted_at"})


@dataclass(frozen=True)
class RestoreResult:
    """What one restore wrote, removed and left out."""

    volume_id: str
    version: Version
    """The version the container was written at (whose policy decided)."""
    written: Mapping[str, Mapping[str, Any]]
    """Per section, the values written (glance values as the text stored)."""
    removed: Mapping[str, tuple[str, ...]]
    """Per metadata section, the keys the restore soft-deleted from the volume."""
    plan: RestorePlan | None = field(default=None, repr=False, compare=False)
    """The plan the restore carried out (None: nothing was left out)."""

    @property
    def dropped(self) -> tuple[Dropped, ...]:
        """Fields the restore left out, each with the reason (made when first asked for:
        a bulk restore leaves out ~37 fields a volume, and most callers never look); a
        field a rule wrote is not among them (:attr:`RestorePlan.left_out`)."""
        return tuple(self.plan.left_out) if self.plan is not None else ()


@dataclass
class WorkItem:
    index: int
    volume_id: str
    container: Container


@dataclass
class _Planned:
    item: WorkItem
    plan: RestorePlan
    base: dict[str, Any] = field(default_factory=dict)
    """Column -> database value."""
    entries: dict[str, tuple[Mode, dict[str, Any]]] = field(default_factory=dict)
    """Metadata section -> (mode, key -> database value)."""


class _Target:
    """The restore target as rules see it: the volume row and lookups in its database."""

    __slots__ = ("_conn", "_found", "_restorer", "_row")

    def __init__(
        self,
        row: Mapping[str, Any],
        conn: sa.Connection,
        restorer: Restorer,
        found: dict[tuple[str, str], bool],
    ) -> None:
        self._row = row
        self._conn = conn
        self._restorer = restorer
        self._found = found

    @property
    def row(self) -> Mapping[str, Any]:
        return self._row

    def exists(self, kind: str, key: Any) -> bool:
        if not isinstance(key, str):
            return self._restorer.exists(self._conn, kind, key)
        # Shared by a round's targets: many volumes restored onto one type ask once.
        found = self._found.get((kind, key))
        if found is None:
            found = self._found[(kind, key)] = self._restorer.exists(self._conn, kind, key)
        return found


def _fits(lay: Layout, table: str, column: str) -> int:
    """How long a text in ``table.column`` may be and surely fit (so only longer text is
    measured); -1 in a narrow character set (utf8mb3, latin1), where every text is checked."""
    limit = lay.limits.get((table, column))
    if limit is None:
        return 1 << 62
    return -1 if limit.charset is not None else limit.surely_fits


def _plain_texts(values: Mapping[str, Any], key_fits: int, value_fits: int) -> bool:
    """Whether every key and value of ``values`` is a ``str`` of at most ``key_fits`` and
    ``value_fits`` characters holding no NUL (then :meth:`Restorer._entries` changes none)."""
    if not values:
        return True
    texts = values.values()
    if not _STR_ONLY.issuperset(map(type, texts)):
        return False
    return (
        max(map(len, values)) <= key_fits
        and max(map(len, texts)) <= value_fits
        and "\x00" not in "".join(values)
        and "\x00" not in "".join(texts)
    )


_STR_ONLY = frozenset({str})


def may_name_a_row(text: str) -> bool:
    """Whether ``text`` could be an id in one of Cinder's rows: not when it holds NUL
    (PostgreSQL refuses it in a query, the others answer "not found") or a lone surrogate
    (no driver can send it; the command line makes one of each byte that is not UTF-8)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fetch(conn: sa.Connection, text: str, params: Any) -> Sequence[Any]:
    """All rows of a query, as the driver gives them (no per-row Row objects)."""
    result = conn.exec_driver_sql(text, params)
    try:
        rows: Sequence[Any] = result.cursor.fetchall()
        return rows
    finally:
        result.close()


def _same(value: Any) -> Any:
    return value


def _fold(key: str) -> str:
    """A printable ASCII key (:func:`_plain`) as MySQL/MariaDB's default collations compare
    it: case and trailing spaces ignored. Other keys are compared by the database itself
    (:func:`collation_conflict`): no folding in Python agrees with every collation (under
    ``utf8mb4_general_ci`` ``ß`` is ``s``, not ``ss``)."""
    return key.lower().rstrip(" ")


_COLLATION_NAME = re.compile(r"[A-Za-z0-9_]+")


def _plain(key: str) -> bool:
    """Printable ASCII: :func:`_fold` compares such keys exactly as MySQL/MariaDB do."""
    return key.isascii() and key.isprintable()


def collation_conflict(conn: sa.Connection, table: sa.Table, keys: Sequence[str]) -> list[str]:
    """Two of ``keys`` that the ``key`` column's collation holds equal (MySQL/MariaDB), or
    ``[]``. The database is asked: ``straße``/``strase`` or two emoji are one key under
    ``utf8mb4_general_ci``, which no Python folding reproduces for every collation."""
    info = conn.execute(
        sa.text(
            "SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t AND COLUMN_NAME = 'key'"
        ),
        {"t": table.name},
    ).first()
    if info is None or not all(_COLLATION_NAME.fullmatch(str(v or "")) for v in info):
        return []
    charset, collation = info
    rows = " UNION ALL ".join(f"SELECT :k{i} AS k, {i} AS i" for i in range(len(keys)))
    found = conn.execute(
        sa.text(
            "SELECT GROUP_CONCAT(i ORDER BY i) FROM (SELECT CONVERT(k USING "
            f"{charset}) COLLATE {collation} AS k, i FROM ({rows}) AS given) AS keyed "
            "GROUP BY k HAVING COUNT(*) > 1 LIMIT 1"
        ),
        {f"k{i}": key for i, key in enumerate(keys)},
    ).scalar()
    if not found:
        return []
    first, second = (int(i) for i in str(found).split(",")[:2])
    return [keys[first], keys[second]]


class _RowsSql:
    """Set-based writes of many metadata rows as SQL text, per row count: a multi-row
    ``INSERT ... VALUES``, and (not on MySQL/MariaDB, which lack ``UPDATE ... FROM``) an
    ``UPDATE`` joined to its new values. Parameters are positional, row after row."""

    def __init__(self, table: sa.Table, dialect: sa.Dialect) -> None:
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
        false = str(sa.false().compile(dialect=dialect))
        columns = ["volume_id", "key", "value", "deleted"]
        marks = [mark, mark, mark, false]
        if "created_at" in table.c:
            columns.append("created_at")
            marks.append(mark)
        name = quote(table.name)
        self._insert_head = f"INSERT INTO {name} ({', '.join(map(quote, columns))}) VALUES "
        self._insert_row = f"({', '.join(marks)})"
        self._update: tuple[str, str, str] | None = None
        self.stamped = "updated_at" in table.c
        """Whether the update takes the time (after the rows' values)."""
        if dialect.name in ("sqlite", "postgresql"):
            value, rid = quote("value"), quote("id")
            stamp = f", {quote('updated_at')} = {mark}" if "updated_at" in table.c else ""
            # The new value is text whatever the driver says (PostgreSQL infers the rest).
            cast = f"CAST({mark} AS TEXT)" if dialect.name == "postgresql" else mark
            self._update = (
                "WITH docket_new (rid, value) AS (VALUES ",
                f"({mark}, {cast})",
                f") UPDATE {name} SET {value} = docket_new.value{stamp} FROM docket_new "
                f"WHERE {name}.{rid} = docket_new.rid",
            )
        self._texts: dict[tuple[str, int], str] = {}
        self.created = "created_at" in table.c
        # SQLite (3.38+, JSON built in) and PostgreSQL take the rows as one JSON text, read by
        # the database's JSON functions in C: per value, no Python object to build and no
        # parameter to bind (psycopg dumps each element of an array parameter in Python).
        postgresql = dialect.name == "postgresql"
        self.json = postgresql or (
            dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 38)
        )
        """Whether :attr:`insert_json` and :attr:`update_json` are used."""
        # PostgreSQL: ``json`` (not ``jsonb``) keeps the members in the text's order.
        each = "json_each_text" if postgresql else "json_each"
        payload = f"CAST({mark} AS JSON)" if postgresql else mark
        row_id = "BIGINT" if postgresql else "INTEGER"
        self.insert_json = (
            f"{self._insert_head.removesuffix(' VALUES ')} SELECT v.key, e.key, e.value, {false}"
            f"{', ' + mark if self.created else ''} FROM json_each({payload}) AS v, "
            f"{each}(v.value) AS e"
        )
        """Rows as one JSON object: volume id -> {key: value} (created_at, when stamped, is
        the first parameter); each volume's rows are inserted in its object's order."""
        self.update_json = (
            f"WITH docket_new (rid, value) AS (SELECT CAST(key AS {row_id}), value FROM "
            f"{each}({payload})) UPDATE {name} SET {quote('value')} = docket_new.value"
            f"{', ' + quote('updated_at') + ' = ' + mark if self.stamped else ''} FROM docket_new "
            f"WHERE {name}.{quote('id')} = docket_new.rid"
        )
        """New values as one JSON object: row id -> value (updated_at, when stamped, is the
        second parameter)."""

    def insert(self, rows: int) -> str:
        return self._text("insert", rows)

    @property
    def update(self) -> Callable[[int], str] | None:
        return None if self._update is None else lambda rows: self._text("update", rows)

    def _text(self, kind: str, rows: int) -> str:
        found = self._texts.get((kind, rows))
        if found is None:
            if len(self._texts) > 32:  # a few lengths recur (full chunks, the rest)
                self._texts.clear()
            if kind == "insert":
                found = self._insert_head + ", ".join([self._insert_row] * rows)
            else:
                assert self._update is not None
                head, row, tail = self._update
                found = head + ", ".join([row] * rows) + tail
            self._texts[(kind, rows)] = found
        return found


_VOLUME_OF_ROW = itemgetter(1)
"""The volume id of an existing entry's row (id, volume_id, key, value)."""


def _by_volume(p: _Planned) -> str:
    """The order writes go in (each volume's own entries keep theirs)."""
    return p.item.volume_id


def _rounds(work: Sequence[WorkItem]) -> list[list[WorkItem]]:
    """Split a batch so no round names a volume twice; round k holds each volume's k-th
    restore, so restores of one volume still apply in order."""
    rounds: list[list[WorkItem]] = []
    seen: dict[str, int] = {}
    for item in work:
        n = seen.get(item.volume_id, 0)
        seen[item.volume_id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(item)
    return rounds


class Restorer:
    """Plans and writes restores for one family on one database layout."""

    def __init__(self, family: Family, lay: Layout, dialect: sa.Dialect, chunk_size: int) -> None:
        self.family = family
        self.layout = lay
        self.dialect = dialect
        self.chunk_size = chunk_size
        values = SectionValues.from_document(family.source.documents[family.current], BASE)
        vol = lay.volumes
        names = [str(c.name) for c in vol.columns]
        self._loaders: dict[str, ValueConverter | None] = values.loader(names, lay.hints)
        self._binds = {str(c.name): bind_processor(c, dialect) for c in vol.columns}
        # Per column, text this short needs no check but for NUL (-1: every text is checked).
        self._text_fits = {name: _fits(lay, "volumes", name) for name in names}
        self._index = {name: i for i, name in enumerate(names)}
        self._ranges = {c: span for (t, c), span in lay.ranges.items() if t == "volumes"}
        self._id = self._index["id"]
        self._processors = result_processors(vol, dialect)
        now_bind = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
        self._now_bind: Callable[[Any], Any] = now_bind if now_bind is not None else _same
        self._policies: dict[tuple[Version, Version, Version | None], RestorePolicy] = {}
        self._base_updates: dict[tuple[str, ...], Sql] = {}
        # Locked in id order, so two restores of overlapping volumes queue instead of each
        # holding a row the other waits for (PostgreSQL locks in scan order otherwise).
        self._targets = InSql.of(
            sa.select(vol)
            .where(in_list(vol.c.id), vol.c.deleted == sa.false())
            .order_by(vol.c.id)
            .with_for_update(),
            dialect,
        )
        self._exists = {
            kind: Sql.of(
                sa.select(t.c.id).where(t.c.id == sa.bindparam("key"), t.c.deleted == sa.false()),
                dialect,
            )
            for kind, t in (("volume_types", lay.types), ("volumes", vol))
        }
        self._tables = {USER_SECTION: lay.user, GLANCE_SECTION: lay.glance}
        self._entry_sql = {name: self._compile_entries(t) for name, t in self._tables.items()}
        self._rows_sql = {name: _RowsSql(t, dialect) for name, t in self._tables.items()}
        self._entry_fits = {
            name: (_fits(lay, t.name, "key"), _fits(lay, t.name, "value"))
            for name, t in self._tables.items()
        }

    def _compile_entries(self, t: sa.Table) -> tuple[InSql, InSql, Sql, Sql, tuple[str, ...]]:
        dialect = self.dialect
        existing = InSql.of(
            sa.select(t.c.id, t.c.volume_id, t.c.key, t.c.value)
            .where(in_list(t.c.volume_id), t.c.deleted == sa.false())
            .order_by(t.c.volume_id, t.c.id),
            dialect,
        )
        soft: dict[str, Any] = {"deleted": sa.true()}
        changed: dict[str, Any] = {"value": sa.bindparam("value")}
        row: dict[str, Any] = {
            "volume_id": sa.bindparam("volume_id"),
            "key": sa.bindparam("key"),
            "value": sa.bindparam("value"),
            "deleted": sa.false(),
        }
        fields: tuple[str, ...] = ("volume_id", "key", "value")
        for name in ("deleted_at", "updated_at"):
            if name in t.c:
                soft[name] = sa.bindparam("now")
        if "updated_at" in t.c:
            changed["updated_at"] = sa.bindparam("now")
        if "created_at" in t.c:
            row["created_at"] = sa.bindparam("now")
            fields = (*fields, "now")
        delete = InSql.of(sa.update(t).where(in_list(t.c.id)).values(soft), dialect)
        update = Sql.of(sa.update(t).where(t.c.id == sa.bindparam("rid")).values(changed), dialect)
        insert = Sql.of(sa.insert(t).values(row), dialect)
        return existing, delete, update, insert, fields

    # --- loading ----------------------------------------------------------------------------

    def load(self, data: str | bytes | bytearray | memoryview | Container) -> Container:
        """Parse, detect, validate and upgrade one container (no database access)."""
        if isinstance(data, Container):
            if data.family != self.family.name:
                raise MigrationError(
                    self.family.name,
                    data.version,
                    self.family.current,
                    f"the container belongs to family {show(data.family)}",
                )
            if data.version == self.family.current:
                return data
            return self.family.upgrade(data)
        return self.family.load(data)

    def policy(self, container: Container) -> RestorePolicy:
        """The policy ``container`` restores with (its written version's, at its shape)."""
        key = (container.written_version, container.version, container.floor)
        found = self._policies.get(key)
        if found is None:
            # Carrying a policy along the migrations costs more than planning; it depends
            # on the two versions only.
            found = self._policies[key] = self.family.restore_policy(container)
        return found

    # --- checking values --------------------------------------------------------------------

    def _check_text(self, table: str, column: str, section: str, name: str, text: str) -> None:
        if "\x00" in text:
            raise RestoreRefused(
                "the value holds a NUL character, which databases do not store alike",
                path=(section, name),
                hint="remove the NUL character",
            )
        limit = self.layout.limits.get((table, column))
        if limit is not None and limit.charset is not None:
            character = limit.unstorable(text)
            if character is not None:
                where = f"{table}.{column}"
                raise UnstorableValue((section, name), character, where, limit.charset)
        if limit is not None and len(text) > limit.surely_fits:
            size = limit.measure(text)
            if size > limit.size:
                raise ValueTooLong(
                    (section, name), size, limit.size, limit.unit, f"{table}.{column}"
                )

    def _base(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        columns = self._index
        for name, value in values.items():
            if name not in columns or name in _NEVER_WRITTEN:
                raise StoreError(
                    f"the restore policy writes {json_path([BASE, name])}, but the volumes "
                    "table has no such column docket may write",
                    hint="nothing was written: this database's Cinder release has no such "
                    "column (or a site policy names one it never had); restore into a "
                    "database whose volumes table has it, or leave the field out of the "
                    "policy's allowlist",
                )
            convert = self._loaders.get(name)
            if convert is not None and value is not None:
                try:
                    value = convert(value)
                except ValueError as err:
                    raise RestoreRefused(str(err), path=(BASE, name)) from None
            if isinstance(value, str) and (len(value) > self._text_fits[name] or "\x00" in value):
                self._check_text("volumes", name, BASE, name, value)
            elif type(value) is int and name in self._ranges:
                low, high = self._ranges[name]
                if not low <= value <= high:
                    raise ValueOutOfRange((BASE, name), value, low, high, f"volumes.{name}")
            bind = self._binds[name]
            out[name] = bind(value) if bind is not None and value is not None else value
        return out

    def _entries(self, section: str, values: Mapping[str, Any]) -> dict[str, Any]:
        table = self._tables[section].name
        glance = section == GLANCE_SECTION
        key_fits, value_fits = self._entry_fits[section]
        if not self.layout.case_insensitive_keys and _plain_texts(values, key_fits, value_fits):
            # Every key and value is text that fits and holds no NUL: what the loop below
            # gives back unchanged, found by a few passes in C.
            return dict(values)
        out: dict[str, Any] = {}
        for key, value in values.items():
            if len(key) > key_fits or "\x00" in key:
                self._check_text(table, "key", section, key, key)
            if glance:
                # Cinder stores every glance value as str(value).
                if type(value) is not str:
                    try:
                        value = str(value)
                    except ValueError as err:  # an integer too long to print
                        raise RestoreRefused(str(err), path=(section, key)) from None
            elif value is not None and type(value) is not str:
                raise RestoreRefused(
                    f"a metadata value must be text or null, not {type(value).__name__}",
                    path=(section, key),
                )
            if value is not None and (len(value) > value_fits or "\x00" in value):
                self._check_text(table, "value", section, key, value)
            out[key] = value
        if self.layout.case_insensitive_keys and len(out) > 1:
            folded: dict[str, str] = {}
            for key in filter(_plain, out):
                other = folded.setdefault(_fold(key), key)
                if other != key:
                    raise KeyConflict((section, key), [other, key], "MySQL/MariaDB")
        return out

    def _prepare(self, item: WorkItem, plan: RestorePlan) -> _Planned:
        planned = _Planned(item, plan)
        for name, write in plan.sections.items():
            if name == BASE:
                planned.base = self._base(write.values)
            elif name in self._tables:
                planned.entries[name] = (write.mode, self._entries(name, write.values))
            else:
                raise StoreError(
                    f"the restore policy writes section {show(name)}, which has no table in "
                    "Cinder's database",
                    hint="restore only volume-base-metadata, volume-metadata and "
                    "volume-glance-metadata",
                )
        return planned

    # --- writing ----------------------------------------------------------------------------

    def _chunks(self, seq: Sequence[Any], width: int = 1) -> Iterator[Sequence[Any]]:
        """``seq`` in chunks whose values (``width`` a row) one statement can carry."""
        size = max(1, self.chunk_size // width)
        for start in range(0, len(seq), size):
            yield seq[start : start + size]

    def restore(
        self, conn: sa.Connection, work: Sequence[WorkItem], now: Any
    ) -> list[RestoreResult]:
        """Restore every item on ``conn`` (inside the caller's transaction)."""
        results: dict[int, RestoreResult] = {}
        db_now = self._now_bind(now)
        for batch in _rounds(work):
            for planned, removed in self._round(conn, batch, db_now):
                item = planned.item
                written: dict[str, dict[str, Any]] = {}
                for name, w in planned.plan.sections.items():
                    if name in planned.entries:
                        # Made for this restore by _entries and only read since: no copy.
                        written[name] = planned.entries[name][1]
                    else:
                        written[name] = dict(w.values)
                results[item.index] = RestoreResult(
                    volume_id=item.volume_id,
                    version=item.container.written_version,
                    written=written,
                    removed={k: tuple(v) for k, v in removed.items()},
                    plan=planned.plan,
                )
        return [results[item.index] for item in work]

    def _round(
        self, conn: sa.Connection, batch: Sequence[WorkItem], now: Any
    ) -> list[tuple[_Planned, dict[str, list[str]]]]:
        ids = [item.volume_id for item in batch]
        targets: dict[str, Any] = {}
        for chunk in self._chunks(ids):
            for row in _fetch(conn, *self._targets.bind(chunk)):
                targets[row[self._id]] = row
        missing = [i for i in ids if i not in targets]
        if missing:
            raise VolumeNotFound(missing)
        planned = []
        found: dict[tuple[str, str], bool] = {}
        for item in batch:
            row = LazyRow(targets[item.volume_id], self._index, self._processors)
            target = _Target(row, conn, self, found)
            plan = self.policy(item.container).plan(item.container, target)
            planned.append(self._prepare(item, plan))
            if self.layout.case_insensitive_keys:
                self._check_collation(conn, planned[-1])
        # Everything is checked; from here on only the database can fail.
        self._write_base(conn, planned, now)
        removed: dict[str, dict[str, list[str]]] = {p.item.volume_id: {} for p in planned}
        for section in self._tables:
            self._write_entries(conn, section, planned, now, removed)
        return [(p, removed[p.item.volume_id]) for p in planned]

    def _check_collation(self, conn: sa.Connection, planned: _Planned) -> None:
        """Keys the database's collation holds equal are a :class:`KeyConflict` (asked of the
        database only when a key is not printable ASCII, which :func:`_fold` handles)."""
        for section, (_, entries) in planned.entries.items():
            keys = list(entries)
            if len(keys) < 2 or all(_plain(k) for k in keys):
                continue
            pair = collation_conflict(conn, self._tables[section], keys)
            if pair:
                raise KeyConflict((section, pair[1]), pair, "MySQL/MariaDB")

    def _same_key(
        self, conn: sa.Connection, section: str, entries: Mapping[str, Any]
    ) -> Callable[[Any], bool]:
        """Whether an existing key is, to MySQL/MariaDB's collation, one of ``entries``' keys
        spelt otherwise (``Owner`` for ``owner``): a merge then replaces its row, as Cinder
        overwrites it, rather than leave two rows of one key."""
        folded = {_fold(k) for k in entries if _plain(k)}
        asked = not all(map(_plain, entries))
        table = self._tables[section]

        def same(key: Any) -> bool:
            if not isinstance(key, str) or not entries or key in entries:
                return False  # (a second row of a key given stays, as on every database)
            if _plain(key) and not asked:
                return _fold(key) in folded
            # The entries are one key each to the database: a pair it finds holds ``key``.
            return bool(collation_conflict(conn, table, [key, *entries]))

        return same

    def exists(self, conn: sa.Connection, kind: str, key: Any) -> bool:
        sql = self._exists.get(kind)
        if sql is None:
            raise ValueError(
                f"unknown kind {show(kind)}; the store knows {', '.join(self._exists)}"
            )
        if not isinstance(key, str) or not may_name_a_row(key):
            return False  # the same answer on every database, without asking
        return bool(_fetch(conn, sql.text, sql.params({"key": key})))

    def _base_update(self, columns: tuple[str, ...]) -> Sql:
        sql = self._base_updates.get(columns)
        if sql is None:
            vol = self.layout.volumes
            values: dict[str, Any] = {c: sa.bindparam(f"p{i}") for i, c in enumerate(columns)}
            if "updated_at" in vol.c and "updated_at" not in columns:
                values["updated_at"] = sa.bindparam("now")
            stmt = sa.update(vol).where(vol.c.id == sa.bindparam("volume_id")).values(values)
            sql = self._base_updates[columns] = Sql.of(stmt, self.dialect)
        return sql

    def _write_base(self, conn: sa.Connection, planned: Sequence[_Planned], now: Any) -> None:
        # Per shape of write, rows (the values..., now, volume id) in volume id order.
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for p in sorted(planned, key=_by_volume):
            if p.base:
                groups.setdefault(tuple(p.base), []).append(
                    (*p.base.values(), now, p.item.volume_id)
                )
        for columns, rows in groups.items():
            sql = self._base_update(columns)
            fields = (*(f"p{i}" for i in range(len(columns))), "now", "volume_id")
            for chunk in self._chunks(rows):
                conn.exec_driver_sql(sql.text, sql.many(fields, chunk))

    def _write_entries(
        self,
        conn: sa.Connection,
        section: str,
        planned: Sequence[_Planned],
        now: Any,
        removed: dict[str, dict[str, list[str]]],
    ) -> None:
        todo = sorted((p for p in planned if section in p.entries), key=_by_volume)
        if not todo:
            return
        existing_sql, delete_sql, update_sql, _insert, fields = self._entry_sql[section]
        # Rows come in volume id, then row id order: taken a volume at a time (a collation
        # that holds two ids equal may interleave their rows; each volume's stay in order).
        existing: dict[str, list[tuple[Any, str, str, Any]]] = {}
        for chunk in self._chunks([p.item.volume_id for p in todo]):
            for vid, group in groupby(_fetch(conn, *existing_sql.bind(chunk)), _VOLUME_OF_ROW):
                existing.setdefault(vid, []).extend(group)
        deletes: list[Any] = []
        updates: list[tuple[Any, Any]] = []
        # Per volume, the entries to insert (a round names each volume once).
        fresh: dict[str, dict[str, Any]] = {}
        for p in todo:
            vid = p.item.volume_id
            mode, entries = p.entries[section]
            there = existing.get(vid)
            if not there:
                fresh[vid] = entries
                continue
            kept: set[str] = set()
            same = None
            if mode is not Mode.REPLACE and self.layout.case_insensitive_keys:
                same = self._same_key(conn, section, entries)
            for rid, _, key, value in there:
                if key in entries and key not in kept:
                    kept.add(key)
                    if value != entries[key]:
                        updates.append((rid, entries[key]))
                elif mode is Mode.REPLACE or (same is not None and same(key)):
                    # Keys the backup lacks, and second rows of a key, go (soft-deleted);
                    # so does a key MySQL holds equal to a new one, which replaces it.
                    deletes.append(rid)
                    removed[vid].setdefault(section, []).append(key)
            if kept:
                # The entries less the kept keys, in order (a copy and a few deletes in C).
                entries = dict(entries)
                for key in kept:
                    del entries[key]
            fresh[vid] = entries
        for chunk in self._chunks(deletes):
            conn.exec_driver_sql(*delete_sql.bind(chunk, {"now": now}))
        rows = self._rows_sql[section]
        updates.sort()  # in row order: each table page once
        self._write_updates(conn, rows, update_sql, updates, now)
        if rows.json:
            for payload in self._json_chunks(fresh, nested=True):
                params = (now, payload) if rows.created else (payload,)
                conn.exec_driver_sql(rows.insert_json, params)
            return
        keys = [k for entries in fresh.values() for k in entries]
        if not keys:
            return
        vids = [vid for vid, entries in fresh.items() for _ in entries]
        values = [v for entries in fresh.values() for v in entries.values()]
        columns = [vids, keys, values] + ([[now] * len(keys)] if len(fields) == 4 else [])
        inserts = list(zip(*columns, strict=True))
        # One multi-row INSERT per chunk.
        for chunk in self._chunks(inserts, len(fields)):
            conn.exec_driver_sql(rows.insert(len(chunk)), tuple(chain.from_iterable(chunk)))

    def _write_updates(
        self,
        conn: sa.Connection,
        rows: _RowsSql,
        update_sql: Sql,
        updates: Sequence[tuple[Any, Any]],
        now: Any,
    ) -> None:
        """Set the new values of existing rows: ``updates`` are (row id, value)."""
        if not updates:
            return
        if rows.json:
            # Integer row ids, written as JSON's member names by orjson.
            for payload in self._json_chunks(dict(updates)):
                params = (payload, now) if rows.stamped else (payload,)
                conn.exec_driver_sql(rows.update_json, params)
        elif rows.update is None:  # MySQL/MariaDB: the driver's executemany
            for chunk in self._chunks(updates):
                conn.exec_driver_sql(
                    update_sql.text,
                    update_sql.many(("rid", "value", "now"), [(*u, now) for u in chunk]),
                )
        else:
            # One statement per chunk: the new values joined in as a VALUES list.
            for chunk in self._chunks(updates, 2):
                flat = [v for u in chunk for v in u]
                params = (*flat, now) if rows.stamped else tuple(flat)
                conn.exec_driver_sql(rows.update(len(chunk)), params)

    def _json_chunks(self, items: Mapping[Any, Any], nested: bool = False) -> Iterator[str]:
        """``items`` as JSON objects of about ``chunk_size`` values each (with ``nested``,
        every value is an object and counts its members), each within :data:`_MAX_JSON`
        bytes when it can be. The cuts are found by bisection over running totals, and the
        members are taken in slices, not one by one."""
        counts = list(accumulate(map(len, items.values()))) if nested else None
        members = iter(items.items())
        done = taken = 0
        while taken < len(items):
            if counts is None:
                end = min(len(items), taken + self.chunk_size)
            else:
                end = min(len(items), bisect_left(counts, done + self.chunk_size, taken) + 1)
                done = counts[end - 1]
            yield from _json_texts(dict(islice(members, end - taken)))
            taken = end


# Text SQLite binds in one piece stays well below its default length limit (10**9 bytes).
_MAX_JSON = 64 * 1024 * 1024


def _json_texts(members: dict[Any, Any]) -> Iterator[str]:
    """``members`` as JSON objects of at most :data:`_MAX_JSON` bytes (split in halves
    until they fit; one member too large for that is one object). Integer member names
    are written as text."""
    text = orjson.dumps(members, option=orjson.OPT_NON_STR_KEYS)
    if len(text) <= _MAX_JSON or len(members) == 1:
        yield text.decode()
        return
    keys = list(members)
    half = len(keys) // 2
    yield from _json_texts({k: members[k] for k in keys[:half]})
    yield from _json_texts({k: members[k] for k in keys[half:]})
