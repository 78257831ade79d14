"""``docket.core.locate``: the walk down to a path finds the offset the token scan finds."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket.core.locate import _scan, _Walk, locate, position

KEYS = st.text(alphabet='ab"\\/é\n\t\u2028 ', min_size=0, max_size=4)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | KEYS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=25,
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*here, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _paths(child, (*here, i))
    return out


@settings(max_examples=300)
@given(value=JSON, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_the_walk_agrees_with_the_scan(value: Any, indent: int | None, ascii_only: bool) -> None:
    text = json.dumps({"root": value}, indent=indent, ensure_ascii=ascii_only)
    wanted = set(_paths({"root": value}))
    expected = _scan(text, wanted)
    for unique in (False, True):
        assert _Walk(text, wanted, unique).run() == expected
        found = locate(text, wanted, unique_keys=unique)
        assert found == {p: position(text, offset) for p, offset in expected.items()}


def test_a_path_that_is_not_there_is_left_out() -> None:
    text = '{"a": {"b": [1, 2]}}'
    assert set(locate(text, [("a", "b", 5), ("a", "c"), ("a", "b", 1)])) == {("a", "b", 1)}


def _padded(n: int, pad: int = 1000) -> tuple[str, list[tuple[Any, ...]]]:
    """One object of ``n`` members, each on a line padded with ``pad`` spaces; every member
    and the value inside it are asked for (as validation asks for each error's place)."""
    members = [f'"k{i}": {{"v": "x"}}' for i in range(n)]
    text = "{" + ("," + " " * pad + "\n").join(members) + "}"
    return text, [(f"k{i}", "v") for i in range(n)] + [(f"k{i}",) for i in range(n)]


def _fastest(text: str, paths: list[tuple[Any, ...]], unique: bool) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        found = locate(text, paths, unique_keys=unique)
        best = min(best, time.perf_counter() - started)
    assert len(found) == len(paths)
    return best


@pytest.mark.parametrize("unique", [False, True])
def test_many_paths_in_a_long_text_cost_the_text_once(unique: bool) -> None:
    """Before, each path's line was counted from the start of the text, and each member was
    looked for from its object's start: 10,000 errors in 15 MiB took about a minute."""
    small, large = _padded(3000), _padded(6000)
    assert _fastest(*large, unique) / _fastest(*small, unique) < 3


def test_positions_are_those_of_each_offset_alone() -> None:
    text, paths = _padded(50, pad=3)
    found = locate(text, paths)
    expected = _scan(text, set(paths))
    assert found == {p: position(text, offset) for p, offset in expected.items()}
    assert found[("k49", "v")] == (50, 9)  # the line of k49 is `"k49": {"v": "x"}}`
