"""``docket volume``: click commands, each a thin call into :mod:`docket.cli.volume_commands`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from docket.backup._chunks import Compression
from docket.backup.posix import DEFAULT_CHUNK_SIZE
from docket.cli import volume_commands as commands

_root = click.option(
    "--root",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The backup root (Cinder's POSIX layout below it).",
)
_format = click.option(
    "--format",
    "output_format",
    type=click.Choice(commands.FORMATS),
    default="text",
    show_default=True,
    help="Human text, or JSON for machines.",
)
_progress = click.option(
    "--progress/--no-progress",
    default=None,
    help="Draw a progress bar (default: only on a terminal).",
)


# The same help options as the main CLI, set here too: click keeps a command's help option once
# it is made, so a command first shown on its own would otherwise lose "-h".
_CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


@click.group(name="volume", context_settings=_CONTEXT)
def volume() -> None:
    """Back up, restore and verify volumes in Cinder's chunked POSIX format."""


@volume.command("backup", context_settings=_CONTEXT)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_root
@click.option("--db", metavar="URL", help="Database to read the volume's metadata from.")
@click.option("--volume-id", metavar="ID", help="The volume's id (its row with --db).")
@click.option("--parent", metavar="BACKUP_ID", help="Make an incremental backup of this one.")
@click.option(
    "--compression",
    type=click.Choice([c.value for c in Compression]),
    default=Compression.ZLIB.value,
    show_default=True,
)
@click.option("--backup-id", metavar="ID", help="Id for the new backup (default: a UUID).")
@click.option("--name", help="The backup's display name.")
@click.option("--description", help="The backup's display description.")
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK_SIZE,
    show_default=True,
    help="Bytes of volume per data object (a multiple of 32768).",
)
@_format
@_progress
def backup_command(
    path: Path,
    root: Path,
    db: str | None,
    volume_id: str | None,
    parent: str | None,
    compression: str,
    backup_id: str | None,
    name: str | None,
    description: str | None,
    chunk_size: int,
    output_format: str,
    progress: bool | None,
) -> None:
    """Back up the file or block device PATH."""
    sys.exit(
        commands.backup(
            path,
            root=root,
            db=db,
            volume_id=volume_id,
            parent=parent,
            compression=compression,
            backup_id=backup_id,
            name=name,
            description=description,
            chunk_size=chunk_size,
            output_format=output_format,
            progress=progress,
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    )


@volume.command("restore", context_settings=_CONTEXT)
@click.argument("backup_id")
@_root
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", metavar="URL", help="Database to restore the volume's metadata into.")
@click.option("--volume-id", metavar="ID", help="The volume whose metadata to restore.")
@_format
@_progress
def restore_command(
    backup_id: str,
    root: Path,
    target: Path,
    db: str | None,
    volume_id: str | None,
    output_format: str,
    progress: bool | None,
) -> None:
    """Restore BACKUP_ID (and the backups it builds on) onto TARGET."""
    sys.exit(
        commands.restore(
            backup_id,
            target,
            root=root,
            db=db,
            volume_id=volume_id,
            output_format=output_format,
            progress=progress,
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    )


@volume.command("verify", context_settings=_CONTEXT)
@click.argument("backup_id")
@_root
@_format
@_progress
def verify_command(backup_id: str, root: Path, output_format: str, progress: bool | None) -> None:
    """Check BACKUP_ID and its parents: object list, MD5s, SHA-256 blocks (exit 1 if not)."""
    sys.exit(
        commands.verify(
            backup_id,
            root=root,
            output_format=output_format,
            progress=progress,
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    )


@volume.command("export-record", context_settings=_CONTEXT)
@click.argument("backup_id")
@_root
@click.option("--record-version", type=int, default=None, help="Record version (default: current).")
@_format
def export_record_command(
    backup_id: str, root: Path, record_version: int | None, output_format: str
) -> None:
    """Print the backup record of BACKUP_ID (base64 text)."""
    sys.exit(
        commands.export_record(
            backup_id,
            root=root,
            version=record_version,
            output_format=output_format,
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    )


@volume.command("import-record", context_settings=_CONTEXT)
@click.argument("record")
@_root
@_format
def import_record_command(record: str, root: Path, output_format: str) -> None:
    """Check RECORD (base64 text, or - for stdin) and verify the backup it describes."""
    text = sys.stdin.read() if record == "-" else record
    sys.exit(
        commands.import_record(
            text, root=root, output_format=output_format, stdout=sys.stdout, stderr=sys.stderr
        )
    )
