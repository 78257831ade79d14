"""The upgrade a load runs on a container it has just validated (``Converter.checked``,
``docket.core._loading.checked_upgrade``): on every value the source schema admits it gives
what the general converter gives, the same value or the same error."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import docket
from docket.core._loading import checked_upgrade
from docket.core.converters import BUILTIN_CONVERTERS
from docket.core.migrations import Add, Convert, Rename, build_migration
from docket.core.operations import json_copy
from tests.strategies import cinder_like_timestamps

_BACKUP = docket.load_registry().family("backup-metadata")
_NAIVE = BUILTIN_CONVERTERS["naive-utc-to-aware"]
_BEFORE = dict(_BACKUP.schema(2)["properties"]["volume-base-metadata"]["properties"]["created_at"])
_VALID = jsonschema_rs.validator_for(_BEFORE, validate_formats=True)
_VALUES = cinder_like_timestamps


def _result(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(value))
    except ValueError as err:
        return ("error", str(err))


@settings(max_examples=400)
@given(_VALUES)
def test_the_checked_timestamp_conversion_is_the_conversion_on_what_v2_admits(value: Any) -> None:
    forward = _NAIVE.checked(_BEFORE) if _NAIVE.checked else None
    assert forward is not None
    if _VALID.is_valid(value):
        assert _result(forward, value) == _result(_NAIVE.forward, value)


def test_a_timestamp_schema_that_admits_more_has_no_checked_form() -> None:
    assert _NAIVE.checked is not None
    assert _NAIVE.checked({**_BEFORE, "description": "x", "x-k": 1}) is not None
    assert _NAIVE.checked({"type": ["string", "null"]}) is None
    assert _NAIVE.checked({**_BEFORE, "pattern": "^[0-9]"}) is None
    assert _NAIVE.checked({**_BEFORE, "type": ["string", "integer", "null"]}) is None
    assert _NAIVE.checked(True) is None


def _convert(field: str = "at") -> Convert:
    return Convert("s", field, "naive-utc-to-aware")


_SCHEMA = {"type": "object", "properties": {"s": {"type": "object", "properties": {
    "at": _BEFORE, "b": _BEFORE}}}}


@pytest.mark.parametrize(
    ("ops", "checked"),
    [
        pytest.param([Add(None, "family", "f"), _convert(), _convert("b")], {1, 2},
                     id="after adds and other conversions"),
        pytest.param([Add("s", "at", "2026-01-01T00:00:00.000000"), _convert()], set(),
                     id="a value an add may have put there"),
        pytest.param([Add(None, "s", {"at": "x"}), _convert()], set(),
                     id="a section an add may have made"),
        pytest.param([Rename("s", "old", "at"), _convert()], set(),
                     id="after another operation"),
        pytest.param([_convert("undeclared")], set(), id="a field the schema does not declare"),
    ],
)
def test_only_values_the_source_schema_judged_get_the_checked_form(
    ops: list[Any], checked: set[int]
) -> None:
    edge = build_migration("f", 1, 2, ops)
    up = checked_upgrade(edge, _SCHEMA)
    names = getattr(up, "__globals__", {})
    forms = {i for i in range(len(ops)) if names.get(f"_c{i}") is _NAIVE.checked(_BEFORE)}
    assert forms == checked
    assert (up is edge.upgrade) == (not checked)


@settings(max_examples=100)
@given(st.fixed_dictionaries({}, optional={"at": _VALUES, "b": _VALUES}))
def test_the_checked_upgrade_is_the_upgrade_on_containers_the_schema_admits(
    section: dict[str, Any]
) -> None:
    edge = build_migration("f", 1, 2, [Add(None, "family", "f"), _convert(), _convert("b")])
    data = {"version": 1, "s": section}
    if not jsonschema_rs.validator_for(_SCHEMA).is_valid(data):
        return
    up = checked_upgrade(edge, _SCHEMA)
    assert _result(up, json_copy(data)) == _result(edge.upgrade, json_copy(data))
