"""Where a jsonschema-rs error is, in the data it was about.

jsonschema-rs (0.61) builds an error's ``instance_path`` from its JSON Pointer, and loses
two things on the way: empty keys are left out (``{"a": {"": []}}["a"][""]`` is reported as
``["a"]``), and keys made of digits come back as integers (``{"7": 1}["7"]`` as ``[7]``;
``"07"`` and ``"+7"`` also as ``[7]``: whatever Rust's ``usize`` parse reads), which reads as
an array index. :class:`PathFinder` follows the
reported path through the data; where it cannot be taken as it is, it finds the places whose
path would be reported so, and among them the one holding the value the error is about.
"""

from __future__ import annotations

from typing import Any

from docket.core.errors import Segments


class PathFinder:
    """The paths of jsonschema-rs errors from validating ``data``, empty keys and keys of
    digits as they are in ``data``. One finder serves every error of one validation."""

    def __init__(self, data: Any) -> None:
        self._data = data
        self._padded: dict[int, dict[int, list[str]]] = {}
        self._given: set[Segments] = set()  # places named so far for reports that were lossy

    def __call__(self, error: Any) -> Segments:
        path: Segments = tuple(error.instance_path)
        if self._as_reported(path):
            return path  # the usual case: nothing can have been lost
        places = self._places_like(path)
        if not places:
            return path
        if len(places) > 1:
            wanted = error.instance
            places = [(h, node) for h, node in places if node == wanted] or places
            # Two places alike (same report, same value) get one error each, in turn.
            places = [(h, node) for h, node in places if h not in self._given] or places
        here = min((h for h, _ in places), key=len)
        self._given.add(here)
        return here

    def _as_reported(self, path: Segments) -> bool:
        """Whether ``path`` leads through ``data`` as it is, past no object with an empty key
        and no object reached by an integer (when it can stand for nothing else)."""
        node = self._data
        for segment in path:
            if isinstance(node, dict):
                if "" in node or not isinstance(segment, str) or segment not in node:
                    return False
                node = node[segment]
            elif isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
                node = node[segment]
            else:
                return False
        return not (isinstance(node, dict) and "" in node)

    def _keys(self, node: dict[str, Any], segment: str | int) -> list[str]:
        """The keys of ``node`` that jsonschema-rs reports as ``segment``."""
        if isinstance(segment, str):
            return [segment] if segment and segment in node else []
        plain = str(segment)
        keys = [plain] if plain in node else []
        padded = self._padded.get(id(node))
        if padded is None:  # other writings of a number, found once per object
            padded = {}
            for key in node:
                number = _index_of(key)
                if number is not None and key != str(number):
                    padded.setdefault(number, []).append(key)
            self._padded[id(node)] = padded
        return keys + padded.get(segment, [])

    def _places_like(self, path: Segments) -> list[tuple[Segments, Any]]:
        """Every place in ``data`` that jsonschema-rs would report as ``path``, with its
        value. Each value of ``data`` has one path, so each is reached at most once."""
        out: list[tuple[Segments, Any]] = []
        stack: list[tuple[Any, int, Segments]] = [(self._data, 0, ())]
        while stack:
            node, used, here = stack.pop()
            if used == len(path):
                out.append((here, node))
            if isinstance(node, dict):
                if "" in node:
                    stack.append((node[""], used, (*here, "")))
                if used < len(path):
                    for key in self._keys(node, path[used]):
                        stack.append((node[key], used + 1, (*here, key)))
            elif isinstance(node, list) and used < len(path):
                index = path[used]
                if isinstance(index, int) and 0 <= index < len(node):
                    stack.append((node[index], used + 1, (*here, index)))
        return out


_MAX_INDEX = 2**64 - 1


def _index_of(key: str) -> int | None:
    """The integer jsonschema-rs reports ``key`` as: a key its Rust ``usize`` parse reads
    (ASCII digits after an optional ``+``, at most 2**64 - 1); None for any other key."""
    digits = key[1:] if key.startswith("+") else key
    if not (digits.isascii() and digits.isdigit()):
        return None
    number = int(digits)
    return number if number <= _MAX_INDEX else None


def instance_path(error: Any, data: Any) -> Segments:
    """The path in ``data`` of the value ``error`` (a jsonschema-rs ``ValidationError`` from
    validating ``data``) is about; for several errors of one validation, use one
    :class:`PathFinder`."""
    return PathFinder(data)(error)
