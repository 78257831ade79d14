"""Strict JSON in, canonical JSON out.

Input is refused, each with its own typed error, when it is larger, deeper or has more values
than the configured :class:`Limits`, is not UTF-8, has a duplicate key, uses NaN/Infinity, holds
a lone surrogate, or has a root that is not an object. Output is canonical: sorted keys, no
whitespace, UTF-8, so equal containers give equal bytes.

Input is untrusted (backup storage is often writable by the people whose volumes it holds), so
every limit that bounds memory is checked on the text *before* it is decoded: the decoded value
of a small document can be many times its size.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import Any

import orjson

from docket.core.errors import (
    DuplicateKey,
    InvalidJSON,
    LimitExceeded,
    NonFiniteNumber,
    NotAnObject,
    ParseError,
    PathSegment,
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
    max_items: int | None = None
    """Most values (object members plus array elements, over all levels) one document may hold.
    ``None`` allows one per 16 bytes of ``max_bytes`` (1 048 576 by default): a document of
    empty objects decodes to ~25 times its size, and this keeps that bounded."""

    @property
    def items(self) -> int:
        """The effective ``max_items``."""
        return self.max_items if self.max_items is not None else max(self.max_bytes // 16, 1)


DEFAULT_LIMITS = Limits()

# Integers a Mapping may hold: up to 4300 digits, as many as the parser reads from text
# (sys.int_info.default_max_str_digits); str(), and so canonical(), refuses longer ones.
_INT_LIMIT = 10**4300
_INT_LIMIT_BITS = _INT_LIMIT.bit_length()


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


def _finite_float(token: str) -> float:
    # float("1e999") is inf: a number JSON cannot hold, and canonical() would write it as null.
    value = float(token)
    if not math.isfinite(value):
        raise NonFiniteNumber(token)
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs_hook, parse_constant=_reject_constant, parse_float=_finite_float
)

# One token of JSON text. Structural characters are captured; a string or a scalar (number,
# true, false, null) matches with the group unset, which findall returns as "" (a shared
# object, so the token list costs one pointer per token whatever the input holds).
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|([\[\]{}:])|[^\s"\[\]{}:,]+')
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_NO_WHITESPACE = str.maketrans("", "", " \t\n\r")
# Above this many quotes, splitting the text at them costs more than tokenizing it.
_MAX_SPLIT = 200_000
# Nesting the decoder may meet before the walk after it reports the limit with a precise path;
# deeper input is refused from the text, well before the interpreter's recursion limit.
_DECODE_DEPTH = 200


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


def _skeleton(text: str) -> str | None:
    """The text with every string replaced by ``0`` and whitespace removed, or None when
    that cannot be done by splitting at quotes (an escaped quote may hide in a string, or
    there are so many strings that the pieces would cost more than the tokens)."""
    if "\\" in text or text.count('"') > _MAX_SPLIT:
        return None
    outside = "0".join(text.split('"')[::2])
    return outside.translate(_NO_WHITESPACE)


def _prescan(text: str, limits: Limits) -> None:
    """Check the value count and nesting depth on the text, before decoding anything.

    Only called when cheap counts over the raw text (which also count brackets and commas
    inside strings) say a limit might be exceeded, so ordinary containers never pay for it.
    """
    skeleton = _skeleton(text)
    if skeleton is not None:
        # A non-empty container of n values holds n - 1 commas.
        containers = skeleton.count("{") + skeleton.count("[")
        empty = skeleton.count("{}") + skeleton.count("[]")
        items = skeleton.count(",") + containers - empty
        steps: Iterable[int] = map(_DEPTH_STEP.get, skeleton, repeat(0))
    else:
        tokens = _TOKEN.findall(text)
        # Every string, scalar and container is a value; all but the root sit in a
        # container, and a string followed by ":" is a key, not a value.
        containers = tokens.count("{") + tokens.count("[")
        items = tokens.count("") + containers - 1 - tokens.count(":")
        steps = map(_DEPTH_STEP.get, tokens, repeat(0))
    if items > limits.items:
        raise LimitExceeded("max_items", items, limits.items)
    # Only now, with the value count bounded, is walking the brackets cheap.
    depth = max(accumulate(steps), default=0)
    if depth > max(limits.max_depth, _DECODE_DEPTH):
        raise LimitExceeded("max_depth", depth, limits.max_depth)


def parse(
    data: bytes | bytearray | memoryview | str, limits: Limits = DEFAULT_LIMITS
) -> JSONObject:
    """Parse one JSON object strictly, enforcing ``limits``."""
    if isinstance(data, str):
        if len(data) > limits.max_bytes:  # each character is at least one byte
            raise LimitExceeded("max_bytes", len(data), limits.max_bytes)
        text = data
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as err:
                raise InvalidJSON(
                    f"lone surrogate in text ({err.reason})", position=err.start
                ) from None
    else:
        raw = data if isinstance(data, bytes) else bytes(data)
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
    # Upper bounds from plain counts (they include characters inside strings): below the
    # limits, the exact checks cannot fail and are skipped.
    openers = text.count("{") + text.count("[")
    if openers > limits.max_depth or openers + text.count(",") > limits.items:
        _prescan(text, limits)
    try:
        value = _DECODER.decode(text)
    except ParseError:
        raise
    except json.JSONDecodeError as err:
        raise InvalidJSON(err.msg, position=err.pos) from None
    except RecursionError:  # max_depth was raised above what this interpreter can decode
        raise LimitExceeded("max_depth", openers, limits.max_depth) from None
    except ValueError as err:  # e.g. integers longer than sys.int_info limits
        raise InvalidJSON(str(err)) from None
    if not isinstance(value, dict):
        raise NotAnObject(_type_name(value))
    if (
        openers > limits.max_depth
        or len(text) > limits.max_string_length
        or text.count(":") > limits.max_keys
        # \uD800-\uDFFF escapes decode to surrogates unless they form a pair.
        or "\\ud" in text
        or "\\uD" in text
    ):
        check_limits(value, limits)
    return value


def _children(node: Any) -> Iterator[tuple[PathSegment, Any]]:
    if isinstance(node, dict):
        return iter(node.items())
    return enumerate(node)


def _check_text(text: str, limits: Limits, path: tuple[PathSegment, ...], what: str) -> None:
    if len(text) > limits.max_string_length:
        raise LimitExceeded("max_string_length", len(text), limits.max_string_length, path=path)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise InvalidJSON(
                f"lone surrogate in {what} at {json_path(path)} ({err.reason})",
                hint="JSON text must be valid Unicode",
            ) from None


def _check_container(
    node: dict[Any, Any] | list[Any] | tuple[Any, ...],
    depth: int,
    path: tuple[PathSegment, ...],
    limits: Limits,
) -> None:
    if depth > limits.max_depth:
        raise LimitExceeded("max_depth", depth, limits.max_depth, path=path)
    if isinstance(node, dict):
        if len(node) > limits.max_keys:
            raise LimitExceeded("max_keys", len(node), limits.max_keys, path=path)
        for key in node:
            if not isinstance(key, str):
                raise InvalidJSON(
                    f"object key {key!r} at {json_path(path)} is not a string",
                    hint="JSON object keys are strings",
                )
            _check_text(key, limits, path, "a key")


def check_limits(value: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    """Check that ``value`` is JSON data within ``limits``: depth, string length, keys per
    object, values in all, finite numbers, string keys, valid Unicode.

    Walks depth first without recursion, keeping one iterator per level, so the walk itself
    takes memory in proportion to the depth, not the size.
    """
    if not isinstance(value, dict | list | tuple):
        _check_scalar(value, limits, ())
        return
    _check_container(value, 1, (), limits)
    items = 0
    stack: list[tuple[tuple[PathSegment, ...], Iterator[tuple[PathSegment, Any]]]] = [
        ((), _children(value))
    ]
    while stack:
        path, children = stack[-1]
        for segment, child in children:
            items += 1
            if items > limits.items:
                raise LimitExceeded("max_items", items, limits.items, path=path)
            if isinstance(child, dict | list | tuple):
                child_path = (*path, segment)
                _check_container(child, len(stack) + 1, child_path, limits)
                stack.append((child_path, _children(child)))
                break
            _check_scalar(child, limits, (*path, segment) if isinstance(child, str) else path)
        else:
            stack.pop()


def _check_scalar(value: Any, limits: Limits, path: tuple[PathSegment, ...]) -> None:
    if isinstance(value, str):
        _check_text(value, limits, path, "a string")
    elif value is None or isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if value.bit_length() >= _INT_LIMIT_BITS and abs(value) >= _INT_LIMIT:
            raise InvalidJSON(
                f"integer of {value.bit_length()} bits at {json_path(path)} is too large",
                hint="JSON numbers this long are not portable",
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NonFiniteNumber(f"{value!r} (at {json_path(path)})")
    else:
        raise InvalidJSON(
            f"{_type_name(value)} at {json_path(path)} is not a JSON value",
            hint="containers hold only objects, arrays, strings, numbers, booleans and null",
        )


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact, UTF-8. Equal values give equal bytes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        # orjson refuses integers beyond 64 bits: those are written here, exactly, and every
        # other value still by orjson, so a float reads 0.00001 beside a big integer too.
        return _canonical_slow(value)


def _canonical_slow(value: Any) -> bytes:
    if isinstance(value, dict):
        members = (orjson.dumps(k) + b":" + _canonical_slow(v) for k, v in sorted(value.items()))
        return b"{" + b",".join(members) + b"}"
    if isinstance(value, list | tuple):
        return b"[" + b",".join(_canonical_slow(v) for v in value) + b"]"
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return str(value).encode("ascii")
    return orjson.dumps(value)
