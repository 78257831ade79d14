"""Authoring a family's next version: start it, then derive its migration.

The workflow (docs/defining-a-family.md): :func:`start_version` copies the current version's
document to the next version; the author edits its schema and policy; :func:`update_version`
works out the migration from the schema difference (added, removed and confirmed renamed
fields, converted types: :mod:`docket.authoring.derive`), and marks the downgrade exact or
lossy from the static comparison of :mod:`docket.core.soundness`, as alembic's ``revision
--autogenerate`` does for tables; ``docket check`` and the property suite test it; a release
(:mod:`docket.authoring.release`) then records the fingerprint and the golden containers.

Both take a family folder (the one holding its ``manifest.json``), write all or nothing, and
return what they did; they print nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docket.authoring.derive import derive_operations, props, split_field
from docket.authoring.release import document_bytes
from docket.core.documents import GOLDEN, MANIFEST, read_document, version_text
from docket.core.errors import UsageError, show
from docket.core.migrations import Operation, inverse_operations
from docket.core.registry import load_registry
from docket.core.soundness import Unsoundness, check_edge, check_family
from docket.core.versions import Version
from docket.fs_changes import FileChanges, apply_changes, changing


@dataclass(frozen=True)
class NewVersion:
    """What :func:`start_version` wrote."""

    folder: Path
    """The family folder."""
    path: Path
    """The new version's document (a copy of the previous current one)."""
    previous: Version
    version: Version


@dataclass(frozen=True)
class VersionUpdate:
    """What :func:`update_version` wrote into the current version's document."""

    folder: Path
    """The family's folder."""
    path: Path
    """The current version's document, rewritten."""
    source: Version
    """The version the migration comes from."""
    target: Version
    """The current version, whose document holds the migration."""
    upgrade: tuple[Operation, ...]
    downgrade: tuple[Operation, ...]
    kind: str
    """The downgrade's kind: ``exact`` or ``lossy``."""
    losses: tuple[str, ...]
    """Where the downgrade loses values (``section.field``), as declared; empty when exact."""
    unproven: tuple[str, ...]
    """Converted fields the schemas do not show exact (so the downgrade is declared lossy)."""
    findings: tuple[Unsoundness, ...]
    """What the static checks still find in the family with the migration written."""

    @property
    def ok(self) -> bool:
        return not self.findings


def next_version(current: Version) -> Version:
    """The version after ``current``: the next integer, or the next minor of a semantic one."""
    if isinstance(current, int):
        return current + 1
    major, minor, *_ = (int(p) for p in str(current).split("."))
    return f"{major}.{minor + 1}.0"


def start_version(folder: Path) -> NewVersion:
    """Copy the current version's document to the next version and make it current."""
    with changing(folder):
        return _start(folder)


def _start(folder: Path) -> NewVersion:
    manifest = read_document(folder / MANIFEST)
    current = manifest["current"]
    new = next_version(current)
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
    changes = FileChanges(root=folder)
    changes.write(target, document_bytes(document))
    changes.write(folder / MANIFEST, document_bytes(manifest))
    apply_changes(changes)
    return NewVersion(folder, target, current, new)


def _write_document(path: Path, document: Any) -> None:
    """Replace a version document whole or not at all; a target that is not a regular file
    (a link, a FIFO) is refused, not replaced (:func:`~docket.fs_changes.apply_changes`)."""
    changes = FileChanges(root=path.parent)
    changes.write(path, document_bytes(document))
    apply_changes(changes)


def update_version(folder: Path, renames: Sequence[tuple[str, str]] = ()) -> VersionUpdate:
    """Write the current version's migration from the schema difference (see module doc).

    ``renames`` are confirmed renames, old to new (``section.field`` or a top-level name).
    Raises :class:`~docket.errors.UsageError` when the family has one version, a rename names
    a field a version lacks, or a change cannot be derived (a new required field without a
    default); nothing is written then.
    """
    with changing(folder):
        return _update(folder, renames)


def _update(folder: Path, renames: Sequence[tuple[str, str]]) -> VersionUpdate:
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
            section, name = split_field(text)
            holder = schema["schema"] if section is None else props(schema["schema"]).get(section)
            if name not in props(holder):
                raise UsageError("--rename", f"version {show(which)} has no {show(text)}")
    up, down = derive_operations(old_doc["schema"], document["schema"], renames, managed)
    specs = [o.spec() for o in down]
    same = [o.spec() for o in inverse_operations(up)] == specs
    migration: dict[str, Any] = {
        "from": old,
        "upgrade": [o.spec() for o in up],
        "downgrade": {"operations": "inverse" if same else specs, "kind": "exact"},
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
    _write_document(path, document)
    family = load_registry(folder.parent, check_soundness=False).family(folder.name)
    return VersionUpdate(
        folder,
        path,
        old,
        new,
        tuple(up),
        tuple(down),
        migration["downgrade"]["kind"],
        tuple(lost),
        tuple(sorted(report.unproven)),
        tuple(check_family(family)),
    )
