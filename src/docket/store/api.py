"""Cinder's ``BackupMetadataAPI`` on SQLAlchemy: back up and restore volume metadata in
Cinder's own tables (``volumes``, ``volume_metadata``, ``volume_glance_metadata``,
``volume_types``).

The store reads a database docket did not create: it reflects the four tables once per engine,
needs only the columns it works with, and puts every column of the volume row into
``volume-base-metadata``. Soft-deleted rows do not exist for it, and it removes metadata the
way Cinder does (``deleted`` true, ``deleted_at`` now). It creates tables only when asked
(:func:`init_db`).

A restore runs one way: parse, detect the version, validate, upgrade, plan with the policy of
the version the container was written at, then write, all in one transaction. If any step
fails (a rule refuses, a value does not fit, the database errors, the connection drops) the
database is as it was. Bulk calls (:meth:`BackupMetadataAPI.get_many`,
:meth:`BackupMetadataAPI.put_many`) run a fixed number of statements per table for up to
``chunk_size`` volumes, not statements per volume.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import logging
import random
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from docket.core.errors import DocketError, StoreError, UsageError, ValidationError
from docket.core.family import Container, Family, VersionSpec
from docket.core.registry import Registry, load_registry
from docket.core.versions import Version
from docket.store.errors import (
    ConnectionLost,
    DatabaseUnreachable,
    Deadlock,
    VolumeNotFound,
    conflict,
    database_error,
    reason_of,
    where,
)
from docket.store.restore import Restorer, RestoreResult, WorkItem, may_name_a_row
from docket.store.sql import InSql, in_list, result_processors
from docket.store.tables import (
    TYPES,
    Layout,
    cinder_metadata,
    connect,
    forget_layout,
    layout,
)
from docket.store.values import (
    Kind,
    NoJSON,
    RowDumper,
    SectionValues,
    Unserializable,
    dump_converter,
)

LOG = logging.getLogger(__name__)

FAMILY = "backup-metadata"
BASE = "volume-base-metadata"
USER_SECTION = "volume-metadata"
GLANCE_SECTION = "volume-glance-metadata"
DEFAULT_CHUNK = 10_000
"""Volumes per bulk statement: within every database's parameter limit."""


# --- engines and tables ------------------------------------------------------------------------


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's BEGIN (below) start transactions, so reads and writes share one,
    # instead of the driver's implicit BEGIN before the first write only.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """An engine with sane defaults: SQLite with foreign keys, a busy timeout and one
    transaction per ``begin``; MySQL in ``utf8mb4``, whatever character set the URL names,
    with a strict ``sql_mode`` (what a column cannot hold fails, not altered).

    Pooled connections are not pinged at every checkout (a round trip per call): a read that
    finds its connection dead runs again once on a new one, and a restore pings its
    connection itself before it starts.
    """
    u = sa.make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = sa.create_engine(u, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend in ("mysql", "mariadb"):
        # Every connection talks utf8mb4, even when the URL names another set (Cinder's
        # often say ?charset=utf8): a connection in utf8mb3 hands the server an emoji it
        # stores as "?" under a non-strict sql_mode, and one in latin1 cannot even encode
        # it. What a column's own set cannot hold is refused by the restore (tables.py).
        u = u.update_query_dict({"charset": "utf8mb4"})
        engine = sa.create_engine(u, **kwargs)
        sa.event.listen(engine, "connect", _mysql_strict)
        return engine
    return sa.create_engine(u, **kwargs)


def _mysql_strict(dbapi_conn: Any, _record: Any) -> None:
    # Refuse, never alter: a value docket's own checks let through that a column cannot take
    # fails the restore (rolled back whole) instead of being truncated, clamped or turned
    # into "?" by a server whose sql_mode is not strict, as oslo.db makes Cinder's sessions.
    # The server's other modes (ANSI_QUOTES, which SQLAlchemy read at the first connect)
    # are kept.
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(
            "SET SESSION sql_mode = IF(@@SESSION.sql_mode = '', 'STRICT_ALL_TABLES', "
            "CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES'))"
        )
    finally:
        cursor.close()


@contextlib.contextmanager
def _engine(engine_or_url: sa.Engine | str | sa.URL) -> Iterator[sa.Engine]:
    if isinstance(engine_or_url, sa.Engine):
        yield engine_or_url
        return
    engine = make_engine(engine_or_url)
    try:
        yield engine
    finally:
        engine.dispose()


def init_db(engine_or_url: sa.Engine | str | sa.URL) -> None:
    """Create Cinder's tables that docket reads (:func:`~docket.store.cinder_metadata`) where
    they do not exist (for a demo or test database; docket never does this by itself)."""
    with _engine(engine_or_url) as engine:
        try:
            cinder_metadata().create_all(engine, checkfirst=True)
        except sa.exc.SQLAlchemyError as err:
            raise database_error("create the tables", err) from err
        forget_layout(engine)


def _now() -> dt.datetime:
    # Cinder keeps naive UTC timestamps.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _volume_kinds(family: Family) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for version in reversed(family.versions):
        for name, kind in SectionValues.from_document(
            family.source.documents[version], BASE
        ).kinds.items():
            kinds.setdefault(name, kind)
    return kinds


@functools.cache
def _bundled_registry() -> Registry:
    # Registries are immutable values; reading and checking the bundled schemas once is enough.
    return load_registry()


def _default_layout(engine: sa.Engine) -> Layout:
    return layout(engine, _volume_kinds(_bundled_registry().family(FAMILY)))


def create_volume_type(
    engine: sa.Engine, *, type_id: str | None = None, name: str | None = None
) -> str:
    """Add a volume type (test/demo helper); returns its id."""
    type_id = type_id or str(uuid.uuid4())
    row = {
        "id": type_id,
        "name": name or f"type-{type_id[:8]}",
        "is_public": True,
        "deleted": False,
        "created_at": _now(),
    }
    try:
        with engine.begin() as conn:
            table = sa.Table(TYPES, sa.MetaData(), autoload_with=conn)
            conn.execute(table.insert(), {k: v for k, v in row.items() if k in table.c})
    except sa.exc.SQLAlchemyError as err:
        raise database_error("create the volume type", err) from err
    return type_id


def create_volume(
    engine: sa.Engine,
    *,
    volume_id: str | None = None,
    display_name: str | None = None,
    display_description: str | None = None,
    size: int = 1,
    volume_type_id: str | None = None,
    metadata: Mapping[str, str | None] | None = None,
    glance: Mapping[str, Any] | None = None,
    **columns: Any,
) -> str:
    """Add a volume with its metadata (test/demo helper); returns its id.

    ``columns`` sets any other column of the volume row. Glance values are stored as text, as
    Cinder stores them.
    """
    lay = _default_layout(engine)
    volume_id = volume_id or str(uuid.uuid4())
    now = _now()
    row: dict[str, Any] = {
        "id": volume_id,
        "display_name": display_name,
        "display_description": display_description,
        "size": size,
        "volume_type_id": volume_type_id,
        "status": "available",
        "attach_status": "detached",
        "bootable": False,
        "multiattach": False,
        "use_quota": True,
        "shared_targets": True,
        "deleted": False,
        "created_at": now,
    }
    row = {k: v for k, v in row.items() if k in lay.volumes.c}
    unknown = [c for c in columns if c not in lay.volumes.c]
    if unknown:
        raise StoreError(
            f"table volumes has no column(s) {', '.join(unknown)}",
            hint="pass only columns the volumes table has",
        )
    row.update(columns)

    def entries(table: sa.Table, items: Mapping[str, Any], text: bool) -> list[dict[str, Any]]:
        out = []
        for key, value in items.items():
            entry = {
                "volume_id": volume_id,
                "key": key,
                "value": str(value) if text else value,
                "deleted": False,
            }
            if "created_at" in table.c:
                entry["created_at"] = now
            out.append(entry)
        return out

    try:
        with engine.begin() as conn:
            conn.execute(lay.volumes.insert(), row)
            if metadata:
                conn.execute(lay.user.insert(), entries(lay.user, metadata, False))
            if glance:
                conn.execute(lay.glance.insert(), entries(lay.glance, glance, True))
    except sa.exc.SQLAlchemyError as err:
        raise database_error("create the volume", err) from err
    return volume_id


# --- the API -------------------------------------------------------------------------------------


@dataclass
class _Reads:
    """How ``get`` reads one database and writes one version: compiled SQL and the row dumper."""

    volumes: InSql
    entries: dict[str, InSql]
    """Per metadata section: its live rows (volume_id, key, value)."""
    aggregates: dict[str, InSql]
    """Per metadata section, where the database can: (volume_id, entries as a JSON object,
    count of entries that are not text)."""
    dump_row: RowDumper
    id_index: int
    begin: bool
    """Whether to open the read transaction by hand (SQLite's driver would not)."""
    together: InSql | None
    """Where the database can (PostgreSQL): one statement giving each volume's row followed
    by, per metadata section, its live entries as a JSON array ``[object, entries left
    out]`` (the entries whose key is null). One statement is one snapshot, so a restore
    committing meanwhile is seen whole or not at all, without a transaction of its own."""


class BackupMetadataAPI:
    """Cinder's ``BackupMetadataAPI`` (``get``/``put``) over a database, plus bulk calls.

    ``version`` is the container version ``get`` writes: 2 by default (what Cinder writes), 1
    for an older Cinder, or 3 (docket's, with a digest; signed when the registry has a key).
    ``chunk_size`` bounds the volumes one bulk statement names.
    """

    deadlock_retries: int = 3
    """Times a restore the database failed to break a deadlock is run again before
    :class:`~docket.store.errors.Deadlock` is raised (0: never)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        version: Version = 2,
        registry: Registry | None = None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if not isinstance(engine, sa.Engine):
            # A URL passed as it is, Cinder's way of naming the database: refused by name
            # here rather than as an AttributeError at the first use.
            raise UsageError(
                "engine",
                f"a {type(engine).__name__} is not a SQLAlchemy engine",
                hint="make one from the database URL with docket.store.open_engine(url) "
                "(checked) or docket.store.make_engine(url)",
            )
        self.engine = engine
        self.registry = registry if registry is not None else _bundled_registry()
        self.family = self.registry.family(FAMILY)
        self.family.spec(version)  # an unknown version is a typed error here, not on first use
        self.version = version
        if chunk_size < 1:
            raise UsageError("chunk_size", f"{chunk_size} is not at least 1")
        # A statement names at most as many values as the driver takes parameters.
        self.chunk_size = min(chunk_size, _max_parameters(engine.dialect) - 16)
        self._report: list[Unserializable] = []

    # --- shared ---------------------------------------------------------------------------

    @functools.cached_property
    def layout(self) -> Layout:
        """The reflected tables of this engine's database."""
        try:
            return layout(self.engine, _volume_kinds(self.family))
        except sa.exc.SQLAlchemyError as err:
            raise database_error("read the table layout", err, self.engine) from err

    @functools.cached_property
    def _reads(self) -> _Reads:
        lay = self.layout
        dialect = self.engine.dialect
        vol = lay.volumes
        names = [str(c.name) for c in vol.columns]
        values = SectionValues.from_document(self.family.source.documents[self.version], BASE)

        tables = {USER_SECTION: lay.user, GLANCE_SECTION: lay.glance}

        def entries(table: sa.Table) -> InSql:
            stmt = sa.select(table.c.volume_id, table.c.key, table.c.value).where(
                in_list(table.c.volume_id), table.c.deleted == sa.false()
            )
            return InSql.of(stmt, dialect)

        return _Reads(
            volumes=InSql.of(
                sa.select(vol).where(in_list(vol.c.id), vol.c.deleted == sa.false()), dialect
            ),
            entries={name: entries(t) for name, t in tables.items()},
            aggregates={
                name: InSql.of(stmt, dialect)
                for name, t in tables.items()
                if (stmt := _aggregate(t, dialect.name)) is not None
            },
            dump_row=values.dumper(names, lay.hints, result_processors(vol, dialect)),
            id_index=names.index("id"),
            begin=dialect.name == "sqlite",
            together=(
                InSql.of(_together(vol, [lay.user, lay.glance]), dialect)
                if dialect.name == "postgresql"
                else None
            ),
        )

    @functools.cached_property
    def _spec(self) -> VersionSpec:
        return self.family.spec(self.version)

    @functools.cached_property
    def _restorer(self) -> Restorer:
        return Restorer(self.family, self.layout, self.engine.dialect, self.chunk_size)

    @property
    def last_report(self) -> tuple[Unserializable, ...]:
        """Values the last ``get``/``get_many`` left out because they do not serialize."""
        return tuple(self._report)

    # --- backing up -----------------------------------------------------------------------

    def get(self, volume_id: str) -> str:
        """The volume's metadata container as JSON text, at the configured version."""
        return self.get_many([volume_id])[volume_id]

    def get_many(self, volume_ids: Iterable[str]) -> dict[str, str]:
        """Containers of many volumes, by id, with a fixed number of queries per table for up
        to ``chunk_size`` volumes (one query in all on PostgreSQL). A missing volume is
        :class:`VolumeNotFound` (for all)."""
        ids: list[str] = list(dict.fromkeys(volume_ids))
        unnamed = _unnameable(ids)
        if unnamed:
            raise VolumeNotFound(unnamed)
        reads = self._reads
        rows: dict[str, Sequence[Any]] = {}
        user: dict[str, dict[str, Any]] = {}
        glance: dict[str, dict[str, Any]] = {}
        report: list[Unserializable] = []
        driver_error = self.engine.dialect.loaded_dbapi.Error
        for attempt in (1, 2):
            try:
                self._read(ids, rows, user, glance, report)
                break
            except _Disconnected as lost:
                if attempt == 1:
                    # A pooled connection the server dropped (no ping at checkout): the
                    # read runs again, once, on a new one.
                    for partial in (rows, user, glance, report):
                        partial.clear()
                    continue
                err = lost.__cause__ if isinstance(lost.__cause__, Exception) else lost
                raise ConnectionLost(
                    where(self.engine.url), "read the volumes", reason_of(err)
                ) from err
            except driver_error as err:
                raise database_error("read the volumes", err, self.engine) from err
            except sa.exc.DBAPIError as err:
                if attempt == 1 and err.connection_invalidated:
                    for partial in (rows, user, glance, report):
                        partial.clear()
                    continue
                raise database_error("read the volumes", err, self.engine) from err
            except sa.exc.SQLAlchemyError as err:
                raise database_error("read the volumes", err, self.engine) from err
        result: dict[str, str] = {}
        version = self.version
        for vid in ids:
            base, problems = reads.dump_row(rows[vid], vid)
            if problems:
                for p in problems:
                    LOG.info("%s", p)
                report.extend(problems)
            container: dict[str, Any] = {"version": version, BASE: base}
            if vid in user:
                container[USER_SECTION] = user[vid]
            if vid in glance:
                container[GLANCE_SECTION] = glance[vid]
            result[vid] = self._render(container)
        self._report = report
        return result

    def _read(
        self,
        ids: Sequence[str],
        rows: dict[str, Sequence[Any]],
        user: dict[str, dict[str, Any]],
        glance: dict[str, dict[str, Any]],
        report: list[Unserializable],
    ) -> None:
        """Read the rows and metadata of ``ids`` into the dicts given."""
        reads = self._reads
        with connect(self.engine) as conn:
            if reads.together is not None:
                # One statement per chunk: no transaction needed (nor BEGIN and ROLLBACK).
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            # The driver's cursor, not Connection.execute: for these small, repeated
            # queries SQLAlchemy's per-execution work costs more than the query.
            dbapi_conn = conn.connection.dbapi_connection
            cursor = dbapi_conn.cursor()  # type: ignore[union-attr]
            try:
                if reads.begin:
                    cursor.execute("BEGIN")  # one snapshot for the row and its metadata
                for start in range(0, len(ids), self.chunk_size):
                    chunk = ids[start : start + self.chunk_size]
                    if reads.together is not None:
                        self._read_together(cursor, chunk, rows, (user, glance), report)
                        continue
                    cursor.execute(*reads.volumes.bind(chunk))
                    for row in cursor.fetchall():
                        rows[row[reads.id_index]] = row
                    missing = [i for i in chunk if i not in rows]
                    if missing:
                        raise VolumeNotFound(missing)
                    for store, section in ((user, USER_SECTION), (glance, GLANCE_SECTION)):
                        self._read_entries(cursor, section, chunk, store, report)
            except self.engine.dialect.loaded_dbapi.Error as err:
                if self.engine.dialect.is_disconnect(err, dbapi_conn, cursor):
                    conn.invalidate()  # not back to the pool
                    raise _Disconnected from err
                raise
            finally:
                with contextlib.suppress(Exception):  # a dead connection's cursor, too
                    cursor.close()

    def _read_together(
        self,
        cursor: Any,
        chunk: Sequence[str],
        rows: dict[str, Sequence[Any]],
        stores: tuple[dict[str, dict[str, Any]], ...],
        report: list[Unserializable],
    ) -> None:
        reads = self._reads
        assert reads.together is not None
        cursor.execute(*reads.together.bind(chunk))
        width = len(self.layout.volumes.columns)
        id_index = reads.id_index
        loads = orjson.loads
        for row in cursor.fetchall():
            vid = row[id_index]
            rows[vid] = row
            for store, section, packed in zip(
                stores, (USER_SECTION, GLANCE_SECTION), row[width:], strict=True
            ):
                entries, left_out = loads(packed)
                if entries is not None:
                    store[vid] = entries
                for _ in range(left_out):  # null keys: no JSON member can hold them
                    report.append(Unserializable(section, "None", "NoneType", vid))
                    LOG.info("%s", report[-1])
        missing = [i for i in chunk if i not in rows]
        if missing:
            raise VolumeNotFound(missing)

    def _read_entries(
        self,
        cursor: Any,
        section: str,
        ids: Sequence[str],
        store: dict[str, dict[str, Any]],
        report: list[Unserializable],
    ) -> None:
        """Read one metadata table's live entries of ``ids`` into ``store``."""
        reads = self._reads
        aggregate = reads.aggregates.get(section)
        if aggregate is not None:
            # The database builds each volume's object: one row per volume, not per entry.
            cursor.execute(*aggregate.bind(ids))
            odd = []
            for vid, entries, unusual in cursor.fetchall():
                if unusual:
                    odd.append(vid)  # keys or values that are not text: read them one by one
                else:
                    store[vid] = entries if isinstance(entries, dict) else orjson.loads(entries)
            if not odd:
                return
            ids = odd
        cursor.execute(*reads.entries[section].bind(ids))
        for vid, key, value in cursor.fetchall():
            if type(key) is not str or (value is not None and type(value) is not str):
                value = _odd_entry(section, vid, key, value, report)
                if value is _SKIP:
                    continue
            entries = store.get(vid)
            if entries is None:
                entries = store[vid] = {}
            entries[key] = value

    def _render(self, container: dict[str, Any]) -> str:
        spec = self._spec
        if spec.integrity is not None:
            del container["version"]
            made = self.family.new(container, version=self.version)
            return self.family.dump(made, version=self.version).decode("utf-8")
        # docket never writes a container it would refuse to read.
        if not spec.is_valid(container):
            issues = spec.issues(container)
            if issues:
                raise ValidationError(self.family.name, self.version, issues)
        return orjson.dumps(container).decode("utf-8")

    # --- restoring ------------------------------------------------------------------------

    def put(
        self, volume_id: str, json_metadata: str | bytes | bytearray | memoryview | Container
    ) -> RestoreResult:
        """Restore a container into volume ``volume_id`` in one transaction (all or nothing)."""
        return self.put_many([(volume_id, json_metadata)])[0]

    def put_many(
        self,
        items: Iterable[tuple[str, str | bytes | bytearray | memoryview | Container]],
    ) -> list[RestoreResult]:
        """Restore many containers in one transaction: all of them, or (on any error) none.

        Every container is parsed, validated and upgraded before the database is touched. A
        volume named twice is restored twice, in order. Python's cyclic garbage collector is
        paused for the call (:func:`collector_paused`).
        """
        with collector_paused():
            return self._put_many(items)

    def _put_many(
        self,
        items: Iterable[tuple[str, str | bytes | bytearray | memoryview | Container]],
    ) -> list[RestoreResult]:
        restorer = self._restorer
        work: list[WorkItem] = []
        for index, (volume_id, data) in enumerate(items):
            try:
                work.append(WorkItem(index, volume_id, restorer.load(data)))
            except DocketError as err:
                err.add_note(f"item {index}: volume {volume_id}")
                raise
        if not work:
            return []
        unnamed = _unnameable([item.volume_id for item in work])
        if unnamed:
            raise VolumeNotFound(unnamed)
        attempt = 1
        while True:
            committing = False
            try:
                with connect(self.engine) as conn:
                    _revive(conn)
                    with conn.begin():
                        results = restorer.restore(conn, work, _now())
                        committing = True
                    return results
            except sa.exc.DBAPIError as err:
                if not conflict(err):
                    raise database_error(
                        "restore", err, self.engine, at_commit=committing
                    ) from err
                if attempt > self.deadlock_retries:
                    raise Deadlock(attempt, str(database_error("restore", err).reason)) from err
                # The database rolled the whole transaction back, so running it again is
                # safe; a random pause keeps the two sides from meeting the same way again.
                LOG.info("restore attempt %d lost a deadlock; trying again", attempt)
                time.sleep(random.uniform(0.005, 0.05) * attempt)
                attempt += 1
            except sa.exc.SQLAlchemyError as err:
                raise database_error("restore", err, self.engine) from err


def _unnameable(volume_ids: Iterable[str]) -> list[str]:
    """The ids no volume row can have (:func:`~docket.store.restore.may_name_a_row`), found
    without asking the database."""
    return [vid for vid in volume_ids if not may_name_a_row(vid)]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while the block runs, and enabled again after
    (if it was enabled before).

    A bulk restore holds a dozen objects per container until it commits; the collector,
    triggered by allocations, walks all of them again and again (a restore of 10,000 Cinder
    containers spent about a tenth of its CPU time in it, finding nothing: restoring makes no
    reference cycles). Memory is still freed as usual by reference counting; cycles made
    meanwhile by other threads wait until the block ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_SKIP: Any = object()


def _max_parameters(dialect: sa.Dialect) -> int:
    """How many bound parameters one statement may carry on this database."""
    if dialect.name == "sqlite":
        return 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999
    if dialect.name == "postgresql":
        return 65_535
    return 50_000  # MySQL drivers send the values inline; this keeps packets modest


def _revive(conn: sa.Connection) -> None:
    """Ping a server database's pooled connection once before a restore (there is no ping
    at every checkout) and swap it for a new one if the server dropped it. The ping goes to
    the driver directly: it is no statement of the restore. A server that is down by now
    is :class:`~docket.store.errors.DatabaseUnreachable`, as at the first connection."""
    dialect = conn.dialect
    if dialect.name == "sqlite":
        return
    dbapi_conn = conn.connection.dbapi_connection
    if dbapi_conn is None:
        return
    try:
        dialect.do_ping(dbapi_conn)
    except dialect.loaded_dbapi.Error as err:
        if not dialect.is_disconnect(err, dbapi_conn, None):
            raise
        conn.invalidate()
        try:
            conn.connection  # noqa: B018  (connects anew, here rather than at the BEGIN)
        except sa.exc.DBAPIError as lost:
            raise DatabaseUnreachable(where(conn.engine.url), reason_of(lost)) from lost


class _Disconnected(Exception):
    """A read found its pooled connection dead (the driver's error is the cause)."""


def _together(volumes: sa.Table, tables: Sequence[sa.Table]) -> sa.Select[Any]:
    """PostgreSQL: each volume's row, then per metadata table ``[entries, left out]`` as
    JSON text (see :attr:`_Reads.together`)."""
    packed = []
    for table in tables:
        key, value = table.c.key, table.c.value
        pair = sa.func.json_build_array(
            sa.func.json_object_agg(key, value).filter(key.is_not(None)),
            sa.func.count().filter(key.is_(None)),
        )
        packed.append(
            sa.select(sa.cast(pair, sa.Text))
            .where(table.c.volume_id == volumes.c.id, table.c.deleted == sa.false())
            .scalar_subquery()
        )
    return sa.select(volumes, *packed).where(in_list(volumes.c.id), volumes.c.deleted == sa.false())


def _aggregate(table: sa.Table, dialect: str) -> sa.Select[Any] | None:
    """Each volume's live entries as one JSON object, built by the database, with a count of
    the entries it cannot put in one (None where the database has no such aggregate)."""
    key, value = table.c.key, table.c.value
    if dialect == "sqlite":
        # SQLite columns hold any type: only text keys and text or null values go in.
        text: sa.ColumnElement[Any] = sa.literal_column("'text'")
        plain = sa.and_(
            sa.func.typeof(key) == text,
            sa.or_(sa.func.typeof(value) == text, value.is_(None)),
        )
        objects = sa.func.json_group_object(key, value)
    elif dialect == "postgresql":
        plain = key.is_not(None)
        objects = sa.func.json_object_agg(key, value)
    else:
        return None
    return (
        sa.select(table.c.volume_id, objects.filter(plain), sa.func.count().filter(sa.not_(plain)))
        .where(in_list(table.c.volume_id), table.c.deleted == sa.false())
        .group_by(table.c.volume_id)
    )


_ANY = dump_converter(Kind.ANY)


def _odd_entry(section: str, vid: str, key: Any, value: Any, report: list[Unserializable]) -> Any:
    """A metadata entry whose key or value is not text: its JSON value, or ``_SKIP``."""
    if type(key) is str:
        try:
            return _ANY(value)
        except NoJSON:
            pass
    odd = value if type(key) is str else key
    report.append(Unserializable(section, str(key), type(odd).__name__, vid))
    LOG.info("%s", report[-1])
    return _SKIP
