"""Limits on untrusted input: each is configurable, each gives a typed error, and the worst
inputs are refused quickly with bounded memory (measured in a child process)."""

from __future__ import annotations

import datetime
import enum
import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import docket
from docket import load_registry
from docket.core import codec
from docket.core.codec import DEFAULT_LIMITS, Limits, check_limits, parse
from docket.errors import InvalidJSON, LimitExceeded, NonFiniteNumber
from tests._child import once_per_session, run_python
from tests._rss import PEAK_RSS_SOURCE

# A memory bound, not a timing assertion: the child imports docket (~60 MB) and builds its
# hostile input (up to ~200 MB for 100 MB of text) itself; a parser that decoded the input
# would need gigabytes.
PEAK_MB = 400


# Each scenario builds its input and sets ``call``; the child runs them one after another and
# reports, for each, the outcome and the process's peak RSS so far (a peak never goes down,
# so each bound holds for every scenario before it too).
SCENARIOS: dict[str, str] = {
    "100 MB bytes": """
        data = b'{"version": 2, "volume-metadata": {"k": "' + b"x" * (100 * 1024 * 1024)
        data += b'"}}'
        call = lambda: family.load(data)
    """,
    "100 MB str": """
        data = '{"version": 2, "volume-metadata": {"k": "' + "x" * (100 * 1024 * 1024)
        data += '"}}'
        call = lambda: family.load(data)
    """,
    "nesting [": """
        body = "[" * 100_000 + "1" + "]" * 100_000
        data = ('{"version": 2, "volume-metadata": ' + body + "}").encode()
        call = lambda: family.load(data)
    """,
    'nesting {"a":': """
        body = '{"a":' * 100_000 + "1" + "}" * 100_000
        data = ('{"version": 2, "volume-metadata": ' + body + "}").encode()
        call = lambda: family.load(data)
    """,
    "nesting with max_depth raised": """
        data = ("[" * 100_000 + "]" * 100_000).join(['{"a":', "}"]).encode()
        limits = docket.core.codec.Limits(max_depth=50_000, max_items=10**9)
        call = lambda: docket.core.codec.parse(data, limits)
    """,
    "inside the limits": """
        # The worst a document may do without being refused: the most values allowed, each
        # an array, nested as deep as allowed.
        nest = "[" * 30 + "]" * 30
        count = docket.core.codec.Limits().items // 31 - 1
        data = ('{"a":[' + (nest + ",") * count + nest + "]}").encode()
        call = lambda: facts.update(count=len(docket.core.codec.parse(data)["a"]))
    """,
}
SMALL_VALUES = ["{}", "0", "[[[[[[[[[[]]]]]]]]]]"]
for _value in SMALL_VALUES:
    SCENARIOS[f"many {_value}"] = f"""
        item = {_value!r}.encode()
        count = (16 * 1024 * 1024 - 64 - len(item)) // (len(item) + 1)
        # (bytes.join would take ~80 bytes per item here: build by repetition instead)
        data = b'{{"version": 2, "volume-glance-metadata": {{"a": [' + (item + b",") * count
        data += item + b"]}}}}"
        facts["size"] = len(data)
        call = lambda: family.load(data)
    """

CHILD = (
    PEAK_RSS_SOURCE
    + """
import gc, json, sys, textwrap
import docket
import docket.core.codec
family = docket.load_registry().family("backup-metadata")
# Even with the recursion limit raised by the host application, the parser must not recurse
# 100 000 deep (that would overflow the C stack and kill the process).
sys.setrecursionlimit(1_000_000)
for name, code in json.loads(sys.argv[1]).items():
    facts = {"name": name}
    exec(textwrap.dedent(code))
    try:
        call()
    except docket.DocketError as err:
        facts.update(error=type(err).__name__, limit=getattr(err, "limit", None))
    except BaseException as err:
        facts.update(error="UNTYPED " + type(err).__name__ + ": " + str(err)[:200])
    else:
        facts["error"] = None
    data = call = None
    gc.collect()
    facts["peak_mb"] = PEAK_RSS_KIB() / 1024
    print(json.dumps(facts), flush=True)
"""
)


def _run_scenarios() -> dict[str, dict[str, Any]]:
    proc = run_python(CHILD, json.dumps(SCENARIOS), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    return {r["name"]: r for r in results}


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every scenario, run in one fresh interpreter, once a session (~5 s of CPU: the
    workers that run these tests share the one run's facts)."""
    facts: dict[str, dict[str, Any]] = once_per_session(
        tmp_path_factory, "test_limits-scenarios", _run_scenarios
    )
    return facts


# --- defaults and configuration -----------------------------------------------------------


def test_defaults_are_safe_and_generous() -> None:
    limits = Limits()
    assert limits.max_bytes == 16 * 1024 * 1024
    assert limits.max_depth == 32
    assert limits.max_string_length == 1024 * 1024
    assert limits.max_keys == 10_000
    # Unset, the value count follows the size limit: one value per 16 bytes.
    assert limits.items == 1024 * 1024
    assert Limits(max_bytes=1600).items == 100
    assert Limits(max_items=7).items == 7


def test_a_real_container_is_far_inside_the_defaults() -> None:
    family = load_registry().family("backup-metadata")
    for paths in family.golden().values():
        for path in paths:
            family.load(path.read_bytes())


@pytest.mark.parametrize(
    ("limits", "doc", "limit", "path"),
    [
        (Limits(max_bytes=20), {"s": "x" * 30}, "max_bytes", "$"),
        (Limits(max_depth=3), {"a": {"b": {"c": {}}}}, "max_depth", '$["a"]["b"]["c"]'),
        (Limits(max_depth=3), {"a": [[[]]]}, "max_depth", '$["a"][0][0]'),
        (Limits(max_string_length=4), {"a": ["ok", "too long"]}, "max_string_length", '$["a"][1]'),
        (Limits(max_string_length=4), {"a": {"long key": 1}}, "max_string_length", '$["a"]'),
        (Limits(max_keys=3), {"a": {"b": dict.fromkeys("wxyz")}}, "max_keys", '$["a"]["b"]'),
        (Limits(max_items=5), {"a": [1, 2, 3, 4, 5]}, "max_items", "$"),
        (Limits(max_items=5), {"a": {"b": {"c": [[], [], [], []]}}}, "max_items", "$"),
    ],
)
def test_each_limit_is_configurable_and_names_what_was_exceeded(
    limits: Limits, doc: dict[str, Any], limit: str, path: str
) -> None:
    raw = json.dumps(doc).encode()
    with pytest.raises(LimitExceeded) as info:
        parse(raw, limits)
    assert info.value.limit == limit
    assert info.value.maximum == getattr(limits, limit if limit != "max_items" else "items")
    assert isinstance(info.value, docket.ParseError)
    if limit != "max_items":  # the value count is checked on the text, before decoding
        assert info.value.path == path
    assert "Limits." + limit in str(info.value)
    # The same document handed over already parsed meets the same limit.
    if limit != "max_bytes":
        with pytest.raises(LimitExceeded) as again:
            check_limits(doc, limits)
        assert again.value.limit == limit


def test_limits_just_inside_pass() -> None:
    parse(json.dumps({"a": {"b": {}}}).encode(), Limits(max_depth=3))
    parse(json.dumps({"a": "xxxx"}).encode(), Limits(max_string_length=4))
    parse(json.dumps({"a": {str(i): i for i in range(3)}}).encode(), Limits(max_keys=3))
    parse(json.dumps({"a": [1, 2, 3]}).encode(), Limits(max_items=4))
    raw = json.dumps({"a": "x"}).encode()
    parse(raw, Limits(max_bytes=len(raw)))


def test_commas_and_brackets_inside_strings_do_not_count() -> None:
    # The cheap counts over the text include these; the exact check must not.
    doc = {"a": "[[[[,,,,{{{{" * 10, "b": '\\"[,' * 10}
    assert parse(json.dumps(doc).encode(), Limits(max_depth=2, max_items=3)) == doc


def test_keys_are_counted_at_every_depth() -> None:
    # Regression: only the root and the sections were counted, so a deeper object could hold
    # any number of keys.
    doc = {"a": {"b": {"c": {str(i): 0 for i in range(50)}}}}
    with pytest.raises(LimitExceeded) as info:
        parse(json.dumps(doc).encode(), Limits(max_keys=10))
    assert info.value.path == '$["a"]["b"]["c"]'


def test_family_limits_come_from_the_registry_and_apply_to_every_input_form() -> None:
    family = load_registry(limits=Limits(max_keys=5)).family("backup-metadata")
    doc = {"version": 2, "volume-metadata": {f"k{i}": "v" for i in range(6)}}
    for form in (json.dumps(doc), json.dumps(doc).encode(), doc):
        with pytest.raises(LimitExceeded):
            family.load(form)
        [issue] = family.validate(form)
        assert issue.keyword == "parse"
        assert "max_keys" in issue.message
    assert family.with_limits(Limits()).load(doc).version == family.current


def test_a_limit_can_be_raised_for_trusted_input() -> None:
    doc = {"version": 2, "volume-glance-metadata": {"blob": "x" * (2 * 1024 * 1024)}}
    raw = json.dumps(doc).encode()
    family = load_registry().family("backup-metadata")
    with pytest.raises(LimitExceeded):
        family.load(raw)
    big = family.with_limits(Limits(max_string_length=4 * 1024 * 1024))
    assert big.load(raw).data["volume-glance-metadata"]["blob"] == "x" * (2 * 1024 * 1024)


# --- the worst inputs: typed error, quickly, bounded memory --------------------------------


@pytest.mark.parametrize("form", ["bytes", "str"])
def test_a_100_mb_container_is_refused_before_it_is_read(
    measured: dict[str, dict[str, Any]], form: str
) -> None:
    result = measured[f"100 MB {form}"]
    assert (result["error"], result["limit"]) == ("LimitExceeded", "max_bytes")
    assert result["peak_mb"] < PEAK_MB


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_nesting_100_000_deep_is_refused_without_recursion(
    measured: dict[str, dict[str, Any]], opener: str
) -> None:
    result = measured[f"nesting {opener}"]
    assert (result["error"], result["limit"]) == ("LimitExceeded", "max_depth")
    assert result["peak_mb"] < PEAK_MB


def test_deep_nesting_with_a_raised_depth_limit_is_still_a_typed_error(
    measured: dict[str, dict[str, Any]],
) -> None:
    result = measured["nesting with max_depth raised"]
    assert (result["error"], result["limit"]) == ("LimitExceeded", "max_depth")
    assert result["peak_mb"] < PEAK_MB


@pytest.mark.parametrize("value", SMALL_VALUES)
def test_many_small_values_are_refused_before_they_are_decoded(
    measured: dict[str, dict[str, Any]], value: str
) -> None:
    # 16 MB of empty objects decodes to over a gigabyte: refused on the text instead.
    result = measured[f"many {value}"]
    assert result["size"] <= Limits().max_bytes
    assert (result["error"], result["limit"]) == ("LimitExceeded", "max_items")
    assert result["peak_mb"] < PEAK_MB


def test_the_largest_document_inside_the_limits_fits_in_bounded_memory(
    measured: dict[str, dict[str, Any]],
) -> None:
    result = measured["inside the limits"]
    assert result["error"] is None
    assert result["count"] > 30_000
    assert result["peak_mb"] < PEAK_MB


def test_a_10_mb_string_is_refused_by_the_string_limit() -> None:
    family = load_registry().family("backup-metadata")
    raw = json.dumps({"version": 2, "volume-base-metadata": {"display_name": "x" * 10_000_000}})
    with pytest.raises(LimitExceeded) as info:
        family.load(raw.encode())
    assert info.value.limit == "max_string_length"
    assert info.value.path == '$["volume-base-metadata"]["display_name"]'


def test_a_10_mb_key_is_refused_by_the_string_limit() -> None:
    raw = json.dumps({"version": 2, "volume-metadata": {"k" * 10_000_000: "v"}})
    with pytest.raises(LimitExceeded) as info:
        parse(raw.encode())
    assert info.value.limit == "max_string_length"
    assert info.value.path == '$["volume-metadata"]'


# --- the counts on the text agree with the values -------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def items_and_depth(value: Any, depth: int = 1) -> tuple[int, int]:
    if isinstance(value, dict):
        children = list(value.values())
    elif isinstance(value, list):
        children = value
    else:
        return 0, depth - 1
    counted = [items_and_depth(c, depth + 1) for c in children]
    return len(children) + sum(n for n, _ in counted), max([depth, *(d for _, d in counted)])


@given(st.dictionaries(st.text(), json_values, max_size=5), st.sampled_from([None, 1, 2]))
def test_value_count_and_depth_on_the_text_are_exact(doc: dict[str, Any], indent: Any) -> None:
    # Refusing before decoding must never refuse what is inside the limits, or accept what
    # is not, whatever the strings hold (brackets, commas, quotes, backslashes) and however
    # the text is laid out. Both ways of counting run: splitting at quotes and tokenizing.
    items, depth = items_and_depth(doc)
    for text in (json.dumps(doc, indent=indent), json.dumps(doc, ensure_ascii=False)):
        exact = Limits(max_items=max(items, 1), max_depth=max(depth, 1))
        assert parse(text, exact) == doc
        if items > 1:
            with pytest.raises(LimitExceeded) as info:
                parse(text, Limits(max_items=items - 1, max_depth=64))
            assert info.value.limit == "max_items"
            assert info.value.value == items


def test_text_with_escapes_or_many_strings_is_counted_by_tokens() -> None:
    # The two ways of counting, each on the input that needs it.
    escaped = {"a": ['x\\"]', "[[,", {"b": "\\\\"}]}
    many = {"k": ["s"] * 250_000}
    for doc, items in ((escaped, 5), (many, 250_001)):
        text = json.dumps(doc)
        assert parse(text, Limits(max_items=items)) == doc
        with pytest.raises(LimitExceeded):
            parse(text, Limits(max_items=items - 1))


# --- a parsed object proved within the limits by orjson's writing of it ---------------------


class _Shade(enum.IntEnum):
    DARK = 1


class _LoudStr(str):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


def _cycle() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"n": value}
    return value


NOT_JSON = [
    ({"a": float("nan")}, NonFiniteNumber),
    ({"a": [1.0, float("-inf")]}, NonFiniteNumber),
    ({"a": "\ud800"}, InvalidJSON),
    ({1: "int key"}, InvalidJSON),
    ({"a": {1, 2}}, InvalidJSON),
    ({"a": datetime.datetime(2026, 12, 1)}, InvalidJSON),
    ({"a": uuid.UUID(int=7)}, InvalidJSON),
    ({"a": 10**4301}, InvalidJSON),
    (_cycle(), LimitExceeded),
    (_nested(300), LimitExceeded),
    ({"a": _LoudStr("x" * 40)}, LimitExceeded),  # equal to anything, still too long
]


@pytest.mark.parametrize(("value", "error"), NOT_JSON, ids=[e.__name__ for _, e in NOT_JSON])
def test_a_parsed_object_orjson_cannot_vouch_for_is_walked(value: Any, error: type) -> None:
    assert not codec._written_within(value, Limits(max_string_length=32))
    with pytest.raises(error):
        check_limits(value, Limits(max_string_length=32))


def test_plain_json_values_orjson_writes_alike_pass_without_the_walk() -> None:
    value = {"a": [1, 2.5, -0.0, None, True, "é", {"b": 2**63, "c": _Shade.DARK}], "d": (1,)}
    check_limits(value)
    assert codec._written_within({k: v for k, v in value.items() if k != "d"}, DEFAULT_LIMITS)
    assert not codec._written_within(value, DEFAULT_LIMITS)  # a tuple reads back as a list


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([_Shade.DARK, _LoudStr("abc"), (1, 2)])
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.integers(0, 3), inner, max_size=4)
    ),
    max_leaves=24,
)
_limits = st.builds(
    Limits,
    max_bytes=st.integers(2, 400),
    max_depth=st.integers(1, 5),
    max_string_length=st.integers(0, 12),
    max_keys=st.integers(0, 5),
    max_items=st.none() | st.integers(0, 30),
)


@given(st.dictionaries(st.text(max_size=6), _values, max_size=5), _limits | st.just(DEFAULT_LIMITS))
def test_what_orjson_vouches_for_the_walk_passes(value: dict[str, Any], limits: Limits) -> None:
    if codec._written_within(value, limits):
        codec._walk_limits(value, limits)  # raises if the proof let through a value it refuses
