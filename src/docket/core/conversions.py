"""Whether a converter gives back every value: judged on the two schemas, without running one.

A ``convert`` operation is exact when its direction is one to one on the values the source
version admits, so that the inverse converter gives each of them back. For the built-in
int/string converters that is decided here:

- ``int-to-string`` is one to one on integers (``str`` then ``int`` gives back the integer),
  when the target admits the spelling of every integer the source does (64-bit ones tried);
- ``string-to-int`` is one to one only on canonical spellings: ``'00'``, ``'+1'``, ``' 1'``,
  ``'1_0'`` or ``'\\u0661'`` all become an integer that converts back to another string. It gives
  back every value when the source schema admits canonical spellings only (a ``const`` or
  ``enum`` of them, or a ``pattern`` such as ``^(0|[1-9][0-9]*)$``), each an integer the
  target schema admits.

The answer is three-valued (:class:`Exactness`): shown exact, shown lossy (with a value that
does not come back), or not known (a pattern docket does not recognise, a converter of your
own). ``new-version --update`` declares an edge exact only when shown exact; ``docket
check`` flags an edge declared exact only when shown lossy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from docket.core.errors import show


@dataclass(frozen=True)
class Exactness:
    """Whether one direction of a conversion gives back every value its source admits."""

    gives_back: bool | None
    """True: shown for every value; False: :attr:`reason` names one that does not come back;
    None: not known."""
    reason: str = ""


UNKNOWN = Exactness(None, "docket cannot tell from the schemas whether it gives back every value")
EXACT = Exactness(True)

_Q = r"(?:\*|\+|\{\d+(?:,\d*)?\})"
_CANONICAL = (
    rf"""\^(?:
        \((?:\?:)?0\|(?:-\?)?\[1-9\]\[0-9\]{_Q}\)    # (0|[1-9][0-9]*), (0|-?[1-9][0-9]*)
      | (?:-\?)?\[1-9\]\[0-9\]{_Q}                  # [1-9][0-9]*, -?[1-9][0-9]*
      | 0
    )\$"""
)
"""Patterns that admit canonical integer spellings only (``\\d`` is not among them: a
regular expression engine may read it as any Unicode digit); verbose, compiled on first use
(re keeps it): only the soundness checks ask."""

_CANDIDATES = (
    *("", "x", "00", "01", "007", "-0", "-00", "+0", "+1", " 1", "1 ", "1\n", "\t1", "1_0"),
    *("1.0", "1e3", "0x1", "\u0661", "\uff11", "1\u0663", "\u0660", "0", "1", "-1", "10", "-10"),
    *("9" * k for k in range(1, 41)),
    *("-" + "9" * k for k in range(1, 41)),
    *("1" + "0" * k for k in range(1, 41)),
)
"""Strings tried against a string schema: the spellings ``int`` reads that are not canonical,
and integers from small to large of both signs (for the target's range)."""


def _validator(schema: Any) -> Any:
    try:
        return jsonschema_rs.validator_for(dict(schema), validate_formats=True)
    except Exception:  # a schema that does not compile on its own (a $ref): not known
        return None


def _samples(schema: Mapping[str, Any]) -> Iterator[Any]:
    if "const" in schema:
        yield schema["const"]
    for keyword in ("enum", "examples"):
        if isinstance(schema.get(keyword), list):
            yield from schema[keyword]
    if "default" in schema:
        yield schema["default"]


_INT64 = 2**63 - 1
_INTEGERS = (
    *(0, 1, -1, _INT64, -_INT64 - 1),
    *(int("9" * k) for k in range(1, 19)),
    *(-int("9" * k) for k in range(1, 19)),
    *(10**k for k in range(1, 19)),
    *(-(10**k) for k in range(1, 19)),
)
"""Integers tried against an integer schema: both signs at every length of a 64-bit one."""


def int_to_string(source: Any, target: Any) -> Exactness:
    """``int-to-string`` from integers ``source`` admits to strings ``target`` admits: one to
    one on integers, so it gives each back when the target admits every spelling."""
    if not isinstance(source, Mapping) or not isinstance(target, Mapping):
        return UNKNOWN
    src, dst = _validator(source), _validator(target)
    if src is None or dst is None:
        return UNKNOWN
    for number in (*_samples(source), *_INTEGERS):
        if isinstance(number, bool) or not isinstance(number, int) or not src.is_valid(number):
            continue
        if not dst.is_valid(str(number)):
            return Exactness(
                False,
                f"{number} is allowed and becomes {show(str(number))}, "
                "which the other version refuses",
            )
    pattern = target.get("pattern")
    if pattern is None or (isinstance(pattern, str) and re.fullmatch(_CANONICAL, pattern, re.X)):
        return EXACT
    return UNKNOWN


def string_to_int(source: Any, target: Any) -> Exactness:
    """``string-to-int`` from strings ``source`` admits to integers ``target`` admits."""
    if not isinstance(source, Mapping) or not isinstance(target, Mapping):
        return UNKNOWN
    src, dst = _validator(source), _validator(target)
    if src is None or dst is None:
        return UNKNOWN
    for text in (*_samples(source), *_CANDIDATES):
        if not isinstance(text, str) or not src.is_valid(text):
            continue
        try:
            number = int(text)
        except ValueError:
            return Exactness(False, f"{show(text)} is allowed and is not an integer")
        if str(number) != text:
            return Exactness(
                False,
                f"{show(text)} is allowed and becomes {number}, "
                f"which converts back to {show(str(number))}",
            )
        if not dst.is_valid(number):
            return Exactness(
                False,
                f"{show(text)} is allowed and becomes {number}, which the other version refuses",
            )
    enumerated = "const" in source or isinstance(source.get("enum"), list)
    pattern = source.get("pattern")
    if enumerated or (
        source.get("type") == "string"
        and isinstance(pattern, str)
        and re.fullmatch(_CANONICAL, pattern, re.X)
        and _bounded_by(source, target)
    ):
        return EXACT
    return UNKNOWN


def _bounded_by(source: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    """Whether every integer a canonical ``source`` string spells is within ``target``'s
    range: the candidates tried both signs at every length up to 40 digits, so a target
    bound is shown when ``source`` is that short."""
    if not any(k in target for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return target.get("type") in ("integer", ["integer", "null"], ["null", "integer"]) and (
            set(target) <= {"type", "x-docket-type", "description", "title", "examples", "default"}
        )
    longest = source.get("maxLength")
    return isinstance(longest, int) and longest <= 40
