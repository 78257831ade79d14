"""Results: rows of the table, their text and Markdown forms, and what machine made them."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

LIBRARIES = (
    "docket",
    "SQLAlchemy",
    "psycopg",
    "orjson",
    "jsonschema",
    "jsonschema-rs",
    "marshmallow",
    "click",
    "rich",
)


@dataclass(frozen=True)
class Target:
    """A target on a row's ratio (or, for ``unit``-ed absolute targets, on docket's value)."""

    op: str
    """``"<="`` or ``">="`` on the ratio, ``"<"`` on docket's absolute value."""
    value: float
    unit: str = "x"

    def met(self, ratio: float | None, absolute: float | None) -> bool | None:
        if self.unit == "x":
            if ratio is None:
                return None
            return ratio <= self.value if self.op == "<=" else ratio >= self.value
        if absolute is None:
            return None
        return absolute < self.value if self.op == "<" else absolute <= self.value

    def __str__(self) -> str:
        number = f"{self.value:g}"
        return f"{self.op} {number}x" if self.unit == "x" else f"{self.op} {number} {self.unit}"


@dataclass
class Row:
    """One line of the table. Times are medians in seconds, per operation where ``per_op``."""

    backend: str
    case: str
    size: str
    target: Target | None
    docket: float | None = None
    baseline: float | None = None
    unit: str = "s"
    """``"s"`` (lower is better), ``"MiB"`` (peak memory), ``"MiB/s"`` (higher is better)."""
    per_op: bool = False
    baseline_name: str = "seed"
    ratio: float | None = None
    checks_ok: bool = True
    """False when a correctness check on this case failed (outputs or verdicts differ)."""
    note: str = ""
    runs: dict[str, list[float]] = field(default_factory=dict)
    plain: float | None = None
    """The same job done plain (benchmarks/plain_bulk.py), in the same unit, where there is one."""

    def __post_init__(self) -> None:
        # For times lower is better; for a throughput (MiB/s) the same quotient is docket's
        # speed over the yardstick's, and higher is better.
        if self.ratio is None and self.docket is not None and self.baseline:
            self.ratio = self.docket / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        verdict = self.target.met(self.ratio, self.docket)
        if verdict is None:
            return None
        return verdict and self.checks_ok

    def cells(self) -> list[str]:
        met = self.met
        if self.target is None:
            verdict = "info"
        elif met is None:
            verdict = "not run"
        elif met:
            verdict = "met"
        elif not self.checks_ok:
            verdict = "NOT MET (check failed)"
        else:
            verdict = "NOT MET"
        return [
            self.backend,
            self.case,
            self.size,
            _value(self.docket, self.unit, self.per_op),
            _value(self.baseline, self.unit, self.per_op, self.baseline_name),
            "-" if self.ratio is None else f"{self.ratio:.3f}x",
            "-" if self.target is None else str(self.target),
            verdict,
            self._plain(),
            self.spread(),
        ]

    def _plain(self) -> str:
        if self.plain is None:
            return "-"
        text = _value(self.plain, self.unit, self.per_op)
        return f"{text} ({self.plain / self.baseline:.3f}x)" if self.baseline else text

    def spread(self) -> str:
        """(max - min) / median of each side's timed runs: how steady the numbers were."""
        parts = []
        for name, runs in self.runs.items():
            if len(runs) > 1 and median(runs) > 0:
                parts.append(f"{name} {(max(runs) - min(runs)) / median(runs) * 100:.0f}%")
        return ", ".join(parts) or "-"


HEADER = [
    "backend", "case", "size", "docket", "baseline", "ratio", "target", "target met", "plain bulk",
    "spread",
]


def format_time(seconds: float) -> str:
    """Seconds in the unit that keeps three significant figures readable."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _value(value: float | None, unit: str, per_op: bool, name: str = "") -> str:
    if value is None:
        return "-"
    if unit == "s":
        text = format_time(value) + ("/op" if per_op else "")
    elif unit == "MiB":
        text = f"{value:.1f} MiB peak RSS"
    else:
        text = f"{value:.0f} {unit}"
    return f"{text} ({name})" if name and name != "seed" else text


def text_table(rows: list[Row]) -> str:
    """The table as aligned plain text, for the terminal."""
    grid = [HEADER, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in grid) for i in range(len(HEADER))]
    out = []
    for n, line in enumerate(grid):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(rows: list[Row]) -> str:
    """The table as GitHub Markdown."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        cells = [c.replace("|", "\\|") for c in r.cells()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + (" (with uncommitted changes)" if dirty else "")


def machine() -> dict[str, str]:
    """The machine, interpreter and library versions, for the report."""
    info = {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": _memory(),
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "SQLite": sqlite3.sqlite_version,
        "git commit": _git_commit(),
    }
    for lib in LIBRARIES:
        try:
            info[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            info[lib] = "not installed"
    return info
