"""Where the chunked engine gets its worker pools and its locks.

By default they are :class:`concurrent.futures.ThreadPoolExecutor` and :func:`threading.Lock`.
A process whose ``threading`` is patched into green threads (eventlet, in Cinder's services)
would make them green threads of one OS thread, all on one core; an integration running the
engine there installs factories of real OS threads and locks with :func:`use` (see
:mod:`docket.cinder`). Whatever is installed serves every later pool and lock of the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["LockFactory", "PoolFactory", "lock", "pool", "use"]

PoolFactory = Callable[[int, str], Executor]
"""Makes a pool of ``workers`` threads whose names start with ``name``."""
LockFactory = Callable[[], AbstractContextManager[Any]]


def _default_pool(workers: int, name: str) -> Executor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)


_made: dict[str, Any] = {"pool": _default_pool, "lock": threading.Lock}


def pool(workers: int, name: str) -> Executor:
    """A pool of ``workers`` threads for the engine's pipelines."""
    made: Executor = _made["pool"](workers, name)
    return made


def lock() -> AbstractContextManager[Any]:
    """A lock shared by the engine's threads."""
    made: AbstractContextManager[Any] = _made["lock"]()
    return made


def use(pools: PoolFactory | None = None, locks: LockFactory | None = None) -> None:
    """Make later pools and locks with ``pools`` and ``locks`` (None: the defaults again)."""
    _made["pool"] = pools or _default_pool
    _made["lock"] = locks or threading.Lock
