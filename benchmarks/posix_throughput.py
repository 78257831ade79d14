"""Throughput of a POSIX-driver backup (no compression) against ``sha256sum`` on the same file.

A backup reads the volume once, hashes it twice (MD5 per object, SHA-256 per block) and
writes it durably, so ``sha256sum`` is a fair yardstick; the target is at least 0.7x its
throughput. Run: ``python benchmarks/posix_throughput.py [size in MiB]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docket.backup import Backup
from docket.backup.posix import PosixBackupDriver

TARGET_RATIO = 0.7


def _make_volume(path: Path, size_mb: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for i in range(size_mb):
            # Vary each MiB so no two blocks hash alike; random data never compresses.
            fh.write(i.to_bytes(8, "little") + block[8:])
        fh.flush()
        os.fsync(fh.fileno())  # no writeback of the volume itself competes with the runs


def _sha256sum(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
    return time.perf_counter() - start


def _backup(path: Path, root: Path, n: int) -> float:
    driver = PosixBackupDriver(root, compression="none")
    driver.registry.family("chunked-backup")  # schema loading is not part of the backup
    start = time.perf_counter()
    driver.backup(Backup(id=f"thru-{n}", volume_id="throughput"), path)
    elapsed = time.perf_counter() - start
    shutil.rmtree(root / "th")
    os.sync()
    return elapsed


def measure(size_mb: int = 1024, repeat: int = 3) -> dict[str, float]:
    """Best-of-``repeat`` MiB/s of ``sha256sum`` and of a backup, and their ratio."""
    with tempfile.TemporaryDirectory(prefix="docket-thru-", dir=os.environ.get("TMPDIR")) as d:
        work = Path(d)
        volume = work / "volume"
        _make_volume(volume, size_mb)
        _sha256sum(volume)  # warm the page cache for both contenders
        sha = min(_sha256sum(volume) for _ in range(repeat))
        backup = min(_backup(volume, work / "root", n) for n in range(repeat))
    return {
        "size_mib": size_mb,
        "sha256sum_mib_s": size_mb / sha,
        "backup_mib_s": size_mb / backup,
        "ratio": sha / backup,
    }


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    r = measure(size)
    verdict = "meets" if r["ratio"] >= TARGET_RATIO else "misses"
    print(
        f"{r['size_mib']:.0f} MiB: sha256sum {r['sha256sum_mib_s']:.0f} MiB/s, backup "
        f"{r['backup_mib_s']:.0f} MiB/s, ratio {r['ratio']:.2f}x ({verdict} the "
        f"{TARGET_RATIO}x target)"
    )


if __name__ == "__main__":
    main()
