"""Benchmark how cost grows: each case at n and 2n, in a child process, time and peak RSS.

    python -m benchmarks.scaling                 # the sizes issue 24 measured
    python -m benchmarks.scaling --quick         # a quick check (a tenth of them)

Cases (each was quadratic, or worse, before issue 24):

- ``audit chain``: ``docket audit ROOT --format json`` over one parent chain of n backups
  (before: 2,000 / 4,000 / 8,000 backups took 1.3 / 4.6 / 18.4 s);
- ``html report``: ``Summary`` and ``--format html`` rendering of n backups of distinct
  versions and months (before: 10,000 took 26 s and 2 GiB; 20,000, 249 s and 8 GiB);
- ``locate``: ``docket validate --format json`` of one container padded to ~1.5 KiB a line
  with n errors (before: 10,000 errors in 15 MiB took 55-59 s, 4.5 s unpadded);
- ``deep tree``: ``docket audit`` and ``docket validate`` over n nested empty directories
  (before: ``RecursionError`` from about 900).

Reported per case: seconds and peak RSS at n and 2n, and the ratio of the 2n run over the
n run (linear: about 2; quadratic: about 4). Timings are not asserted anywhere; the tests
(``tests/fleet/test_linear_cost.py``, ``tests/cli/test_audit_report_cost.py``,
``tests/core/test_locate.py``) compare counts and memory of n and 2n instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.audit_bench import build

_REPORT = """
import sys, json
from docket.cli.audit_report import render
from docket.fleet.audit import Summary, Verdict
n = int(sys.argv[1])
summary = Summary()
for i in range(n):
    summary.add(Verdict(backup_id=f"b{i:07d}", path=f"b{i:07d}", volume_id="v",
        created_at=f"{1000 + i // 12:04d}-{1 + i % 12:02d}-01T00:00:00",
        formats={"backup-metadata": 100 + i}, integrity="ok", readers=("docket",)))
page = render(summary.to_json())
print(len(page))
"""


def _child(argv: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one child process (``wait4``)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{' '.join(argv[:4])} failed: {err.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def _docket(*args: str) -> list[str]:
    return [sys.executable, "-m", "docket", *args]


def nest(top: Path, depth: int) -> Path:
    """``depth`` directories, one inside the next, under ``top``; the deepest."""
    here = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=here)
            below = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=here)
            os.close(here)
            here = below
    finally:
        os.close(here)
    return top.joinpath(*["d"] * depth)


def unnest(top: Path) -> None:
    """Remove a chain made by :func:`nest` (and the files in it) without recursion:
    ``shutil.rmtree`` recurses, and the paths are longer than the system takes."""
    here = os.getcwd()
    try:
        os.chdir(top)
        depth = 0
        while os.path.isdir("d"):
            os.chdir("d")
            depth += 1
        for _ in range(depth):
            for name in os.listdir("."):
                os.unlink(name)
            os.chdir("..")
            os.rmdir("d")
    finally:
        os.chdir(here)


def _padded_container(path: Path, errors: int) -> None:
    base = json.loads(Path("schemas/backup-metadata/golden/2/cinder-29-full.json").read_text())
    base["volume-metadata"] = {f"k{i}": i for i in range(errors)}  # numbers: each an error
    text = json.dumps(base, indent=2).replace("\n", " " * 1500 + "\n")
    path.write_text(text)


def case_audit_chain(work: Path, n: int) -> list[str]:
    root = work / f"chain-{n}"
    if not root.exists():
        root.mkdir()
        build(root, n, chain=n)
    return _docket("audit", str(root), "--format", "json")


def case_html(work: Path, n: int) -> list[str]:
    return [sys.executable, "-c", _REPORT, str(n)]


def case_locate(work: Path, n: int) -> list[str]:
    path = work / f"padded-{n}.json"
    if not path.exists():
        _padded_container(path, n)
    return _docket("validate", "--format", "json", str(path))


def case_deep_tree(work: Path, n: int) -> list[str]:
    top = work / f"deep-{n}"
    if not top.exists():
        top.mkdir()
        nest(top, n)
    return _docket("validate", "--format", "json", "--allow-empty", str(top))


CASES: dict[str, tuple[Callable[[Path, int], list[str]], int]] = {
    "audit chain (backups)": (case_audit_chain, 4000),
    "html report (backups)": (case_html, 10000),
    "locate (errors, 1.5 KiB lines)": (case_locate, 10000),
    "deep tree (directories)": (case_deep_tree, 1000),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (the fastest)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="docket-scaling-"))
    rows = []
    try:
        for label, (case, size) in CASES.items():
            n = max(size // 10, 50) if args.quick else size
            if "deep" in label:
                n = min(n, 1000)  # 2n levels of "d/" stay within PATH_MAX
            measured = []
            for m in (n, 2 * n):
                argv = case(work, m)
                runs = [_child(argv) for _ in range(args.repeat)]
                measured.append((m, min(r[0] for r in runs), max(r[1] for r in runs)))
            (n1, s1, r1), (n2, s2, r2) = measured
            rows.append((label, n1, s1, r1, n2, s2, r2, s2 / s1))
    finally:
        for top in work.glob("deep-*"):
            unnest(top)
        shutil.rmtree(work, ignore_errors=True)
    head = ("case", "n", "s", "MiB", "2n", "s", "MiB", "2n/n")
    print("{:<32} {:>7} {:>7} {:>6} {:>7} {:>7} {:>6} {:>6}".format(*head))
    line = "{:<32} {:>7,} {:>7.2f} {:>6.0f} {:>7,} {:>7.2f} {:>6.0f} {:>6.2f}"
    for row in rows:
        print(line.format(*row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
