"""Operations compiled once per edge (``compile_operations``) do exactly what applying them one
by one does: the same data, or the same error."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from docket.core.migrations import (
    BUILTIN_CONVERTERS,
    Add,
    Operation,
    compile_operations,
)
from tests.strategies import operations

_SECTIONS = st.sampled_from([None, "s", "t"])
_FIELDS = st.sampled_from(["a", "b", "s", "t", "at"])
_VALUES = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.sampled_from(["x", "2026-01-02T03:04:05", "2026-01-02T03:04:05.5Z", "7", "no"]),
    st.lists(st.integers(0, 2), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 2), max_size=2),
)
_OPS = operations(_SECTIONS, _FIELDS, _VALUES)
_DATA = st.dictionaries(
    st.sampled_from(["s", "t", "a", "b", "version"]),
    st.one_of(_VALUES, st.dictionaries(_FIELDS, _VALUES, max_size=4)),
    max_size=4,
)


def _one_by_one(ops: list[Operation], data: dict[str, Any]) -> tuple[str, Any]:
    try:
        for op in ops:
            op.apply(data)
    except ValueError as err:
        return ("error", str(err))
    return ("data", data)


def _compiled(ops: list[Operation], data: dict[str, Any]) -> tuple[str, Any]:
    run = compile_operations(ops, BUILTIN_CONVERTERS)
    try:
        return ("data", run(data))
    except ValueError as err:
        return ("error", str(err))


@settings(max_examples=300)
@given(st.lists(_OPS, max_size=6), _DATA)
def test_compiled_operations_do_what_the_operations_do(
    ops: list[Operation], data: dict[str, Any]
) -> None:
    expected = _one_by_one(ops, copy.deepcopy(data))
    assert _compiled(ops, copy.deepcopy(data)) == expected


def test_a_mutable_default_is_copied_each_time() -> None:
    run = compile_operations([Add("s", "f", {"k": []})], BUILTIN_CONVERTERS)
    first = run({"s": {}})
    first["s"]["f"]["k"].append(1)
    assert run({"s": {}}) == {"s": {"f": {"k": []}}}
