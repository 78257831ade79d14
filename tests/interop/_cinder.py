"""What the tests that run the real Cinder share: its virtualenv, and its POSIX driver."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.interop import run_cinder_interop as runner


def cinder_python() -> Path:
    """The Python of Cinder's virtualenv (built the first time). A test that needs it is
    skipped when Cinder cannot be installed here, and fails with ``CI=true``."""
    try:
        return runner.ensure_venv()
    except runner.InstallFailed as err:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(err))
        pytest.skip(f"Cinder cannot be installed here: {err}")


def run_posix_steps(
    python: Path, workdir: Path, db: Path, root: Path, steps: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run ``steps`` with Cinder's ``PosixBackupDriver`` (``cinder_posix.py``); their results."""
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(python), "-W", "ignore", str(runner.POSIX_ORACLE), str(workdir)],
        input=json.dumps({"db": str(db), "root": str(root), "steps": steps}),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
    return results
