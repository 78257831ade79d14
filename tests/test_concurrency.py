"""Concurrent restores: 8 processes restoring into overlapping volumes on PostgreSQL and
MariaDB, with a reader taking backups (``get``) all the while.

Every container written is tagged (writer, step) in all three sections, so any mix is
visible. Afterwards each volume must hold exactly one of the containers restored into it — the
last one to commit, so no update is lost — every refused restore must be a typed error (a
deadlock retried away or reported as such), no key may have two live rows, and no backup the
reader took may mix two restores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from docket import DocketError
from tests._databases import SERVERS, backend_params, scratch_database

WRITERS = 8
VOLUMES = 4
STEPS = 12

WORKER = textwrap.dedent(
    """
    import json, random, sys, time
    import docket
    from docket import store

    url, role, number, volumes, steps = sys.argv[1:6]
    number, steps = int(number), int(steps)
    volumes = json.loads(volumes)
    engine = store.make_engine(url)
    api = store.BackupMetadataAPI(engine)
    api.get(volumes[0])  # reflect the tables before the start
    rng = random.Random(number)

    def container(tag):
        return json.dumps({
            "version": 2,
            # A name Cinder gives restore targets keeps the display-name rule writing the
            # description on every restore, so it carries the tag each time.
            "volume-base-metadata": {"display_name": "restore_backup_again",
                                     "display_description": tag},
            "volume-metadata": {
                **{f"k{n}": tag for n in range(6)},
                # A key only this writer has: a mix of two writers shows as extra keys.
                f"only-{number}": tag,
            },
            "volume-glance-metadata": {"image_id": tag, "writer": str(number)},
        })

    def report(**facts):
        print(json.dumps(facts), flush=True)

    report(ready=True)
    sys.stdin.readline()  # everyone starts together
    if role == "reader":
        deadline = time.monotonic() + float(steps)
        while time.monotonic() < deadline:
            for vid in volumes:
                try:
                    doc = json.loads(api.get(vid))
                except docket.DocketError as err:
                    report(read=vid, error=type(err).__name__, message=str(err))
                    continue
                report(read=vid, base=doc["volume-base-metadata"]["display_description"],
                       metadata=doc.get("volume-metadata", {}),
                       glance=doc.get("volume-glance-metadata", {}))
        sys.exit(0)
    mine = [volumes[(number + i) % len(volumes)] for i in range(3)]  # overlapping sets
    for step in range(steps):
        if step % 4 == 3:  # a bulk restore of two volumes, in an order of its own
            targets = rng.sample(mine, 2)
        else:
            targets = [rng.choice(mine)]
        tags = [f"w{number}-s{step}-{i}" for i in range(len(targets))]
        started = time.monotonic()
        try:
            api.put_many([(v, container(t)) for v, t in zip(targets, tags)])
        except docket.DocketError as err:
            report(step=step, volumes=targets, tags=tags, error=type(err).__name__,
                   message=str(err), started=started, ended=time.monotonic())
        except Exception as err:
            report(step=step, volumes=targets, tags=tags, untyped=type(err).__name__,
                   message=str(err), started=started, ended=time.monotonic())
        else:
            report(step=step, volumes=targets, tags=tags, ok=True,
                   started=started, ended=time.monotonic())
    """
)


def store() -> Any:
    return pytest.importorskip("docket.store", reason="docket.store is not there yet")


@pytest.fixture(scope="module", params=backend_params(SERVERS))
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(request.param, tmp_path_factory.mktemp("db")) as found:
        yield found


def expected(tag: str) -> dict[str, Any]:
    writer = tag.split("-")[0][1:]
    return {
        "base": tag,
        "metadata": {**{f"k{n}": tag for n in range(6)}, f"only-{writer}": tag},
        "glance": {"image_id": tag, "writer": writer},
    }


def run_all(url: str, volumes: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    procs = []
    roles = [("writer", n) for n in range(WRITERS)] + [("reader", WRITERS)]
    for role, number in roles:
        args = [url, role, str(number), json.dumps(volumes), str(STEPS if role == "writer" else 3)]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:  # wait until every process is connected and warmed up
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert json.loads(line or "{}").get("ready"), proc.stderr.read() if proc.stderr else ""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    writes: list[dict[str, Any]] = []
    reads: list[dict[str, Any]] = []
    for (role, _), proc in zip(roles, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        (writes if role == "writer" else reads).extend(lines)
    return writes, reads


@dataclass
class Run:
    """What the processes did, and the database they did it in."""

    url: str
    engine: sa.Engine
    volumes: list[str]
    writes: list[dict[str, Any]]
    reads: list[dict[str, Any]]

    @property
    def done(self) -> list[dict[str, Any]]:
        return [w for w in self.writes if w.get("ok")]


@pytest.fixture(scope="module")
def run(url: str) -> Iterator[Run]:
    engine = store().make_engine(url)
    try:
        store().init_db(engine)
        volumes = [
            store().create_volume(
                engine,
                display_name=f"restore_backup_{i}",
                metadata={"before": "restore"},
                glance={"image_id": "original"},
            )
            for i in range(VOLUMES)
        ]
        writes, reads = run_all(url, volumes)
        yield Run(url, engine, volumes, writes, reads)
    finally:
        engine.dispose()


def test_every_restore_succeeds_or_fails_with_a_typed_error(run: Run) -> None:
    assert len(run.writes) == WRITERS * STEPS
    untyped = [w for w in run.writes if "untyped" in w]
    assert not untyped, untyped
    # The only failure a correct restore may meet here is a deadlock or lock timeout that the
    # store could not retry away, and it must say so.
    failed = [w for w in run.writes if "error" in w]
    for w in failed:
        assert "deadlock" in w["message"].lower() or "lock" in w["message"].lower(), w
    assert len(run.done) >= WRITERS * STEPS * 0.9, f"{len(failed)} failed: {failed[:3]}"


def test_each_volume_holds_exactly_the_last_restore_committed(run: Run) -> None:
    api = store().BackupMetadataAPI(run.engine)
    for vid in run.volumes:
        doc = json.loads(api.get(vid))
        final = {
            "base": doc["volume-base-metadata"]["display_description"],
            "metadata": doc.get("volume-metadata", {}),
            "glance": doc.get("volume-glance-metadata", {}),
        }
        ours = [
            (w, t)
            for w in run.done
            for v, t in zip(w["volumes"], w["tags"], strict=True)
            if v == vid
        ]
        assert ours, "every volume is some writer's target"
        tag = final["base"]
        assert final == expected(tag), f"volume {vid} is a mix: {final}"
        [winner] = [w for w, t in ours if t == tag]
        # A restore that began after the winner had committed would have replaced it.
        later = [t for w, t in ours if w["started"] > winner["ended"]]
        assert not later, f"lost update on {vid}: {later} began after {tag} committed"


def test_no_key_has_two_live_rows(run: Run) -> None:
    key = run.engine.dialect.identifier_preparer.quote("key")
    with run.engine.connect() as conn:
        for table in ("volume_metadata", "volume_glance_metadata"):
            dupes = conn.execute(
                sa.text(
                    f"SELECT volume_id, {key}, COUNT(*) FROM {table} WHERE deleted = :f "
                    f"GROUP BY volume_id, {key} HAVING COUNT(*) > 1"
                ),
                {"f": False},
            ).all()
            assert not dupes, (table, dupes)


def test_no_backup_taken_meanwhile_sees_a_half_restored_volume(run: Run) -> None:
    good = [r for r in run.reads if "error" not in r]
    assert len(good) > VOLUMES
    mixed = []
    for r in good:
        tag = r["base"]
        if tag is None:  # the volume as created, before any restore reached it
            assert r["metadata"] == {"before": "restore"}, r
            continue
        if {"base": tag, "metadata": r["metadata"], "glance": r["glance"]} != expected(tag):
            mixed.append(r)
    if mixed and run.engine.dialect.name == "postgresql":
        # Known bug: get() reads the row, the user metadata and the glance metadata in three
        # statements under READ COMMITTED, so a restore committing in between shows up half.
        # Reading in one REPEATABLE READ snapshot fixes it (then this branch is never taken).
        pytest.xfail(f"get() on PostgreSQL reads without one snapshot: {len(mixed)} mixed")
    assert not mixed, f"get() mixed two restores: {mixed[:3]}"


def _waiting(engine: sa.Engine) -> int:
    """Transactions waiting for a lock right now."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = "SELECT COUNT(*) FROM pg_locks WHERE NOT granted"
        else:
            sql = "SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'"
        return int(conn.execute(sa.text(sql)).scalar_one())


def test_a_deadlock_is_retried_or_reported_as_one(url: str) -> None:
    # Another transaction holds volume B and then asks for A while put_many holds A and waits
    # for B: a cycle the database breaks by failing one side. Whichever side it picks, the
    # restore must end restored, or refused with an error that says deadlock and nothing
    # written.
    engine = store().make_engine(url)
    try:
        store().init_db(engine)
        a, b = sorted(store().create_volume(engine, display_name="restore_backup_x") for _ in "ab")
        api = store().BackupMetadataAPI(engine)
        doc = json.dumps({"version": 2, "volume-metadata": {"k": "restored"}})
        outcome: list[BaseException | None] = []
        vol = sa.table("volumes", sa.column("id"))
        with engine.connect() as other:
            holding = other.begin()
            lock = sa.select(vol.c.id).with_for_update()
            other.execute(lock.where(vol.c.id == b))
            worker = threading.Thread(
                target=lambda: outcome.append(_attempt(lambda: api.put_many([(a, doc), (b, doc)])))
            )
            worker.start()
            # Until the restore waits for B (it holds A by then). MariaDB refreshes innodb_trx
            # only when it was not read for 0.1 s, so poll more slowly than that.
            for _ in range(200):
                if _waiting(engine):
                    break
                time.sleep(0.15)
            else:
                pytest.fail(f"the restore never waited for the lock on B: {outcome}")
            try:
                other.execute(lock.where(vol.c.id == a))
            except sa.exc.DBAPIError as err:  # this side was the one chosen to fail
                assert "deadlock" in str(err).lower()
            holding.rollback()
            worker.join(timeout=60)
        [err] = outcome
        back = json.loads(api.get(a)).get("volume-metadata")
        if err is None:
            assert back == {"k": "restored"}
        else:
            assert isinstance(err, DocketError), repr(err)
            assert "deadlock" in str(err).lower(), str(err)
            assert back is None, "a restore that failed wrote something"
    finally:
        engine.dispose()


def _attempt(call: Any) -> BaseException | None:
    try:
        call()
    except BaseException as err:
        return err
    return None
