"""The one-node Swift (with S3 through s3api) that the object-store tests run against.

``scripts/swift-saio`` installs and starts it on 127.0.0.1 when it is not answering (under a
lock: test workers start it once). With ``CI=true`` a store that cannot be started fails the
test; elsewhere it skips, with the reason.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import uuid
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


def fresh_container() -> str:
    return f"docket-test-{uuid.uuid4().hex[:12]}"
