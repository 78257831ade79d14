"""Losses: what a migration cannot give back.

Two views. Of a family's schemas (:class:`Loss`, used by :mod:`docket.core.soundness`): what a
direction of an edge can lose of any container, and how declared losses (free text in a
version document) name the places they mean. Of one container (:class:`DataLoss`, made by
:class:`LossTracer`): the values it actually holds that a migration drops or changes so that
they cannot be given back, upgrades and downgrades alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docket.core.errors import Located, MigrationError, Segments, show
from docket.core.migrations import (
    Converter,
    FieldRef,
    JSONObject,
    LossKind,
    Migration,
    Operation,
    json_copy,
    same_json,
)
from docket.core.versions import Version

if TYPE_CHECKING:
    from docket.core.family import Container, Family

_SHOWN = 60  # characters of a lost value shown in words


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


# --- the losses of one container ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Migrated:
    """What :meth:`Family.migrate <docket.core.family.Family.migrate>` gives: the container
    at its new version, and the values of the original that the migration lost (empty when
    it lost none). Defined here, with the losses: validating containers never makes one."""

    container: Container
    losses: tuple[DataLoss, ...] = ()


@dataclass(frozen=True)
class DataLoss(Located):
    """A value a container holds that a migration drops, or changes so that it cannot be
    given back."""

    segments: Segments
    """Where the value is in the container migrated (``()``, ``$``, for a declared loss that
    names no place)."""
    value: Any
    """The value the container holds there (None for ``$``)."""
    reason: LossKind
    detail: str
    """What loses it, in words: the step and its operation, or the declared loss."""

    def describe(self) -> str:
        """One line: the place, what loses it and the value."""
        shown = json.dumps(self.value, ensure_ascii=False)
        if len(shown) > _SHOWN:
            shown = shown[: _SHOWN - 3] + "..."
        was = f" (was {shown})" if self.segments else ""
        return f"{self.json_path}: {self.detail}{was}"

    def as_dict(self) -> dict[str, Any]:
        """The loss as ``--format json`` prints it."""
        return {
            "path": self.json_path,
            "pointer": self.pointer,
            "reason": self.reason.value,
            "value": self.value,
            "detail": self.detail,
        }


class LossTracer:
    """Follows the values of one container through the steps of a migration and collects
    what they lose, each at its place in the container given.

    A value is lost when a step drops it, or changes it so that the step's own inverse does
    not give it back: an operation by :meth:`Operation.drops`, a migration function by
    running it there and back (or, with no way back, by comparing before and after). A
    declared loss of a lossy downgrade counts for the places it names that hold a value.
    Only values the container holds count; a value a step added is never a loss.
    """

    def __init__(self, data: JSONObject) -> None:
        self._input = data
        self._origin: dict[FieldRef, Segments] = {}
        """Where each place of the data as it is now came from in the input."""
        for key, value in data.items():
            if key == "version":
                continue
            self._origin[(None, key)] = (key,)
            if isinstance(value, dict):
                for name in value:
                    self._origin[(key, name)] = (key, name)
        self._losses: list[DataLoss] = []

    @property
    def losses(self) -> tuple[DataLoss, ...]:
        return tuple(self._losses)

    def step(self, migration: Migration, up: bool, data: JSONObject) -> None:
        """Record what one step loses of ``data``, the container as the step receives it
        (integrity members taken off); ``data`` is not changed."""
        src, dst = (
            (migration.source, migration.target) if up else (migration.target, migration.source)
        )
        edge = f"the {'upgrade' if up else 'downgrade'} {show(src)} -> {show(dst)}"
        declared = [] if up or migration.exact else self._declared(migration, data, edge)
        ops = migration.operations(up)
        if ops:
            self._operations(ops, json_copy(data), migration.converters, edge)
        else:
            self._function(migration, up, data, edge)
        for segments, detail in declared:
            self._record(segments, LossKind.DECLARED, detail)

    def _operations(
        self,
        ops: Sequence[Operation],
        data: JSONObject,
        converters: Mapping[str, Converter],
        edge: str,
    ) -> None:
        for i, op in enumerate(ops, 1):
            holder = data if op.section is None else data.get(op.section)
            if not isinstance(holder, dict):
                continue
            for place, kind, words in op.drops(data, holder, converters):
                self._lose(place, kind, f"{edge}, operation {i}: {words}")
            present = op.field in holder
            op.apply(data, converters)
            if present:
                for a, b in op.moves().items():
                    self._move(a, b)

    def _function(self, migration: Migration, up: bool, data: JSONObject, edge: str) -> None:
        there = migration.run_upgrade(data) if up else migration.run_downgrade(data)
        moves = dict(migration.moves) if up else {b: a for a, b in migration.moves.items()}
        compare, carried = there, moves
        if not up or migration.downgrade is not None:
            try:
                back = migration.run_downgrade(there) if up else migration.run_upgrade(there)
            except MigrationError:
                pass  # no way back for this container: compare before and after
            else:
                compare, carried = back, {}
        gone: set[str] = set()
        for place in sorted(self._origin, key=lambda p: p[0] is not None):
            section, name = place
            if section in gone:
                continue
            before = _at(data, place)
            if before is _MISSING:
                continue
            after = _at(compare, _carry(carried, place))
            if isinstance(before, dict) and isinstance(after, dict) and section is None:
                continue  # a section that is still there: its fields are compared one by one
            if after is _MISSING:
                self._lose(place, LossKind.NOT_HELD, f"{edge} leaves it out")
            elif not same_json(before, after):
                how = "gives back" if compare is not there else "makes it"
                shown = json.dumps(after, ensure_ascii=False)[:_SHOWN]
                self._lose(place, LossKind.CHANGED, f"{edge} {how} {shown}")
            else:
                continue
            if section is None:
                gone.add(name)
        for a, b in moves.items():
            if _at(data, a) is not _MISSING:
                self._move(a, b)

    def _declared(
        self, migration: Migration, data: JSONObject, edge: str
    ) -> list[tuple[Segments, str]]:
        out: list[tuple[Segments, str]] = []
        for text in migration.declared_losses:
            places = named_places(text, tuple(data))
            if not places:
                out.append(((), f"{edge} is declared lossy: {text}"))
            for place in places:
                first, *rest = place.split(".")
                ref: FieldRef = (first, rest[0]) if rest else (None, first)
                found = self._origin.get(ref)
                if found is None or _walk(data, (first, *rest)) is _MISSING:
                    continue
                out.append(((*found, *rest[1:]), f"{edge} is declared lossy: {text}"))
        return out

    def _lose(self, place: FieldRef, kind: LossKind, detail: str) -> None:
        found = self._origin.get(place)
        if found is not None:
            self._record(found, kind, detail)

    def _record(self, segments: Segments, kind: LossKind, detail: str) -> None:
        for loss in self._losses:
            if segments[: len(loss.segments)] == loss.segments and (
                loss.segments or not segments
            ):
                return  # reported already, or within a place that is
        value = _walk(self._input, segments) if segments else None
        self._losses.append(DataLoss(segments, None if value is _MISSING else value, kind, detail))

    def _move(self, a: FieldRef, b: FieldRef) -> None:
        found = self._origin.pop(a, None)
        if b[0] is None:
            for key in [k for k in self._origin if k[0] == b[1]]:
                del self._origin[key]
        if found is None:
            self._origin.pop(b, None)
        else:
            self._origin[b] = found
        if a[0] is None:  # a member of the container: its fields go along (to the top only)
            for key in [k for k in self._origin if k[0] == a[1]]:
                seg = self._origin.pop(key)
                if b[0] is None:
                    self._origin[(b[1], key[1])] = seg


_MISSING: Any = object()


def _walk(data: Any, segments: Sequence[str | int]) -> Any:
    for seg in segments:
        if not isinstance(data, dict) or seg not in data:
            return _MISSING
        data = data[seg]
    return data


def _at(data: JSONObject, place: FieldRef) -> Any:
    section, name = place
    return _walk(data, (name,) if section is None else (section, name))


def _carry(moves: dict[FieldRef, FieldRef], place: FieldRef) -> FieldRef:
    if place in moves:
        return moves[place]
    section, name = place
    if section is not None and (None, section) in moves:
        to_section, to_name = moves[(None, section)]
        if to_section is None:
            return (to_name, name)
    return place
