"""Peak memory of a POSIX-driver backup and restore of a sparse volume, in a fresh process.

The driver streams a piece at a time, so the peak should not grow with the volume: compare
the growth over the after-import baseline at two sizes. Run: ``python benchmarks/posix_rss.py
[MiB ...]`` (default: 1024 and 4096, every compression, at Cinder's chunk size of 1999994880
bytes, so one object holds up to 1.9 GB of volume; issue 26 asks for at most 64 MiB).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, os, resource, sys
from pathlib import Path
from docket.backup import Backup
from docket.backup.posix import PosixBackupDriver

size, compression, work = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
chunk = int(sys.argv[4])
volume = work / "volume"
with open(volume, "wb") as fh:
    fh.truncate(size)
    # A little real data spread over the volume, so not every chunk is zeros.
    for i in range(16):
        fh.seek(i * (size // 16))
        fh.write(os.urandom(64 * 1024))
driver = PosixBackupDriver(work / "root", compression=compression, chunk_size=chunk)
driver.registry.family("chunked-backup")  # load the schemas before the baseline
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
driver.backup(Backup(id="b0b0-rss", volume_id="rss"), volume)
after_backup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
driver.restore("b0b0-rss", None, work / "restored")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"baseline_kib": baseline, "after_backup_kib": after_backup, "peak_kib": peak}))
"""


CINDER_CHUNK = 61035 * 32768


def measure(
    size_mb: int = 384, compression: str = "zlib", chunk_size: int = CINDER_CHUNK
) -> dict[str, float]:
    """Back up and restore a sparse ``size_mb`` MiB volume in a subprocess; peak RSS in MiB."""
    with tempfile.TemporaryDirectory(prefix="docket-rss-") as work:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(size_mb << 20), compression, work,
             str(chunk_size)],
            check=True,
            capture_output=True,
            text=True,
        )
        if Path(work, "restored").stat().st_size != size_mb << 20:
            raise RuntimeError("the restored volume has the wrong size")
    kib = json.loads(done.stdout)
    return {
        "size_mib": size_mb,
        "baseline_mib": kib["baseline_kib"] / 1024,
        "after_backup_mib": kib["after_backup_kib"] / 1024,
        "peak_mib": kib["peak_kib"] / 1024,
        "growth_mib": (kib["peak_kib"] - kib["baseline_kib"]) / 1024,
    }


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1024, 4096]
    for compression in ("none", "zlib", "bz2", "zstd"):
        for size in sizes:
            r = measure(size, compression)
            print(
                f"{compression:>5} {r['size_mib']:>5.0f} MiB sparse volume: baseline "
                f"{r['baseline_mib']:.1f} MiB, peak {r['peak_mib']:.1f} MiB "
                f"(+{r['growth_mib']:.1f} MiB)"
            )


if __name__ == "__main__":
    main()
