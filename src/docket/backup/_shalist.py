"""Reading a ``_sha256file`` into its packed form (32 bytes a block) without building the
list of hex strings: the document's other members are checked by its family as before, in a
copy of the document whose list is empty; the list itself is checked (``"<64 lowercase hex
digits>"`` items, as the schema says) and packed a window at a time, by operations on
whole windows rather than a Python step per item.

Anything this reader does not expect (a member that is an object or a list, the list twice,
an item of another form, a list that does not end) is left to the family, which parses the
document whole and names what is wrong. So memory holds the object's bytes and its packed
digests, not 131,072 Python strings per 4 GiB of volume.
"""

from __future__ import annotations

import re

_WS = re.compile(rb"[ \t\n\r]*")
_STRING = re.compile(rb'"(?:[^"\\\x00-\x1f]|\\.)*"')
_SCALAR = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_WHITESPACE = b" \t\n\r"
_HEX = b"0123456789abcdef"
_WINDOW = 256 << 10
"""Bytes of the list checked and packed at a time."""
LIST_KEY = b'"sha256s"'


def split_sha256file(raw: bytes) -> tuple[bytes, bytearray] | None:
    """The document with its list emptied (JSON, for the family to check) and the list's
    digests packed; ``None`` when the text is not of the form this reader expects."""
    i = _skip(raw, 0)
    if raw[i : i + 1] != b"{":
        return None
    members: list[bytes] = []
    packed: bytearray | None = None
    i = _skip(raw, i + 1)
    while True:
        key = _STRING.match(raw, i)
        if key is None:
            return None
        i = _skip(raw, key.end())
        if raw[i : i + 1] != b":":
            return None
        i = _skip(raw, i + 1)
        if key.group() == LIST_KEY:
            found = None if packed is not None else _digests(raw, i)
            if found is None:
                return None
            packed, i = found
            members.append(LIST_KEY + b":[]")
        else:
            value = _STRING.match(raw, i) or _SCALAR.match(raw, i)
            if value is None:
                return None
            members.append(key.group() + b":" + value.group())
            i = value.end()
        i = _skip(raw, i)
        if raw[i : i + 1] == b",":
            i = _skip(raw, i + 1)
            continue
        if raw[i : i + 1] != b"}" or _skip(raw, i + 1) != len(raw) or packed is None:
            return None
        return b"{" + b",".join(members) + b"}", packed


def _skip(raw: bytes, at: int) -> int:
    return _WS.match(raw, at).end()  # type: ignore[union-attr]


def _digests(raw: bytes, at: int) -> tuple[bytearray, int] | None:
    """The packed digests of the list that starts at ``at``, and where the list ends."""
    if raw[at : at + 1] != b"[":
        return None
    close = raw.find(b"]", at)
    if close < 0:
        return None
    packed = bytearray()
    start = at + 1
    if not raw[start:close].strip(_WHITESPACE):
        return packed, close + 1
    while start < close:
        cut = close if close - start <= _WINDOW else raw.rfind(b",", start, start + _WINDOW)
        if cut <= start:
            return None
        # Between quotes: items, each 64 lowercase hex digits; around them, whitespace
        # and one comma between two items.
        parts = raw[start:cut].split(b'"')
        items, gaps = parts[1::2], parts[2:-1:2]
        hexes = b"".join(items)
        if (
            len(parts) % 2 == 0
            or set(map(len, items)) != {64}
            or any(gap.translate(None, _WHITESPACE) != b"," for gap in set(gaps))
            or parts[0].translate(None, _WHITESPACE)
            or parts[-1].translate(None, _WHITESPACE)
            or hexes.translate(None, _HEX)
        ):
            return None
        packed += bytes.fromhex(hexes.decode("ascii"))
        start = cut + 1
    return packed, close + 1


class Digests:
    """A packed SHA-256 list read as a sequence of 32-byte digests."""

    def __init__(self, packed: bytes) -> None:
        self.packed = packed

    def __len__(self) -> int:
        return len(self.packed) // 32

    def __getitem__(self, index: int) -> bytes:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.packed[index * 32 : index * 32 + 32]
