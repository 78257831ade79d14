"""Run docket's interop test against the real Cinder (``cinder==29.0.0`` from PyPI).

Cinder lives in a virtualenv of its own, created on first use and reused after::

    python tests/interop/run_cinder_interop.py            # build the venv if needed, run the test
    python tests/interop/run_cinder_interop.py --venv-only

The venv is ``$DOCKET_CINDER_VENV`` or ``~/.cache/docket/cinder-29.0.0-py3.X-<key>``, where
the key is a hash of everything installed into it: Cinder, the test dependencies Cinder's own
unit tests import (``CINDER_TEST_DEPS``), the MySQL driver of the deployment
(``CINDER_SERVICE_DEPS``) and docket's runtime dependencies (read from
``pyproject.toml``; the adapter that runs Cinder's unit tests against docket's store imports
docket from ``src/``), installed at the exact versions of ``cinder-constraints.txt`` beside
this file (refreshed by ``.ci/lock cinder``). A changed requirement or lock builds a new venv.
It is built in a temporary folder and renamed into place once Cinder, its test base class and
its POSIX driver import, under a lock, so parallel test runs never see half a venv.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

CINDER = "cinder==29.0.0"
# What cinder/tests/unit/test.py and its fixtures import beyond Cinder's own requirements
# (Cinder's test-requirements.txt is not shipped in its wheel).
CINDER_TEST_DEPS = ("fixtures>=3.0.0", "testtools>=2.5.0")
# The clients of Cinder's Swift and S3 backup drivers (its ``swift`` and ``s3`` extras). botocore
# refuses python-dateutil 3 and later, so the lock holds 2.9.0.post0, which Cinder runs with.
CINDER_STORE_DEPS = ("python-swiftclient>=3.10.1", "boto3>=1.18.49")

# What the deployment of tests/interop/cinder_deploy.py needs beyond Cinder's requirements: the
# MySQL driver of its ``[database] connection`` (Cinder leaves the choice to the operator).
CINDER_SERVICE_DEPS = ("PyMySQL>=1.1",)
READY = "docket-ready"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOCK = HERE / "cinder-constraints.txt"
ORACLE = HERE / "cinder_oracle.py"
POSIX_ORACLE = HERE / "cinder_posix.py"
UNIT_ADAPTER = HERE / "cinder_unit_adapter.py"
INSTALL_TIMEOUT = 1800


class InstallFailed(RuntimeError):
    """The Cinder virtualenv could not be built (no network, no wheels, ...)."""


def requirements() -> list[str]:
    """Everything the venv holds: Cinder, its unit tests' deps, docket's runtime deps."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [
        CINDER,
        *CINDER_TEST_DEPS,
        *CINDER_STORE_DEPS,
        *CINDER_SERVICE_DEPS,
        *project["project"]["dependencies"],
    ]


def venv_key() -> str:
    locked = LOCK.read_bytes() if LOCK.is_file() else b""
    return hashlib.sha256("\n".join(requirements()).encode() + locked).hexdigest()[:10]


def venv_dir() -> Path:
    configured = os.environ.get("DOCKET_CINDER_VENV")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return cache / "docket" / f"{CINDER.replace('==', '-')}-{tag}-{venv_key()}"


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def _build(venv: Path) -> None:
    work = venv.with_name(f"{venv.name}.building-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(work)], check=True, capture_output=True, text=True
        )
        subprocess.run(
            [
                str(python_of(work)),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *(["-c", str(LOCK)] if LOCK.is_file() else []),
                *requirements(),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
        subprocess.run(
            [
                str(python_of(work)),
                "-W",
                "ignore",
                "-c",
                "import cinder.backup.driver, cinder.backup.drivers.posix, zstd, "
                "cinder.backup.drivers.swift, cinder.backup.drivers.s3, "
                "cinder.tests.unit.test, orjson, marshmallow, jsonschema_rs, pymysql",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        shutil.rmtree(work, ignore_errors=True)
        output = getattr(err, "stderr", None) or getattr(err, "stdout", None) or ""
        tail = "\n".join(str(output).strip().splitlines()[-5:])
        raise InstallFailed(f"cannot install {CINDER} into a virtualenv: {err}\n{tail}") from None
    (work / READY).write_text("\n".join(requirements()) + "\n")
    os.replace(work, venv)


def ensure_venv() -> Path:
    """The Python of a virtualenv with Cinder installed, building it the first time."""
    venv = venv_dir()
    if (venv / READY).is_file():
        return python_of(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / READY).is_file():
            shutil.rmtree(venv, ignore_errors=True)
            _build(venv)
    return python_of(venv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv-only", action="store_true", help="build the venv and stop")
    args = parser.parse_args(argv)
    started = time.monotonic()
    cached = (venv_dir() / READY).is_file()
    try:
        python = ensure_venv()
    except InstallFailed as err:
        print(err, file=sys.stderr)
        return 2
    built = time.monotonic() - started
    print(
        f"cinder venv: {python.parent.parent} ({'cached' if cached else f'built in {built:.1f} s'})"
    )
    if args.venv_only:
        return 0
    root = HERE.parents[1]
    started = time.monotonic()
    code = subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE)], cwd=root
    )
    print(f"interop test: {time.monotonic() - started:.1f} s")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
