"""A two-version family written to a temporary folder, correct or broken in one known way.

Used by the docket.testing tests: each broken variant must make exactly the property that
guards against it fail.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from docket import Migration, NamedRule, Registry, RuleContext, load_registry
from tests._families import version_document, write_family

VARIANTS = ("correct", "drops-field", "non-deterministic", "lossy-exact", "leaky-policy")
STATICALLY_UNSOUND = frozenset({"drops-field", "lossy-exact"})
"""Variants :mod:`docket.core.soundness` finds without running a container."""


def _item(version: int, variant: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": {"type": "string", "maxLength": 20},
        "size": {"type": "integer", "minimum": 0},
        "secret": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"], "maxLength": 30},
    }
    if version == 2:
        if variant == "lossy-exact":
            del props["note"]
        else:
            props["color"] = {"enum": ["red", "blue"]}
    return {
        "type": "object",
        "required": ["name", "size"],
        "additionalProperties": False,
        "properties": props,
    }


def _document(version: int, variant: str) -> dict[str, Any]:
    policy = {
        "sections": {
            "item": {
                "restore": True,
                "fields": ["name", "size"],
                "unknown": "drop",
                **({"rules": [{"name": "copy-secret"}]} if variant == "leaky-policy" else {}),
            }
        }
    }
    doc = version_document("toy", version, {"item": _item(version, variant)}, policy=policy)
    if version == 2 and variant != "non-deterministic":
        # A version 2 color has nowhere to go in version 1: the downgrade loses it.
        upgrade: list[dict[str, Any]] = [
            {"op": "add", "section": "item", "field": "color", "default": "red"}
        ]
        downgrade = {"operations": "inverse", "kind": "lossy", "losses": ["item.color"]}
        if variant == "drops-field":
            upgrade.append({"op": "remove", "section": "item", "field": "size"})
        if variant == "lossy-exact":
            # Drops the note on the way up, and still claims to give everything back.
            upgrade = [{"op": "remove", "section": "item", "field": "note"}]
            downgrade = {"operations": "inverse", "kind": "exact"}
        doc["migration"] = {"from": 1, "upgrade": upgrade, "downgrade": downgrade}
    return doc


def write_toy(root: Path, variant: str = "correct") -> Path:
    """Write the ``toy`` family under ``root/toy``; returns ``root`` (the schema directory)."""
    if variant not in VARIANTS:
        raise ValueError(variant)
    return write_family(root, "toy", {v: _document(v, variant) for v in (1, 2)})


def _copy_secret(ctx: RuleContext) -> None:
    """Writes the secret without declaring it: the leak the allowlist property must catch."""
    if "secret" in ctx.source:
        ctx.plan.section(ctx.section).values["secret"] = ctx.source["secret"]


def toy_registry(root: Path, variant: str = "correct") -> Registry:
    """The registry of a toy family written by :func:`write_toy`, with its Python parts."""
    counter = itertools.count()

    def colorful(data: dict[str, Any]) -> dict[str, Any]:
        # Depends on how often it ran: the non-determinism the property must catch.
        data["item"]["color"] = ("red", "blue")[next(counter) % 2]
        return data

    def colorless(data: dict[str, Any]) -> dict[str, Any]:
        data["item"].pop("color", None)
        return data

    migrations = []
    if variant == "non-deterministic":
        migrations.append(Migration("toy", 1, 2, colorful, colorless, exact=True))
    rules = [NamedRule("copy-secret", _copy_secret)] if variant == "leaky-policy" else []
    # The static checks would refuse these two as the registry is built; the properties must
    # catch them too, so they are built without those checks.
    sound = variant not in STATICALLY_UNSOUND
    return load_registry(root, migrations=migrations, rules=rules, check_soundness=sound)
