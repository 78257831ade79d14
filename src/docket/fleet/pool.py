"""Worker processes for a job over many containers or backups: results in input order.

A job is cut into tasks; :func:`in_order` hands them to ``jobs`` worker processes with at most
two tasks per worker in flight, so memory stays flat however long the input, and gives each
task back with its result in the order the tasks came. Workers are spawned, not forked (a
caller's thread, a progress bar, may be running), and build what they need once, in
``initializer``; ``work`` then runs there per task. Both must be module-level functions (they
are sent to the workers by name). A worker that dies raises
:class:`concurrent.futures.process.BrokenProcessPool`.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from docket.core.errors import UsageError

if TYPE_CHECKING:  # worker processes are started only for jobs > 1: imported then
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called as a job goes (what it counts is the job's to say)."""


def workers(jobs: int) -> int:
    """The number of worker processes ``jobs`` asks for (0: one per CPU); a
    :class:`UsageError` (a ``ValueError``) for a negative number."""
    if jobs < 0:
        raise UsageError(
            "jobs", f"{jobs} is negative: give a number of processes, or 0 for one per CPU"
        )
    return jobs or os.cpu_count() or 1


def in_order(
    tasks: Iterable[T],
    jobs: int,
    work: Callable[[T], R],
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
) -> Iterator[tuple[T, R]]:
    """Each task with ``work(task)`` as a worker returned it, in input order, at most
    ``2 * jobs`` tasks in flight."""
    import multiprocessing  # only runs with workers pay for these imports
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_started, initargs=(initializer, *initargs)
    ) as pool:
        window: collections.deque[tuple[T, Future[R]]] = collections.deque()
        try:
            for task in tasks:
                window.append((task, pool.submit(work, task)))
                if len(window) >= 2 * jobs:
                    done, future = window.popleft()
                    yield done, future.result()
            while window:
                done, future = window.popleft()
                yield done, future.result()
        except BaseException:
            # Ctrl-C, or the caller stopped reading: the tasks not begun are dropped, not
            # run before the pool closes.
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _started(initializer: Callable[..., None], *initargs: Any) -> None:
    """A worker's start: Ctrl-C (SIGINT, sent to the terminal's whole process group) is the
    parent's to handle, which stops the job and reports it once; a worker ignores it rather
    than print a traceback of its own. Then ``initializer(*initargs)``."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    initializer(*initargs)


__all__ = ["Progress", "in_order", "workers"]
