"""The check after a migration, narrowed to what the migration changed.

A container that :meth:`~docket.core.family.Family.load` migrates was valid at its own
version a moment before. A member (a section) or a section's field that no operation on the
path reads or writes is the very same value at the end, and when the target version gives it
the same subschema as the source version did, it is valid there too: only what the
migration touched, and the objects holding it, need checking again. :func:`narrowed` gives
the target version's schema with every such subschema replaced by ``true``; its verdict on
the migrated container is the full schema's verdict.

That holds only where a subschema is judged on its value alone, so narrowing is refused
(None) or kept to what is plainly safe:

- both versions use the same dialect (``$schema``);
- an object schema whose properties are narrowed has only keywords that apply nothing else
  to a property's value (:data:`_OBJECT_KEYWORDS`: no ``allOf``, ``if``, ``$ref``,
  ``patternProperties``, ``dependentSchemas``...);
- a subschema replaced holds no reference or anchor anywhere (``$ref``, ``$id``...), and
  is equal, JSON value for JSON value, in both versions;
- the migration's every step is written as operations (:func:`compiled_operations`): a
  Python function may change anything, and is checked in full.

A refused narrowing costs nothing but time: the full schema decides. Only the verdict is
narrowed; an invalid result is explained from the full schema (``Family._broken_step``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docket.core.codec import canonical
from docket.core.converters import Converter
from docket.core.operations import Convert, FieldRef, Operation

# Keywords of an object schema that judge a property's value only through ``properties``
# (or judge keys, counts and which members exist): the others may apply a subschema to the
# whole object, or to a property by its name's pattern.
_OBJECT_KEYWORDS = frozenset(
    {
        *("$schema", "$comment", "title", "description", "examples", "default", "deprecated"),
        *("readOnly", "writeOnly", "type", "required", "properties", "additionalProperties"),
        *("minProperties", "maxProperties", "propertyNames", "dependentRequired"),
    }
)
# Keywords that make a subschema's meaning depend on where it sits or what refers to it.
_PLACED = frozenset(
    {"$ref", "$dynamicRef", "$recursiveRef", "$id", "$anchor", "$dynamicAnchor", "$recursiveAnchor"}
)


@dataclass(frozen=True)
class Touched:
    """What a run of operations may change: whole members (``whole``) and, within sections,
    fields by name (``fields``)."""

    whole: frozenset[str] = frozenset()
    fields: Mapping[str, frozenset[str]] = field(default_factory=dict)


def touched_by(ops: Sequence[Operation]) -> Touched:
    """The members and fields ``ops`` may read or write (where a field is, and where its
    value goes). An operation that may make or move sections touches them whole."""
    whole: set[str] = set()
    fields: dict[str, set[str]] = {}

    def mark(place: FieldRef | None, entire: bool) -> None:
        if place is None:
            return
        section, name = place
        if section is None:
            whole.add(name)
        elif entire:
            whole.add(section)
        else:
            fields.setdefault(section, set()).add(name)

    for op in ops:
        mark(op.place, op.regroups)
        mark(op.result(), op.regroups)
    return Touched(frozenset(whole), {k: frozenset(v) for k, v in fields.items()})


def _field_schema(schema: Mapping[str, Any], section: str, name: str) -> Any:
    """The subschema of field ``name`` of section ``section`` (None: not declared)."""
    sec = schema.get("properties", {}).get(section)
    props = sec.get("properties") if isinstance(sec, Mapping) else None
    return props.get(name) if isinstance(props, Mapping) else None


def shown_fields(
    steps: Sequence[tuple[Sequence[Operation], Mapping[str, Converter]]],
    source: Mapping[str, Any],
    target: Mapping[str, Any],
) -> dict[str, frozenset[str]]:
    """The fields (by section) that a path of operations (each step's operations, with the
    converters they were compiled with) leaves valid at ``target`` for every container valid
    at ``source``: written by one ``convert`` and touched by no other operation, whose
    converter shows its output valid for the field's two schemas
    (:meth:`~docket.core.converters.Converter.shown_valid`). What the value was at
    ``source`` is what the conversion took, so the target schema need not judge it again."""
    touches: dict[FieldRef, int] = {}
    converts: dict[FieldRef, Converter | None] = {}
    for ops, converters in steps:
        for op in ops:
            result = op.result()
            for place in {op.place} if result is None else {op.place, result}:
                touches[place] = touches.get(place, 0) + 1
            if isinstance(op, Convert) and op.section is not None:
                converts[op.place] = converters.get(op.converter)
    out: dict[str, set[str]] = {}
    for (section, name), converter in converts.items():
        if section is None or converter is None or touches[(section, name)] != 1:
            continue
        before = _field_schema(source, section, name)
        after = _field_schema(target, section, name)
        if before is not None and after is not None and converter.shown_valid(before, after):
            out.setdefault(section, set()).add(name)
    return {k: frozenset(v) for k, v in out.items()}


def _placed(schema: Any) -> bool:
    """Whether a reference or an anchor is anywhere in ``schema``."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if not _PLACED.isdisjoint(node):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _plain_object(schema: Any) -> bool:
    return isinstance(schema, Mapping) and all(
        k in _OBJECT_KEYWORDS or k.startswith("x-") for k in schema
    )


def _same(a: Any, b: Any) -> bool:
    # canonical(), not ==: 1 == True in Python, but not in JSON.
    return not _placed(a) and canonical(a) == canonical(b)


# What keep() says of a field the migration leaves valid by construction.
_SHOWN = "shown"


def _narrow(source: Any, target: Any, keep: Any) -> tuple[Any, bool]:
    """``target`` (an object schema) with its properties not in ``keep`` and the same in
    ``source`` replaced by true, and whether any was; ``target`` itself when it cannot be
    narrowed. ``keep(name)`` says, for a property: True (keep it whole), a function saying
    the same of its fields (narrow inside it), :data:`_SHOWN` (replace it: its value is
    shown valid whatever the two schemas say) or False (free to replace when the same)."""
    if not (_plain_object(source) and _plain_object(target)):
        return target, False
    before = source.get("properties")
    after = target.get("properties")
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return target, False
    out = dict(target)
    props: dict[str, Any] = {}
    changed = False
    for name, sub in after.items():
        wanted = keep(name)
        if wanted is True or name not in before:
            props[name] = sub
        elif wanted is _SHOWN:
            props[name], changed = True, True
        elif wanted is False:
            if _same(before[name], sub):
                props[name], changed = True, True
            else:
                props[name] = sub
        else:
            inner, deeper = _narrow(before[name], sub, wanted)
            props[name] = inner
            changed = changed or deeper
    out["properties"] = props
    return out, changed


def narrowed(
    source: Mapping[str, Any],
    target: Mapping[str, Any],
    touched: Touched,
    shown: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, Any] | None:
    """The schema ``target`` narrowed to what ``touched`` names, for containers valid under
    ``source`` (see the module); None when nothing can be narrowed. ``shown`` names fields
    (by section) that the migration leaves valid at ``target`` by construction, each
    written by one conversion whose converter shows it for the field's two schemas
    (:meth:`~docket.core.converters.Converter.shown_valid`): they are left out too."""
    if source.get("$schema") != target.get("$schema"):
        return None
    shown = shown or {}

    def keep(name: str) -> Any:
        if name in touched.whole:
            return True
        fields = touched.fields.get(name)
        if fields is None:
            return False
        proven = shown.get(name, frozenset())
        return lambda f: _SHOWN if f in proven else f in fields

    out, changed = _narrow(source, target, keep)
    return dict(out) if changed else None


def _always(schema: Any) -> bool:
    """Whether ``schema`` is one every value passes (``true`` or ``{}``)."""
    return schema is True or (isinstance(schema, Mapping) and not schema)


def pruned(schema: Any) -> Any:
    """``schema`` (a :func:`narrowed` one) without the ``properties`` entries that are
    ``true``, where the object schema around them judges other members by nothing either
    (``additionalProperties`` absent, ``true`` or ``{}``): the same verdict on every value,
    and the validator no longer looks the members up (a third of the check's time for
    Cinder's containers). Only plain object schemas (what :func:`narrowed` descends into)
    are pruned; anything else is kept as it is."""
    if not _plain_object(schema):
        return schema
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return schema
    out = dict(schema)
    if _always(schema.get("additionalProperties", True)):
        out["properties"] = {k: pruned(v) for k, v in props.items() if not _always(v)}
    else:
        out["properties"] = {k: pruned(v) for k, v in props.items()}
    return out
