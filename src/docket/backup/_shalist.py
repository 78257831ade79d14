"""Reading a ``_sha256file`` into its packed form (32 bytes a block) as it streams in,
without the list of hex strings and without the object's text held whole: the document's
other members are checked by its family as before, in a copy of the document whose list is
empty; the list itself is checked (``"<64 lowercase hex digits>"`` items, as the schema says)
and packed a window at a time, by operations on whole windows rather than a Python step per
item, and each window is dropped once packed.

Anything this reader does not expect (a member that is an object or a list, the list twice,
an item of another form, a list that does not end) is left to the family, which parses the
document whole and names what is wrong. So memory holds the packed digests and one window,
not 131,072 Python strings (nor 10 MiB of text) per 4 GiB of volume.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

_WS = re.compile(rb"[ \t\n\r]*")
_STRING = re.compile(rb'"(?:[^"\\\x00-\x1f]|\\.)*"')
_SCALAR = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_WHITESPACE = b" \t\n\r"
_HEX = b"0123456789abcdef"
_WINDOW = 256 << 10
"""Bytes read, and of the list checked and packed, at a time."""
_ITEM = 67
"""The fewest bytes an item of the list takes: '"', 64 digits, '"' and ','."""
LIST_KEY = b'"sha256s"'


class Split:
    """A ``_sha256file`` read through: its other members (JSON, for the family to check),
    its packed digests and the SHA-256 of all its bytes (for the seal)."""

    def __init__(self, header: bytes, packed: bytearray, digest: str) -> None:
        self.header = header
        self.packed = packed
        self.digest = digest


def split_sha256file(raw: bytes | bytearray) -> Split | None:
    """:func:`read_sha256file` of bytes in memory."""
    pieces = [bytes(raw[at : at + _WINDOW]) for at in range(0, len(raw), _WINDOW)]
    pieces.reverse()
    return read_sha256file(lambda _: pieces.pop() if pieces else b"", len(raw))


def read_sha256file(read: Callable[[int], bytes], size: int) -> Split | None:
    """Read a ``_sha256file`` through ``read(n)`` (``b""`` at its end; ``size``: about how
    many bytes it has, which bounds the list); ``None`` when the text is not of the form
    this reader expects, and then nothing of it is kept."""
    src = _Source(read)
    i = src.skip(0)
    if src.at(i) != b"{":
        return None
    members: list[bytes] = []
    packed: bytearray | None = None
    i = src.skip(i + 1)
    while True:
        key = src.token(_STRING, i)
        if key is None:
            return None
        i = src.skip(key.end())
        if src.at(i) != b":":
            return None
        i = src.skip(i + 1)
        if key.group() == LIST_KEY:
            found = None if packed is not None else _digests(src, i, size)
            if found is None:
                return None
            packed, i = found
            members.append(LIST_KEY + b":[]")
        else:
            value = src.token(_STRING if src.at(i) == b'"' else _SCALAR, i)
            if value is None:
                return None
            members.append(bytes(key.group()) + b":" + bytes(value.group()))
            i = value.end()
        i = src.skip(i)
        if src.at(i) == b",":
            i = src.skip(i + 1)
            continue
        if src.at(i) != b"}" or src.skip(i + 1) != len(src.buf) or packed is None:
            return None
        return Split(b"{" + b",".join(members) + b"}", packed, "sha256:" + src.sha.hexdigest())


class _Source:
    """The text read so far (less the windows of the list already packed), read on demand."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self.buf = bytearray()
        self.sha = hashlib.sha256()
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        piece = self._read(_WINDOW)
        if not piece:
            self.eof = True
            return False
        self.sha.update(piece)
        self.buf += piece
        return True

    def at(self, i: int) -> bytes:
        while i >= len(self.buf) and self.more():
            pass
        return bytes(self.buf[i : i + 1])

    def skip(self, i: int) -> int:
        """Past the whitespace at ``i`` (to the end of the text: all of it read)."""
        while True:
            end = _WS.match(self.buf, i).end()  # type: ignore[union-attr]
            if end < len(self.buf) or not self.more():
                return end

    def token(self, pattern: re.Pattern[bytes], i: int) -> re.Match[bytes] | None:
        """A token at ``i`` that does not run to the end of what is read (a number or a
        string may go on in the next piece)."""
        while True:
            found = pattern.match(self.buf, i)
            if (found is not None and found.end() < len(self.buf)) or not self.more():
                return found


def _digests(src: _Source, at: int, size: int) -> tuple[bytearray, int] | None:
    """The packed digests of the list that starts at ``at``, and where the list ends (the
    list's windows are dropped from ``src`` as they are packed: it ends at ``at + 2``)."""
    if src.at(at) != b"[":
        return None
    buf = src.buf
    packed = bytearray(max(size - at, 0) // _ITEM * 32)
    filled = 0
    start = at + 1
    while True:
        close = buf.find(b"]", start)
        end = close if close >= 0 else buf.rfind(b",", start)
        if close >= 0 and filled == 0 and not buf[start:close].strip(_WHITESPACE):
            del buf[start:close]
            del packed[:]
            return packed, start + 1
        if end > start:
            # Whole items up to the list's end, or to the last comma read so far.
            closing = close >= 0
            while start < end:
                cut = end if end - start <= _WINDOW else buf.rfind(b",", start, start + _WINDOW)
                if cut <= start:
                    return None
                digests = _window(bytes(buf[start:cut]))
                if digests is None:
                    return None
                packed[filled : filled + len(digests)] = digests  # grows past a wrong size
                filled += len(digests)
                through = cut if closing and cut == end else cut + 1
                del buf[start:through]
                end -= through - start
            if closing:
                del packed[filled:]
                return packed, start + 1
        if not src.more():
            return None


def _window(text: bytes) -> bytes | None:
    """The digests of ``"<hex>"`` items joined by commas (and whitespace), packed."""
    # Between quotes: items, each 64 lowercase hex digits; around them, whitespace and
    # one comma between two items.
    parts = text.split(b'"')
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
    return bytes.fromhex(hexes.decode("ascii"))


class Digests:
    """A packed SHA-256 list read as a sequence of 32-byte digests."""

    def __init__(self, packed: bytes | bytearray) -> None:
        self.packed = packed

    def __len__(self) -> int:
        return len(self.packed) // 32

    def __getitem__(self, index: int) -> bytes:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return bytes(self.packed[index * 32 : index * 32 + 32])
