"""The report: ``docs/performance.md`` and the history of runs whose ranges it shows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness import (
    ANALYSIS,
    DEFAULT_OUTPUT,
    HISTORY,
    Bench,
    Settings,
)
from benchmarks.report import Row, machine, markdown_table


def history_of(settings: Settings) -> Path:
    """Where runs are recorded: ``benchmarks/history.jsonl`` for the report of record, a file
    beside any other report (so a smoke run in a temporary directory stays there)."""
    output = settings.output
    if output is None or output.resolve() == DEFAULT_OUTPUT.resolve():
        return HISTORY
    return output.with_name(output.stem + "-history.jsonl")


def record_run(bench: Bench, history: Path) -> None:
    """Append this run's ratios to ``history`` (one JSON line a run)."""
    quick = bench.settings.volumes < Settings().volumes
    rows = [
        {"backend": r.backend, "case": r.case, "ratio": r.ratio, "met": r.met}
        for r in bench.rows
        if r.ratio is not None
    ]
    line = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "quick": quick,
            "rows": rows}
    with history.open("a", encoding="utf-8") as out:
        out.write(orjson.dumps(line).decode() + "\n")


_MARKED = re.compile(r"<!-- ([a-z-]+):start -->.*?<!-- \1:end -->", re.S)


def kept_sections(page: Path, written: list[str]) -> list[str]:
    """The page's marked sections (``<!-- NAME:start -->`` to ``<!-- NAME:end -->``) that
    this run did not write: those another command writes (``python -m benchmarks.volume``,
    ``.objects``) or that are kept by hand (the peak RSS at 1 and 4 GiB), so that a run of
    the harness does not drop them."""
    if not page.exists():
        return []
    ours = {m.group(1) for section in written for m in _MARKED.finditer(section)}
    out: list[str] = []
    for found in _MARKED.finditer(page.read_text(encoding="utf-8")):
        if found.group(1) not in ours:
            out += [found.group(0), ""]
    return out


def ranges_section(history: Path) -> list[str]:
    """The ratio of each case over every full-size run recorded (quick runs apart)."""
    if not history.exists():
        return []
    runs = [orjson.loads(line) for line in history.read_text().splitlines() if line.strip()]
    out = ["## Ranges across runs", "",
           f"Ratios over the runs recorded in `benchmarks/{history.name}` (the machine is "
           "shared, so single runs move; quick runs are counted apart).", "",
           "| backend | case | runs | ratio, lowest | ratio, highest | target met in |",
           "|---|---|---|---|---|---|"]
    for quick in (False, True):
        seen: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for run in runs:
            if run["quick"] != quick:
                continue
            for row in run["rows"]:
                seen.setdefault((row["backend"], row["case"]), []).append(row)
        for (backend, case), rows in seen.items():
            ratios = [r["ratio"] for r in rows]
            judged = [r for r in rows if r["met"] is not None]
            met = f"{sum(1 for r in judged if r['met'])} of {len(judged)}" if judged else "-"
            label = f"{case} (quick)" if quick else case
            out.append(f"| {backend} | {label} | {len(rows)} | {min(ratios):.3f}x | "
                       f"{max(ratios):.3f}x | {met} |")
    return [*out, ""]


def render(bench: Bench) -> str:
    """docs/performance.md."""
    s = bench.settings
    info = machine() | bench.environment
    by_backend: dict[str, list[Row]] = {}
    for row in bench.rows:
        by_backend.setdefault(row.backend, []).append(row)
    met = sum(1 for r in bench.rows if r.met)
    judged = sum(1 for r in bench.rows if r.target is not None)
    out = [
        "# Performance",
        "",
        "<!-- Written by `python -m benchmarks`; edit benchmarks/run.py, not this file. A run "
        "keeps each marked section it does not write (`benchmarks.volume`, `.objects`, and "
        "the peak RSS kept by hand). -->",
        "",
        "Measured by the benchmark harness: `.venv/bin/python -m benchmarks` from the repository",
        "root (`--quick` for a short run, `--help` for sizes). It builds its own data, runs each",
        "case after a warm-up, alternating docket and its baseline, and reports medians. Ratio is",
        "docket's time over the baseline's time in the same run (for the POSIX driver, docket's",
        "throughput over `sha256sum`'s). Timings are not asserted in tests.",
        "",
        f"Run on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}: {met} of {judged} targets "
        f"met. Timed runs per case: {s.repeat} ({s.heavy_repeat} for backup, restore, validate "
        f"and gate), after {s.warmup} warm-up run (for restore and validate, the runs of the "
        "correctness checks).",
        "",
    ]
    for backend, rows in by_backend.items():
        title = {"-": "Without a database"}.get(backend, backend)
        out += [f"## {title}", "", markdown_table(rows), ""]
    for section in bench.sections:
        out += [section, ""]
    out += kept_sections(s.output or DEFAULT_OUTPUT, bench.sections)
    out += ranges_section(history_of(s))
    out += ["## Correctness checks (made before the timings count)", ""]
    out += [f"- {'ok' if c.ok else '**FAILED**'}: {c.case}: {c.detail}" for c in bench.checks]
    if bench.notes:
        out += ["", "## Not run", ""] + [f"- {n}" for n in bench.notes]
    out += ["", "## Machine and versions", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out += ["", "## How each case is measured", "", *METHOD]
    if ANALYSIS.exists():
        out += ["", ANALYSIS.read_text().strip()]
    if bench.profiles:
        out += ["", "## Profiles of the targets not met", "",
                "cProfile of one run of docket's side, top functions by own time then by",
                "cumulative time.", ""]
        for row in bench.rows:
            name = f"{row.case} [{row.backend}]"
            if name in bench.profiles:
                out += [f"### {name}", "", "```text", bench.profiles[name], "```", ""]
    return "\n".join(out).rstrip() + "\n"


METHOD = [
    "- **Data**: a Cinder-shaped database (`docket.store.init_db`) with N volumes carrying all",
    "  40 of Cinder 29's volume columns, 20 user-metadata and 20 glance entries each (plus one",
    "  soft-deleted row of each, which both sides must skip), and N restore targets named",
    "  `restore_backup_<id>` with 5 user and 5 glance entries of their own.",
    "- **Baseline** (`benchmarks/baseline.py`): the seed's `BackupMetadataAPI` way on the plain",
    "  driver (`sqlite3`, or `psycopg` directly): three SELECTs per volume, `json.dumps` of",
    "  each value as the serializability check, and a restore that runs a statement per key",
    "  and commits per volume, with Cinder's current restore rules. It skips work the seed",
    "  wasted (re-reading the target per rule, looking each glance key up after deleting them",
    "  all). On SQLite the baseline runs with WAL, synchronous=NORMAL (its per-volume commit",
    "  costs what it costs a careful operator, not an fsync) and foreign keys on, as docket's",
    "  engine has them; docket's engine settings are listed under the machine below.",
    "- **get / backup**: docket's `BackupMetadataAPI(engine, version=2)` `get()` per volume and",
    "  `get_many()` of all volumes, against the baseline's `get()`; every container docket wrote",
    "  is checked equal (as JSON) to the baseline's first.",
    "- **restore**: docket's `put_many()` (parse, validate, upgrade, filter, write) against the",
    "  baseline's `put()` per container, each run on a fresh copy of the database; the restored",
    "  volumes, user and glance metadata are checked equal between the two.",
    "- **validate**: a JSONL of mostly Cinder-written v2 containers, some v1 and docket-written",
    "  v3 (with digests), and one in 50 broken (wrong types, patterns, lengths, versions,",
    "  truncated JSON). The reference is `jsonschema.Draft202012Validator` with its format",
    "  checker, one per version, reused; its time is measured on a random sample of lines and",
    "  scaled to the corpus (a full pass takes about two minutes). Verdicts of every docket path",
    "  are checked against the reference on the sample plus every broken line, and against how",
    "  the corpus was built on every line. The CLI is timed as a subprocess (start-up included).",
    "- **plain bulk** (a column of the backup and restore rows; `benchmarks/plain_bulk.py`):",
    "  the same bulk job done set-based on the plain driver and nothing more: three `IN`",
    "  queries per chunk and `json.dumps`, or `json.loads`, Cinder's rules, one select of the",
    "  existing metadata and `executemany` of the changed rows in one transaction; no",
    "  validation, upgrade or value checks. Its ratio to the seed's way shows how low a bulk",
    "  implementation gets on that database; its output and restored state are checked too.",
    "- **load**: `Family.load(bytes)` against `orjson.loads` of the same bytes, per call, for",
    "  the 3.2 KB container Cinder writes (all 40 volume columns) and a 1.5 KB one (twelve",
    "  columns, 20 user-metadata and 20 glance entries with short values), each as Cinder",
    "  writes it (v2, upgraded to v3) and as docket writes v3.",
    "- **RSS**: `docket validate` over the corpus repeated to the line count; the peak RSS of",
    "  that process, taken by a small launcher process with `RUSAGE_CHILDREN` (a child's",
    "  `ru_maxrss` starts at its parent's high-water mark on Linux, so measured from the",
    "  harness itself it would include the harness's own memory).",
    "- **POSIX**: `benchmarks/posix_throughput.measure()`, best of runs, a file of random data.",
    "- **gate** (`benchmarks/validate_gate.py`, issue 15): v2 containers as Cinder writes them,",
    "  every 10th (JSONL: 50th) made invalid under its own schema. One invalid against one valid",
    "  small file, each a `docket validate` child process (median of 7). `Family.validate`",
    "  against a reused `jsonschema.Draft202012Validator` with its format checker on 10,000",
    "  containers, the two alternating every 500 containers so both meet the same noise.",
    "  `docket validate` of a 100,000-line JSONL (a child process, start-up included) against",
    "  `orjson.loads` plus jsonschema-rs `is_valid` on the same lines, in the harness. `docket",
    "  validate DIR` of 2,000 files against `check-jsonschema --schemafile` with the v2 schema",
    "  (both child processes): once compact files broken as above, once indented files (as a",
    "  person keeps them) every 10th invalid through a metadata value that is a number; every",
    "  case checks both sides' verdict counts first.",
]

