"""Fault injection: a failure at any point leaves things as they were.

- The POSIX driver: a backup process killed (SIGKILL) at every file-system step leaves either
  nothing, a partial backup that ``verify`` reports and restore refuses, or — when it died
  after the last step that matters — a complete backup that verifies and restores exactly.
- ``BackupMetadataAPI.put``: a database error, a lost connection and a killed process at every
  statement of a restore leave the database exactly as it was, on SQLite, PostgreSQL and
  MariaDB.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import docket.backup._chunks as chunks
import docket.backup.posix as posix
from docket.backup import Backup
from docket.backup.posix import PosixBackupDriver
from docket.errors import BackupNotFound, DocketError

BLOCK = 32768
CHUNK = 2 * BLOCK
VOLUME_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


# --- killing a child at the n-th step ------------------------------------------------------


def _steps() -> list[tuple[Any, str]]:
    """Every file-system step of a backup, as (owner, attribute) to wrap."""
    return [
        (os, "fsync"),
        (os, "replace"),
        (os, "mkdir"),
        (os, "unlink"),
        (chunks.ObjectWriter, "write"),
        (chunks.ObjectWriter, "finish"),
        (chunks.Sha256FileWriter, "add"),
        (chunks.Sha256FileWriter, "close"),
        (posix, "atomic_write"),
    ]


def run_killed_at(step: int | None, work: Callable[[], None]) -> tuple[str, int]:
    """Run ``work`` in a forked child that SIGKILLs itself on entering file-system step number
    ``step`` (1-based; None: never). Returns how the child ended and how many steps it took."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.close(read)
            lock = threading.Lock()
            seen = [0]

            def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
                def wrapper(*args: Any, **kwargs: Any) -> Any:
                    with lock:
                        seen[0] += 1
                        if step is not None and seen[0] >= step:
                            os.kill(os.getpid(), signal.SIGKILL)
                    return original(*args, **kwargs)

                return wrapper

            for owner, name in _steps():
                setattr(owner, name, wrap(getattr(owner, name)))
            work()
            os.write(write, str(seen[0]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        steps = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return "killed", 0
    assert os.WEXITSTATUS(status) == 0, "the backup failed for another reason than the kill"
    return "finished", int(steps)


def volume(path: Path, seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    data = b"".join(
        rng.randbytes(BLOCK) if rng.random() < 0.5 else bytes([rng.randrange(256)]) * BLOCK
        for _ in range(size // BLOCK + 1)
    )[:size]
    path.write_bytes(data)
    return data


def driver(root: Path) -> PosixBackupDriver:
    return PosixBackupDriver(root, compression="zlib", chunk_size=CHUNK)


def outcome_after_kill(root: Path, backup_id: str, expected: bytes, out: Path) -> str:
    """What a fresh driver makes of what the killed backup left: never a false good."""
    fresh = driver(root)
    try:
        report = fresh.verify(backup_id)
    except BackupNotFound:
        # Killed before anything was written: there is no backup, and nothing restores.
        with pytest.raises(BackupNotFound):
            fresh.restore(backup_id, None, out)
        return "nothing"
    if report.ok:
        # Every object and the metadata object were in place: a real, complete backup.
        fresh.restore(backup_id, None, out)
        assert out.read_bytes() == expected
        out.unlink()
        return "complete"
    kinds = {p.kind for p in report.problems}
    assert kinds == {"partial"}, report.problems
    for attempt in (
        lambda: fresh.restore(backup_id, None, out),
        lambda: fresh.get_backup(backup_id),
        lambda: fresh.export_record(backup_id),
    ):
        with pytest.raises(DocketError):
            attempt()
    assert not out.exists(), "a refused restore must not leave a target behind"
    # A partial backup can be deleted, and the id used again.
    fresh.delete(backup_id)
    return "partial"


@pytest.mark.parametrize("kind", ["full", "incremental"])
def test_a_backup_killed_at_every_step_is_never_mistaken_for_a_good_one(
    tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "root"
    source = tmp_path / "volume"
    base = volume(source, 1, 6 * CHUNK + 1234)
    parent_id = None
    if kind == "incremental":
        parent_id = "aa11-parent"
        driver(root).backup(Backup(id=parent_id, volume_id=VOLUME_ID), source)
        changed = bytearray(base)
        changed[CHUNK + 10 : CHUNK + 20] = b"x" * 10
        changed[5 * CHUNK : 5 * CHUNK + 5] = b"y" * 5
        source.write_bytes(bytes(changed))
        base = bytes(changed)
    backup = Backup(id="bb22-victim", volume_id=VOLUME_ID, parent_id=parent_id)

    def work() -> None:
        driver(root).backup(backup, source)

    # Count the steps of an undisturbed backup (after one that created the root's folders).
    for _ in range(2):
        how, total = run_killed_at(None, work)
        assert how == "finished" and total > 10
        driver(root).delete(backup.id)
    outcomes = []
    for step in range(1, total + 1):
        how, _ = run_killed_at(step, work)
        assert how == "killed", f"step {step} of {total} was never reached"
        outcomes.append(outcome_after_kill(root, backup.id, base, tmp_path / "out"))
        if outcomes[-1] == "complete":
            driver(root).delete(backup.id)
        if parent_id is not None:  # the parent is untouched by its child's death
            assert driver(root).verify(parent_id).ok
    # Nothing, then partial, then complete only once the metadata object is in place: the
    # last steps (its rename and the folder's fsync).
    order = ["nothing", "partial", "complete"]
    assert outcomes == sorted(outcomes, key=order.index), outcomes
    assert outcomes.count("partial") >= total - 6, outcomes
    assert 1 <= outcomes.count("complete") <= 2, outcomes


# --- the database -------------------------------------------------------------------------


@contextmanager
def _nothing() -> Iterator[None]:
    yield
