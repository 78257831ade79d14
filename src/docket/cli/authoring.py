"""Authoring a family's next version: ``docket new-version`` and ``docket release``.

Options in, one call into :mod:`docket.authoring` (:func:`~docket.authoring.start_version`,
:func:`~docket.authoring.update_version`, :func:`~docket.authoring.release`), and the result
to a formatter here. The workflow is described in docs/defining-a-family.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from docket.authoring.release import ReleasePlan
from docket.authoring.release import release as release_family
from docket.authoring.versions import NewVersion, VersionUpdate, start_version, update_version
from docket.cli import options
from docket.cli.common import EXIT_FAILED, EXIT_OK, run
from docket.cli.errors import UsageError
from docket.core.display import display, guard_lines
from docket.core.documents import GOLDEN, MANIFEST
from docket.core.errors import UnsoundMigration, show


def _folder(schemas: str | os.PathLike[str] | None, family: str) -> Path:
    if schemas is None:
        raise UsageError(
            "--schemas",
            "name the schema directory of the family",
            "docket --schemas DIR new-version FAMILY (the bundled families are not edited)",
        )
    if family in ("", ".", "..") or "/" in family or "\0" in family:
        raise UsageError(
            "FAMILY",
            f"{show(family)} is not a family name: one folder name under {display(schemas)}",
            "name the family's folder, not a path",
        )
    folder = Path(schemas) / family
    if folder.is_symlink():  # its files would be written wherever the link leads
        raise UsageError(
            "FAMILY",
            f"{display(folder)} is a symbolic link",
            "give the family's own folder, not a link",
        )
    if not (folder / MANIFEST).is_file():
        raise UsageError(
            "FAMILY",
            f"no family {show(family)} under {display(schemas)} ({display(folder / MANIFEST)})",
        )
    return folder


def _renames(texts: Sequence[str]) -> list[tuple[str, str]]:
    """``--rename OLD=NEW`` values as (old, new); ``section.field=field`` stays in its section."""
    pairs = []
    for text in texts:
        before, sep, after = text.partition("=")
        if not sep or not before or not after:
            raise UsageError("--rename", f"{show(text)} is not OLD=NEW", "e.g. disk.size_gb=size")
        if "." in before and "." not in after:
            after = f"{before.rpartition('.')[0]}.{after}"
        pairs.append((before, after))
    return pairs


# --- new-version --------------------------------------------------------------------------


def _started_text(new: NewVersion) -> str:
    return (
        f"created {new.path} (a copy of version {show(new.previous)}); edit its schema and "
        f"policy, then run: docket --schemas {new.folder.parent} new-version {new.folder.name} "
        "--update\n"
    )


def _updated_text(update: VersionUpdate) -> str:
    edge = f"{show(update.source)} -> {show(update.target)}"
    lines = [f"wrote the migration {edge} into {update.path}:"]
    lines += [f"  upgrade    {show(op.spec())}" for op in update.upgrade]
    lines += [f"  downgrade  {show(op.spec())}" for op in update.downgrade]
    losing = f", losing {', '.join(update.losses)}" if update.losses else ""
    lines.append(f"  the downgrade is {update.kind}{losing}")
    if update.unproven:
        lines.append(
            "  note: the schemas do not show that the conversions of "
            + ", ".join(update.unproven)
            + " give back every value, so the downgrade is declared lossy; if they do, "
            'declare it "exact" and let the property suite test it'
        )
    return "".join(f"{line}\n" for line in lines)


def new_version(
    family: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    update: bool = False,
    renames: Sequence[str] = (),
    schemas: str | os.PathLike[str] | None = None,
) -> int:
    """``docket new-version``: start the next version, or (``update``) derive its migration."""

    def work() -> int:
        folder = _folder(schemas, family)
        pairs = _renames(renames)
        if pairs and not update:
            raise UsageError("--rename", "renames are confirmed with --update")
        if not update:
            stdout.write(guard_lines(_started_text(start_version(folder))))
            return EXIT_OK
        result = update_version(folder, pairs)
        stdout.write(guard_lines(_updated_text(result)))
        stderr.write(guard_lines("".join(f"finding: {f}\n" for f in result.findings)))
        return EXIT_OK if result.ok else EXIT_FAILED

    return run(stderr, work)


# --- release ------------------------------------------------------------------------------


def release(
    family: str,
    version: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    golden: bool = True,
    schemas: str | os.PathLike[str] | None = None,
) -> int:
    """``docket release``: record a version's fingerprint and write its golden containers."""

    def work() -> int:
        folder = _folder(schemas, family)
        try:
            plan = release_family(folder, version, golden=golden)
        except UnsoundMigration as err:
            stderr.write(f"error: {family} is not sound; nothing was released\n")
            stderr.writelines(f"  {finding}\n" for finding in err.findings)
            return EXIT_FAILED
        stdout.write(guard_lines(_release_summary(plan, folder)))
        return EXIT_OK

    return run(stderr, work)


def _release_summary(plan: ReleasePlan, folder: Path) -> str:
    name = f"{plan.family} {show(plan.version)}"
    if plan.released_before and plan.changes_nothing:
        return f"{name} is released already ({plan.fingerprint}): nothing changed\n"
    lines = [
        f"{name} is released already ({plan.fingerprint}); recorded what its release lacked\n"
        if plan.released_before
        else f"released {name}: {plan.fingerprint}\n"
    ]
    if plan.golden:
        lines.append(
            f"wrote {len(plan.golden)} golden container(s) under {display(plan.golden[0].parent)}\n"
        )
    if plan.pinned:
        older = sorted({p.parent.parent.parent.name for p in plan.pinned})
        lines.append(
            f"pinned the upgrade to {show(plan.version)} of {len(plan.pinned)} golden container(s) "
            f"of version(s) {', '.join(older)} under {display(folder / GOLDEN)}\n"
        )
    return "".join(lines)


# --- the click commands -------------------------------------------------------------------


@options.command(
    "new-version",
    "Start a family's next version, or derive its migration.",
    "docket new-version volumes --schemas ./schemas",
    "docket new-version volumes --schemas ./schemas --update --rename disk.size_gb=size",
)
@click.argument("family", metavar="FAMILY")
@click.option(
    "--update",
    is_flag=True,
    help="Derive the current version's migration from the schema difference.",
)
@click.option(
    "--rename",
    "renames",
    multiple=True,
    metavar="OLD=NEW",
    help="With --update: a field renamed (section.field=field or section.field=other.field).",
)
@options.schemas
@click.pass_context
def new_version_command(ctx: click.Context, /, **params: Any) -> None:
    """Start the next version of FAMILY: copy the current version's document (schema and
    policy) to the next version and make it current.

    After editing its schema, run with --update: the upgrade and downgrade operations are
    derived from the difference (added fields with their defaults, removed fields, renames
    confirmed with --rename, int/string and naive/aware timestamp conversions), and the
    downgrade is marked exact or lossy from the static comparison that docket check makes:
    exact only where the schemas show every value comes back (a conversion they cannot
    judge counts as lossy).
    Exit 1 when the result still has findings.
    """
    ctx.exit(new_version(**params, **options.with_schemas(ctx)))


@options.command(
    "release",
    "Record a version's fingerprint and write its golden containers.",
    "docket release volumes 2 --schemas ./schemas",
)
@options.family_version
@click.option(
    "--golden/--no-golden",
    default=True,
    show_default=True,
    help="Write golden containers of the version (needs hypothesis: docket's testing "
    "extra). Older versions' golden containers get their upgrade to it either way.",
)
@options.schemas
@click.pass_context
def release_command(ctx: click.Context, /, **params: Any) -> None:
    """Release VERSION of FAMILY: check the family (refused when docket's static checks find
    something), record the document's fingerprint in the manifest, write golden containers,
    and pin the upgrade to VERSION of every older version's golden containers; docket check
    and the property suite compare against them from then on. Every file is written or none
    (exit 1, nothing changed, when something fails).

    A released document is frozen: change it and docket check fails, and releasing it again
    is refused. Releasing an unchanged released version again rewrites nothing; it records
    only what the release lacks (golden containers after --no-golden, missing pins).
    """
    ctx.exit(release(**params, **options.with_schemas(ctx)))


COMMANDS = (new_version_command, release_command)
