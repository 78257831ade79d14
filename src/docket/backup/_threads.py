"""Where the backup engine's threads come from: every pool the engine, the restore pipeline
and the POSIX store start is made here, so an embedding (an eventlet service, say) can
change how all of them are made in one place."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def executor(name: str, workers: int = 1) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads named ``docket-<name>``; the caller shuts it down."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"docket-{name}")
