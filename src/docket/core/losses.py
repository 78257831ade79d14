"""Losses: what a direction of a migration cannot give back, and how declared losses (free
text in a version document) name the places they mean."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from docket.core.errors import Segments
from docket.core.family import Family
from docket.core.migrations import FieldRef
from docket.core.versions import Version


@dataclass(frozen=True)
class Loss:
    """Something a direction of an edge cannot give back."""

    where: str
    """``section.field``, a section's name, or a top-level member's name (in the version
    the direction starts from)."""
    segments: Segments
    reason: str
    operation: str


_DOTTED = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)+")
_LEADING = re.compile(r"\s*([A-Za-z0-9_][A-Za-z0-9_\-.]*?)[.:]?(?:\s|$)")


def related(a: str, b: str) -> bool:
    """Whether two places are one, or one lies within the other (``disk`` and ``disk.size``)."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _leading(text: str) -> str | None:
    found = _LEADING.match(text)
    return found.group(1) if found else None


def mentions(text: str, where: str) -> bool:
    """Whether a declared loss (free text) names ``where`` or a place within or around it:
    by a dotted name anywhere (``disk.size``) or by the name it starts with (``retention``)."""
    names = [*_DOTTED.findall(text), _leading(text) or ""]
    return any(name and related(name, where) for name in names)


def named_places(text: str, members: Sequence[str] = ()) -> list[str]:
    """The places a declared loss names: its dotted names, and the top-level member
    (one of ``members``) it starts with."""
    out = list(_DOTTED.findall(text))
    first = _leading(text)
    if first is not None and first in members and first not in out:
        out.append(first)
    return out


def policy_losses(family: Family, newer: Version, older: Version) -> list[str]:
    """Places restored by ``newer``'s policy that ``older``'s does not restore, carried to
    ``older``'s shape along the downgrade (each ``section.field``, or a section's name)."""
    moves: dict[FieldRef, FieldRef] = {}
    for migration, up in family.graph.path(older, newer):
        if up:
            moves.update(migration.moves)
    back = {dst: src for src, dst in moves.items()}
    out: list[str] = []
    old_policy = family.policy(older)
    for name, sp in family.policy(newer).sections.items():
        if not sp.restore:
            continue
        fields = [back.get((name, f), (name, f)) for f in sp.fields]
        there = old_policy.sections.get(name)
        if there is None or not there.restore:
            out.extend(_where(*f) for f in fields) if fields else out.append(name)
            continue
        if not there.fields:
            continue
        if not fields:
            out.append(name)
            continue
        out.extend(_where(*f) for f in fields if f[0] != name or f[1] not in there.fields)
    return out


def _where(section: str | None, name: str) -> str:
    return name if section is None else f"{section}.{name}"
