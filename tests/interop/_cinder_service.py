"""What the tests of the running Cinder deployment share: the deployment, volumes' bytes."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop import cinder_deploy
from tests.interop import run_cinder_interop as runner
from tests.interop.cinder_rest import Cinder

MIB = 1 << 20
GIB = 1 << 30


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def deployment() -> Iterator[cinder_deploy.Deployment]:
    """The deployment of ``cinder_deploy.py``, started if it is not running, and stopped
    after the module only if this fixture started it. Unavailable (Cinder not installable,
    RabbitMQ or MariaDB down, no bind mounts): skipped, and failed with ``CI=true``.

    There is one deployment on the machine, and modules using it switch its driver: each
    module holds it alone (a lock file), so test workers running two of them wait in turn."""
    with cinder_deploy.exclusive():  # released after the module
        yield from _deployment()


def _deployment() -> Iterator[cinder_deploy.Deployment]:
    try:
        found = cinder_deploy.Deployment.at()
    except runner.InstallFailed as err:
        _unavailable(f"Cinder cannot be installed here: {err}")
    running = all(found.pid(s) is not None for s in cinder_deploy.SERVICES)
    try:
        found.start("docket")
    except (cinder_deploy.DeployError, OSError) as err:
        if not running:
            found.stop()  # what this fixture started, and only that
        _unavailable(f"the Cinder deployment cannot start here: {err}")
    yield found
    if not running:
        found.stop()


@pytest.fixture(scope="module")
def api(deployment: cinder_deploy.Deployment) -> Cinder:
    return Cinder(deployment)


def write_regions(path: Path, seed: int) -> None:
    """Random, text and zero-breaking regions at a few places of a volume's file."""
    rng = random.Random(seed)
    with open(path, "r+b") as f:
        for at, size in ((0, 3 * MIB), (64 * MIB, 5 * MIB + 12345), (700 * MIB, 2 * MIB)):
            f.seek(at)
            f.write(rng.randbytes(size))
        f.seek(300 * MIB)
        f.write(b"docket and Cinder, the same bytes\n" * 30000)


def change_regions(path: Path, seed: int) -> None:
    """What an incremental backup has to carry: changed runs, one far over 128 KiB."""
    rng = random.Random(seed)
    with open(path, "r+b") as f:
        for at, size in ((1 * MIB, 700 * 1024), (500 * MIB, 40000), (900 * MIB, MIB)):
            f.seek(at)
            f.write(rng.randbytes(size))


def padded_digest(path: Path, size: int = GIB) -> str:
    """SHA-256 of the file's bytes zero-padded to ``size``: a restore into a new file-backed
    volume truncates it (Cinder opens it with 'wb'), so the zeros at the end may be missing."""
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while piece := f.read(8 * MIB):
            digest.update(piece)
            done += len(piece)
    assert done <= size, f"{path} has {done} bytes, more than the volume's {size}"
    zeros = bytes(8 * MIB)
    while done < size:
        step = min(len(zeros), size - done)
        digest.update(zeros[:step])
        done += step
    return digest.hexdigest()


def set_aside(root: Path, container: str, aside: Path) -> Path:
    """Copy a backup's directory out of the backup root (a copy of the storage kept
    elsewhere); the copy's path."""
    target = aside / container.replace("/", "_")
    shutil.copytree(root / container, target)
    return target


def put_back(copy: Path, root: Path, container: str) -> None:
    shutil.copytree(copy, root / container, dirs_exist_ok=True)
