"""Family folders for tests: a manifest and one version document a version, written to disk.

The test families (``_toy_family``, ``_volumes_family``, ``_disks_family`` and the small ones
of single test files) build their documents with :func:`version_document` and write them with
:func:`write_family`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def version_document(
    family: str,
    version: Any,
    sections: Mapping[str, Any],
    *,
    required: Sequence[str] | None = None,
    closed: bool = True,
    policy: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A version document whose schema is an object of ``version`` and ``sections``.

    ``required`` defaults to the version and every section; ``closed`` forbids other members;
    ``policy`` defaults to one that restores nothing.
    """
    schema: dict[str, Any] = {
        "$schema": SCHEMA,
        "type": "object",
        "required": ["version", *sections] if required is None else list(required),
    }
    if closed:
        schema["additionalProperties"] = False
    schema["properties"] = {"version": {"const": version}, **sections}
    return {
        "family": family,
        "version": version,
        "schema": schema,
        "policy": dict(policy) if policy is not None else {"sections": {}},
    }


def disk_policy(version: int) -> dict[str, Any]:
    """The ``disk`` section's rule in the disk families (``_disks_family``, ``_volumes_family``):
    restore its name and size (``size_gb`` in version 1, ``size`` after), updating the disk."""
    return {
        "restore": True,
        "fields": ["name", "size_gb" if version == 1 else "size"],
        "mode": "update",
    }


def size_renamed(field: str = "size_gb") -> dict[str, Any]:
    """Version 2's migration in the disk families: ``disk.<field>`` becomes ``disk.size``,
    and the inverse undoes it exactly."""
    return {
        "from": 1,
        "upgrade": [{"op": "rename", "section": "disk", "field": field, "to": "size"}],
        "downgrade": {"operations": "inverse", "kind": "exact"},
    }


def write_family(
    root: Path,
    name: str,
    documents: Mapping[Any, Mapping[str, Any]],
    *,
    current: Any = None,
    indent: int | None = 2,
) -> Path:
    """Write family ``name`` under ``root/name``: its manifest (integer versions, nothing
    released) and ``documents`` (version -> document, in version order); returns ``root``, the
    schema directory. ``current`` defaults to the last version.
    """
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    listed = list(documents)
    manifest = {
        "family": name,
        "version_scheme": "integer",
        "versions": listed,
        "current": listed[-1] if current is None else current,
        "released": {},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=indent))
    for version, document in documents.items():
        (folder / f"{version}.json").write_text(json.dumps(document, indent=indent))
    return root


def chain_family(
    root: Path, name: str, versions: list[int], current: int, *, migrations: bool
) -> Path:
    """Family ``name`` of ``versions`` with nothing but the version in each schema; with
    ``migrations`` each document migrates from the previous version. Returns ``root``."""
    documents: dict[int, dict[str, Any]] = {}
    for i, v in enumerate(versions):
        doc = version_document(name, v, {}, closed=False)
        if migrations and i > 0:
            doc["migration"] = {"from": versions[i - 1], "upgrade": []}
        documents[v] = doc
    return write_family(root, name, documents, current=current, indent=None)
