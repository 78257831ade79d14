"""The one-node Swift (with S3 through s3api) that the object-store tests run against.

``scripts/swift-saio`` installs and starts it on 127.0.0.1 when it is not answering (under a
lock: test workers start it once). With ``CI=true`` a store that cannot be started fails the
test; elsewhere it skips, with the reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "swift-saio"
PORT = int(os.environ.get("DOCKET_SWIFT_PORT", "18080"))
LOCK = Path(os.environ.get("DOCKET_SWIFT_DIR", "/tmp/docket-swift") + ".lock")


@dataclass(frozen=True)
class Saio:
    """Where the store answers, and its test user's credentials."""

    auth_url: str = f"http://127.0.0.1:{PORT}/auth/v1.0"
    endpoint: str = f"http://127.0.0.1:{PORT}"
    user: str = "test:tester"
    key: str = "testing"
    account: str = "AUTH_test"

    @property
    def storage_url(self) -> str:
        return f"{self.endpoint}/v1/{self.account}"

    def env(self) -> dict[str, str]:
        """The environment a client reads: swiftclient's ST_* and boto3's AWS_*."""
        return {
            "ST_AUTH": self.auth_url,
            "ST_USER": self.user,
            "ST_KEY": self.key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.user,
            "AWS_SECRET_ACCESS_KEY": self.key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def _run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), command], capture_output=True, text=True, timeout=600, check=False
    )


def ensure_saio() -> Saio:
    """The running store, started if needed; skip (fail with CI=true) when it cannot be."""
    if _run("status").returncode != 0:
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            started = _run("start")
        if started.returncode != 0:
            reason = f"the Swift SAIO did not start: {started.stderr.strip()[-500:]}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(reason)
            pytest.skip(reason)
    return Saio()


@contextlib.contextmanager
def saio_environment() -> Iterator[Saio]:
    """The running store (see :func:`ensure_saio`), its credentials in ``os.environ`` (what
    ``docket ... swift://`` and ``s3://`` read, and what child processes inherit) until the
    block ends."""
    found = ensure_saio()
    saved = {k: os.environ.get(k) for k in found.env()}
    os.environ.update(found.env())
    try:
        yield found
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fresh_container() -> str:
    return f"docket-test-{uuid.uuid4().hex[:12]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnProxy:
    """A second ``swift-proxy-server`` of the running SAIO (its rings, storage and memcached:
    the same store and tokens) on a port of its own, that a test may stop mid-run while the
    SAIO's own proxy, which other tests use, keeps serving. ``with OwnProxy(tmp) as p:``."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        state = Path(os.environ.get("DOCKET_SWIFT_DIR", "/tmp/docket-swift"))
        text = (state / "etc" / "proxy-server.conf").read_text()
        self.conf = folder / "own-proxy-server.conf"
        self.conf.write_text(text.replace(f"bind_port = {PORT}", f"bind_port = {self.port}"))
        self.log = folder / "own-proxy.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"{self.endpoint}/auth/v1.0"

    def __enter__(self) -> OwnProxy:
        with open(self.log, "wb") as log:
            self._proc = subprocess.Popen(
                ["swift-proxy-server", str(self.conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its workers too
            )
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"swift-proxy-server did not start: {self.log.read_text()[-500:]}")

    def stop(self) -> None:
        """Stop the server (its process group) and wait for it."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(30)

    def __exit__(self, *_: object) -> None:
        self.stop()
