"""Where a place in a JSON document is in its text: line and column for a path.

Validation works on parsed values, whose problems have paths (``$["a"][0]``); people and CI
annotations want lines. :func:`locate` scans the text once and finds every path asked for:
an object member at its key, an array element (and the whole document) at its first
character. It runs only for invalid input, so valid input never pays for it.

Lines and columns are 1-based and columns count characters, as the codec counts them for
parse errors (:attr:`docket.core.errors.ParseError.line`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from docket.core.errors import Issue, PathSegment

Position = tuple[int, int]
"""``(line, column)``, both from 1."""

# One JSON token: a string, a structural character, or a run of anything else (a number,
# true, false, null). The text was parsed before, so it is valid JSON; nothing is checked.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)


def _text(data: bytes | bytearray | memoryview | str) -> str:
    if isinstance(data, str):
        return data
    return bytes(data).decode("utf-8", errors="replace")


def position(text: str, offset: int) -> Position:
    """The line and column of character ``offset`` of ``text``."""
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def byte_position(data: bytes | bytearray | memoryview, offset: int) -> Position:
    """The line and column of byte ``offset`` of UTF-8 ``data`` (the column in characters)."""
    raw = bytes(data[:offset])
    start = raw.rfind(b"\n") + 1
    column = len(raw[start:].decode("utf-8", errors="replace")) + 1
    return raw.count(b"\n") + 1, column


def locate(
    data: bytes | bytearray | memoryview | str, paths: Iterable[Sequence[PathSegment]]
) -> dict[tuple[PathSegment, ...], Position]:
    """The position of each path found in the JSON text ``data`` (paths not in it are left
    out; a path through a value that is not there stops at nothing). One pass, which ends as
    soon as every path is found."""
    text = _text(data)
    wanted = {tuple(p) for p in paths}
    found: dict[tuple[PathSegment, ...], int] = {}
    # Per open object or array: whether it is an object, and whether a key comes next.
    objects: list[bool] = []
    expecting: list[bool] = []
    path: list[PathSegment] = []  # a key per object with a member so far, an index per array

    def value_at(offset: int) -> None:
        here = tuple(path)
        if here in wanted and here not in found:
            found[here] = offset

    for match in _TOKEN.finditer(text):
        if len(found) == len(wanted):
            break
        token = match.group()
        first = token[0]
        if first == '"' and objects and objects[-1] and expecting[-1]:
            expecting[-1] = False
            path.append(json.loads(token) if "\\" in token else token[1:-1])
            value_at(match.start())  # a member is where its key is
        elif first in "{[":
            value_at(match.start())
            objects.append(first == "{")
            expecting.append(first == "{")
            if first == "[":
                path.append(0)
        elif first in "}]":
            if objects:
                is_object = objects.pop()
                empty_object = expecting.pop()  # an object closing where a key could come
                if not (is_object and empty_object):
                    path.pop()  # the last member's key, or the array's index
        elif first == ",":
            if objects and objects[-1]:
                expecting[-1] = True
                path.pop()
            elif objects:
                index = path[-1]
                path[-1] = index + 1 if isinstance(index, int) else 0
        elif first != ":":
            value_at(match.start())
    return {p: position(text, offset) for p, offset in found.items()}


def nearest(
    data: bytes | bytearray | memoryview | str, segments: Sequence[PathSegment]
) -> Position:
    """The position of ``segments``, or of its longest prefix that is in the text (a member
    that is missing is reported where its object is)."""
    prefixes = [tuple(segments[:n]) for n in range(len(segments), -1, -1)]
    found = locate(data, prefixes)
    for prefix in prefixes:
        if prefix in found:
            return found[prefix]
    return 1, 1


def place(
    data: bytes | bytearray | memoryview | str,
    issues: Sequence[Issue],
    *,
    first_line: int = 1,
) -> list[Issue]:
    """``issues`` with ``line`` and ``column`` set from where their paths are in ``data``
    (issues that already have a line keep it; ``first_line`` is the line ``data`` starts
    at in its file, for a line of JSON Lines)."""
    todo = [i for i in issues if i.line is None]
    if not todo and first_line == 1:
        return list(issues)
    wanted = {tuple(i.segments[:n]) for i in todo for n in range(len(i.segments) + 1)}
    found = locate(data, wanted) if wanted else {}
    out = []
    for issue in issues:
        if issue.line is None:
            where: Position | None = None
            for n in range(len(issue.segments), -1, -1):
                where = found.get(tuple(issue.segments[:n]))
                if where is not None:
                    break
            line, column = where if where is not None else (1, 1)
            issue = _at(issue, line + first_line - 1, column)
        elif first_line != 1:
            issue = _at(issue, issue.line + first_line - 1, issue.column)
        out.append(issue)
    return out


def _at(issue: Issue, line: int, column: int | None) -> Issue:
    return Issue(issue.segments, issue.message, issue.keyword, line=line, column=column)


__all__ = ["Position", "byte_position", "locate", "nearest", "place", "position"]
