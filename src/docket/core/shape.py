"""A schema's shape, as the static soundness checks follow it through a migration's operations.

The shape of a version is its top-level members, with the field names of each member that is
a section; beside it the model tracks where each value of the source version is now (and where
it came from), which ``map`` pairs it went through, and what is lost on the way. Operations
tell it their effect in five primitives (:class:`docket.core.operations.Shape`): a field is
added, removed, carried elsewhere, converted, or mapped. Nothing here runs a migration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from docket.core._rs import instance_path
from docket.core.converters import Converter
from docket.core.errors import Segments, show
from docket.core.family import Family
from docket.core.losses import Loss
from docket.core.operations import FieldRef, place_name, place_segments
from docket.core.versions import Version

# --- schemas ---------------------------------------------------------------------------------


def props(schema: Any) -> Mapping[str, Any]:
    """A schema's declared ``properties`` (empty when it has none)."""
    found = schema.get("properties") if isinstance(schema, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def is_section(schema: Any) -> bool:
    """An object member with declared fields (its fields are followed one by one)."""
    return isinstance(schema, Mapping) and bool(props(schema))


def holder(root: Mapping[str, Any], section: str | None) -> Any:
    """The schema a section's fields are declared in (the root for section None)."""
    return root if section is None else props(root).get(section)


def member_schema(root: Mapping[str, Any], section: str | None, name: str) -> Any:
    """The schema of ``section.name`` (``name`` at the top for section None), or None when
    the version has no place for it. A key of a map (an object without declared fields)
    gets the map's schema for values."""
    found = holder(root, section)
    if not isinstance(found, Mapping):
        return None
    declared = props(found)
    if name in declared:
        return declared[name]
    if declared or section is None:
        return None
    extra = found.get("additionalProperties", True)
    if extra is False:
        return None
    return extra if isinstance(extra, Mapping) else {}


def closed(schema: Any) -> bool:
    """Whether a schema refuses members it does not declare."""
    return isinstance(schema, Mapping) and schema.get("additionalProperties", True) is False


def single_value(schema: Any) -> bool:
    """Whether a schema allows one value only (dropping it loses nothing)."""
    if not isinstance(schema, Mapping):
        return False
    return "const" in schema or (isinstance(schema.get("enum"), list) and len(schema["enum"]) == 1)


def refusal(schema: Any, value: Any) -> tuple[str, Segments] | None:
    """Why ``schema`` refuses ``value``, and where within the value (None: it accepts it)."""
    sub = schema if isinstance(schema, Mapping) else {}
    try:
        validator = jsonschema_rs.validator_for(dict(sub), validate_formats=True)
    except Exception as err:  # an invalid schema is the metaschema's business, not ours
        return f"its schema cannot be compiled: {err}", ()
    for error in validator.iter_errors(value):
        return str(error.message), instance_path(error, value)
    return None


def check_value(schema: Any, value: Any) -> str | None:
    """Why ``schema`` refuses ``value`` (None: it accepts it)."""
    found = refusal(schema, value)
    return None if found is None else found[0]


def managed(family: Family, version: Version) -> frozenset[str]:
    """Members docket sets itself (version, digest, signature): no operation handles them."""
    names = {"version"}
    integrity = family.spec(version).integrity
    if integrity is not None:
        names |= {m for m in (integrity.digest, integrity.signature) if m}
    return frozenset(names)


def own_keywords(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A section's schema without its fields (their changes are compared one by one)."""
    return {k: v for k, v in schema.items() if k not in ("properties", "required")}


def mapped_schema(schema: Any, pairs: Sequence[tuple[Any, Any]]) -> Any:
    """A schema whose enumerated values went through a ``map``."""
    if not pairs or not isinstance(schema, Mapping):
        return schema

    def through(value: Any) -> Any:
        for old, new in pairs:
            if value == old and type(value) is type(old):
                return new
        return value

    out = dict(schema)
    if "enum" in out:
        values: list[Any] = []
        for v in out["enum"]:
            mapped = through(v)
            if mapped not in values:
                values.append(mapped)
        out["enum"] = values
    if "const" in out:
        out["const"] = through(out["const"])
    return out


# --- the shape, as operations change it ------------------------------------------------------


@dataclass
class ShapeModel:
    """The shape of ``src`` (the source version's schema) as the operations so far left it.

    Implements :class:`docket.core.operations.Shape`; set :attr:`operation` to the name of
    the operation being followed, for the losses it finds.
    """

    src: Mapping[str, Any]
    dst: Mapping[str, Any]
    source: Version
    converters: Mapping[str, Converter]
    shape: dict[str, set[str] | None] = field(default_factory=dict)
    """Every top-level member, with its field names when it is a section."""
    track: dict[FieldRef, FieldRef] = field(default_factory=dict)
    """Where each value of the source is now -> where it came from."""
    mapped: dict[FieldRef, list[tuple[Any, Any]]] = field(default_factory=dict)
    """The ``map`` pairs a value went through, by where it is now."""
    losses: list[Loss] = field(default_factory=list)
    converted: set[str] = field(default_factory=set)
    """Where (in the source version) a converter ran."""
    unproven: set[str] = field(default_factory=set)
    """Where a converter ran that the schemas do not show exact (nor lossy)."""
    operation: str = ""

    @classmethod
    def of(
        cls,
        src: Mapping[str, Any],
        dst: Mapping[str, Any],
        source: Version,
        converters: Mapping[str, Converter],
        skip: frozenset[str],
    ) -> ShapeModel:
        """The shape of ``src`` without the members in ``skip`` (those docket manages)."""
        model = cls(src, dst, source, converters)
        for name, sub in props(src).items():
            if name not in skip:
                model.shape[name] = set(props(sub)) if is_section(sub) else None
        for name, fields in model.shape.items():
            if fields is None:
                model.track[(None, name)] = (None, name)
            else:
                model.track.update({(name, f): (name, f) for f in fields})
        return model

    def has(self, section: str | None, name: str) -> bool:
        """Whether the field is there now."""
        if section is None:
            return name in self.shape
        if section not in self.shape:
            return False
        fields = self.shape[section]
        if fields is None:  # a map, or a member that is not a section: any key may be there
            return member_schema(self.src, section, name) is not None or section not in props(
                self.src
            )
        return name in fields

    # --- the primitives ---------------------------------------------------------------------

    def add(self, place: FieldRef, default: Any) -> None:
        section, name = place
        if section is None:
            self.shape[name] = set(default) if isinstance(default, dict) else None
        elif isinstance(self.shape.get(section), set):
            self.shape[section].add(name)  # type: ignore[union-attr]

    def remove(self, place: FieldRef) -> None:
        section, name = place
        if section is None:
            fields = self.shape.pop(name, None)
            gone = [k for k in self.track if k[0] == name or k == (None, name)]
            if gone:
                self._dropped(name, fields, [self.track.pop(k) for k in gone])
            return
        if isinstance(self.shape.get(section), set):
            self.shape[section].discard(name)  # type: ignore[union-attr]
        origin = self.track.pop(place, None)
        if origin is not None:
            self._dropped(None, None, [origin])

    def carry(self, place: FieldRef, to: FieldRef) -> None:
        section, name = place
        to_section, to_field = to
        shape, track = self.shape, self.track
        if section is None and name in shape and shape[name] is not None:
            if to_section is None:  # a whole section renamed
                shape[to_field] = shape.pop(name)
                for key in [k for k in track if k[0] == name]:
                    track[(to_field, key[1])] = track.pop(key)
                return
            # a whole section moved into another one: followed as one value
            shape.pop(name)
            for key in [k for k in track if k[0] == name]:
                track.pop(key)
            track[to] = (None, name)
            return
        fields: set[str] | None = None
        if section is None:
            fields = shape.pop(name, None)
        elif isinstance(shape.get(section), set):
            shape[section].discard(name)  # type: ignore[union-attr]
        origin = track.pop(place, None)
        if origin is not None:
            track[to] = origin
            if place in self.mapped:
                self.mapped[to] = self.mapped.pop(place)
        if to_section is None:
            shape[to_field] = fields
        elif to_section not in shape:
            shape[to_section] = {to_field}
        elif isinstance(shape[to_section], set):
            shape[to_section].add(to_field)  # type: ignore[union-attr]

    def convert(self, place: FieldRef, converter: str) -> None:
        """A loss when the converter shows a value it does not give back; unproven when the
        schemas do not tell (:mod:`docket.core.conversions`)."""
        origin = self.track.get(place)
        if origin is None:
            return
        self.converted.add(place_name(origin))
        found = self.converters.get(converter)
        before = member_schema(self.src, *origin)
        after = member_schema(self.dst, *place)
        verdict = found.judge(before, after) if found is not None else None
        if verdict is None or verdict.gives_back is None:
            self.unproven.add(place_name(origin))
        elif verdict.gives_back is False:
            why = f"the conversion {converter} does not give back every value version "
            why += f"{show(self.source)} holds there: {verdict.reason}"
            self._lose(origin, why)

    def map(self, place: FieldRef, values: Sequence[tuple[Any, Any]]) -> None:
        origin = self.track.get(place)
        if origin is None:
            return
        self.mapped.setdefault(place, []).extend(values)
        schema = member_schema(self.src, *origin)
        olds = [old for old, _ in values]
        merged: list[str] = []
        seen: dict[str, Any] = {}
        for old, new in values:
            key = repr((type(new).__name__, new))
            if key in seen:
                merged.append(f"{show(seen[key])} and {show(old)} both become {show(new)}")
            seen.setdefault(key, old)
            held = any(new == o and type(new) is type(o) for o in olds)
            if not held and schema is not None and check_value(schema, new) is None:
                merged.append(
                    f"{show(old)} becomes {show(new)}, which version {show(self.source)} also "
                    "holds as itself"
                )
        for text in merged:
            self._lose(origin, f"values merge: {text}")

    # --- losses -----------------------------------------------------------------------------

    def _lose(self, origin: FieldRef, why: str) -> None:
        self.losses.append(Loss(place_name(origin), place_segments(origin), why, self.operation))

    def _dropped(
        self, section: str | None, fields: set[str] | None, origins: list[FieldRef]
    ) -> None:
        kept = [o for o in origins if not single_value(member_schema(self.src, *o))]
        if not kept:
            return
        if section is not None and fields is not None:
            shown = ", ".join(sorted(f for s, f in kept if s is not None)) or "its content"
            why = f"the section {show(section)} is dropped, and with it {shown}"
            self.losses.append(Loss(section, (section,), why, self.operation))
            return
        for origin in kept:
            self._lose(origin, f"{place_name(origin)} is dropped")
