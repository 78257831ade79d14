"""Running an implementation under test over the conformance suite, through the runner
protocol (``docs/conformance.md``): start its command, send every case of the levels it
claims as one JSON line, wait (with a timeout) for each answer, judge it against the
suite's expectation and collect a :class:`~docket.conformance.report.Report`.

The one part of the conformance tooling that runs a process; the command line
(``docket conformance run``) parses options and renders the report.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from docket.conformance.compare import ERROR, NOT_STARTED, UNCLAIMED, Outcome, judge
from docket.conformance.report import Report
from docket.conformance.suite import LEVELS, PROTOCOL, SUITE, Suite, without_expectation
from docket.core.errors import UsageError, show

DOCKET_COMMAND = (sys.executable, "-m", "docket.conformance.adapter")
"""docket itself, through the same protocol as any other implementation."""


MAX_ANSWER = 16 * 1024 * 1024
"""The longest answer line read from an implementation (a case's answer is a few KiB)."""
STDERR_TAIL = 2000
"""How much of an implementation's standard error is kept: its last characters, for the report."""
_DRAIN_POLL = 0.1
"""How often (seconds) the standard error drain looks whether it is told to stop."""
MAX_TIMEOUT = 86400.0
"""The longest ``timeout`` (seconds) ``run`` takes: a day per message."""


class PeerFailed(OSError):
    """The implementation did not take or give a message in time or within the limits."""


class BadAnswer(ValueError):
    """An answer line that is not a JSON object (the driver's words, not the peer's)."""


class _Peer:
    """An implementation's pipes, every read and write bounded in time and size.

    Writes go through a non-blocking descriptor, waiting with ``select`` at most until the
    deadline (an implementation that never reads its input cannot block docket); reads take
    what is there, up to one line of at most :data:`MAX_ANSWER` bytes (an endless line or a
    flood of lines cannot grow memory); standard error is drained by a thread that keeps only
    its last :data:`STDERR_TAIL` characters."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self._in = proc.stdin.fileno()
        self._out = proc.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        self._buffer = bytearray()
        self._searched = 0  # bytes of the buffer known to hold no newline
        self._ended = False
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        # The drain reads the raw descriptor, polling, so that it can be told to stop: a
        # process the implementation started can hold its standard error open long after it
        # exited, and a thread blocked in a read would hold the stream (and its close) with it.
        self._err = proc.stderr.fileno()
        os.set_blocking(self._err, False)
        self._stop = threading.Event()
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _drain(self) -> None:
        while True:
            stopping = self._stop.is_set()
            if not stopping and not _ready(self._err, select.POLLIN, _DRAIN_POLL):
                continue
            try:
                piece = os.read(self._err, 65536)
            except BlockingIOError:
                if stopping:
                    return
                continue
            except OSError:
                return
            if not piece:
                return
            self._keep(piece)
            if stopping and self._tail_size >= STDERR_TAIL:
                return  # what is left after the end: at most one tail's worth of pieces

    def _keep(self, piece: bytes) -> None:
        self._tail.append(piece)
        self._tail_size += len(piece)
        while self._tail_size - len(self._tail[0]) >= STDERR_TAIL:
            self._tail_size -= len(self._tail.popleft())

    def stop_draining(self) -> None:
        """Take what standard error holds now and stop reading it (bounded in time)."""
        self._stop.set()
        self._drainer.join(timeout=1.0)

    def stderr_tail(self) -> str:
        return b"".join(self._tail)[-STDERR_TAIL:].decode("utf-8", "replace")

    def send(self, message: dict[str, Any], timeout: float) -> None:
        data = memoryview((json.dumps(message, ensure_ascii=True) + "\n").encode("ascii"))
        deadline = time.monotonic() + timeout
        while data:
            left = deadline - time.monotonic()
            if left <= 0 or not _ready(self._in, select.POLLOUT, left):
                raise PeerFailed(f"the implementation did not read its input within {timeout:g} s")
            try:
                data = data[os.write(self._in, data) :]
            except BlockingIOError:
                continue

    def line(self, timeout: float) -> str | None:
        """The next non-empty line; None at the end of the output; :class:`PeerFailed` when
        none came within ``timeout`` or one is longer than :data:`MAX_ANSWER`."""
        deadline = time.monotonic() + timeout
        while True:
            end = self._buffer.find(b"\n", self._searched)
            self._searched = len(self._buffer) if end < 0 else 0
            if end >= 0:
                raw = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                if raw.strip():
                    return raw.decode("utf-8", "replace")
                continue
            if len(self._buffer) > MAX_ANSWER:
                self._buffer.clear()
                raise PeerFailed(f"an answer is longer than {MAX_ANSWER} bytes")
            if self._ended:
                rest, self._buffer = bytes(self._buffer), bytearray()
                return rest.decode("utf-8", "replace") if rest.strip() else None
            left = deadline - time.monotonic()
            if left <= 0 or not _ready(self._out, select.POLLIN, left):
                raise PeerFailed(f"no answer within {timeout:g} s")
            try:
                piece = os.read(self._out, 65536)
            except BlockingIOError:
                continue
            if piece:
                self._buffer += piece
            else:
                self._ended = True


def _ready(fd: int, event: int, timeout: float) -> bool:
    """Whether ``fd`` is ready for ``event`` (or closed at the other end) within ``timeout``
    seconds (``poll``: any descriptor number, unlike ``select``)."""
    poller = select.poll()
    poller.register(fd, event)
    return bool(poller.poll(max(1, int(timeout * 1000))))


def _reply(peer: _Peer, timeout: float) -> dict[str, Any] | None:
    """The next answer; None at the end of the output; :class:`BadAnswer` for a line that is
    not one JSON object."""
    line = peer.line(timeout)
    if line is None:
        return None
    quoted = show(line.rstrip("\r\n")[:200])
    try:
        value = json.loads(line)
    except ValueError:
        raise BadAnswer(
            f"the answer is not JSON: {quoted} (one JSON object per line on standard "
            "output; logs go to standard error)"
        ) from None
    except RecursionError:  # nesting deeper than the interpreter's stack: `[[[[...]]]]`
        raise BadAnswer("the answer is nested too deeply to read") from None
    if not isinstance(value, dict):
        raise BadAnswer(f"the answer is not an object: {quoted}")
    return value


def run(
    command: Sequence[str],
    suite: Suite,
    *,
    levels: Sequence[str] = LEVELS,
    families: Sequence[str] = (),
    cases: Sequence[str] = (),
    timeout: float = 30.0,
    progress: Callable[[Outcome], None] | None = None,
) -> Report:
    """Run every case of ``levels`` (and ``families``, and ``cases``: ids or id prefixes
    ending in ``/``, when given) against ``command``; the report says the other levels were
    not run. ``timeout``: seconds, more than 0 and at most :data:`MAX_TIMEOUT` (a
    :class:`~docket.core.errors.UsageError` otherwise)."""
    if not 0 < timeout <= MAX_TIMEOUT:  # also NaN, which every comparison refuses
        raise UsageError(
            "timeout", f"{show(timeout)} is not more than 0 and at most {MAX_TIMEOUT:g}"
        )
    selected = tuple(lv for lv in LEVELS if lv in levels)
    report = _run(command, suite, selected, (families, cases), timeout, progress)
    return replace(report, selected=selected)


def _run(
    command: Sequence[str],
    suite: Suite,
    levels: Sequence[str],
    only: tuple[Sequence[str], Sequence[str]],
    timeout: float,
    progress: Callable[[Outcome], None] | None,
) -> Report:
    problems = list(suite.check_pins())
    families, ids = only
    cases = list(suite.cases(levels=tuple(levels), families=tuple(families), ids=tuple(ids)))
    try:
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as err:
        problems.append(f"cannot start {' '.join(command)}: {err}")
        return _unrun(cases, {"name": " ".join(command)}, problems)
    peer = _Peer(proc)
    start = {"cmd": "start", "suite": SUITE, "protocol": PROTOCOL}
    if suite.schemas is not None:
        start["schemas"] = str(suite.schemas)
    try:
        report = _converse(peer, start, cases, levels, problems, timeout, progress)
    finally:
        killed = _finish(proc, min(timeout, 10.0), peer)
    more = []
    if report.problems and not killed and proc.returncode:
        more.append(f"it exited with {_status(proc.returncode)}")
    tail = peer.stderr_tail().strip()
    if report.problems and tail:
        more.append(f"its standard error ended with: {tail}")
    return replace(report, problems=(*report.problems, *more)) if more else report


def _status(code: int) -> str:
    """An exit status as people say it: ``status 101``, ``signal 11 (SIGSEGV)``."""
    if code >= 0:
        return f"status {code}"
    try:
        return f"signal {-code} ({signal.Signals(-code).name})"
    except ValueError:
        return f"signal {-code}"


def _converse(
    peer: _Peer,
    start: dict[str, Any],
    cases: list[dict[str, Any]],
    levels: Sequence[str],
    problems: list[str],
    timeout: float,
    progress: Callable[[Outcome], None] | None,
) -> Report:
    try:
        peer.send(start, timeout)
        hello = _reply(peer, timeout)
        wrong = _malformed_hello(hello)
    except (OSError, BadAnswer) as err:
        hello, wrong = None, str(err)
    if wrong:
        problems.append(f"the implementation did not start: {wrong}")
        return _unrun(cases, {"name": "?"}, problems)
    assert hello is not None
    implementation = hello.get("implementation") or {"name": "?"}
    claimed = tuple(lv for lv in LEVELS if lv in hello["levels"])
    if not any(lv in claimed for lv in levels):
        unknown = [lv for lv in hello["levels"] if lv not in LEVELS]
        problems.append(
            f"the implementation claims none of the levels run ({', '.join(levels)}): "
            "nothing was checked"
            + (
                f"; it claims {show(unknown)[:300]}, which are not levels of the suite "
                f"(its levels: {', '.join(LEVELS)})"
                if unknown
                else ""
            )
        )
    outcomes: list[Outcome] = []
    dead = False
    for case in cases:
        if case.get("level") not in claimed:
            outcome = Outcome(
                str(case["id"]),
                str(case["level"]),
                str(case["family"]),
                UNCLAIMED,
                "level not claimed",
                str(case.get("description", "")),
            )
        elif dead:
            outcome = judge(case, {"error": "the implementation stopped answering"})
        else:
            started = time.perf_counter()
            try:
                peer.send({"cmd": "run", "case": without_expectation(case)}, timeout)
                reply = _reply(peer, timeout)
            except BadAnswer as err:
                reply = {"error": str(err)}
            except OSError as err:
                reply = {"error": str(err)}
                dead = True
            if reply is None:
                dead = True
                problems.append(f"the implementation exited during {case['id']}")
            outcome = judge(case, reply, time.perf_counter() - started)
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    if not dead:
        with contextlib.suppress(OSError):
            peer.send({"cmd": "stop"}, timeout)
    return Report(implementation, claimed, tuple(outcomes), tuple(problems))


def _malformed_hello(hello: dict[str, Any] | None) -> str:
    """What is wrong with an implementation's first answer ("" when it is a hello)."""
    if hello is None:
        return "it exited without answering"
    if "error" in hello and not hello.get("ready"):
        return f"it answered an error: {show(hello['error'])[:500]}"
    if hello.get("ready") is not True:
        return f'its first answer does not say "ready": true (it said {show(hello)[:200]})'
    if "protocol" in hello and hello["protocol"] != PROTOCOL:
        return (
            f"it speaks protocol {show(hello['protocol'])[:50]}; this driver speaks protocol "
            f"{PROTOCOL} (the start message says which)"
        )
    levels = hello.get("levels")
    if not isinstance(levels, list) or not all(isinstance(lv, str) for lv in levels):
        return '"levels" is not a list of level names'
    implementation = hello.get("implementation")
    if implementation is not None and not isinstance(implementation, dict):
        return '"implementation" is not an object'
    return ""


def _unrun(
    cases: list[dict[str, Any]], implementation: dict[str, Any], problems: list[str]
) -> Report:
    outcomes = tuple(
        Outcome(str(c["id"]), str(c["level"]), str(c["family"]), ERROR, NOT_STARTED)
        for c in cases
    )
    return Report(implementation, (), outcomes, tuple(problems))


def _finish(proc: subprocess.Popen[bytes], grace: float, peer: _Peer) -> bool:
    """Close the implementation's input and give it ``grace`` seconds to exit, then kill it;
    then stop reading its standard error, which a process it left behind may hold open.
    Whether it had to be killed."""
    killed = False
    with contextlib.suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        killed = True
    peer.stop_draining()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    return killed


def default_suite() -> Path:
    """``conformance/`` of the working directory or of a parent (a checkout of docket)."""
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        candidate = directory / "conformance" / "manifest.json"
        if candidate.exists():
            return candidate.parent
    return here / "conformance"
