"""``docket audit``: can every backup under a root still be restored, and by whom?

The work is :func:`docket.fleet.audit.audit`; this turns options into its arguments and its
verdicts into a report: a summary table (text), the summary as JSON, one JSON line per backup
(``jsonl``, what shards write and ``docket audit merge`` reads), or a self-contained HTML page.
Exit status: 0 when no backup has a finding, 1 when one has, 2 for a usage error, 3 when the
audit could not be made (a root or database that cannot be read, a shard set that is not
whole): a batch wrapper's ``test $? -le 1`` passes findings and fails the rest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TextIO

import click
import orjson

from docket.cli import options
from docket.cli.audit_report import render
from docket.cli.common import EXIT_ERROR, EXIT_FAILED, EXIT_OK, counted, database, run
from docket.cli.errors import CommandFailed, UsageError
from docket.core.display import display, json_safe
from docket.core.errors import show
from docket.fleet.audit import (
    FINDINGS,
    AuditRun,
    BackupRow,
    Summary,
    Verdict,
    audit,
    backup_rows,
    database_identity,
    is_object_root,
)
from docket.fleet.merge import ShardEnd, ShardHeader, merge_shards
from docket.fleet.shards import choose_shard
from docket.fs import atomic_output

FORMATS = ("text", "json", "jsonl", "html")


@contextlib.contextmanager
def _target(stdout: TextIO, output: str | os.PathLike[str] | None) -> Iterator[TextIO]:
    """Standard output, or a file written whole or not at all (a temporary file, renamed)."""
    if output is None or os.fspath(output) == "-":
        yield stdout
        return
    with atomic_output(output) as fh:
        yield fh


class _Report:
    """Writes verdicts as they come and the summary at the end, in one output format."""

    def __init__(self, out: TextIO, output_format: str, title: str, header: ShardHeader) -> None:
        self.out = out
        self.format = output_format
        self.title = title
        self.summary = Summary()
        if self.format == "jsonl":  # which share of which audit: what merge proves whole
            self.out.write(_dumps(header.to_json()) + "\n")

    def add(self, verdict: Verdict) -> None:
        self.summary.add(verdict)
        if self.format == "jsonl":
            self.out.write(_dumps(verdict.to_json()) + "\n")
        elif self.format == "text":
            where = display(verdict.backup_id or verdict.path or "?")
            for finding in verdict.findings:
                obj = f" [{display(finding.object)}]" if finding.object else ""
                kind = display(finding.kind)  # a shard file's word, when merged
                self.out.write(f"{where}: {kind}: {display(finding.message)}{obj}\n")

    def end(self) -> None:
        data = json_safe(self.summary.to_json())
        if self.format == "jsonl":
            self.out.write(_dumps(ShardEnd(self.summary.records).to_json()) + "\n")
        elif self.format == "json":
            self.out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n")
        elif self.format == "html":
            self.out.write(render(data, title=self.title))
        elif self.format == "text":
            write_text(self.out, data)


def _dumps(value: Any, option: int = 0) -> str:
    """``value`` as JSON text; names that are not UTF-8 (a file name's bytes) as escapes."""
    try:
        return orjson.dumps(value, option=option).decode("utf-8")
    except TypeError:  # a lone surrogate: an undecodable byte of a file name
        return orjson.dumps(json_safe(value), option=option).decode("utf-8")


def write_text(out: TextIO, summary: dict[str, Any]) -> None:
    """The summary as tables (rich; colours on a terminal only). Every cell is plain text
    shown by :func:`~docket.core.display.display`: a version or a kind comes from files a
    tenant (or a shard file) wrote, and is neither rich markup nor a terminal escape."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def cell(value: object) -> Text:
        return Text(display(str(value)))

    terminal = out.isatty()
    console = Console(
        file=out, force_terminal=terminal, no_color=not terminal, width=None if terminal else 100
    )
    backups = summary["backups"]
    head = Table(title="docket audit", show_header=False, title_justify="left")
    for label, value in (
        ("records", summary["records"]),
        ("backups", backups),
        ("restorable", summary["restorable"]),
        ("with findings", summary["with_findings"]),
        *((f"integrity {k}", v) for k, v in summary["integrity"].items()),
    ):
        head.add_row(cell(label), cell(f"{value:,}"))
    console.print(head)
    formats = Table(title="formats", title_justify="left")
    for column in ("family", "version", "backups", "oldest", "newest"):
        formats.add_column(column, justify="right" if column == "backups" else "left")
    for family, versions in summary["formats"].items():
        for version, counts in versions.items():
            formats.add_row(
                cell(family),
                cell(version),
                cell(f"{counts['count']:,}"),
                cell(_moment(counts["oldest"])),
                cell(_moment(counts["newest"])),
            )
    console.print(formats)
    readers = Table(title="readers", title_justify="left")
    for column in ("reader", "can restore", "cannot"):
        readers.add_column(column, justify="left" if column == "reader" else "right")
    for reader, count in summary["readers"].items():
        readers.add_row(cell(reader), cell(f"{count:,}"), cell(f"{backups - count:,}"))
    console.print(readers)
    if summary["findings"]:
        found = Table(title="findings", title_justify="left")
        for column in ("finding", "records", "meaning"):
            found.add_column(column, justify="right" if column == "records" else "left")
        for kind, count in summary["findings"].items():
            found.add_row(cell(kind), cell(f"{count:,}"), cell(FINDINGS.get(kind, (False, ""))[1]))
        console.print(found)


def _moment(value: dict[str, str] | None) -> str:
    if not value:
        return "-"
    return f"{value['created_at'][:19].replace('T', ' ')} {value['backup_id']}"


@contextlib.contextmanager
def _progress(stderr: TextIO, show: bool | None) -> Iterator[Callable[[int, int], None] | None]:
    """A rich bar counting backups on ``stderr`` (by default only on a terminal)."""
    if not (stderr.isatty() if show is None else show):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "auditing",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(file=stderr),
        transient=True,
    )
    task = bar.add_task("audit", total=None)
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _finish(stderr: TextIO, summary: Summary, nothing: str) -> int:
    """The exit status; ``nothing`` is the note for a report without a record."""
    if summary.records == 0:
        stderr.write(f"docket audit: {nothing}\n")
    elif summary.failed:
        stderr.write(
            f"docket audit: {summary.with_findings} of {summary.records} record(s) with findings\n"
        )
    return EXIT_FAILED if summary.failed else EXIT_OK


def _nothing(root: str | os.PathLike[str], part: tuple[int, int] | None, run: AuditRun) -> str:
    """What a run that audited nothing says: an empty shard is not an error (exit 0), as a
    batch array of shards expects of each of its tasks. An object store is named by its URL
    with its container (``swift://`` alone names the one cinder.conf gives); a directory as
    given."""
    shown = display(run.header.root if is_object_root(root) else root)
    if part is None:
        return f"no backups found under {shown}"
    shard = f"shard {part[0]}/{part[1]} is empty"
    if not run.backups and not run.rows:
        return f"{shard}: there are no backups under {shown}"
    found = counted(run.backups, "backup")
    if run.rows:
        found += f" and {counted(run.rows, 'database row')}"
    return f"{shard}: it holds none of the backups under {shown} ({found} in all)"


def run_audit(
    root: str | os.PathLike[str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    db: str | None = None,
    deep: bool = False,
    require: Sequence[str] = (),
    jobs: int = 1,
    shard: str | None = None,
    output_format: str = "text",
    output: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    schemas: str | os.PathLike[str] | None = None,
    cinder_config: str | os.PathLike[str] | None = None,
    max_listed: int | None = None,
) -> int:
    """``docket audit ROOT``: exit 0 when no backup has a finding, 1 when one has. ROOT is a
    directory, ``swift://CONTAINER`` or ``s3://BUCKET``."""

    def work() -> int:
        if output_format not in FORMATS:
            raise UsageError(
                "--format", f"{show(output_format)} is not one of " + ", ".join(FORMATS)
            )
        if not is_object_root(root) and not Path(root).is_dir():
            raise UsageError("ROOT", f"{root} is not a directory", "give the backup root")
        part = choose_shard(shard)
        with contextlib.ExitStack() as stack:
            engine = None if db is None else stack.enter_context(database(db))
            rows = None if engine is None else backup_rows(engine)
            return _audit(rows, part)

    def _audit(rows: Iterator[BackupRow] | None, part: tuple[int, int] | None) -> int:
        with _progress(stderr, progress) as bar, _target(stdout, output) as out:
            try:
                verdicts = audit(
                    root,
                    rows=rows,
                    schemas=schemas,
                    deep=deep,
                    require=tuple(require),
                    jobs=jobs,
                    shard=part,
                    progress=bar,
                    database=None if db is None else database_identity(db),
                    cinder_config=cinder_config,
                    max_listed=max_listed,
                )
            except UsageError as err:
                if err.argument != "require":
                    raise
                raise UsageError("--require", err.reason, err.hint) from None
            report = _Report(out, output_format, "docket audit", verdicts.header)
            try:
                for verdict in verdicts:
                    report.add(verdict)
            except BrokenProcessPool as err:
                raise CommandFailed(
                    f"a worker process died ({err})", hint="retry with --jobs 1"
                ) from None
            report.end()
        return _finish(stderr, report.summary, _nothing(root, part, verdicts))

    return run(stderr, work, failed=EXIT_ERROR)


def merge(
    files: Sequence[str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    output_format: str = "text",
    output: str | os.PathLike[str] | None = None,
) -> int:
    """``docket audit merge``: the report and exit status of one run, from its shards' JSONL."""

    def work() -> int:
        if not files:
            raise UsageError("FILES", "give the JSONL files the shards wrote")
        if output_format not in FORMATS:
            raise UsageError(
                "--format", f"{show(output_format)} is not one of " + ", ".join(FORMATS)
            )
        verdicts = merge_shards(files)  # the set proven whole before anything is written
        with _target(stdout, output) as out:
            report = _Report(out, output_format, "docket audit", verdicts.header)
            for verdict in verdicts:
                report.add(verdict)
            report.end()
        nothing = "no backups found in " + ", ".join(map(display, files))
        return _finish(stderr, report.summary, nothing)

    return run(stderr, work, failed=EXIT_ERROR)


# --- the click layer --------------------------------------------------------------------------

_format = options.output_format(
    FORMATS,
    "text: summary tables and each finding; json: the summary; jsonl: one line per "
    "backup, as audited; html: a self-contained report page.",
)
_output = click.option(
    "--output", "-o", metavar="FILE", help="Write the report to FILE (whole or not at all)."
)


class _AuditGroup(click.Group):
    """``docket audit ROOT ...`` runs ``docket audit run ROOT ...``; ``merge`` is the other."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(
    "audit",
    cls=_AuditGroup,
    context_settings=options.CONTEXT,
    short_help="Can every backup under a root be restored, and by whom?",
    epilog=options.examples(
        "docket audit /srv/backups",
        "docket audit /srv/backups --db mysql+pymysql://cinder@db/cinder --require cinder",
        "docket audit /srv/backups --deep --jobs 8 --format html -o audit.html",
        "docket audit /srv/backups --shard 3/16 --format jsonl -o shard-3.jsonl",
        "docket audit swift://volumebackups --deep --jobs 4",
        "docket audit merge shard-*.jsonl --format html -o audit.html",
    ),
)
@options.schemas
def group() -> None:
    """Audit a backup root in Cinder's POSIX, Swift or S3 layout: for every backup its
    formats and versions, integrity, parent chain, and which readers can restore it.

    `docket audit ROOT [OPTIONS]` is `docket audit run ROOT [OPTIONS]` (name a root called
    "run" or "merge" as ./run). Exit status: 0 when no backup has a finding, 1 when one has,
    2 for a usage error, 3 when the audit could not be made (unreadable input, a database
    that cannot be reached, a shard set with a share missing, twice or of another audit),
    130 when interrupted (Ctrl-C).
    """


@options.command(
    "run",
    "Audit the backups under ROOT.",
    "docket audit run /srv/backups --format json",
    "docket audit run /srv/backups --db sqlite:///cinder.db --require cinder --deep",
    group=group,
    context=options.CONTEXT,
)
@click.argument("root", type=options.BackupRootType(), metavar="ROOT")
@click.option(
    "--db",
    metavar="URL",
    envvar="DOCKET_DB",
    show_envvar=True,
    help="SQLAlchemy URL of Cinder's database: its backups table is audited with the files "
    "(rows without files, files without rows).",
)
@click.option("--deep", is_flag=True, help="Read every object and check its checksums, as verify.")
@click.option(
    "--require",
    metavar="READER",
    multiple=True,
    help="A backup READER (cinder, docket, ...) cannot restore is a finding. Repeatable.",
)
@options.jobs
@click.option(
    "--shard",
    metavar="I/N",
    help="Audit only share I of N (by a hash of the backup id); merge the shards' JSONL.",
)
@options.cinder_config
@click.option(
    "--max-listed",
    metavar="N",
    type=click.IntRange(min=1),
    default=None,
    help="Refuse (exit 3) an object store's listing of more than N names, a listing that "
    "never ends [default: 10000000].",
)
@_format
@_output
@options.progress("Draw a progress bar [default: on a terminal].")
@options.schemas
@click.pass_context
def run_command(ctx: click.Context, /, root: Path | str, **params: Any) -> None:
    """Audit every backup under ROOT (and, with --db, every row of the backups table).

    ROOT is a directory (Cinder's POSIX layout), swift://CONTAINER or s3://BUCKET (Cinder's
    Swift and S3 layouts, listed a page at a time; credentials from ST_AUTH/ST_USER/ST_KEY or
    OS_* for Swift, boto3's chain for S3, unless --cinder-config gives them).

    Per backup: id, volume, parent, the version of its metadata object, SHA-256 object and
    the volume_meta container inside, integrity, the parent chain's health, and the readers
    (declared in family manifests) that can restore it. Exit status: 0 when nothing was
    found, 1 when a backup has a finding, 2 for a usage error, 3 when the audit could not
    be made, 130 when interrupted (Ctrl-C).
    """
    ctx.exit(run_audit(root, **params, **options.with_schemas(ctx)))


@options.command(
    "merge",
    "Combine the JSONL of shards into one report.",
    "docket audit merge shard-1.jsonl shard-2.jsonl shard-3.jsonl",
    "docket audit merge results/shard-*.jsonl --format html -o audit.html",
    group=group,
    context=options.CONTEXT,
)
@click.argument("files", metavar="FILES...", nargs=-1, required=True)
@_format
@_output
@options.schemas
@click.pass_context
def merge_command(
    ctx: click.Context, /, files: tuple[str, ...], output_format: str, output: str | None
) -> None:
    """Combine `--format jsonl` outputs of `docket audit --shard I/N` into the summary, HTML
    and exit status one run over the whole root gives. The set must be whole: every share
    once, all of one root and database, each file complete (exit 3 otherwise, naming the
    share)."""
    ctx.exit(merge(files, output_format=output_format, output=output, **options.streams()))
