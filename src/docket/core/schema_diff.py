"""The typed difference between two JSON Schemas: every :class:`~docket.core.changes.Change`
from one to the other, each with its backward and forward verdict, over the keyword subset
docket's metaschema allows (the rules are in :mod:`docket.core.compat`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docket.core.changes import ABSENT, COMPATIBLE_CHANGES, REVERSE, Change, ChangeKind
from docket.core.changes import ChangeKind as K


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
        old: Any = ABSENT,
        new: Any = ABSENT,
        *,
        forward: bool | None = None,
        backward: bool | None = None,
        note: str = "",
    ) -> Change:
        change = Change(
            kind,
            tuple(path),
            old,
            new,
            kind in COMPATIBLE_CHANGES if backward is None else backward,
            REVERSE[kind] in COMPATIBLE_CHANGES if forward is None else forward,
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
            a, b = o.get(keyword, ABSENT), n.get(keyword, ABSENT)
            if a is ABSENT and b is ABSENT:
                continue
            if a is ABSENT or b is ABSENT or not _json_equal(a, b):
                self.emit(kind, [*path, keyword], a, b)

    def _type(self, o: Mapping[str, Any], n: Mapping[str, Any], path: list[str | int]) -> None:
        a, b = _types(o), _types(n)
        if a == b:
            return
        kind = K.TYPE_EXTENDED if b > a else K.TYPE_NARROWED if b < a else K.TYPE_CHANGED
        self.emit(kind, [*path, "type"], o.get("type", ABSENT), n.get("type", ABSENT))

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
        a, b = o.get(keyword, ABSENT), n.get(keyword, ABSENT)
        if a is ABSENT or b is ABSENT:
            self.emit(added if a is ABSENT else removed, [*path, keyword], a, b)
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
                    ABSENT if a is None else a,
                    ABSENT if b is None else b,
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
                ABSENT if a is None else a,
                ABSENT if b is None else b,
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
            self.emit(REVERSE[added], [*path, keyword])
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
                self._added(name, _as_schema(n_props[name]), o, n_req, where)
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
