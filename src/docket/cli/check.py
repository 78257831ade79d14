"""``docket check``: a schema directory's findings (the checks: :mod:`docket.authoring.checks`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TextIO

import click

from docket.authoring.checks import Report, run_checks, text_lines
from docket.cli import options
from docket.cli.common import EXIT_FAILED, EXIT_OK, build_registry, run
from docket.cli.errors import UsageError
from docket.cli.output import emit
from docket.core.display import display
from docket.core.documents import bundled_schemas


def _summary(target: Path, report: Report, against: str | None) -> str:
    lines = [f"{line}\n" for line in text_lines(report.findings)]
    since = (
        f"; {report.released_compared} released document(s) compared with {against}"
        if against
        else ""
    )
    verdict = "ok" if report.ok else f"{len(report.findings)} finding(s)"
    families = f"{report.families} famil{'y' if report.families == 1 else 'ies'}"
    lines.append(
        f"{display(target)}: {families}, {report.versions} version(s), "
        f"{report.golden} golden container(s){since}: {verdict}\n"
    )
    return "".join(lines)


def check(
    directory: str | os.PathLike[str] | None = None,
    *,
    stdout: TextIO,
    stderr: TextIO,
    against: str | None = None,
    output_format: str = "text",
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket check``: exit 1 when any check finds something."""

    def work() -> int:
        target = Path(directory or schemas or bundled_schemas())
        if not target.is_dir():
            raise UsageError("SCHEMA_DIR", f"{target} is not a directory")
        report = run_checks(target, build_registry(None, key_file), against=against)
        emit(stdout, output_format, report.as_dict(), _summary(target, report, against))
        return EXIT_OK if report.ok else EXIT_FAILED

    return run(stderr, work)


@options.command(
    "check",
    "Check a schema directory: metaschema, releases, graph, goldens.",
    "docket check",
    "docket check ./schemas --against origin/main",
)
@click.argument(
    "directory",
    metavar="[SCHEMA_DIR]",
    required=False,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--against",
    metavar="GIT_REF",
    help="Also fail when a version released at GIT_REF has changed since.",
)
@options.output_format()
@options.key_file
@options.schemas
@click.pass_context
def command(ctx: click.Context, /, **params: Any) -> None:
    """Check a schema directory (default: --schemas, else the bundled one).

    Every document against the metaschema, released fingerprints unchanged, the migration
    graph and policies sound, every golden container loading, validating and upgrading as
    recorded. Exit 1 on any finding, 2 when SCHEMA_DIR holds no family folder.
    """
    ctx.exit(check(**params, **options.with_schemas(ctx)))
