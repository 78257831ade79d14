"""The declarative migration operations, each one class that knows everything about itself.

An operation (add, remove, rename, move, map, convert) is a frozen dataclass that applies,
inverts and describes itself, gives its document form (:meth:`Operation.spec`), says where it
carries fields and what its inverse loses, states its effect on a schema's shape for the
static soundness checks (:meth:`Operation.reshape`, over a :class:`Shape`) and compiles to a
fast step (:meth:`Operation.compile`). Documents are read into operations through one
name-to-class table (:data:`OPERATIONS`); adding an operation means adding one class, as
alembic's ops each carry ``reverse()`` and ``to_diff_tuple()``.
"""

from __future__ import annotations

import abc
import copy
import enum
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from docket.core.converters import BUILTIN_CONVERTERS, Converter
from docket.core.errors import PathSegment, SchemaDocumentError, show

JSONObject = dict[str, Any]
Transform = Callable[[JSONObject], JSONObject]
FieldRef = tuple[str | None, str]
"""(section, field); section None is a top-level member of the container."""


def place_name(place: FieldRef) -> str:
    """A (section, field) place as a person names it: ``section.field`` (``field`` at the top);
    the one rendering of a place in migration messages (``$``-paths: :func:`json_path` of
    :func:`place_segments`)."""
    return ".".join(place_segments(place))


def place_segments(place: FieldRef) -> tuple[str, ...]:
    """The segments of a (section, field) place: ``(section, field)``, ``(field,)`` at the top."""
    section, name = place
    return (name,) if section is None else (section, name)


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


_IMMUTABLE = (str, int, float, bool, type(None))


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


def schema_samples(schema: Mapping[str, Any]) -> Iterator[Any]:
    """The values a schema names (``const``, ``enum``, ``default``, ``examples``)."""
    for keyword in ("const", "enum", "default", "examples"):
        if keyword not in schema:
            continue
        value = schema[keyword]
        if keyword in ("enum", "examples") and isinstance(value, list):
            yield from value
        else:
            yield value


class Shape(Protocol):
    """A schema's shape as the static soundness checks follow it through operations
    (:class:`docket.core.shape.ShapeModel`): the primitives an operation's effect is told in."""

    def add(self, place: FieldRef, default: Any) -> None:
        """A field appears at ``place`` (at the top, a member whose value is ``default``)."""

    def remove(self, place: FieldRef) -> None:
        """The field at ``place`` goes (at the top, a whole member or section)."""

    def carry(self, place: FieldRef, to: FieldRef) -> None:
        """The value at ``place`` goes to ``to`` (a top-level section, with its fields)."""

    def convert(self, place: FieldRef, converter: str) -> None:
        """The value at ``place`` goes through the named converter."""

    def map(self, place: FieldRef, values: Sequence[tuple[Any, Any]]) -> None:
        """The value at ``place`` is replaced by the pairs ``(old, new)``."""


@dataclass(frozen=True)
class Output:
    """A value an operation writes, which the target version's schema must accept."""

    value: Any
    says: str
    """The value in words, as the subject of a sentence (``the default 1``, ``1 becomes 2,
    which``): ``{says} is not valid in ...``."""
    hint: str
    within: bool = False
    """Name the place within the value that the schema refuses (not only the field)."""
    failure: str | None = None
    """Why the operation fails on a value the source version allows (``value`` is that
    value; nothing is written)."""


@dataclass(frozen=True)
class Step:
    """An operation's compiled form: the lines of one unrolled step of the function
    :func:`compile_operations` generates, and the values they use.

    The lines run with ``data`` (the container) and ``h`` (the operation's section, never
    None); ``{i}`` in them is the operation's index, and a name ``n`` of :attr:`names` is
    bound as ``n{i}``. ``_f{i}`` (the field), ``_o{i}`` (the operation), ``_converters``,
    ``_deepcopy`` are always bound.
    """

    lines: tuple[str, ...]
    names: Mapping[str, Any] = field(default_factory=dict)


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

    regroups: ClassVar[bool] = False
    """Whether it may make or move sections (the compiled form looks sections up again)."""
    reads: ClassVar[bool] = True
    """Whether it works on a value already at its place (``add`` only needs the section)."""

    @property
    def place(self) -> FieldRef:
        """The operation's field as (section, field)."""
        return (self.section, self.field)

    @property
    def where(self) -> str:
        """The field as a person names it: ``section.field`` (or ``field`` at the top)."""
        return place_name(self.place)

    def describe(self) -> str:
        """The operation as a person reads it: ``rename note.text to body``."""
        return f"{self.name} {self.where}"

    def spec(self) -> dict[str, Any]:
        """The operation as a version document writes it (what :meth:`from_spec` reads):
        ``{"op": "rename", "section": "note", "field": "text", "to": "body"}``; an optional
        member that is None is left out."""
        out: dict[str, Any] = {"op": self.name, "section": self.section, "field": self.field}
        for member in self.members:
            value = getattr(self, member)
            if value is not None or member not in self.optional:
                out[member] = value
        return out

    def result(self) -> FieldRef | None:
        """Where the operation leaves its value (None: nowhere, it removes it)."""
        return self.place

    def outputs(self, before: Any, converters: Mapping[str, Converter]) -> Iterator[Output]:
        """The values it writes at :meth:`result` that the target version's schema must
        accept; ``before`` is the source version's schema of its field (None: no place)."""
        return iter(())

    @abc.abstractmethod
    def reshape(self, shape: Shape) -> None:
        """Tell ``shape`` what this operation does to a schema's shape, in its primitives
        (the static soundness checks follow the operations so, :mod:`docket.core.soundness`)."""

    def compile(self, converters: Mapping[str, Converter]) -> Step:
        """The operation as one step of a compiled migration (:func:`compile_operations`);
        by default a call of its ``_apply``. Converters are checked now."""
        return Step(("_o{i}._apply(data, h, _converters)",))

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
    reads: ClassVar[bool] = False

    def _apply(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> None:
        holder.setdefault(self.field, copy.deepcopy(self.default))

    def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
        return Remove(self.section, self.field, self.default)

    def losses(self) -> tuple[str, ...]:
        return (f"{self.where} is dropped",)

    def outputs(self, before: Any, converters: Mapping[str, Converter]) -> Iterator[Output]:
        hint = "choose a default the field's schema accepts"
        yield Output(self.default, f"the default {show(self.default)}", hint, within=True)

    def reshape(self, shape: Shape) -> None:
        shape.add(self.place, self.default)

    def compile(self, converters: Mapping[str, Converter]) -> Step:
        value = "_d{i}" if isinstance(self.default, _IMMUTABLE) else "_deepcopy(_d{i})"
        return Step(("if _f{i} not in h:", f"    h[_f{{i}}] = {value}"), {"_d": self.default})


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

    def result(self) -> FieldRef | None:
        return None

    def reshape(self, shape: Shape) -> None:
        shape.remove(self.place)

    def compile(self, converters: Mapping[str, Converter]) -> Step:
        return Step(("h.pop(_f{i}, None)",))

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
        return {self.place: (self.section, self.to)}

    def describe(self) -> str:
        return f"rename {self.where} to {self.to}"

    def result(self) -> FieldRef | None:
        return (self.section, self.to)

    def reshape(self, shape: Shape) -> None:
        shape.carry(self.place, (self.section, self.to))


@dataclass(frozen=True)
class Move(Operation):
    """Move ``field`` to ``to_section`` (None: the top level), named ``to_field`` there
    (the same name when not given). The target section is created when missing."""

    to_section: str | None
    to_field: str | None = None
    name: ClassVar[str] = "move"
    members: ClassVar[tuple[str, ...]] = ("to_section", "to_field")
    optional: ClassVar[frozenset[str]] = frozenset({"to_field"})
    regroups: ClassVar[bool] = True

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
        return {self.place: (self.to_section, self.destination)}

    def describe(self) -> str:
        return f"move {self.where} to {place_name((self.to_section, self.destination))}"

    def result(self) -> FieldRef | None:
        return (self.to_section, self.destination)

    def reshape(self, shape: Shape) -> None:
        shape.carry(self.place, (self.to_section, self.destination))


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

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "values": [[old, new] for old, new in self.values]}

    def outputs(self, before: Any, converters: Mapping[str, Converter]) -> Iterator[Output]:
        for old, new in self.values:
            says = f"{show(old)} becomes {show(new)}, which"
            yield Output(new, says, "map to values the field's schema accepts")

    def reshape(self, shape: Shape) -> None:
        shape.map(self.place, self.values)

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

    def describe(self) -> str:
        return f"convert {self.where} ({self.converter})"

    def spec(self) -> dict[str, Any]:
        out = {"op": self.name, "section": self.section}
        return {**out, "fields": [self.field], "converter": self.converter}

    def outputs(self, before: Any, converters: Mapping[str, Converter]) -> Iterator[Output]:
        converter = converters.get(self.converter)
        if converter is None or not isinstance(before, Mapping):
            return
        for sample in schema_samples(before):
            try:
                out = converter.forward(sample)
            except (ValueError, TypeError) as err:
                says, hint = f"the converter fails on {show(sample)}", "fix the converter or "
                yield Output(sample, says, hint + "the source schema", failure=str(err))
                continue
            says = f"{show(sample)} converts to {show(out)}, which"
            yield Output(out, says, "fix the converter or the target schema")

    def reshape(self, shape: Shape) -> None:
        shape.convert(self.place, self.converter)

    def compile(self, converters: Mapping[str, Converter]) -> Step:
        names = {"_c": self.resolve(converters).forward, "_w": f"{self.section}.{self.field}: "}
        lines = (
            "if _f{i} in h:",
            "    try:",
            "        h[_f{i}] = _c{i}(h[_f{i}])",
            "    except (ValueError, TypeError) as err:",
            "        raise ValueError(_w{i} + str(err)) from None",
        )
        return Step(lines, names)


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


def compile_operations(
    ops: Sequence[Operation],
    converters: Mapping[str, Converter],
    forwards: Mapping[int, Callable[[Any], Any]] | None = None,
) -> Transform:
    """Turn operations into one function over container data, compiled once per edge
    (converters are checked now); ``forwards`` replaces the converter function of the
    ``convert`` operations at those indexes (``Converter.checked``).

    The function is generated with one unrolled step per operation (each operation's
    :meth:`Operation.compile`), as the store's row dumpers are: each section is looked up
    once for a run of operations on it, converters are resolved and immutable defaults bound
    ahead of time. It does what applying the
    operations one by one (:meth:`Operation.apply`) does; ``tests/core/test_migrations.py``
    compares the two.
    """
    namespace: dict[str, Any] = {
        "_holder": _holder,
        "_deepcopy": copy.deepcopy,
        "_converters": converters,
    }
    lines = ["def run(data):"]
    current: tuple[str | None] | None = None  # the section whose holder `h` is, if any
    for i, op in enumerate(ops):
        step = op.compile(converters)
        namespace[f"_o{i}"] = op
        namespace[f"_f{i}"] = op.field
        namespace.update({f"{name}{i}": value for name, value in step.names.items()})
        if forwards and i in forwards:
            namespace[f"_c{i}"] = forwards[i]
        if current is None or current[0] != op.section:
            namespace[f"_s{i}"] = op.section
            lines.append(f"    h = _holder(data, _s{i})")
            current = (op.section,)
        lines.append("    if h is not None:")
        lines += [f"        {line.format(i=i)}" for line in step.lines]
        if op.section is None or op.regroups:
            current = None  # it may have moved or made sections: look them up again
    lines.append("    return data")
    exec(compile("\n".join(lines), "<docket migration>", "exec"), namespace)
    run: Transform = namespace["run"]
    run._docket_operations = tuple(ops)  # type: ignore[attr-defined]
    return run


def compiled_operations(fn: Transform | None) -> tuple[Operation, ...] | None:
    """The operations ``fn`` was compiled from by :func:`compile_operations`; None when it
    is any other function (which may do anything)."""
    ops = getattr(fn, "_docket_operations", None)
    return ops if isinstance(ops, tuple) else None


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars); several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) if isinstance(v, dict | list) else v for v in value]
    return value
