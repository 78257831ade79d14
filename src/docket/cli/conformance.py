"""``docket conformance run``: drive an implementation under test through the conformance
protocol (:mod:`docket.conformance.runner`), and report per level.

Options in, one call to :func:`~docket.conformance.runner.run`, the report rendered here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from docket.cli import options
from docket.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from docket.cli.options import streams
from docket.conformance.report import RENDERERS, Report
from docket.conformance.runner import DOCKET_COMMAND, MAX_TIMEOUT, default_suite, run
from docket.conformance.suite import LEVELS, Suite, SuiteError, selects
from docket.core.display import display, guard_lines
from docket.core.errors import DocketError, UnsafeFile, show
from docket.fs import refuse_irregular, write_atomic

F = TypeVar("F", bound=Callable[..., Any])

# --- the command ---------------------------------------------------------------------------


def _load_suite(
    suite: Path | None, families: Sequence[str], stderr: TextIO, cases: Sequence[str] = ()
) -> Suite | None:
    """The suite, with each family and case asked for; None (the error written) when it
    cannot be."""
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
        return None
    unknown = [name for name in families if name not in loaded.families]
    if unknown:
        known = ", ".join(loaded.families) or "none"
        stderr.write(
            f"error: --family: the suite has no family {show(unknown[0])} (hint: its families: "
            f"{known})\n"
        )
        return None
    if cases:
        try:
            found = {c.get("id") for c in loaded.cases()}
        except SuiteError as err:
            stderr.write(f"error: {err} (hint: fix the suite, or check out its files again)\n")
            return None
        missing = [i for i in cases if not any(selects((i,), f) for f in found)]
        if missing:
            stderr.write(
                f"error: --case: the suite has no case {show(missing[0])} (hint: an id as "
                "`docket conformance list` prints it, or a prefix ending in /, such as "
                "backup-metadata/2/validate/)\n"
            )
            return None
    return loaded


def _write_report(
    report: Report, output_format: str, output: Path | None, stdout: TextIO, stderr: TextIO
) -> int:
    """The report to standard output, or to ``output`` with a text summary on standard output."""
    text = RENDERERS[output_format](report)
    if output is None:
        stdout.write(text)
    else:
        try:
            write_atomic(output, text.encode("utf-8"))
        except (OSError, DocketError) as err:
            reason = err.strerror if isinstance(err, OSError) else str(err)
            stderr.write(guard_lines(f"error: cannot write {display(output)}: {reason}") + "\n")
            return EXIT_FAILED
        if output_format != "text":
            stdout.write(RENDERERS["text"](report))
    return EXIT_OK if report.passed else EXIT_FAILED


def conformance_run(
    *,
    stdout: TextIO,
    stderr: TextIO,
    command: Sequence[str] = (),
    suite: Path | None = None,
    levels: Sequence[str] = (),
    families: Sequence[str] = (),
    cases: Sequence[str] = (),
    output_format: str = "text",
    output: Path | None = None,
    timeout: float = 30.0,
) -> int:
    """Run the suite against ``command`` (docket itself when empty); 0 when every claimed
    level passes, 1 when one fails or nothing was checked, 2 when the suite cannot be read
    or ``families``/``cases`` name nothing in it."""
    loaded = _load_suite(suite, families, stderr, cases)
    if loaded is None:
        return EXIT_USAGE
    if output is not None:
        try:  # before the run: a link, FIFO or device is refused as `audit -o` refuses it
            refuse_irregular(output)
        except UnsafeFile as err:
            stderr.write(guard_lines(f"error: cannot write {display(output)}: {err}") + "\n")
            return EXIT_FAILED
    report = run(
        tuple(command) or DOCKET_COMMAND,
        loaded,
        levels=tuple(levels) or LEVELS,
        families=tuple(families),
        cases=tuple(cases),
        timeout=timeout,
    )
    return _write_report(report, output_format, output, stdout, stderr)


def conformance_list(
    *,
    stdout: TextIO,
    stderr: TextIO,
    suite: Path | None = None,
    levels: Sequence[str] = (),
    families: Sequence[str] = (),
    cases: Sequence[str] = (),
    output_format: str = "text",
) -> int:
    """List the suite's cases (id, level, description) without running anything."""
    loaded = _load_suite(suite, families, stderr, cases)
    if loaded is None:
        return EXIT_USAGE
    try:
        found = list(
            loaded.cases(
                levels=tuple(levels) or LEVELS, families=tuple(families), ids=tuple(cases)
            )
        )
    except SuiteError as err:
        stderr.write(f"error: {err} (hint: fix the suite, or check out its files again)\n")
        return EXIT_USAGE
    if output_format == "json":
        rows = [
            {k: c.get(k) for k in ("id", "level", "family", "op", "description") if k in c}
            for c in found
        ]
        stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    else:
        for case in found:
            what = str(case.get("description", ""))
            stdout.write(display(f"{case.get('id')}  {what}") + "\n")
    return EXIT_OK


def _finite(value: float) -> float:
    """``--timeout``: the range check lets NaN through (every comparison with it is false)."""
    if value != value:
        raise click.BadParameter("nan is not a number of seconds")
    return value


def _selection(command: F) -> F:
    """``--suite``, ``--level``, ``--family`` and ``--case``: which cases of which suite."""
    for option in reversed(
        (
            click.option(
                "--suite",
                type=click.Path(file_okay=False, path_type=Path),
                help="The suite directory [default: conformance/ here or in a parent "
                "directory].",
            ),
            click.option(
                "--level",
                "levels",
                type=click.Choice(LEVELS),
                multiple=True,
                help="Only this level (repeatable) [default: every level].",
            ),
            click.option(
                "--family", "families", metavar="NAME", multiple=True, help="Only this family."
            ),
            click.option(
                "--case",
                "cases",
                metavar="ID",
                multiple=True,
                help="Only this case, or the cases whose id starts with ID when it ends in / "
                "(repeatable).",
            ),
        )
    ):
        command = option(command)
    return command


@click.group("conformance", short_help="Run the language-neutral conformance suite.")
@options.schemas
def group() -> None:
    """The conformance suite of docket's formats (conformance/ in a checkout; see
    docs/conformance.md)."""


@options.command(
    "run",
    "Run an implementation (docket by default) against the suite.",
    "docket conformance run",
    "docket conformance run -- node conformance/runners/node/runner.js",
    "docket conformance run --format junit -o conformance.xml -- ./my-implementation",
    "docket conformance run --case backup-metadata/2/validate/ -- ./my-implementation",
    group=group,
)
@click.argument("command", metavar="[-- COMMAND...]", nargs=-1, type=click.UNPROCESSED)
@_selection
@options.output_format(RENDERERS, "Human text, JSON, or JUnit XML (one test suite per level).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file (a text summary still goes to standard output).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=MAX_TIMEOUT),
    callback=lambda _ctx, _param, value: _finite(value),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@options.schemas
@click.pass_context
def run_command(ctx: click.Context, /, **params: Any) -> None:
    """Start COMMAND, send it every case of the levels it claims, one JSON line at a time,
    and compare its answers with the suite's expectations. Without COMMAND, docket itself
    answers through the same protocol. Exit status 0 when every claimed level passes; 1 when
    one fails, every case of one is skipped, or COMMAND claims none of the levels run."""
    ctx.exit(conformance_run(**params, **streams()))


@options.command(
    "list",
    "List the suite's cases without running them.",
    "docket conformance list --level integrity",
    "docket conformance list --case backup-metadata/2/ --format json",
    group=group,
)
@_selection
@options.output_format()
@options.schemas
@click.pass_context
def list_command(ctx: click.Context, /, **params: Any) -> None:
    """Print the id and description of each case, in the order `run` sends them (an id is
    what `run --case` takes); JSON adds the level, family and integrity op."""
    ctx.exit(conformance_list(**params, **streams()))
