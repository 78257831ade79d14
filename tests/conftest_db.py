"""Database fixtures shared by the store tests (loaded from ``tests/conftest.py``).

- ``db_backend``: ``"sqlite"``, ``"postgresql"`` or ``"mariadb"`` (marked ``postgresql`` /
  ``mariadb`` so ``-m`` selects them).
- ``db_url``: a database of its own for this test session on that backend (a unique
  ``docket_<pid>_<hex>`` database on the shared servers, dropped at the end), holding Cinder's
  tables (``docket.store.init_db``).
- ``db_engine``: an engine on ``db_url`` whose tables are empty when the test starts.
- ``scratch_db``: a factory of further empty databases (no tables) on the same backend, for
  tests that lay out tables of their own.

With ``CI=true`` an unreachable server fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from docket import store
from tests._databases import BACKENDS, backend_params, dump, scratch_database

__all__ = ["BACKENDS", "dump"]


@pytest.fixture(scope="session", params=backend_params(BACKENDS))
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
def db_url(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp(f"db-{db_backend}")
    with scratch_database(db_backend, folder) as url:
        store.init_db(url)
        yield url


@pytest.fixture(scope="session")
def _session_engine(db_url: str) -> Iterator[sa.Engine]:
    engine = store.make_engine(db_url)
    yield engine
    engine.dispose()


def clear(engine: sa.Engine) -> None:
    """Delete every row of Cinder's four tables (children first)."""
    tables = store.cinder_metadata().tables
    with engine.begin() as conn:
        for name in ("volume_glance_metadata", "volume_metadata", "volumes", "volume_types"):
            conn.execute(sa.delete(tables[name]))


@pytest.fixture
def db_engine(_session_engine: sa.Engine) -> sa.Engine:
    """An engine on this session's database of the backend, with empty tables."""
    clear(_session_engine)
    return _session_engine


@pytest.fixture
def scratch_db(db_backend: str, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Make empty databases (no tables) on the backend; each is dropped after the test."""
    with contextlib.ExitStack() as stack:
        made = 0

        def make() -> str:
            nonlocal made
            made += 1
            folder = tmp_path / f"scratch-{made}"
            folder.mkdir()
            return stack.enter_context(scratch_database(db_backend, folder))

        yield make
