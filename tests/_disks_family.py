"""The ``disks`` family of issue 22, as a user writes one.

Version 2 renames ``disk.size_gb`` to ``disk.size``; version 3 removes ``disk.internal_id``
(its downgrade puts back ``null``) and adds an optional ``disk.tier`` that older versions
cannot hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._families import disk_policy, size_renamed, version_document, write_family


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
    policy = {"sections": {"disk": disk_policy(version)}}
    doc = version_document("disks", version, {"disk": _disk(version)}, policy=policy)
    if version == 2:
        doc["migration"] = size_renamed()
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
    return write_family(root, "disks", {v: document(v) for v in (1, 2, 3)})
