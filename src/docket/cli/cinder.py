"""``docket cinder``: operating docket's drivers in a Cinder deployment.

``docket cinder relabel`` moves the backups of one POSIX driver to the other
(:func:`docket.fleet.relabel.relabel`), so that switching ``backup_driver`` strands nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

import click

from docket.cli import options
from docket.cli.common import EXIT_FAILED, EXIT_OK, build_registry, database, run
from docket.cli.output import emit


def relabel(
    url: str,
    root: str | os.PathLike[str],
    to: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    dry_run: bool = False,
    output_format: str = "text",
    key_file: str | os.PathLike[str] | None = None,
    schemas: str | os.PathLike[str] | None = None,
) -> int:
    """``docket cinder relabel``: exit 0 when every backup of the other driver moved (or
    would, with ``dry_run``), 1 when some could not be shown readable by the new driver."""

    def work() -> int:
        from docket.fleet.relabel import relabel as move

        registry = build_registry(schemas, key_file)
        with database(url) as engine:
            report = move(engine, root, to=to, dry_run=dry_run, registry=registry)
        emit(stdout, output_format, report.to_json(), _text(report), sort_keys=True)
        return EXIT_OK if report.ok else EXIT_FAILED

    return run(stderr, work)


def _text(report: object) -> str:
    from docket.fleet.relabel import KEEP, MOVE, REFUSE, SKIP, RelabelReport

    assert isinstance(report, RelabelReport)
    lines = []
    for move in report.moves:
        reason = f": {move.reason}" if move.reason else ""
        lines.append(f"{move.verdict:6} {move.backup_id} (volume {move.volume_id}){reason}")
    done = "would re-label" if report.dry_run else "re-labelled"
    count = len(report.of(MOVE)) if report.dry_run else report.changed
    lines.append(
        f"{done} {count} backup(s) as {report.service}; {len(report.of(REFUSE))} refused, "
        f"{len(report.of(SKIP))} skipped, {len(report.of(KEEP))} already its own"
    )
    return "\n".join(lines) + "\n"


@click.group(name="cinder")
@options.schemas
def group() -> None:
    """Run docket's backup driver in a Cinder deployment (docket.cinder)."""


@group.command(
    name="relabel",
    epilog=options.examples(
        "docket cinder relabel --db mysql+pymysql://cinder:PW@db/cinder "
        "--root /var/lib/cinder/backup --to docket --dry-run",
        "docket cinder relabel --db URL --root /var/lib/cinder/backup --to cinder",
    ),
)
@click.option("--db", "url", required=True, help="Cinder's database URL ([database] connection).")
@click.option(
    "--root",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The backup root both drivers share (backup_posix_path).",
)
@click.option(
    "--to",
    required=True,
    type=click.Choice(("docket", "cinder")),
    help="The driver cinder-backup will run: docket.cinder.PosixBackupDriver or Cinder's.",
)
@click.option("--dry-run", is_flag=True, help="Check and report; change nothing.")
@options.output_format(("text", "json"))
@options.key_file
@options.schemas
@click.pass_context
def relabel_command(
    ctx: click.Context,
    url: str,
    root: Path,
    to: str,
    dry_run: bool,
    output_format: str,
    key_file: Path | None,
) -> None:
    """Move the other POSIX driver's backups to the driver named by --to.

    Cinder acts on a backup only when its backup_driver starts with the backup's `service`.
    Each available backup of the other driver is verified in --root (objects, checksums,
    its chain) and its volume metadata read as the new driver would; those that pass are
    re-labelled in one transaction, the others left as they are and reported. Exit 1 when
    any is refused.
    """
    ctx.exit(
        relabel(
            url,
            root,
            to,
            dry_run=dry_run,
            output_format=output_format,
            key_file=key_file,
            **options.with_schemas(ctx),
        )
    )
