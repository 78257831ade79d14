"""``docket.core.locate``: the walk down to a path finds the offset the token scan finds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from docket.core.locate import _scan, _Walk, locate, position

KEYS = st.text(alphabet='ab"\\/é\n\t\u2028 ', min_size=0, max_size=4)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | KEYS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(KEYS, children, max_size=4),
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
