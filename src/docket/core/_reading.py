"""Reading the files ``validate_many`` is given: regular files only, never blocking."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _read_regular(path: str, most: int) -> bytes:
    """At most ``most`` bytes of the regular file ``path``; never blocks on a FIFO or device
    put in its place (opened without blocking, checked on the open descriptor).

    Read with one ``os.read`` of the size ``fstat`` gives (plus one byte, to see the end),
    more only when the file grew meanwhile: no buffered file object per file."""
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, f"not a regular file ({_kind(info.st_mode)})")
        want = min(info.st_size + 1, most)
        data = os.read(fd, want) if want > 0 else b""
        if len(data) < want or len(data) >= most:
            return data
        pieces = [data]  # the file grew since fstat: read on to its end or to ``most``
        got = len(data)
        while got < most:
            piece = os.read(fd, min(most - got, 1024 * 1024))
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
        return b"".join(pieces)
    finally:
        os.close(fd)


def stream_size(stream: BinaryIO) -> int | None:
    """The size of the regular file behind an open ``stream`` (standard input redirected
    from a file), None for a pipe, terminal or device, or a stream without a descriptor."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # io.BytesIO: UnsupportedOperation
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def open_regular(path: str) -> BinaryIO:
    """``path`` opened for unbuffered reading if it is a regular file (opened without
    blocking, checked on the open descriptor, as :func:`_read_regular` does); else OSError."""
    fd = os.open(path, _READ_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(0, f"not a regular file ({_kind(mode)})")
        return open(fd, "rb", buffering=0)  # the caller closes it
    except BaseException:
        os.close(fd)
        raise


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


def _size(path: str | Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _open_stream(path: str) -> BinaryIO | None:
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


def _lines(
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


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"
