"""Throwaway databases on SQLite, PostgreSQL and MariaDB for the reliability tests.

Each PostgreSQL or MariaDB database is created with a unique name (``docket_<pid>_<hex>``) on
the shared server and dropped afterwards, so people running tests at once never meet. With
``CI=true`` an unreachable server fails the test; elsewhere it skips with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

BACKENDS = ["sqlite", "postgresql", "mariadb"]
SERVERS = ["postgresql", "mariadb"]
SERVER_URLS = {
    "postgresql": os.environ.get(
        "DOCKET_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("DOCKET_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def backend_params(backends: list[str]) -> list[Any]:
    """pytest params for ``backends``, marked for ``-m postgresql`` / ``-m mariadb``."""
    marks = {"postgresql": pytest.mark.postgresql, "mariadb": pytest.mark.mariadb}
    return [pytest.param(b, marks=[marks[b]] if b in marks else [], id=b) for b in backends]


def _unavailable(backend: str) -> str | None:
    try:
        engine = sa.create_engine(SERVER_URLS[backend])
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as err:  # any failure to reach the server is the reason to report
        return f"{backend} at {SERVER_URLS[backend]} is unreachable: {err}"
    return None


def require(backend: str) -> None:
    """Skip (or, with CI=true, fail) when the backend's server cannot be reached."""
    if backend == "sqlite":
        return
    reason = _unavailable(backend)
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def scratch_database(backend: str, folder: Path) -> Iterator[str]:
    """A new, empty database on ``backend``; yields its URL and drops it afterwards."""
    require(backend)
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'docket.db'}"
        return
    name = f"docket_{os.getpid()}_{secrets.token_hex(4)}"
    server = sa.create_engine(SERVER_URLS[backend], isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        if backend == "postgresql":
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = sa.make_url(SERVER_URLS[backend]).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


_REFLECTED: dict[str, sa.MetaData] = {}


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: two equal dumps mean an unchanged database."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    key = engine.url.render_as_string(hide_password=False)
    meta = _REFLECTED.get(key)
    if meta is None:
        meta = _REFLECTED[key] = sa.MetaData()
        meta.reflect(engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def three_volumes(path: Path) -> str:
    """A SQLite database at ``path`` with Cinder's tables and volumes vol-a (metadata and
    glance metadata), vol-b and target (named as Cinder names a restore's); its URL."""
    from docket import store

    url = f"sqlite:///{path}"
    engine = store.make_engine(url)
    try:
        store.init_db(engine)
        store.create_volume(
            engine, volume_id="vol-a", display_name="a", metadata={"k": "v"}, glance={"x": 1}
        )
        store.create_volume(engine, volume_id="vol-b", display_name="b")
        store.create_volume(engine, volume_id="target", display_name="restore_backup_b1")
    finally:
        engine.dispose()
    return url


def volumes_only_database(path: Path) -> str:
    """A SQLite database at ``path`` with Cinder's tables but ``backups`` (as an older
    ``docket db init`` made it); its URL."""
    from docket import store

    url = f"sqlite:///{path}"
    engine = store.make_engine(url)
    tables = store.cinder_metadata()
    tables.create_all(engine, tables=[t for n, t in tables.tables.items() if n != "backups"])
    engine.dispose()
    return url


def backups_table(url: str, rows: list[dict[str, Any]]) -> None:
    """A ``backups`` table with the columns the audit reads (and one it does not), holding
    ``rows``; on MySQL/MariaDB in ``utf8mb4``, so any text fits."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = sa.Table(
        "backups",
        meta,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("volume_id", sa.String(36)),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("status", sa.String(255)),
        sa.Column("container", sa.String(255)),
        sa.Column("service_metadata", sa.String(255)),
        sa.Column("service", sa.String(255)),
        sa.Column("deleted", sa.Boolean),
        sa.Column("availability_zone", sa.String(255)),  # a column audit does not use
        sa.Column("num_dependent_backups", sa.Integer),
        mysql_charset="utf8mb4",
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()
