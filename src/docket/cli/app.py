"""The ``docket`` command line: click options over the command functions in `commands`.

Each command parses its options, calls one function there and exits with the code it returns;
errors become messages and exit codes in :func:`docket.cli.commands.run`, not here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import click

from docket import __version__
from docket.cli import commands
from docket.cli.volume import volume

F = TypeVar("F", bound=Callable[..., Any])

HELP_WIDTH = 88
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": HELP_WIDTH}


@dataclass(frozen=True)
class Settings:
    """Options of the ``docket`` group that every command sees."""

    schemas: Path | None = None


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.find_object(Settings)
    return obj if obj is not None else Settings()


def _format(choices: tuple[str, ...] = commands.FORMATS) -> Callable[[F], F]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default="text",
        show_default=True,
        help="Human text, or JSON for machines"
        + (", or GitHub workflow annotations." if "github" in choices else "."),
    )


def _key_file(func: F) -> F:
    return click.option(
        "--key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=commands.KEY_ENV,
        show_envvar=True,
        help="File holding the HMAC-SHA256 signing key: signed containers are verified, "
        "unsigned ones refused, and what is written is signed.",
    )(func)


def _family_option(func: F) -> F:
    return click.option(
        "--family",
        metavar="NAME",
        help="Family of containers without a `family` member "
        f"[default: {commands.DEFAULT_FAMILY}].",
    )(func)


def _use_schemas(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.obj = Settings(value)


def _schemas_option(func: F) -> F:
    """``--schemas`` after the command name too (pre-commit appends its args there)."""
    return click.option(
        "--schemas",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        expose_value=False,
        is_eager=True,
        callback=_use_schemas,
        help="A schema directory of your own families, used beside the bundled ones.",
    )(func)


def _stdin() -> BinaryIO:
    return sys.stdin.buffer


def _io(ctx: click.Context) -> dict[str, Any]:
    """The streams and schema directory every reading command takes."""
    return {
        "stdout": sys.stdout,
        "stderr": sys.stderr,
        "stdin": _stdin(),
        "schemas": _settings(ctx).schemas,
    }


@click.group(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  docket demo
  docket validate backups/ --format github
  docket migrate backup.json --to 3 -o backup-v3.json
  docket --schemas ./schemas diff my-family 1 2
""",
)
@click.version_option(__version__, "--version", prog_name="docket", message="%(prog)s %(version)s")
@click.option(
    "--schemas",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    envvar="DOCKET_SCHEMAS",
    show_envvar=True,
    help="A schema directory of your own families, used beside the bundled ones.",
)
@click.pass_context
def cli(ctx: click.Context, schemas: Path | None) -> None:
    """Validate, migrate, inspect and restore versioned backup metadata containers."""
    ctx.obj = Settings(schemas)


@cli.command(
    short_help="Check containers in CI: schema, version, digest, signature.",
    epilog="""\b
Examples:
  docket validate backup.json
  docket validate backups/ exported.jsonl --format json > report.json
  docket validate big.jsonl --jobs 4 --shard 2/8
  cat backup.json | docket validate -
""",
)
@click.argument("paths", metavar="PATH...", nargs=-1)
@_family_option
@_format(commands.VALIDATE_FORMATS)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Worker processes (0: one per CPU).",
)
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
    "--progress/--no-progress",
    default=None,
    help="Draw a progress bar [default: on a terminal, for large input].",
)
@_key_file
@_schemas_option
@click.pass_context
def validate(
    ctx: click.Context,
    paths: tuple[str, ...],
    family: str | None,
    output_format: str,
    jobs: int,
    shard: str | None,
    jsonl: bool,
    progress: bool | None,
    key_file: Path | None,
) -> None:
    """Check containers: schema, version, digest and signature, as loading them would.

    PATH is a container file, a directory (every *.json below it), a JSON Lines file
    (*.jsonl, one container per line) or - for standard input. Exit status: 0 when every
    container is valid, 1 when any is invalid or unreadable, 2 for a usage error.
    """
    ctx.exit(
        commands.validate(
            paths,
            family=family,
            output_format=output_format,
            jobs=jobs,
            shard=shard,
            jsonl=jsonl,
            progress=progress,
            key_file=key_file,
            **_io(ctx),
        )
    )


@cli.command(
    short_help="Upgrade or downgrade a container to another version.",
    epilog="""\b
Examples:
  docket migrate backup.json --to 3 -o backup-v3.json
  docket migrate backup-v3.json --to 1 --allow-lossy > backup-v1.json
""",
)
@click.argument("file", metavar="FILE")
@click.option("--to", "to", metavar="VERSION", required=True, help="The version to migrate to.")
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    help="Write here (whole or not at all) instead of standard output.",
)
@click.option("--allow-lossy", is_flag=True, help="Accept a downgrade that loses information.")
@_family_option
@_key_file
@_schemas_option
@click.pass_context
def migrate(
    ctx: click.Context,
    file: str,
    to: str,
    output: str | None,
    allow_lossy: bool,
    family: str | None,
    key_file: Path | None,
) -> None:
    """Upgrade or downgrade the container in FILE (- for standard input) to VERSION.

    The result is canonical JSON. A lossy downgrade is refused (exit 1), naming what would
    be lost, unless --allow-lossy is given. A note on standard error says when the target
    version's restore policy restores fields the original's did not.
    """
    ctx.exit(
        commands.migrate(
            file,
            to=to,
            output=output,
            allow_lossy=allow_lossy,
            family=family,
            key_file=key_file,
            **_io(ctx),
        )
    )


@cli.command(
    short_help="Show a container and exactly what restoring it writes.",
    epilog="""\b
Examples:
  docket inspect backup.json
  docket inspect backup.json --format json | jq .restore
""",
)
@click.argument("file", metavar="FILE")
@_format()
@_family_option
@_key_file
@_schemas_option
@click.pass_context
def inspect(
    ctx: click.Context,
    file: str,
    output_format: str,
    family: str | None,
    key_file: Path | None,
) -> None:
    """Show a container: family, version, sections, integrity, and what a restore writes.

    The restore shown is onto a new volume, with the policy of the version the container
    was written at: exactly which fields are restored, and which are not and why. Exit 1
    when the container is invalid, its digest or signature does not match, or its restore
    would be refused.
    """
    ctx.exit(
        commands.inspect(
            file,
            output_format=output_format,
            family=family,
            key_file=key_file,
            **_io(ctx),
        )
    )


@cli.command(
    short_help="Typed changes and compatibility class between two versions.",
    epilog="""\b
Examples:
  docket diff backup-metadata 2 3
  docket diff backup-metadata 1 2 --format json
""",
)
@click.argument("family", metavar="FAMILY")
@click.argument("old", metavar="A")
@click.argument("new", metavar="B")
@_format()
@_schemas_option
@click.pass_context
def diff(ctx: click.Context, family: str, old: str, new: str, output_format: str) -> None:
    """List the typed schema changes from version A to version B and their compatibility.

    The class is BACKWARD (B readers accept A containers), FORWARD (A readers accept B
    containers), FULL (both) or NONE, as Confluent Schema Registry defines them for JSON
    Schema. Restore policy changes and the migration path are listed too.
    """
    ctx.exit(
        commands.diff(
            family,
            old,
            new,
            output_format=output_format,
            stdout=sys.stdout,
            stderr=sys.stderr,
            schemas=_settings(ctx).schemas,
        )
    )


@cli.command(
    short_help="Check a schema directory: metaschema, releases, graph, goldens.",
    epilog="""\b
Examples:
  docket check
  docket check ./schemas --against origin/main
""",
)
@click.argument(
    "schema_dir",
    metavar="[SCHEMA_DIR]",
    required=False,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--against",
    metavar="GIT_REF",
    help="Also fail when a version released at GIT_REF has changed since.",
)
@_format()
@_key_file
@click.pass_context
def check(
    ctx: click.Context,
    schema_dir: Path | None,
    against: str | None,
    output_format: str,
    key_file: Path | None,
) -> None:
    """Check a schema directory (default: --schemas, else the bundled one).

    Every document against the metaschema, released fingerprints unchanged, the migration
    graph and policies sound, every golden container loading, validating and upgrading as
    recorded. Exit 1 on any finding.
    """
    ctx.exit(
        commands.check(
            schema_dir,
            against=against,
            output_format=output_format,
            stdout=sys.stdout,
            stderr=sys.stderr,
            schemas=_settings(ctx).schemas,
            key_file=key_file,
        )
    )


@cli.command(
    short_help="Print a version's JSON Schema.",
    epilog="""\b
Examples:
  docket schema backup-metadata 3 > backup-metadata-v3.schema.json
""",
)
@click.argument("family", metavar="FAMILY")
@click.argument("version", metavar="VERSION")
@_schemas_option
@click.pass_context
def schema(ctx: click.Context, family: str, version: str) -> None:
    """Print the JSON Schema (2020-12) of a version, for validators in other languages."""
    ctx.exit(
        commands.schema(
            family, version, stdout=sys.stdout, stderr=sys.stderr, schemas=_settings(ctx).schemas
        )
    )


_db_url = click.option(
    "--db",
    "url",
    metavar="URL",
    required=True,
    envvar="DOCKET_DB",
    show_envvar=True,
    help="SQLAlchemy URL of Cinder's database (sqlite:///cinder.db, "
    "postgresql+psycopg://..., mysql+pymysql://...).",
)


@cli.group(short_help="Cinder's database: create its tables.")
def db() -> None:
    """Work with a Cinder database (the volumes and their metadata tables)."""


@db.command(
    "init",
    short_help="Create Cinder's tables where they do not exist.",
    epilog="""\b
Examples:
  docket db init sqlite:///cinder.db
""",
)
@click.argument("url", metavar="URL")
@click.pass_context
def db_init(ctx: click.Context, url: str) -> None:
    """Create volumes, volume_metadata, volume_glance_metadata and volume_types in the
    database at URL, where they do not exist (for a demo or test database)."""
    ctx.exit(commands.db_init(url, stdout=sys.stdout, stderr=sys.stderr))


@cli.command(
    short_help="Back up volumes' metadata as Cinder's backup drivers do.",
    epilog="""\b
Examples:
  docket backup --db sqlite:///cinder.db 5e6f7a8b-... > vol.json
  docket backup --db $URL VOL1 VOL2 -o backups/
  docket backup --db $URL VOL1 VOL2 --version 3 -o backups.jsonl
""",
)
@_db_url
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
@_key_file
@_schemas_option
@click.pass_context
def backup(
    ctx: click.Context,
    url: str,
    volume_ids: tuple[str, ...],
    output: str | None,
    version: str | None,
    key_file: Path | None,
) -> None:
    """Write the metadata container of each VOLUME_ID (BackupMetadataAPI.get): every column
    of the volume row, its user metadata and its image (glance) metadata."""
    ctx.exit(
        commands.backup(
            url,
            volume_ids,
            output=output,
            version=version,
            stdout=sys.stdout,
            stderr=sys.stderr,
            schemas=_settings(ctx).schemas,
            key_file=key_file,
        )
    )


@cli.command(
    short_help="Restore a container into a volume, all or nothing.",
    epilog="""\b
Examples:
  docket restore --db sqlite:///cinder.db 5e6f7a8b-... vol.json
  docket restore --db $URL 5e6f7a8b-... - --format json < vol.json
""",
)
@_db_url
@click.argument("volume_id", metavar="VOLUME_ID")
@click.argument("file", metavar="FILE")
@_format()
@_key_file
@_schemas_option
@click.pass_context
def restore(
    ctx: click.Context,
    url: str,
    volume_id: str,
    file: str,
    output_format: str,
    key_file: Path | None,
) -> None:
    """Restore the container in FILE (- for standard input) into volume VOLUME_ID
    (BackupMetadataAPI.put): validated, upgraded, filtered by the policy of the version it
    was written at, and written in one transaction. Exit 1 when it is refused."""
    ctx.exit(
        commands.restore(
            url,
            volume_id,
            file,
            output_format=output_format,
            key_file=key_file,
            **_io(ctx),
        )
    )


@cli.command(
    short_help="Back up, migrate and restore volume metadata on a fresh database.",
    epilog="""\b
Examples:
  docket demo
  docket demo --db postgresql+psycopg://postgres@127.0.0.1/test
""",
)
@click.option(
    "--db",
    metavar="URL",
    help="Use this database (its tables are created if missing) [default: a new SQLite "
    "file in a temporary directory].",
)
@click.pass_context
def demo(ctx: click.Context, db: str | None) -> None:
    """Create a few volumes with metadata, back them up, show a container, migrate it to
    version 3, restore it into a new volume named restore_backup_<backup id> as Cinder does,
    and print what changed. Nothing to configure."""
    ctx.exit(commands.demo(db=db, stdout=sys.stdout, stderr=sys.stderr))


cli.add_command(volume)


def walk(
    command: click.Command, path: tuple[str, ...] = ("docket",)
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command below ``command`` (itself first), with its full name."""
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk(command.commands[name], (*path, name))


def help_text(path: tuple[str, ...]) -> str:
    """The ``--help`` text of a command, as a terminal of :data:`HELP_WIDTH` columns shows it."""
    command: click.Command = cli
    settings = {**CONTEXT, "terminal_width": HELP_WIDTH}
    ctx = click.Context(cli, info_name=path[0], **settings)
    for name in path[1:]:
        assert isinstance(command, click.Group)
        command = command.commands[name]
        ctx = click.Context(command, info_name=name, parent=ctx, **settings)
    return command.get_help(ctx)


def reference() -> str:
    """The CLI reference page (``docs/cli.md``), built from the real ``--help`` texts."""
    out = [
        "# Command line reference",
        "",
        "<!-- Generated from `docket --help` by `python -m docket.cli > docs/cli.md`;"
        " tests/test_cli.py fails when the two drift. -->",
        "",
        "Every command takes `-h`/`--help`. Exit status: 0 success, 1 invalid input, a refused",
        "operation or a finding, 2 a usage error.",
        "",
    ]
    for path, _ in walk(cli):
        out += [f"## `{' '.join(path)}`", "", "```text", help_text(path).rstrip(), "```", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``docket`` console script."""
    try:
        cli.main(args=argv, prog_name="docket")
    except BrokenPipeError:
        # The reader went away (``docket validate ... | head``): stop quietly.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed pipe
        sys.exit(1)


