"""Benchmark ``docket audit``: a synthetic root of many small backups, one and N jobs.

    python -m benchmarks.audit_bench                    # 100,000 backups, as issue 17 asks
    python -m benchmarks.audit_bench --count 2000       # a quick check

Each backup is laid out as Cinder's POSIX driver lays it (``<id[0:2]>/<id[2:4]>/<id>/``): a
metadata object with a version 2 ``volume_meta`` container, a SHA-256 object and one 4 KiB
data object; every fifth backup is an incremental of the one before (same volume). The audit
runs as ``docket audit ROOT --format json`` in a child process, metadata only with 1 job and
with N jobs, then ``--deep`` on a sample (``--shard 1/K``). Reported: backups per second and
the peak RSS of the audit's processes (``wait4``: the largest of the process and the workers
it waited for). The root is built once under ``--dir`` (kept, and reused when it is there).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

DATA = 4096
BLOCK = 32768


def _uuid(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"audit-bench-{i}"))


def build(root: Path, count: int, chain: int = 5) -> None:
    """``count`` small backups under ``root``, written straight to disk (no driver): each
    ``chain`` in a row are one volume's, every one an incremental of the one before but the
    first (``chain=count``: one parent chain through them all)."""
    payload = bytes(range(256)) * (DATA // 256)
    md5 = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    sha = hashlib.sha256(payload).hexdigest()
    volume_meta = json.dumps(
        {"version": 2, "volume-base-metadata": {"id": "v", "display_name": "bench"}}
    )
    previous = ""
    for i in range(count):
        bid = _uuid(i)
        incremental = i % chain != 0
        volume = _uuid(-(i // chain) - 1)
        directory = root / bid[0:2] / bid[2:4] / bid
        directory.mkdir(parents=True, exist_ok=True)
        month = 1 + i * 12 // max(count, 1)
        stamp = f"2025{month:02d}01000000"
        prefix = f"volume_{volume}_{stamp}_backup_{bid}"
        header = {
            "backup_id": bid,
            "volume_id": volume,
            "backup_name": f"bench-{i}",
            "backup_description": None,
            "created_at": f"2025-{month:02d}-01 00:00:00+00:00",
            "version": "1.0.0",
        }
        metadata = {
            **header,
            "parent_id": previous if incremental else None,
            "objects": [
                {
                    f"{prefix}-00001": {
                        "compression": "none",
                        "length": DATA,
                        "md5": md5,
                        "offset": 0,
                    }
                }
            ],
            "volume_meta": volume_meta.replace('"v"', json.dumps(volume)),
        }
        (directory / f"{prefix}-00001").write_bytes(payload)
        (directory / f"{prefix}_sha256file").write_text(
            json.dumps({**header, "chunk_size": BLOCK, "sha256s": [sha]}, sort_keys=True, indent=2)
        )
        (directory / f"{prefix}_metadata").write_text(
            json.dumps(metadata, sort_keys=True, indent=2)
        )
        previous = bid


def run_audit(root: Path, *args: str) -> tuple[float, int, dict[str, object]]:
    """Seconds, peak RSS in KiB, and the summary of one ``docket audit`` run."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "docket", "audit", str(root), "--format", "json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"docket audit failed ({code}): {err.decode()[-2000:]}")
    return seconds, usage.ru_maxrss, json.loads(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--deep-shards", type=int, default=20, help="--deep on 1/K of the root")
    parser.add_argument("--dir", type=Path, default=None, help="where to build (kept)")
    args = parser.parse_args(argv)
    base = args.dir or Path(tempfile.gettempdir()) / f"docket-audit-bench-{args.count}"
    root = base / "root"
    if not (base / "built").exists():
        shutil.rmtree(base, ignore_errors=True)
        root.mkdir(parents=True)
        started = time.perf_counter()
        build(root, args.count)
        (base / "built").touch()
        print(f"built {args.count:,} backups in {time.perf_counter() - started:.1f} s under {root}")
    rows = []
    for label, extra in (
        ("metadata, 1 job", ["--jobs", "1"]),
        (f"metadata, {args.jobs} jobs", ["--jobs", str(args.jobs)]),
        (
            f"--deep 1/{args.deep_shards}, {args.jobs} jobs",
            ["--deep", "--jobs", str(args.jobs), "--shard", f"1/{args.deep_shards}"],
        ),
    ):
        seconds, rss, summary = run_audit(root, *extra)
        n = int(summary["records"])  # type: ignore[call-overload]
        if summary["with_findings"]:
            raise RuntimeError(f"the synthetic root has findings: {summary['findings']}")
        rows.append((label, n, seconds, n / seconds, rss / 1024))
    print(f"{'case':<28} {'backups':>9} {'seconds':>8} {'backups/s':>10} {'peak RSS MiB':>13}")
    for label, n, seconds, rate, rss in rows:
        print(f"{label:<28} {n:>9,} {seconds:>8.1f} {rate:>10,.0f} {rss:>13.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
