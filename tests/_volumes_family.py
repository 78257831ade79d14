"""A three-version family as a new user writes one, correct or with one known mistake.

Version 2 renames ``disk.size_gb`` to ``disk.size``; version 3 adds a whole ``retention``
section with a default. Each mistake is one the static checks (docket.core.soundness) find.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._families import disk_policy, size_renamed, version_document, write_family

MISTAKES = (
    "none",
    "exact-but-lossy",
    "rename-nonexistent",
    "bad-default",
    "mismatched-losses",
)


def _disk(size: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            size: {"type": "integer", "minimum": 0},
            "secret": {"type": ["string", "null"]},
        },
    }


RETENTION = {
    "type": "object",
    "required": ["legal_hold", "keep_days"],
    "additionalProperties": False,
    "properties": {
        "legal_hold": {"type": "boolean"},
        "keep_days": {"type": "integer", "minimum": 0, "maximum": 3650},
    },
}


def document(version: int, mistake: str = "none") -> dict[str, Any]:
    props: dict[str, Any] = {"disk": _disk("size_gb" if version == 1 else "size")}
    if version == 3:
        props["retention"] = RETENTION
    policy = {
        "sections": {
            "disk": disk_policy(version),
            **({"retention": {"restore": True, "mode": "update"}} if version == 3 else {}),
        }
    }
    doc = version_document("volumes", version, props, required=["version", "disk"], policy=policy)
    if version == 2:
        doc["migration"] = size_renamed("sizegb" if mistake == "rename-nonexistent" else "size_gb")
    if version == 3:
        keep = -1 if mistake == "bad-default" else 30
        downgrade: dict[str, Any] = {
            "operations": "inverse",
            "kind": "lossy",
            "losses": ["retention"],
        }
        if mistake == "exact-but-lossy":
            downgrade = {"operations": "inverse", "kind": "exact"}
        if mistake == "mismatched-losses":
            downgrade["losses"] = ["disk.name"]
        doc["migration"] = {
            "from": 2,
            "upgrade": [
                {
                    "op": "add",
                    "section": None,
                    "field": "retention",
                    "default": {"legal_hold": False, "keep_days": keep},
                }
            ],
            "downgrade": downgrade,
        }
    return doc


def write_volumes(root: Path, mistake: str = "none") -> Path:
    """Write the ``volumes`` family under ``root/volumes``; returns ``root``."""
    if mistake not in MISTAKES:
        raise ValueError(mistake)
    return write_family(root, "volumes", {v: document(v, mistake) for v in (1, 2, 3)})
