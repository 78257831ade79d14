"""Where the benchmark database lives: a SQLite file, or a throw-away PostgreSQL database.

A backend builds one template database, then hands out copies of it (a file copy, or
``CREATE DATABASE ... TEMPLATE``) so every restore run starts from the same state. Each
copy is reachable two ways: a SQLAlchemy URL for docket and a plain DB-API connection for
the baseline.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.baseline import Connection

# The baseline's SQLite settings. A commit per volume is what the seed's way costs, but an
# fsync per commit would measure the disk, not the code: WAL with synchronous=NORMAL is what a
# careful operator configures (docket's engine keeps SQLite's default, FULL, and commits once
# per batch). Foreign keys are enforced, as docket's engine enforces them.
SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": "1", "foreign_keys": "on"}


def make_engine(url: str) -> sa.Engine:
    """docket's engine for ``url``, with the settings docket applies."""
    from docket.store import make_engine as docket_engine

    return docket_engine(url)


class SQLite:
    """Copies of one SQLite file under ``workdir``."""

    name = "SQLite"
    dialect = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.template = workdir / "cinder.db"
        self._copies = 0

    def url(self, db: str) -> str:
        return f"sqlite:///{db}"

    def create(self) -> str:
        """The (empty) template database; fill it through :meth:`url`."""
        return str(self.template)

    def seal(self) -> None:
        """Settle the template (checkpoint the WAL) once it is filled."""
        conn = sqlite3.connect(self.template)
        try:
            mode = conn.execute(f"PRAGMA journal_mode={SQLITE_PRAGMAS['journal_mode']}")
            mode.fetchall()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            conn.execute("ANALYZE")
            conn.commit()
        finally:
            conn.close()

    def copy(self) -> str:
        self._copies += 1
        dest = self.workdir / f"copy-{self._copies}.db"
        shutil.copyfile(self.template, dest)
        return str(dest)

    def drop(self, db: str) -> None:
        if db == str(self.template):
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(db + suffix).unlink(missing_ok=True)

    def connect(self, db: str) -> Connection:
        conn = sqlite3.connect(db)
        for name, value in SQLITE_PRAGMAS.items():
            conn.execute(f"PRAGMA {name}={value}").fetchall()
        return conn

    def settings(self, engine: sa.Engine) -> dict[str, str]:
        """The pragmas docket's engine runs with, to report beside the baseline's."""
        with engine.connect() as conn:
            return {
                name: str(conn.exec_driver_sql(f"PRAGMA {name}").scalar())
                for name in ("journal_mode", "synchronous", "foreign_keys")
            }

    def close(self) -> None:
        pass


class PostgreSQL:
    """Databases ``docket_bench_<pid>_<random>[_n]`` on a PostgreSQL server, dropped after."""

    name = "PostgreSQL"
    dialect = "postgresql"

    def __init__(self, conninfo: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self.conninfo = conninfo
        self.admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
        self.template = f"docket_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self._copies = 0
        self._made: list[str] = []
        info = self.admin.info
        self._params: dict[str, Any] = {
            "host": info.host,
            "port": info.port,
            "user": info.user,
            "password": info.password or "",
        }

    @staticmethod
    def reachable(conninfo: str) -> str | None:
        """None when the server answers, else why not."""
        try:
            import psycopg
        except ImportError:
            return "psycopg is not installed (pip install 'docket[postgresql]')"
        try:
            psycopg.connect(conninfo, connect_timeout=3).close()
        except psycopg.Error as err:
            return f"PostgreSQL not reachable ({str(err).strip().splitlines()[0]})"
        return None

    def server_version(self) -> str:
        row = self.admin.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def url(self, db: str) -> str:
        p = self._params
        auth = p["user"] + (f":{p['password']}" if p["password"] else "")
        return f"postgresql+psycopg://{auth}@{p['host']}:{p['port']}/{db}"

    def _create(self, name: str, template: str | None = None) -> str:
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        self.admin.execute(sql)
        self._made.append(name)
        return name

    def create(self) -> str:
        return self._create(self.template)

    def seal(self) -> None:
        with self._psycopg.connect(self.conninfo_for(self.template), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

    def conninfo_for(self, db: str) -> str:
        p = self._params
        return (
            f"host={p['host']} port={p['port']} user={p['user']} dbname={db}"
            + (f" password={p['password']}" if p["password"] else "")
        )

    def copy(self) -> str:
        self._copies += 1
        # A template must have no sessions; any left on ours are the harness's own.
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.template,),
        )
        return self._create(f"{self.template}_{self._copies}", self.template)

    def drop(self, db: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        if db in self._made:
            self._made.remove(db)

    def connect(self, db: str) -> Connection:
        conn: Any = self._psycopg.connect(self.conninfo_for(db))
        return conn  # type: ignore[no-any-return]

    def settings(self, engine: sa.Engine) -> dict[str, str]:
        with engine.connect() as conn:
            return {
                name: str(conn.exec_driver_sql(f"SHOW {name}").scalar())
                for name in ("synchronous_commit", "shared_buffers")
            }

    def close(self) -> None:
        for db in reversed(list(self._made)):
            self.drop(db)
        self.admin.close()


def snapshot(conn: Connection, dialect: str, volume_ids: Iterable[str]) -> dict[str, Any]:
    """What a restore may change on ``volume_ids``, in a form two databases can be compared by."""
    ids = list(volume_ids)
    mark = "?" if dialect == "sqlite" else "%s"
    out: dict[str, Any] = {"volumes": {}, "volume_metadata": {}, "volume_glance_metadata": {}}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join([mark] * len(chunk))
        for row in conn.execute(
            "SELECT id, display_name, display_description, encryption_key_id, volume_type_id,"
            f" bootable FROM volumes WHERE id IN ({marks})",
            chunk,
        ).fetchall():
            out["volumes"][row[0]] = (*row[1:5], bool(row[5]))
        for table in ("volume_metadata", "volume_glance_metadata"):
            rows = conn.execute(
                f"SELECT volume_id, key, value FROM {table} WHERE volume_id IN ({marks})"
                f" AND deleted = {mark}",
                [*chunk, False],
            ).fetchall()
            for vid, key, value in rows:
                out[table].setdefault(vid, {})[key] = value
    return out
