"""click options shared between commands, and what the ``docket`` group passes to them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

import click

from docket.cli.common import KEY_ENV
from docket.cli.output import DOCUMENT_FORMATS
from docket.fleet.validate import DEFAULT_FAMILY

F = TypeVar("F", bound=Callable[..., Any])

HELP_WIDTH = 88
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": HELP_WIDTH}
VOLUME_CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
"""The ``docket volume`` commands set ``-h`` themselves: click keeps a command's help option
once it is made, so a command first shown on its own would otherwise lose it."""


class Settings(NamedTuple):
    """Options of the ``docket`` group that every command sees (a named tuple: a frozen
    dataclass costs every command a millisecond to define)."""

    schemas: Path | None = None


def examples(*lines: str) -> str:
    """A command's ``Examples:`` epilog, one command line each, kept as written (``\\b``)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines) + "\n"


def command(
    name: str,
    short_help: str,
    *example_lines: str,
    group: click.Group | None = None,
    context: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], click.Command]:
    """A command named ``name`` (of ``group``, or standalone), its one-line help, and the
    command lines of its ``Examples:`` epilog."""
    make: Any = click.command if group is None else group.command
    return cast(
        "Callable[[Callable[..., Any]], click.Command]",
        make(
            name,
            context_settings=context,
            short_help=short_help,
            epilog=examples(*example_lines),
        ),
    )


def settings(ctx: click.Context) -> Settings:
    obj = ctx.find_object(Settings)
    return obj if obj is not None else Settings()


def streams() -> dict[str, Any]:
    """The standard streams, as the command functions take them."""
    return {"stdout": sys.stdout, "stderr": sys.stderr}


def with_schemas(ctx: click.Context) -> dict[str, Any]:
    """The streams and the schema directory (``--schemas``)."""
    return {**streams(), "schemas": settings(ctx).schemas}


def reading(ctx: click.Context) -> dict[str, Any]:
    """The streams, standard input and schema directory every reading command takes."""
    # None when the process has no standard input (it was closed): a command reading `-`
    # then refuses with a typed error, and the others never notice.
    return {**with_schemas(ctx), "stdin": getattr(sys.stdin, "buffer", None)}


def output_format(
    choices: Collection[str] = DOCUMENT_FORMATS, text: str | None = None
) -> Callable[[F], F]:
    """``--format`` (default ``text``) among ``choices``, with its help ``text``."""
    if text is None:
        text = "Human text, or JSON for machines" + (
            ", or GitHub workflow annotations." if "github" in choices else "."
        )
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(tuple(choices)),
        default="text",
        show_default=True,
        help=text,
    )


def key_file(func: F) -> F:
    return click.option(
        "--key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=KEY_ENV,
        show_envvar=True,
        help="File holding the HMAC-SHA256 signing key: signed containers are verified, "
        "unsigned ones refused, and what is written is signed.",
    )(func)


def family(func: F) -> F:
    return click.option(
        "--family",
        metavar="NAME",
        help=f"Family of containers without a `family` member [default: {DEFAULT_FAMILY}].",
    )(func)


def family_version(func: F) -> F:
    """The FAMILY and VERSION arguments of a command about one version of a family."""
    func = click.argument("version", metavar="VERSION")(func)
    return click.argument("family", metavar="FAMILY")(func)


def _use_schemas(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.obj = Settings(value)


def schemas(func: F) -> F:
    """``--schemas`` after the command name too (pre-commit appends its args there)."""
    return click.option(
        "--schemas",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        expose_value=False,
        is_eager=True,
        callback=_use_schemas,
        help="A schema directory of your own families, used beside the bundled ones.",
    )(func)


def progress(text: str) -> Callable[[F], F]:
    """``--progress/--no-progress`` (None when neither is given), with its help ``text``."""
    return click.option("--progress/--no-progress", default=None, help=text)


jobs = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Worker processes (0: one per CPU).",
)

database_url = click.option(
    "--db",
    "url",
    metavar="URL",
    required=True,
    envvar="DOCKET_DB",
    show_envvar=True,
    help="SQLAlchemy URL of Cinder's database (sqlite:///cinder.db, "
    "postgresql+psycopg://..., mysql+pymysql://...).",
)


class BackupRootType(click.ParamType["Path | str"]):
    """A backup root: ``swift://CONTAINER`` or ``s3://BUCKET`` as text, else a directory
    (checked as ``click.Path(file_okay=False)`` checks it)."""

    name = "root"
    _path = click.Path(file_okay=False, path_type=Path)

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path | str:
        if isinstance(value, str) and "://" in value:
            return value
        return Path(self._path.convert(value, param, ctx))


backup_root = click.option(
    "--root",
    required=True,
    type=BackupRootType(),
    metavar="DIR|swift://CONTAINER|s3://BUCKET",
    help="Where the backups are: a directory (Cinder's POSIX layout below it), a Swift "
    "container or an S3 bucket (Cinder's Swift and S3 layouts; needs docket[swift] or "
    "docket[s3]). Swift credentials come from ST_AUTH/ST_USER/ST_KEY or OS_*, S3's from "
    "boto3's chain (AWS_*), unless --cinder-config gives them.",
)

cinder_config = click.option(
    "--cinder-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="An operator's cinder.conf: its backup_swift_*, backup_s3_*, "
    "backup_compression_algorithm and storage_availability_zone options configure the store.",
)
