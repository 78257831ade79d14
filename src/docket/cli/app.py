"""The ``docket`` command group: every command module's click command under one name.

Each command module (:mod:`~docket.cli.validate`, :mod:`~docket.cli.versions`,
:mod:`~docket.cli.check`, :mod:`~docket.cli.database`, :mod:`~docket.cli.demo`,
:mod:`~docket.cli.volume`) holds its plain command functions and the thin click commands over
them; errors become messages and exit codes in :func:`docket.cli.common.run`, not here.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from docket import __version__
from docket.cli.options import CONTEXT, HELP_WIDTH, Settings, examples


def _every_command() -> list[click.Command]:
    """Every command, in the order they are registered (their modules imported now)."""
    from docket.cli import (
        audit,
        authoring,
        check,
        cinder,
        conformance,
        database,
        demo,
        validate,
        versions,
    )
    from docket.cli.volume import volume

    return [
        validate.command,
        *versions.COMMANDS,
        check.command,
        *authoring.COMMANDS,
        *database.COMMANDS,
        demo.command,
        volume,
        conformance.group,
        audit.group,
        cinder.group,
    ]


_HOMES = {
    "validate": "validate",
    "migrate": "versions",
    "inspect": "versions",
    "diff": "versions",
    "schema": "versions",
    "check": "check",
    "new-version": "authoring",
    "release": "authoring",
    "db": "database",
    "backup": "database",
    "restore": "database",
    "demo": "demo",
    "volume": "volume",
    "conformance": "conformance",
    "audit": "audit",
    "cinder": "cinder",
}
"""The module of ``docket.cli`` each command lives in (tests hold it to :func:`_every_command`)."""


def _one_command(name: str) -> click.Command | None:
    """The command ``name``, importing its own module only (None: no such command)."""
    home = _HOMES.get(name)
    if home is None:
        return None
    module = importlib.import_module(f"docket.cli.{home}")
    found = [c for c in vars(module).values() if isinstance(c, click.Command) and c.name == name]
    return found[0] if found else None


class _Group(click.Group):
    """The ``docket`` group, registering its commands when they are first looked at.

    A command run by name imports its own module only: ``docket validate`` runs in every CI
    job, and a command refusing a bad argument answers without loading the database, backup,
    audit and conformance layers it does not use. Anything that looks at all the commands
    (``--help``, a typo to suggest for) registers all.
    """

    _registered = False

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        if not self._registered:
            self._registered = True
            for command in _every_command():
                self.add_command(command)
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            interrupted()  # while the options are read: as in the command

    def invoke(self, ctx: click.Context) -> Any:
        # Ctrl-C: click would print "Aborted!" and exit 1, which `docket audit` and
        # `docket validate` use for "ran and found something". An interrupted command
        # exits 130 (128 + SIGINT, the shell's convention) with one line; a file being
        # written (-o) is not left behind (atomic_output removes it on the way out).
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if not self._registered:
            found = _one_command(cmd_name)
            if found is not None:
                return found
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=_Group,
    context_settings=CONTEXT,
    epilog=examples(
        "docket demo",
        "docket validate backups/ --format github",
        "docket migrate backup.json --to 3 -o backup-v3.json",
        "docket --schemas ./schemas diff my-family 1 2",
    ),
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
        " tests/cli/test_cli.py fails when the two drift. -->",
        "",
        "Every command takes `-h`/`--help`. Exit status: 0 success, 1 invalid input, a refused",
        "operation or a finding, 2 a usage error, 130 interrupted (Ctrl-C: `docket: interrupted`",
        "on standard error; a file being written with `-o` is not left behind). An error is one",
        "line on standard error, `error: ...`, ending with a hint where there is one (a usage",
        "error click finds while parsing follows its `Usage:` line, as `Error: ...`); never a",
        "traceback. A command that checks what it is given (validate, check, volume verify,",
        "audit) reports a bad file as a finding of its report instead.",
        "",
        "An error about the container a command reads (inspect, migrate, restore) names its",
        "place as validate does, `error: FILE:LINE:COLUMN: $-PATH: message` (`<stdin>` for",
        "`-`); a container that does not match its version's schema gets a heading line and",
        "one indented line per problem.",
        "",
        "A database URL (`--db URL`, `docket db init URL`) that does not parse, names no",
        "dialect or whose driver is not installed is a usage error (2) naming the option and",
        "the extra to install. A server docket cannot connect to (named as `host:port`), a",
        "SQLite file that is not there and a missing table exit 1; `docket db init URL` creates",
        "Cinder's tables, `backups` included, for a demo or test database.",
        "",
    ]
    for path, _ in walk(cli):
        out += [f"## `{' '.join(path)}`", "", "```text", help_text(path).rstrip(), "```", ""]
    return "\n".join(out)


EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT): 128 + the signal's number, as a shell reports it."""


def interrupted() -> NoReturn:
    """Say on standard error that the command was interrupted, and exit 130."""
    sys.stderr.write("docket: interrupted\n")
    sys.stderr.flush()
    raise click.exceptions.Exit(EXIT_INTERRUPTED)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``docket`` console script."""
    if argv is None:
        # A command's process: what importing made (about 200,000 objects) lives until it
        # exits. Frozen, the collector stops walking it, during the run and at exit, which
        # saves a command about 30 ms (tests that pass ``argv`` are left alone).
        gc.freeze()
    try:
        try:
            cli.main(args=argv, prog_name="docket")
        except KeyboardInterrupt:
            # Outside a command (reading the options, closing up): as inside one.
            sys.stderr.write("docket: interrupted\n")
            sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (``docket validate ... | head``): stop quietly.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed pipe
        sys.exit(1)
