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

from docket.core.errors import (
    DocketError,
    IntegrityError,
    Issue,
    MissingVersion,
    ParseError,
    PathSegment,
    RestoreError,
    UnknownFamily,
    ValidationError,
    VersionError,
)

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


def _positions(text: str, offsets: Iterable[int]) -> dict[int, Position]:
    """The line and column of each of ``offsets``, from one pass over ``text`` (not one
    pass per offset: many errors in a long text cost the text's length once)."""
    out: dict[int, Position] = {}
    line, line_start, at = 1, 0, 0
    for offset in sorted(set(offsets)):
        line += text.count("\n", at, offset)
        newline = text.rfind("\n", at, offset)
        if newline >= 0:
            line_start = newline + 1
        at = offset
        out[offset] = line, offset - line_start + 1
    return out


def byte_position(data: bytes | bytearray | memoryview, offset: int) -> Position:
    """The line and column of byte ``offset`` of UTF-8 ``data`` (the column in characters)."""
    raw = bytes(data[:offset])
    start = raw.rfind(b"\n") + 1
    column = len(raw[start:].decode("utf-8", errors="replace")) + 1
    return raw.count(b"\n") + 1, column


def locate(
    data: bytes | bytearray | memoryview | str,
    paths: Iterable[Sequence[PathSegment]],
    *,
    unique_keys: bool = False,
) -> dict[tuple[PathSegment, ...], Position]:
    """The position of each path found in the JSON text ``data`` (paths not in it are left
    out; a path through a value that is not there stops at nothing).

    It walks down only the members on the way to the paths asked for, skipping every other
    value whole with one regular-expression match, and ends as soon as every path is found.
    Text it cannot walk (not JSON, or nested deeper than the skipping pattern reaches) is
    scanned token by token instead, which gives the same answer for JSON text.

    ``unique_keys`` promises that no object of the text repeats a key (the strict parse
    accepted it): then a member is found by searching for its key's text and checking, with
    one match, that only whole members of its object come before it."""
    text = _text(data)
    wanted = {tuple(p) for p in paths}
    if not wanted:
        return {}
    try:
        found = _Walk(text, wanted, unique_keys).run()
    except _CannotWalk:
        found = _scan(text, wanted)
    where = _positions(text, found.values())
    return {p: where[offset] for p, offset in found.items()}


# --- walking down to the paths (the common case) ----------------------------------------------

_WS = r"[ \t\n\r]*+"
_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_SCALAR = r'[^\s,\]}\[{":]++'
# Containers nested at most this deep are skipped by one match; deeper text is scanned.
_SKIP_DEPTH = 12
# Occurrences of a key's text (inside strings or other objects) tried before walking instead.
_MAX_CANDIDATES = 8
# Members of one object looked for by their key's text; for more, the object is walked once
# (each look checks the members before the key: many looks would cost the object many times).
_MAX_JUMPS = 4


def _value_pattern(depth: int) -> str:
    """A JSON value whose containers nest at most ``depth`` deep (the text is known to be
    JSON, so inside a container only strings and brackets matter)."""
    inner = ""
    for _ in range(depth):
        inner = rf'[\[{{](?:[^"\[\]{{}}]++|{_STRING}{"|" + inner if inner else ""})*+[\]}}]'
    return f"(?:{_STRING}|{_SCALAR}|{inner})"


_PATTERNS: tuple[re.Pattern[str], ...] = ()


def _patterns() -> tuple[re.Pattern[str], ...]:
    """(member, element, close-object, close-array, separator, members-then-key, key),
    compiled on first use: only invalid input needs them."""
    global _PATTERNS
    if not _PATTERNS:
        value = _value_pattern(_SKIP_DEPTH)
        _PATTERNS = tuple(
            re.compile(p, re.DOTALL)
            for p in (
                rf"{_WS}({_STRING}){_WS}:{_WS}({value}){_WS}([,}}])",
                rf"{_WS}({value}){_WS}([,\]])",
                rf"{{{_WS}}}",
                rf"\[{_WS}\]",
                rf"{_WS}([,}}\]])",
                rf"(?:{_WS}{_STRING}{_WS}:{_WS}{value}{_WS},)*+{_WS}",
                rf"{_STRING}{_WS}:{_WS}",
            )
        )
    return _PATTERNS


class _CannotWalk(Exception):
    """The text is not JSON the walk understands: scan it instead."""


class _AllFound(Exception):
    """Every path asked for has a position: stop walking."""


_Trie = dict[PathSegment, "_Trie"]


class _Walk:
    def __init__(
        self, text: str, wanted: set[tuple[PathSegment, ...]], unique_keys: bool = False
    ) -> None:
        self.text = text
        self.unique_keys = unique_keys
        self.wanted = wanted
        self.found: dict[tuple[PathSegment, ...], int] = {}
        self.trie: _Trie = {}
        for path in wanted:
            node = self.trie
            for segment in path:
                node = node.setdefault(segment, {})
        (
            self.member,
            self.element,
            self.empty_object,
            self.empty_array,
            self.close,
            self.before_key,
            self.key,
        ) = _patterns()

    def run(self) -> dict[tuple[PathSegment, ...], int]:
        text = self.text
        start = len(text) - len(text.lstrip(" \t\n\r"))
        if start == len(text):
            return self.found
        try:
            self._record((), start)
            if text[start] not in "{[":
                raise _CannotWalk  # not a container: nothing to walk down
            if self.unique_keys:
                self._jump(start, (), self.trie)
                return self.found
            end = self._container(start, (), self.trie)
            if text[end:].strip(" \t\n\r"):
                raise _CannotWalk  # more than one value: scan it as before
        except _AllFound:
            pass
        return self.found

    def _record(self, path: tuple[PathSegment, ...], offset: int) -> None:
        if path in self.wanted and path not in self.found:
            self.found[path] = offset
            if len(self.found) == len(self.wanted):
                raise _AllFound

    def _jump(self, pos: int, path: tuple[PathSegment, ...], node: _Trie) -> None:
        """Record the paths of ``node`` below the container at ``pos`` (``path``), going
        straight to each wanted member of an object (its keys are unique)."""
        text = self.text
        if (
            text[pos] != "{"
            or len(node) > _MAX_JUMPS
            or not all(type(segment) is str for segment in node)
        ):
            self._container(pos, path, node)  # arrays are walked element by element
            return
        starts = []
        for segment, child in node.items():
            at = self._member_at(pos, str(segment))
            if at is None:  # not there, or its key is spelt with other escapes
                self._container(pos, path, node)
                return
            starts.append((segment, child, at))
        for segment, child, at in starts:
            here = (*path, segment)
            self._record(here, at)
            if child:
                key = self.key.match(text, at)
                if key is None:
                    raise _CannotWalk
                if text[key.end()] in "{[":
                    self._jump(key.end(), here, child)

    def _member_at(self, pos: int, key: str) -> int | None:
        """Where the member ``key`` of the object at ``pos`` starts, if its key is written as
        ``json.dumps`` writes it (None: it is not, or it is not there)."""
        text = self.text
        spelt = json.dumps(key, ensure_ascii=False)
        escaped = json.dumps(key)
        for literal in (spelt,) if escaped == spelt else (spelt, escaped):
            at = text.find(literal, pos + 1)
            for _ in range(_MAX_CANDIDATES):
                if at < 0:
                    break
                if self.before_key.fullmatch(text, pos + 1, at) is not None:
                    return at
                at = text.find(literal, at + 1)
        return None

    def _container(self, pos: int, path: tuple[PathSegment, ...], node: _Trie) -> int:
        """Walk the object or array at ``pos`` (recording the paths of ``node`` below
        ``path``); the offset just after it."""
        text = self.text
        is_object = text[pos] == "{"
        empty = (self.empty_object if is_object else self.empty_array).match(text, pos)
        if empty is not None:
            return empty.end()
        pattern = self.member if is_object else self.element
        pos += 1
        index = 0
        while True:
            match = pattern.match(text, pos)
            if match is None:
                raise _CannotWalk
            if is_object:
                token = match.group(1)
                segment: PathSegment = json.loads(token) if "\\" in token else token[1:-1]
                value_group, at = 2, match.start(1)  # a member is where its key is
            else:
                segment, value_group, at = index, 1, match.start(1)
                index += 1
            pos, separator = match.end(), match.group(value_group + 1)
            child = node.get(segment)
            if child is not None:
                here = (*path, segment)
                self._record(here, at)
                start = match.start(value_group)
                if child and text[start] in "{[":
                    end = self._container(start, here, child)
                    close = self.close.match(text, end)
                    if close is None:
                        raise _CannotWalk
                    pos, separator = close.end(), close.group(1)
            if separator != ",":
                if (separator == "}") != is_object:
                    raise _CannotWalk
                return pos


# --- scanning token by token (text the walk cannot follow) ----------------------------------


def _scan(text: str, wanted: set[tuple[PathSegment, ...]]) -> dict[tuple[PathSegment, ...], int]:
    """The offset of each path of ``wanted`` in ``text``, from one pass over its tokens."""
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
    return found


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
    unique_keys: bool = False,
) -> list[Issue]:
    """``issues`` with ``line`` and ``column`` set from where their paths are in ``data``
    (issues that already have a line keep it; ``first_line`` is the line ``data`` starts
    at in its file, for a line of JSON Lines; ``unique_keys`` as for :func:`locate`)."""
    todo = [i for i in issues if i.line is None]
    if not todo and first_line == 1:
        return list(issues)
    wanted = {tuple(i.segments[:n]) for i in todo for n in range(len(i.segments) + 1)}
    found = locate(data, wanted, unique_keys=unique_keys) if wanted else {}
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


def place_error(err: DocketError, data: bytes | str) -> list[Issue] | None:
    """The problems behind ``err``, raised reading, checking, migrating or restoring the
    container whose text is ``data``, each with the line and column of its place (as
    ``docket validate`` reports them); None when ``err`` is not about the container."""
    from docket.core.family import parse_issue  # the family imports this module's callers

    def hinted(text: str, hint: str) -> str:
        return f"{text} (hint: {hint})" if hint else text

    if isinstance(err, ValidationError):
        issues = list(err.issues)
    elif isinstance(err, ParseError):
        return [parse_issue(err, data)]
    elif isinstance(err, VersionError):
        # A missing member is the container's problem, at $, as Family.validate says it.
        member = () if isinstance(err, MissingVersion) else ("version",)
        issues = [Issue(member, str(err), "version")]
    elif isinstance(err, UnknownFamily):
        issues = [Issue(("family",), str(err), "family")]
    elif isinstance(err, IntegrityError | RestoreError):
        issues = [Issue(err.segments, hinted(err.reason, err.hint), type(err).__name__)]
    else:
        return None
    return place(data, issues)


def _at(issue: Issue, line: int, column: int | None) -> Issue:
    return Issue(issue.segments, issue.message, issue.keyword, line=line, column=column)


__all__ = ["Position", "byte_position", "locate", "nearest", "place", "place_error", "position"]
