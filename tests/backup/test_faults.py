"""Fault injection: a failure at any point leaves things as they were.

- The POSIX driver: a backup process killed (SIGKILL) at every file-system step leaves either
  nothing, a partial backup that ``verify`` reports and restore refuses, or — when it died
  after the last step that matters — a complete backup that verifies and restores exactly.
- ``BackupMetadataAPI.put``: a database error, a lost connection and a killed process at every
  statement of a restore leave the database exactly as it was, on SQLite, PostgreSQL and
  MariaDB.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import docket.backup._chunks as chunks
import docket.backup._writer as writer
import docket.backup.posix as posix
from docket import load_registry
from docket.backup import Backup
from docket.backup.posix import PosixBackupDriver
from docket.errors import BackupNotFound, DocketError
from tests._databases import BACKENDS, backend_params, dump, scratch_database
from tests._fork import fork_reporting

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
        (writer.ObjectWriter, "write"),
        (writer.ObjectWriter, "finish"),
        (chunks.Sha256FileWriter, "add"),
        (chunks.Sha256FileWriter, "close"),
        (posix._PosixSink, "commit"),
    ]


def run_killed_at(step: int | None, work: Callable[[], None]) -> tuple[str, int]:
    """Run ``work`` in a forked child that SIGKILLs itself on entering file-system step number
    ``step`` (1-based; None: never). Returns how the child ended and how many steps it took."""

    def child(write: int) -> None:
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

    pid, read = fork_reporting(child)
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


REGISTRY = load_registry()


def driver(root: Path) -> PosixBackupDriver:
    # One registry for all: building it is most of what a new driver costs.
    return PosixBackupDriver(root, compression="zlib", chunk_size=CHUNK, registry=REGISTRY)


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
    base = volume(source, 1, 3 * CHUNK + 1234)
    parent_id = None
    if kind == "incremental":
        parent_id = "aa11-parent"
        driver(root).backup(Backup(id=parent_id, volume_id=VOLUME_ID), source)
        changed = bytearray(base)
        changed[CHUNK + 10 : CHUNK + 20] = b"x" * 10
        changed[3 * CHUNK : 3 * CHUNK + 5] = b"y" * 5
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
CONTAINER = json.dumps(
    {
        "version": 2,
        "volume-base-metadata": {
            "id": VOLUME_ID,
            "display_name": "restored",
            "display_description": "from the backup",
            "status": "available",
        },
        "volume-metadata": {"fee": "new", "fo": "fum", "added": "1"},
        "volume-glance-metadata": {"image_id": "img-2", "os_distro": "debian"},
    }
)
KINDS = ["error", "disconnect", "kill"]


@dataclass
class Restore:
    """One database and the restore whose every step is interrupted in turn."""

    backend: str
    url: str
    engine: sa.Engine
    made: int = 0

    def target(self) -> str:
        """A fresh volume in the same state for each attempt: the restore deletes, updates
        and inserts metadata, updates the row and replaces the glance metadata."""
        self.made += 1
        return store().create_volume(
            self.engine,
            display_name=f"restore_backup_{self.made}",
            metadata={"keep": "me", "fee": "old", "fo": "fum"},
            glance={"image_id": "img-1", "license": "paid"},
        )

    def restored(self, volume_id: str) -> bool:
        """Whether the volume holds exactly what CONTAINER restores."""
        doc = json.loads(store().BackupMetadataAPI(self.engine).get(volume_id))
        return (
            doc["volume-base-metadata"]["display_name"] == "restored"
            and doc["volume-metadata"] == {"fee": "new", "fo": "fum", "added": "1"}
            and doc["volume-glance-metadata"] == {"image_id": "img-2", "os_distro": "debian"}
        )


def store() -> Any:
    return pytest.importorskip("docket.store", reason="docket.store is not there yet")


@pytest.fixture(scope="module", params=backend_params(BACKENDS))
def restore(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Restore]:
    with scratch_database(request.param, tmp_path_factory.mktemp("db")) as url:
        engine = store().make_engine(url)
        store().init_db(engine)
        store().create_volume(engine, display_name="bystander", metadata={"other": "volume"})
        try:
            yield Restore(request.param, url, engine)
        finally:
            engine.dispose()


class Steps:
    """Counts the statements a connection runs while armed, and acts at one of them."""

    def __init__(self, engine: sa.Engine, act: Callable[[Any, int], None] | None = None):
        self.engine = engine
        self.act = act
        self.count = 0
        self.armed = False

    def __enter__(self) -> Steps:
        sa.event.listen(self.engine, "before_cursor_execute", self._statement)
        sa.event.listen(self.engine, "commit", self._commit)
        self.armed = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.armed = False
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)
        sa.event.remove(self.engine, "commit", self._commit)

    def _statement(self, conn: Any, cursor: Any, *args: Any) -> None:
        if self.armed:
            self.count += 1
            if self.act is not None:
                self.act(cursor.connection, self.count)

    def _commit(self, conn: sa.Connection) -> None:
        if self.armed:
            self.count += 1
            if self.act is not None:
                self.act(conn.connection.dbapi_connection, self.count)


def statements(db: Restore) -> int:
    """Statements (and the commit) of one restore, counted on a twin volume."""
    twin = db.target()
    with Steps(db.engine) as steps:
        store().BackupMetadataAPI(db.engine).put(twin, CONTAINER)
    assert db.restored(twin)
    assert steps.count >= 5, "a restore of three sections takes several statements"
    return steps.count


class InjectedFault(Exception):
    pass


def warm(engine: sa.Engine, volume_id: str) -> Any:
    """An API whose first use (reflecting the tables) is behind it, so the steps counted are
    the restore's own."""
    api = store().BackupMetadataAPI(engine)
    api.get(volume_id)
    return api


def _cut_connection(backend: str, admin: sa.Engine, dbapi_conn: Any) -> None:
    """Drop the connection from the server side, as a network failure or a restarted
    server would; on SQLite, close the database under the transaction."""
    if backend == "sqlite":
        dbapi_conn.close()
        return
    with admin.connect() as conn:
        if backend == "postgresql":
            pid = dbapi_conn.info.backend_pid
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        else:
            conn.execute(sa.text(f"KILL {int(dbapi_conn.thread_id())}"))


def _interrupted_in_process(db: Restore, volume_id: str, at: int, kind: str) -> None:
    admin = sa.create_engine(db.url, isolation_level="AUTOCOMMIT")
    engine = store().make_engine(db.url)

    def act(dbapi_conn: Any, count: int) -> None:
        if count != at:
            return
        if kind == "error":
            # What the database says when a statement fails (a constraint, a full disk...).
            raise sa.exc.OperationalError("injected", {}, InjectedFault(f"statement {at}"))
        _cut_connection(db.backend, admin, dbapi_conn)

    api = warm(engine, volume_id)
    try:
        with Steps(engine, act), pytest.raises(DocketError) as info:
            api.put(volume_id, CONTAINER)
        if getattr(info.value, "at_commit", False):
            # A connection lost as it commits: only the database knows whether the commit
            # was written, so the error must not say it was not (here it was not).
            assert kind == "disconnect", info.value
            assert "may or may not have been written" in str(info.value), info.value
        else:
            assert "nothing was written" in str(info.value), info.value
    finally:
        engine.dispose()
        admin.dispose()


def _killed_in_child(db: Restore, volume_id: str, at: int) -> str:
    """Run the restore in a forked child that stops at step ``at`` and is killed there by
    this process with SIGKILL. Returns "killed", or "finished" when ``at`` is past the end."""
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh engine, never returns into pytest
        code = 70
        try:
            os.close(ready_r)
            os.close(hold_w)
            engine = store().make_engine(db.url)
            api = warm(engine, volume_id)

            def act(dbapi_conn: Any, count: int) -> None:
                if count == at:
                    os.write(ready_w, b"stopped")
                    os.read(hold_r, 1)  # wait here until killed

            with Steps(engine, act):
                api.put(volume_id, CONTAINER)
            os.write(ready_w, b"finished")
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(hold_r)
    try:
        said = os.read(ready_r, 16)
        if said == b"stopped":
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(ready_r)
        os.close(hold_w)
    if said == b"stopped":
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        return "killed"
    assert said == b"finished" and os.WEXITSTATUS(status) == 0, (said, status)
    return "finished"


@pytest.mark.parametrize("kind", KINDS)
def test_a_restore_interrupted_at_every_step_leaves_the_database_as_it_was(
    restore: Restore, kind: str
) -> None:
    total = statements(restore)
    for at in range(1, total + 1):
        volume_id = restore.target()
        before = dump(restore.engine)
        if kind == "kill":
            assert _killed_in_child(restore, volume_id, at) == "killed"
        else:
            _interrupted_in_process(restore, volume_id, at, kind)
        assert dump(restore.engine) == before, f"{kind} at step {at} of {total} changed it"
    # Past the last step (the commit) the restore is complete, and whole.
    volume_id = restore.target()
    if kind == "kill":
        assert _killed_in_child(restore, volume_id, total + 1) == "finished"
    else:
        store().BackupMetadataAPI(restore.engine).put(volume_id, CONTAINER)
    assert restore.restored(volume_id)


def test_the_engine_recovers_after_a_lost_connection(restore: Restore) -> None:
    # The pool must not hand out the dead connection again: the next restore just works.
    engine = store().make_engine(restore.url)
    admin = sa.create_engine(restore.url, isolation_level="AUTOCOMMIT")
    first = restore.target()
    api = warm(engine, first)
    try:

        def act(dbapi_conn: Any, count: int) -> None:
            if count == 2:
                _cut_connection(restore.backend, admin, dbapi_conn)

        with Steps(engine, act), pytest.raises(DocketError):
            api.put(first, CONTAINER)
        second = restore.target()
        api.put(second, CONTAINER)
        assert restore.restored(second) and not restore.restored(first)
    finally:
        engine.dispose()
        admin.dispose()
