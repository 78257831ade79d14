"""Volumes, a driver with a fixed clock, and backup helpers for the POSIX driver tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docket.backup import Backup
from docket.backup.posix import PosixBackupDriver

COMPRESSIONS = ["none", "zlib", "bz2", "zstd"]
BLOCK = 32768
VOLUME_ID = "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"


def volume_bytes(seed: int, size: int) -> bytes:
    """Mixed content: compressible text, zeros and random runs, so every path is taken."""
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randint(2, 8)).hex().encode() for _ in range(64)]
    out = bytearray()
    while len(out) < size:
        kind = rng.random()
        if kind < 0.4:
            out += b" ".join(rng.choice(words) for _ in range(rng.randint(100, 3000)))
        elif kind < 0.7:
            out += bytes(rng.randint(1000, 90000))
        else:
            out += rng.randbytes(rng.randint(1000, 40000))
    return bytes(out[:size])


def edit(data: bytes, seed: int, *, grow: int = 0) -> bytes:
    """A few overwritten ranges, optionally a longer volume."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(3):
        at = rng.randrange(max(1, len(out)))
        out[at : at + 100] = rng.randbytes(len(out[at : at + 100]))
    out += rng.randbytes(grow)
    return bytes(out)


def fixed_clock() -> datetime:
    return datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def driver(root: Path, **kw: Any) -> PosixBackupDriver:
    kw.setdefault("chunk_size", 4 * BLOCK)
    kw.setdefault("clock", fixed_clock)
    return PosixBackupDriver(root, **kw)


def back_up(
    d: PosixBackupDriver, path: Path, data: bytes, backup_id: str, parent: str | None = None
) -> Backup:
    path.write_bytes(data)
    return d.backup(Backup(id=backup_id, volume_id=VOLUME_ID, parent_id=parent), path)


def restored(d: PosixBackupDriver, backup_id: str, target: Path) -> bytes:
    d.restore(backup_id, None, target)
    return target.read_bytes()


def backup_dir(root: Path, backup_id: str) -> Path:
    return root / backup_id[0:2] / backup_id[2:4] / backup_id


def sha_path(where: Path) -> Path:
    """The ``*_sha256file`` object of a backup directory."""
    return next(where.glob("*_sha256file"))


def meta_path(where: Path) -> Path:
    """The ``*_metadata`` object of a backup directory."""
    return next(where.glob("*_metadata"))
