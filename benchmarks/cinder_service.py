"""Backup and restore through Cinder's REST API: docket's driver beside Cinder's, same run.

On the real deployment of ``tests/interop/cinder_deploy.py`` (started if it is not running,
and stopped after only then): one 1 GiB volume with 100 MiB of random data written into it.
Each round runs both drivers, in alternating order: ``cinder-backup`` restarts with the driver
(a fresh process), a full backup is taken (from the POST to ``available``), restored into a
new volume (from the POST to both ``available``), the restored bytes are checked against the
source's (zero-padded), and the peak RSS of that ``cinder-backup`` process (``VmHWM``) is read,
with the CPU time it spent on each operation (user and system, all its threads). Reports medians
and docket / Cinder ratios; the targets are <= 0.7x the time and <= 0.25x the peak RSS (the CPU
times say what a loaded machine does to the wall times).
Run: ``python -m benchmarks.cinder_service [--rounds N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from tests.interop import cinder_deploy
from tests.interop._cinder_service import MIB, padded_digest
from tests.interop.cinder_rest import Cinder

DRIVERS = ("cinder", "docket")
TARGETS = {"backup": 0.7, "restore": 0.7, "peak RSS": 0.25}
CPU = ("backup CPU", "restore CPU")
"""Measured and reported beside the targets, with no target of their own."""


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one(
    deployment: cinder_deploy.Deployment, api: Cinder, driver: str, source: str, digest: str
) -> dict[str, float]:
    deployment.switch(driver)
    pid = deployment.pid("cinder-backup")
    assert pid is not None
    cpu, started = _cpu_s(pid), time.perf_counter()
    backup = api.create_backup(source)
    backup_s = time.perf_counter() - started
    backup_cpu = _cpu_s(pid) - cpu
    cpu, started = _cpu_s(pid), time.perf_counter()
    restored = api.restore(backup)
    restore_s = time.perf_counter() - started
    restore_cpu = _cpu_s(pid) - cpu
    peak = _peak_rss_mib(pid)
    same = padded_digest(deployment.volume_path(restored)) == digest
    api.delete_volume(restored)
    api.delete_backup(backup)
    if not same:
        raise RuntimeError(f"{driver}: the restored volume differs from the source")
    return {
        "backup": backup_s,
        "restore": restore_s,
        "peak RSS": peak,
        "backup CPU": backup_cpu,
        "restore CPU": restore_cpu,
    }


def measure(rounds: int = 2, written_mib: int = 100) -> dict[str, Any]:
    deployment = cinder_deploy.Deployment.at()
    running = all(deployment.pid(s) is not None for s in cinder_deploy.SERVICES)
    started = time.perf_counter()
    try:
        deployment.start("docket")
    except BaseException:
        if not running:
            deployment.stop()
        raise
    start_s = time.perf_counter() - started
    api = Cinder(deployment)
    source = api.create_volume(1, name="benchmark")
    try:
        with open(deployment.volume_path(source), "r+b") as fh:
            fh.write(os.urandom(written_mib * MIB))
        digest = padded_digest(deployment.volume_path(source))
        runs: dict[str, list[dict[str, float]]] = {d: [] for d in DRIVERS}
        for n in range(rounds):
            for driver in DRIVERS if n % 2 == 0 else tuple(reversed(DRIVERS)):
                runs[driver].append(_one(deployment, api, driver, source, digest))
    finally:
        api.delete_volume(source)
        if not running:
            deployment.stop()
    measures = (*TARGETS, *CPU)
    medians = {d: {k: statistics.median(r[k] for r in runs[d]) for k in measures} for d in DRIVERS}
    ratios = {k: medians["docket"][k] / medians["cinder"][k] for k in measures}
    return {
        "volume": "1 GiB, " + f"{written_mib} MiB written",
        "rounds": rounds,
        "deployment start s": round(start_s, 1),
        "runs": runs,
        "medians": medians,
        "ratios": ratios,
        "met": {k: ratios[k] <= TARGETS[k] for k in TARGETS},
        "load average": os.getloadavg()[0],
    }


def table(result: dict[str, Any]) -> str:
    units = {"backup": "s", "restore": "s", "peak RSS": "MiB", "backup CPU": "s"}
    units["restore CPU"] = "s"
    lines = [
        "| measure | docket's driver | Cinder's driver | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    for key, target in TARGETS.items():
        d, c = result["medians"]["docket"][key], result["medians"]["cinder"][key]
        verdict = "met" if result["met"][key] else "**not met**"
        lines.append(
            f"| {key} | {d:.1f} {units[key]} | {c:.1f} {units[key]} | "
            f"{result['ratios'][key]:.2f}x | <= {target}x | {verdict} |"
        )
    for key in CPU:
        if key in result["medians"]["docket"]:  # results saved before CPU was measured lack it
            d, c = result["medians"]["docket"][key], result["medians"]["cinder"][key]
            lines.append(
                f"| {key} | {d:.1f} s | {c:.1f} s | {result['ratios'][key]:.2f}x | | |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both drivers (2)")
    parser.add_argument("--written-mib", type=int, default=100, help="MiB of data (100)")
    parser.add_argument("--json", action="store_true", help="print the raw result as JSON")
    args = parser.parse_args(argv)
    with cinder_deploy.exclusive():  # not while a test module switches its drivers
        result = measure(args.rounds, args.written_mib)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
