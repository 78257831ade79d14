"""Authoring a family's next version: ``docket new-version`` and ``docket release``.

The workflow (docs/defining-a-family.md): ``new-version FAMILY`` copies the current version's
document to the next version; the author edits its schema and policy; ``new-version FAMILY
--update`` works out the migration from the schema difference (added, removed and confirmed
renamed fields, converted types), and marks the downgrade exact or lossy from the static
comparison of :mod:`docket.core.soundness`, as alembic's ``revision --autogenerate`` does for
tables; ``docket check`` and the property suite test it; ``release FAMILY VERSION`` records
the fingerprint and writes the golden containers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from docket.authoring.release import ReleasePlan, document_bytes, release_version
from docket.cli import options
from docket.cli.common import EXIT_FAILED, EXIT_OK, run
from docket.cli.errors import UsageError
from docket.core.documents import GOLDEN, MANIFEST, read_document, version_text
from docket.core.errors import UnsoundMigration, show
from docket.core.migrations import (
    BUILTIN_CONVERTERS,
    Add,
    Convert,
    Move,
    Operation,
    Remove,
    Rename,
    inverse_operations,
)
from docket.core.registry import load_registry
from docket.core.soundness import check_edge, check_family
from docket.core.versions import Version
from docket.fs import FileChanges, apply_changes, write_atomic

_CONVERSIONS = {
    ("integer", "string"): "int-to-string",
    ("string", "integer"): "string-to-int",
    ("naive-datetime", "utc-datetime"): "naive-utc-to-aware",
}
"""Type changes ``--update`` writes a ``convert`` for: (old kind, new kind) -> converter."""


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    write_atomic(path, document_bytes(document))


def _folder(schemas: str | os.PathLike[str] | None, family: str) -> Path:
    if schemas is None:
        raise UsageError(
            "--schemas",
            "name the schema directory of the family",
            "docket --schemas DIR new-version FAMILY (the bundled families are not edited)",
        )
    folder = Path(schemas) / family
    if not (folder / MANIFEST).is_file():
        raise UsageError(
            "FAMILY", f"no family {show(family)} under {schemas} ({folder / MANIFEST})"
        )
    return folder


def _next_version(current: Version) -> Version:
    if isinstance(current, int):
        return current + 1
    major, minor, *_ = (int(p) for p in str(current).split("."))
    return f"{major}.{minor + 1}.0"


# --- new-version --------------------------------------------------------------------------


def start_version(folder: Path, stdout: TextIO) -> Version:
    """Copy the current version's document to the next version and make it current."""
    manifest = read_document(folder / MANIFEST)
    current = manifest["current"]
    new = _next_version(current)
    target = folder / f"{version_text(new)}.json"
    if target.exists():
        raise UsageError("FAMILY", f"{target} exists already", "edit it, or run --update")
    document = read_document(folder / f"{version_text(current)}.json")
    document["version"] = new
    document["schema"]["properties"]["version"] = {"const": new}
    title = document["schema"].get("title")
    if isinstance(title, str):
        document["schema"]["title"] = title.replace(f"v{current}", f"v{new}")
    document["migration"] = {
        "from": current,
        "upgrade": [],
        "downgrade": {"operations": "inverse", "kind": "exact"},
    }
    manifest["versions"] = [*manifest["versions"], new]
    manifest["current"] = new
    # Both files or neither: the manifest (which makes the version count) is swapped in last.
    changes = FileChanges()
    changes.write(target, document_bytes(document))
    changes.write(folder / MANIFEST, document_bytes(manifest))
    apply_changes(changes)
    stdout.write(
        f"created {target} (a copy of version {show(current)}); edit its schema and policy, "
        f"then run: docket --schemas {folder.parent} new-version {folder.name} --update\n"
    )
    return new


def _props(schema: Any) -> Mapping[str, Any]:
    found = schema.get("properties") if isinstance(schema, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _kind(schema: Any) -> str | None:
    if not isinstance(schema, Mapping):
        return None
    if "x-docket-type" in schema and schema["x-docket-type"] in ("naive-datetime", "utc-datetime"):
        return str(schema["x-docket-type"])
    types = schema.get("type")
    names = {types} if isinstance(types, str) else set(types or ()) - {"null"}
    return names.pop() if len(names) == 1 else None


_NO_DEFAULT = object()


def _default(schema: Any) -> Any:
    """The value ``--update`` adds for a new member: its ``default``, its ``const``, an object
    of its required fields' defaults, or null where null is allowed."""
    if not isinstance(schema, Mapping):
        return _NO_DEFAULT
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if _props(schema) and schema.get("type") == "object":
        out = {}
        for name in schema.get("required", ()):
            value = _default(_props(schema).get(name))
            if value is _NO_DEFAULT:
                return _NO_DEFAULT
            out[name] = value
        return out
    types = schema.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return None
    return _NO_DEFAULT


def _split(text: str) -> tuple[str | None, str]:
    section, _, name = text.rpartition(".")
    return (section or None), name


def derive_operations(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    renames: Sequence[tuple[str, str]],
    managed: frozenset[str],
) -> tuple[list[Operation], list[Operation]]:
    """The upgrade and downgrade operations from schema ``old`` to schema ``new``.

    ``renames`` are confirmed renames (``section.field`` or a top-level name, old to new).
    Raises :class:`UsageError` for a new required member without a default.
    """
    up: list[Operation] = []
    down: list[Operation] = []
    renamed_from = {_split(a) for a, _ in renames}
    renamed_to = {_split(b) for _, b in renames}
    for before, after in renames:
        (s1, f1), (s2, f2) = _split(before), _split(after)
        op: Operation = Rename(s1, f1, f2) if s1 == s2 else Move(s1, f1, s2, f2)
        up.append(op)
        down.insert(0, op.inverse())

    def added(section: str | None, name: str, schema: Any, required: bool) -> None:
        value = _default(schema)
        where = name if section is None else f"{section}.{name}"
        if value is _NO_DEFAULT:
            if required:
                raise UsageError(
                    "--update",
                    f"{where} is new and required, and its schema gives no default",
                    'add a "default" to its schema (or make it optional), then run again',
                )
            down.insert(0, Remove(section, name))
            return
        up.append(Add(section, name, value))
        down.insert(0, Remove(section, name, value))

    def removed(section: str | None, name: str, schema: Any, required: bool) -> None:
        value = _default(schema)
        up.append(Remove(section, name, None if value is _NO_DEFAULT else value))
        if required and value is _NO_DEFAULT:
            where = name if section is None else f"{section}.{name}"
            raise UsageError(
                "--update",
                f"{where} is gone, and the older version requires it with no default to "
                "give back on a downgrade",
                'add a "default" to its schema in the older version, or write the '
                "downgrade by hand",
            )
        if required or value is not _NO_DEFAULT:
            down.insert(0, Add(section, name, value))

    old_props, new_props = _props(old), _props(new)
    old_req, new_req = set(old.get("required", ())), set(new.get("required", ()))
    for name, schema in new_props.items():
        if name in managed or (None, name) in renamed_to:
            continue
        if name not in old_props:
            added(None, name, schema, name in new_req)
    for name, schema in old_props.items():
        if name in managed or (None, name) in renamed_from:
            continue
        if name not in new_props:
            removed(None, name, schema, name in old_req)
    for name, section_after in new_props.items():
        section_before: Any = old_props.get(name)
        if name in managed or not _props(section_after) or not _props(section_before):
            continue
        fields_before, fields_after = _props(section_before), _props(section_after)
        req_before = set(section_before.get("required", ()))
        req_after = set(section_after.get("required", ()))
        for f, schema in fields_after.items():
            if (name, f) in renamed_to:
                continue
            if f not in fields_before:
                added(name, f, schema, f in req_after)
                continue
            converter = _CONVERSIONS.get((_kind(fields_before[f]) or "", _kind(schema) or ""))
            if converter is not None:
                op = Convert(name, f, converter)
                up.append(op)
                down.insert(0, op.inverse(BUILTIN_CONVERTERS))
        for f, schema in fields_before.items():
            if (name, f) not in renamed_from and f not in fields_after:
                removed(name, f, schema, f in req_before)
    return up, down


def _spec(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"op": op.name, "section": op.section}
    if isinstance(op, Convert):
        return {**out, "fields": [op.field], "converter": op.converter}
    out["field"] = op.field
    if isinstance(op, Add) or (isinstance(op, Remove) and op.default is not None):
        out["default"] = op.default
    elif isinstance(op, Rename):
        out["to"] = op.to
    elif isinstance(op, Move):
        out["to_section"] = op.to_section
        out["to_field"] = op.destination
    return out


def update_version(
    folder: Path, renames: Sequence[tuple[str, str]], stdout: TextIO, stderr: TextIO
) -> int:
    """Write the current version's migration from the schema difference (see module doc)."""
    manifest = read_document(folder / MANIFEST)
    versions = manifest["versions"]
    if len(versions) < 2:
        raise UsageError("--update", "the family has one version: nothing to migrate from")
    new, old = manifest["current"], versions[versions.index(manifest["current"]) - 1]
    path = folder / f"{version_text(new)}.json"
    document = read_document(path)
    old_doc = read_document(folder / f"{version_text(old)}.json")
    managed = frozenset({"version"}) | frozenset(
        m
        for doc in (document, old_doc)
        for m in (doc.get("integrity", {}).get("digest"), doc.get("integrity", {}).get("signature"))
        if m
    )
    for before, after in renames:
        for text, schema, which in ((before, old_doc, old), (after, document, new)):
            section, name = _split(text)
            holder = schema["schema"] if section is None else _props(schema["schema"]).get(section)
            if name not in _props(holder):
                raise UsageError("--rename", f"version {show(which)} has no {show(text)}")
    up, down = derive_operations(old_doc["schema"], document["schema"], renames, managed)
    same = [_spec(o) for o in inverse_operations(up)] == [_spec(o) for o in down]
    migration: dict[str, Any] = {
        "from": old,
        "upgrade": [_spec(o) for o in up],
        "downgrade": {
            "operations": "inverse" if same else [_spec(o) for o in down],
            "kind": "exact",
        },
    }
    if "description" in document.get("migration", {}):
        migration["description"] = document["migration"]["description"]
    document["migration"] = migration
    # Judge the downgrade on the schemas, as docket check will, on a copy of the family with
    # the new migration in it: the document itself is written once, when it is final.
    with tempfile.TemporaryDirectory(prefix="docket-new-version-") as scratch:
        copy = Path(scratch) / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(GOLDEN), symlinks=True)
        (copy / path.name).write_bytes(document_bytes(document))
        family = load_registry(copy.parent, check_soundness=False).family(folder.name)
        report = check_edge(family, family.migration(old))
    # Exact only where the schemas show it: a conversion they cannot judge counts as lossy.
    lost = sorted({loss.where for loss in report.losses} | report.unproven)
    if lost:
        migration["downgrade"]["kind"] = "lossy"
        migration["downgrade"]["losses"] = lost
    _write_json(path, document)
    stdout.write(f"wrote the migration {show(old)} -> {show(new)} into {path}:\n")
    for op in up:
        stdout.write(f"  upgrade    {_spec(op)}\n")
    for op in down:
        stdout.write(f"  downgrade  {_spec(op)}\n")
    kind = migration["downgrade"]["kind"]
    stdout.write(f"  the downgrade is {kind}" + (f", losing {', '.join(lost)}\n" if lost else "\n"))
    if report.unproven:
        stdout.write(
            "  note: the schemas do not show that the conversions of "
            + ", ".join(sorted(report.unproven))
            + " give back every value, so the downgrade is declared lossy; if they do, "
            'declare it "exact" and let the property suite test it\n'
        )
    family = load_registry(folder.parent, check_soundness=False).family(folder.name)
    findings = check_family(family)
    for finding in findings:
        stderr.write(f"finding: {finding}\n")
    return EXIT_FAILED if findings else EXIT_OK


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
        pairs = []
        for text in renames:
            before, sep, after = text.partition("=")
            if not sep or not before or not after:
                raise UsageError("--rename", f"{show(text)} is not "
                    "OLD=NEW", "e.g. disk.size_gb=size")
            if "." in before and "." not in after:
                after = f"{before.rpartition('.')[0]}.{after}"
            pairs.append((before, after))
        if pairs and not update:
            raise UsageError("--rename", "renames are confirmed with --update")
        if update:
            return update_version(folder, pairs, stdout, stderr)
        start_version(folder, stdout)
        return EXIT_OK

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
            registry = load_registry(folder.parent)
        except UnsoundMigration as err:
            stderr.write(f"error: {family} is not sound; nothing was released\n")
            for finding in err.findings:
                stderr.write(f"  {finding}\n")
            return EXIT_FAILED
        fam = registry.family(family)
        try:
            target = fam.parse_version(version)
        except (ValueError, LookupError) as err:
            raise UsageError(
                "VERSION",
                f"{show(version)} is not a version of {family}",
                "versions: " + ", ".join(map(str, fam.versions)),
            ) from err
        plan = release_version(fam, target, golden=golden)
        stdout.write(_release_summary(plan, folder))
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
            f"wrote {len(plan.golden)} golden container(s) under {plan.golden[0].parent}\n"
        )
    if plan.pinned:
        older = sorted({p.parent.parent.parent.name for p in plan.pinned})
        lines.append(
            f"pinned the upgrade to {show(plan.version)} of {len(plan.pinned)} golden container(s) "
            f"of version(s) {', '.join(older)} under {folder / GOLDEN}\n"
        )
    return "".join(lines)


# --- the click commands -------------------------------------------------------------------


@click.command(
    "new-version",
    short_help="Start a family's next version, or derive its migration.",
    epilog="""\b
Examples:
  docket new-version volumes --schemas ./schemas
  docket new-version volumes --schemas ./schemas --update --rename disk.size_gb=size
""",
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


@click.command(
    "release",
    short_help="Record a version's fingerprint and write its golden containers.",
    epilog="""\b
Examples:
  docket release volumes 2 --schemas ./schemas
""",
)
@click.argument("family", metavar="FAMILY")
@click.argument("version", metavar="VERSION")
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
