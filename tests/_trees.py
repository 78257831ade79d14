"""What a folder holds, to show that an operation changed nothing on disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def snapshot(folder: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry under ``folder`` (not following links): its type and, for files, bytes."""
    out: dict[str, tuple[int, bytes | None]] = {}
    for here, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(here) / name
            mode = path.lstat().st_mode
            data = path.read_bytes() if stat.S_ISREG(mode) else None
            out[str(path.relative_to(folder))] = (stat.S_IFMT(mode), data)
    return out
