"""The "objects" group: docket's Swift and S3 drivers beside Cinder 29.0.0's own
``SwiftBackupDriver`` and ``S3BackupDriver``, on the same store, the same volume, in the same run.

The store is the one-node Swift of ``scripts/swift-saio`` (S3 through its s3api), started when
it is not answering. Each side runs in-process in a child of its own (``objects_child.py``):
docket's from this Python, Cinder's from the interop virtualenv
(``tests/interop/run_cinder_interop.py`` builds it once). Same volume as the volume group
(``benchmarks/volume.py``: random, zero and text runs), Cinder's object size (52428800 bytes),
32 KiB SHA blocks:

- a full backup of the volume into a fresh container, then a restore of it onto a new file.

The sides alternate within each round, and the rounds repeat; medians are reported. The
floor is the store's raw throughput, timed in the same run: the volume PUT as objects of the
same size one after another (what a driver that stores one object at a time can reach at
best), and GET back the same way. Every restore is compared byte for byte with its volume.

Run ``python -m benchmarks.objects`` (256 MiB, zlib, 3 rounds, Swift and S3; under 5 minutes
on 2 cores); ``--stores swift``, ``--compressions none,zlib``, ``--size``, ``--rounds``. It
prints the table and rewrites the objects section of ``docs/performance.md``. Without the
Cinder virtualenv or the store it says why and stops (exit 0: nothing measured, nothing
written).
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
import uuid
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.volume import (  # noqa: E402
    INTEROP,
    MIB,
    VOLUME_TYPE,
    _digest,
    _template_db,
    cinder_python,
    compared,
    make_volumes,
    publish,
    run_in_harness,
    summary,
)

CHILD = HERE / "objects_child.py"
START, END = "<!-- objects:start -->", "<!-- objects:end -->"
OBJECT_SIZE = 52428800
STORES = ("swift", "s3")
CASES = ("backup", "restore")
SIDES = ("cinder", "docket")
TARGET_TIME = 0.5
"""docket / Cinder time, backup and restore (issue 25)."""


class Unavailable(Exception):
    """Cinder's virtualenv or the store cannot be had here: the group is not run."""


def _saio() -> dict[str, str]:
    """The running store's endpoints and test user (started when it is not answering)."""
    from tests._swift import LOCK, SCRIPT, Saio

    if subprocess.run([str(SCRIPT), "status"], capture_output=True).returncode != 0:
        import fcntl

        LOCK.parent.mkdir(parents=True, exist_ok=True)
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True)
        if started.returncode != 0:
            raise RuntimeError(f"the Swift SAIO did not start: {started.stderr[-500:]}")
    saio = Saio()
    return {"auth_url": saio.auth_url, "endpoint": saio.endpoint, "user": saio.user,
            "key": saio.key}


# --- the floor: raw PUT and GET ------------------------------------------------------------------


class _Raw:
    """The store through its client alone: PUT and GET whole objects, one at a time."""

    def __init__(self, kind: str, store: dict[str, str], container: str) -> None:
        self.kind, self.container = kind, container
        if kind == "swift":
            import swiftclient.client

            self.conn = swiftclient.client.Connection(
                authurl=store["auth_url"], user=store["user"], key=store["key"]
            )
            self.conn.put_container(container)
        else:
            import boto3

            self.s3 = boto3.session.Session().client(
                "s3", endpoint_url=store["endpoint"], aws_access_key_id=store["user"],
                aws_secret_access_key=store["key"], region_name="us-east-1")
            self.s3.create_bucket(Bucket=container)

    def put(self, name: str, data: bytes) -> None:
        if self.kind == "swift":
            self.conn.put_object(self.container, name, data)
        else:
            self.s3.put_object(Bucket=self.container, Key=name, Body=data)

    def get(self, name: str) -> int:
        if self.kind == "swift":
            return len(self.conn.get_object(self.container, name)[1])
        return len(self.s3.get_object(Bucket=self.container, Key=name)["Body"].read())

    def names(self, prefix: str = "") -> list[str]:
        if self.kind == "swift":
            return [o["name"] for o in self.conn.get_container(
                self.container, prefix=prefix, full_listing=True)[1]]
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.container, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def empty(self) -> None:
        for name in self.names():
            if self.kind == "swift":
                self.conn.delete_object(self.container, name)
            else:
                self.s3.delete_object(Bucket=self.container, Key=name)


def floor(raw: _Raw, volume: Path) -> dict[str, float]:
    """Seconds to PUT the volume as objects of the benchmark's size, one after another, and
    to GET them back (the bytes as they are: no compression, no checks)."""
    names = []
    start = time.perf_counter()
    with open(volume, "rb") as fh:
        while data := fh.read(OBJECT_SIZE):
            names.append(f"floor/{len(names):05d}")
            raw.put(names[-1], data)
    put = time.perf_counter() - start
    start = time.perf_counter()
    for name in names:
        raw.get(name)
    get = time.perf_counter() - start
    return {"put_s": put, "get_s": get}


# --- the run -----------------------------------------------------------------------------------


def _child(python: Path, spec: dict[str, Any]) -> list[dict[str, float]]:
    done = subprocess.run(
        [str(python), "-W", "ignore", str(CHILD)],
        input=json.dumps(spec), capture_output=True, text=True, timeout=1800,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)}
        if spec["side"] == "docket" else None,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{spec['side']} child failed: {done.stderr[-2000:]}")
    results: list[dict[str, float]] = json.loads(done.stdout)["results"]
    return results


def measure(
    size_mib: int = 256,
    rounds: int = 3,
    stores: tuple[str, ...] = STORES,
    compressions: tuple[str, ...] = ("zlib",),
    workdir: Path | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Run both sides over every store and compression, ``rounds`` times, sides alternating."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    load_before = os.getloadavg()[0]
    try:
        cinder = cinder_python()
        store = _saio()
    except Exception as err:  # no Cinder virtualenv or no store here: nothing to measure
        raise Unavailable(str(err)[-500:]) from err
    results: dict[str, dict[str, dict[str, list[dict[str, float]]]]] = {}
    floors: dict[str, list[dict[str, float]]] = {}
    checks: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="docket-objects-", dir=workdir) as d:
        work = Path(d)
        say(f"objects: making a {size_mib} MiB volume")
        volume = make_volumes(work, size_mib)[0]
        expected = _digest(volume)
        template = _template_db(cinder, work)
        n = 0
        for r in range(rounds):
            for kind in stores:
                container = f"docket-bench-{uuid.uuid4().hex[:10]}"
                raw = _Raw(kind, store, container)
                try:
                    floors.setdefault(kind, []).append(floor(raw, volume))
                    raw.empty()
                    for compression in compressions:
                        flip = (r + stores.index(kind)) % 2
                        for side in SIDES[::-1] if flip else SIDES:
                            n += 1
                            tag = f"{n:03d}"
                            target = work / f"restored-{tag}"
                            ops = [{"op": "backup", "id": f"b{tag}", "path": str(volume)},
                                   {"op": "restore", "id": f"b{tag}", "path": str(target),
                                    "size": size_mib * MIB}]
                            spec: dict[str, Any] = {
                                "side": side, "kind": kind, "container": container,
                                "compression": compression, "chunk_size": OBJECT_SIZE,
                                "store": store, "ops": ops, "interop": str(INTEROP),
                                "volume_type": VOLUME_TYPE}
                            if side == "cinder":
                                db = work / f"cinder-{tag}.db"
                                shutil.copyfile(template, db)
                                spec["db"] = str(db)
                            got = _child(cinder if side == "cinder" else Path(sys.executable),
                                         spec)
                            checks.append((f"{kind} {compression} {side} round {r + 1}",
                                           _digest(target) == expected))
                            target.unlink(missing_ok=True)
                            raw.empty()
                            cell = results.setdefault(f"{kind} {compression}", {})
                            for case, m in zip(CASES, got, strict=True):
                                cell.setdefault(side, {}).setdefault(case, []).append(m)
                            say(f"objects: round {r + 1} {kind} {compression} {side}: "
                                + ", ".join(f"{c} {m['wall_s']:.2f} s"
                                            for c, m in zip(CASES, got, strict=True)))
                            for extra in work.glob("cinder-*"):
                                if extra.is_dir():
                                    shutil.rmtree(extra)
                finally:
                    raw.empty()
                    if kind == "swift":
                        raw.conn.delete_container(container)
                    else:
                        raw.s3.delete_bucket(Bucket=container)
    load = f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
    return {"size_mib": size_mib, "rounds": rounds, "results": results, "floors": floors,
            "checks": checks, "load": load}


def markdown(run: dict[str, Any]) -> str:
    """The objects section of docs/performance.md."""
    med = summary(run)
    size = run["size_mib"]
    lines = [
        START,
        f"## Swift and S3 backup and restore beside Cinder ({size} MiB, {run['rounds']} rounds)",
        "",
        f"Load average (1 min) at start / end: {run.get('load', '-')}.",
        "",
        "Written by `python -m benchmarks.objects`. docket's `SwiftBackupDriver` and "
        "`S3BackupDriver` and Cinder 29.0.0's, each in-process in a child of its own, on the "
        "same one-node Swift (`scripts/swift-saio`; S3 through its s3api) on 127.0.0.1, the same "
        "volume as the volume group, Cinder's object size (52428800 bytes). Ratio: docket's "
        f"median time over Cinder's (target <= {TARGET_TIME}x); MB/s: MiB of volume per second. "
        "The floor is the store's raw throughput in the same run: the volume PUT as objects of "
        "that size one after another through the client alone, and GET back.",
        "",
        "| store | case | docket | Cinder | ratio | met | docket MB/s | Cinder MB/s | floor "
        "MB/s | docket peak RSS | Cinder peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in run["results"]:
        kind = cell.split()[0]
        fl = run["floors"][kind]
        floor_s = {"backup": median(f["put_s"] for f in fl),
                   "restore": median(f["get_s"] for f in fl)}
        for case in CASES:
            d, c = med.get((cell, case, "docket")), med.get((cell, case, "cinder"))
            if d is None or c is None:
                continue
            ratio = d["wall_s"] / c["wall_s"]
            lines.append(
                f"| {cell} | {case} | {d['wall_s']:.2f} s | {c['wall_s']:.2f} s | {ratio:.2f}x | "
                f"{'met' if ratio <= TARGET_TIME else 'NOT MET'} | {size / d['wall_s']:.0f} | "
                f"{size / c['wall_s']:.0f} | {size / floor_s[case]:.0f} | "
                f"{d['peak_rss_mib']:.0f} MiB | {c['peak_rss_mib']:.0f} MiB |"
            )
    lines += [
        "",
        "Per operation (medians): wall time, wall time until `sync` returns, CPU time of the "
        "process (all threads, the store's servers not counted).",
        "",
        "| store | case | side | wall | durable | CPU |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {cell} | {case} | {side} | {m['wall_s']:.2f} s | {m['durable_s']:.2f} s | "
        f"{m['cpu_s']:.2f} s |"
        for cell in run["results"]
        for case in CASES
        for side in SIDES
        if (m := med.get((cell, case, side))) is not None
    ]
    lines += ["", "Each round's wall time, in order (the load moves them):", "",
              "| store | case | side | rounds |", "|---|---|---|---|"]
    lines += [
        f"| {cell} | {case} | {side} | "
        + ", ".join(f"{r['wall_s']:.2f} s" for r in sides[side][case]) + " |"
        for cell, sides in run["results"].items()
        for case in CASES
        for side in SIDES
        if case in sides.get(side, {})
    ]
    lines += [
        "",
        compared(run["checks"]),
        "",
        *NOTES,
        END,
    ]
    return "\n".join(lines)


NOTES = [
    "Reproduce: `python -m benchmarks.objects` (256 MiB, zlib, 3 rounds, Swift and S3); "
    "`--stores`, `--compressions`, `--size`, `--rounds`, `--json FILE` for the raw runs.",
    "",
    "### How docket gets there",
    "",
    "- **Uploads beside the backup.** Cinder stores one object at a time: it reads a chunk, "
    "compresses it whole, PUTs it and only then reads the next. docket hands each committed "
    "object to a pool of 3 uploads (`docket.backup._http.Uploads`) and goes on reading, "
    "hashing and compressing the next (pieces compressed side by side); the metadata object "
    "is written only once every upload has returned.",
    "- **Objects side by side on restore.** Cinder GETs, decompresses and writes one "
    "object at a time. docket restores two objects at once "
    "(`docket.backup._restore.OBJECTS`), each in a lane of its own: a reader decompresses "
    "it, one thread takes its MD5, one checks every block's SHA-256 and writes it. Each "
    "object is read on a thread of its own a few MiB ahead of decompression, and the next "
    "object of the listing is asked for while they are read (three GETs open at most). "
    "The second object in flight costs 12-13 MiB of peak RSS (79-100 MiB in A/B runs "
    "against 67-87 MiB one object at a time; Cinder's 256-276 MiB). In A/B runs at load "
    "3-4 the fastest rounds went from 1.04 s to 0.90-0.95 s.",
    "- **Memory.** Cinder holds each object whole (raw, compressed and the request body); "
    "docket spools an object being written (8 MiB in memory, the rest in a temporary file) "
    "and streams what it reads, so its peak stays far under one object per upload.",
    "- **Where 0.5x stops.** A zlib backup is mostly zlib at level 6, the same library "
    "and level on both sides (Python's zlib alone takes 4.7 s over the 256 MiB volume on "
    "one core here): on 2 cores, shared with the store's own servers, docket's pieces "
    "compressed side by side reach at best about half of Cinder's one-core time. A zlib "
    "restore is bound by CPU on this machine: docket's own, 0.93-1.04 s per 256 MiB "
    "(inflate 0.15 s with zlib-ng, 0.5 s with the standard library's zlib; the MD5s "
    "0.35-0.5 s, the SHA-256s 0.2-0.3 s, the HTTP client; Cinder checks neither hash and "
    "uses 1.0-1.2 s), and the store's servers' 0.46-0.50 s to serve the compressed "
    "objects (measured from their processes): 1.4-1.5 s of CPU on 2 cores is 0.7-0.75 s "
    "at best, against a 0.5x line of 0.72-0.96 s: Cinder's restore took 1.43-1.91 s across "
    "six runs on 2026-12-06 (docket's 0.78-0.94 s), so the ratio fell on either side of the "
    "line, 0.41-0.59x (0.41-0.44x in the last two, on the final code; 0.53-0.55x at 20:55 "
    "UTC, when every case ran slower: docket 0.98-1.02 s, Cinder 1.78-1.91 s). The SAIO "
    "runs one "
    "proxy and one object server process "
    "(`workers = 1` in `scripts/swift-saio`), eventlet on one core each: two or three "
    "GETs side by side moved 300 MiB in 0.86-0.97 s against 0.92-0.98 s one at a time, so "
    "GETs side by side gain little here. A deployment runs several proxy workers on "
    "machines of their own; the benchmark keeps the SAIO as the tests use it, not tuned "
    "for either side.",
    "- **The floor** is the client alone moving the volume's bytes, uncompressed, one object "
    "at a time: a driver that stores fewer (compressed) bytes, or reads ahead, can pass it. "
    "On one node the store's own servers share the cores with both drivers and with "
    "whatever else runs: on a busy machine the wall times follow the load more than the "
    "drivers (compare the rounds), and the CPU column shows each driver's "
    "own work.",
]


def case_objects(bench: Any) -> None:
    """The group inside the harness: a row per store and case (docket over Cinder), and the
    detailed section in the report; a row that says why when it cannot run here."""
    from benchmarks.report import Row, Target

    s = bench.settings
    run = run_in_harness(bench, "objects", TARGET_TIME, measure, Unavailable)
    if run is None:
        return
    med = summary(run)
    for cell in run["results"]:
        for case in CASES:
            d, c = med.get((cell, case, "docket")), med.get((cell, case, "cinder"))
            if d is None or c is None:
                continue
            runs = {side: [r["wall_s"] for r in run["results"][cell][side][case]]
                    for side in SIDES}
            bench.add(Row("objects", f"{case}, {cell}", f"{s.volume_mb} MiB",
                          Target("<=", TARGET_TIME), d["wall_s"], c["wall_s"],
                          baseline_name="Cinder", runs={"docket": runs["docket"],
                                                        "Cinder": runs["cinder"]},
                          note=f"peak RSS {d['peak_rss_mib']:.0f} vs "
                               f"{c['peak_rss_mib']:.0f} MiB"))
    # With its markers: `python -m benchmarks.objects` alone can rewrite it later.
    bench.sections.append(markdown(run).strip())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.objects", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256, help="MiB of volume (256)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of every side (3)")
    p.add_argument("--stores", default=",".join(STORES), help="swift,s3")
    p.add_argument("--compressions", default="zlib", help="none,zlib,bz2,zstd (zlib)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--json", type=Path, help="also write the raw measurements here")
    p.add_argument("--workdir", type=Path, help="where the volume goes (a temporary folder)")
    a = p.parse_args(argv)
    started = time.perf_counter()
    try:
        run = measure(a.size, a.rounds, tuple(a.stores.split(",")),
                      tuple(a.compressions.split(",")), a.workdir)
    except Unavailable as err:
        print(f"objects: not run: {err}", file=sys.stderr)
        return 0
    return publish(a, run, markdown(run), started, START, END)


if __name__ == "__main__":
    raise SystemExit(main())
