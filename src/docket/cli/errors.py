"""Errors only the command line raises: a bad argument (exit 2), a command that could not finish."""

from __future__ import annotations

from docket.core.errors import DocketError


class UsageError(DocketError, ValueError):
    """A command was given an argument or option it cannot use (exit code 2)."""

    def __init__(self, argument: str, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.argument = argument
        self.reason = reason
        self.hint = hint

    def describe(self) -> str:
        return f"{self.argument}: {self.reason}"


class CommandFailed(DocketError, RuntimeError):
    """A command could not finish for a reason outside its input (a worker process died)."""

    def __init__(self, reason: str, *, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
