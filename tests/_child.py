"""A Python child process for tests that must watch a run from outside (its exit, its output,
its peak memory) without pytest's own state in the way."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping


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
