"""Converters: named value conversions for the ``convert`` migration operation, each with the
name of its inverse, and the built-in ones (naive/aware UTC timestamps, int/string)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from docket.core import conversions
from docket.core.conversions import UNKNOWN, Exactness
from docket.core.errors import show


@dataclass(frozen=True)
class Converter:
    """A value conversion used by the ``convert`` operation, with its inverse."""

    name: str
    forward: Callable[[Any], Any]
    inverse_name: str | None = None
    exactness: Callable[[Any, Any], Exactness] | None = None
    """Given a field's schema before and after the conversion, whether the conversion gives
    back (through its inverse) every value the first admits (:mod:`docket.core.conversions`);
    None: the static checks cannot tell."""

    keeps_valid: Callable[[Any, Any], bool] | None = None
    """Given a field's schema before and after the conversion, whether every value the first
    admits that the conversion takes becomes one the second admits (False: not shown). When
    shown, the check after a migration leaves the field out (``narrowing.shown_fields``);
    a property test should hold it to jsonschema-rs (``tests/core/test_narrowing.py``)."""

    checked: Callable[[Any], Callable[[Any], Any] | None] | None = None
    """Given a field's schema at the source version, a function that does what
    :attr:`forward` does on every value that schema admits, with less work (None: not
    shown). A load that has just validated the container at that version runs the first
    edge of its path with it (``docket.core._loading``); a test should hold the two to each
    other on such values (``tests/core/test_load_paths.py``)."""

    def judge(self, source: Any, target: Any) -> Exactness:
        """Whether this conversion, from values ``source`` admits to ``target``, is one the
        inverse undoes for every value."""
        return UNKNOWN if self.exactness is None else self.exactness(source, target)

    def shown_valid(self, source: Any, target: Any) -> bool:
        """Whether :attr:`keeps_valid` shows every converted value valid under ``target``."""
        return self.keeps_valid is not None and self.keeps_valid(source, target)


_from_iso = datetime.fromisoformat
_NAIVE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\Z")
_AWARE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})\Z")


# Cinder's own form, microseconds always written: its shape with every digit made 0.
_ZERO_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")
_CINDER_SHAPE = b"0000-00-00T00:00:00.000000"


def _naive_to_utc(value: Any) -> Any:
    if value is None:
        return None
    if (
        type(value) is str
        and len(value) == 26
        and value.isascii()
        and value.encode().translate(_ZERO_DIGITS) == _CINDER_SHAPE
    ):
        # _NAIVE's match, with six digits of fraction, in one translate (a third the time);
        # fromisoformat reads such a value whole when its first 19 characters are a moment.
        moment = value
    else:
        match = _NAIVE.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(
                f"{show(value)} is not a naive timestamp YYYY-MM-DDTHH:MM:SS[.ffffff]"
            )
        moment, fraction = match.groups()
    try:
        _from_iso(moment)
    except ValueError:
        # The older version's pattern accepts it, but no such moment exists (e.g. 02-30).
        raise ValueError(f"{show(value)} is not a real date and time") from None
    if len(value) == 26:  # 19 characters of moment, a dot and 6 of fraction: as Cinder writes
        return value + "Z"
    return f"{moment}.{(fraction or '').ljust(6, '0')}Z"


# The patterns of Cinder's naive timestamps (six digits of fraction) and of their aware form.
NAIVE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}$"
AWARE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"
# Keywords that judge no value (annotations).
_NOTES = frozenset(
    {"title", "description", "$comment", "examples", "default", "deprecated", "readOnly",
     "writeOnly"}
)


def _judged(schema: Any) -> dict[str, Any] | None:
    """The keywords of ``schema`` that judge a value (annotations and ``x-`` ones left out);
    None when it is not an object schema."""
    if not isinstance(schema, Mapping):
        return None
    return {k: v for k, v in schema.items() if k not in _NOTES and not k.startswith("x-")}


def _naive_keeps_valid(source: Any, target: Any) -> bool:
    """``naive-utc-to-aware`` from Cinder's naive timestamps to the aware ones: a string the
    source pattern admits (ASCII digits, six of fraction) is of Cinder's shape, so the
    converter gives it back with a Z or refuses it; what it gives is a moment
    ``fromisoformat`` read (a real date, hours to 23, seconds to 59), which RFC 3339's
    ``date-time`` admits and the aware pattern matches. null stays null. Shown only for these
    exact schemas (of type ``"string"`` or ``["string", "null"]``, the same on both sides;
    annotations aside)."""
    src, dst = _judged(source), _judged(target)
    if src is None or dst is None:
        return False
    kinds = src.get("type")
    if kinds not in ("string", ["string", "null"], ["null", "string"]):
        return False
    if src != {"type": kinds, "pattern": NAIVE_PATTERN}:
        return False
    return dst in (
        {"type": kinds, "pattern": AWARE_PATTERN},
        {"type": kinds, "pattern": AWARE_PATTERN, "format": "date-time"},
    )


def _cinder_to_utc(value: Any) -> Any:
    """:func:`_naive_to_utc` of a value :data:`NAIVE_PATTERN` admits (or null): Cinder's shape
    is known, so only ``fromisoformat`` judges the moment."""
    if value is None:
        return None
    try:
        _from_iso(value)
    except ValueError:
        raise ValueError(f"{show(value)} is not a real date and time") from None
    return value + "Z"


def _naive_checked(source: Any) -> Callable[[Any], Any] | None:
    """:func:`_cinder_to_utc` for a field whose schema admits only Cinder's naive timestamps
    and null (of type ``"string"`` or ``["string", "null"]`` and :data:`NAIVE_PATTERN`,
    annotations aside); None for any other schema."""
    src = _judged(source)
    if src is None or src.get("type") not in ("string", ["string", "null"], ["null", "string"]):
        return None
    return _cinder_to_utc if src == {"type": src["type"], "pattern": NAIVE_PATTERN} else None


def _utc_to_naive(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not _AWARE.match(value):
        raise ValueError(f"{show(value)} is not a timezone-aware timestamp")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    # isoformat, not strftime: glibc's %Y does not zero-pad years before 1000.
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


def _to_string(value: Any) -> Any:
    return None if value is None else str(value)


def _string_to_int(value: Any) -> Any:
    return None if value is None else int(value)


BUILTIN_CONVERTERS: Mapping[str, Converter] = {
    c.name: c
    for c in (
        Converter(
            "naive-utc-to-aware", _naive_to_utc, "aware-utc-to-naive",
            keeps_valid=_naive_keeps_valid, checked=_naive_checked,
        ),
        Converter("aware-utc-to-naive", _utc_to_naive, "naive-utc-to-aware"),
        Converter("int-to-string", _to_string, "string-to-int", conversions.int_to_string),
        Converter("string-to-int", _string_to_int, "int-to-string", conversions.string_to_int),
    )
}
