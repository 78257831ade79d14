"""Schema difference -> migration operations: what ``new-version --update`` writes.

Added fields (with the default their schema gives), removed fields, confirmed renames and
moves, and the type changes :data:`CONVERSIONS` knows (int/string, naive/aware timestamps),
as alembic's ``revision --autogenerate`` derives operations from a table diff. Pure: schemas
in, operations out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from docket.core.errors import UsageError
from docket.core.migrations import (
    BUILTIN_CONVERTERS,
    Add,
    Convert,
    Move,
    Operation,
    Remove,
    Rename,
)

CONVERSIONS = {
    ("integer", "string"): "int-to-string",
    ("string", "integer"): "string-to-int",
    ("naive-datetime", "utc-datetime"): "naive-utc-to-aware",
}
"""Type changes ``--update`` writes a ``convert`` for: (old kind, new kind) -> converter."""


def props(schema: Any) -> Mapping[str, Any]:
    """A schema's ``properties`` (empty when it has none)."""
    found = schema.get("properties") if isinstance(schema, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _kind(schema: Any) -> str | None:
    if not isinstance(schema, Mapping):
        return None
    if "x-docket-type" in schema and schema["x-docket-type"] in ("naive-datetime", "utc-datetime"):
        return str(schema["x-docket-type"])
    types = schema.get("type")
    names = {types} if isinstance(types, str) else set(types or ()) - {"null"}
    return names.pop() if len(names) == 1 else None


_NO_DEFAULT = object()


def _default(schema: Any) -> Any:
    """The value ``--update`` adds for a new member: its ``default``, its ``const``, an object
    of its required fields' defaults, or null where null is allowed."""
    if not isinstance(schema, Mapping):
        return _NO_DEFAULT
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if props(schema) and schema.get("type") == "object":
        out = {}
        for name in schema.get("required", ()):
            value = _default(props(schema).get(name))
            if value is _NO_DEFAULT:
                return _NO_DEFAULT
            out[name] = value
        return out
    types = schema.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return None
    return _NO_DEFAULT


def split_field(text: str) -> tuple[str | None, str]:
    """``section.field`` as (section, field); a top-level name as (None, name)."""
    section, _, name = text.rpartition(".")
    return (section or None), name


def derive_operations(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    renames: Sequence[tuple[str, str]],
    managed: frozenset[str],
) -> tuple[list[Operation], list[Operation]]:
    """The upgrade and downgrade operations from schema ``old`` to schema ``new``.

    ``renames`` are confirmed renames (``section.field`` or a top-level name, old to new).
    Raises :class:`~docket.errors.UsageError` for a new required member without a default.
    """
    up: list[Operation] = []
    down: list[Operation] = []
    renamed_from = {split_field(a) for a, _ in renames}
    renamed_to = {split_field(b) for _, b in renames}
    for before, after in renames:
        (s1, f1), (s2, f2) = split_field(before), split_field(after)
        op: Operation = Rename(s1, f1, f2) if s1 == s2 else Move(s1, f1, s2, f2)
        up.append(op)
        down.insert(0, op.inverse())

    def added(section: str | None, name: str, schema: Any, required: bool) -> None:
        value = _default(schema)
        where = name if section is None else f"{section}.{name}"
        if value is _NO_DEFAULT:
            if required:
                raise UsageError(
                    "--update",
                    f"{where} is new and required, and its schema gives no default",
                    'add a "default" to its schema (or make it optional), then run again',
                )
            down.insert(0, Remove(section, name))
            return
        up.append(Add(section, name, value))
        down.insert(0, Remove(section, name, value))

    def removed(section: str | None, name: str, schema: Any, required: bool) -> None:
        value = _default(schema)
        up.append(Remove(section, name, None if value is _NO_DEFAULT else value))
        if required and value is _NO_DEFAULT:
            where = name if section is None else f"{section}.{name}"
            raise UsageError(
                "--update",
                f"{where} is gone, and the older version requires it with no default to "
                "give back on a downgrade",
                'add a "default" to its schema in the older version, or write the '
                "downgrade by hand",
            )
        if required or value is not _NO_DEFAULT:
            down.insert(0, Add(section, name, value))

    old_props, new_props = props(old), props(new)
    old_req, new_req = set(old.get("required", ())), set(new.get("required", ()))
    for name, schema in new_props.items():
        if name in managed or (None, name) in renamed_to:
            continue
        if name not in old_props:
            added(None, name, schema, name in new_req)
    for name, schema in old_props.items():
        if name in managed or (None, name) in renamed_from:
            continue
        if name not in new_props:
            removed(None, name, schema, name in old_req)
    for name, section_after in new_props.items():
        section_before: Any = old_props.get(name)
        if name in managed or not props(section_after) or not props(section_before):
            continue
        fields_before, fields_after = props(section_before), props(section_after)
        req_before = set(section_before.get("required", ()))
        req_after = set(section_after.get("required", ()))
        for f, schema in fields_after.items():
            if (name, f) in renamed_to:
                continue
            if f not in fields_before:
                added(name, f, schema, f in req_after)
                continue
            converter = CONVERSIONS.get((_kind(fields_before[f]) or "", _kind(schema) or ""))
            if converter is not None:
                op = Convert(name, f, converter)
                up.append(op)
                down.insert(0, op.inverse(BUILTIN_CONVERTERS))
        for f, schema in fields_before.items():
            if (name, f) not in renamed_from and f not in fields_after:
                removed(name, f, schema, f in req_before)
    return up, down
