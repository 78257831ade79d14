"""Captured output streams for calling a command function in-process."""

from __future__ import annotations

import io
from typing import Any


class Streams:
    def __init__(self) -> None:
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()

    @property
    def kw(self) -> dict[str, Any]:
        return {"stdout": self.stdout, "stderr": self.stderr}
