"""The ``disks`` family of issue 22, as a user writes one.

Version 2 renames ``disk.size_gb`` to ``disk.size``; version 3 removes ``disk.internal_id``
(its downgrade puts back ``null``) and adds an optional ``disk.tier`` that older versions
cannot hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def _disk(version: int) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "maxLength": 40},
        ("size_gb" if version == 1 else "size"): {"type": "integer", "minimum": 0},
    }
    if version < 3:
        props["internal_id"] = {"type": ["integer", "null"]}
    else:
        props["tier"] = {"type": "string", "maxLength": 10}
    return {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": props,
    }


def document(version: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "family": "disks",
        "version": version,
        "schema": {
            "$schema": SCHEMA,
            "type": "object",
            "required": ["version", "disk"],
            "additionalProperties": False,
            "properties": {"version": {"const": version}, "disk": _disk(version)},
        },
        "policy": {
            "sections": {
                "disk": {
                    "restore": True,
                    "fields": ["name", "size_gb" if version == 1 else "size"],
                    "mode": "update",
                }
            }
        },
    }
    if version == 2:
        doc["migration"] = {
            "from": 1,
            "upgrade": [{"op": "rename", "section": "disk", "field": "size_gb", "to": "size"}],
            "downgrade": {"operations": "inverse", "kind": "exact"},
        }
    if version == 3:
        doc["migration"] = {
            "from": 2,
            "upgrade": [{"op": "remove", "section": "disk", "field": "internal_id"}],
            "downgrade": {
                "operations": [
                    {"op": "remove", "section": "disk", "field": "tier"},
                    {"op": "add", "section": "disk", "field": "internal_id", "default": None},
                ],
                "kind": "lossy",
                "losses": ["disk.internal_id", "disk.tier"],
            },
        }
    return doc


def write_disks(root: Path) -> Path:
    """Write the ``disks`` family under ``root/disks``; returns ``root``."""
    folder = root / "disks"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "family": "disks",
        "version_scheme": "integer",
        "versions": [1, 2, 3],
        "current": 3,
        "released": {},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for v in (1, 2, 3):
        (folder / f"{v}.json").write_text(json.dumps(document(v), indent=2))
    return root
