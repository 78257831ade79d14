"""``docket.core.locate``: the walk down to a path finds the offset the token scan finds."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket.core import locate as locate_module
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


class _Work:
    """Characters the locator's text operations cover: each ``str`` method called on the
    text (:class:`_Text`) and each match of its patterns (:class:`_Pattern`) adds the span
    it reads. Linear work stays a few times the text's length; a pass per path (a line
    counted from the start of the text, a member looked for from its object's start) grows
    with the square of the paths."""

    def __init__(self) -> None:
        self.chars = 0


class _Text(str):
    """The text to locate in, adding what each method reads to ``work``."""

    work: _Work

    def _add(self, n: int) -> None:
        self.work.chars += max(n, 1)

    @staticmethod
    def _span(length: int, start: int | None, end: int | None) -> tuple[int, int]:
        return slice(start, end).indices(length)[:2]

    def find(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        at = super().find(sub, start, end)
        lo, hi = self._span(len(self), start, end)
        self._add((at + len(sub) if at >= 0 else hi) - lo)
        return at

    def rfind(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        at = super().rfind(sub, start, end)
        lo, hi = self._span(len(self), start, end)
        self._add(hi - (at if at >= 0 else lo))
        return at

    def count(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        lo, hi = self._span(len(self), start, end)
        self._add(hi - lo)
        return super().count(sub, start, end)

    def __getitem__(self, key: Any) -> str:  # type: ignore[override]
        got = super().__getitem__(key)
        self._add(len(got))
        return got

    def lstrip(self, chars: str | None = None) -> str:
        self._add(len(self))
        return super().lstrip(chars)

    def strip(self, chars: str | None = None) -> str:
        self._add(len(self))
        return super().strip(chars)


class _Pattern:
    """One of the locator's compiled patterns, adding what each match reads to ``work``."""

    def __init__(self, pattern: re.Pattern[str], work: _Work) -> None:
        self.pattern, self.work = pattern, work

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        found = self.pattern.match(text, pos, endpos)
        self.work.chars += max((found.end() if found else pos + 1) - pos, 1)
        return found

    def fullmatch(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self.work.chars += max(min(endpos, len(text)) - pos, 1)
        return self.pattern.fullmatch(text, pos, endpos)


def _work(
    monkeypatch: pytest.MonkeyPatch, text: str, run: Callable[[str], object]
) -> int:
    """The characters ``run`` reads of ``text`` through its methods and the locator's patterns."""
    work = _Work()
    counted = _Text(text)
    counted.work = work
    monkeypatch.setattr(
        locate_module, "_PATTERNS", tuple(_Pattern(p, work) for p in locate_module._patterns())
    )
    run(counted)
    monkeypatch.undo()
    assert work.chars >= len(text), "the text was read without the counting methods"
    return work.chars


def _located(paths: list[tuple[Any, ...]], unique: bool) -> Callable[[str], object]:
    def run(text: str) -> object:
        found = locate(text, paths, unique_keys=unique)
        assert len(found) == len(paths)
        return found

    return run


@pytest.mark.parametrize("unique", [False, True])
def test_many_paths_in_a_long_text_cost_the_text_once(
    unique: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, each path's line was counted from the start of the text, and each member was
    looked for from its object's start: 10,000 errors in 15 MiB took about a minute. Twice
    the members and twice the text is twice the work, not four times: counted, not timed."""
    (small, few), (large, many) = _padded(3000), _padded(6000)
    ratio = _work(monkeypatch, large, _located(many, unique)) / _work(
        monkeypatch, small, _located(few, unique)
    )
    assert ratio < 2.5, ratio


def test_the_count_sees_a_pass_per_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The instrument itself: a line counted from the start of the text for each path (the
    old way) is counted as work that grows with the square of the paths."""
    (small, few), (large, many) = _padded(300), _padded(600)

    def one_by_one(paths: list[tuple[Any, ...]]) -> Callable[[str], object]:
        def run(text: str) -> object:
            offsets = _scan(text, set(paths)).values()
            return [position(text, offset) for offset in offsets]

        return run

    ratio = _work(monkeypatch, large, one_by_one(many)) / _work(
        monkeypatch, small, one_by_one(few)
    )
    assert ratio > 3.5, ratio


def test_positions_are_those_of_each_offset_alone() -> None:
    text, paths = _padded(50, pad=3)
    found = locate(text, paths)
    expected = _scan(text, set(paths))
    assert found == {p: position(text, offset) for p, offset in expected.items()}
    assert found[("k49", "v")] == (50, 9)  # the line of k49 is `"k49": {"v": "x"}}`
