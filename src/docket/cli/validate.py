"""``docket validate``: check containers in CI, many at once, in worker processes if asked.

The work is :func:`docket.fleet.validate.validate_many`; this turns options into its arguments and
its verdicts into output through a :class:`~docket.cli.output.Formatter`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, BinaryIO, TextIO

import click

from docket.cli import options
from docket.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    build_registry,
    progress_bar,
    run,
)
from docket.cli.errors import CommandFailed, UsageError
from docket.cli.output import FORMATTERS
from docket.core.display import display
from docket.core.errors import show
from docket.fleet.shards import choose_shard
from docket.fleet.validate import (
    DEFAULT_FAMILY,
    NOT_A_CONTAINER_FILE,
    STDIN,
    Skipped,
    validate_many,
)

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
"""Less input than this gets no progress bar unless one is asked for."""

NOTHING_FOUND = (
    "no containers found (hint: check the paths; --allow-empty accepts a run that finds none)"
)
"""Why a run that found no container fails (on standard error, and in the report)."""


def validate(
    paths: Sequence[str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    stdin: BinaryIO | None = None,
    family: str | None = None,
    output_format: str = "text",
    jobs: int = 1,
    shard: str | None = None,
    jsonl: bool = False,
    progress: bool | None = None,
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
    allow_empty: bool = False,
) -> int:
    """``docket validate``: exit 0 when every container is valid, 1 when any is not or when
    no container was found (unless ``allow_empty``)."""

    def work() -> int:
        if not paths:
            raise UsageError("PATH", "give at least one file, directory or -")
        if output_format not in FORMATTERS:
            raise UsageError(
                "--format", f"{show(output_format)} is not one of " + ", ".join(FORMATTERS)
            )
        if jobs < 0:
            raise UsageError("--jobs", f"{jobs} is not a number of processes", "0 uses every CPU")
        if list(paths).count(STDIN) > 1:
            raise UsageError("PATH", "standard input (-) can be read once")
        part = choose_shard(shard)
        default = family or DEFAULT_FAMILY
        # Containers are judged at their own version: no migration runs, so the migration
        # soundness checks (`docket check`) are not part of this command's start-up.
        registry = build_registry(schemas, key_file, default, check_soundness=False)
        out = FORMATTERS[output_format](stdout)
        count = invalid = 0
        others = 0

        def skipped(item: Skipped) -> None:
            nonlocal others
            if item.reason == NOT_A_CONTAINER_FILE:
                others += 1  # other files are counted, not listed
                return
            out.skipped(item)  # in the report, where the format has a place for it
            reason = display(item.reason)
            stderr.write(f"docket validate: skipped {display(item.path)}: {reason}\n")

        out.begin()
        with progress_bar(stderr, "validating", progress, min_total=PROGRESS_MIN_BYTES) as bar:
            results = validate_many(
                paths,
                registry=registry,
                family=family,  # None: judged as backup-metadata unless another family's
                jobs=jobs,
                shard=part,
                jsonl=jsonl,
                stdin=stdin,
                progress=bar,
                on_skip=skipped,
            )
            try:
                for result in results:
                    out.result(result)
                    count += 1
                    invalid += not result.valid
            except RuntimeError as err:
                # BrokenProcessPool; its module is imported only when workers run.
                from concurrent.futures.process import BrokenProcessPool

                if not isinstance(err, BrokenProcessPool):
                    raise
                failed = CommandFailed(
                    f"a worker process died ({err})", hint="retry with --jobs 1"
                )
                # The report is closed all the same: a SARIF or JUnit upload that runs
                # `if: always()` then shows the failure instead of refusing the file.
                out.end(count, invalid, str(failed))
                raise failed from None
        empty = count == 0 and not allow_empty
        out.end(count, invalid, NOTHING_FOUND if empty else None)
        if others:
            stderr.write(f"docket validate: skipped {others} file(s) not named *.json or *.jsonl\n")
        if count == 0:
            stderr.write(f"docket validate: {NOTHING_FOUND if empty else 'no containers found'}\n")
            return EXIT_FAILED if empty else EXIT_OK
        if invalid:
            stderr.write(f"docket validate: {invalid} of {count} container(s) invalid\n")
        elif out.summary:
            stderr.write(f"docket validate: {count} container(s) valid\n")
        return EXIT_FAILED if invalid else EXIT_OK

    return run(stderr, work)


@options.command(
    "validate",
    "Check containers in CI: schema, version, digest, signature.",
    "docket validate backup.json",
    "docket validate backups/ exported.jsonl --format json > report.json",
    "docket validate backups/ --format sarif > docket.sarif",
    "docket validate big.jsonl --jobs 4 --shard 2/8",
    "cat backup.json | docket validate -",
)
@click.argument("paths", metavar="PATH...", nargs=-1)
@options.family
@options.output_format(
    FORMATTERS,
    "text (FILE:LINE:COLUMN: PATH: message), json, github (workflow annotations), sarif "
    "(SARIF 2.1.0, for code scanning) or junit (JUnit XML test report).",
)
@options.jobs
@click.option(
    "--shard",
    metavar="I/N",
    help="Validate only the I-th of N deterministic parts of the input (for a CI matrix).",
)
@click.option(
    "--jsonl",
    is_flag=True,
    help="Read every PATH (and -) as JSON Lines; files named *.jsonl always are.",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Exit 0 when no container is found (by default that fails: a typo'd path must not "
    "pass CI).",
)
@options.progress("Draw a progress bar [default: on a terminal, for large input].")
@options.key_file
@options.schemas
@click.pass_context
def command(ctx: click.Context, /, **params: Any) -> None:
    """Check containers: schema, version, digest and signature, as loading them would.

    PATH is a container file, a directory (every *.json and *.jsonl file below it; what is
    skipped there is reported), a JSON Lines file (*.jsonl, one container per line) or - for
    standard input. Exit status: 0 when every container is valid, 1 when any is invalid or
    unreadable or none was found, 2 for a usage error. Each container is judged at its own
    version; `docket check` checks the family definitions (migrations included).
    """
    ctx.exit(validate(**params, **options.reading(ctx)))
