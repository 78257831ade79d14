"""All or nothing: a restore that fails at any statement leaves the database as it was.

A restore is run once to count its statements; then, for every n, it is run again with the
n-th statement failing, first as a database error raised from SQLAlchemy's
``before_cursor_execute`` event, then as a dropped connection (the server kills the session;
SQLite's connection is closed under it). Every time, a dump of every table equals the dump
taken before, and the next restore succeeds. On SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from docket import store
from docket.errors import ConnectionLost, RestoreRefused, StoreError
from tests import _volumes as vols
from tests._databases import SERVER_URLS
from tests.conftest_db import clear, dump

SRC = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
DST = "8a7b6c5d-4e3f-4a2b-9c1d-0e1f2a3b4c5d"
OTHER = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
KEY_ID = "6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"


class Injected(Exception):
    """The failure the tests inject."""


def _build(engine: sa.Engine) -> list[tuple[str, str]]:
    """Fixed data (ids, timestamps) and the containers to restore: every kind of write —
    base columns, the volume type rule, metadata updated, inserted and soft-deleted."""
    clear(engine)
    vols.types(engine)
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 6)
    vols.volume(
        engine,
        SRC,
        metadata={"fee": "fi", "fo": "fum", "new": "1"},
        glance={"image_id": "i", "min_ram": "0"},
        encryption_key_id=KEY_ID,
        created_at=when,
    )
    for vid in (DST, OTHER):
        vols.volume(
            engine,
            vid,
            name=f"restore_backup_{vid}",
            type_id=None,
            metadata={"fee": "old", "gone": "x"},
            glance={"image_id": "old", "stale": "y"},
            created_at=when,
        )
    text = store.BackupMetadataAPI(engine).get(SRC)
    return [(DST, text), (OTHER, text)]


@contextmanager
def failing_at(engine: sa.Engine, n: int, fail: Callable[[Any], None]) -> Iterator[list[str]]:
    """Call ``fail(connection)`` before the n-th statement (1-based) sent to the driver."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)
        if len(seen) == n:
            fail(conn)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def _raise(conn: Any) -> None:
    raise Injected("the database fails here")


def _dropper(backend: str) -> Callable[[Any], None]:
    """A function that cuts the given connection off, the way a server restart or a network
    failure would, so the statement about to run meets a dead connection."""

    def drop(conn: Any) -> None:
        raw = conn.connection.dbapi_connection
        if backend == "sqlite":
            raw.close()
            return
        admin = sa.create_engine(SERVER_URLS[backend], isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as other:
                if backend == "postgresql":
                    other.execute(
                        sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": raw.info.backend_pid}
                    )
                else:
                    other.execute(sa.text(f"KILL CONNECTION {int(raw.thread_id())}"))
        finally:
            admin.dispose()

    return drop


def _restore(api: store.BackupMetadataAPI, items: list[tuple[str, str]], bulk: bool) -> None:
    if bulk:
        api.put_many(items)
    else:
        api.put(*items[0])


@pytest.mark.parametrize("bulk", [False, True], ids=["put", "put_many"])
def test_a_failure_at_any_statement_leaves_the_database_as_it_was(
    db_engine: sa.Engine, db_backend: str, bulk: bool
) -> None:
    api = store.BackupMetadataAPI(db_engine)
    items = _build(db_engine)
    with failing_at(db_engine, 0, _raise) as seen:
        _restore(api, items, bulk)
    restored = _semantic(db_engine)
    total = len(seen)
    assert total >= 8  # targets, base update, and reads and writes of both metadata tables
    faults = {"error": _raise, "dropped connection": _dropper(db_backend)}
    for label, fail in faults.items():
        for n in range(1, total + 1):
            _build(db_engine)
            before = dump(db_engine)
            with failing_at(db_engine, n, fail), pytest.raises((Injected, StoreError)) as info:
                _restore(api, items, bulk)
            assert dump(db_engine) == before, f"{label} at statement {n} of {total}: {seen[n - 1]}"
            if fail is not _raise:
                # Typed as a connection failure, so a caller can tell it from a refusal.
                assert isinstance(info.value, ConnectionLost), (n, info.value)
                # The server may act on a kill a moment late (MariaDB's KILL is asynchronous,
                # most under load): then the COMMIT is what fails, and cannot know.
                said = (
                    "may or may not have been written"
                    if info.value.at_commit
                    else "nothing was written"
                )
                assert said in info.value.hint, (n, info.value)
            # The engine recovers: the same restore then succeeds and writes everything.
            _restore(api, items, bulk)
            assert _semantic(db_engine) == restored, (label, n)


def test_a_failing_commit_writes_nothing(db_engine: sa.Engine) -> None:
    api = store.BackupMetadataAPI(db_engine)
    items = _build(db_engine)
    before = dump(db_engine)

    def refuse(conn: Any) -> None:
        raise Injected("commit fails")

    sa.event.listen(db_engine, "commit", refuse)
    try:
        with pytest.raises(Injected):
            api.put_many(items)
    finally:
        sa.event.remove(db_engine, "commit", refuse)
    assert dump(db_engine) == before


def test_a_connection_dropped_as_the_restore_commits_says_it_may_have_been_written(
    db_engine: sa.Engine, db_backend: str
) -> None:
    # Only the database knows whether a COMMIT that lost its connection was written: the
    # error must not say "nothing was written". (Here the session dies before the COMMIT
    # reaches it, so the database is as before.)
    api = store.BackupMetadataAPI(db_engine)
    items = _build(db_engine)
    before = dump(db_engine)
    drop = _dropper(db_backend)
    sa.event.listen(db_engine, "commit", drop)
    try:
        with pytest.raises(ConnectionLost) as info:
            api.put_many(items)
    finally:
        sa.event.remove(db_engine, "commit", drop)
    assert info.value.at_commit
    assert "may or may not have been written" in info.value.hint
    assert "nothing was written" not in str(info.value)
    assert dump(db_engine) == before
    api.put_many(items)  # the engine recovers


def test_a_refusal_planned_after_earlier_writes_takes_them_back(db_engine: sa.Engine) -> None:
    # DST is named twice: its second restore is planned after the first one was written
    # (same transaction). The first gives DST the backup's gold type, so the second, an
    # encrypted backup of a silver volume, is refused: the first write must go too.
    api = store.BackupMetadataAPI(db_engine)
    items = _build(db_engine)
    before = dump(db_engine)
    silver = json.loads(items[0][1])
    silver["volume-base-metadata"]["volume_type_id"] = vols.TYPE_SILVER
    with pytest.raises(RestoreRefused, match="volume type"):
        api.put_many([items[0], (OTHER, items[1][1]), (DST, json.dumps(silver))])
    assert dump(db_engine) == before


def _semantic(engine: sa.Engine) -> dict[str, Any]:
    """The tables without row ids and timestamps: what two successful restores share."""
    out: dict[str, Any] = {}
    for name, rows in dump(engine).items():
        out[name] = sorted(
            (
                tuple(v for v in row if not isinstance(v, dt.datetime | int) or isinstance(v, bool))
                for row in rows
            ),
            key=repr,
        )
    return out
