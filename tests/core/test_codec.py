"""The strict codec: each bad input has its own typed error; canonical output is stable."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import docket
import docket.errors
from docket.core.codec import Limits, canonical, check_limits, parse

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


BAD_INPUT: dict[type[Exception], tuple[bytes, ...]] = {
    docket.errors.DuplicateKey: (b'{"a": 1, "a": 2}', b'{"a": {"b": 1, "b": 1}}'),
    docket.errors.NonFiniteNumber: (b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}'),
    docket.errors.NotAnObject: (b"[1, 2]", b'"text"', b"null"),
    docket.errors.InvalidJSON: (
        b'{"a": "\xff"}',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": 1',
        b"",
        b'{"a": 1} trailing',
    ),
}


@pytest.mark.parametrize(
    ("raw", "error"), [(raw, error) for error, raws in BAD_INPUT.items() for raw in raws]
)
def test_bad_input_raises_its_typed_error(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        parse(raw)
    assert isinstance(info.value, docket.ParseError)
    assert isinstance(info.value, docket.DocketError)
    assert str(info.value)


def test_duplicate_key_names_the_key() -> None:
    with pytest.raises(docket.errors.DuplicateKey) as info:
        parse(b'{"version": 1, "version": 2}')
    assert info.value.key == "version"
    assert "version" in str(info.value)


def test_lone_surrogate_in_text_is_refused() -> None:
    with pytest.raises(docket.errors.InvalidJSON):
        parse('{"a": "\ud800"}')


def test_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(docket.errors.LimitExceeded) as info:
        parse(b'{"a": "' + b"x" * 2000 + b'"}', Limits(max_bytes=1000))
    assert info.value.limit == "max_bytes"


def test_deep_nesting_is_a_typed_error_not_a_recursion_error() -> None:
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(docket.errors.LimitExceeded) as info:
        parse(deep)
    assert info.value.limit == "max_depth"


def test_depth_limit_is_configurable() -> None:
    doc = {"a": {"b": {"c": {}}}}
    parse(json.dumps(doc), Limits(max_depth=4))
    with pytest.raises(docket.errors.LimitExceeded) as info:
        parse(json.dumps(doc), Limits(max_depth=3))
    assert info.value.path == '$["a"]["b"]["c"]'


def test_string_and_key_count_limits() -> None:
    with pytest.raises(docket.errors.LimitExceeded) as info:
        parse(json.dumps({"s": "x" * 50}), Limits(max_string_length=10))
    assert info.value.limit == "max_string_length"
    with pytest.raises(docket.errors.LimitExceeded) as info:
        parse(json.dumps({"sec": {str(i): i for i in range(20)}}), Limits(max_keys=10))
    assert info.value.limit == "max_keys"
    assert info.value.path == '$["sec"]'


def test_check_limits_walks_without_recursion() -> None:
    value: object = []
    for _ in range(50_000):
        value = [value]
    with pytest.raises(docket.errors.LimitExceeded):
        check_limits({"a": value})


def test_huge_integers_parse_exactly_and_write_canonically() -> None:
    obj = parse(b'{"n": 123456789012345678901234567890}')
    assert obj["n"] == 123456789012345678901234567890
    assert canonical(obj) == b'{"n":123456789012345678901234567890}'


def test_an_integer_longer_than_python_reads_is_refused_at_its_place() -> None:
    # Python refuses int() of more than sys.get_int_max_str_digits() digits with advice
    # about sys; docket names the number, where it is, and what to do instead.
    digits = "9" * 5000
    raw = f'{{"a": "1 {digits}", "b": [1, -{digits}]}}'.encode()
    with pytest.raises(docket.errors.InvalidJSON) as info:
        parse(raw)
    err = info.value
    assert err.position == raw.index(b"-" + digits.encode()) + 1, err.position
    assert "an integer of 5000 digits" in str(err) and "sys." not in str(err), str(err)
    assert "as a string" in err.hint


@given(json_objects)
def test_parse_of_canonical_is_identity(obj: dict[str, object]) -> None:
    assert parse(canonical(obj), Limits(max_depth=64)) == obj


@given(json_objects)
def test_canonical_bytes_do_not_depend_on_key_order(obj: dict[str, object]) -> None:
    reordered = dict(reversed(list(obj.items())))
    assert canonical(reordered) == canonical(obj)
    assert canonical(parse(canonical(obj), Limits(max_depth=64))) == canonical(obj)


def test_canonical_is_compact_sorted_utf8() -> None:
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    assert not math.isnan(1.0)


# --- what a refusal says: the input's own words, a hint, the byte it is at ---------------------

SAID = [
    (b"", "the input is empty"),
    (b" \r\n\t\n", "the input holds only whitespace"),
    (b'{"a": "x\x00y"}', "a control character (U+0000) inside a string"),
    (b'{"a": "\x1b[31m"}', "a control character (U+001B) inside a string"),
    ('{"a": 1}'.encode("utf-16"), "input starts with a UTF-16 byte order mark"),
    ('{"a": "caf\xe9"}'.encode("latin-1"), "invalid UTF-8"),
    (b'{"a": 1} {"b": 2}', "Extra data"),
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b'{"a": 1e400}', "1e400 is too large for a double"),
]


@pytest.mark.parametrize(("data", "said"), SAID, ids=[s for _, s in SAID])
def test_a_refusal_says_what_is_wrong_with_a_hint(data: bytes, said: str) -> None:
    with pytest.raises(docket.errors.ParseError) as info:
        parse(data)
    text = str(info.value)
    assert said in text and info.value.hint, text
    assert text.isprintable()  # the character is named, never written


def test_at_byte_counts_bytes_of_the_utf8_text() -> None:
    cases = [
        ('{"é": "ü", "a": NaN}', "NaN"),
        ('{"é": "ü", "a": 1 x}', "x"),
        ('{"é": "ü", "a": 1, "a": 2}', '"a": 2'),
    ]
    for text, token in cases:
        for data in (text, text.encode()):
            with pytest.raises(docket.errors.ParseError) as info:
                parse(data)
            assert info.value.position == text.encode().index(token.encode()), (data, token)
            assert info.value.column == text.index(token) + 1  # columns count characters


def test_a_duplicate_key_is_at_the_object_that_holds_it() -> None:
    cases = {
        b'{"a": 1, "a": 2}': (),
        b'{"v": 2, "s": {"k": "1",\n "k": "2"}}': ("s",),
        b'{"s": {"x": [1, {"q": 1}, "t", [3], {"a": 1, "a": 2}]}}': ("s", "x", 4),
        b'{"s": [[], {"b": {}}, {"c": [{"d": 1}], "c": 0}]}': ("s", 2),
    }
    for data, where in cases.items():
        with pytest.raises(docket.errors.DuplicateKey) as info:
            parse(data)
        assert info.value.segments == where, data


@pytest.mark.parametrize("data", [Path("backup.json"), 123, None, 2.5, [1, 2]], ids=repr)
def test_what_is_not_text_is_refused_not_parsed(data: object) -> None:
    # bytes() reads a path as its name and 123 as 123 NUL bytes: neither is a container.
    family = docket.load_registry().family("backup-metadata")
    for call in (parse, family.load, family.validate):
        with pytest.raises(docket.errors.UsageError) as info:
            call(data)  # type: ignore[operator]
        assert type(data).__name__ in str(info.value) and info.value.hint


@pytest.mark.parametrize(
    "bad", [math.nan, -math.inf, 10**5000, object()], ids=["nan", "-inf", "long", "object"]
)
def test_a_bad_value_of_a_mapping_is_at_its_member(bad: object) -> None:
    family = docket.load_registry().family("backup-metadata")
    for at, data in [
        (("volume-metadata", "a"), {"version": 2, "volume-metadata": {"a": bad}}),
        (("s", 1), {"version": 2, "s": [0, bad]}),
    ]:
        with pytest.raises(docket.errors.ParseError) as info:
            family.load(data)
        assert info.value.segments == at
        (issue,) = family.validate(data)
        assert issue.segments == at


_KEYS = st.text(st.sampled_from("ab\u00e9\"\\\u2028z"), min_size=0, max_size=3)
_TREES = st.recursive(
    st.one_of(st.none(), st.integers(-5, 5), _KEYS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=25,
)


def _objects(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """The paths of every non-empty object in ``value``."""
    found = [path] if isinstance(value, dict) and value else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _objects(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _objects(item, (*path, index))
    return found


def _with_duplicate(value: object, target: tuple[object, ...], out: list[str]) -> int | None:
    """Write ``value`` as JSON into ``out``, the object at ``target`` with its first key
    written again (escaped) as a last member; the character offset of that second key."""
    at = None
    if isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + json.dumps(key, ensure_ascii=False) + ": ")
            found = _with_duplicate(item, target[1:] if target[:1] == (key,) else (None,), out)
            at = at if found is None else found
        if target == ():
            out.append(", ")
            at = len("".join(out))
            out.append(json.dumps(next(iter(value)), ensure_ascii=True) + ": 0")
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            out.append(", " if i else "")
            found = _with_duplicate(item, target[1:] if target[:1] == (i,) else (None,), out)
            at = at if found is None else found
        out.append("]")
    else:
        out.append(json.dumps(value, ensure_ascii=False))
    return at


@given(_TREES, st.data())
def test_a_duplicate_key_anywhere_is_found_at_its_object_and_place(
    tree: object, data: st.DataObject
) -> None:
    """The tokenizing search for a repeated key, on any nesting of objects and arrays, with
    keys that need escapes (a quote, a backslash, U+2028) written once plain, once escaped."""
    document = {"root": tree}
    target = data.draw(st.sampled_from(_objects(document)))
    out: list[str] = []
    at = _with_duplicate(document, target, out)
    text = "".join(out)
    with pytest.raises(docket.errors.DuplicateKey) as info:
        parse(text, Limits(max_depth=64))
    assert info.value.segments == target, text
    assert at is not None and info.value.position == len(text[:at].encode("utf-8")), text
