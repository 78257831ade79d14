"""Fixtures of the backup tests: hostile storage (no test may block; a file of the host's to
point links at) and a Cinder database on SQLite."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import docket.store


@pytest.fixture
def never_blocks() -> Iterator[None]:
    """A FIFO opened or read the wrong way blocks forever: fail the test instead."""

    def expired(*_: Any) -> None:
        raise TimeoutError("blocked on hostile storage")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"host secret " * 1000)
    return secret


@pytest.fixture
def sqlite_db(tmp_path: Path) -> tuple[str, Any]:
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    docket.store.init_db(url)
    return url, docket.store.make_engine(url)
