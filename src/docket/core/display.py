"""Names as docket shows them: any name a file system allows, made safe for each output.

A file or directory name is a string of bytes without ``/`` or NUL. It may be invalid UTF-8
(Python hands it over with each bad byte as a lone surrogate, ``\\udcff``), hold newlines,
control characters and terminal escape sequences, or start with ``::``, which a CI runner
reads as a workflow command (``::error ...``, ``::add-mask::``) when it opens a line. The one
place that decides how such a name is written is here:

- :func:`display` for people (text output, messages on standard error): every character that
  is not printable, and the backslash itself, as an escape (``\\n``, ``\\x1b``, ``\\xff``,
  ``\\u202e``), and a leading ``:`` as ``\\x3a``; the result is one line that no terminal or
  CI runner interprets;
- :func:`text_of` for machine formats (JSON, XML): the name as it is, but bytes that are not
  UTF-8 (and lone surrogates) as escapes, so that it can be encoded at all;
- :func:`json_safe` the same over a whole JSON value;
- :func:`guard_lines` for a message of several lines that may embed names: a line that would
  start a workflow command has its first ``:`` escaped.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Any

_WORKFLOW = re.compile(r"^([ \t]*):(?=:)", re.MULTILINE)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _surrogate(char: str) -> str:
    code = ord(char)
    # surrogateescape maps an undecodable byte B to U+DC00 + B (B >= 0x80)
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def text_of(name: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """``name`` as text any encoder takes: undecodable bytes as ``\\xNN``, other lone
    surrogates as ``\\uXXXX``; everything else as it is (for JSON and XML, which escape the
    rest themselves)."""
    text = os.fsdecode(name)
    if text.isascii():
        return text
    # Compiled on first use (re keeps it): most names are ASCII.
    return re.compile(r"[\ud800-\udfff]").sub(lambda m: _surrogate(m.group()), text)


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return _surrogate(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
"""Cc: C0, DEL, C1 controls; Cf: bidirectional overrides, zero-width characters; Cs: lone
surrogates; Zl/Zp: line and paragraph separators."""


def hidden(char: str) -> bool:
    """Whether ``char`` is one :func:`display` escapes as not printable: a control or format
    character, a lone surrogate (an undecodable byte), a line or paragraph separator."""
    return unicodedata.category(char) in _HIDDEN


def _unsafe(char: str) -> bool:
    return char == "\\" or hidden(char)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # beyond the BMP: the UTF-16 surrogate pair, as JSON writes it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_hidden(text: str) -> str:
    """``text`` with every character :func:`display` escapes but the backslash (controls,
    format characters, lone surrogates, line separators) written as its JSON escape,
    ``\\u001b``: for text already in a quoted, backslash-escaped form (a JSON string, a
    ``$``-path key), which then shows on one line and that no terminal interprets."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_json_escape(c) if unicodedata.category(c) in _HIDDEN else c for c in text)


def display(name: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """``name`` as one line people can read and nothing interprets: backslashes, control
    and format characters and undecodable bytes as escapes, and a ``:`` that opens it (after
    blanks) as ``\\x3a``, so it never starts a CI workflow command."""
    text = os.fsdecode(name)
    if not (text.isascii() and text.isprintable() and "\\" not in text):
        text = "".join(_escape(c) if _unsafe(c) else c for c in text)
    return _WORKFLOW.sub(lambda m: m.group(1) + "\\x3a", text, count=1)


_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)
"""What a terminal acts on in text meant to be read, but the line feed and the tab: C0 and C1
controls (ESC starts every escape sequence), DEL, and the invisible and bidirectional
format characters and line separators."""


def guard_lines(text: str) -> str:
    """``text`` with no line a CI runner reads as a workflow command: a line that starts
    (after blanks) with ``:`` has that ``:`` written ``\\x3a``; lone surrogates, and control
    and format characters but newlines and tabs, as escapes (a name that reached the text
    without :func:`display` still cannot colour, retitle or clear a terminal)."""
    text = _CONTROL.sub(lambda m: _escape(m.group()), text_of(text))
    return _WORKFLOW.sub(lambda m: m.group(1) + "\\x3a", text)


def json_safe(value: Any) -> Any:
    """``value`` (JSON data) with every string, key or value, through :func:`text_of`."""
    if isinstance(value, str):
        return text_of(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def json_type(value: Any) -> str:
    """The JSON Schema type of a JSON value, for messages: ``"integer"``, ``"array"``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


__all__ = [
    "display",
    "escape_hidden",
    "guard_lines",
    "hidden",
    "json_safe",
    "json_type",
    "text_of",
]
