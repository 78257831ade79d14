"""Typed schema diffs and Confluent's compatibility classes over the metaschema's keywords."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket import load_registry
from docket.core.compat import (
    COMPATIBLE_CHANGES,
    ChangeKind,
    Compatibility,
    classify,
    diff_schemas,
    diff_versions,
)
from docket.core.errors import SchemaDocumentError
from docket.testing._generate import from_schema

K = ChangeKind
BM = load_registry().family("backup-metadata")


def kinds(old: dict[str, Any], new: dict[str, Any]) -> dict[str, ChangeKind]:
    return {c.pointer: c.kind for c in diff_schemas(old, new)}


def verdict(old: dict[str, Any], new: dict[str, Any]) -> Compatibility:
    return classify(diff_schemas(old, new))


def obj(props: dict[str, Any], required: list[str] = (), **extra: Any) -> dict[str, Any]:  # type: ignore[assignment]
    return {"type": "object", "properties": props, "required": list(required), **extra}


S = {"type": "string"}


# --- Confluent's rules, one by one -----------------------------------------------------------


def test_identical_schemas_have_no_changes_and_are_full() -> None:
    schema = obj({"a": S}, ["a"], additionalProperties=False)
    assert diff_schemas(schema, copy.deepcopy(schema)) == []
    assert verdict(schema, schema) is Compatibility.FULL


def test_adding_a_property_to_an_open_model_breaks_backward_only() -> None:
    old, new = obj({"a": S}), obj({"a": S, "b": S})
    assert kinds(old, new) == {"#/properties/b": K.PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL}
    assert verdict(old, new) is Compatibility.FORWARD


def test_adding_an_empty_schema_property_to_an_open_model_is_full() -> None:
    old, new = obj({"a": S}), obj({"a": S, "b": {"description": "anything"}})
    assert kinds(old, new) == {
        "#/properties/b": K.PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    }
    assert verdict(old, new) is Compatibility.FULL


def test_optional_property_added_to_a_closed_model_breaks_forward_only() -> None:
    old = obj({"a": S}, additionalProperties=False)
    new = obj({"a": S, "b": S}, additionalProperties=False)
    assert kinds(old, new) == {"#/properties/b": K.OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL}
    assert verdict(old, new) is Compatibility.BACKWARD


def test_required_property_added_to_a_closed_model_breaks_backward_unless_defaulted() -> None:
    old = obj({"a": S}, additionalProperties=False)
    new = obj({"a": S, "b": S}, ["b"], additionalProperties=False)
    assert kinds(old, new)["#/properties/b"] is K.REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
    assert verdict(old, new) is Compatibility.NONE
    defaulted = obj({"a": S, "b": {**S, "default": "x"}}, ["b"], additionalProperties=False)
    assert (
        kinds(old, defaulted)["#/properties/b"]
        is K.REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
    )
    assert verdict(old, defaulted) is Compatibility.BACKWARD


def test_removing_a_property_mirrors_adding_it() -> None:
    closed_a = obj({"a": S}, additionalProperties=False)
    closed_ab = obj({"a": S, "b": S}, additionalProperties=False)
    assert kinds(closed_ab, closed_a) == {
        "#/properties/b": K.PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL
    }
    assert verdict(closed_ab, closed_a) is Compatibility.FORWARD
    assert kinds(obj({"a": S, "b": S}), obj({"a": S})) == {
        "#/properties/b": K.PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
    }
    assert verdict(obj({"a": S, "b": S}), obj({"a": S})) is Compatibility.BACKWARD


def test_a_partially_open_model_covers_a_property_whose_schema_fits() -> None:
    old = obj({"a": S}, additionalProperties=S)
    same = obj({"a": S, "b": S}, additionalProperties=S)
    assert kinds(old, same)["#/properties/b"] is K.OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
    assert verdict(old, same) is Compatibility.FULL
    wider = obj({"a": S, "b": {"type": ["string", "null"]}}, additionalProperties=S)
    assert kinds(old, wider)["#/properties/b"] is K.OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
    assert verdict(old, wider) is Compatibility.BACKWARD  # old readers refuse a null b
    other = obj({"a": S, "b": {"type": "integer"}}, additionalProperties=S)
    assert (
        kinds(old, other)["#/properties/b"]
        is K.PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    )
    assert verdict(old, other) is Compatibility.NONE


def test_required_changes() -> None:
    old, new = obj({"a": S}), obj({"a": S}, ["a"])
    assert kinds(old, new) == {"#/required/a": K.REQUIRED_ATTRIBUTE_ADDED}
    assert verdict(old, new) is Compatibility.FORWARD
    assert kinds(new, old) == {"#/required/a": K.REQUIRED_ATTRIBUTE_REMOVED}
    assert verdict(new, old) is Compatibility.BACKWARD


@pytest.mark.parametrize(
    ("old", "new", "kind", "compat"),
    [
        ({"type": "integer"}, {"type": "number"}, K.TYPE_EXTENDED, Compatibility.BACKWARD),
        ({"type": ["string", "null"]}, {"type": "string"}, K.TYPE_NARROWED, Compatibility.FORWARD),
        ({"type": "string"}, {"type": "integer"}, K.TYPE_CHANGED, Compatibility.NONE),
        ({"type": "string"}, {}, K.TYPE_EXTENDED, Compatibility.BACKWARD),
        ({"maxLength": 5}, {"maxLength": 9}, K.MAX_LENGTH_INCREASED, Compatibility.BACKWARD),
        ({"maxLength": 5}, {}, K.MAX_LENGTH_REMOVED, Compatibility.BACKWARD),
        ({}, {"maxLength": 5}, K.MAX_LENGTH_ADDED, Compatibility.FORWARD),
        ({"minLength": 2}, {"minLength": 1}, K.MIN_LENGTH_DECREASED, Compatibility.BACKWARD),
        ({"minimum": 0}, {"minimum": 1}, K.MINIMUM_INCREASED, Compatibility.FORWARD),
        ({"maximum": 3}, {"maximum": 2.5}, K.MAXIMUM_DECREASED, Compatibility.FORWARD),
        ({"maxItems": 3}, {"maxItems": 4}, K.MAX_ITEMS_INCREASED, Compatibility.BACKWARD),
        ({"maxProperties": 3}, {}, K.MAX_PROPERTIES_REMOVED, Compatibility.BACKWARD),
        ({"pattern": "^a"}, {"pattern": "^b"}, K.PATTERN_CHANGED, Compatibility.NONE),
        ({}, {"pattern": "^a"}, K.PATTERN_ADDED, Compatibility.FORWARD),
        ({"format": "uuid"}, {}, K.FORMAT_REMOVED, Compatibility.BACKWARD),
        ({"enum": [1, 2]}, {"enum": [1, 2, 3]}, K.ENUM_ARRAY_EXTENDED, Compatibility.BACKWARD),
        ({"enum": [1, 2]}, {"enum": [2]}, K.ENUM_ARRAY_NARROWED, Compatibility.FORWARD),
        ({"enum": [1, 2]}, {"enum": [2, 3]}, K.ENUM_ARRAY_CHANGED, Compatibility.NONE),
        ({}, {"enum": ["x"]}, K.ENUM_ADDED, Compatibility.FORWARD),
        ({"const": 1}, {"const": 2}, K.CONST_CHANGED, Compatibility.NONE),
        ({"const": 1}, {}, K.CONST_REMOVED, Compatibility.BACKWARD),
        ({"title": "a"}, {"title": "b"}, K.TITLE_CHANGED, Compatibility.FULL),
        ({"description": "a"}, {}, K.DESCRIPTION_CHANGED, Compatibility.FULL),
        (
            {"x-docket-type": "naive-datetime"},
            {"x-docket-type": "utc-datetime"},
            K.DOCKET_TYPE_CHANGED,
            Compatibility.FULL,
        ),
        (
            {"additionalProperties": False},
            {"additionalProperties": True},
            K.ADDITIONAL_PROPERTIES_ADDED,
            Compatibility.BACKWARD,
        ),
        (
            {"additionalProperties": True},
            {"additionalProperties": {"type": "string"}},
            K.ADDITIONAL_PROPERTIES_NARROWED,
            Compatibility.FORWARD,
        ),
        (
            {},
            {"propertyNames": {"maxLength": 3}},
            K.PROPERTY_NAMES_ADDED,
            Compatibility.FORWARD,
        ),
        ({"items": {"type": "string"}}, {}, K.ITEMS_REMOVED, Compatibility.BACKWARD),
    ],
)
def test_keyword_changes(
    old: dict[str, Any], new: dict[str, Any], kind: ChangeKind, compat: Compatibility
) -> None:
    changes = diff_schemas(old, new)
    assert [c.kind for c in changes] == [kind]
    assert classify(changes) is compat
    assert (kind in COMPATIBLE_CHANGES) is changes[0].backward


def test_1_and_1_0_are_equal_but_true_is_not_1() -> None:
    assert diff_schemas({"const": 1}, {"const": 1.0}) == []
    assert [c.kind for c in diff_schemas({"const": 1}, {"const": True})] == [K.CONST_CHANGED]
    assert [c.kind for c in diff_schemas({"enum": [1]}, {"enum": [True]})] == [K.ENUM_ARRAY_CHANGED]


def test_nested_changes_carry_their_pointer() -> None:
    old = obj({"sec": obj({"f": {"type": "string", "maxLength": 10}})})
    new = obj({"sec": obj({"f": {"type": "string", "maxLength": 5}})})
    (change,) = diff_schemas(old, new)
    assert change.pointer == "#/properties/sec/properties/f/maxLength"
    # the place is kept as segments; `pointer` and `json_path` render them
    assert change.segments == ("properties", "sec", "properties", "f", "maxLength")
    assert change.json_path == '$["properties"]["sec"]["properties"]["f"]["maxLength"]'
    assert (change.old, change.new) == (10, 5)
    assert change.as_dict() == {
        "kind": "MAX_LENGTH_DECREASED",
        "pointer": "#/properties/sec/properties/f/maxLength",
        "backward": False,
        "forward": True,
        "old": 10,
        "new": 5,
    }


# --- the bundled family ---------------------------------------------------------------------


def test_backup_metadata_1_to_2_is_full_and_widens_the_restore_policy() -> None:
    result = diff_versions(BM, 1, 2)
    assert result.compatibility is Compatibility.FULL
    assert {c.kind for c in result.changes} == {K.TITLE_CHANGED, K.VERSION_CHANGED}
    fields = [p for p in result.policy if p.what == "fields"]
    assert fields[0].section == "volume-base-metadata"
    assert "encryption_key_id" in fields[0].new and "encryption_key_id" not in fields[0].old
    assert result.migration[0] == "1 -> 2: upgrade"
    # The declared way back is shown beside the upgrade.
    assert result.migration[1].startswith("2 -> 1: lossy downgrade: volume-base-metadata.")
    assert result.migration[1].endswith("(declared)") and len(result.migration) == 2
    down = diff_versions(BM, 2, 1)
    assert down.migration[0].startswith("2 -> 1: lossy downgrade: ")


def test_backup_metadata_2_to_3_is_none_and_says_why() -> None:
    result = diff_versions(BM, 2, 3)
    assert result.compatibility is Compatibility.NONE
    by_pointer = {c.pointer: c for c in result.changes}
    family = by_pointer["#/properties/family"]
    assert family.kind is K.PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
    assert (family.backward, family.forward) == (False, True)
    created = by_pointer["#/properties/volume-base-metadata/properties/created_at/pattern"]
    assert created.kind is K.PATTERN_CHANGED and not created.backward and not created.forward
    data = result.as_dict()
    assert data["compatibility"] == "NONE" and data["old"] == 2 and data["new"] == 3
    assert len(data["changes"]) == len(result.changes)


# --- the verdict is sound: compatible means valid data stays valid ---------------------------

NAMES = st.sampled_from(["a", "b", "c"])
TYPES = st.lists(
    st.sampled_from(["string", "integer", "number", "boolean", "null"]),
    min_size=1,
    max_size=3,
    unique=True,
)


@st.composite
def leaf(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": draw(TYPES)}
    if draw(st.booleans()):
        schema["maxLength"] = draw(st.integers(0, 4))
    if draw(st.booleans()):
        schema["minLength"] = draw(st.integers(0, 2))
    if draw(st.booleans()):
        schema["maximum"] = draw(st.integers(-3, 3))
    if draw(st.booleans()):
        schema["minimum"] = draw(st.integers(-3, 3))
    if draw(st.integers(0, 4)) == 0:
        schema["enum"] = draw(
            st.lists(st.sampled_from(["", "x", 0, 1, 2.5, True, None]), min_size=1, max_size=3)
        )
    if draw(st.integers(0, 4)) == 0:
        schema["pattern"] = draw(st.sampled_from(["^x", "y$", "^[a-z]*$"]))
    if draw(st.integers(0, 5)) == 0:
        schema["format"] = "uuid"
    return schema


def objects(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(st.dictionaries(NAMES, inner, max_size=3))
        schema: dict[str, Any] = {"type": "object", "properties": props}
        schema["required"] = draw(st.lists(st.sampled_from([*props, "c"]), unique=True))
        schema["additionalProperties"] = draw(st.sampled_from([True, False]) | inner)
        if draw(st.integers(0, 4)) == 0:
            schema["maxProperties"] = draw(st.integers(0, 3))
        if draw(st.integers(0, 4)) == 0:
            schema["propertyNames"] = {"maxLength": 1}
        return schema

    return build()


schemas = st.recursive(leaf(), objects, max_leaves=4)


@st.composite
def related(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two schemas that differ in a few places (independent ones are rarely compatible)."""
    old = draw(schemas)
    new = copy.deepcopy(old)

    def nodes(s: Any) -> list[dict[str, Any]]:
        out = [s]
        for child in s.get("properties", {}).values():
            out += nodes(child)
        if isinstance(s.get("additionalProperties"), dict):
            out += nodes(s["additionalProperties"])
        return out

    for _ in range(draw(st.integers(1, 3))):
        node = draw(st.sampled_from(nodes(new)))
        choice = draw(st.integers(0, 5))
        if choice == 0:
            node["type"] = draw(TYPES)
        elif choice == 1:
            node.pop(draw(st.sampled_from(sorted(node) or ["type"])), None)
        elif choice == 2 and node.get("type") == "object":
            node.setdefault("properties", {})[draw(NAMES)] = draw(leaf())
        elif choice == 3 and node.get("type") == "object":
            node["additionalProperties"] = draw(st.sampled_from([True, False]) | leaf())
        elif choice == 4 and node.get("type") == "object":
            node["required"] = draw(st.lists(NAMES, unique=True))
        else:
            node.update(draw(leaf()))
    return old, new


def _satisfiable_bounds(schema: Any) -> bool:
    """No minimum above its maximum anywhere (the generator cannot draw from such ranges)."""
    if not isinstance(schema, dict):
        return True
    for lo, hi in (("minimum", "maximum"), ("minLength", "maxLength")):
        if lo in schema and hi in schema and schema[lo] > schema[hi]:
            return False
    children = [*schema.get("properties", {}).values(), schema.get("additionalProperties")]
    return all(_satisfiable_bounds(c) for c in children)


def _valid(schema: dict[str, Any], value: Any) -> bool:
    cls = jsonschema.Draft202012Validator
    return bool(cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(value))


_NONE = object()


@settings(max_examples=200)
@given(pair=related(), data=st.data())
def test_compatible_verdicts_are_sound(
    pair: tuple[dict[str, Any], dict[str, Any]], data: st.DataObject
) -> None:
    """BACKWARD means every value valid at the old schema is valid at the new one; FORWARD
    the other way round. (No ``default`` here: Confluent counts on readers filling it in.)"""
    old, new = pair
    changes = diff_schemas(old, new)
    for compatible, source, target in (
        (all(c.backward for c in changes), old, new),
        (all(c.forward for c in changes), new, old),
    ):
        if not compatible or not _satisfiable_bounds(source):
            continue
        # An unsatisfiable schema generates nothing (or is refused as such, where the
        # generator can tell); then there is nothing to check.
        try:
            values = from_schema(source, None)
        except SchemaDocumentError:
            continue
        value = data.draw(values | st.just(_NONE))
        if value is not _NONE and _valid(source, value):
            assert _valid(target, value), [c.describe() for c in changes]


@given(pair=related())
def test_swapping_the_schemas_swaps_the_verdicts(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    old, new = pair
    there, back = diff_schemas(old, new), diff_schemas(new, old)
    assert all(c.backward for c in there) == all(c.forward for c in back)
    assert all(c.forward for c in there) == all(c.backward for c in back)
