"""What the hostile-storage tests build on: a backup to attack, planted files, the CLI, child
processes whose peak memory is measured, and an alarm so that nothing may block."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import docket.store
from docket.backup import Backup, PosixBackupDriver
from docket.backup._chunks import cinder_json
from docket.cli import cli
from docket.core.registry import Registry
from tests._rss import PEAK_RSS_SOURCE

KEY = b"operator key for hostile storage"
BLOCK = 4096
CHUNK = 4 * BLOCK
FULL = "aa11bb22-full"
INCR = "aa11bb22-incr"
VOLUME_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


def volume_bytes(n: int = 5 * CHUNK + 100, seed: int = 1) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def driver(root: Path, **kw: Any) -> PosixBackupDriver:
    return PosixBackupDriver(root, chunk_size=CHUNK, sha_block_size=BLOCK, **kw)


def make_backup(
    root: Path,
    tmp: Path,
    data: bytes,
    backup_id: str = FULL,
    registry: Registry | None = None,
    **kw: Any,
) -> Backup:
    """A backup of ``data``; with a keyed ``registry`` its objects are sealed."""
    src = tmp / f"src-{backup_id}"
    src.write_bytes(data)
    taker = driver(root) if registry is None else driver(root, registry=registry)
    return taker.backup(Backup(id=backup_id, volume_id=VOLUME_ID, **kw), src)


def backed_up_root(tmp: Path) -> Path:
    """``tmp/root`` holding one full backup (``FULL``) of :func:`volume_bytes`."""
    root = tmp / "root"
    make_backup(root, tmp, volume_bytes())
    return root


def stored_dir(root: Path, backup_id: str) -> Path:
    return root / backup_id[0:2] / backup_id[2:4] / backup_id


def object_path(root: Path, backup_id: str, suffix: str) -> Path:
    [path] = [p for p in stored_dir(root, backup_id).iterdir() if p.name.endswith(suffix)]
    return path


def plant(path: Path, kind: str, host_file: Path) -> None:
    """Replace ``path`` with a non-regular file of ``kind``."""
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        path.symlink_to(host_file)
    elif kind == "socket":
        here = os.getcwd()
        os.chdir(path.parent)  # a socket's path is short: bind by name
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(path.name)
        finally:
            os.chdir(here)
    elif kind == "device":
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero
        except PermissionError:
            pytest.skip("creating a device node needs privileges here")
    else:  # pragma: no cover
        raise AssertionError(kind)


KINDS = ["fifo", "symlink", "socket", "device"]


def run_cli(args: list[str], **kw: Any) -> Any:
    result = CliRunner().invoke(cli, args, catch_exceptions=False, **kw)
    assert "Traceback" not in result.output
    return result


def child_peak_rss(code: str) -> tuple[int, str]:
    """Run ``code`` in a fresh Python; its peak RSS in MiB and its stdout."""
    script = (
        PEAK_RSS_SOURCE
        + textwrap.dedent(code)
        + textwrap.dedent(
            """
        import sys
        sys.stdout.write("\\nRSS %d\\n" % (PEAK_RSS_KIB() // 1024))
        """
        )
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    rss = int(out.stdout.rsplit("RSS ", 1)[1])
    return rss, out.stdout


def rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_bytes())
    change(data)
    path.write_bytes(cinder_json(data))


def make_volume(engine: Any) -> str:
    return docket.store.create_volume(  # type: ignore[no-any-return]
        engine,
        volume_id=VOLUME_ID,
        display_name="db-volume",
        metadata={"fee": "old"},
    )
