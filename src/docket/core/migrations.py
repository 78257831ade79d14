"""Migrations between adjacent versions, and the version graph they form.

Declarative operations (add, remove, rename, move, map, convert) compile to functions over a
container's JSON data; plain Python functions cover the rest. The graph is checked without I/O:
every problem (duplicate, dangling, non-adjacent or backward edge, several heads, a version
that cannot reach current) is its own typed error. Data comes in through a loader.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from docket.core.errors import (
    CycleDetected,
    DanglingEdge,
    DuplicateEdge,
    GraphError,
    MigrationError,
    MultipleHeads,
    SchemaDocumentError,
    UnreachableVersion,
)
from docket.core.versions import Version, VersionScheme

JSONObject = dict[str, Any]
Transform = Callable[[JSONObject], JSONObject]
FieldRef = tuple[str | None, str]
"""(section, field); section None is a top-level member of the container."""


# --- converters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Converter:
    """A value conversion used by the ``convert`` operation, with its inverse."""

    name: str
    forward: Callable[[Any], Any]
    inverse_name: str | None = None


_NAIVE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?$")
_AWARE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$")


def _naive_to_utc(value: Any) -> Any:
    if value is None:
        return None
    match = _NAIVE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a naive timestamp YYYY-MM-DDTHH:MM:SS[.ffffff]")
    try:
        datetime.fromisoformat(match.group(1))
    except ValueError:
        # The older version's pattern accepts it, but no such moment exists (e.g. 02-30).
        raise ValueError(f"{value!r} is not a real date and time") from None
    return f"{match.group(1)}.{(match.group(2) or '').ljust(6, '0')}Z"


def _utc_to_naive(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not _AWARE.match(value):
        raise ValueError(f"{value!r} is not a timezone-aware timestamp")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    # isoformat, not strftime: glibc's %Y does not zero-pad years before 1000.
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


def _to_string(value: Any) -> Any:
    return None if value is None else str(value)


def _string_to_int(value: Any) -> Any:
    return None if value is None else int(value)


BUILTIN_CONVERTERS: Mapping[str, Converter] = {
    c.name: c
    for c in (
        Converter("naive-utc-to-aware", _naive_to_utc, "aware-utc-to-naive"),
        Converter("aware-utc-to-naive", _utc_to_naive, "naive-utc-to-aware"),
        Converter("int-to-string", _to_string, "string-to-int"),
        Converter("string-to-int", _string_to_int, "int-to-string"),
    )
}


# --- operations ----------------------------------------------------------------------------

_MISSING = object()


@dataclass(frozen=True)
class Operation:
    """One declarative step of a migration, as written in a version document."""

    op: str
    section: str | None
    field: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_document(cls, spec: Mapping[str, Any]) -> list[Operation]:
        if spec["op"] == "convert":
            return [
                cls("convert", spec.get("section"), f, {"converter": spec["converter"]})
                for f in spec["fields"]
            ]
        params = {k: v for k, v in spec.items() if k not in ("op", "section", "field")}
        return [cls(spec["op"], spec.get("section"), spec["field"], params)]

    def moves(self) -> dict[FieldRef, FieldRef]:
        """Where this operation carries a field (for carrying restore allowlists along)."""
        if self.op == "rename":
            return {(self.section, self.field): (self.section, self.params["to"])}
        if self.op == "move":
            dst = self.params.get("to_field", self.field)
            return {(self.section, self.field): (self.params["to_section"], dst)}
        return {}

    def inverse(self, converters: Mapping[str, Converter]) -> Operation:
        """The operation that undoes this one (a ``convert`` uses its converter's inverse)."""
        p = self.params
        if self.op == "add":
            return Operation("remove", self.section, self.field, {"default": p["default"]})
        if self.op == "remove":
            return Operation("add", self.section, self.field, {"default": p.get("default")})
        if self.op == "rename":
            return Operation("rename", self.section, p["to"], {"to": self.field})
        if self.op == "move":
            return Operation(
                "move",
                p["to_section"],
                p.get("to_field", self.field),
                {"to_section": self.section, "to_field": self.field},
            )
        if self.op == "map":
            return Operation(
                "map", self.section, self.field, {"values": [[b, a] for a, b in p["values"]]}
            )
        conv = converters.get(p["converter"])
        if conv is None or conv.inverse_name is None:
            raise SchemaDocumentError(
                "migration",
                f"converter {p['converter']!r} has no inverse, so the downgrade "
                "cannot be 'inverse'",
                path='$["migration"]["downgrade"]',
            )
        return Operation("convert", self.section, self.field, {"converter": conv.inverse_name})


def _container_of(data: JSONObject, section: str | None) -> JSONObject | None:
    if section is None:
        return data
    inner = data.get(section)
    return inner if isinstance(inner, dict) else None


def compile_operations(ops: Sequence[Operation], converters: Mapping[str, Converter]) -> Transform:
    """Turn declarative operations into one function over container data."""

    resolved: list[tuple[Operation, Callable[[Any], Any] | None]] = []
    for op in ops:
        fn = None
        if op.op == "convert":
            name = op.params["converter"]
            if name not in converters:
                raise SchemaDocumentError(
                    "migration",
                    f"unknown converter {name!r}",
                    hint="known converters: " + ", ".join(sorted(converters)),
                )
            fn = converters[name].forward
        resolved.append((op, fn))

    def run(data: JSONObject) -> JSONObject:
        for op, fn in resolved:
            _apply(op, fn, data)
        return data

    return run


def _apply(op: Operation, fn: Callable[[Any], Any] | None, data: JSONObject) -> None:
    holder = _container_of(data, op.section)
    if holder is None:
        if op.op == "add" and op.section is not None:
            return  # a missing section stays missing: there is nothing to add the field to
        return
    if op.op == "add":
        holder.setdefault(op.field, copy.deepcopy(op.params["default"]))
    elif op.op == "remove":
        holder.pop(op.field, None)
    elif op.op == "rename":
        if op.field in holder:
            holder[op.params["to"]] = holder.pop(op.field)
    elif op.op == "move":
        if op.field in holder:
            value = holder.pop(op.field)
            dst_section = op.params["to_section"]
            if dst_section is None:
                dst: JSONObject | None = data
            else:
                existing = data.get(dst_section)
                if existing is None:
                    data[dst_section] = existing = {}
                dst = existing if isinstance(existing, dict) else None
            if dst is not None:
                dst[op.params.get("to_field", op.field)] = value
    elif op.op == "map":
        if op.field in holder:
            for old, new in op.params["values"]:
                if holder[op.field] == old and type(holder[op.field]) is type(old):
                    holder[op.field] = copy.deepcopy(new)
                    break
    elif op.op == "convert" and op.field in holder and fn is not None:
        try:
            holder[op.field] = fn(holder[op.field])
        except (ValueError, TypeError) as err:
            raise ValueError(f"{op.section}.{op.field}: {err}") from None


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


def migration_from_document(
    family: str,
    source: Version,
    target: Version,
    spec: Mapping[str, Any],
    converters: Mapping[str, Converter],
) -> Migration:
    """Compile the ``migration`` member of a version document."""
    ups = [o for s in spec.get("upgrade", ()) for o in Operation.from_document(s)]
    moves: dict[FieldRef, FieldRef] = {}
    for op in ups:
        moves.update(op.moves())
    down_spec = spec.get("downgrade")
    downgrade: Transform | None = None
    exact = False
    losses: tuple[str, ...] = ()
    if down_spec is not None:
        exact = down_spec["kind"] == "exact"
        losses = tuple(down_spec.get("losses", ()))
        if down_spec["operations"] == "inverse":
            downs = [op.inverse(converters) for op in reversed(ups)]
        else:
            downs = [o for s in down_spec["operations"] for o in Operation.from_document(s)]
        downgrade = compile_operations(downs, converters)
        if not exact and not losses:
            losses = ("the downgrade is declared lossy",)
    return Migration(
        family,
        source,
        target,
        compile_operations(ups, converters),
        downgrade,
        exact,
        losses,
        moves,
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
            raise DanglingEdge(family, f"current version {current!r} is not one of the versions")
        index = {v: i for i, v in enumerate(ordered)}
        edges: dict[Version, Migration] = {}
        for m in migrations:
            for end in (m.source, m.target):
                if end not in index:
                    raise DanglingEdge(
                        family,
                        f"migration {m.source!r} -> {m.target!r} names unknown version {end!r}",
                        hint="known versions: " + ", ".join(map(repr, ordered)),
                    )
            if index[m.target] <= index[m.source]:
                raise CycleDetected(
                    family,
                    f"upgrade {m.source!r} -> {m.target!r} does not go to a newer version",
                    hint="declare upgrades old -> new; downgrades belong to the same edge",
                )
            if index[m.target] != index[m.source] + 1:
                raise GraphError(
                    family,
                    f"migration {m.source!r} -> {m.target!r} skips a version",
                    hint="migrations join adjacent versions only",
                )
            if m.source in edges:
                raise DuplicateEdge(
                    family,
                    f"two migrations from {m.source!r} to {m.target!r}",
                    hint="register each edge once (a document and Python both define it?)",
                )
            edges[m.source] = m
        cur = index[current]
        heads = [v for v in ordered[: cur + 1] if v not in edges]
        if ordered[cur + 1 :]:
            raise MultipleHeads(
                family,
                f"versions newer than current {current!r}: "
                + ", ".join(map(repr, ordered[cur + 1 :])),
                hint="make the newest version current",
            )
        if len(heads) > 1:
            stuck = [v for v in heads if v != current]
            raise UnreachableVersion(
                family,
                "no upgrade from " + ", ".join(map(repr, stuck)) + f" towards current {current!r}",
                hint="add the missing migration(s)",
            )
        return cls(family, scheme, ordered, current, edges)

    def path(self, source: Version, target: Version) -> list[tuple[Migration, bool]]:
        """Edges from ``source`` to ``target``; each with True for an upgrade step."""
        i, j = self.versions.index(source), self.versions.index(target)
        if i <= j:
            return [(self.edges[self.versions[k]], True) for k in range(i, j)]
        return [(self.edges[self.versions[k]], False) for k in range(i - 1, j - 1, -1)]
