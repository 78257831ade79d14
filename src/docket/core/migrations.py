"""Migrations between adjacent versions, and the version graph they form.

Declarative operations (add, remove, rename, move, map, convert) are frozen dataclasses, each
knowing how to apply, invert and carry fields, read from documents through one name-to-class
table (:data:`OPERATIONS`) and compiled to functions over a container's JSON data; plain Python
functions cover the rest. The graph is checked without I/O:
every problem (duplicate, dangling, non-adjacent or backward edge, several heads, a version
that cannot reach current) is its own typed error. Data comes in through a loader.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from docket.core.converters import BUILTIN_CONVERTERS as BUILTIN_CONVERTERS
from docket.core.converters import Converter as Converter
from docket.core.errors import (
    BackwardEdge,
    DanglingEdge,
    DuplicateEdge,
    MigrationError,
    NonAdjacentEdge,
    PathSegment,
    SchemaDocumentError,
    UnreachableVersion,
    VersionAfterCurrent,
    show,
)
from docket.core.versions import Version, VersionScheme

JSONObject = dict[str, Any]
Transform = Callable[[JSONObject], JSONObject]
FieldRef = tuple[str | None, str]
"""(section, field); section None is a top-level member of the container."""


# --- operations ----------------------------------------------------------------------------


class LossKind(enum.Enum):
    """Why a migration loses a value a container holds (the ``reason`` of a loss report)."""

    REMOVED = "removed"
    """The field is removed, and what the inverse puts back is not the value."""
    CONVERSION = "lossy-conversion"
    """A converter changes the value and its inverse does not give it back."""
    CHANGED = "changed"
    """A lossy operation changes the value (a ``map`` that merges it with another, a rename
    or move onto it, a migration function)."""
    NOT_HELD = "not-held"
    """A migration function leaves it out: the target version cannot hold it."""
    DECLARED = "declared"
    """The family declares the downgrade loses it (its ``losses``)."""


Drop = tuple["FieldRef", LossKind, str]
"""The place (section, field) whose value an operation loses, why, and in words."""


def same_json(a: Any, b: Any) -> bool:
    """Whether two JSON values are equal, types included (``1`` is not ``1.0`` or ``True``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _holder(data: JSONObject, section: str | None) -> JSONObject | None:
    """The object a section's fields live in (the container itself for section None)."""
    if section is None:
        return data
    inner = data.get(section)
    return inner if isinstance(inner, dict) else None


@dataclass(frozen=True)
class Operation(abc.ABC):
    """One declarative step of a migration over the field ``field`` of ``section`` (None:
    a top-level member of the container).

    The operations are a closed set, one frozen dataclass each (:class:`Add`,
    :class:`Remove`, :class:`Rename`, :class:`Move`, :class:`Map`, :class:`Convert`), read
    from version documents through :data:`OPERATIONS`; a Python migration may be written
    with them too (:meth:`docket.Registry.with_migration`).
    """

    section: str | None
    field: str

    name: ClassVar[str] = ""
    """The ``op`` of this operation in a version document."""
    members: ClassVar[tuple[str, ...]] = ()
    """The document members beyond ``section`` and ``field``, as the dataclass orders them."""
    optional: ClassVar[frozenset[str]] = frozenset()
    """Those of :attr:`members` a document may leave out."""

    @property
    def where(self) -> str:
        """The field as a person names it: ``section.field`` (or ``field`` at the top)."""
        return self.field if self.section is None else f"{self.section}.{self.field}"

    def apply(
        self, data: JSONObject, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS
    ) -> None:
        """Change ``data`` in place; a missing section or field is left as it is."""
        holder = _holder(data, self.section)
        if holder is not None:
            self._apply(data, holder, converters)

    @abc.abstractmethod
    def _apply(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> None:
        """Change ``holder`` (the section, or ``data`` itself at the top) in place."""

    @abc.abstractmethod
    def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
        """The operation that undoes this one (what a downgrade declared ``inverse`` runs)."""

    def moves(self) -> dict[FieldRef, FieldRef]:
        """Where this operation carries a field (restore allowlists are carried along)."""
        return {}

    def losses(self) -> tuple[str, ...]:
        """What :meth:`inverse` loses of a container that this operation produced, in words
        (empty when it gives everything back)."""
        return ()

    def drops(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> tuple[Drop, ...]:
        """The values that this operation, about to run on ``data`` (``holder`` is its
        section), drops or changes so that :meth:`inverse` does not give them back; each
        named by its place (section, field) before it runs."""
        return ()

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> list[Operation]:
        """The operations one document entry (``{"op": ..., ...}``) stands for."""
        given = {k: spec[k] for k in cls.members if k in spec or k not in cls.optional}
        return [cls(spec.get("section"), spec["field"], **given)]


@dataclass(frozen=True)
class Add(Operation):
    """Add ``field`` with a copy of ``default`` where it is absent."""

    default: Any = None
    name: ClassVar[str] = "add"
    members: ClassVar[tuple[str, ...]] = ("default",)

    def _apply(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> None:
        holder.setdefault(self.field, copy.deepcopy(self.default))

    def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
        return Remove(self.section, self.field, self.default)

    def losses(self) -> tuple[str, ...]:
        return (f"{self.where} is dropped",)


@dataclass(frozen=True)
class Remove(Operation):
    """Remove ``field``; ``default`` is what the inverse adds back."""

    default: Any = None
    name: ClassVar[str] = "remove"
    members: ClassVar[tuple[str, ...]] = ("default",)
    optional: ClassVar[frozenset[str]] = frozenset({"default"})

    def _apply(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> None:
        holder.pop(self.field, None)

    def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
        return Add(self.section, self.field, self.default)

    def drops(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> tuple[Drop, ...]:
        if self.field not in holder or same_json(holder[self.field], self.default):
            return ()
        back = json.dumps(self.default)
        why = f"{self.where} is removed ({back} is put back)"
        return (((self.section, self.field), LossKind.REMOVED, why),)


@dataclass(frozen=True)
class Rename(Operation):
    """Rename ``field`` to ``to`` within its section."""

    to: str
    name: ClassVar[str] = "rename"
    members: ClassVar[tuple[str, ...]] = ("to",)

    def _apply(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> None:
        if self.field in holder:
            holder[self.to] = holder.pop(self.field)

    def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
        return Rename(self.section, self.to, self.field)

    def drops(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> tuple[Drop, ...]:
        if self.field in holder and self.to in holder:
            why = f"renaming {self.where} replaces it"
            return (((self.section, self.to), LossKind.CHANGED, why),)
        return ()

    def moves(self) -> dict[FieldRef, FieldRef]:
        return {(self.section, self.field): (self.section, self.to)}


@dataclass(frozen=True)
class Move(Operation):
    """Move ``field`` to ``to_section`` (None: the top level), named ``to_field`` there
    (the same name when not given). The target section is created when missing."""

    to_section: str | None
    to_field: str | None = None
    name: ClassVar[str] = "move"
    members: ClassVar[tuple[str, ...]] = ("to_section", "to_field")
    optional: ClassVar[frozenset[str]] = frozenset({"to_field"})

    def __post_init__(self) -> None:
        if self.to_field is None:
            object.__setattr__(self, "to_field", self.field)

    @property
    def destination(self) -> str:
        return self.to_field if self.to_field is not None else self.field

    def _apply(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> None:
        if self.field not in holder:
            return
        value = holder.pop(self.field)
        if self.to_section is None:
            target: JSONObject | None = data
        else:
            existing = data.get(self.to_section)
            if existing is None:
                data[self.to_section] = existing = {}
            target = existing if isinstance(existing, dict) else None
        if target is not None:
            target[self.destination] = value

    def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
        return Move(self.to_section, self.destination, self.section, self.field)

    def drops(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> tuple[Drop, ...]:
        if self.field not in holder:
            return ()
        target = data if self.to_section is None else data.get(self.to_section)
        if target is not None and not isinstance(target, dict):
            why = f"{self.where} has nowhere to go: {self.to_section} is not an object"
            return (((self.section, self.field), LossKind.REMOVED, why),)
        if target is not None and self.destination in target:
            place = (self.to_section, self.destination)
            return ((place, LossKind.CHANGED, f"moving {self.where} replaces it"),)
        return ()

    def moves(self) -> dict[FieldRef, FieldRef]:
        return {(self.section, self.field): (self.to_section, self.destination)}


@dataclass(frozen=True)
class Map(Operation):
    """Replace values: the first pair ``(old, new)`` whose ``old`` equals the field's value
    (of the same JSON type) gives the new value."""

    values: tuple[tuple[Any, Any], ...]
    name: ClassVar[str] = "map"
    members: ClassVar[tuple[str, ...]] = ("values",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple((old, new) for old, new in self.values))

    def _apply(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> None:
        if self.field not in holder:
            return
        found = holder[self.field]
        for old, new in self.values:
            if found == old and type(found) is type(old):
                holder[self.field] = copy.deepcopy(new)
                return

    def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
        return Map(self.section, self.field, tuple((new, old) for old, new in self.values))

    def drops(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> tuple[Drop, ...]:
        if self.field not in holder:
            return ()
        probe = {self.field: holder[self.field]}
        self._apply(probe, probe, converters)
        changed = not same_json(probe[self.field], holder[self.field])
        self.inverse(converters)._apply(probe, probe, converters)
        if not changed or same_json(probe[self.field], holder[self.field]):
            return ()
        back = json.dumps(probe[self.field])
        why = f"{self.where} is mapped ({back} is given back)"
        return (((self.section, self.field), LossKind.CHANGED, why),)

    def losses(self) -> tuple[str, ...]:
        back: dict[tuple[str, str], list[Any]] = {}
        for old, new in self.values:
            key = (type(new).__name__, json.dumps(new, sort_keys=True, default=repr))
            back.setdefault(key, []).append(old)
        return tuple(
            f"{self.where}: {show(olds[0])} is given back for each of {', '.join(map(show, olds))}"
            for olds in back.values()
            if len(olds) > 1
        )


@dataclass(frozen=True)
class Convert(Operation):
    """Convert the field's value with the named :class:`Converter` (a document's
    ``fields`` list stands for one operation per field)."""

    converter: str
    name: ClassVar[str] = "convert"

    def resolve(self, converters: Mapping[str, Converter]) -> Converter:
        found = converters.get(self.converter)
        if found is None:
            raise SchemaDocumentError(
                "migration",
                f"unknown converter {show(self.converter)}",
                hint="known converters: " + ", ".join(sorted(converters)),
            )
        return found

    def _apply(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> None:
        if self.field in holder:
            try:
                holder[self.field] = self.resolve(converters).forward(holder[self.field])
            except (ValueError, TypeError) as err:
                raise ValueError(f"{self.section}.{self.field}: {err}") from None

    def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
        conv = converters.get(self.converter)
        if conv is None or conv.inverse_name is None:
            raise SchemaDocumentError(
                "migration",
                f"converter {show(self.converter)} has no inverse, so the downgrade "
                "cannot be 'inverse'",
                path=("migration", "downgrade"),
                hint="declare the downgrade's operations, or register the inverse converter",
            )
        return Convert(self.section, self.field, conv.inverse_name)

    def drops(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> tuple[Drop, ...]:
        if self.field not in holder:
            return ()
        value = holder[self.field]
        try:
            there = self.resolve(converters).forward(value)
        except (ValueError, TypeError):
            return ()  # the migration itself fails on it, and says so
        if same_json(there, value):
            return ()
        conv = converters.get(self.converter)
        back = converters.get(conv.inverse_name) if conv and conv.inverse_name else None
        try:
            given = back.forward(there) if back is not None else None
        except (ValueError, TypeError):
            back = None
        if back is not None and same_json(given, value):
            return ()
        why = f"{self.where} is converted by {self.converter}" + (
            f" ({json.dumps(given)} is given back)" if back is not None else " (no inverse)"
        )
        return (((self.section, self.field), LossKind.CONVERSION, why),)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> list[Operation]:
        return [cls(spec.get("section"), f, spec["converter"]) for f in spec["fields"]]


OPERATIONS: Mapping[str, type[Operation]] = {
    cls.name: cls for cls in (Add, Remove, Rename, Move, Map, Convert)
}
"""Every operation, by its ``op`` name in version documents: the one table they are read
through."""


def parse_operations(
    specs: Sequence[Mapping[str, Any]], at: Sequence[PathSegment] = ()
) -> list[Operation]:
    """The operations of a document's operation list; ``at`` is where the list is (for the
    ``$``-path of a :class:`SchemaDocumentError`)."""
    out: list[Operation] = []
    for i, spec in enumerate(specs):
        name = spec.get("op")
        cls = OPERATIONS.get(name) if isinstance(name, str) else None
        if cls is None:
            raise SchemaDocumentError(
                "migration",
                f"unknown operation {show(name)}",
                path=(*at, i, "op"),
                hint="operations: " + ", ".join(OPERATIONS),
            )
        try:
            out.extend(cls.from_spec(spec))
        except KeyError as err:
            raise SchemaDocumentError(
                "migration",
                f"the {name} operation needs a {show(err.args[0])} member",
                path=(*at, i),
                hint="see metaschema/version-document.schema.json",
            ) from None
    return out


def inverse_operations(
    ops: Sequence[Operation], converters: Mapping[str, Converter] = BUILTIN_CONVERTERS
) -> list[Operation]:
    """The operations that undo ``ops``: each one's inverse, in reverse order."""
    return [op.inverse(converters) for op in reversed(ops)]


_IMMUTABLE = (str, int, float, bool, type(None))


def compile_operations(ops: Sequence[Operation], converters: Mapping[str, Converter]) -> Transform:
    """Turn operations into one function over container data, compiled once per edge
    (converters are checked now).

    The function is generated with one unrolled step per operation, as the store's row
    dumpers are: each section is looked up once for a run of operations on it, converters
    are resolved and immutable defaults bound ahead of time. It does what applying the
    operations one by one (:meth:`Operation.apply`) does; ``tests/test_migrations.py``
    compares the two.
    """
    for op in ops:
        if isinstance(op, Convert):
            op.resolve(converters)
    namespace: dict[str, Any] = {
        "_holder": _holder,
        "_deepcopy": copy.deepcopy,
        "_converters": converters,
    }
    lines = ["def run(data):"]
    current: tuple[str | None] | None = None  # the section whose holder `h` is, if any
    for i, op in enumerate(ops):
        namespace[f"_o{i}"] = op
        namespace[f"_f{i}"] = op.field
        if current is None or current[0] != op.section:
            namespace[f"_s{i}"] = op.section
            lines.append(f"    h = _holder(data, _s{i})")
            current = (op.section,)
        body: list[str]
        if isinstance(op, Add):
            default = op.default
            namespace[f"_d{i}"] = default
            value = f"_d{i}" if isinstance(default, _IMMUTABLE) else f"_deepcopy(_d{i})"
            body = [f"if _f{i} not in h:", f"    h[_f{i}] = {value}"]
        elif isinstance(op, Remove):
            body = [f"h.pop(_f{i}, None)"]
        elif isinstance(op, Convert):
            namespace[f"_c{i}"] = op.resolve(converters).forward
            namespace[f"_w{i}"] = f"{op.section}.{op.field}: "
            body = [
                f"if _f{i} in h:",
                "    try:",
                f"        h[_f{i}] = _c{i}(h[_f{i}])",
                "    except (ValueError, TypeError) as err:",
                f"        raise ValueError(_w{i} + str(err)) from None",
            ]
        else:
            body = [f"_o{i}._apply(data, h, _converters)"]
        lines.append("    if h is not None:")
        lines += [f"        {line}" for line in body]
        if op.section is None or isinstance(op, Move):
            current = None  # it may have moved or made sections: look them up again
    lines.append("    return data")
    exec(compile("\n".join(lines), "<docket migration>", "exec"), namespace)
    run: Transform = namespace["run"]
    return run


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars); several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) if isinstance(v, dict | list) else v for v in value]
    return value


# --- edges and the graph ---------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """An edge between adjacent versions: an upgrade and optionally a downgrade."""

    family: str
    source: Version
    target: Version
    upgrade: Transform
    downgrade: Transform | None = None
    exact: bool = False
    """Whether the downgrade restores exactly what the upgrade received."""
    losses: tuple[str, ...] = ()
    """What a lossy downgrade loses, in words (shown when it is refused)."""
    moves: Mapping[FieldRef, FieldRef] = dataclasses.field(default_factory=dict)
    origin: str = "python"
    upgrade_operations: tuple[Operation, ...] = ()
    """The upgrade as operations, when it was written as operations."""
    downgrade_operations: tuple[Operation, ...] = ()
    declared_losses: tuple[str, ...] = ()
    """The losses the family declares for the downgrade (empty when :attr:`losses` was
    worked out, not declared)."""
    converters: Mapping[str, Converter] = dataclasses.field(
        default_factory=lambda: BUILTIN_CONVERTERS
    )
    """The converters the operations were compiled with."""

    def operations(self, up: bool) -> tuple[Operation, ...]:
        """The operations of one direction (empty when it is a function, or does nothing)."""
        return self.upgrade_operations if up else self.downgrade_operations

    def run_upgrade(self, data: JSONObject, *, owned: bool = False) -> JSONObject:
        """Upgrade ``data``; with ``owned`` the caller hands it over and it may be changed."""
        return self._run(self.upgrade, data, self.source, self.target, owned)

    def run_downgrade(self, data: JSONObject, *, owned: bool = False) -> JSONObject:
        if self.downgrade is None:
            raise MigrationError(self.family, self.target, self.source, "no downgrade is defined")
        return self._run(self.downgrade, data, self.target, self.source, owned)

    def _run(
        self, fn: Transform, data: JSONObject, src: Version, dst: Version, owned: bool
    ) -> JSONObject:
        try:
            out = fn(data if owned else json_copy(data))
        except MigrationError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise MigrationError(self.family, src, dst, f"migration failed: {err}") from None
        if not isinstance(out, dict):
            raise MigrationError(self.family, src, dst, "migration did not return an object")
        out["version"] = dst
        return out


Downgrade = Transform | Sequence[Operation] | Literal["inverse"] | None
"""A downgrade: a function, operations, ``"inverse"`` (undo the upgrade's operations) or None."""
INVERSE: Literal["inverse"] = "inverse"


def build_migration(
    family: str,
    source: Version,
    target: Version,
    upgrade: Transform | Sequence[Operation],
    downgrade: Downgrade = None,
    *,
    converters: Mapping[str, Converter] = BUILTIN_CONVERTERS,
    exact: bool = False,
    losses: Sequence[str] = (),
    moves: Mapping[FieldRef, FieldRef] | None = None,
    origin: str = "python",
) -> Migration:
    """An edge from functions or operations, the same way for documents and Python.

    With operations, the moves of the upgrade are worked out from them, ``"inverse"`` gives
    the downgrade; a lossy downgrade that lists no losses gets those of the operations it
    undoes (or a line saying it is declared lossy).
    """
    up_ops = () if callable(upgrade) else tuple(upgrade)
    carried: dict[FieldRef, FieldRef] = {}
    for op in up_ops:
        carried.update(op.moves())
    carried.update(moves or {})
    down_ops: tuple[Operation, ...] = ()
    undo: Transform | None
    inverse = isinstance(downgrade, str)
    if isinstance(downgrade, str):
        if downgrade != INVERSE or callable(upgrade):
            raise MigrationError(
                family,
                target,
                source,
                f"the downgrade {show(downgrade)} is not a function, operations or 'inverse' "
                "of an upgrade written as operations",
                hint="write the upgrade as operations, or pass a downgrade function",
            )
        down_ops = tuple(inverse_operations(up_ops, converters))
        undo = compile_operations(down_ops, converters)
    elif downgrade is None or callable(downgrade):
        undo = downgrade
    else:
        down_ops = tuple(downgrade)
        undo = compile_operations(down_ops, converters)
    lost = tuple(losses)
    if undo is not None and not exact and not lost:
        if inverse:
            lost = tuple(loss for op in reversed(up_ops) for loss in op.losses())
        lost = lost or ("the downgrade is declared lossy",)
    return Migration(
        family,
        source,
        target,
        upgrade if callable(upgrade) else compile_operations(up_ops, converters),
        undo,
        exact,
        lost,
        carried,
        origin,
        up_ops,
        down_ops,
        tuple(losses) if undo is not None and not exact else (),
        converters,
    )


def migration_from_document(
    family: str,
    source: Version,
    target: Version,
    spec: Mapping[str, Any],
    converters: Mapping[str, Converter],
) -> Migration:
    """Compile the ``migration`` member of a version document."""
    at: tuple[PathSegment, ...] = ("migration",)
    ups = parse_operations(spec.get("upgrade", ()), (*at, "upgrade"))
    down_spec = spec.get("downgrade")
    if down_spec is None:
        return build_migration(
            family, source, target, ups, None, converters=converters, origin="document"
        )
    ops = down_spec["operations"]
    downs: Downgrade = INVERSE
    if ops != INVERSE:
        downs = parse_operations(ops, (*at, "downgrade", "operations"))
    return build_migration(
        family,
        source,
        target,
        ups,
        downs,
        converters=converters,
        exact=down_spec["kind"] == "exact",
        losses=down_spec.get("losses", ()),
        origin="document",
    )


@dataclass(frozen=True)
class VersionGraph:
    """The checked chain of versions of one family and the edges between them."""

    family: str
    scheme: VersionScheme
    versions: tuple[Version, ...]
    current: Version
    edges: Mapping[Version, Migration]
    """Keyed by source version."""

    @classmethod
    def build(
        cls,
        family: str,
        scheme: VersionScheme,
        versions: Sequence[Version],
        current: Version,
        migrations: Sequence[Migration],
    ) -> VersionGraph:
        ordered = tuple(sorted(versions, key=scheme.key))
        if current not in ordered:
            raise DanglingEdge(
                family,
                f"current version {show(current)} is not one of the versions",
                hint="known versions: " + ", ".join(map(show, ordered)),
                versions=(current,),
            )
        index = {v: i for i, v in enumerate(ordered)}
        edges: dict[Version, Migration] = {}
        for m in migrations:
            edge = (m.source, m.target)
            for end in edge:
                if end not in index:
                    raise DanglingEdge(
                        family,
                        f"migration {show(m.source)} -> {show(m.target)} names unknown version "
                        f"{show(end)}",
                        hint="known versions: " + ", ".join(map(show, ordered)),
                        edge=edge,
                        versions=(end,),
                    )
            if index[m.target] <= index[m.source]:
                raise BackwardEdge(
                    family,
                    f"upgrade {show(m.source)} -> {show(m.target)} does not go to a newer version",
                    hint="declare upgrades old -> new; downgrades belong to the same edge",
                    edge=edge,
                )
            if index[m.target] != index[m.source] + 1:
                skipped = ordered[index[m.source] + 1 : index[m.target]]
                raise NonAdjacentEdge(
                    family,
                    f"migration {show(m.source)} -> {show(m.target)} skips a version "
                    f"({', '.join(map(show, skipped))})",
                    hint="migrations join adjacent versions only",
                    edge=edge,
                    versions=skipped,
                )
            if m.source in edges:
                raise DuplicateEdge(
                    family,
                    f"two migrations from {show(m.source)} to {show(m.target)}",
                    hint="register each edge once (a document and Python both define it?)",
                    edge=edge,
                )
            edges[m.source] = m
        cur = index[current]
        heads = [v for v in ordered[: cur + 1] if v not in edges]
        if ordered[cur + 1 :]:
            raise VersionAfterCurrent(
                family,
                f"versions newer than current {show(current)}: "
                + ", ".join(map(show, ordered[cur + 1 :])),
                hint="make the newest version current",
                versions=ordered[cur + 1 :],
            )
        if len(heads) > 1:
            stuck = [v for v in heads if v != current]
            raise UnreachableVersion(
                family,
                f"no upgrade from {', '.join(map(show, stuck))} towards current "
                f"{show(current)}",
                hint="add the missing migration(s)",
                versions=stuck,
            )
        return cls(family, scheme, ordered, current, edges)

    def path(self, source: Version, target: Version) -> list[tuple[Migration, bool]]:
        """Edges from ``source`` to ``target``; each with True for an upgrade step."""
        i, j = self.versions.index(source), self.versions.index(target)
        if i <= j:
            return [(self.edges[self.versions[k]], True) for k in range(i, j)]
        return [(self.edges[self.versions[k]], False) for k in range(i - 1, j - 1, -1)]
