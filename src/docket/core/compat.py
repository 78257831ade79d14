"""The typed difference between two versions of a family, and their compatibility class.

Compatibility follows Confluent Schema Registry's definitions for JSON Schema, applied to the
keyword subset docket's metaschema allows:

- **BACKWARD**: readers of the *new* version accept every container written at the *old* one
  (every difference of ``old -> new`` is one Confluent lists as compatible);
- **FORWARD**: readers of the *old* version accept every container written at the *new* one
  (the same test for ``new -> old``);
- **FULL**: both; **NONE**: neither.

Each :class:`Change` carries both verdicts, so a list of changes says exactly which ones break
which direction. Content models are Confluent's: an object schema is *open* when its
``additionalProperties`` is absent or ``true``, *closed* when ``false`` and *partially open*
when it is a schema. Keywords Confluent does not compare (``propertyNames``, ``format``) are
judged the same way as their neighbours: adding a constraint narrows, removing one widens.

One deliberate difference: the ``version`` member's ``const`` differs between every pair of
versions, because docket selects the schema by it. That change is reported as
``VERSION_CHANGED`` and breaks neither direction; otherwise no two versions could be
compatible.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docket.core.errors import json_pointer, show
from docket.core.family import Family
from docket.core.versions import Version


class Compatibility(enum.Enum):
    """Confluent Schema Registry's compatibility classes."""

    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"
    FULL = "FULL"
    NONE = "NONE"

    @classmethod
    def of(cls, backward: bool, forward: bool) -> Compatibility:
        if backward and forward:
            return cls.FULL
        if backward:
            return cls.BACKWARD
        if forward:
            return cls.FORWARD
        return cls.NONE


class ChangeKind(enum.Enum):
    """What changed at one place of a schema (Confluent's names where it has one)."""

    # annotations: never change which containers are valid
    ID_CHANGED = "ID_CHANGED"
    TITLE_CHANGED = "TITLE_CHANGED"
    DESCRIPTION_CHANGED = "DESCRIPTION_CHANGED"
    DEFAULT_CHANGED = "DEFAULT_CHANGED"
    COMMENT_CHANGED = "COMMENT_CHANGED"
    EXAMPLES_CHANGED = "EXAMPLES_CHANGED"
    DIALECT_CHANGED = "DIALECT_CHANGED"
    DOCKET_TYPE_CHANGED = "DOCKET_TYPE_CHANGED"
    VERSION_CHANGED = "VERSION_CHANGED"
    # type, const, enum
    TYPE_EXTENDED = "TYPE_EXTENDED"
    TYPE_NARROWED = "TYPE_NARROWED"
    TYPE_CHANGED = "TYPE_CHANGED"
    CONST_ADDED = "CONST_ADDED"
    CONST_REMOVED = "CONST_REMOVED"
    CONST_CHANGED = "CONST_CHANGED"
    ENUM_ADDED = "ENUM_ADDED"
    ENUM_REMOVED = "ENUM_REMOVED"
    ENUM_ARRAY_EXTENDED = "ENUM_ARRAY_EXTENDED"
    ENUM_ARRAY_NARROWED = "ENUM_ARRAY_NARROWED"
    ENUM_ARRAY_CHANGED = "ENUM_ARRAY_CHANGED"
    # strings
    MAX_LENGTH_ADDED = "MAX_LENGTH_ADDED"
    MAX_LENGTH_REMOVED = "MAX_LENGTH_REMOVED"
    MAX_LENGTH_INCREASED = "MAX_LENGTH_INCREASED"
    MAX_LENGTH_DECREASED = "MAX_LENGTH_DECREASED"
    MIN_LENGTH_ADDED = "MIN_LENGTH_ADDED"
    MIN_LENGTH_REMOVED = "MIN_LENGTH_REMOVED"
    MIN_LENGTH_INCREASED = "MIN_LENGTH_INCREASED"
    MIN_LENGTH_DECREASED = "MIN_LENGTH_DECREASED"
    PATTERN_ADDED = "PATTERN_ADDED"
    PATTERN_REMOVED = "PATTERN_REMOVED"
    PATTERN_CHANGED = "PATTERN_CHANGED"
    FORMAT_ADDED = "FORMAT_ADDED"
    FORMAT_REMOVED = "FORMAT_REMOVED"
    FORMAT_CHANGED = "FORMAT_CHANGED"
    # numbers
    MAXIMUM_ADDED = "MAXIMUM_ADDED"
    MAXIMUM_REMOVED = "MAXIMUM_REMOVED"
    MAXIMUM_INCREASED = "MAXIMUM_INCREASED"
    MAXIMUM_DECREASED = "MAXIMUM_DECREASED"
    MINIMUM_ADDED = "MINIMUM_ADDED"
    MINIMUM_REMOVED = "MINIMUM_REMOVED"
    MINIMUM_INCREASED = "MINIMUM_INCREASED"
    MINIMUM_DECREASED = "MINIMUM_DECREASED"
    # objects
    MAX_PROPERTIES_ADDED = "MAX_PROPERTIES_ADDED"
    MAX_PROPERTIES_REMOVED = "MAX_PROPERTIES_REMOVED"
    MAX_PROPERTIES_INCREASED = "MAX_PROPERTIES_INCREASED"
    MAX_PROPERTIES_DECREASED = "MAX_PROPERTIES_DECREASED"
    REQUIRED_ATTRIBUTE_ADDED = "REQUIRED_ATTRIBUTE_ADDED"
    REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED = "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
    REQUIRED_ATTRIBUTE_REMOVED = "REQUIRED_ATTRIBUTE_REMOVED"
    PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL = "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
    PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL = (
        "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
    )
    REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL = (
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
    )
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL = (
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
    )
    OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL = (
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
    )
    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = (
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
    )
    PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL = "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL"
    PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL = "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"
    PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = (
        "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
    )
    PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = (
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
    )
    ADDITIONAL_PROPERTIES_ADDED = "ADDITIONAL_PROPERTIES_ADDED"
    ADDITIONAL_PROPERTIES_REMOVED = "ADDITIONAL_PROPERTIES_REMOVED"
    ADDITIONAL_PROPERTIES_EXTENDED = "ADDITIONAL_PROPERTIES_EXTENDED"
    ADDITIONAL_PROPERTIES_NARROWED = "ADDITIONAL_PROPERTIES_NARROWED"
    PROPERTY_NAMES_ADDED = "PROPERTY_NAMES_ADDED"
    PROPERTY_NAMES_REMOVED = "PROPERTY_NAMES_REMOVED"
    # arrays
    ITEMS_ADDED = "ITEMS_ADDED"
    ITEMS_REMOVED = "ITEMS_REMOVED"
    MAX_ITEMS_ADDED = "MAX_ITEMS_ADDED"
    MAX_ITEMS_REMOVED = "MAX_ITEMS_REMOVED"
    MAX_ITEMS_INCREASED = "MAX_ITEMS_INCREASED"
    MAX_ITEMS_DECREASED = "MAX_ITEMS_DECREASED"


K = ChangeKind

COMPATIBLE_CHANGES: frozenset[ChangeKind] = frozenset(
    {
        K.ID_CHANGED,
        K.TITLE_CHANGED,
        K.DESCRIPTION_CHANGED,
        K.DEFAULT_CHANGED,
        K.COMMENT_CHANGED,
        K.EXAMPLES_CHANGED,
        K.DIALECT_CHANGED,
        K.DOCKET_TYPE_CHANGED,
        K.VERSION_CHANGED,
        K.TYPE_EXTENDED,
        K.CONST_REMOVED,
        K.ENUM_REMOVED,
        K.ENUM_ARRAY_EXTENDED,
        K.MAX_LENGTH_INCREASED,
        K.MAX_LENGTH_REMOVED,
        K.MIN_LENGTH_DECREASED,
        K.MIN_LENGTH_REMOVED,
        K.PATTERN_REMOVED,
        K.FORMAT_REMOVED,
        K.MAXIMUM_INCREASED,
        K.MAXIMUM_REMOVED,
        K.MINIMUM_DECREASED,
        K.MINIMUM_REMOVED,
        K.MAX_PROPERTIES_INCREASED,
        K.MAX_PROPERTIES_REMOVED,
        K.REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED,
        K.REQUIRED_ATTRIBUTE_REMOVED,
        K.PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL,
        K.REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL,
        K.OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
        K.PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL,
        K.PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
        K.ADDITIONAL_PROPERTIES_ADDED,
        K.ADDITIONAL_PROPERTIES_EXTENDED,
        K.PROPERTY_NAMES_REMOVED,
        K.ITEMS_REMOVED,
        K.MAX_ITEMS_INCREASED,
        K.MAX_ITEMS_REMOVED,
    }
)
"""Changes after which readers of the new schema still accept data valid at the old one."""

# The kind the same change has when the two schemas are swapped (for kinds whose reverse does
# not depend on the rest of the schema).
_REVERSE: dict[ChangeKind, ChangeKind] = {}
for _a, _b in [
    (K.TYPE_EXTENDED, K.TYPE_NARROWED),
    (K.CONST_ADDED, K.CONST_REMOVED),
    (K.ENUM_ADDED, K.ENUM_REMOVED),
    (K.ENUM_ARRAY_EXTENDED, K.ENUM_ARRAY_NARROWED),
    (K.MAX_LENGTH_ADDED, K.MAX_LENGTH_REMOVED),
    (K.MAX_LENGTH_INCREASED, K.MAX_LENGTH_DECREASED),
    (K.MIN_LENGTH_ADDED, K.MIN_LENGTH_REMOVED),
    (K.MIN_LENGTH_INCREASED, K.MIN_LENGTH_DECREASED),
    (K.PATTERN_ADDED, K.PATTERN_REMOVED),
    (K.FORMAT_ADDED, K.FORMAT_REMOVED),
    (K.MAXIMUM_ADDED, K.MAXIMUM_REMOVED),
    (K.MAXIMUM_INCREASED, K.MAXIMUM_DECREASED),
    (K.MINIMUM_ADDED, K.MINIMUM_REMOVED),
    (K.MINIMUM_INCREASED, K.MINIMUM_DECREASED),
    (K.MAX_PROPERTIES_ADDED, K.MAX_PROPERTIES_REMOVED),
    (K.MAX_PROPERTIES_INCREASED, K.MAX_PROPERTIES_DECREASED),
    (K.ADDITIONAL_PROPERTIES_ADDED, K.ADDITIONAL_PROPERTIES_REMOVED),
    (K.ADDITIONAL_PROPERTIES_EXTENDED, K.ADDITIONAL_PROPERTIES_NARROWED),
    (K.PROPERTY_NAMES_ADDED, K.PROPERTY_NAMES_REMOVED),
    (K.ITEMS_ADDED, K.ITEMS_REMOVED),
    (K.MAX_ITEMS_ADDED, K.MAX_ITEMS_REMOVED),
    (K.MAX_ITEMS_INCREASED, K.MAX_ITEMS_DECREASED),
]:
    _REVERSE[_a], _REVERSE[_b] = _b, _a
for _k in ChangeKind:
    _REVERSE.setdefault(_k, _k)  # annotations and *_CHANGED are their own reverse

_ABSENT: Any = object()


@dataclass(frozen=True)
class Change:
    """One difference between the old and the new schema, with both verdicts."""

    kind: ChangeKind
    pointer: str
    """Where in the schema: ``#`` plus a JSON Pointer (``#/properties/family``)."""
    old: Any = _ABSENT
    new: Any = _ABSENT
    backward: bool = True
    """Readers of the new version still accept containers of the old one."""
    forward: bool = True
    """Readers of the old version accept containers of the new one."""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "pointer": self.pointer,
            "backward": self.backward,
            "forward": self.forward,
        }
        if self.old is not _ABSENT:
            out["old"] = self.old
        if self.new is not _ABSENT:
            out["new"] = self.new
        if self.note:
            out["note"] = self.note
        return out

    def describe(self) -> str:
        text = self.kind.value
        if self.old is not _ABSENT or self.new is not _ABSENT:
            old = "-" if self.old is _ABSENT else _short(self.old)
            new = "-" if self.new is _ABSENT else _short(self.new)
            text += f" ({old} -> {new})"
        if self.note:
            text += f": {self.note}"
        return text


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema defines it: 1 == 1.0, but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _contains(values: Sequence[Any], item: Any) -> bool:
    return any(_json_equal(v, item) for v in values)


_ANNOTATIONS = {
    "$id": K.ID_CHANGED,
    "title": K.TITLE_CHANGED,
    "description": K.DESCRIPTION_CHANGED,
    "default": K.DEFAULT_CHANGED,
    "$comment": K.COMMENT_CHANGED,
    "examples": K.EXAMPLES_CHANGED,
    "$schema": K.DIALECT_CHANGED,
    "x-docket-type": K.DOCKET_TYPE_CHANGED,
}
_UPPER_BOUNDS = {
    "maxLength": "MAX_LENGTH",
    "maximum": "MAXIMUM",
    "maxProperties": "MAX_PROPERTIES",
    "maxItems": "MAX_ITEMS",
}
_LOWER_BOUNDS = {"minLength": "MIN_LENGTH", "minimum": "MINIMUM"}
_JSON_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")


def _types(schema: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a schema's ``type`` accepts (every type when absent)."""
    declared = schema.get("type")
    if declared is None:
        return frozenset(_JSON_TYPES)
    names = {declared} if isinstance(declared, str) else set(declared)
    if "number" in names:
        names.add("integer")  # every integer is a number
    return frozenset(names)


def _as_schema(value: Any) -> Mapping[str, Any]:
    if value is True:
        return {}
    if value is False:
        return {"not": {}}
    return value if isinstance(value, Mapping) else {}


def _is_false(schema: Mapping[str, Any]) -> bool:
    return schema == {"not": {}}


def _is_empty(schema: Mapping[str, Any]) -> bool:
    """Whether a schema accepts every value (it has annotations at most)."""
    return all(k in _ANNOTATIONS for k in schema)


def _open(schema: Mapping[str, Any]) -> bool:
    """Confluent's open content model: ``additionalProperties`` absent or ``true``."""
    return schema.get("additionalProperties", True) is True


def _partial(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The schema a partially open content model gives properties it does not list."""
    extra = schema.get("additionalProperties", True)
    return extra if isinstance(extra, Mapping) else None


@dataclass
class _Differ:
    changes: list[Change] = field(default_factory=list)
    root: bool = True

    def emit(
        self,
        kind: ChangeKind,
        path: Sequence[str | int],
        old: Any = _ABSENT,
        new: Any = _ABSENT,
        *,
        forward: bool | None = None,
        backward: bool | None = None,
        note: str = "",
    ) -> Change:
        change = Change(
            kind,
            "#" + json_pointer(path),
            old,
            new,
            kind in COMPATIBLE_CHANGES if backward is None else backward,
            _REVERSE[kind] in COMPATIBLE_CHANGES if forward is None else forward,
            note,
        )
        self.changes.append(change)
        return change

    def sub(self, old: Mapping[str, Any], new: Mapping[str, Any], path: list[str | int]) -> _Differ:
        """Compare two subschemas apart, to judge them as a whole before adding their changes."""
        inner = _Differ(root=False)
        inner.compare(old, new, path)
        return inner

    def compare(self, old: Any, new: Any, path: list[str | int]) -> None:
        o, n = _as_schema(old), _as_schema(new)
        self._annotations(o, n, path)
        self._type(o, n, path)
        self._values(o, n, path)
        self._bounds(o, n, path)
        self._strings(o, n, path)
        self._object(o, n, path)
        self._subschema("propertyNames", K.PROPERTY_NAMES_ADDED, o, n, path)
        self._subschema("items", K.ITEMS_ADDED, o, n, path)

    # --- keyword groups ---------------------------------------------------------------------

    def _annotations(
        self, o: Mapping[str, Any], n: Mapping[str, Any], path: list[str | int]
    ) -> None:
        for keyword, kind in _ANNOTATIONS.items():
            a, b = o.get(keyword, _ABSENT), n.get(keyword, _ABSENT)
            if a is _ABSENT and b is _ABSENT:
                continue
            if a is _ABSENT or b is _ABSENT or not _json_equal(a, b):
                self.emit(kind, [*path, keyword], a, b)

    def _type(self, o: Mapping[str, Any], n: Mapping[str, Any], path: list[str | int]) -> None:
        a, b = _types(o), _types(n)
        if a == b:
            return
        kind = K.TYPE_EXTENDED if b > a else K.TYPE_NARROWED if b < a else K.TYPE_CHANGED
        self.emit(kind, [*path, "type"], o.get("type", _ABSENT), n.get("type", _ABSENT))

    def _values(self, o: Mapping[str, Any], n: Mapping[str, Any], path: list[str | int]) -> None:
        if path == ["properties", "version"] and self.root and "const" in o and "const" in n:
            if not _json_equal(o["const"], n["const"]):
                self.emit(
                    K.VERSION_CHANGED,
                    [*path, "const"],
                    o["const"],
                    n["const"],
                    note="docket selects the schema by this member and migrates between them",
                )
        elif "const" in o or "const" in n:
            both = self._one_sided(o, n, path, "const", K.CONST_ADDED, K.CONST_REMOVED)
            if both is not None and not _json_equal(*both):
                self.emit(K.CONST_CHANGED, [*path, "const"], *both)
        if "enum" in o or "enum" in n:
            both = self._one_sided(o, n, path, "enum", K.ENUM_ADDED, K.ENUM_REMOVED)
            if both is None:
                return
            a, b = both
            wider = all(_contains(b, v) for v in a)
            narrower = all(_contains(a, v) for v in b)
            if wider and narrower:
                return
            kind = (
                K.ENUM_ARRAY_EXTENDED
                if wider
                else K.ENUM_ARRAY_NARROWED
                if narrower
                else K.ENUM_ARRAY_CHANGED
            )
            self.emit(kind, [*path, "enum"], a, b)

    def _one_sided(
        self,
        o: Mapping[str, Any],
        n: Mapping[str, Any],
        path: list[str | int],
        keyword: str,
        added: ChangeKind,
        removed: ChangeKind,
    ) -> tuple[Any, Any] | None:
        """Emit ``added`` or ``removed`` when only one side has ``keyword``; otherwise
        return both values to compare."""
        a, b = o.get(keyword, _ABSENT), n.get(keyword, _ABSENT)
        if a is _ABSENT or b is _ABSENT:
            self.emit(added if a is _ABSENT else removed, [*path, keyword], a, b)
            return None
        return a, b

    def _bounds(self, o: Mapping[str, Any], n: Mapping[str, Any], path: list[str | int]) -> None:
        for keywords, wider in ((_UPPER_BOUNDS, "INCREASED"), (_LOWER_BOUNDS, "DECREASED")):
            narrower = "DECREASED" if wider == "INCREASED" else "INCREASED"
            for keyword, stem in keywords.items():
                a, b = o.get(keyword), n.get(keyword)
                if a == b:
                    continue
                if a is None:
                    suffix = "ADDED"
                elif b is None:
                    suffix = "REMOVED"
                else:
                    suffix = wider if (b > a) == (wider == "INCREASED") else narrower
                self.emit(
                    ChangeKind[f"{stem}_{suffix}"],
                    [*path, keyword],
                    _ABSENT if a is None else a,
                    _ABSENT if b is None else b,
                )

    def _strings(self, o: Mapping[str, Any], n: Mapping[str, Any], path: list[str | int]) -> None:
        for keyword, stem in (("pattern", "PATTERN"), ("format", "FORMAT")):
            a, b = o.get(keyword), n.get(keyword)
            if a == b:
                continue
            suffix = "ADDED" if a is None else "REMOVED" if b is None else "CHANGED"
            self.emit(
                ChangeKind[f"{stem}_{suffix}"],
                [*path, keyword],
                _ABSENT if a is None else a,
                _ABSENT if b is None else b,
            )

    def _subschema(
        self,
        keyword: str,
        added: ChangeKind,
        o: Mapping[str, Any],
        n: Mapping[str, Any],
        path: list[str | int],
    ) -> None:
        a, b = o.get(keyword), n.get(keyword)
        if a is None and b is None:
            return
        if a is None:
            self.emit(added, [*path, keyword])
        elif b is None:
            self.emit(_REVERSE[added], [*path, keyword])
        else:
            self.compare(a, b, [*path, keyword])

    # --- objects ----------------------------------------------------------------------------

    def _object(self, o: Mapping[str, Any], n: Mapping[str, Any], path: list[str | int]) -> None:
        o_props: Mapping[str, Any] = o.get("properties", {})
        n_props: Mapping[str, Any] = n.get("properties", {})
        o_req, n_req = set(o.get("required", ())), set(n.get("required", ()))
        self._required(o_props, n_props, o_req, n_req, path)
        for name in [*o_props, *(k for k in n_props if k not in o_props)]:
            where: list[str | int] = [*path, "properties", name]
            if name in o_props and name in n_props:
                self.compare(o_props[name], n_props[name], where)
            elif name in o_props:
                self._removed(name, _as_schema(o_props[name]), o, n, where)
            else:
                self._added(name, _as_schema(n_props[name]), o, n, n_req, where)
        self._additional(o, n, path)

    def _required(
        self,
        o_props: Mapping[str, Any],
        n_props: Mapping[str, Any],
        o_req: set[str],
        n_req: set[str],
        path: list[str | int],
    ) -> None:
        # Properties listed on both sides (Confluent), and required names no side lists
        # (Confluent ignores those; they still decide validity, so they are judged the same way).
        both = [k for k in o_props if k in n_props]
        unlisted = sorted((o_req | n_req) - set(o_props) - set(n_props))
        for name in [*both, *unlisted]:
            was, now = name in o_req, name in n_req
            where: list[str | int] = [*path, "required", name]
            if was and not now:
                # Swapped, this is a requirement added: harmless only with a default.
                swapped_default = "default" in _as_schema(o_props.get(name, {}))
                self.emit(K.REQUIRED_ATTRIBUTE_REMOVED, where, forward=swapped_default)
            elif now and not was:
                kind = (
                    K.REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED
                    if "default" in _as_schema(n_props.get(name, {}))
                    else K.REQUIRED_ATTRIBUTE_ADDED
                )
                self.emit(kind, where, forward=True)

    def _added(
        self,
        name: str,
        schema: Mapping[str, Any],
        o: Mapping[str, Any],
        n: Mapping[str, Any],
        n_req: set[str],
        where: list[str | int],
    ) -> None:
        """A property the new schema lists and the old one does not."""
        if _open(o):
            # Old containers may hold this member already, with any value; old readers
            # accept it in new containers as an unlisted member.
            kind = (
                K.PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
                if _is_empty(schema)
                else K.PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
            )
            note = "" if _is_empty(schema) else "old containers may hold it with other values"
            self.emit(kind, where, forward=True, note=note)
            return
        partial = _partial(o)
        covered = forward = True
        note = ""
        if partial is not None:
            inner = self.sub(partial, schema, where)
            self.changes.extend(inner.changes)
            covered = all(c.backward for c in inner.changes)
            forward = all(c.forward for c in inner.changes)
        elif not _is_false(schema):
            forward = False
            note = "old readers refuse it: their content model is closed"
        if not covered:
            kind = K.PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
        elif name not in n_req:
            kind = K.OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
        elif "default" in schema:
            kind = K.REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
        else:
            kind = K.REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
        self.emit(kind, where, forward=forward, note=note)

    def _removed(
        self,
        name: str,
        schema: Mapping[str, Any],
        o: Mapping[str, Any],
        n: Mapping[str, Any],
        where: list[str | int],
    ) -> None:
        """A property the old schema lists and the new one does not."""
        if _open(n):
            # Swapped, the property is added to an open model: fine only with an empty schema.
            forward = _is_empty(schema)
            note = "" if forward else "new containers may hold it with other values"
            self.emit(K.PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL, where, forward=forward, note=note)
            return
        # Swapped, the property is added to an unopen model: fine unless required, no default.
        forward = name not in set(o.get("required", ())) or "default" in schema
        partial = _partial(n)
        if partial is not None:
            inner = self.sub(schema, partial, where)
            self.changes.extend(inner.changes)
            covered = all(c.backward for c in inner.changes)
            kind = (
                K.PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                if covered
                else K.PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
            )
            forward = forward and all(c.forward for c in inner.changes)
            self.emit(kind, where, forward=forward)
        else:
            # Removing a property the old schema forbade (``false``) accepts nothing new.
            self.emit(
                K.PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL,
                where,
                backward=_is_false(schema),
                forward=forward,
            )

    def _additional(
        self, o: Mapping[str, Any], n: Mapping[str, Any], path: list[str | int]
    ) -> None:
        where: list[str | int] = [*path, "additionalProperties"]
        a, b = o.get("additionalProperties", True), n.get("additionalProperties", True)
        if (a is not False) != (b is not False):
            kind = (
                K.ADDITIONAL_PROPERTIES_ADDED if b is not False else K.ADDITIONAL_PROPERTIES_REMOVED
            )
            self.emit(kind, where, a, b)
        elif a is False:
            return
        elif not isinstance(a, Mapping) and isinstance(b, Mapping):
            self.emit(K.ADDITIONAL_PROPERTIES_NARROWED, where, a, b)
        elif isinstance(a, Mapping) and not isinstance(b, Mapping):
            self.emit(K.ADDITIONAL_PROPERTIES_EXTENDED, where, a, b)
        elif isinstance(a, Mapping) and isinstance(b, Mapping):
            self.compare(a, b, where)


def diff_schemas(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every difference from ``old`` to ``new``, each with its backward and forward verdict."""
    differ = _Differ()
    differ.compare(old, new, [])
    return differ.changes


def classify(changes: Sequence[Change]) -> Compatibility:
    """The compatibility class of a list of changes."""
    return Compatibility.of(all(c.backward for c in changes), all(c.forward for c in changes))


@dataclass(frozen=True)
class PolicyChange:
    """A difference between two versions' restore policies (it never affects validity)."""

    section: str
    what: str
    old: Any
    new: Any

    def as_dict(self) -> dict[str, Any]:
        return {"section": self.section, "what": self.what, "old": self.old, "new": self.new}

    def describe(self) -> str:
        if self.what == "section policy":
            return f"{self.section}: {_policy_words(self.old)} -> {_policy_words(self.new)}"
        return f"{self.section}: {self.what}: {_short(self.old)} -> {_short(self.new)}"


def _policy_words(view: Any) -> str:
    """A section's policy (as :func:`_policy_view` gives it) in words."""
    if not isinstance(view, Mapping):
        return "no policy (not restored)"
    if not view["restore"]:
        return "not restored"
    fields = "every field" if view["fields"] == "all" else ", ".join(view["fields"])
    rules = f", rules {', '.join(view['rules'])}" if view["rules"] else ""
    return f"restores {fields} (mode {view['mode']}, unknown fields {view['unknown']}{rules})"


def _policy_view(family: Family, version: Version) -> dict[str, dict[str, Any]]:
    policy = family.policy(version)
    return {
        name: {
            "restore": sp.restore,
            "fields": list(sp.fields) or "all",
            "mode": sp.mode.value,
            "unknown": sp.unknown.value,
            "rules": [r.name for r in sp.rules],
        }
        for name, sp in policy.sections.items()
    }


def diff_policies(family: Family, old: Version, new: Version) -> list[PolicyChange]:
    """How the restore policy of ``new`` differs from that of ``old``, section by section."""
    a, b = _policy_view(family, old), _policy_view(family, new)
    out = []
    for section in [*a, *(s for s in b if s not in a)]:
        sa, sb = a.get(section), b.get(section)
        if sa is None or sb is None:
            out.append(PolicyChange(section, "section policy", sa, sb))
            continue
        for key in sa:
            if sa[key] != sb[key]:
                out.append(PolicyChange(section, key, sa[key], sb[key]))
    return out


@dataclass(frozen=True)
class VersionDiff:
    """What changes from version ``old`` to version ``new`` of a family."""

    family: str
    old: Version
    new: Version
    changes: tuple[Change, ...]
    policy: tuple[PolicyChange, ...]
    migration: tuple[str, ...]
    """The migration steps between the two versions, described."""

    @property
    def backward(self) -> bool:
        return all(c.backward for c in self.changes)

    @property
    def forward(self) -> bool:
        return all(c.forward for c in self.changes)

    @property
    def compatibility(self) -> Compatibility:
        return Compatibility.of(self.backward, self.forward)

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "old": self.old,
            "new": self.new,
            "compatibility": self.compatibility.value,
            "backward": self.backward,
            "forward": self.forward,
            "changes": [c.as_dict() for c in self.changes],
            "policy": [p.as_dict() for p in self.policy],
            "migration": list(self.migration),
        }


def diff_versions(family: Family, old: Version, new: Version) -> VersionDiff:
    """The typed schema changes, policy changes and migration path from ``old`` to ``new``."""
    changes = diff_schemas(family.schema(old), family.schema(new))
    steps = []
    for migration, up in family.graph.path(old, new):
        src, dst = (
            (migration.source, migration.target) if up else (migration.target, migration.source)
        )
        if migration.downgrade is None:
            back = "no downgrade defined"
        elif migration.exact:
            back = "exact downgrade"
        else:
            back = "lossy downgrade: " + "; ".join(migration.losses)
        if up:
            # The declared way back too: what an older reader gets from a newer writer.
            steps.append(f"{show(src)} -> {show(dst)}: upgrade")
            steps.append(f"{show(dst)} -> {show(src)}: {back} (declared)")
        else:
            steps.append(f"{show(src)} -> {show(dst)}: {back}")
    return VersionDiff(
        family.name,
        old,
        new,
        tuple(changes),
        tuple(diff_policies(family, old, new)),
        tuple(steps),
    )
