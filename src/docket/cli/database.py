"""Cinder's database: ``db init``, ``backup`` and ``restore`` of volumes' metadata.

SQLAlchemy (through :mod:`docket.store`) is imported only when one of these runs, so the other
commands start without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import click

from docket.cli import options
from docket.cli.common import (
    EXIT_OK,
    about_container,
    build_registry,
    database,
    named_version,
    read_input,
    redact,
    run,
)
from docket.cli.errors import UsageError
from docket.cli.output import emit
from docket.core.display import display
from docket.core.errors import show
from docket.core.registry import Registry
from docket.fleet.validate import STDIN
from docket.fs import refuse_irregular, write_atomic


def dropped_lines(dropped: Iterable[Any], shown: int = 6) -> list[str]:
    """Fields a restore left out, grouped by section and reason; long groups abbreviated."""
    groups: dict[tuple[str, str], list[str]] = {}
    for d in dropped:
        groups.setdefault((d.section, d.reason), []).append(d.field)
    out = []
    for (section, reason), fields in groups.items():
        # Names from the container: shown through display(), never as raw control text.
        listed = ", ".join(map(display, fields[:shown])) + (", ..." if len(fields) > shown else "")
        out.append(f"{display(section)}, {reason}: {len(fields)} field(s): {listed}")
    return out


def db_init(url: str, *, stdout: TextIO, stderr: TextIO) -> int:
    """``docket db init``: create Cinder's tables where they do not exist."""

    def work() -> int:
        from docket import store

        with database(url, "URL", create=True) as engine:
            store.init_db(engine)
            tables = ", ".join(sorted(store.cinder_metadata().tables))
        stdout.write(f"{redact(url)}: tables {tables} are ready\n")
        return EXIT_OK

    return run(stderr, work)


def _api(engine: Any, registry: Registry, version: str | None) -> Any:
    from docket import store

    family = registry.family(store.FAMILY)
    chosen = 2 if version is None else named_version(family, version, "--version")
    return store.BackupMetadataAPI(engine, version=chosen, registry=registry)


def backup(
    url: str,
    volume_ids: Sequence[str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    output: str | None = None,
    version: str | None = None,
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket backup``: the volumes' metadata containers, as Cinder's backup drivers get them.

    One volume goes to standard output (or OUT); several go to standard output as JSON Lines,
    to OUT as JSON Lines when it ends in ``.jsonl``, else to OUT as a directory of
    ``<volume id>.json`` files.
    """

    def work() -> int:
        if not volume_ids:
            raise UsageError("VOLUME_ID", "name at least one volume")
        if output == "":  # Path("") is ".": the containers would land in the current directory
            raise UsageError("-o", "an empty path", "give a file or a directory")
        registry = build_registry(schemas, key_file)
        ids = list(dict.fromkeys(volume_ids))
        target = None if output is None or output == STDIN else Path(output)
        as_lines = target is not None and target.suffix == ".jsonl"
        as_dir = (
            target is not None
            and not as_lines
            and (target.is_dir() or str(output).endswith(os.sep) or len(ids) > 1)
        )
        named = next((v for v in ids if os.sep in v or "\0" in v), None) if as_dir else None
        if named is not None:
            raise UsageError(
                "-o",
                f"volume id {show(named)} cannot name a file in {display(str(target))}",
                "write to a .jsonl file or standard output",
            )
        if as_dir and target is not None and target.suffix == ".json":
            raise UsageError(
                "-o",
                f"{len(ids)} volumes do not fit in one file {display(str(target))}",
                "give a directory, or a .jsonl file",
            )
        with database(url) as engine:
            api = _api(engine, registry, version)
            containers = api.get_many(ids)
            for problem in api.last_report:
                stderr.write(f"warning: left out (does not serialize): {problem}\n")
        if target is None:
            for vid in ids:
                stdout.write(containers[vid] + "\n")
        elif as_dir:
            target.mkdir(parents=True, exist_ok=True)
            paths = {vid: target / f"{vid}.json" for vid in ids}
            for path in paths.values():  # a refused file is refused before any is written
                refuse_irregular(path)
            for vid, path in paths.items():
                write_atomic(path, containers[vid].encode("utf-8") + b"\n")
        else:
            text = "".join(containers[vid] + "\n" for vid in ids)
            write_atomic(target, text.encode("utf-8"))
        where = "standard output" if target is None else display(str(target))
        stderr.write(f"backed up {len(ids)} volume(s) at version {show(api.version)} to {where}\n")
        return EXIT_OK

    return run(stderr, work)


def _restore_text(result: Any, source: str) -> str:
    lines = [
        f"restored {display(source)} into volume {display(result.volume_id)} "
        f"(with the policy of version {show(result.version)})"
    ]
    for section, values in result.written.items():
        lines.append(
            f"  wrote    {display(section)}: {', '.join(map(display, values)) or '(nothing)'}"
        )
    for section, keys in result.removed.items():
        if keys:
            lines.append(f"  removed  {display(section)}: {', '.join(map(display, keys))}")
    lines += [f"  left out {line}" for line in dropped_lines(result.dropped)]
    return "\n".join(lines) + "\n"


def _restore_json(result: Any) -> dict[str, Any]:
    return {
        "volume_id": result.volume_id,
        "version": result.version,
        "written": {s: dict(v) for s, v in result.written.items()},
        "removed": {s: list(k) for s, k in result.removed.items()},
        "dropped": [
            {"section": d.section, "field": d.field, "reason": d.reason} for d in result.dropped
        ],
    }


def restore(
    url: str,
    volume_id: str,
    path: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    stdin: BinaryIO | None = None,
    output_format: str = "text",
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket restore``: restore a container into a volume, in one transaction."""

    def work() -> int:
        registry = build_registry(schemas, key_file)
        raw = read_input(path, stdin, registry.limits)
        with database(url) as engine, about_container(path, raw):
            result = _api(engine, registry, None).put(volume_id, raw)
        source = "<stdin>" if path == STDIN else path
        emit(stdout, output_format, _restore_json(result), _restore_text(result, source))
        return EXIT_OK

    return run(stderr, work)


# --- the click commands -------------------------------------------------------------------


@click.group("db", short_help="Cinder's database: create its tables.")
@options.schemas
def db_group() -> None:
    """Work with a Cinder database (the volumes and their metadata tables)."""


@options.command(
    "init",
    "Create Cinder's tables where they do not exist.",
    "docket db init sqlite:///cinder.db",
    group=db_group,
)
@click.argument("url", metavar="URL")
@options.schemas
@click.pass_context
def db_init_command(ctx: click.Context, /, **params: Any) -> None:
    """Create volumes, volume_metadata, volume_glance_metadata, volume_types and backups
    (Cinder's layout: what backup, restore and audit --db read) in the database at URL,
    where they do not exist (for a demo or test database)."""
    ctx.exit(db_init(**params, **options.streams()))


@options.command(
    "backup",
    "Back up volumes' metadata as Cinder's backup drivers do.",
    "docket backup --db sqlite:///cinder.db 5e6f7a8b-... > vol.json",
    "docket backup --db $URL VOL1 VOL2 -o backups/",
    "docket backup --db $URL VOL1 VOL2 --version 3 -o backups.jsonl",
)
@options.database_url
@click.argument("volume_ids", metavar="VOLUME_ID...", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    metavar="FILE_OR_DIR",
    help="Where to write: a file (one volume), a .jsonl file, or a directory of "
    "<volume id>.json files [default: standard output, one container per line].",
)
@click.option(
    "--version",
    "version",
    metavar="V",
    help="Container version to write [default: 2, as Cinder writes].",
)
@options.key_file
@options.schemas
@click.pass_context
def backup_command(ctx: click.Context, /, **params: Any) -> None:
    """Write the metadata container of each VOLUME_ID (BackupMetadataAPI.get): every column
    of the volume row, its user metadata and its image (glance) metadata."""
    ctx.exit(backup(**params, **options.with_schemas(ctx)))


@options.command(
    "restore",
    "Restore a container into a volume, all or nothing.",
    "docket restore --db sqlite:///cinder.db 5e6f7a8b-... vol.json",
    "docket restore --db $URL 5e6f7a8b-... - --format json < vol.json",
)
@options.database_url
@click.argument("volume_id", metavar="VOLUME_ID")
@click.argument("path", metavar="FILE")
@options.output_format()
@options.key_file
@options.schemas
@click.pass_context
def restore_command(ctx: click.Context, /, **params: Any) -> None:
    """Restore the container in FILE (- for standard input) into volume VOLUME_ID
    (BackupMetadataAPI.put): validated, upgraded, filtered by the policy of the version it
    was written at, and written in one transaction. Exit 1 when it is refused."""
    ctx.exit(restore(**params, **options.reading(ctx)))


COMMANDS = (db_group, backup_command, restore_command)
