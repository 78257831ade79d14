"""The input of ``validate_many``: JSON Lines split as it is read, streams read once.

A FIFO, a device or standard input is read once, as it comes; a regular file may be read again
(in byte ranges, by worker processes). A line longer than the container limit is never held
whole.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast


def split_lines(
    fh: BinaryIO, chunk: int, limit: int
) -> Iterator[tuple[int, list[bytes | None], int]]:
    """The lines of JSON Lines read once, ``chunk`` bytes at a time: for each block, the
    number (from 1) of its first complete line, its complete lines, and the bytes read since
    the last block yielded. A line longer than ``limit`` is ``None`` and is never held whole:
    past ``limit`` bytes the rest of it is dropped as it is read. A last line without a
    newline is yielded at the end.

    Splitting here (rather than finding block boundaries, then reading each block again to
    split it) reads the input once and counts its lines with the split itself."""
    line = 1
    carry = b""  # the start of the line the last block ended inside
    too_long = False  # inside a line longer than limit
    pending = 0
    while block := fh.read(chunk):
        pending += len(block)
        pieces = block.split(b"\n")
        tail = pieces.pop()  # after the block's last newline: the start of the next line
        if pieces:
            parts = cast("list[bytes | None]", pieces)
            if too_long:
                parts[0] = None  # the end of the over-long line
            elif carry:
                first = carry + pieces[0]
                parts[0] = None if len(first) > limit else first
            yield line, parts, pending
            line += len(parts)
            carry, too_long, pending = b"", False, 0
        if too_long:
            continue  # the rest of an over-long line is not kept
        carry += tail
        if len(carry) > limit:
            carry, too_long = b"", True
    if too_long or carry:
        yield line, [None if too_long else carry], pending
    elif pending:
        yield line, [], pending


def file_size(path: str | Path) -> int:
    """The size of ``path`` in bytes (0 when it cannot be read)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def open_stream(path: str) -> BinaryIO | None:
    """``path`` opened for reading when it is not a regular file (a FIFO, a device: read as
    a stream, once); None for a regular file or one that cannot be opened (read later)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        os.set_blocking(fd, True)  # opened without blocking only so a FIFO cannot stop us
    except OSError:
        os.close(fd)
        return None
    return open(fd, "rb")


def read_lines(
    fh: BinaryIO, limit: int, span: int | None = None, *, stream: bool = False
) -> Iterator[tuple[int, bytes | None]]:
    """``(index, content)`` per line, over at most ``span`` bytes; a line longer than
    ``limit`` gives ``(index, None)`` and is never held whole. In a regular file the rest of
    that line is skipped in bounded pieces (the file's size bounds the work); in a
    ``stream`` (standard input, a FIFO, a device) reading ends there, so an endless line
    (``/dev/zero``) ends the run instead of keeping it reading."""
    index, used = 0, 0
    while span is None or used < span:
        line = fh.readline(limit + 1)
        if not line:
            return
        consumed = len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            yield index, None
            if stream:
                return
            while True:  # skip the rest of the over-long line in bounded pieces
                rest = fh.readline(1024 * 1024)
                consumed += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        else:
            yield index, line.rstrip(b"\r\n")
        used += consumed
        index += 1
