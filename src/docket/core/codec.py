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
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import accumulate, islice, repeat
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
    TrailingData,
    UsageError,
    json_path,
    show,
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
_TOKEN = r'"[^"\\]*(?:\\.[^"\\]*)*"|([\[\]{}:])|[^\s"\[\]{}:,]+'
"""Compiled on first use (re keeps it): the fast path, most input's, never tokenizes."""
_TOKENS = r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:]|[^\s"\[\]{}:,]+'
""":data:`_TOKEN` without its group: ``findall`` gives each token's text."""
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_NO_WHITESPACE = str.maketrans("", "", " \t\n\r")
# Above this many quotes, splitting the text at them costs more than tokenizing it.
_MAX_SPLIT = 200_000
# Nesting the decoder may meet before the walk after it reports the limit with a precise path;
# deeper input is refused from the text, well before the interpreter's recursion limit.
_DECODE_DEPTH = 200


def _long_integer(text: str) -> InvalidJSON | None:
    """The error for the first integer of ``text`` longer than Python converts from text,
    at its place (None when there is none: the ValueError was something else)."""
    most = sys.get_int_max_str_digits()
    # Strings are matched whole, so digits inside one are never taken for a number.
    tokens = re.finditer(r'"(?:[^"\\]|\\.)*"|[0-9]+', text)
    found = next((t for t in tokens if t.group()[0] != '"' and len(t.group()) > most), None)
    if found is None:
        return None
    digits = len(found.group())
    return InvalidJSON(
        f"an integer of {digits} digits, more than the {most} docket reads",
        position=found.start(),
        hint="write a number this long as a string",
    )


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
        tokens = re.findall(_TOKEN, text)
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
    """Parse one JSON object strictly, enforcing ``limits``.

    Most input takes the fast path (:func:`_parse_fast`): orjson parses it and cheap counts
    over the text prove what orjson does not check. Whatever that path cannot judge, and
    every error, goes through the exact path, so both give the same value or the same error.
    Anything but bytes (or a bytearray or memoryview) and text is a :class:`UsageError`.
    """
    if type(data) is not bytes and type(data) is not str:
        data = _text_of(data)
    value = _parse_fast(data, limits)
    if value is not None:
        return value
    return parse_exact(data, limits)


def _text_of(data: object) -> bytes | str:
    """``data`` as the text :func:`parse` reads. bytes() would take a path for its name, an
    int for that many NUL bytes: they are refused, not parsed as something else."""
    if isinstance(data, bytes | str):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    hint = (
        "read the file first, e.g. Family.load(path.read_bytes())"
        if isinstance(data, os.PathLike)
        else "give the container's bytes or text (Family.load also takes a mapping)"
    )
    raise UsageError("data", f"{type(data).__name__} is not a container's text", hint)


def parse_sealed(
    data: bytes | str, limits: Limits, sealed: Mapping[Any, frozenset[str]]
) -> tuple[JSONObject, bytes | None]:
    """:func:`parse`, and for a container whose ``version`` is a key of ``sealed`` (the
    versions with a digest, each with the members it does not cover) and whose text is its
    canonical writing, the canonical bytes of its other members: the digest's input, from the
    very serialisation that proves the parse exact (None when not shown so).

    The proof is :func:`_parse_fast`'s first one: the text is orjson's writing of the value
    (here its canonical writing, keys sorted, as :meth:`Family.dump` writes it; whose excluded
    members come first, the bytes after them are the body. Members in another order, or
    anything else, go the way :func:`parse` goes, to the same value or error).
    """
    if type(data) is not bytes or not _size_within(len(data), limits):
        return parse(data, limits), None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return parse_exact(data, limits), None  # orjson refused it: the exact path decides
    return proved_sealed(data, value, limits, sealed)


def proved_sealed(
    data: bytes, value: Any, limits: Limits, sealed: Mapping[Any, frozenset[str]]
) -> tuple[JSONObject, bytes | None]:
    """:func:`parse_sealed` of ``data`` (of a size within ``limits``) given ``value``,
    ``orjson.loads(data)``."""
    if type(value) is not dict:
        return parse_exact(data, limits), None
    found = value.get("version")
    excluded = sealed.get(found) if type(found) is int or type(found) is str else None
    if excluded is not None:
        whole = canonical(value)
        if data == whole and (_shape_within(data, limits) or _walk(value, limits) is not None):
            return value, covered_bytes(value, whole, excluded)
    proved = _proved(data, value, limits)
    return (proved if proved is not None else parse_exact(data, limits)), None


def covered_bytes(value: JSONObject, whole: bytes, excluded: frozenset[str]) -> bytes:
    """The canonical bytes of ``value``'s members but the ``excluded`` ones, given ``whole``,
    its canonical writing: the bytes after the excluded members when they sort first (the
    version, family and integrity members before sections named after what they hold)."""
    head = canonical({k: value[k] for k in excluded if k in value})
    if len(head) == 2:  # no excluded member
        return whole
    cut = len(head) - 1
    if whole[cut : cut + 1] == b"," and whole.startswith(head[:-1]):
        return b"{" + whole[cut + 1 :]
    return canonical({k: v for k, v in value.items() if k not in excluded})


# Every float orjson makes of an integer outside [-2**63, 2**64) is at least this large; the
# exact path reads such integers exactly, so a float this large sends the text there.
_BIG_FLOAT = float(2**63)
_NESTED = frozenset({dict, list, float})
_QUOTED_WS = {b" ": b'" ', b"\t": b'"\t', b"\n": b'"\n', b"\r": b'"\r'}


def _parse_fast(data: bytes | bytearray | memoryview | str, limits: Limits) -> JSONObject | None:
    """The object ``data`` holds when orjson's parse of it is provably the exact one; None
    when that cannot be shown cheaply (then the exact path decides, errors included).

    orjson refuses what the exact path refuses (bad syntax, invalid UTF-8, a byte order mark,
    NaN, Infinity, numbers too large for a double, lone surrogates, control characters) but
    keeps the last of duplicate keys and reads integers beyond 64 bits as floats. So:

    - *no duplicate keys*: the text is orjson's own writing of the value; or, the text
      holding no ``\\u003`` escape (so no colon is written as an escape), it has as many
      colons as orjson's writing of the value. Outside strings each text has one colon per
      member; inside, the text has the colons of all its strings and orjson's writing those
      of the strings kept, so a dropped member leaves the text with more. Otherwise
      ``count('":') + count('"<whitespace>')``, at least the number of members of the text,
      must equal the number of keys the parsed objects hold;
    - *no big integers*: orjson's writing equals the text, or holds no ``+`` (orjson
      writes every float of 1e16 or more in size with an exponent, ``1e+16``), or no float
      is 2**63 or more in size;
    - *limits*: a text no longer than ``max_string_length`` holds no longer string, one of
      ``n`` characters at most ``(n + 1) // 2`` values; depth is bounded by the brackets
      the text opens (or walked, when it opens many) and keys per object are counted.
    """
    text: bytes | str = data if isinstance(data, (bytes, str)) else bytes(data)
    size = len(text)
    if not _size_within(size, limits):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if type(value) is not dict:
        return None
    return _proved(text, value, limits)


def _proved(text: bytes | str, value: JSONObject, limits: Limits) -> JSONObject | None:
    """``value``, orjson's parse of ``text`` (within the limits its length bounds), when it
    is provably the exact parse (:func:`_parse_fast`); None when not shown."""
    # orjson read it, so it is valid UTF-8 without lone surrogates.
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    shown = orjson.dumps(value)
    if shown == raw:
        if _shape_within(raw, limits):
            return value
        return value if _walk(value, limits) is not None else None
    if _no_escaped_colon(raw) and raw.count(b":") == shown.count(b":"):
        # orjson writes every float of 1e16 or more in size with an exponent ("1e+16"): with
        # no "+" in its writing (a search at memchr's speed), no float is large enough to be
        # an integer it could not keep.
        if b"+" not in shown and _shape_within(raw, limits):
            return value
        keys = _walk(value, limits)
        return value if keys is not None else None
    keys = _walk(value, limits)
    if keys is None:
        return None
    bound = raw.count(b'":')
    for ws, pair in _QUOTED_WS.items():
        if ws in raw:
            bound += raw.count(pair)
    return value if keys == bound else None


# Escapes looked at one by one before the text is searched whole for an escaped colon.
_FEW_ESCAPES = 16


def _no_escaped_colon(raw: bytes) -> bool:
    """Whether ``raw``, JSON text orjson read, writes no character as ``\\u003X`` (so no
    colon as an escape). Every backslash in such text starts an escape, which ends two or
    more bytes on: a few escapes (a name with an accent) are looked at one by one with
    ``find`` at memchr's speed; a text with many is searched whole."""
    at = raw.find(b"\\")
    for _ in range(_FEW_ESCAPES):
        if at < 0:
            return True
        if raw.startswith(b"u003", at + 1):
            return False
        at = raw.find(b"\\", at + 2)
    return at < 0 or raw.find(b"\\u003", at) < 0


def _size_within(size: int, limits: Limits) -> bool:
    """Whether a text of ``size`` characters or bytes is within the limits that its length
    bounds: bytes, string length, and values (one of ``n`` characters holds at most
    ``(n + 1) // 2``)."""
    if size > limits.max_bytes or size > limits.max_string_length:
        return False
    # With the default max_items, text shorter than max_bytes // 8 holds few enough values.
    return not (
        (limits.max_items is not None or size >= limits.max_bytes // 8)
        and (size + 1) // 2 > limits.items
    )


def _shape_within(raw: bytes, limits: Limits) -> bool:
    """Whether counts over ``raw`` bound its depth and keys per object within ``limits``
    (False: they cannot show it). find() runs at memory speed where count() does not, and
    ordinary containers open few brackets."""
    return (len(raw) <= limits.max_keys or raw.count(b":") <= limits.max_keys) and _at_most(
        raw, limits.max_depth
    )


def _at_most(raw: bytes, most: int) -> bool:
    """Whether ``raw`` holds at most ``most`` of the bytes ``{`` and ``[`` together."""
    found = 0
    for opener in (b"{", b"["):
        at = raw.find(opener)
        while at >= 0:
            found += 1
            if found > most:
                return False
            at = raw.find(opener, at + 1)
    return True


def _walk(value: JSONObject, limits: Limits) -> int | None:
    """The number of keys of all objects in ``value``; None when a float is 2**63 or more in
    size (maybe an integer orjson could not keep) or depth or keys per object exceed limits."""
    keys = 0
    max_depth = limits.max_depth
    max_keys = limits.max_keys
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return None
        if type(node) is dict:
            if len(node) > max_keys:
                return None
            keys += len(node)
            members = node.values()
        else:
            members = node
        if _NESTED.isdisjoint(map(type, members)):
            continue
        for member in members:
            kind = type(member)
            if kind is dict or kind is list:
                stack.append((member, depth + 1))
            elif kind is float and not -_BIG_FLOAT < member < _BIG_FLOAT:
                return None
    return keys


def parse_exact(
    data: bytes | bytearray | memoryview | str, limits: Limits = DEFAULT_LIMITS
) -> JSONObject:
    """Parse one JSON object strictly with the standard library's decoder (the reference the
    fast path is checked against; :func:`parse` uses it for what the fast path cannot judge).
    Its errors carry the 1-based ``line`` and ``column`` where the text is wrong."""
    text: str | None = None
    raw: bytes | None = None
    try:
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
            if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise InvalidJSON(
                    "input starts with a UTF-16 byte order mark: it is not UTF-8",
                    position=0,
                    hint="save it as UTF-8, without BOM",
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                error = InvalidJSON(
                    f"invalid UTF-8 ({err.reason})",
                    position=err.start,
                    hint="docket reads UTF-8 only: convert the file (iconv -t UTF-8)",
                )
                _place(error, raw[: err.start].decode("utf-8", errors="replace"), None)
                raise error from None
        return _decode(text, limits)
    except DuplicateKey as err:
        if text is not None:
            found = _find_duplicate(text, err.key)
            if found is not None:
                key, position, where = found
                located = DuplicateKey(key, path=where)
                located.position = position
                _place(located, text, position)
                raise _in_bytes(located, text) from None
        raise
    except NonFiniteNumber as err:
        if text is not None and err.position is None:
            err.position = _find_token(text, err.token)
            _place(err, text, err.position)
            raise _in_bytes(err, text) from None
        raise
    except ParseError as err:
        if text is not None and err.position is not None and err.line is None:
            _place(err, text, err.position)
            raise _in_bytes(err, text) from None
        raise


def _decode(text: str, limits: Limits) -> JSONObject:
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
        if err.msg == "Extra data":
            raise TrailingData(err.pos, new_line=_on_new_line(text, err.pos)) from None
        raise _decode_error(text, err) from None
    except RecursionError:  # max_depth was raised above what this interpreter can decode
        raise LimitExceeded("max_depth", openers, limits.max_depth) from None
    except ValueError as err:  # integers longer than the interpreter converts (4300 digits)
        raise _long_integer(text) or InvalidJSON(str(err)) from None
    if not isinstance(value, dict):
        error = NotAnObject(_type_name(value))
        error.position = len(text) - len(text.lstrip(" \t\n\r"))
        raise error
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


# --- where an error is (the error path only) ------------------------------------------------


def _decode_error(text: str, err: json.JSONDecodeError) -> InvalidJSON:
    """The decoder's refusal of ``text`` in words for the person who wrote it (its own words
    name neither an empty input nor the character it stopped at)."""
    if _BLANK.fullmatch(text):
        reason = "the input is empty" if not text else "the input holds only whitespace"
        return InvalidJSON(reason, position=err.pos, hint="a container is one JSON object")
    if err.msg.startswith("Invalid control character"):
        # "Invalid control character at": the character it means is the one at err.pos.
        reason = f"a control character (U+{ord(text[err.pos]):04X}) inside a string"
        hint = "JSON strings hold control characters only escaped, as \\u00XX or \\n"
        return InvalidJSON(reason, position=err.pos, hint=hint)
    return InvalidJSON(err.msg, position=err.pos)


_BLANK = re.compile(r"[ \t\n\r]*")


def _on_new_line(text: str, position: int) -> bool:
    """Whether ``position`` starts a line, but for blanks before it (looked at backwards:
    the text before it is not copied)."""
    at = position - 1
    while at >= 0 and text[at] in " \t\r":
        at -= 1
    return at >= 0 and text[at] == "\n"


def _place(err: ParseError, before_or_text: str, position: int | None) -> None:
    """Set ``err.line`` and ``err.column`` (1-based; the column counts characters) for the
    character ``position`` of the text, or for the end of ``before_or_text`` when None."""
    text = before_or_text if position is None else before_or_text[:position]
    err.line = text.count("\n") + 1
    err.column = len(text) - (text.rfind("\n") + 1) + 1


def _in_bytes(err: ParseError, text: str) -> ParseError:
    """``err`` with its ``position``, a character of ``text``, made the offset of that
    character in the UTF-8 text (what "at byte N" says; line and column count characters)."""
    if err.position is not None and not text.isascii():
        err.position = len(text[: err.position].encode("utf-8", "surrogatepass"))
    return err


_Found = tuple[str, int, tuple[PathSegment, ...]]  # a repeated key, where, its object's path


def _find_duplicate(text: str, wanted: str) -> _Found | None:
    """The key ``wanted`` where it first repeats within one object, the position of that
    second occurrence and the path of the object (or, failing that, the first repeated key
    of any object). One pass over the tokens' texts (a key without a backslash is its text
    between the quotes); the position of the one found is looked up after."""
    tokens = re.findall(_TOKENS, text)
    # Per open container: the keys seen so far (None for an array), and the member being
    # read (a key, or the index of the array's value; None before an object's first key).
    keys: list[set[str] | None] = []
    members: list[Any] = []
    first: _Found | None = None
    previous = ""
    for index, token in enumerate(tokens):
        if token == ":":
            seen = keys[-1] if keys else None
            if seen is not None and previous[:1] == '"':
                key = json.loads(previous) if "\\" in previous else previous[1:-1]
                if key in seen:
                    where = (key, index - 1, tuple(members[:-1]))
                    if key == wanted:
                        return _at(text, where)
                    first = first or where
                seen.add(key)
                members[-1] = key
        else:
            if keys and keys[-1] is None and token != "]":
                members[-1] += 1  # a value of the array starts (a scalar, a string, { or [)
            if token == "{":
                keys.append(set())
                members.append(None)
            elif token == "[":
                keys.append(None)
                members.append(-1)
            elif (token == "}" or token == "]") and keys:
                keys.pop()
                members.pop()
        previous = token
    return None if first is None else _at(text, first)


def _at(text: str, found: _Found) -> _Found:
    """``found`` with its token index made the token's position in ``text``."""
    key, index, path = found
    return key, next(islice(re.finditer(_TOKEN, text), index, None)).start(), path


def _find_token(text: str, wanted: str) -> int | None:
    """The position of the first scalar token ``wanted`` outside strings."""
    for match in re.finditer(_TOKEN, text):
        if match.group(0) == wanted:
            return match.start()
    return None


def _children(node: Any) -> Iterator[tuple[PathSegment, Any]]:
    if isinstance(node, dict):
        return iter(node.items())
    return enumerate(node)


def _check_text(
    text: str,
    limits: Limits,
    path: tuple[PathSegment, ...],
    what: str,
    member: tuple[PathSegment, ...] | None = None,
) -> None:
    """A string's length and Unicode; a problem is at ``path`` (a lone surrogate in a key
    at ``member``, the member whose key it is)."""
    if len(text) > limits.max_string_length:
        raise LimitExceeded("max_string_length", len(text), limits.max_string_length, path=path)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise InvalidJSON(
                f"lone surrogate in {what} ({err.reason})",
                path=path if member is None else member,
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
                    f"object key {show(key)} at {json_path(path)} is not a string",
                    hint="JSON object keys are strings",
                )
            _check_text(key, limits, path, "a key", (*path, key))


def check_limits(value: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    """Check that ``value`` is JSON data within ``limits``: depth, string length, keys per
    object, values in all, finite numbers, string keys, valid Unicode.

    An object of plain JSON types is proved within the limits by orjson's writing of it
    (:func:`_written_within`); anything else is walked depth first without recursion, keeping
    one iterator per level, so the walk itself takes memory in proportion to the depth, not
    the size. Either way the same values pass; every error comes from the walk.
    """
    if type(value) is dict and _written_within(value, limits):
        return
    _walk_limits(value, limits)


# Subclasses of the JSON types, dates and dataclasses make orjson raise, not write them.
_PLAIN_ONLY = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _written_within(value: JSONObject, limits: Limits) -> bool:
    """Whether ``value`` is shown to be JSON within ``limits`` by orjson's writing of it: the
    text's length and counts over it bound the limits (as the strict parse's fast path does
    for text that is orjson's own writing) and it reads back equal to ``value``.

    orjson refuses what is not a JSON value of a plain type (keys that are not strings,
    integers beyond 64 bits, lone surrogates, subclasses, sets, cycles, deep nesting); what
    it writes differently reads back unequal: NaN and the infinities (written as null),
    tuples (arrays), enumerations and UUIDs (their values). Equal values have the same
    depth, keys, strings and numbers, so the limits proved on the text hold for ``value``.
    Where this cannot show it, :func:`_walk_limits` decides (and names what is wrong).
    """
    try:
        text = orjson.dumps(value, option=_PLAIN_ONLY)
    except TypeError:  # orjson.JSONEncodeError included
        return False
    if not (_size_within(len(text), limits) and _shape_within(text, limits)):
        return False
    return bool(orjson.loads(text) == value)


def _walk_limits(value: Any, limits: Limits) -> None:
    """:func:`check_limits` by walking ``value``; raises for the first value out of bounds."""
    if not isinstance(value, dict | list | tuple):
        _check_scalar(value, limits, ())
        return
    _check_container(value, 1, (), limits)
    items, most = 0, limits.items  # a property: read once, not per value
    stack: list[tuple[tuple[PathSegment, ...], Iterator[tuple[PathSegment, Any]]]] = [
        ((), _children(value))
    ]
    while stack:
        path, children = stack[-1]
        for segment, child in children:
            items += 1
            if items > most:
                raise LimitExceeded("max_items", items, most, path=path)
            if isinstance(child, dict | list | tuple):
                child_path = (*path, segment)
                _check_container(child, len(stack) + 1, child_path, limits)
                stack.append((child_path, _children(child)))
                break
            _check_scalar(child, limits, path, segment)
        else:
            stack.pop()


_WHOLE = object()
"""No segment: the value checked is the one at ``path`` itself."""


def _check_scalar(
    value: Any, limits: Limits, path: tuple[PathSegment, ...], segment: Any = _WHOLE
) -> None:
    """A scalar's bounds; a problem is at ``path`` plus ``segment`` (the member's key or
    index, joined only when there is a problem: most values have none)."""
    if isinstance(value, str):
        _check_text(value, limits, path if segment is _WHOLE else (*path, segment), "a string")
    elif value is None or isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if value.bit_length() >= _INT_LIMIT_BITS and abs(value) >= _INT_LIMIT:
            raise InvalidJSON(
                f"integer of {value.bit_length()} bits is too large",
                path=_member(path, segment),
                hint="JSON numbers this long are not portable",
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NonFiniteNumber(show(value), path=_member(path, segment))
    else:
        raise InvalidJSON(
            f"{_type_name(value)} is not a JSON value",
            path=_member(path, segment),
            hint="containers hold only objects, arrays, strings, numbers, booleans and null",
        )


def _member(path: tuple[PathSegment, ...], segment: Any) -> tuple[PathSegment, ...]:
    return path if segment is _WHOLE else (*path, segment)


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
