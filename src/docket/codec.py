"""Strict JSON in, canonical JSON out.

Input is refused, each with its own typed error, when it is larger or deeper than the
configured :class:`Limits`, is not UTF-8, has a duplicate key, uses NaN/Infinity, or has a
root that is not an object. Output is canonical: sorted keys, no whitespace, UTF-8, so equal
containers give equal bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from docket.errors import (
    DuplicateKey,
    InvalidJSON,
    LimitExceeded,
    NonFiniteNumber,
    NotAnObject,
    ParseError,
    json_path,
)

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class Limits:
    """Bounds on untrusted input. The defaults are generous for real containers."""

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 32
    max_string_length: int = 1024 * 1024
    max_keys: int = 10_000
    """Most members one object (a section) may have."""


DEFAULT_LIMITS = Limits()


def _pairs_hook(pairs: list[tuple[str, Any]]) -> JSONObject:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj


def _reject_constant(token: str) -> Any:
    raise NonFiniteNumber(token)


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def parse(
    data: bytes | bytearray | memoryview | str, limits: Limits = DEFAULT_LIMITS
) -> JSONObject:
    """Parse one JSON object strictly, enforcing ``limits``."""
    if isinstance(data, str):
        if len(data) > limits.max_bytes:  # each character is at least one byte
            raise LimitExceeded("max_bytes", len(data), limits.max_bytes)
        text = data
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise InvalidJSON(
                f"lone surrogate in text ({err.reason})", position=err.start
            ) from None
    else:
        raw = bytes(data)
        if len(raw) > limits.max_bytes:
            raise LimitExceeded("max_bytes", len(raw), limits.max_bytes)
        if raw.startswith(b"\xef\xbb\xbf"):
            raise InvalidJSON(
                "input starts with a UTF-8 byte order mark", position=0, hint="save without BOM"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidJSON(f"invalid UTF-8 ({err.reason})", position=err.start) from None
    if text.startswith("\ufeff"):
        raise InvalidJSON(
            "input starts with a byte order mark", position=0, hint="save without BOM"
        )
    # Cheap upper bound on nesting: fewer openers than the limit cannot nest deeper than it.
    openers = text.count("{") + text.count("[")
    try:
        value = _DECODER.decode(text)
    except ParseError:
        raise
    except json.JSONDecodeError as err:
        raise InvalidJSON(err.msg, position=err.pos) from None
    except RecursionError:
        raise LimitExceeded("max_depth", openers, limits.max_depth) from None
    except ValueError as err:  # e.g. integers longer than sys.int_info limits
        raise InvalidJSON(str(err)) from None
    if not isinstance(value, dict):
        raise NotAnObject(_type_name(value))
    if openers > limits.max_depth or len(text) > limits.max_string_length:
        check_limits(value, limits)
    else:
        _check_keys(value, limits)
    return value


def _check_keys(obj: JSONObject, limits: Limits) -> None:
    # Shallow, cheap check for the common case where depth and string length are bounded.
    if len(obj) > limits.max_keys:
        raise LimitExceeded("max_keys", len(obj), limits.max_keys)
    for key, value in obj.items():
        if isinstance(value, dict) and len(value) > limits.max_keys:
            raise LimitExceeded("max_keys", len(value), limits.max_keys, path=json_path([key]))


def check_limits(value: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    """Walk a parsed value iteratively and enforce depth, string length and key-count limits."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict):
            if depth > limits.max_depth:
                raise LimitExceeded("max_depth", depth, limits.max_depth, path=json_path(path))
            if len(node) > limits.max_keys:
                raise LimitExceeded("max_keys", len(node), limits.max_keys, path=json_path(path))
            for key, child in node.items():
                if len(key) > limits.max_string_length:
                    raise LimitExceeded(
                        "max_string_length",
                        len(key),
                        limits.max_string_length,
                        path=json_path(path),
                    )
                stack.append((child, depth + 1, (*path, key)))
        elif isinstance(node, list):
            if depth > limits.max_depth:
                raise LimitExceeded("max_depth", depth, limits.max_depth, path=json_path(path))
            for index, child in enumerate(node):
                stack.append((child, depth + 1, (*path, index)))
        elif isinstance(node, str) and len(node) > limits.max_string_length:
            raise LimitExceeded(
                "max_string_length", len(node), limits.max_string_length, path=json_path(path)
            )


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact, UTF-8. Equal values give equal bytes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        # orjson refuses integers beyond 64 bits; the standard library writes them exactly.
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
