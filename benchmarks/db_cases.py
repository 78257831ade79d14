"""The database cases: get, backup and restore against the seed's way, on SQLite or PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

import orjson

from benchmarks import backends, data, plain_bulk
from benchmarks.baseline import SeedMetadataAPI
from benchmarks.harness import (
    DB_TARGETS,
    LABELS,
    PG_TARGETS,
    PROFILE_ITEMS,
    Bench,
    compare,
    profile,
    timed,
)
from benchmarks.report import Row, Target


def docket_store() -> Any:
    try:
        from docket import store
    except ImportError as err:
        raise Unavailable(f"docket.store is not available ({err})") from None
    return store


class Unavailable(Exception):
    """A part of docket a case needs is not there (yet)."""


@dataclass
class Database:
    """A filled template database on a backend, and the containers of its source volumes."""

    backend: Any
    db: str
    dataset: data.Dataset
    containers: list[str]
    settings: dict[str, str]


def build_database(bench: Bench, backend: Any, volumes: int, built: list[str]) -> Database:
    bench.log(f"building the {backend.name} database: {volumes} volumes + {volumes} restore "
              f"targets, {data.USER_ENTRIES}+{data.GLANCE_ENTRIES} entries each")
    start = time.perf_counter()
    db = backend.create()
    engine = backends.make_engine(backend.url(db))
    try:
        dataset = data.populate(engine, volumes)
    finally:
        engine.dispose()
    backend.seal()
    engine = backends.make_engine(backend.url(db))
    try:
        settings = backend.settings(engine)  # as the cases see them, after seal()
    finally:
        engine.dispose()
    conn = backend.connect(db)
    try:
        seed = SeedMetadataAPI(conn, dialect=backend.dialect)
        containers = [seed.get(v) for v in dataset.sources]
    finally:
        conn.close()
    sample = min(len(built), len(containers), 200)
    # The database holds the columns docket's store declares; compare on those.
    columns = set(data.tables().tables["volumes"].columns.keys())
    same = True
    for read, made in zip(containers[:sample], built[:sample], strict=True):
        expect = orjson.loads(made)
        base = expect["volume-base-metadata"]
        expect["volume-base-metadata"] = {k: v for k, v in base.items() if k in columns}
        same = same and orjson.loads(read) == expect
    bench.check(f"data [{backend.name}]", same,
                f"the baseline's get() reads back the containers built ({sample} compared)")
    bench.log(f"  built in {time.perf_counter() - start:.1f} s")
    return Database(backend, db, dataset, containers, settings)


def _same_containers(ours: dict[str, str], theirs: dict[str, str]) -> tuple[bool, str]:
    if ours.keys() != theirs.keys():
        return False, f"different volumes: {len(ours)} vs {len(theirs)}"
    identical = 0
    for vid, text in ours.items():
        if text == theirs[vid]:
            identical += 1
        elif orjson.loads(text) != orjson.loads(theirs[vid]):
            return False, f"volume {vid}: docket's container differs from the baseline's"
    # Equal as JSON is the check; equal as text (Cinder's json.dumps form) is reported.
    return True, (f"{len(ours)} containers equal to the baseline's as JSON, {identical} of "
                  "them byte for byte")


def _with_api(base: Database, fn: Callable[[Any], object]) -> str:
    """Profile ``fn(api)`` on a fresh docket API over the template database."""
    engine = backends.make_engine(base.backend.url(base.db))
    try:
        api = docket_store().BackupMetadataAPI(engine, version=2)
        fn(api)  # warm: the profile is of the steady state, not of connecting
        return profile(lambda: fn(api))
    finally:
        engine.dispose()


def case_get(bench: Bench, base: Database) -> None:
    s = bench.settings
    store = docket_store()
    backend = base.backend
    ids = base.dataset.sources[: s.get_ops]
    engine = backends.make_engine(backend.url(base.db))
    conn = backend.connect(base.db)
    try:
        api = store.BackupMetadataAPI(engine, version=2)
        seed = SeedMetadataAPI(conn, dialect=backend.dialect)
        ok, detail = _same_containers(
            {v: api.get(v) for v in ids}, {v: seed.get(v) for v in ids}
        )
        bench.check(f"get [{backend.name}]", ok, detail)

        def docket_run() -> float:
            return timed(lambda: [api.get(v) for v in ids]) / len(ids)

        def seed_run() -> float:
            return timed(lambda: [seed.get(v) for v in ids]) / len(ids)

        times = compare({"docket": docket_run, "seed": seed_run}, repeat=s.repeat,
                        warmup=s.warmup)
        bench.add(
            Row(backend.name, LABELS["get"], f"{len(ids)} volumes",
                Target("<=", 1.0), median(times["docket"]), median(times["seed"]),
                per_op=True, checks_ok=ok, runs=times),
            profiler=lambda: _with_api(base, lambda api: [api.get(v) for v in ids]),
        )
    finally:
        conn.close()
        engine.dispose()


def case_backup(bench: Bench, base: Database, target: float) -> None:
    s = bench.settings
    store = docket_store()
    backend = base.backend
    ids = base.dataset.sources
    engine = backends.make_engine(backend.url(base.db))
    conn = backend.connect(base.db)
    try:
        api = store.BackupMetadataAPI(engine, version=2)
        seed = SeedMetadataAPI(conn, dialect=backend.dialect)
        seed_out = {v: seed.get(v) for v in ids}
        ok, detail = _same_containers(dict(api.get_many(ids)), seed_out)
        bench.check(f"backup [{backend.name}]", ok, detail)
        plain_ok, detail = _same_containers(plain_bulk.backup(conn, backend.dialect, ids), seed_out)
        bench.check(f"backup, plain bulk [{backend.name}]", plain_ok, detail)
        times = compare(
            {
                "docket": lambda: timed(lambda: api.get_many(ids)),
                "seed": lambda: timed(lambda: [seed.get(v) for v in ids]),
                "plain": lambda: timed(lambda: plain_bulk.backup(conn, backend.dialect, ids)),
            },
            repeat=s.heavy_repeat,
            warmup=s.warmup,
        )
        bench.add(
            Row(backend.name, LABELS["backup"], f"{len(ids)} volumes",
                Target("<=", target), median(times["docket"]), median(times["seed"]),
                checks_ok=ok, runs=times, plain=median(times["plain"]) if plain_ok else None),
            profiler=lambda: _with_api(base, lambda api: api.get_many(ids[:PROFILE_ITEMS])),
        )
    finally:
        conn.close()
        engine.dispose()


def case_restore(bench: Bench, base: Database, count: int) -> None:
    s = bench.settings
    store = docket_store()
    backend = base.backend
    items = list(zip(base.dataset.targets[:count], base.containers[:count], strict=True))
    kept: dict[str, str] = {}

    def on_copy(keep: str | None, work: Callable[[str], float]) -> float:
        """``work`` on a fresh copy of the database, which is dropped after, or kept under
        ``keep`` for the check."""
        db = backend.copy()
        elapsed = work(db)
        if keep is None:
            backend.drop(db)
        else:
            kept[keep] = db
        return elapsed

    def on_connection(keep: str | None, restore: Callable[[Any], Callable[[], None]]) -> float:
        """The time of ``restore(conn)()`` on a DBAPI connection to a fresh copy."""

        def work(db: str) -> float:
            conn = backend.connect(db)
            try:
                return timed(restore(conn))
            finally:
                conn.close()

        return on_copy(keep, work)

    def docket_run(keep: str | None = None) -> float:
        def work(db: str) -> float:
            engine = backends.make_engine(backend.url(db))
            try:
                api = store.BackupMetadataAPI(engine, version=2)
                with engine.connect():
                    pass  # the pool's first connection is not part of the restore
                return timed(lambda: api.put_many(items))
            finally:
                engine.dispose()

        return on_copy(keep, work)

    def seed_puts(commit_each: bool) -> Callable[[Any], Callable[[], None]]:
        """The seed's restores, a commit each or one for all."""

        def restore(conn: Any) -> Callable[[], None]:
            seed = SeedMetadataAPI(conn, dialect=backend.dialect)

            def restore_all() -> None:
                for vid, text in items:
                    seed.put(vid, text, commit=commit_each)
                if not commit_each:
                    conn.commit()

            return restore_all

        return restore

    def seed_run(keep: str | None = None) -> float:
        return on_connection(keep, seed_puts(commit_each=True))

    def seed_one_run(keep: str | None = None) -> float:
        return on_connection(keep, seed_puts(commit_each=False))

    def plain_run(keep: str | None = None) -> float:
        return on_connection(
            keep, lambda conn: lambda: plain_bulk.restore(conn, backend.dialect, items)
        )

    # The warm-up runs keep their databases for the check.
    docket_run("docket")
    seed_run("seed")
    seed_one_run("seed, one transaction")
    plain_run("plain")
    targets = [vid for vid, _ in items]
    states = {}
    for name, db in kept.items():
        conn = backend.connect(db)
        try:
            states[name] = backends.snapshot(conn, backend.dialect, targets)
        finally:
            conn.close()
        backend.drop(db)
    ok = states["docket"] == states["seed"]
    detail = (f"{len(targets)} restored volumes: rows, user and glance metadata equal"
              if ok else _first_difference(states["docket"], states["seed"]))
    bench.check(f"restore [{backend.name}]", ok, detail)
    one_ok = states["seed, one transaction"] == states["seed"]
    bench.check(f"restore, seed in one transaction [{backend.name}]", one_ok,
                "the same restored state as a commit per restore" if one_ok
                else _first_difference(states["seed, one transaction"], states["seed"]))
    plain_ok = states["plain"] == states["seed"]
    detail = ("the same restored state as the baseline's" if plain_ok
              else _first_difference(states["plain"], states["seed"]))
    bench.check(f"restore, plain bulk [{backend.name}]", plain_ok, detail)
    times = compare({"docket": docket_run, "seed": seed_run, "seed_one": seed_one_run,
                     "plain": plain_run}, repeat=s.heavy_repeat, warmup=0)

    def profiled() -> str:
        db = backend.copy()
        engine = backends.make_engine(backend.url(db))
        try:
            api = store.BackupMetadataAPI(engine, version=2)
            return profile(lambda: api.put_many(items[:PROFILE_ITEMS]))
        finally:
            engine.dispose()
            backend.drop(db)

    target = (PG_TARGETS if backend.name == "PostgreSQL" else DB_TARGETS)["restore"]
    # The target is judged against Cinder's way (a commit per restore); the same job with
    # the seed's restores in one transaction is shown beside it, for information.
    bench.add(
        Row(backend.name, LABELS["restore"], f"{count} containers",
            target, median(times["docket"]), median(times["seed"]),
            checks_ok=ok, runs={k: times[k] for k in ("docket", "seed", "plain")},
            plain=median(times["plain"]) if plain_ok else None),
        profiler=profiled,
    )
    bench.add(
        Row(backend.name, LABELS["restore-one"], f"{count} containers", None,
            median(times["docket"]), median(times["seed_one"]),
            baseline_name="seed, one transaction", checks_ok=ok and one_ok,
            runs={k: times[k] for k in ("docket", "seed_one")},
            note=f"target {target.op} {target.value}x is judged on the row above"),
    )


def _first_difference(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    for table in ours:
        for vid in sorted(set(ours[table]) | set(theirs[table])):
            a, b = ours[table].get(vid), theirs[table].get(vid)
            if a != b:
                return f"{table} of volume {vid}: docket wrote {a!r}, the baseline {b!r}"
    return "states differ"


def database_cases(bench: Bench, base: Database, restore: int, backup_target: float) -> None:
    s = bench.settings
    name_ = base.backend.name
    bench.environment[f"{name_} settings (docket's engine)"] = ", ".join(
        f"{k}={v}" for k, v in base.settings.items()
    )
    steps: tuple[tuple[str, Callable[[], None]], ...] = (
        ("get", lambda: case_get(bench, base)),
        ("backup", lambda: case_backup(bench, base, backup_target)),
        ("restore", lambda: case_restore(bench, base, min(restore, len(base.dataset.sources)))),
    )
    for name, run in steps:
        if name not in s.cases:
            continue
        bench.log(f"case {name} [{name_}]")
        try:
            run()
        except Unavailable as err:
            target = Target("<=", backup_target) if name == "backup" else DB_TARGETS[name]
            bench.not_run(name_, name, target, str(err))

