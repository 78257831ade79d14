"""Run docket's interop test against the real Cinder (``cinder==29.0.0`` from PyPI).

Cinder lives in a virtualenv of its own, created on first use and reused after::

    python tests/interop/run_cinder_interop.py            # build the venv if needed, run the test
    python tests/interop/run_cinder_interop.py --venv-only

The venv is ``$DOCKET_CINDER_VENV`` or ``~/.cache/docket/cinder-29.0.0-py3.X``. It is built in
a temporary folder and renamed into place once Cinder imports, under a lock, so parallel test
runs never see half a venv.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CINDER = "cinder==29.0.0"
READY = "docket-ready"
HERE = Path(__file__).resolve().parent
ORACLE = HERE / "cinder_oracle.py"
INSTALL_TIMEOUT = 1800


class InstallFailed(RuntimeError):
    """The Cinder virtualenv could not be built (no network, no wheels, ...)."""


def venv_dir() -> Path:
    configured = os.environ.get("DOCKET_CINDER_VENV")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return cache / "docket" / f"{CINDER.replace('==', '-')}-{tag}"


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
                CINDER,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
        subprocess.run(
            [str(python_of(work)), "-W", "ignore", "-c", "import cinder.backup.driver"],
            check=True,
            capture_output=True,
            text=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        shutil.rmtree(work, ignore_errors=True)
        output = getattr(err, "stderr", None) or getattr(err, "stdout", None) or ""
        tail = "\n".join(str(output).strip().splitlines()[-5:])
        raise InstallFailed(f"cannot install {CINDER} into a virtualenv: {err}\n{tail}") from None
    (work / READY).write_text(CINDER + "\n")
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
