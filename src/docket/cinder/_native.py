"""Real OS threads for docket's engine inside an eventlet service (Cinder's default).

eventlet patches ``threading`` and ``queue`` into green threads of one OS thread: left so,
the engine's pipelines (reading and SHA-256, MD5, compression, writing) would take turns on
one core. Under eventlet, importing this module installs (:func:`docket.backup._threads.use`)
pools of real OS threads and real locks, made from eventlet's unpatched ``threading`` and
``queue``, and :func:`run` hands each operation to a native thread of eventlet's pool
(``tpool``), whose caller waits without blocking the hub, so the service's RPC, heartbeats
and other operations keep running. Nothing the engine's threads wait on is then green: a
green lock waited on in one OS thread and released in another fails ("Cannot switch to a
different thread").
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from eventlet import patcher, tpool

from docket.backup import _threads

__all__ = ["NativePool", "green", "run"]

T = TypeVar("T")

_threading: Any = patcher.original("threading")
_queue: Any = patcher.original("queue")


def green() -> bool:
    """Whether this process runs on eventlet's green threads (it patched ``threading``)."""
    return bool(patcher.is_monkey_patched("thread"))


class _Future(Future[Any]):
    """A future whose waits and wake-ups use a real condition, not a green one."""

    def __init__(self) -> None:
        super().__init__()
        self._condition = _threading.Condition()


class NativePool(Executor):
    """``workers`` real OS threads taking jobs from a real queue, in the order given."""

    def __init__(self, workers: int, name: str) -> None:
        self._jobs = _queue.SimpleQueue()
        self._lock = _threading.Lock()
        self._closed = False
        self._threads = [
            _threading.Thread(target=self._work, name=f"{name}_{n}", daemon=True)
            for n in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future = _Future()
            self._jobs.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                while cancel_futures:
                    try:
                        job = self._jobs.get_nowait()
                    except _queue.Empty:
                        break
                    job[0].cancel()
                for _ in self._threads:
                    self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as err:  # the future carries it to whoever waits
                future.set_exception(err)
            else:
                future.set_result(result)
            del job, future, fn, args, kwargs


def run(call: Callable[[], T]) -> T:
    """``call()`` in a native thread of eventlet's pool, the calling green thread waiting
    without blocking the hub; directly when the process is not green."""
    if not green():
        return call()
    result: T = tpool.execute(call)
    return result


if green():
    _threads.use(NativePool, _threading.Lock, _threading, _queue)
