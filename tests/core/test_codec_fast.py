"""The codec's fast path (orjson plus counts on the text) against its exact path (the standard
library's decoder with a duplicate-key hook): the same value or the same error on every text,
including the ones made to fool the counts."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from docket.core.codec import DEFAULT_LIMITS, Limits, canonical, parse, parse_exact
from docket.core.errors import DuplicateKey, InvalidJSON, NonFiniteNumber, NotAnObject, ParseError

# Number tokens as text: ordinary ones, the 64-bit edges orjson reads differently, and
# tokens the exact path refuses or reads as floats.
_NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(
        [
            str(2**63 - 1), str(2**63), str(2**64 - 1), str(2**64), str(-(2**63)),
            str(-(2**63) - 1), "1e19", "9.3e18", "-9.3e18", "1E400", "-1e999", "1e-400",
            "-0", "-0.0", "0.1", "1.50", "1e5", "NaN", "Infinity", "-Infinity", "01", "1.",
        ]
    ),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
_CHARS = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from([*':", \\{}[]\n\t', "\ud800", "\udc00", "\x00", "\u00fc", "😀"]),
)
_WS = st.sampled_from(["", "", "", " ", "\n", "\t", "\r\n", "  "])


@st.composite
def _string(draw: st.DrawFn) -> str:
    out = ['"']
    for ch in draw(st.lists(_CHARS, max_size=6)):
        how = draw(st.sampled_from(["plain", "plain", "u", "U", "short"]))
        if 0xD800 <= ord(ch) <= 0xDFFF or ch in '"\\' or ord(ch) < 0x20 or how != "plain":
            if how == "short" and ch in '"\\\n\t':
                out.append({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}[ch])
            elif ord(ch) > 0xFFFF:
                high, low = divmod(ord(ch) - 0x10000, 0x400)
                out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
            else:
                out.append(f"\\u{ord(ch):04X}" if how == "U" else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_KEYS = st.one_of(st.sampled_from(['"a"', '"\\u0061"', '"b"', '":"', '" "', '"a:"']), _string())
_SCALARS = st.one_of(
    _NUMBERS, _string(), st.sampled_from(["true", "false", "null", "True", "nul"])
)


def _json(draw: st.DrawFn, depth: int) -> str:
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(_SCALARS)
    ws = draw(_WS)
    if draw(st.booleans()):
        items = [_json(draw, depth + 1) for _ in range(draw(st.integers(0, 3)))]
        return "[" + ws + ("," + draw(_WS)).join(items) + "]"
    members = []
    keys: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        # Sometimes the same key again, maybe spelled another way.
        key = draw(st.sampled_from(keys)) if keys and draw(st.integers(0, 4)) == 0 else draw(_KEYS)
        keys.append(key)
        members.append(key + draw(_WS) + ":" + draw(_WS) + _json(draw, depth + 1))
    return "{" + ws + ("," + draw(_WS)).join(members) + draw(_WS) + "}"


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    text = draw(_WS) + _json(draw, 0) + draw(_WS)
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


def _outcome(fn: Any, data: Any, limits: Limits) -> tuple[Any, ...]:
    try:
        value = fn(data, limits)
    except ParseError as err:
        return ("error", type(err).__name__, getattr(err, "key", None))
    # canonical() tells 1 from 1.0 and keeps big integers exactly.
    return ("value", canonical(value))


@settings(max_examples=400)
@given(json_texts(), st.sampled_from([DEFAULT_LIMITS, Limits(max_depth=2, max_keys=2)]))
@example('{"a":1,"\\u0061":2}', DEFAULT_LIMITS)
@example('{"a" :1,"a":2}', DEFAULT_LIMITS)
@example('{"x":"\\u003a","a":1,"a":2}', DEFAULT_LIMITS)
@example('{"x":":", "a":1, "a":2}', DEFAULT_LIMITS)
# An escaped colon after the escapes looked at one by one, or right after another escape.
@example('{"x":"' + "\\u00fc" * 16 + '\\u003a","a":1,"a":2}', DEFAULT_LIMITS)
@example('{"x":"' + "\\u00fc" * 17 + '\\u003A","a":1,"a":2}', DEFAULT_LIMITS)
@example('{"x":"\\u00fc\\u003a","a":1,"a":2}', DEFAULT_LIMITS)
@example('{"x":"\\\\u003a\\u003a","a":1,"a":2}', DEFAULT_LIMITS)
@example('{"x":"\\\\u003a","a":1,"a":2}', DEFAULT_LIMITS)
@example('{"n":18446744073709551616}', DEFAULT_LIMITS)
@example('{"n":-9223372036854775809}', DEFAULT_LIMITS)
@example('{"s":"\\ud800"}', DEFAULT_LIMITS)
@example('{"a":{"b":1,"b":2},"c":[{"d":1},{"d":1,"d":2}]}', DEFAULT_LIMITS)
def test_fast_and_exact_paths_agree(text: str, limits: Limits) -> None:
    for data in (text, text.encode("utf-8", errors="surrogatepass")):
        assert _outcome(parse, data, limits) == _outcome(parse_exact, data, limits), data


@pytest.mark.parametrize(
    ("text", "error", "line", "column"),
    [
        ('{"a": 1,\n "b": 2,\n "a": 3}', DuplicateKey, 3, 2),
        ('{"a": {"b": 1, "b": 2}}', DuplicateKey, 1, 16),
        ('{\n  "a": NaN}', NonFiniteNumber, 2, 8),
        ('{"a":\n   1e999}', NonFiniteNumber, 2, 4),
        ('{"a": [1,\n  2,,]}', InvalidJSON, 2, 5),
        ('\n\n  [1]', NotAnObject, 3, 3),
        ('{"a": "ü", \n "b": x}', InvalidJSON, 2, 7),
    ],
)
def test_parse_errors_say_line_and_column(
    text: str, error: type[ParseError], line: int, column: int
) -> None:
    for data in (text, text.encode()):
        with pytest.raises(error) as info:
            parse(data)
        assert (info.value.line, info.value.column) == (line, column)


def test_a_duplicate_key_is_placed_at_its_second_occurrence() -> None:
    with pytest.raises(DuplicateKey) as info:
        parse('{"k": 1, "\\u006b": 2}')
    assert info.value.key == "k"
    assert info.value.position == 9
    assert (info.value.line, info.value.column) == (1, 10)


def test_invalid_utf8_is_placed_by_the_characters_before_it() -> None:
    with pytest.raises(InvalidJSON) as info:
        parse('{"a":\n "ü\xff"}'.encode("latin-1").replace(b"\xfc", "ü".encode()))
    assert (info.value.line, info.value.column) == (2, 4)


@example(1e16)
@example(float(2**63))
@example(-float(2**63))
@example(1.7976931348623157e308)
@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: abs(x) >= 1e16))
def test_orjson_writes_every_float_of_1e16_or_more_with_an_exponent(x: float) -> None:
    # The fast path relies on it: no "e+" in orjson's writing means no float that may be an
    # integer beyond 64 bits (2**63 or more in size) it read.
    assert b"e+" in orjson.dumps(x)
