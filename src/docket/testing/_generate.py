"""Hypothesis strategies from the JSON Schema keywords a docket version document may use.

The metaschema (``$defs/subschema``) limits container schemas to a small keyword set, and this
module handles exactly that set: a schema with any other keyword is refused rather than
half-understood. Values are built from hypothesis primitives, so they shrink, and are biased
towards rich examples: optional members present most of the time, maps usually non-empty,
and boundary values (empty and maximum-length strings, non-ASCII text, null, extreme
integers, first and last representable datetimes) common.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jsonschema_rs
from hypothesis import strategies as st

from docket.core.display import json_type
from docket.core.errors import SchemaDocumentError, show

Path = tuple[str, ...]
Avoid = Mapping[Path, frozenset[str]]
"""Member names that extra (undeclared) members must not take, per object location."""

ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples"}
)
HANDLED_KEYWORDS = ANNOTATIONS | frozenset(
    {
        "type",
        "const",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "propertyNames",
        "maxProperties",
        "items",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "x-docket-type",
    }
)
"""Every keyword of the metaschema's ``$defs/subschema``; a test keeps the two equal."""

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
DOCKET_TYPES = frozenset({"naive-datetime", "utc-datetime", "uuid", "boolean", "integer", "string"})
FORMATS = frozenset({"date-time", "uuid"})

UNBOUNDED_LENGTH = 1024
"""The longest string tried where a schema sets no maxLength."""
EXTREME_INTEGERS = (
    0,
    1,
    -1,
    2**31 - 1,
    -(2**31),
    2**53,
    -(2**53),
    2**63 - 1,
    -(2**63),
    2**64,
)
"""Boundaries where other systems (SQL columns, JavaScript, 64-bit codecs) break."""
MAX_COLLECTION = 6
"""Most items or extra members generated for one array or map (keeps examples fast)."""
MAX_EXTRA_KEY = 40

_RELAXED = frozenset({"default", "examples", "const", "enum"})


@st.composite
def _pick(draw: st.DrawFn, listed: tuple[st.SearchStrategy[Any], ...]) -> Any:
    return draw(draw(st.sampled_from(listed)))


def _weighted(*branches: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Branches chosen in proportion to their weights; shrinks towards the first one."""
    # Not st.one_of: it drops repeated branches, so repeating one cannot weight it.
    listed = tuple(s for weight, s in branches for _ in range(weight))
    if len(listed) == 1:
        return listed[0]
    # One composite for every call: defining one costs milliseconds (hypothesis compiles a
    # signature for it), and a container schema makes hundreds of these.
    return _pick(listed)


def type_matches(value: Any, types: Sequence[str]) -> bool:
    """JSON Schema's type check (an integer is also a number; a boolean is not)."""
    found = json_type(value)
    if found in types:
        return True
    if found == "integer" and "number" in types:
        return True
    return found == "number" and "integer" in types and float(value).is_integer()


def declared_types(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """The schema's ``type`` as a tuple (every JSON type when absent)."""
    t = schema.get("type")
    if t is None:
        return JSON_TYPES
    return (t,) if isinstance(t, str) else tuple(t)


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    # ASCII: \d, \w and \b are ASCII in ECMA-262, as jsonschema-rs reads them; Python's
    # Unicode classes would generate digits and letters the validator refuses.
    return re.compile(pattern, re.ASCII)


def _validator(schema: Mapping[str, Any]) -> Any:
    """The validator that decides (jsonschema-rs, ECMA-262 patterns, formats checked), so
    nothing generated is refused by :meth:`Family.validate`."""
    return jsonschema_rs.validator_for(dict(schema), validate_formats=True)


class _NoValue(Exception):
    """A (sub)schema no value satisfies; ``where`` is the member path down to it."""

    def __init__(self, reason: str, where: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where

    def under(self, name: str) -> _NoValue:
        return _NoValue(self.reason, (name, *self.where))


def check_keywords(schema: Mapping[str, Any], path: Sequence[str | int] = ()) -> None:
    """Refuse a schema (or subschema) using a keyword the generator does not handle."""
    unknown = sorted(set(schema) - HANDLED_KEYWORDS)
    if unknown:
        raise SchemaDocumentError(
            "docket.testing",
            f"keyword {show(unknown[0])} is not one a docket version document may use",
            path=tuple(path),
            hint="container schemas may use only the keywords of the metaschema's $defs/subschema",
        )


# --- any JSON value --------------------------------------------------------------------------


def _text(min_size: int = 0, max_size: int = 24) -> st.SearchStrategy[str]:
    return _weighted(
        (3, st.text(min_size=min_size, max_size=max_size)),
        (2, st.text(st.characters(codec="ascii"), min_size=min_size, max_size=max_size)),
    )


def _integers(lo: int | None = None, hi: int | None = None) -> st.SearchStrategy[int]:
    extremes = sorted(
        {
            n
            for n in (*EXTREME_INTEGERS, lo, hi)
            if n is not None and (lo is None or n >= lo) and (hi is None or n <= hi)
        },
        key=abs,
    )
    plain = st.integers(min_value=lo, max_value=hi)
    return _weighted((2, plain), (1, st.sampled_from(extremes))) if extremes else plain


def _floats(lo: float | None = None, hi: float | None = None) -> st.SearchStrategy[float]:
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def any_json(depth: int = 2) -> st.SearchStrategy[Any]:
    """Any JSON value (for ``true`` schemas and undeclared members), shallow."""
    scalars = st.one_of(st.none(), st.booleans(), _integers(), _floats(), _text())
    if depth <= 0:
        return scalars
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(_text(max_size=12), inner, max_size=3),
        ),
        max_leaves=6,
    )


# --- strings -----------------------------------------------------------------------------------


def _sized(lo: int, hi: int) -> st.SearchStrategy[str]:
    """Strings of ``lo`` to ``hi`` code points, exactly ``hi`` about a fifth of the time.

    Built from one length and a short repeated chunk: cheap to draw however long, and the
    length shrinks towards ``lo`` in a single step.
    """
    span = hi - lo
    lengths = st.integers(0, span + max(1, span // 4)).map(lambda k: lo + min(k, span))
    chunks = st.text(min_size=1, max_size=8)
    return st.builds(lambda n, s: (s * (n // len(s) + 1))[:n], lengths, chunks)


def _plain_strings(lo: int, hi: int | None) -> st.SearchStrategy[str]:
    short_hi = lo + 24 if hi is None else min(hi, lo + 24)
    branches: list[tuple[int, st.SearchStrategy[str]]] = []
    if lo == 0:
        branches.append((1, st.just("")))
    branches.append((5, _text(lo, short_hi)))
    branches.append((2, _sized(lo, max(hi if hi is not None else UNBOUNDED_LENGTH, lo))))
    return _weighted(*branches)


def _fmt_dt(moment: datetime, micro: bool) -> str:
    # strftime("%Y") drops the zero padding of years before 1000 on glibc: format by hand.
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    return text + (f".{moment.microsecond:06d}" if micro else "")


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


Renderer = Callable[[datetime], str]

_NAIVE_RENDERERS: tuple[Renderer, ...] = (
    lambda m: _fmt_dt(m, True),
    lambda m: _fmt_dt(m, False),
)
_UTC_RENDERERS: tuple[Renderer, ...] = (
    lambda m: _fmt_dt(m, True) + "Z",
    lambda m: _fmt_dt(m, False) + "Z",
    lambda m: _fmt_dt(m, True) + "+00:00",
)
_AWARE_RENDERERS: tuple[Renderer, ...] = (
    *_UTC_RENDERERS,
    lambda m: _fmt_dt(m, True) + _offset(m),
    lambda m: _fmt_dt(m, False) + _offset(m),
)
_SAMPLE_MOMENTS = (
    datetime(2014, 3, 9, 10, 20, 30, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(1999, 12, 31, 23, 59, 59, 123456, tzinfo=timezone(-timedelta(hours=7))),
)


def _moments(aware: bool) -> st.SearchStrategy[datetime]:
    lo, hi = datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)
    naive = _weighted((4, st.datetimes(lo, hi)), (1, st.sampled_from([lo, hi])))
    if not aware:
        return naive
    offsets = _weighted(
        (2, st.just(UTC)),
        (1, st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))),
    )
    return st.builds(lambda m, tz: m.replace(tzinfo=tz), naive, offsets)


def _datetime_strings(kind: str, pattern: str | None) -> st.SearchStrategy[str]:
    """Timestamps rendered the ways ``kind`` allows, keeping those ``pattern`` accepts."""
    renderers = {
        "naive-datetime": _NAIVE_RENDERERS,
        "utc-datetime": _UTC_RENDERERS,
        "date-time": _AWARE_RENDERERS,
    }[kind]
    aware = kind != "naive-datetime"
    if kind == "utc-datetime":
        samples = [m.astimezone(UTC) for m in _SAMPLE_MOMENTS]
    elif kind == "naive-datetime":
        samples = [m.replace(tzinfo=None) for m in _SAMPLE_MOMENTS]
    else:
        samples = list(_SAMPLE_MOMENTS)
    if pattern is not None:
        regex = _compiled(pattern)
        renderers = tuple(r for r in renderers if all(regex.search(r(m)) for m in samples))
    if not renderers:
        raise SchemaDocumentError(
            "docket.testing",
            f"no {kind} rendering matches the pattern {show(pattern)}",
            hint="use a pattern that accepts YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM]",
        )
    moments = _moments(aware)
    if kind == "utc-datetime":
        moments = moments.map(lambda m: m.replace(tzinfo=UTC))
    return st.builds(lambda m, r: r(m), moments, st.sampled_from(renderers))


def _uuid_strings(pattern: str | None) -> st.SearchStrategy[str]:
    forms = _weighted((4, st.uuids().map(str)), (1, st.uuids().map(lambda u: str(u).upper())))
    if pattern is not None:
        regex = _compiled(pattern)
        forms = forms.filter(lambda s: regex.search(s) is not None)
    return forms


def _strings(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    lo = int(schema.get("minLength", 0))
    hi_raw = schema.get("maxLength")
    hi = None if hi_raw is None else int(hi_raw)
    if hi is not None and hi < lo:
        raise _NoValue(f"minLength {lo} is greater than maxLength {hi}")
    pattern = schema.get("pattern")
    fmt = schema.get("format")
    kind = schema.get("x-docket-type")
    base: st.SearchStrategy[str]
    if kind in ("naive-datetime", "utc-datetime"):
        base = _datetime_strings(kind, pattern)
    elif fmt == "date-time":
        base = _datetime_strings("date-time", pattern)
    elif kind == "uuid" or fmt == "uuid":
        base = _uuid_strings(pattern)
    elif pattern is not None:
        ecma = _validator({"pattern": pattern}).is_valid
        base = st.from_regex(_compiled(pattern), fullmatch=True).filter(ecma)
    else:
        return _plain_strings(lo, hi)
    if fmt is not None:
        base = base.filter(_validator({"format": fmt}).is_valid)
    if lo or hi is not None:
        base = base.filter(lambda s: lo <= len(s) and (hi is None or len(s) <= hi))
    return base


# --- objects and arrays --------------------------------------------------------------------


_PRESENT = st.sampled_from((False,) + (True,) * 19)
"""Whether an optional member is there: 19 times in 20; shrinks to absent."""
_SECTION_PRESENT = st.sampled_from((True,) * 19 + (False,))
"""Whether an optional section (a member of the container itself) is there: 19 times in 20.

Hypothesis draws the first of a few choices far more often than its share inside a large
example, so the rich choice comes first here: sections stay present (and maps non-empty) in
most examples of every version, and a shrunk example keeps its sections, emptied of what the
failure does not need."""


def _objects(schema: Mapping[str, Any], path: Path | None, avoid: Avoid) -> st.SearchStrategy[Any]:
    props: Mapping[str, Any] = schema.get("properties", {})
    required = list(schema.get("required", ()))
    addl = schema.get("additionalProperties", True)
    names_schema = schema.get("propertyNames")
    maxp = schema.get("maxProperties")
    name_ok: Callable[[str], bool] = (
        _validator(names_schema).is_valid if isinstance(names_schema, Mapping) else (lambda n: True)
    )
    for n in required:
        if not name_ok(n):
            raise _NoValue(f"required member {show(n)} is refused by propertyNames")
    if maxp is not None and len(required) > maxp:
        raise _NoValue(f"{len(required)} members are required but maxProperties is {maxp}")

    def child(name: str) -> st.SearchStrategy[Any]:
        sub_path = None if path is None else (*path, name)
        try:
            if name in props:
                return _values(props[name], sub_path, avoid)
            if isinstance(addl, Mapping):
                return _values(addl, None, avoid)
        except _NoValue as e:
            raise e.under(name) from None
        if addl is False:
            raise _NoValue("required but not declared, and additionalProperties is false", (name,))
        return any_json()

    values = {n: child(n) for n in required}
    for n in props:
        if n not in required and name_ok(n):
            # An optional member no value satisfies is left out.
            with contextlib.suppress(_NoValue):
                values[n] = child(n)
    optional = [n for n in props if n not in required and n in values]
    reserved = frozenset(props) | (
        avoid.get(path, frozenset()) if path is not None else frozenset()
    )

    extra_keys: st.SearchStrategy[str] | None = None
    extra_values: st.SearchStrategy[Any] | None = None
    if addl is not False:
        if isinstance(names_schema, Mapping):
            key_schema = dict(names_schema)
            if "type" not in key_schema and "const" not in key_schema and "enum" not in key_schema:
                key_schema["type"] = "string"
            keys = _or_none(key_schema, avoid)
        else:
            keys = _text(0, MAX_EXTRA_KEY)
        extra_values = _or_none(addl, avoid) if isinstance(addl, Mapping) else any_json()
        if keys is not None and extra_values is not None:
            extra_keys = keys.filter(lambda k: k not in reserved)
        else:
            extra_values = None
    is_map = not props

    def extras(budget: int, taken: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
        # A map's members are its content: usually some. Elsewhere extras are the odd
        # undeclared member (a column from another release), present now and then.
        assert extra_keys is not None and extra_values is not None
        most = min(budget, MAX_COLLECTION if is_map else 3)
        keys = extra_keys.filter(lambda k: k not in taken) if taken else extra_keys
        some = st.dictionaries(keys, extra_values, min_size=1, max_size=most)
        if is_map:
            return _weighted((9, some), (1, st.just({})))
        return _weighted((1, st.just({})), (1, some))

    undeclared_required = frozenset(required) - frozenset(props)
    usual_extras = (
        extras(MAX_COLLECTION, undeclared_required)
        if extra_keys is not None and maxp is None
        else None
    )

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in required:
            out[name] = draw(values[name])
        budget = math.inf if maxp is None else maxp - len(required)
        present = _SECTION_PRESENT if path == () else _PRESENT
        for name in optional:
            if budget > 0 and draw(present):
                out[name] = draw(values[name])
                budget -= 1
        if usual_extras is not None:
            out.update(draw(usual_extras))
        elif extra_keys is not None and budget > 0:
            out.update(draw(extras(int(budget), undeclared_required)))
        return out

    return build()


def _arrays(schema: Mapping[str, Any], avoid: Avoid) -> st.SearchStrategy[list[Any]]:
    items = schema.get("items", True)
    elements = _or_none(items, avoid)
    most = (
        MAX_COLLECTION if "maxItems" not in schema else min(int(schema["maxItems"]), MAX_COLLECTION)
    )
    if most == 0 or elements is None:
        return st.just([])
    lists = st.lists(elements, min_size=1, max_size=most)
    return _weighted((1, st.just([])), (4, lists))


# --- the entry point ----------------------------------------------------------------------------


def from_schema(
    schema: Mapping[str, Any] | bool, path: Path | None = (), avoid: Avoid | None = None
) -> st.SearchStrategy[Any]:
    """A strategy for values valid against ``schema`` (a docket container (sub)schema).

    ``path`` is the object location (member names from the root) when it is known, and
    ``avoid`` the member names undeclared members must not take there. A schema that no
    value satisfies where one is required is refused with the ``$``-path of that value
    (rather than left to hypothesis to report as ``Unsatisfiable``, placing nothing).
    """
    try:
        return _values(schema, path, {} if avoid is None else avoid)
    except _NoValue as e:
        raise SchemaDocumentError(
            "docket.testing",
            f"no value satisfies this schema: {e.reason}",
            path=(*(path or ()), *e.where),
            hint="a required member must have at least one valid value; fix its keywords",
        ) from None


def _or_none(schema: Mapping[str, Any] | bool, avoid: Avoid) -> st.SearchStrategy[Any] | None:
    """Values of an optional place (array items, undeclared members): None when none exist."""
    try:
        return _values(schema, None, avoid)
    except _NoValue:
        return None


def _values(
    schema: Mapping[str, Any] | bool, path: Path | None, avoid: Avoid
) -> st.SearchStrategy[Any]:
    if schema is True:
        return any_json()
    if schema is False:
        raise _NoValue("the schema is false")
    check_keywords(schema, path or ())
    if "const" in schema or "enum" in schema:
        candidates = [schema["const"]] if "const" in schema else list(schema["enum"])
        if "const" in schema and "enum" in schema:
            candidates = [c for c in candidates if c in schema["enum"]]
        rest = {k: v for k, v in schema.items() if k not in _RELAXED}
        check = _validator(rest)
        allowed = [c for c in candidates if check.is_valid(c)]
        if not allowed:
            keyword = "const" if "const" in schema else "enum"
            raise _NoValue(f"no value of its {keyword} satisfies its other keywords")
        return st.sampled_from(allowed).map(copy.deepcopy)
    kind = schema.get("x-docket-type")
    types = declared_types(schema)
    if kind in ("boolean", "integer") and kind in types:
        # The value is typed: other JSON types in the type list (nulls aside) do not occur.
        types = tuple(t for t in types if t in (kind, "null"))
    branches: list[tuple[int, st.SearchStrategy[Any]]] = []
    refusals: list[_NoValue] = []
    for t in JSON_TYPES:
        if t not in types:
            continue
        try:
            branches.append(_typed(t, types, schema, path, avoid))
        except _NoValue as e:  # another type in the list may still have values
            refusals.append(e)
    if not branches:
        raise refusals[0] if refusals else _NoValue("its type list is empty")
    return _weighted(*branches)


def _typed(
    t: str, types: tuple[str, ...], schema: Mapping[str, Any], path: Path | None, avoid: Avoid
) -> tuple[int, st.SearchStrategy[Any]]:
    """The weighted branch of values of JSON type ``t``."""
    if t == "null":
        return (1, st.none())
    if t == "boolean":
        return (2, st.booleans())
    if t == "integer":
        return (3, _integer_values(schema))
    if t == "number":
        return (3, _number_values(schema, integers="integer" not in types))
    if t == "string":
        return (3, _strings(schema))
    if t == "array":
        return (2, _arrays(schema, avoid))
    return (2, _objects(schema, path, avoid))

def _bounds(schema: Mapping[str, Any]) -> tuple[float | None, float | None]:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    return (None if lo is None else float(lo), None if hi is None else float(hi))


def _integer_values(schema: Mapping[str, Any]) -> st.SearchStrategy[int]:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    ilo = None if lo is None else math.ceil(lo)
    ihi = None if hi is None else math.floor(hi)
    if ilo is not None and ihi is not None and ilo > ihi:
        raise _NoValue(f"no integer lies between minimum {lo} and maximum {hi}")
    return _integers(ilo, ihi)


def _number_values(schema: Mapping[str, Any], *, integers: bool) -> st.SearchStrategy[Any]:
    lo, hi = _bounds(schema)
    if lo is not None and hi is not None and lo > hi:
        raise _NoValue(f"minimum {lo} is greater than maximum {hi}")
    floats = _floats(lo, hi)
    if not integers:
        return floats
    return _weighted((3, floats), (1, _integer_values(schema)))
