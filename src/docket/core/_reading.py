"""Reading the files ``validate_many`` is given: regular files only, never blocking."""

from __future__ import annotations

import os
import stat

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
