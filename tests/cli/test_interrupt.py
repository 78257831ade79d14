"""Ctrl-C: a real SIGINT sent to a `docket` child process while it waits on its input.

Click turned it into "Aborted!" and exit 1, which `docket audit` and `docket validate` use
for "ran and found something": an interrupted audit looked like findings. It is exit 130
(128 + SIGINT, the shell's convention), one line on standard error, no traceback, and no
partial -o file.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import docket

SRC = Path(docket.__file__).resolve().parents[1]
READ = {"x86_64": 0, "aarch64": 63}.get(platform.machine())
"""The number of the read(2) system call here (what /proc/PID/syscall shows)."""


@contextlib.contextmanager
def docket(args: Sequence[str], cwd: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(SRC), **extra}
    child = subprocess.Popen(
        [sys.executable, "-m", "docket", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def interrupt(child: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    return child.returncode, out.decode(), err.decode()


def assert_interrupted(code: int, err: str) -> None:
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "docket: interrupted", err
    assert "Traceback" not in err and "Aborted!" not in err, err


def waiting_on_stdin(child: subprocess.Popen[bytes]) -> None:
    """Until the child sleeps in read(0, ...): reading the container it was given."""
    if READ is None or not Path(f"/proc/{child.pid}/syscall").exists():
        pytest.skip("needs Linux's /proc/PID/syscall on x86_64 or aarch64")
    while child.poll() is None:
        try:
            fields = Path(f"/proc/{child.pid}/syscall").read_text().split()
        except OSError:
            continue
        if len(fields) > 1 and fields[0] == str(READ) and int(fields[1], 16) == 0:
            return
    pytest.fail(f"the child exited first: {child.communicate()}")


def test_validate_interrupted_exits_130(tmp_path: Path) -> None:
    fifo = tmp_path / "in.json"
    os.mkfifo(fifo)
    # Opening the FIFO returns once the child has opened it to read: it waits there.
    with docket(["validate", str(fifo), "--format", "json"], tmp_path) as child, open(fifo, "wb"):
        code, _, err = interrupt(child)
    assert_interrupted(code, err)


def test_migrate_interrupted_leaves_no_output(tmp_path: Path) -> None:
    with docket(["migrate", "-", "--to", "3", "-o", "out.json"], tmp_path) as child:
        waiting_on_stdin(child)
        code, _, err = interrupt(child)
    assert_interrupted(code, err)
    assert list(tmp_path.iterdir()) == []


def test_audit_interrupted_is_not_a_finding_and_leaves_no_report(tmp_path: Path) -> None:
    """The report file is being written (its temporary file is there) when the signal
    comes: a Swift endpoint that accepts the connection and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        out = tmp_path / "out"
        out.mkdir()
        env = {"ST_AUTH": f"http://127.0.0.1:{port}/auth/v1.0", "ST_USER": "u", "ST_KEY": "k"}
        args = ["audit", "swift://backups", "-o", "report.json", "--format", "json"]
        with docket(args, out, **env) as child:
            server.settimeout(120)
            conn, _ = server.accept()
            with conn:
                assert [p.name.startswith(".report.json.") for p in out.iterdir()] == [True]
                code, _, err = interrupt(child)
    assert_interrupted(code, err)
    assert list(out.iterdir()) == []
