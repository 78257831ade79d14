"""What the tests that run the real Cinder share: its virtualenv, its drivers (POSIX, Swift,
S3) and the chains both sides write."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.interop import run_cinder_interop as runner

# The chains both sides write: who wrote the full and who the incremental.
CHAINS = {
    "cinder>docket": ("cinder", "cinder"),
    "docket>cinder": ("docket", "docket"),
    "docket-full+cinder-incr": ("docket", "cinder"),
    "cinder-full+docket-incr": ("cinder", "docket"),
}
# Who restores each chain.
RESTORERS = {
    "cinder>docket": ("docket",),
    "docket>cinder": ("cinder",),
    "docket-full+cinder-incr": ("docket", "cinder"),
    "cinder-full+docket-incr": ("docket", "cinder"),
}


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
    spec = {"db": str(db), "root": str(root), "steps": steps}
    return run_steps(python, runner.POSIX_ORACLE, workdir, spec)


def run_object_steps(
    python: Path, workdir: Path, db: Path, store: dict[str, Any], steps: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run ``steps`` with Cinder's Swift or S3 driver (``cinder_objects.py``) configured by
    ``store``; their results."""
    spec = {"db": str(db), "store": store, "steps": steps}
    return run_steps(python, runner.HERE / "cinder_objects.py", workdir, spec)


def run_steps(
    python: Path, oracle: Path, workdir: Path, spec: dict[str, Any]
) -> list[dict[str, Any]]:
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(python), "-W", "ignore", str(oracle), str(workdir)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
    return results
