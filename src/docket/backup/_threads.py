"""Where the chunked engine gets its worker pools and its locks.

Every pool the engine, the restore pipeline and the POSIX store start, and every lock their
threads share, is made here. By default they are :class:`concurrent.futures.ThreadPoolExecutor`
and :func:`threading.Lock`. A process whose ``threading`` is patched into green threads
(eventlet, in Cinder's services) would make them green threads of one OS thread, all on one
core; an integration running the engine there installs factories of real OS threads and locks
with :func:`use` (see :mod:`docket.cinder`). Whatever is installed serves every later pool and
lock of the engine.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["LockFactory", "PoolFactory", "executor", "lock", "pool", "primitives", "queues", "use"]

PoolFactory = Callable[[int, str], Executor]
"""Makes a pool of ``workers`` threads whose names start with ``name``."""
LockFactory = Callable[[], AbstractContextManager[Any]]


def _default_pool(workers: int, name: str) -> Executor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)


_made: dict[str, Any] = {
    "pool": _default_pool,
    "lock": threading.Lock,
    "threading": threading,
    "queue": queue,
}


def pool(workers: int, name: str) -> Executor:
    """A pool of ``workers`` threads for the engine's pipelines; the caller shuts it down."""
    made: Executor = _made["pool"](workers, name)
    return made


def executor(name: str, workers: int = 1) -> Executor:
    """A pool of ``workers`` threads named ``docket-<name>`` (see :func:`pool`)."""
    return pool(workers, f"docket-{name}")


def lock() -> AbstractContextManager[Any]:
    """A lock shared by the engine's threads."""
    made: AbstractContextManager[Any] = _made["lock"]()
    return made


def primitives() -> Any:
    """The ``threading`` module whose threads, events and semaphores the stores' own helpers
    (uploads side by side, read-ahead) use: the real one unless :func:`use` set another."""
    return _made["threading"]


def queues() -> Any:
    """The ``queue`` module those helpers use (see :func:`primitives`)."""
    return _made["queue"]


def use(
    pools: PoolFactory | None = None,
    locks: LockFactory | None = None,
    threading_module: Any = None,
    queue_module: Any = None,
) -> None:
    """Make later pools, locks and other primitives with ``pools``, ``locks``,
    ``threading_module`` and ``queue_module`` (None: the defaults again)."""
    _made["pool"] = pools or _default_pool
    _made["lock"] = locks or threading.Lock
    _made["threading"] = threading_module or threading
    _made["queue"] = queue_module or queue
