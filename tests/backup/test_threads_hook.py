"""The engine makes its worker pools and locks through ``docket.backup._threads``: an
integration (docket.cinder under eventlet) installs factories of real OS threads there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from docket.backup import _threads
from tests._posix import back_up, driver, restored, volume_bytes


@pytest.fixture
def made() -> Iterator[dict[str, list[Any]]]:
    """Install recording factories; the defaults again after the test."""
    seen: dict[str, list[Any]] = {"pools": [], "locks": []}

    def pools(workers: int, name: str) -> Executor:
        seen["pools"].append((workers, name, threading.get_ident()))
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"hooked-{name}")

    def locks() -> Any:
        seen["locks"].append(threading.get_ident())
        return threading.Lock()

    _threads.use(pools, locks)
    try:
        yield seen
    finally:
        _threads.use()


def test_backup_and_restore_use_the_installed_factories(
    made: dict[str, list[Any]], tmp_path: Path
) -> None:
    d = driver(tmp_path / "root", compression="zlib")
    data = volume_bytes(27, 9 * 32768 + 123)
    back_up(d, tmp_path / "volume", data, "27aa0000-0000-4000-8000-000000000001")
    assert restored(d, "27aa0000-0000-4000-8000-000000000001", tmp_path / "out") == data
    names = {name for _, name, _ in made["pools"]}
    assert {"docket-write", "docket-compress", "docket-md5", "docket-blocks"} <= names
    assert made["locks"], "the POSIX store's lock was not made by the installed factory"


def test_use_without_factories_restores_the_defaults(made: dict[str, list[Any]]) -> None:
    _threads.use()
    pool = _threads.pool(1, "default")
    try:
        assert isinstance(pool, ThreadPoolExecutor)
    finally:
        pool.shutdown()
    assert made["pools"] == []
