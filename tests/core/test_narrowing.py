"""The narrowed check after a migration (``docket.core.narrowing``) gives the full schema's
verdict: ``Family.load`` (narrowed) and ``Family.upgrade`` of the loaded container (the full
schema) agree, on results and on errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import docket
from docket import DocketError, Migration
from docket.core.family import Family
from docket.core.migrations import Convert, Move, Rename
from docket.core.narrowing import Touched, narrowed, touched_by
from docket.errors import MigrationError
from tests._families import SCHEMA, version_document, write_family
from tests.strategies import backup_metadata_v1v2, cinder_like_timestamps, short_text

_BACKUP = docket.load_registry().family("backup-metadata")


def _both_ways(family: Family, raw: bytes) -> tuple[str, Any]:
    """``family.load`` (narrowed check) and loading at the written version, then upgrading
    (full check): the same container or the same error, else the test fails."""
    try:
        fast: tuple[str, Any] = ("ok", family.load(raw))
    except DocketError as err:
        fast = ("error", (type(err), str(err)))
    try:
        written = family.load(raw, to=json.loads(raw)["version"])
        slow: tuple[str, Any] = ("ok", family.upgrade(written))
    except DocketError as err:
        slow = ("error", (type(err), str(err)))
    if fast[0] == "ok" and slow[0] == "ok":
        a, b = fast[1], slow[1]
        assert (a.version, a.written_version, a.signature, a.floor) == (
            b.version, b.written_version, b.signature, b.floor
        )
        assert family.dump(a) == family.dump(b)
    else:
        assert fast == slow
    return fast


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(backup_metadata_v1v2())
def test_loading_cinder_containers_narrowed_is_loading_them_in_full(obj: dict[str, Any]) -> None:
    kind, _ = _both_ways(_BACKUP, json.dumps(obj).encode())
    assert kind == "ok"  # every valid v1 or v2 container upgrades


def test_the_upgrade_to_v3_checks_only_what_it_converts() -> None:
    """The work the narrowing saves: v2 -> v3 converts six timestamps and adds the family,
    so the user and glance metadata (the same schema in both versions) are not checked
    again, nor are the base metadata's other columns."""
    ops: list[Any] = []
    for migration, _ in _BACKUP.graph.path(2, 3):
        ops.extend(migration.upgrade_operations)
    touched = touched_by(ops)
    whole = touched.whole | {"version", "digest", "signature"}
    schema = narrowed(_BACKUP.schema(2), _BACKUP.schema(3), Touched(whole, touched.fields))
    assert schema is not None
    props = schema["properties"]
    assert props["volume-metadata"] is True
    assert props["volume-glance-metadata"] is True
    base = props["volume-base-metadata"]["properties"]
    kept = {name for name, sub in base.items() if sub is not True}
    assert kept == {
        "scheduled_at", "launched_at", "terminated_at", "deleted_at", "created_at", "updated_at"
    }
    assert props["family"] == _BACKUP.schema(3)["properties"]["family"]


# --- a family whose upgrade can give an invalid container ---------------------------------

def _nar_documents() -> dict[int, dict[str, Any]]:
    other = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 4}}

    def item(n: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": True,
            "properties": {"n": n, "k": {"type": "string", "maxLength": 3}},
        }

    v1 = version_document(
        "nar", 1, {"item": item({"type": "integer"}), "other": other}, required=["version"]
    )
    v2 = version_document(
        "nar",
        2,
        {"item": item({"type": "string", "maxLength": 2}), "other": other},
        required=["version"],
    )
    v2["migration"] = {
        "from": 1,
        "upgrade": [
            {"op": "convert", "section": "item", "fields": ["n"], "converter": "int-to-string"}
        ],
    }
    return {1: v1, 2: v2}


@pytest.fixture(scope="module")
def nar(tmp_path_factory: pytest.TempPathFactory) -> Family:
    root = write_family(tmp_path_factory.mktemp("nar"), "nar", _nar_documents())
    return docket.load_registry(root, check_soundness=False).family("nar")


_NAR = st.fixed_dictionaries(
    {"version": st.just(1)},
    optional={
        "item": st.fixed_dictionaries(
            {}, optional={"n": st.integers(-150, 150), "k": short_text, "z": st.integers()}
        ),
        "other": st.dictionaries(short_text, short_text, max_size=3),
    },
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_NAR)
def test_an_upgrade_that_breaks_the_container_is_refused_alike(
    nar: Family, obj: dict[str, Any]
) -> None:
    _both_ways(nar, json.dumps(obj).encode())


def test_the_narrowed_family_refuses_a_broken_upgrade_with_the_full_explanation(
    nar: Family,
) -> None:
    raw = orjson.dumps({"version": 1, "item": {"n": 123}, "other": {"a": "b"}})
    kind, (error, text) = _both_ways(nar, raw)
    assert kind == "error" and error is MigrationError
    assert "not valid at version 2" in text and "item" in text


def test_an_untouched_section_is_not_checked_again_but_a_touched_one_is(nar: Family) -> None:
    check = nar._migrated_check(1, 2)
    assert check is not nar.spec(2).fast
    # "other" is not checked again: it was valid at version 1 under the same schema.
    assert check.is_valid({"version": 2, "other": {"a": "too long"}})
    assert not check.is_valid({"version": 2, "item": {"n": "123"}})


def test_a_python_migration_is_checked_in_full(tmp_path: Path) -> None:
    docs = _nar_documents()
    del docs[2]["migration"]
    root = write_family(tmp_path, "nar", docs)

    def up(data: dict[str, Any]) -> dict[str, Any]:
        return data

    family = docket.load_registry(
        root, migrations=[Migration("nar", 1, 2, up)], check_soundness=False
    ).family("nar")
    assert family._migrated_check(1, 2) is family.spec(2).fast


# --- narrowed() on its own ----------------------------------------------------------------

def _obj(**props: Any) -> dict[str, Any]:
    return {"$schema": SCHEMA, "type": "object", "properties": props}


_S = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"const": 1}}}


def test_equal_untouched_subschemas_become_true_and_touched_ones_stay() -> None:
    out = narrowed(_obj(s=_S, t=_S), _obj(s=_S, t=_S), Touched(frozenset({"t"})))
    assert out is not None
    assert out["properties"] == {"s": True, "t": _S}


def test_within_a_touched_section_only_its_touched_fields_stay() -> None:
    out = narrowed(_obj(s=_S), _obj(s=_S), Touched(fields={"s": frozenset({"a"})}))
    assert out is not None
    assert out["properties"]["s"]["properties"] == {"a": {"type": "string"}, "b": True}
    assert out["properties"]["s"]["type"] == "object"


@pytest.mark.parametrize(
    ("source", "target"),
    [
        pytest.param(_obj(s=_S), {**_obj(s=_S), "$schema": "http://json-schema.org/draft-07/schema#"},
                     id="another dialect"),
        pytest.param(_obj(s=_S), {**_obj(s=_S), "allOf": [{"required": ["s"]}]},
                     id="a keyword over the whole object"),
        pytest.param(_obj(s=_S), {**_obj(s=_S), "patternProperties": {"^s": {"type": "object"}}},
                     id="a pattern that reaches the property"),
        pytest.param(_obj(s={"$ref": "#/$defs/x"}), _obj(s={"$ref": "#/$defs/x"}),
                     id="a reference"),
        pytest.param(_obj(s={"const": 1}), _obj(s={"const": True}), id="1 is not true in JSON"),
        pytest.param(_obj(s={"type": "string"}), _obj(s={"type": "integer"}), id="changed"),
    ],
)
def test_what_cannot_be_judged_by_the_value_alone_is_not_narrowed(
    source: dict[str, Any], target: dict[str, Any]
) -> None:
    assert narrowed(source, target, Touched()) is None


def test_operations_touch_where_they_read_and_where_they_write() -> None:
    touched = touched_by(
        [
            Convert("s", "a", "int-to-string"),
            Rename("s", "b", "c"),
            Rename(None, "top", "renamed"),
            Move("u", "x", "v"),
        ]
    )
    assert touched.whole == {"top", "renamed", "u", "v"}
    assert touched.fields == {"s": frozenset({"a", "b", "c"})}


def test_a_document_round_trips_through_json() -> None:
    # The narrowed schema is plain JSON, as jsonschema-rs takes it.
    out = narrowed(_obj(s=_S, t=_S), _obj(s=_S, t=_S), Touched(frozenset({"t"})))
    assert json.loads(json.dumps(out)) == out


def test_a_boolean_subschema_is_kept_as_it_is() -> None:
    source = _obj(s={"type": "object", "properties": {"a": True, "b": False}}, t=True)
    out = narrowed(source, source, Touched(fields={"s": frozenset({"a"}), "t": frozenset({"x"})}))
    assert out is not None
    assert out["properties"]["t"] is True
    assert out["properties"]["s"]["properties"] == {"a": True, "b": True}


# --- pruned(): the true entries left out --------------------------------------------------

_SUBSCHEMAS = st.sampled_from(
    [True, False, {}, {"type": "string"}, {"type": "object", "properties": {"a": True}}]
)
_ADDITIONAL = st.sampled_from([None, True, False, {}, {"type": "integer"}])
_VALUES = st.one_of(
    st.none(), st.integers(-2, 2), st.sampled_from(["", "x"]),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 1), max_size=2),
)


@given(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), _SUBSCHEMAS),
    _ADDITIONAL,
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), _VALUES),
)
def test_a_pruned_schema_gives_the_verdict_of_the_schema(
    props: dict[str, Any], additional: Any, instance: dict[str, Any]
) -> None:
    import jsonschema_rs

    from docket.core.narrowing import pruned

    schema: dict[str, Any] = {"$schema": SCHEMA, "type": "object", "properties": props}
    if additional is not None:
        schema["additionalProperties"] = additional
    whole = jsonschema_rs.validator_for(schema, validate_formats=True)
    less = jsonschema_rs.validator_for(pruned(schema), validate_formats=True)
    assert less.is_valid(instance) == whole.is_valid(instance)
    assert less.is_valid({"s": instance}) == whole.is_valid({"s": instance})


def test_pruning_leaves_out_true_properties_only_where_nothing_else_is_judged() -> None:
    from docket.core.narrowing import pruned

    loose = {"type": "object", "properties": {"a": True, "b": {}, "c": {"type": "string"}}}
    assert pruned(loose)["properties"] == {"c": {"type": "string"}}
    closed = {**loose, "additionalProperties": False}
    assert pruned(closed)["properties"] == loose["properties"]  # a and b are allowed there
    nested = _obj(s=loose, t=True)
    assert pruned(nested)["properties"] == {"s": {**loose, "properties": {"c": {"type": "string"}}}}
    # What narrowed() cannot judge by the value alone is not pruned either.
    patterned = {**loose, "patternProperties": {"^a": {"type": "integer"}}}
    assert pruned(patterned) is patterned


def test_the_check_after_the_upgrade_to_v3_looks_at_what_it_converts_only() -> None:
    from docket.core.narrowing import pruned

    ops: list[Any] = []
    for migration, _ in _BACKUP.graph.path(2, 3):
        ops.extend(migration.upgrade_operations)
    touched = touched_by(ops)
    whole = touched.whole | {"version", "digest", "signature"}
    schema = pruned(narrowed(_BACKUP.schema(2), _BACKUP.schema(3), Touched(whole, touched.fields)))
    props = schema["properties"]
    assert set(props) == {"version", "family", "digest", "signature", "volume-base-metadata"}
    assert set(props["volume-base-metadata"]["properties"]) == {
        "scheduled_at", "launched_at", "terminated_at", "deleted_at", "created_at", "updated_at"
    }


# --- fields a converter shows valid -------------------------------------------------------

def _timestamp_schemas(version: int) -> dict[str, Any]:
    base = _BACKUP.schema(version)["properties"]["volume-base-metadata"]["properties"]
    return dict(base["created_at"])


_CINDER_LIKE = cinder_like_timestamps


@settings(max_examples=300)
@given(_CINDER_LIKE)
def test_what_naive_utc_to_aware_shows_valid_is_valid(value: Any) -> None:
    """The judgement that lets the check after the upgrade leave the six timestamps out:
    every value v2's schema admits and the converter takes becomes one v3's admits
    (jsonschema-rs decides both, formats included)."""
    import jsonschema_rs

    from docket.core.converters import BUILTIN_CONVERTERS

    before, after = _timestamp_schemas(2), _timestamp_schemas(3)
    converter = BUILTIN_CONVERTERS["naive-utc-to-aware"]
    assert converter.shown_valid(before, after)
    if not jsonschema_rs.validator_for(before, validate_formats=True).is_valid(value):
        return
    try:
        out = converter.forward(value)
    except ValueError:
        return  # refused: the migration fails and says so
    assert jsonschema_rs.validator_for(after, validate_formats=True).is_valid(out), out


def test_a_converter_shows_validity_only_for_the_schemas_it_knows() -> None:
    from docket.core.converters import BUILTIN_CONVERTERS

    naive = BUILTIN_CONVERTERS["naive-utc-to-aware"]
    before, after = _timestamp_schemas(2), _timestamp_schemas(3)
    assert naive.shown_valid({**before, "description": "x"}, {**after, "x-note": 1})
    assert not naive.shown_valid({**before, "type": ["string", "integer"]}, after)
    assert not naive.shown_valid({"type": "string"}, after)  # any string: not shown
    assert not naive.shown_valid(before, {**after, "maxLength": 20})
    assert not naive.shown_valid(before, {**after, "pattern": "^x"})
    assert not naive.shown_valid(before, True)
    # Converters that say nothing show nothing.
    assert not BUILTIN_CONVERTERS["aware-utc-to-naive"].shown_valid(after, before)


def test_a_field_another_operation_touches_is_not_shown() -> None:
    from docket.core.converters import BUILTIN_CONVERTERS
    from docket.core.migrations import Add
    from docket.core.narrowing import shown_fields

    section = {"type": "object", "properties": {"at": _timestamp_schemas(2)}}
    later = {"type": "object", "properties": {"at": _timestamp_schemas(3)}}
    source, target = _obj(s=section), _obj(s=later)
    convert = Convert("s", "at", "naive-utc-to-aware")
    assert shown_fields([([convert], BUILTIN_CONVERTERS)], source, target) == {
        "s": frozenset({"at"})
    }
    again = Rename("s", "old", "at")
    assert shown_fields([([again, convert], BUILTIN_CONVERTERS)], source, target) == {}
    assert shown_fields([([convert], BUILTIN_CONVERTERS), ([Add("s", "at")], {})], source,
                        target) == {}
    assert shown_fields([([convert], {})], source, target) == {}  # converter not known


def test_the_upgrade_to_v3_is_checked_again_on_its_top_members_only() -> None:
    """The post-check of a Cinder container's upgrade: the version, family and integrity
    members (the family may be there already, with another value: v2 allows any member);
    the timestamps are shown valid by their converter."""
    check = _BACKUP._migrated_check(2, 3)
    good = _BACKUP.load(json.dumps({"version": 2}).encode()).data
    assert check.is_valid(good)
    assert not check.is_valid({**good, "family": "other"})
    # The digest and signature are not looked at again: the step that wrote them sealed
    # them (tests/core/test_unsealed.py), and the full schema admits every sealed value.
    assert check.is_valid({**good, "digest": "sha256:x"})
    assert not _BACKUP.spec(3).fast.is_valid({**good, "digest": "sha256:x"})
    # Nothing below the top is looked at again (it was valid at v2, or was converted).
    assert check.is_valid({**good, "volume-base-metadata": {"created_at": 1}})
