"""One container or one family's versions: ``migrate``, ``inspect``, ``diff`` and ``schema``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import click

from docket.cli import options
from docket.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    about_container,
    build_registry,
    family_of,
    load_at_own_version,
    named_family,
    named_version,
    read_input,
    run,
)
from docket.cli.output import emit, issue_dict, pointer_path
from docket.core.codec import parse
from docket.core.compat import VersionDiff, diff_versions
from docket.core.display import display, guard_lines
from docket.core.errors import show
from docket.core.explain import Explanation, explain_restore, migrate_and_explain
from docket.fleet.validate import STDIN
from docket.fs import write_atomic

if TYPE_CHECKING:
    from docket.core.losses import DataLoss

# --- migrate ------------------------------------------------------------------------------


def _lossy_text(family: str, source: Any, target: Any, losses: Iterable[DataLoss]) -> str:
    lines = [f"error: {family} {show(source)} -> {show(target)} is lossy; it would lose:"]
    lines += [f"  - {loss.describe()}" for loss in losses]
    lines.append("hint: pass --allow-lossy to accept the loss")
    return "".join(f"{line}\n" for line in lines)


def migrate(
    path: str,
    *,
    to: str,
    stdout: TextIO,
    stderr: TextIO,
    stdin: BinaryIO | None = None,
    output: str | None = None,
    allow_lossy: bool = False,
    output_format: str = "text",
    family: str | None = None,
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket migrate``: the container at another version, canonical JSON on stdout or OUT
    (with ``--format json``, a report holding it and the losses)."""

    def work() -> int:
        registry = build_registry(schemas, key_file, family)
        fam, container = load_at_own_version(registry, path, family, stdin)
        target = named_version(fam, to, "--to")
        outcome = migrate_and_explain(fam, container, target, allow_lossy=allow_lossy)
        report: dict[str, Any] = {
            "family": outcome.family,
            "source": outcome.source,
            "target": outcome.target,
            "refused": outcome.refused,
            "losses": [loss.as_dict() for loss in outcome.losses],
            "notes": list(outcome.notes),
            "output": None if output in (None, STDIN) else output,
            "container": None,
        }
        if outcome.data is None:
            lossy = _lossy_text(fam.name, container.version, target, outcome.losses)
            stderr.write(guard_lines(lossy))
            emit(stdout, output_format, report, "")
            return EXIT_FAILED
        said = [f"warning: lossy: {loss.describe()}\n" for loss in outcome.losses]
        said += [f"note: {note}\n" for note in outcome.notes]
        stderr.write(guard_lines("".join(said)))
        if output is None or output == STDIN:
            report["container"] = json.loads(outcome.data)
            emit(stdout, output_format, report, outcome.data.decode("utf-8") + "\n")
        else:
            write_atomic(output, outcome.data + b"\n")
            stderr.write(f"wrote {display(output)} ({display(fam.name)} version {show(target)})\n")
            emit(stdout, output_format, report, "")
        return EXIT_OK

    return run(stderr, work)


# --- inspect ------------------------------------------------------------------------------


def _inspect_json(path: str, found: Explanation) -> dict[str, Any]:
    """An explanation as ``inspect --format json`` prints it."""
    restore: dict[str, Any] = {"policy_version": found.policy_version, "target": "a new volume"}
    if found.refused is not None:
        restore["refused"] = str(found.refused)
    else:
        restore["sections"] = {
            w.section: {
                "mode": w.mode.value,
                "fields": list(w.fields),
                "set_by_rules": dict(w.set_by_rules),
            }
            for w in found.writes
        }
        restore["dropped"] = [
            {"section": d.section, "field": d.field, "reason": d.reason} for d in found.left_out
        ]
    return {
        "file": "<stdin>" if path == STDIN else path,
        "family": found.family,
        "version": found.version,
        "current": found.current,
        "sections": dict(found.sections),
        "digest": found.digest,
        "signature": found.signature,
        "restore": restore,
        "problems": [issue_dict(i) for i in found.problems],
    }


def _inspect_text(info: Mapping[str, Any]) -> str:
    # Section and field names come from the container, which anyone who can write backup
    # storage wrote: each is shown through display(), one line no terminal interprets.
    lines = [
        f"file       {display(info['file'])}",
        f"family     {info['family']}",
        f"version    {show(info['version'])} (current {show(info['current'])})",
        f"digest     {info['digest']}",
        f"signature  {info['signature']}",
        "sections",
    ]
    sections = {display(name): count for name, count in info["sections"].items()}
    width = max((len(n) for n in sections), default=0)
    for name, count in sections.items():
        lines.append(f"  {name:<{width}}  {count} field(s)")
    restore = info["restore"]
    lines.append(
        f"restore    with the policy of version {show(restore['policy_version'])}, onto "
        f"{restore['target']}"
    )
    if "refused" in restore:
        lines.append(f"  refused: {restore['refused']}")
    else:
        width = max((len(n) for n in restore["sections"]), default=0)
        for name, write in restore["sections"].items():
            ruled = write["set_by_rules"]
            listed = ", ".join(
                f"{display(f)}={json.dumps(ruled[f])} (set by a rule)" if f in ruled else display(f)
                for f in write["fields"]
            )
            if not listed:
                replace = write["mode"] == "replace"
                listed = "(none: the target's entries are deleted)" if replace else "(none)"
            lines.append(f"  {display(name):<{width}}  {write['mode']:<7}  {listed}")
        reasons: dict[str, list[str]] = {}
        for d in restore["dropped"]:
            reasons.setdefault(d["reason"], []).append(display(f"{d['section']}.{d['field']}"))
        if reasons:
            lines.append("not restored")
            for reason, names in reasons.items():
                lines.append(f"  {reason}: {', '.join(names)}")
    for problem in info["problems"]:
        lines.append(f"PROBLEM    {problem['path']}: {problem['message']}")
    return "\n".join(lines) + "\n"


def inspect(
    path: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    stdin: BinaryIO | None = None,
    output_format: str = "text",
    family: str | None = None,
    schemas: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> int:
    """``docket inspect``: what a container is and exactly what restoring it would write."""

    def work() -> int:
        registry = build_registry(schemas, key_file, family)
        raw = read_input(path, stdin, registry.limits)
        with about_container(path, raw):
            obj = parse(raw, registry.limits)
            found = explain_restore(family_of(registry, obj, family), obj)
        info = _inspect_json(path, found)
        emit(stdout, output_format, info, _inspect_text(info))
        return EXIT_OK if found.ok else EXIT_FAILED

    return run(stderr, work)


# --- diff, schema -------------------------------------------------------------------------


def diff_text(result: VersionDiff) -> str:
    """A version diff as text for a terminal or a pull-request comment."""
    old, new = result.old, result.new
    yes_no = {True: "yes", False: "NO"}
    lines = [
        f"{result.family} {show(old)} -> {show(new)}: {result.compatibility.value}",
        f"  backward: {yes_no[result.backward]:<3}  version {show(new)} readers "
        f"{'accept every' if result.backward else 'refuse some'} version {show(old)} container(s)",
        f"  forward:  {yes_no[result.forward]:<3}  version {show(old)} readers "
        f"{'accept every' if result.forward else 'refuse some'} version {show(new)} container(s)",
        "",
        "schema changes (B: breaks backward, F: breaks forward):",
    ]
    if not result.changes:
        lines.append("  none")
    ordered = sorted(result.changes, key=lambda c: (c.backward and c.forward, c.backward))
    for change in ordered:
        flags = ("B" if not change.backward else "-") + ("F" if not change.forward else "-")
        lines.append(f"  {flags}  {pointer_path(change.pointer)}  {change.describe()}")
    lines += ["", "restore policy changes:"]
    lines += [f"  {p.describe()}" for p in result.policy] or ["  none"]
    lines += ["", "migration:"]
    lines += [f"  {step}" for step in result.migration] or ["  none (same version)"]
    return "\n".join(lines) + "\n"


def diff_json(result: VersionDiff) -> dict[str, Any]:
    """A version diff as ``diff --format json`` prints it: each change with its ``pointer``
    into the schema and the same place as a ``$``-path."""
    data = result.as_dict()
    data["changes"] = [
        {**change, "path": pointer_path(change["pointer"])} for change in data["changes"]
    ]
    return data


def diff(
    family: str,
    old: str,
    new: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    output_format: str = "text",
    schemas: str | os.PathLike[str] | None = None,
) -> int:
    """``docket diff``: typed changes and the compatibility class between two versions."""

    def work() -> int:
        fam = named_family(build_registry(schemas), family, "FAMILY")
        result = diff_versions(fam, named_version(fam, old, "A"), named_version(fam, new, "B"))
        emit(stdout, output_format, diff_json(result), diff_text(result))
        return EXIT_OK

    return run(stderr, work)


def schema(
    family: str,
    version: str,
    *,
    stdout: TextIO,
    stderr: TextIO,
    schemas: str | os.PathLike[str] | None = None,
) -> int:
    """``docket schema``: print a version's JSON Schema."""

    def work() -> int:
        fam = named_family(build_registry(schemas), family, "FAMILY")
        emit(stdout, "json", fam.schema(named_version(fam, version, "VERSION")), "")
        return EXIT_OK

    return run(stderr, work)


# --- the click commands -------------------------------------------------------------------


@options.command(
    "migrate",
    "Upgrade or downgrade a container to another version.",
    "docket migrate backup.json --to 3 -o backup-v3.json",
    "docket migrate backup-v3.json --to 1 --allow-lossy > backup-v1.json",
    "docket migrate backup.json --to 3 --format json | jq .losses",
)
@click.argument("path", metavar="FILE")
@click.option("--to", "to", metavar="VERSION", required=True, help="The version to migrate to.")
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    help="Write here (whole or not at all) instead of standard output.",
)
@click.option(
    "--allow-lossy", is_flag=True, help="Accept a migration that loses values the container holds."
)
@options.output_format()
@options.family
@options.key_file
@options.schemas
@click.pass_context
def migrate_command(ctx: click.Context, /, **params: Any) -> None:
    """Upgrade or downgrade the container in FILE (- for standard input) to VERSION.

    The result is canonical JSON. A migration, upgrade or downgrade, that would drop a
    value the container holds or change one so that it cannot be given back (or a value a
    downgrade is declared to lose) is refused (exit 1), naming each $-path, unless
    --allow-lossy is given; then the losses are still named on standard error. Notes there
    say what a restore of the result writes differently (renamed fields are named as
    renamed). With --format json, standard output is a report: family, source, target,
    refused, losses (each with path, pointer, reason, value, detail), notes, output, and
    the migrated container when no OUT is given.
    """
    ctx.exit(migrate(**params, **options.reading(ctx)))


@options.command(
    "inspect",
    "Show a container and exactly what restoring it writes.",
    "docket inspect backup.json",
    "docket inspect backup.json --format json | jq .restore",
)
@click.argument("path", metavar="FILE")
@options.output_format()
@options.family
@options.key_file
@options.schemas
@click.pass_context
def inspect_command(ctx: click.Context, /, **params: Any) -> None:
    """Show a container: family, version, sections, integrity, and what a restore writes.

    The restore shown is onto a new volume, with the policy of the version the container
    was written at: exactly which fields are restored, and which are not and why. Exit 1
    when the container is invalid, its digest or signature does not match, or its restore
    would be refused.
    """
    ctx.exit(inspect(**params, **options.reading(ctx)))


@options.command(
    "diff",
    "Typed changes and compatibility class between two versions.",
    "docket diff backup-metadata 2 3",
    "docket diff backup-metadata 1 2 --format json",
)
@click.argument("family", metavar="FAMILY")
@click.argument("old", metavar="A")
@click.argument("new", metavar="B")
@options.output_format()
@options.schemas
@click.pass_context
def diff_command(ctx: click.Context, /, **params: Any) -> None:
    """List the typed schema changes from version A to version B and their compatibility.

    The class is BACKWARD (B readers accept A containers), FORWARD (A readers accept B
    containers), FULL (both) or NONE, as Confluent Schema Registry defines them for JSON
    Schema. Restore policy changes and the migration path are listed too.
    """
    ctx.exit(diff(**params, **options.with_schemas(ctx)))


@options.command(
    "schema",
    "Print a version's JSON Schema.",
    "docket schema backup-metadata 3 > backup-metadata-v3.schema.json",
)
@options.family_version
@options.schemas
@click.pass_context
def schema_command(ctx: click.Context, /, **params: Any) -> None:
    """Print the JSON Schema (2020-12) of a version, for validators in other languages."""
    ctx.exit(schema(**params, **options.with_schemas(ctx)))


COMMANDS = (migrate_command, inspect_command, diff_command, schema_command)
