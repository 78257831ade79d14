"""``docket conformance run``: drive an implementation under test through the conformance
protocol, judge its answers against the suite and report per level.

The one part of the conformance tooling that runs a process (so it lives with the command line);
the suite, the comparison, the reports and docket's own adapter are in
:mod:`docket.conformance`, which imports nothing from here.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, TextIO

import click

from docket.cli import options
from docket.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from docket.cli.options import streams
from docket.conformance.compare import ERROR, UNCLAIMED, Outcome, judge
from docket.conformance.report import RENDERERS, Report
from docket.conformance.suite import LEVELS, PROTOCOL, SUITE, Suite, SuiteError, without_expectation
from docket.core.errors import DocketError, show
from docket.fs import write_atomic

DOCKET_COMMAND = (sys.executable, "-m", "docket.conformance.adapter")
"""docket itself, through the same protocol as any other implementation."""


class _Lines:
    """Lines from a stream, read by a thread so that waiting for one can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def next(self, timeout: float) -> str | None:
        """The next non-empty line; None at the end of the stream; TimeoutError if none came."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no answer within {timeout:g} s") from None
            if line is None or line.strip():
                return line


def _reply(lines: _Lines, timeout: float) -> dict[str, Any] | None:
    line = lines.next(timeout)
    if line is None:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return {"error": f"the answer is not JSON: {show(line[:200])}"}
    return (
        value
        if isinstance(value, dict)
        else {"error": f"the answer is not an object: {show(line[:200])}"}
    )


def run(
    command: Sequence[str],
    suite: Suite,
    *,
    levels: Sequence[str] = LEVELS,
    families: Sequence[str] = (),
    timeout: float = 30.0,
    progress: Callable[[Outcome], None] | None = None,
) -> Report:
    """Run every case of ``levels`` (and ``families``) against ``command``; the report says
    the other levels were not run."""
    selected = tuple(lv for lv in LEVELS if lv in levels)
    report = _run(command, suite, selected, families, timeout, progress)
    return replace(report, selected=selected)


def _run(
    command: Sequence[str],
    suite: Suite,
    levels: Sequence[str],
    families: Sequence[str],
    timeout: float,
    progress: Callable[[Outcome], None] | None,
) -> Report:
    problems = list(suite.check_pins())
    cases = list(suite.cases(levels=tuple(levels), families=tuple(families)))
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
        try:
            proc = subprocess.Popen(
                list(command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
        except OSError as err:
            problems.append(f"cannot start {' '.join(command)}: {err}")
            return _unrun(cases, {"name": " ".join(command)}, problems)
        assert proc.stdin is not None and proc.stdout is not None
        lines = _Lines(proc.stdout)
        try:
            report = _converse(proc, lines, cases, problems, timeout, progress)
        finally:
            _finish(proc)
            stderr.seek(0)
            tail = stderr.read()[-2000:].strip()
        if report.problems and tail:
            report = replace(
                report, problems=(*report.problems, f"its standard error ended with: {tail}")
            )
        return report


def _send(proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message, ensure_ascii=True) + "\n")
    proc.stdin.flush()


def _converse(
    proc: subprocess.Popen[str],
    lines: _Lines,
    cases: list[dict[str, Any]],
    problems: list[str],
    timeout: float,
    progress: Callable[[Outcome], None] | None,
) -> Report:
    try:
        _send(proc, {"cmd": "start", "suite": SUITE, "protocol": PROTOCOL})
        hello = _reply(lines, timeout)
    except (OSError, TimeoutError) as err:
        hello = {"error": str(err)}
    if not hello or not hello.get("ready"):
        problems.append(f"the implementation did not start: {hello}")
        return _unrun(cases, {"name": "?"}, problems)
    implementation = hello.get("implementation") or {"name": "?"}
    claimed = tuple(lv for lv in LEVELS if lv in (hello.get("levels") or ()))
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
                _send(proc, {"cmd": "run", "case": without_expectation(case)})
                reply = _reply(lines, timeout)
            except (OSError, TimeoutError) as err:
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
            _send(proc, {"cmd": "stop"})
    return Report(implementation, claimed, tuple(outcomes), tuple(problems))


def _unrun(
    cases: list[dict[str, Any]], implementation: dict[str, Any], problems: list[str]
) -> Report:
    outcomes = tuple(
        Outcome(str(c["id"]), str(c["level"]), str(c["family"]), ERROR, "not run") for c in cases
    )
    return Report(implementation, (), outcomes, tuple(problems))


def _finish(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def default_suite() -> Path:
    """``conformance/`` of the working directory or of a parent (a checkout of docket)."""
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        candidate = directory / "conformance" / "manifest.json"
        if candidate.exists():
            return candidate.parent
    return here / "conformance"


# --- the command ---------------------------------------------------------------------------


def conformance_run(
    *,
    stdout: TextIO,
    stderr: TextIO,
    command: Sequence[str] = (),
    suite: Path | None = None,
    levels: Sequence[str] = (),
    families: Sequence[str] = (),
    output_format: str = "text",
    output: Path | None = None,
    timeout: float = 30.0,
) -> int:
    """Run the suite against ``command`` (docket itself when empty); 0 when every claimed
    level passes, 1 when one fails, 2 when the suite cannot be read."""
    try:
        loaded = Suite.load(suite if suite is not None else default_suite())
    except SuiteError as err:
        if not err.missing:
            hint = "fix the suite, or check out its files again"
        elif suite is None:
            hint = (
                "the suite is conformance/ in a checkout of docket: run this there, or give "
                "its directory with --suite DIR"
            )
        else:
            hint = "give --suite the directory holding manifest.json (conformance/ in a checkout)"
        stderr.write(f"error: {err} (hint: {hint})\n")
        return EXIT_USAGE
    unknown = [name for name in families if name not in loaded.families]
    if unknown:
        known = ", ".join(loaded.families) or "none"
        stderr.write(
            f"error: --family: the suite has no family {show(unknown[0])} (hint: its families: "
            f"{known})\n"
        )
        return EXIT_USAGE
    report = run(
        tuple(command) or DOCKET_COMMAND,
        loaded,
        levels=tuple(levels) or LEVELS,
        families=tuple(families),
        timeout=timeout,
    )
    text = RENDERERS[output_format](report)
    if output is not None:
        try:
            write_atomic(output, text.encode("utf-8"))
        except (OSError, DocketError) as err:
            reason = err.strerror if isinstance(err, OSError) else str(err)
            stderr.write(f"error: cannot write {output}: {reason}\n")
            return EXIT_FAILED
        if output_format != "text":
            stdout.write(RENDERERS["text"](report))
    else:
        stdout.write(text)
    return EXIT_OK if report.passed else EXIT_FAILED


@click.group("conformance", short_help="Run the language-neutral conformance suite.")
@options.schemas
def group() -> None:
    """The conformance suite of docket's formats (conformance/ in a checkout; see
    docs/conformance.md)."""


@group.command(
    "run",
    short_help="Run an implementation (docket by default) against the suite.",
    epilog="""\b
Examples:
  docket conformance run
  docket conformance run -- node conformance/runners/node/runner.js
  docket conformance run --format junit -o conformance.xml -- ./my-implementation
""",
)
@click.argument("command", metavar="[-- COMMAND...]", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--suite",
    type=click.Path(file_okay=False, path_type=Path),
    help="The suite directory [default: conformance/ here or in a parent directory].",
)
@click.option(
    "--level",
    "levels",
    type=click.Choice(LEVELS),
    multiple=True,
    help="Run only this level (repeatable) [default: every level].",
)
@click.option("--family", "families", metavar="NAME", multiple=True, help="Run only this family.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(tuple(RENDERERS)),
    default="text",
    show_default=True,
    help="Human text, JSON, or JUnit XML (one test suite per level).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file (a text summary still goes to standard output).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@options.schemas
@click.pass_context
def run_command(ctx: click.Context, /, **params: Any) -> None:
    """Start COMMAND, send it every case of the levels it claims, one JSON line at a time,
    and compare its answers with the suite's expectations. Without COMMAND, docket itself
    answers through the same protocol. Exit status 0 when every claimed level passes."""
    ctx.exit(conformance_run(**params, **streams()))
