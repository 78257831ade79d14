"""The harness's parts every case uses: settings, the run's record (``Bench``), timing and
profiling, and child processes (the ``docket`` command, its time and peak RSS)."""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from benchmarks.report import Row, Target

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "docs" / "performance.md"
ANALYSIS = Path(__file__).resolve().parent / "analysis.md"
"""Hand-written reading of the misses, copied into the report after the method."""
DEFAULT_PG = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PROFILE_ITEMS = 2_000
"""Volumes or containers a profile of a bulk case runs on: enough to show where time goes."""
CASES = (
    "get", "backup", "restore", "load", "validate", "rss", "posix", "gate", "volume", "objects"
)
DB_TARGETS = {"get": Target("<=", 1.0), "backup": Target("<=", 0.25),
               "restore": Target("<=", 0.2)}
PG_TARGETS = {"backup": Target("<=", 0.12), "restore": Target("<=", 0.1)}
"""Where PostgreSQL's target differs (issue 16)."""
LOAD_TARGET = 3.0
HISTORY = Path(__file__).resolve().parent / "history.jsonl"
"""Every run's ratios, one JSON line a run; docs/performance.md shows their ranges."""
LABELS = {
    "get": "get() of one volume (20+20 entries)",
    "backup": "backup: get_many() vs a get() per volume",
    "restore": "restore: put_many() vs a put() per volume, a commit each (as Cinder's service)",
    "restore-one": "restore: put_many() vs a put() per volume, all in one transaction",
    "validate-cli": "validate: CLI `docket validate` on a JSONL",
    "rss": "`docket validate` peak RSS over a JSONL",
    "posix": "posix driver backup (no compression) vs sha256sum",
}


@dataclass
class Settings:
    """Sizes and repetitions; the defaults are the issue's sizes."""

    volumes: int = 10_000
    get_ops: int = 500
    load_ops: int = 3_000
    validate: int = 100_000
    validate_sample: int = 5_000
    rss_lines: int = 1_000_000
    posix_mb: int = 1024
    volume_mb: int = 256
    """MiB of the volume group's volume (benchmarks/volume.py; 1024 for the 1 GiB mode)."""
    volume_rounds: int = 3
    repeat: int = 5
    heavy_repeat: int = 3
    """Runs of the cases that take seconds per run (backup, restore, validate)."""
    warmup: int = 1
    postgres: str | None = DEFAULT_PG
    pg_volumes: int = 10_000
    pg_restore: int = 1_000
    """The PostgreSQL restore baseline pays a network round trip per statement (~45 per
    volume) and a synchronous commit per volume, so it restores fewer volumes per run."""
    cases: tuple[str, ...] = CASES
    profile: bool = True
    output: Path | None = DEFAULT_OUTPUT
    workdir: Path | None = None

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            volumes=1_000,
            get_ops=200,
            load_ops=1_000,
            validate=10_000,
            validate_sample=1_000,
            rss_lines=100_000,
            posix_mb=128,
            volume_mb=64,
            volume_rounds=1,
            repeat=3,
            heavy_repeat=3,
            pg_volumes=1_000,
            pg_restore=500,
        )


@dataclass
class Check:
    """A correctness check made before timings count."""

    case: str
    ok: bool
    detail: str


@dataclass
class Bench:
    """One harness run: settings in, rows, checks and profiles out."""

    settings: Settings
    workdir: Path
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)
    """Markdown sections a case adds to the report as they are (the volume group's)."""
    _profilers: dict[int, Callable[[], str]] = field(default_factory=dict)

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def add(self, row: Row, profiler: Callable[[], str] | None = None) -> Row:
        self.rows.append(row)
        if profiler is not None:
            self._profilers[id(row)] = profiler
        cells = row.cells()
        self.log(f"  {cells[1]} [{cells[0]}]: docket {cells[3]}, baseline {cells[4]}, "
                 f"ratio {cells[5]} (target {cells[6]}: {cells[7]})")
        return row

    def not_run(self, backend: str, case: str, target: Target, why: str) -> None:
        """A case that could not run: a row that says so, and why in the notes."""
        label = LABELS.get(case, case)
        self.rows.append(Row(backend, label, "-", target, note=why))
        self.notes.append(f"{label} [{backend}]: {why}")
        self.log(f"  {label} [{backend}] not run: {why}")

    def check(self, case: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(case, ok, detail))
        self.log(f"  check {case}: {'ok' if ok else 'FAILED'} - {detail}")
        return ok

    def profile_misses(self) -> None:
        """Profile docket's side of every missed target not profiled yet (while its database
        still exists)."""
        for row in self.rows:
            profiler = self._profilers.pop(id(row), None)
            if row.met is False and profiler is not None:
                self.log(f"profiling docket's side of {row.case} [{row.backend}]")
                try:
                    self.profiles[f"{row.case} [{row.backend}]"] = profiler()
                except Exception as err:  # a profile is a diagnosis; never lose the table to it
                    self.profiles[f"{row.case} [{row.backend}]"] = f"profiling failed: {err!r}"


# --- timing ------------------------------------------------------------------------------------


def compare(
    contenders: dict[str, Callable[[], float]], *, repeat: int, warmup: int
) -> dict[str, list[float]]:
    """Run each contender ``warmup`` times, then ``repeat`` times alternating; their timings.

    Each contender does its own untimed setup and returns the seconds its timed part took.
    """
    for run in contenders.values():
        for _ in range(warmup):
            _isolated(run)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            times[name].append(_isolated(run))
    return times


def _isolated(run: Callable[[], float]) -> float:
    # The harness holds a large heap (containers, corpora); frozen, the garbage collector
    # skips it, so each side pays only for collecting the objects it makes itself.
    gc.collect()
    gc.freeze()
    try:
        return run()
    finally:
        gc.unfreeze()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def profile(fn: Callable[[], object], limit: int = 18) -> str:
    """The top of a cProfile of one call of ``fn``, by own time and by cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    return stats_text(pstats.Stats(prof), limit)


def stats_text(stats: pstats.Stats, limit: int) -> str:
    stats.strip_dirs()
    parts = []
    for key, title in (("tottime", "by own time"), ("cumulative", "by cumulative time")):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(key).print_stats(limit)
        lines = [
            ln for ln in out.getvalue().splitlines()
            if ln.strip() and "Ordered by" not in ln and "List reduced" not in ln
        ]
        parts.append(f"-- {title} --\n" + "\n".join(lines))
    return "\n\n".join(parts)


# --- child processes ---------------------------------------------------------------------------


def docket_exe() -> list[str]:
    script = Path(sys.executable).with_name("docket")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from docket.cli import main; sys.exit(main())"]


def cli_available() -> str | None:
    try:
        done = subprocess.run([*docket_exe(), "validate", "--help"], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"the docket command does not run ({err})"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        return f"`docket validate` is not available ({tail[0]})"
    return None


@dataclass
class Child:
    """A finished child process: its time, exit status, output and (from :func:`peak_rss`) its
    peak RSS."""

    seconds: float
    returncode: int
    stdout: bytes = b""
    max_rss_mib: float | None = None


def run_child(argv: list[str], *, capture: bool = False) -> Child:
    """Run ``argv``; its wall time, exit status and (with ``capture``) standard output."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=out if capture else subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False)
        elapsed = time.perf_counter() - start
        out.seek(0)
        return Child(elapsed, done.returncode, out.read() if capture else b"")


# Linux starts a child's ru_maxrss at its parent's high-water mark (exec folds the memory the
# child had before exec, shared with or copied from the parent, into it), so a child of this
# harness would report the harness's own memory. A small launcher process runs the command
# instead and reports its child's peak, which starts from the launcher's ~10 MiB.
_LAUNCHER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps({"seconds": time.perf_counter() - start, "returncode": done.returncode,
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def peak_rss(argv: list[str]) -> Child:
    """Run ``argv`` under the launcher; its wall time, exit status and own peak RSS."""
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *argv], capture_output=True,
                          check=True)
    r = orjson.loads(done.stdout)
    return Child(r["seconds"], r["returncode"], max_rss_mib=r["max_rss_kib"] / 1024)

