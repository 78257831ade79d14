"""One side of the volume benchmark, in a process of its own: ``python volume_child.py`` with
a JSON spec on stdin, one JSON answer on stdout.

The spec names the side (``docket`` runs docket's ``PosixBackupDriver`` from this Python;
``cinder`` runs Cinder 29.0.0's ``PosixBackupDriver`` and must run under the interop
virtualenv's Python) and the operations, in order::

    {"side": "docket", "root": DIR, "compression": "zlib", "chunk_size": N,
     "db": PATH (cinder only), "interop": DIR (cinder only),
     "ops": [{"op": "backup", "id": ID, "path": VOLUME, "parent_id": ID or null},
             {"op": "restore", "id": ID, "path": TARGET, "size": BYTES}]}

Each operation is timed around the driver call alone: wall time, wall time until what it
wrote is on disk (the call, then ``sync``: docket's call syncs its own files, Cinder's leaves
them to the page cache), CPU time of the process (all threads), the peak RSS during the
call (``VmHWM``, reset before it through ``/proc/self/clear_refs``), the bytes the process
sent to storage (``/proc/self/io``) and the disk blocks its output holds. Only the standard
library is imported here besides the side's own driver, so the same file serves both
virtualenvs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _io_written() -> int:
    with open("/proc/self/io") as fh:
        fields = dict(line.split(": ") for line in fh.read().splitlines())
    return int(fields["write_bytes"])


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _peak_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def allocated(path: Path) -> int:
    """Bytes of disk that a file, or every file under a directory, holds."""
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def timed(call: Callable[[], Any], output: Callable[[], Path]) -> dict[str, float]:
    """Run ``call`` and measure it; ``output`` names what it wrote (after the call)."""
    os.sync()  # what earlier steps left dirty is not counted against this one
    _reset_peak()
    written = _io_written()
    cpu = time.process_time()
    start = time.perf_counter()
    call()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    synced = time.perf_counter()
    os.sync()  # the bytes the call dirtied reach the disk and are counted
    return {
        "wall_s": wall,
        "durable_s": wall + time.perf_counter() - synced,
        "cpu_s": cpu,
        "peak_rss_mib": _peak_kib() / 1024,
        "written_mib": (_io_written() - written) / (1 << 20),
        "allocated_mib": allocated(output()) / (1 << 20),
    }


# --- docket ------------------------------------------------------------------------------------


def _docket(spec: dict[str, Any]) -> list[dict[str, float]]:
    from docket.backup import Backup
    from docket.backup.posix import PosixBackupDriver

    root = Path(spec["root"])
    driver = PosixBackupDriver(
        root, compression=spec["compression"], chunk_size=spec["chunk_size"]
    )
    for family in ("chunked-backup", "chunked-sha256"):
        driver.registry.family(family)  # schema loading is not part of an operation
    results = []
    for op in spec["ops"]:
        if op["op"] == "backup":
            backup = Backup(id=op["id"], volume_id="bench", parent_id=op.get("parent_id"))
            results.append(
                timed(
                    lambda b=backup, p=op["path"]: driver.backup(b, p),
                    lambda i=op["id"]: root / i[0:2] / i[2:4] / i,
                )
            )
        else:
            target = Path(op["path"])
            results.append(
                timed(lambda i=op["id"], t=target: driver.restore(i, None, t), lambda t=target: t)
            )
    return results


# --- Cinder ------------------------------------------------------------------------------------


class TimedDriver:
    """A Cinder driver whose backup and restore calls are measured into ``measured``;
    ``pending["out"]()`` names what the call writes."""

    def __init__(
        self, inner: Any, measured: list[dict[str, float]], pending: dict[str, Callable[[], Path]]
    ) -> None:
        self.inner = inner
        self.measured = measured
        self.pending = pending

    def backup(self, backup: Any, volume_file: Any) -> Any:
        out: list[Any] = []
        self.measured.append(
            timed(lambda: out.append(self.inner.backup(backup, volume_file)), self.pending["out"])
        )
        return out[0]

    def restore(self, *args: Any) -> Any:
        out: list[Any] = []
        self.measured.append(
            timed(lambda: out.append(self.inner.restore(*args)), self.pending["out"])
        )
        return out[0]


def _cinder(spec: dict[str, Any]) -> list[dict[str, float]]:
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    sys.path.insert(0, spec["interop"])
    import cinder_posix  # tests/interop/cinder_posix.py: Cinder configured from a file

    workdir = Path(spec["root"]).parent / f"cinder-{os.getpid()}"
    workdir.mkdir(exist_ok=True)
    cinder = cinder_posix.Cinder(workdir, spec["db"], spec["root"])
    cinder.volume({"columns": {"id": "bench", "size": 1, "status": "available",
                               "volume_type_id": spec["volume_type"]}})
    measured: list[dict[str, float]] = []
    real = cinder.posix.PosixBackupDriver
    pending: dict[str, Callable[[], Path]] = {}

    cinder.posix = type(
        "posix",
        (),
        {"PosixBackupDriver": lambda ctx: TimedDriver(real(ctx), measured, pending)},
    )
    for op in spec["ops"]:
        if op["op"] == "backup":
            pending["out"] = lambda i=op["id"]: Path(spec["root"]) / i[0:2] / i[2:4] / i
            cinder.backup(
                {
                    "id": op["id"],
                    "volume_id": "bench",
                    "path": op["path"],
                    "compression": spec["compression"],
                    "chunk_size": spec["chunk_size"],
                    "parent_id": op.get("parent_id"),
                }
            )
        else:
            pending["out"] = lambda t=op["path"]: Path(t)
            cinder.restore(
                {"id": op["id"], "volume_id": "bench", "path": op["path"], "size": op["size"]}
            )
    return measured


def main(
    docket: Callable[[dict[str, Any]], list[dict[str, float]]] = _docket,
    cinder: Callable[[dict[str, Any]], list[dict[str, float]]] = _cinder,
) -> int:
    """Read the spec on stdin, run its side, write the measurements on stdout."""
    spec = json.load(sys.stdin)
    run = docket if spec["side"] == "docket" else cinder
    json.dump({"results": run(spec)}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
