"""The benchmark harness: ``python -m benchmarks [--quick]`` from the repository root.

Builds its own data, runs every case a few times after a warm-up (docket and its baseline
alternating, so drift on a shared machine hits both), prints a table of medians and ratios
(docket / baseline, same run) and writes it to ``docs/performance.md`` with the machine and
versions. Before a case's times count, its outputs are checked: docket's containers equal the
baseline's, both restores leave the same database, and every validator gives the same
verdicts. A target that is not met is reported as not met, with a profile of docket's side.

This module is the entry point and the order of the run; the cases are in ``db_cases`` and
``container_cases``, settings, timing and child processes in ``harness``, the report in
``performance_page``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks import backends, data
from benchmarks.container_cases import case_load, case_posix, case_rss, case_validate
from benchmarks.db_cases import Unavailable, build_database, database_cases, docket_store
from benchmarks.harness import (
    CASES,
    DB_TARGETS,
    DEFAULT_PG,
    PG_TARGETS,
    Bench,
    Settings,
)
from benchmarks.performance_page import history_of, record_run, render
from benchmarks.report import Target, text_table

# --- the whole run -----------------------------------------------------------------------------


def run(settings: Settings) -> Bench:
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="docket-bench-", dir=settings.workdir))
    bench = Bench(settings, workdir)
    load_before = os.getloadavg()[0]
    try:
        _run(bench)
        if settings.profile:
            bench.profile_misses()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    bench.environment["harness wall time"] = f"{time.perf_counter() - started:.0f} s"
    # Other work on the machine shows in the spread column; the load says how much there was.
    bench.environment["load average (1 min) at start / end"] = (
        f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
    )
    return bench


def _run(bench: Bench) -> None:
    s = bench.settings
    wants_db = [c for c in ("get", "backup", "restore") if c in s.cases]
    built = data.containers(s.volumes)
    if wants_db:
        try:
            docket_store()
            base = build_database(bench, backends.SQLite(bench.workdir), s.volumes, built)
            database_cases(bench, base, s.volumes, 0.25)
        except Unavailable as err:
            for case in wants_db:
                bench.not_run("SQLite", case, DB_TARGETS[case], str(err))
    if "load" in s.cases:
        bench.log("case load")
        case_load(bench, built)
    if {"validate", "rss"} & set(s.cases):
        bench.log(f"writing {s.validate} containers to a JSONL")
        corpus = data.write_corpus(bench.workdir / "containers.jsonl", built, s.validate)
        if "validate" in s.cases:
            bench.log("case validate")
            case_validate(bench, corpus)
        if "rss" in s.cases:
            bench.log("case rss")
            case_rss(bench, corpus)
    if "posix" in s.cases:
        bench.log("case posix")
        case_posix(bench)
    if "volume" in s.cases:  # beside Cinder's own driver: benchmarks/volume.py
        from benchmarks import volume

        bench.log("case volume")
        volume.case_volume(bench)
    if "objects" in s.cases:  # beside Cinder's Swift and S3 drivers: benchmarks/objects.py
        from benchmarks import objects

        bench.log("case objects")
        objects.case_objects(bench)
    if "gate" in s.cases:  # `docket validate` as a CI gate: benchmarks/validate_gate.py
        from benchmarks import validate_gate

        validate_gate.run_cases(
            bench.workdir, built, quick=s.validate < 100_000, log=bench.log, add=bench.add,
            not_run=lambda label, why: bench.not_run("-", label, Target("<=", 0.1), why),
            repeat=s.heavy_repeat,
        )
    if s.postgres and wants_db:
        _postgres(bench, built)


def _postgres(bench: Bench, built: list[str]) -> None:
    s = bench.settings
    assert s.postgres is not None
    why = backends.PostgreSQL.reachable(s.postgres)
    if why is not None:
        bench.notes.append(f"PostgreSQL cases not run: {why}")
        bench.log(f"PostgreSQL cases not run: {why}")
        return
    try:
        docket_store()
    except Unavailable as err:
        for case in ("get", "backup", "restore"):
            if case in s.cases:
                target = PG_TARGETS.get(case, DB_TARGETS[case])
                bench.not_run("PostgreSQL", case, target, str(err))
        return
    pg = backends.PostgreSQL(s.postgres)
    bench.environment["PostgreSQL"] = pg.server_version()
    try:
        base = build_database(bench, pg, s.pg_volumes, built)
        database_cases(bench, base, s.pg_restore, 0.12)
        if s.profile:
            bench.profile_misses()
    finally:
        pg.close()


def parse_args(argv: list[str] | None) -> Settings:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run docket's benchmarks, print the table and write docs/performance.md.",
    )
    p.add_argument("--quick", action="store_true", help="small sizes, a run of a minute or two")
    p.add_argument("--volumes", type=int, help="volumes for get/backup/restore (10000)")
    p.add_argument("--get-ops", type=int, help="get() calls per run (500)")
    p.add_argument("--load-ops", type=int, help="Family.load() calls per run (3000)")
    p.add_argument("--validate", type=int, help="containers in the JSONL (100000)")
    p.add_argument("--validate-sample", type=int,
                   help="lines the jsonschema reference is timed on (5000)")
    p.add_argument("--rss-lines", type=int, help="lines for the RSS run (1000000)")
    p.add_argument("--posix-mb", type=int, help="MiB of the POSIX throughput file (1024)")
    p.add_argument("--volume-mb", type=int,
                   help="MiB of the volume group's volume (256; 1024 for the 1 GiB mode)")
    p.add_argument("--volume-rounds", type=int, help="rounds of the volume group (3)")
    p.add_argument("--repeat", type=int, help="timed runs per case (5)")
    p.add_argument("--heavy-repeat", type=int,
                   help="timed runs of backup, restore, validate and gate (3)")
    p.add_argument("--warmup", type=int, help="untimed runs first (1)")
    p.add_argument("--pg-volumes", type=int, help="volumes for PostgreSQL get/backup (10000)")
    p.add_argument("--pg-restore", type=int, help="containers for the PostgreSQL restore (1000)")
    p.add_argument("--postgres", metavar="CONNINFO", help=f"libpq conninfo ({DEFAULT_PG})")
    p.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL cases")
    p.add_argument("--cases", help=f"comma-separated subset of {','.join(CASES)}")
    p.add_argument("--no-profile", action="store_true", help="do not profile missed targets")
    p.add_argument("--output", type=Path, help="where to write the report (docs/performance.md)")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    p.add_argument("--workdir", type=Path, help="directory for the data (a temporary one)")
    a = p.parse_args(argv)
    s = Settings.quick() if a.quick else Settings()
    overrides: dict[str, Any] = {}
    for name in ("volumes", "get_ops", "load_ops", "validate", "validate_sample", "rss_lines",
                 "posix_mb", "volume_mb", "volume_rounds", "repeat", "heavy_repeat", "warmup",
                 "pg_volumes", "pg_restore", "output", "workdir", "postgres"):
        value = getattr(a, name)
        if value is not None:
            overrides[name] = value
    if a.no_postgres:
        overrides["postgres"] = None
    if a.no_profile:
        overrides["profile"] = False
    if a.no_write:
        overrides["output"] = None
    if a.cases:
        chosen = tuple(c.strip() for c in a.cases.split(",") if c.strip())
        unknown = set(chosen) - set(CASES)
        if unknown:
            p.error(f"unknown cases {sorted(unknown)}; choose from {','.join(CASES)}")
        overrides["cases"] = chosen
    for name in ("volumes", "get_ops", "load_ops", "validate", "validate_sample", "rss_lines",
                 "posix_mb", "volume_mb", "volume_rounds", "repeat", "heavy_repeat",
                 "pg_volumes", "pg_restore"):
        if name in overrides and overrides[name] < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return replace(s, **overrides)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    # The baseline logs (like the seed) values it cannot serialize; none are expected here.
    import logging

    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    with _quiet_logs():
        bench = run(settings)
    print()
    print(text_table(bench.rows))
    for check in bench.checks:
        if not check.ok:
            print(f"check FAILED: {check.case}: {check.detail}")
    for note in bench.notes:
        print(f"not run: {note}")
    if settings.output is not None:
        record_run(bench, history_of(settings))
        settings.output.parent.mkdir(parents=True, exist_ok=True)
        settings.output.write_text(render(bench))
        print(f"\nwrote {settings.output}")
    return 0
