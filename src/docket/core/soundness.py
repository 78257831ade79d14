"""Static soundness of a family's migrations: what the operations claim, checked on the schemas.

Nothing here runs a migration on a container. For each edge written as operations
(:mod:`docket.core.migrations`), in both directions:

- every operation's field exists where it runs (in the source version's shape, as the
  operations before it left it) and its result has a place in the target version's schema;
- every ``add`` default, every ``map`` output and the ``convert`` output of the values the
  source schema names (``const``, ``enum``, ``default``, ``examples``) validate against the
  target schema at that field;
- what a direction cannot give back is worked out from the two schemas: a field or section
  it drops (unless its schema allows one value only), values a ``map`` merges, a type or
  range the other version cannot hold (:func:`docket.core.compat.diff_schemas`);
- an edge declared ``exact`` loses nothing either way; a lossy edge declares each data loss,
  and each loss it declares is one the comparison finds (data, or a field the older version's
  restore policy no longer restores; a converted field may always be named). A converter
  that the schemas show does not give back every value (``string-to-int`` from strings such
  as ``'00'``, :mod:`docket.core.conversions`) loses that field; one they cannot judge is
  left to the property suite.

Each problem is an :class:`Unsoundness` naming the family, the edge as the operation runs
(``3 -> 2`` for a downgrade), the operation and the ``$``-path, with a hint. The registry
raises them as :class:`~docket.core.errors.UnsoundMigration`; ``docket check`` lists them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import jsonschema_rs

from docket.core._rs import instance_path
from docket.core.compat import diff_schemas
from docket.core.errors import Located, Segments, json_path, show
from docket.core.family import Family
from docket.core.losses import Loss, mentions, named_places, policy_losses, related
from docket.core.migrations import (
    BUILTIN_CONVERTERS,
    Add,
    Convert,
    Converter,
    FieldRef,
    Map,
    Migration,
    Move,
    Operation,
    Remove,
    Rename,
)
from docket.core.versions import Version

_SAMPLE_KEYWORDS = ("const", "enum", "default", "examples")


@dataclass(frozen=True)
class Unsoundness(Located):
    """One problem of a migration, found on the schemas."""

    family: str
    source: Version
    """Where the operation (or direction) starts: the newer version for a downgrade."""
    target: Version
    operation: str
    """The operation as a person reads it (``downgrade operation 1: remove retention``), or
    the direction (``downgrade``) for a problem of the whole edge."""
    segments: Segments
    reason: str
    hint: str = ""
    kind: str = ""
    """``missing-source``, ``missing-result``, ``invalid-value``, ``not-produced``,
    ``no-place``, ``exact-but-lossy``, ``undeclared-loss``, ``loss-not-found`` or
    ``loses-nothing``."""

    @property
    def edge(self) -> str:
        return f"{show(self.source)} -> {show(self.target)}"

    def describe(self) -> str:
        return f"{self.family}: {self.edge}: {self.operation}: {self.json_path}: {self.reason}"

    def __str__(self) -> str:
        text = self.describe()
        return f"{text} (hint: {self.hint})" if self.hint else text


# --- schemas ---------------------------------------------------------------------------------


def _props(schema: Any) -> Mapping[str, Any]:
    found = schema.get("properties") if isinstance(schema, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _is_section(schema: Any) -> bool:
    """An object member with declared fields (its fields are followed one by one)."""
    return isinstance(schema, Mapping) and bool(_props(schema))


def _holder(root: Mapping[str, Any], section: str | None) -> Any:
    return root if section is None else _props(root).get(section)


def member_schema(root: Mapping[str, Any], section: str | None, name: str) -> Any:
    """The schema of ``section.name`` (``name`` at the top for section None), or None when
    the version has no place for it. A key of a map (an object without declared fields)
    gets the map's schema for values."""
    holder = _holder(root, section)
    if not isinstance(holder, Mapping):
        return None
    props = _props(holder)
    if name in props:
        return props[name]
    if props or section is None:
        return None
    extra = holder.get("additionalProperties", True)
    if extra is False:
        return None
    return extra if isinstance(extra, Mapping) else {}


def _closed(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("additionalProperties", True) is False


def _single_value(schema: Any) -> bool:
    """Whether a schema allows one value only (dropping it loses nothing)."""
    if not isinstance(schema, Mapping):
        return False
    return "const" in schema or (isinstance(schema.get("enum"), list) and len(schema["enum"]) == 1)


def _refusal(schema: Any, value: Any) -> tuple[str, Segments] | None:
    """Why ``schema`` refuses ``value``, and where within the value (None: it accepts it)."""
    sub = schema if isinstance(schema, Mapping) else {}
    try:
        validator = jsonschema_rs.validator_for(dict(sub), validate_formats=True)
    except Exception as err:  # an invalid schema is the metaschema's business, not ours
        return f"its schema cannot be compiled: {err}", ()
    for error in validator.iter_errors(value):
        return str(error.message), instance_path(error, value)
    return None


def _check_value(schema: Any, value: Any) -> str | None:
    """Why ``schema`` refuses ``value`` (None: it accepts it)."""
    found = _refusal(schema, value)
    return None if found is None else found[0]


def _where(section: str | None, name: str) -> str:
    return name if section is None else f"{section}.{name}"


def _segments(section: str | None, name: str) -> Segments:
    return (name,) if section is None else (section, name)


def _managed(family: Family, version: Version) -> frozenset[str]:
    """Members docket sets itself (version, digest, signature): no operation handles them."""
    names = {"version"}
    integrity = family.spec(version).integrity
    if integrity is not None:
        names |= {m for m in (integrity.digest, integrity.signature) if m}
    return frozenset(names)


def _describe(op: Operation) -> str:
    if isinstance(op, Add):
        return f"add {op.where}"
    if isinstance(op, Remove):
        return f"remove {op.where}"
    if isinstance(op, Rename):
        return f"rename {op.where} to {op.to}"
    if isinstance(op, Move):
        return f"move {op.where} to {_where(op.to_section, op.destination)}"
    if isinstance(op, Map):
        return f"map {op.where}"
    if isinstance(op, Convert):
        return f"convert {op.where} ({op.converter})"
    return f"{op.name} {op.where}"


# --- one direction of an edge ----------------------------------------------------------------


@dataclass
class _Direction:
    """One direction of an edge: from ``source``'s schema through ``ops`` to ``target``'s."""

    family: Family
    source: Version
    target: Version
    ops: Sequence[Operation]
    label: str
    """``upgrade`` or ``downgrade``."""
    converters: Mapping[str, Converter]
    findings: list[Unsoundness] = field(default_factory=list)
    losses: list[Loss] = field(default_factory=list)
    converted: set[str] = field(default_factory=set)
    """Where (in the source version) a converter ran."""
    unproven: set[str] = field(default_factory=set)
    """Where a converter ran that the schemas do not show exact (nor lossy)."""

    @property
    def src(self) -> Mapping[str, Any]:
        return self.family.schema(self.source)

    @property
    def dst(self) -> Mapping[str, Any]:
        return self.family.schema(self.target)

    def op_name(self, index: int) -> str:
        return f"{self.label} operation {index + 1}: {_describe(self.ops[index])}"

    def find(self, index: int, segs: Segments, reason: str, hint: str, kind: str) -> None:
        operation = self.op_name(index) if index >= 0 else self.label
        self.findings.append(
            Unsoundness(
                self.family.name, self.source, self.target, operation, segs, reason, hint, kind
            )
        )

    # --- where fields are, as the operations run ---------------------------------------------

    def run(self) -> None:
        managed = _managed(self.family, self.source) | _managed(self.family, self.target)
        # shape: every top-level member, with its field names when it is a section.
        shape: dict[str, set[str] | None] = {}
        for name, sub in _props(self.src).items():
            if name not in managed:
                shape[name] = set(_props(sub)) if _is_section(sub) else None
        # track: where each value of the source is now -> where it came from.
        track: dict[FieldRef, FieldRef] = {}
        for name, fields in shape.items():
            if fields is None:
                track[(None, name)] = (None, name)
            else:
                track.update({(name, f): (name, f) for f in fields})
        mapped: dict[FieldRef, list[tuple[Any, Any]]] = {}
        for i, op in enumerate(self.ops):
            self._exists(i, op, shape)
            self._result(i, op)
            self._values(i, op)
            self._follow(i, op, shape, track, mapped)
        self._leftovers(shape)
        self._compare(track, mapped)

    def _has(self, shape: Mapping[str, set[str] | None], section: str | None, name: str) -> bool:
        if section is None:
            return name in shape
        if section not in shape:
            return False
        fields = shape[section]
        if fields is None:  # a map, or a member that is not a section: any key may be there
            return member_schema(self.src, section, name) is not None or section not in _props(
                self.src
            )
        return name in fields

    def _exists(self, i: int, op: Operation, shape: Mapping[str, set[str] | None]) -> None:
        if isinstance(op, Add):
            if op.section is not None and op.section not in shape:
                self.find(
                    i,
                    (op.section,),
                    f"version {show(self.source)} has no section {show(op.section)} to add "
                    f"{show(op.field)} to",
                    'add the section first ("section": null, the section\'s name as "field")',
                    "missing-source",
                )
            return
        if not self._has(shape, op.section, op.field):
            known = sorted(shape) if op.section is None else sorted(shape.get(op.section) or ())
            place = "" if op.section is None else f" in section {show(op.section)}"
            self.find(
                i,
                _segments(op.section, op.field),
                f"version {show(self.source)} has no field {show(op.field)}{place} "
                "(where this operation runs)",
                "fields there: " + (", ".join(known) or "none") + "; check the spelling",
                "missing-source",
            )

    def _result_place(self, op: Operation) -> tuple[str | None, str] | None:
        if isinstance(op, Remove):
            return None
        if isinstance(op, Rename):
            return (op.section, op.to)
        if isinstance(op, Move):
            return (op.to_section, op.destination)
        return (op.section, op.field)

    def _result(self, i: int, op: Operation) -> None:
        place = self._result_place(op)
        if place is None:
            return
        section, name = place
        if member_schema(self.dst, section, name) is None:
            holder = _holder(self.dst, section)
            if section is not None and holder is None:
                why = f"version {show(self.target)} has no section {show(section)}"
            else:
                why = f"version {show(self.target)} does not define {show(_where(section, name))}"
            self.find(
                i,
                _segments(section, name),
                why,
                f"add it to version {show(self.target)}'s schema, or fix the operation",
                "missing-result",
            )

    def _values(self, i: int, op: Operation) -> None:
        place = self._result_place(op)
        if place is None:
            return
        schema = member_schema(self.dst, *place)
        if schema is None:
            return
        segs = _segments(*place)
        at = f"version {show(self.target)}'s schema"
        if isinstance(op, Add):
            refused = _refusal(schema, op.default)
            if refused is not None:
                why, inner = refused
                self.find(
                    i,
                    (*segs, *inner),
                    f"the default {show(op.default)} is not valid in {at}: {why}",
                    "choose a default the field's schema accepts",
                    "invalid-value",
                )
        elif isinstance(op, Map):
            for old, new in op.values:
                refusal = _check_value(schema, new)
                if refusal is not None:
                    self.find(
                        i,
                        segs,
                        f"{show(old)} becomes {show(new)}, which is not valid in {at}: {refusal}",
                        "map to values the field's schema accepts",
                        "invalid-value",
                    )
        elif isinstance(op, Convert):
            converter = self.converters.get(op.converter)
            before = member_schema(self.src, op.section, op.field)
            if converter is None or not isinstance(before, Mapping):
                return
            for sample in _samples(before):
                try:
                    out = converter.forward(sample)
                except (ValueError, TypeError) as err:
                    self.find(
                        i,
                        segs,
                        f"the converter fails on {show(sample)}, which version {show(self.source)} "
                        f"allows: {err}",
                        "fix the converter or the source schema",
                        "invalid-value",
                    )
                    continue
                refusal = _check_value(schema, out)
                if refusal is not None:
                    self.find(
                        i,
                        segs,
                        f"{show(sample)} converts to {show(out)}, which is not valid in {at}: "
                        f"{refusal}",
                        "fix the converter or the target schema",
                        "invalid-value",
                    )

    def _follow(
        self,
        i: int,
        op: Operation,
        shape: dict[str, set[str] | None],
        track: dict[FieldRef, FieldRef],
        mapped: dict[FieldRef, list[tuple[Any, Any]]],
    ) -> None:
        """Move the shape and the tracked values as ``op`` moves the data; note losses."""
        name = self.op_name(i)
        if isinstance(op, Add):
            if op.section is None:
                shape[op.field] = set(op.default) if isinstance(op.default, dict) else None
            elif isinstance(shape.get(op.section), set):
                shape[op.section].add(op.field)  # type: ignore[union-attr]
            return
        if isinstance(op, Remove):
            if op.section is None:
                fields = shape.pop(op.field, None)
                gone = [k for k in track if k[0] == op.field or k == (None, op.field)]
                if gone:
                    self._dropped(name, op.field, fields, [track.pop(k) for k in gone])
            else:
                if isinstance(shape.get(op.section), set):
                    shape[op.section].discard(op.field)  # type: ignore[union-attr]
                origin = track.pop((op.section, op.field), None)
                if origin is not None:
                    self._dropped(name, None, None, [origin])
            return
        if isinstance(op, Rename | Move):
            to_section = op.section if isinstance(op, Rename) else op.to_section
            to_field = op.to if isinstance(op, Rename) else op.destination
            if op.section is None and op.field in shape and shape[op.field] is not None:
                if to_section is None:  # a whole section renamed
                    shape[to_field] = shape.pop(op.field)
                    for key in [k for k in track if k[0] == op.field]:
                        track[(to_field, key[1])] = track.pop(key)
                    return
                # a whole section moved into another one: followed as one value
                shape.pop(op.field)
                for key in [k for k in track if k[0] == op.field]:
                    track.pop(key)
                track[(to_section, to_field)] = (None, op.field)
            else:
                if op.section is None:
                    fields = shape.pop(op.field, None)
                elif isinstance(shape.get(op.section), set):
                    shape[op.section].discard(op.field)  # type: ignore[union-attr]
                    fields = None
                else:
                    fields = None
                origin = track.pop((op.section, op.field), None)
                if origin is not None:
                    track[(to_section, to_field)] = origin
                    if (op.section, op.field) in mapped:
                        mapped[(to_section, to_field)] = mapped.pop((op.section, op.field))
                if to_section is None:
                    shape[to_field] = fields
                elif to_section not in shape:
                    shape[to_section] = {to_field}
                elif isinstance(shape[to_section], set):
                    shape[to_section].add(to_field)  # type: ignore[union-attr]
            return
        origin = track.get((op.section, op.field))
        if origin is None:
            return
        if isinstance(op, Convert):
            self.converted.add(_where(*origin))
            self._conversion(name, origin, op)
        elif isinstance(op, Map):
            mapped.setdefault((op.section, op.field), []).extend(op.values)
            self._merges(name, origin, op)

    def _conversion(self, operation: str, origin: FieldRef, op: Convert) -> None:
        """A loss when the converter shows a value it does not give back; unproven when the
        schemas do not tell (:mod:`docket.core.conversions`)."""
        converter = self.converters.get(op.converter)
        before = member_schema(self.src, *origin)
        after = member_schema(self.dst, op.section, op.field)
        verdict = converter.judge(before, after) if converter is not None else None
        if verdict is None or verdict.gives_back is None:
            self.unproven.add(_where(*origin))
        elif verdict.gives_back is False:
            why = f"the conversion {op.converter} does not give back every value version "
            why += f"{show(self.source)} holds there: {verdict.reason}"
            self.losses.append(Loss(_where(*origin), _segments(*origin), why, operation))

    def _dropped(
        self,
        operation: str,
        section: str | None,
        fields: set[str] | None,
        origins: list[FieldRef],
    ) -> None:
        kept = [o for o in origins if not _single_value(member_schema(self.src, *o))]
        if not kept:
            return
        if section is not None and fields is not None:
            shown = ", ".join(sorted(f for s, f in kept if s is not None)) or "its content"
            self.losses.append(
                Loss(
                    section,
                    (section,),
                    f"the section {show(section)} is dropped, and with it {shown}",
                    operation,
                )
            )
            return
        for origin in kept:
            self.losses.append(
                Loss(
                    _where(*origin),
                    _segments(*origin),
                    f"{_where(*origin)} is dropped",
                    operation,
                )
            )

    def _merges(self, operation: str, origin: FieldRef, op: Map) -> None:
        schema = member_schema(self.src, *origin)
        olds = [old for old, _ in op.values]
        merged: list[str] = []
        seen: dict[str, Any] = {}
        for old, new in op.values:
            key = repr((type(new).__name__, new))
            if key in seen:
                merged.append(f"{show(seen[key])} and {show(old)} both become {show(new)}")
            seen.setdefault(key, old)
            held = any(new == o and type(new) is type(o) for o in olds)
            if not held and schema is not None and _check_value(schema, new) is None:
                merged.append(
                    f"{show(old)} becomes {show(new)}, which version {show(self.source)} also "
                    "holds as itself"
                )
        for text in merged:
            self.losses.append(
                Loss(_where(*origin), _segments(*origin), f"values merge: {text}", operation)
            )

    def _leftovers(self, shape: Mapping[str, set[str] | None]) -> None:
        """Members the target refuses that remain, and required ones nothing produces."""
        managed = _managed(self.family, self.target)
        dst_props = _props(self.dst)
        for name, fields in shape.items():
            if name not in dst_props:
                if _closed(self.dst):
                    self.find(
                        -1,
                        (name,),
                        f"{show(name)} (where the operations leave it) has no place in "
                        f"version {show(self.target)}, and no operation removes or moves it",
                        "remove, rename or move it in this direction's operations",
                        "no-place",
                    )
                continue
            section = dst_props[name]
            if fields is None or not _is_section(section):
                continue
            for f in sorted(fields):
                if f not in _props(section) and _closed(section):
                    self.find(
                        -1,
                        (name, f),
                        f"{name}.{f} (where the operations leave it) has no place in "
                        f"version {show(self.target)}, and no operation removes or moves it",
                        "remove, rename or move it in this direction's operations",
                        "no-place",
                    )
            for f in section.get("required", ()):
                if f not in fields:
                    self.find(
                        -1,
                        (name, f),
                        f"version {show(self.target)} requires {name}.{f}, and no operation "
                        "produces it",
                        "add it (with a default), or rename or move a field to it",
                        "not-produced",
                    )
        for name in self.dst.get("required", ()):
            if name not in shape and name not in managed:
                self.find(
                    -1,
                    (name,),
                    f"version {show(self.target)} requires {show(name)}, and no operation "
                    "produces it",
                    'add it ("section": null, the member\'s name as "field", with a default)',
                    "not-produced",
                )

    def _compare(
        self, track: Mapping[FieldRef, FieldRef], mapped: Mapping[FieldRef, list[tuple[Any, Any]]]
    ) -> None:
        """What the target cannot hold of the values that arrive there: narrowed types and
        ranges, and sections whose own keywords narrow."""
        for (section, name), origin in sorted(track.items(), key=lambda kv: repr(kv[0])):
            where = _where(*origin)
            if where in self.converted:
                continue
            before = member_schema(self.src, *origin)
            after = member_schema(self.dst, section, name)
            if before is None or after is None:
                continue
            before = _mapped_schema(before, mapped.get((section, name), ()))
            narrow = [c.describe() for c in diff_schemas(before, after) if not c.backward]
            if narrow:
                self.losses.append(
                    Loss(
                        where,
                        _segments(*origin),
                        f"version {show(self.target)} cannot hold every value version "
                        f"{show(self.source)} holds there: " + "; ".join(narrow[:3]),
                        self.label,
                    )
                )
        sections = {origin[0] for origin in track.values() if origin[0] is not None}
        for (section, _), origin in track.items():
            if origin[0] in sections and section is not None:
                before = _holder(self.src, origin[0])
                after = _holder(self.dst, section)
                if isinstance(before, Mapping) and isinstance(after, Mapping):
                    narrow = [
                        c.describe()
                        for c in diff_schemas(_own_keywords(before), _own_keywords(after))
                        if not c.backward
                    ]
                    if narrow:
                        self.losses.append(
                            Loss(
                                origin[0],
                                (origin[0],),
                                f"version {show(self.target)}'s section {show(section)} "
                                f"cannot hold every member version {show(self.source)}'s holds: "
                                + "; ".join(narrow[:3]),
                                self.label,
                            )
                        )
                sections.discard(origin[0])


def _own_keywords(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A section's schema without its fields (their changes are compared one by one)."""
    return {k: v for k, v in schema.items() if k not in ("properties", "required")}


def _mapped_schema(schema: Any, pairs: Sequence[tuple[Any, Any]]) -> Any:
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


def _samples(schema: Mapping[str, Any]) -> Iterator[Any]:
    for keyword in _SAMPLE_KEYWORDS:
        if keyword not in schema:
            continue
        value = schema[keyword]
        if keyword in ("enum", "examples") and isinstance(value, list):
            yield from value
        else:
            yield value


# --- a family --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeReport:
    """What the comparison found for one edge."""

    migration: Migration
    findings: tuple[Unsoundness, ...]
    upgrade_losses: tuple[Loss, ...]
    downgrade_losses: tuple[Loss, ...]
    policy_losses: tuple[str, ...]
    converted: frozenset[str]
    unproven: frozenset[str] = frozenset()
    """Converted fields the schemas show neither exact nor lossy (a converter of your own, a
    pattern docket does not recognise): the property suite tests them."""

    @property
    def losses(self) -> tuple[Loss, ...]:
        """Everything a round trip (either way) may not give back."""
        return (*self.downgrade_losses, *self.upgrade_losses)


def check_edge(
    family: Family,
    migration: Migration,
    converters: Mapping[str, Converter] = BUILTIN_CONVERTERS,
) -> EdgeReport:
    """The static findings of one edge, and what each direction loses."""
    m = migration
    findings: list[Unsoundness] = []
    up_declared = m.origin == "document" or bool(m.upgrade_operations)
    down_declared = m.downgrade is not None and (
        m.origin == "document" or bool(m.downgrade_operations)
    )
    up = _Direction(family, m.source, m.target, m.upgrade_operations, "upgrade", converters)
    down = _Direction(family, m.target, m.source, m.downgrade_operations, "downgrade", converters)
    if up_declared:
        up.run()
        findings += up.findings
    if not down_declared:
        up_only = (frozenset(up.converted), frozenset(up.unproven))
        return EdgeReport(m, tuple(findings), tuple(up.losses), (), (), *up_only)
    down.run()
    findings += down.findings
    policy = tuple(policy_losses(family, m.target, m.source))
    converted = frozenset(up.converted | down.converted)
    unproven = frozenset(up.unproven | down.unproven)
    report = EdgeReport(m, (), tuple(up.losses), tuple(down.losses), policy, converted, unproven)
    if up_declared:
        findings += _judge(family, report)
    return replace(report, findings=tuple(findings))


def _judge(family: Family, report: EdgeReport) -> list[Unsoundness]:
    m = report.migration
    out: list[Unsoundness] = []

    def add(
        src: Version, dst: Version, op: str, segs: Segments, why: str, hint: str, kind: str
    ) -> None:
        out.append(Unsoundness(family.name, src, dst, op, segs, why, hint, kind))

    if m.exact:
        for loss, (src, dst) in [
            *((x, (m.target, m.source)) for x in report.downgrade_losses),
            *((x, (m.source, m.target)) for x in report.upgrade_losses),
        ]:
            add(
                src,
                dst,
                loss.operation,
                loss.segments,
                f"the edge is declared exact, but {loss.reason}",
                f"declare the downgrade lossy and list {show(loss.where)} in its losses, or "
                f"give version {show(dst)} a place for it",
                "exact-but-lossy",
            )
        return out
    declared = m.losses
    for loss, (src, dst) in [
        *((x, (m.target, m.source)) for x in report.downgrade_losses),
        *((x, (m.source, m.target)) for x in report.upgrade_losses),
    ]:
        if not any(mentions(text, loss.where) for text in declared):
            add(
                src,
                dst,
                loss.operation,
                loss.segments,
                f"{loss.reason}, and the downgrade's losses do not name {show(loss.where)}",
                f"add {show(loss.where)} to the downgrade's losses",
                "undeclared-loss",
            )
    found = [x.where for x in report.losses] + list(report.policy_losses)
    found += list(report.converted)
    members = list(_props(family.schema(m.target)))
    derived = tuple(loss for op in reversed(m.upgrade_operations) for loss in op.losses())
    if declared in (derived, ("the downgrade is declared lossy",)):
        declared = ()  # worked out by build_migration, not declared by the author
    for i, text in enumerate(declared):
        for place in named_places(text, members):
            if not any(related(place, where) for where in found):
                add(
                    m.target,
                    m.source,
                    "downgrade",
                    ("migration", "downgrade", "losses", i),
                    f"the declared loss {show(text)} names {show(place)}, which the comparison of "
                    f"versions {show(m.target)} and {show(m.source)} does not find lost",
                    "drop it from the losses, or fix the name",
                    "loss-not-found",
                )
    if not found and m.downgrade is not None:
        add(
            m.target,
            m.source,
            "downgrade",
            ("migration", "downgrade", "kind"),
            f"the edge is declared lossy, but version {show(m.source)} holds everything version "
            f"{show(m.target)} does and restores no less",
            'declare the downgrade "exact"',
            "loses-nothing",
        )
    return out


def check_family(
    family: Family, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS
) -> list[Unsoundness]:
    """Every static finding of a family's migrations, edge by edge (oldest first)."""
    out: list[Unsoundness] = []
    for version in family.versions:
        if version in family.graph.edges:
            out.extend(check_edge(family, family.migration(version), converters).findings)
    return out


def edge_losses(
    family: Family, migration: Migration, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS
) -> EdgeReport:
    """What each direction of ``migration`` loses, as the comparison finds it."""
    return check_edge(family, migration, converters)


def json_place(loss: Loss) -> str:
    return json_path(loss.segments)
