"""Strategies of containers from a family's version documents: valid ones, one section, and
containers broken in one known way (with where docket reports the problem)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from docket.core.codec import canonical
from docket.core.errors import DocketError, json_pointer, show
from docket.core.family import Container, Family
from docket.core.versions import Version, VersionScheme
from docket.testing._generate import Avoid, Path, declared_types, from_schema, type_matches


class UnknownSection(DocketError, LookupError):
    """A version's schema does not define the section asked for."""

    def __init__(self, family: str, version: Any, name: str, known: Sequence[str]) -> None:
        super().__init__(name)
        self.family = family
        self.version = version
        self.name = name
        self.hint = "sections: " + (", ".join(known) or "none")

    def describe(self) -> str:
        return f"{self.family} v{self.version} has no section {show(self.name)}"


# --- strategies ------------------------------------------------------------------------------


def _members(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    props = schema.get("properties", {})
    return props if isinstance(props, Mapping) else {}


def _avoid(family: Family) -> Avoid:
    """Names every version declares at each location: undeclared members must not take them.

    An undeclared member named like a later version's field would be a field of that
    version with a value its schema may refuse, which no real writer of the older version
    produces.
    """
    avoid: dict[Path, set[str]] = {}

    def walk(schema: Any, path: Path) -> None:
        if not isinstance(schema, Mapping):
            return
        props = _members(schema)
        avoid.setdefault(path, set()).update(props)
        for name, sub in props.items():
            walk(sub, (*path, name))

    for v in family.versions:
        walk(family.schema(v), ())
        integrity = family.spec(v).integrity
        if integrity is not None:
            avoid[()].update(m for m in (integrity.digest, integrity.signature) if m)
    avoid[()].add("version")
    return {k: frozenset(v) for k, v in avoid.items()}


def _version_of(family: Family, version: Version | None) -> Version:
    v = family.current if version is None else version
    family.spec(v)  # raises the typed error for an unknown version
    return v


def _content_schema(family: Family, version: Version) -> dict[str, Any]:
    """The version's schema without the members :meth:`Family.new` sets (version, integrity)."""
    schema = dict(family.schema(version))
    integrity = family.spec(version).integrity
    managed = {"version"}
    if integrity is not None:
        managed |= {m for m in (integrity.digest, integrity.signature) if m}
    schema["properties"] = {k: v for k, v in _members(schema).items() if k not in managed}
    schema["required"] = [r for r in schema.get("required", ()) if r not in managed]
    return schema


def containers(family: Family, version: Version | None = None) -> st.SearchStrategy[Container]:
    """Valid containers of ``version`` (current by default), sealed when the version has
    integrity members (signed too when the family has a signing key)."""
    v = _version_of(family, version)
    data = from_schema(_content_schema(family, v), (), _avoid(family))
    return data.map(lambda d: family.new(d, version=v))


def sections(family: Family, version: Version | None, name: str) -> st.SearchStrategy[Any]:
    """Valid values of one section (top-level member) of ``version``'s containers."""
    v = _version_of(family, version)
    members = _members(family.schema(v))
    if name not in members or name == "version":
        raise UnknownSection(family.name, v, name, [m for m in members if m != "version"])
    return from_schema(members[name], (name,), _avoid(family))


@dataclass(frozen=True)
class InvalidContainer:
    """A container that breaks its version's schema in one known way."""

    data: dict[str, Any]
    pointer: str
    """JSON Pointer where the problem is reported (for a missing or undeclared member: the
    object that lacks or has it)."""
    reason: str
    """What was done: ``wrong type``, ``missing required``, ``undeclared member``,
    ``out of range``, ``bad version``, ``bad digest``, ``bad signature``."""
    version: Version
    """The version of the valid container it was made from."""


@dataclass(frozen=True)
class _Mutation:
    reason: str
    segments: tuple[str | int, ...]
    apply: Callable[[dict[str, Any]], None]
    pointer: tuple[str | int, ...]


_KIND_ORDER = (
    "bad version",
    "missing required",
    "undeclared member",
    "wrong type",
    "out of range",
    "bad digest",
    "bad signature",
)
_WRONG_TYPED: tuple[Any, ...] = (None, True, 7, 1.5, "docket", [], {})


def _at(data: Any, segments: Sequence[str | int]) -> Any:
    for seg in segments:
        data = data[seg]
    return data


def _setter(segments: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        _at(data, segments[:-1])[segments[-1]] = copy.deepcopy(value)

    return apply


def _deleter(segments: tuple[str | int, ...]) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        del _at(data, segments[:-1])[segments[-1]]

    return apply


def _wrong_value(schema: Mapping[str, Any]) -> Any:
    """A value the schema refuses for its type (or const/enum) alone, or None if there is none."""
    if "type" in schema:
        types = declared_types(schema)
        for value in _WRONG_TYPED:
            if not type_matches(value, types):
                return (value,)
        return None
    if "const" in schema or "enum" in schema:
        allowed = [schema["const"]] if "const" in schema else list(schema["enum"])
        for value in ("docket-not-allowed", 7, None, True):
            if all(canonical(value) != canonical(a) for a in allowed):
                return (value,)
    return None


def _out_of_range(schema: Mapping[str, Any], value: Any) -> Any:
    """A same-typed value just outside the schema's bounds, or None."""
    if isinstance(value, str) and "const" not in schema and "enum" not in schema:
        if "maxLength" in schema:
            return ("x" * (int(schema["maxLength"]) + 1),)
        if schema.get("minLength", 0) > 0:
            return ("",)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema:
            return (type(value)(schema["minimum"]) - 1,)
        if "maximum" in schema:
            return (type(value)(schema["maximum"]) + 1,)
    return None


def _mutations(value: Any, schema: Any, segs: tuple[str | int, ...]) -> Iterator[_Mutation]:
    """Every one-way-wrong change of ``value`` that ``schema`` refuses (root members aside)."""
    if not isinstance(schema, Mapping):
        return
    if segs:
        wrong = _wrong_value(schema)
        if wrong is not None:
            yield _Mutation("wrong type", segs, _setter(segs, wrong[0]), segs)
        outside = _out_of_range(schema, value)
        if outside is not None:
            yield _Mutation("out of range", segs, _setter(segs, outside[0]), segs)
    if isinstance(value, dict):
        props = _members(schema)
        for name in schema.get("required", ()):
            if name in value and (segs or name != "version"):
                yield _Mutation("missing required", segs, _deleter((*segs, name)), segs)
        addl = schema.get("additionalProperties", True)
        if addl is False:
            extra = "x-docket-undeclared"
            while extra in props:
                extra += "-"
            yield _Mutation("undeclared member", segs, _setter((*segs, extra), 0), segs)
        for key, child in value.items():
            if not segs and key == "version":
                continue
            sub = props.get(key, addl if isinstance(addl, Mapping) else None)
            yield from _mutations(child, sub, (*segs, key))
    elif isinstance(value, list):
        items = schema.get("items")
        for i, child in enumerate(value):
            yield from _mutations(child, items, (*segs, i))


def _version_mutations(family: Family) -> Iterator[_Mutation]:
    scheme, versions = family.scheme, family.versions
    yield _Mutation("bad version", (), _deleter(("version",)), ())
    newest = versions[-1]
    if scheme is VersionScheme.INTEGER:
        malformed: Any = f"v{newest}"
        too_new: Any = int(newest) + 1
        unknown: Any = next((n for n in range(int(newest)) if n not in versions), None)
    else:
        malformed = 1
        head, *_ = str(newest).split(".")
        too_new = f"{int(head) + 1}.0.0"
        unknown = next(
            (
                c
                for c in ("0.0.0", "0.0.1", "0.1")
                if c not in versions and scheme.key(c) < scheme.key(newest)
            ),
            None,
        )
    for bad in (malformed, too_new, unknown):
        if bad is not None:
            yield _Mutation("bad version", ("version",), _setter(("version",), bad), ("version",))


def _integrity_mutations(family: Family, version: Version) -> Iterator[_Mutation]:
    integrity = family.spec(version).integrity
    if integrity is None:
        return
    member = integrity.digest

    def tamper_digest(data: dict[str, Any]) -> None:
        zeros = "sha256:" + "0" * 64
        data[member] = zeros if data.get(member) != zeros else "sha256:" + "1" * 64

    yield _Mutation("bad digest", (member,), tamper_digest, (member,))
    if family.signing_key is not None and integrity.signature:
        sig = integrity.signature

        def tamper_signature(data: dict[str, Any]) -> None:
            zeros = "hmac-sha256:" + "0" * 64
            data[sig] = zeros if data.get(sig) != zeros else "hmac-sha256:" + "1" * 64

        yield _Mutation("bad signature", (sig,), tamper_signature, (sig,))


def invalid_containers(
    family: Family, version: Version | None = None
) -> st.SearchStrategy[InvalidContainer]:
    """Containers of ``version`` broken in one known way each, with where it is reported."""
    v = _version_of(family, version)
    schema = family.schema(v)
    valid_containers = containers(family, v)

    @st.composite
    def build(draw: st.DrawFn) -> InvalidContainer:
        valid = draw(valid_containers)
        options = [
            *_version_mutations(family),
            *_integrity_mutations(family, v),
            *_mutations(valid.data, schema, ()),
        ]
        # Pick the kind of problem first, so rare kinds (a bad signature) are as common as
        # frequent ones (a wrong type, with a site per field).
        kinds: dict[str, list[_Mutation]] = {}
        for option in options:
            kinds.setdefault(option.reason, []).append(option)
        kind = draw(st.sampled_from(sorted(kinds, key=_KIND_ORDER.index)))
        chosen = draw(st.sampled_from(kinds[kind]))
        data = copy.deepcopy(valid.data)
        chosen.apply(data)
        return InvalidContainer(data, json_pointer(chosen.pointer), chosen.reason, v)

    return build()
