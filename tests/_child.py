"""A Python child process for tests that must watch a run from outside (its exit, its output,
its peak memory) without pytest's own state in the way."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

import pytest


def run_python(
    code: str, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code args...`` to its end (at most ``timeout`` seconds) and return what
    it did: exit code, stdout and stderr as text. A non-zero exit is the caller's to judge."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=None if env is None else dict(env),
    )


def once_per_session(factory: pytest.TempPathFactory, name: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` (a JSON value) run once for the whole pytest session, however many xdist
    workers ask: the first computes it under a lock in the session's shared temporary folder,
    the others wait for it and read it back. For a costly child run that a module's tests
    share (xdist 3.8's loadgroup cannot keep them on one worker with pytest 9.2: issue 1386)."""
    shared = factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        shared = shared.parent  # the workers' folders share this one
    done = shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return json.loads(done.read_text())
        value = compute()
        partial = done.with_suffix(".part")
        partial.write_text(json.dumps(value))
        partial.replace(done)
        return value
