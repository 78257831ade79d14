"""The static checks of one direction of an edge: each operation where it runs, and what
arrives in the target version (:mod:`docket.core.soundness` puts the two directions together)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docket.core.compat import diff_schemas
from docket.core.converters import Converter
from docket.core.errors import Located, Segments, show
from docket.core.family import Family
from docket.core.losses import Loss
from docket.core.operations import FieldRef, Operation, place_name, place_segments
from docket.core.shape import (
    ShapeModel,
    closed,
    holder,
    is_section,
    managed,
    mapped_schema,
    member_schema,
    own_keywords,
    props,
    refusal,
)
from docket.core.versions import Version


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


@dataclass
class Direction:
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
        return f"{self.label} operation {index + 1}: {self.ops[index].describe()}"

    def find(self, index: int, segs: Segments, reason: str, hint: str, kind: str) -> None:
        operation = self.op_name(index) if index >= 0 else self.label
        self.findings.append(
            Unsoundness(
                self.family.name, self.source, self.target, operation, segs, reason, hint, kind
            )
        )

    def run(self) -> None:
        skip = managed(self.family, self.source) | managed(self.family, self.target)
        model = ShapeModel.of(self.src, self.dst, self.source, self.converters, skip)
        for i, op in enumerate(self.ops):
            self._exists(i, op, model)
            self._result(i, op)
            self._values(i, op)
            model.operation = self.op_name(i)
            op.reshape(model)
        self.losses += model.losses
        self.converted |= model.converted
        self.unproven |= model.unproven
        self._leftovers(model.shape)
        self._compare(model.track, model.mapped)

    # --- each operation ----------------------------------------------------------------------

    def _exists(self, i: int, op: Operation, model: ShapeModel) -> None:
        shape = model.shape
        if not op.reads:
            if op.section is not None and op.section not in shape:
                self.find(
                    i,
                    (op.section,),
                    f"version {show(self.source)} has no section {show(op.section)} to "
                    f"{op.name} {show(op.field)} to",
                    'add the section first ("section": null, the section\'s name as "field")',
                    "missing-source",
                )
            return
        if not model.has(op.section, op.field):
            known = sorted(shape) if op.section is None else sorted(shape.get(op.section) or ())
            place = "" if op.section is None else f" in section {show(op.section)}"
            self.find(
                i,
                place_segments(op.place),
                f"version {show(self.source)} has no field {show(op.field)}{place} "
                "(where this operation runs)",
                "fields there: " + (", ".join(known) or "none") + "; check the spelling",
                "missing-source",
            )

    def _result(self, i: int, op: Operation) -> None:
        place = op.result()
        if place is None:
            return
        section, name = place
        if member_schema(self.dst, section, name) is None:
            if section is not None and holder(self.dst, section) is None:
                why = f"version {show(self.target)} has no section {show(section)}"
            else:
                why = f"version {show(self.target)} does not define {show(place_name(place))}"
            self.find(
                i,
                place_segments(place),
                why,
                f"add it to version {show(self.target)}'s schema, or fix the operation",
                "missing-result",
            )

    def _values(self, i: int, op: Operation) -> None:
        place = op.result()
        if place is None:
            return
        schema = member_schema(self.dst, *place)
        if schema is None:
            return
        segs = place_segments(place)
        at = f"version {show(self.target)}'s schema"
        before = member_schema(self.src, *op.place)
        for out in op.outputs(before, self.converters):
            if out.failure is not None:
                why = f"{out.says}, which version {show(self.source)} allows: {out.failure}"
                self.find(i, segs, why, out.hint, "invalid-value")
                continue
            refused = refusal(schema, out.value)
            if refused is not None:
                why, inner = refused
                where = (*segs, *inner) if out.within else segs
                self.find(
                    i, where, f"{out.says} is not valid in {at}: {why}", out.hint, "invalid-value"
                )

    # --- what arrives ------------------------------------------------------------------------

    def _leftovers(self, shape: Mapping[str, set[str] | None]) -> None:
        """Members the target refuses that remain, and required ones nothing produces."""
        ours = managed(self.family, self.target)
        dst_props = props(self.dst)
        for name, fields in shape.items():
            if name not in dst_props:
                if closed(self.dst):
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
            if fields is None or not is_section(section):
                continue
            for f in sorted(fields):
                if f not in props(section) and closed(section):
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
            if name not in shape and name not in ours:
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
            where = place_name(origin)
            if where in self.converted:
                continue
            before = member_schema(self.src, *origin)
            after = member_schema(self.dst, section, name)
            if before is None or after is None:
                continue
            before = mapped_schema(before, mapped.get((section, name), ()))
            narrow = [c.describe() for c in diff_schemas(before, after) if not c.backward]
            if narrow:
                self.losses.append(
                    Loss(
                        where,
                        place_segments(origin),
                        f"version {show(self.target)} cannot hold every value version "
                        f"{show(self.source)} holds there: " + "; ".join(narrow[:3]),
                        self.label,
                    )
                )
        sections = {origin[0] for origin in track.values() if origin[0] is not None}
        for (section, _), origin in track.items():
            if origin[0] in sections and section is not None:
                old, new = holder(self.src, origin[0]), holder(self.dst, section)
                if isinstance(old, Mapping) and isinstance(new, Mapping):
                    narrow = [
                        c.describe()
                        for c in diff_schemas(own_keywords(old), own_keywords(new))
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
