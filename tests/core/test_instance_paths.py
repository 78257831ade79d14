"""An error's `$`-path names the member it is about, empty keys included (jsonschema-rs
leaves them out of `instance_path`; docket finds the place again)."""

from __future__ import annotations

from typing import Any

import jsonschema
import jsonschema_rs
from hypothesis import given
from hypothesis import strategies as st

import docket
from docket.core._rs import PathFinder, instance_path

FAMILY = docket.load_registry().family("backup-metadata")

# Two levels of free-form members, strings at the bottom: every other value is a type error.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "type": ["string", "object"],
        "additionalProperties": {"type": "string"},
    },
}
_keys = st.sampled_from(
    ["", "a", "~0", "a/b", "7", "07", "007", "+7", "+0", "-0", "18446744073709551616"]
) | st.text(max_size=3)
_leaf = st.text(max_size=3) | st.integers() | st.none() | st.lists(st.integers(), max_size=2)
_data = st.dictionaries(_keys, _leaf | st.dictionaries(_keys, _leaf, max_size=4), max_size=4)


@given(_data)
def test_error_paths_agree_with_the_reference_validator(data: dict[str, Any]) -> None:
    fast = jsonschema_rs.validator_for(SCHEMA)
    where = PathFinder(data)
    ours = sorted(where(e) for e in fast.iter_errors(data))
    reference = jsonschema.Draft202012Validator(SCHEMA)
    theirs = sorted(tuple(e.absolute_path) for e in reference.iter_errors(data))
    assert [repr(p) for p in ours] == [repr(p) for p in theirs]


def test_a_member_with_an_empty_key_is_named_in_the_issue() -> None:
    container = {"version": 2, "volume-base-metadata": {"id": "x"},
                 "volume-metadata": {"": 5, "ok": "fine"}}
    issues = {i.keyword: i for i in FAMILY.validate(container)}
    assert issues["type"].segments == ("volume-metadata", "")
    assert str(issues["type"]).startswith('$["volume-metadata"][""]: 5 is not')
    # The empty key itself is refused by propertyNames, which is about the object.
    assert issues["minLength"].segments == ("volume-metadata",)


def test_the_object_itself_keeps_its_path_when_an_empty_key_is_beside_the_error() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "object", "required": ["z"]}}}
    data = {"a": {"": {"z": 1}}}
    [error] = jsonschema_rs.validator_for(schema).iter_errors(data)
    assert instance_path(error, data) == ("a",)


def test_keys_made_of_digits_stay_keys() -> None:
    container = {"version": 2, "volume-base-metadata": {"id": "x"},
                 "volume-metadata": {"7": 1, "07": "fine", "007": 2, "x": "ok"}}
    paths = sorted(str(i).split(":")[0] for i in FAMILY.validate(container))
    assert paths == ['$["volume-metadata"]["007"]', '$["volume-metadata"]["7"]']


def test_many_errors_in_a_wide_object_stay_fast_to_place() -> None:
    # One finder per validation: the keys of each object are indexed once, not per error.
    wide = {str(i).zfill(5): i for i in range(5000)}
    errors = list(jsonschema_rs.validator_for(SCHEMA).iter_errors(wide))
    where = PathFinder(wide)
    assert [where(e) for e in errors[:3]] == [("00000",), ("00001",), ("00002",)]
    assert len({where(e) for e in errors}) == 5000
