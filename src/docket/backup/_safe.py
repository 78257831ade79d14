"""Opening and reading files that someone else can write, without being fooled by them.

Backup storage, records and the files a user points docket at are hostile input: in their place
there may be a FIFO (an ``open`` that never returns), a device (``/dev/zero``: endless bytes), a
socket, a directory, or a symbolic link to a file of the host. The helpers here

- open **without following** a symbolic link in the last component (``O_NOFOLLOW``), **without
  blocking** (``O_NONBLOCK``: a FIFO opens at once) and without taking a terminal
  (``O_NOCTTY``), and then check the *opened descriptor* with ``fstat`` (a check of the path
  before opening could be raced);
- read **at most** a stated number of bytes and refuse a file that holds more, before reading
  it when its size is known;
- walk directories **below a root** one component at a time, refusing any component that is a
  symbolic link, so that nothing reached from the root is outside it.

Every refusal is an :class:`~docket.core.errors.UnsafeFile` (or its subclass
:class:`~docket.core.errors.FileTooLarge`), a ``DocketError`` the command line reports with exit
status 1. Errors name the path as the caller gave it.

Typical use::

    fd = open_regular(path, what="key file")            # an int descriptor, caller closes
    with open_file(path, what="input file") as fh: ...  # a binary file object
    raw = read_bounded(path, 1 << 20, what="record")     # bytes, at most the limit
    with open_beneath(root, "ab/cd/abcd-id", what="backup directory") as dir_fd:
        data = read_bounded("x_metadata", limit, what="metadata object", dir_fd=dir_fd)
        for entry in scan_dir(dir_fd): ...

``what`` is a short noun phrase for messages ("key file", "data object"); ``backup_id``, where
accepted, is carried on the error so a report can say which backup the file belongs to.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from docket.core.errors import FileTooLarge, UnsafeFile

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PIECE = 1 << 20

REGULAR = frozenset({stat.S_IFREG})
"""File types :func:`open_regular` accepts: regular files only."""
VOLUME = frozenset({stat.S_IFREG, stat.S_IFBLK})
"""File types a volume can be: a regular file (an image) or a block device."""

PathArg = str | os.PathLike[str]


def kind_of(mode: int) -> str:
    """What a file of ``mode`` (``st_mode``) is, as a phrase for messages: ``"a FIFO"``."""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _refuse_open_error(
    err: OSError,
    path: PathArg,
    dir_fd: int | None,
    what: str,
    backup_id: str | None,
    shown: str | None = None,
) -> None:
    """Turn the errors ``O_NOFOLLOW`` / ``O_NONBLOCK`` opens give on odd files into
    :class:`UnsafeFile`; other ``OSError`` s (missing, permission) are left to the caller."""
    if err.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.EISDIR, errno.ENOTDIR):
        try:
            mode = os.lstat(path, dir_fd=dir_fd).st_mode
        except OSError:
            return  # nothing there, or a parent is not a directory: the caller's error
        if err.errno == errno.ENOTDIR and stat.S_ISREG(mode):
            return  # a file where a directory was wanted: NotADirectoryError, as usual
        raise UnsafeFile(
            shown or os.fspath(path), what, kind_of(mode), backup_id=backup_id, hint=_HINT
        ) from None


_HINT = "docket reads and writes only regular files here and never follows symbolic links"


def open_regular(
    path: PathArg,
    *,
    what: str,
    dir_fd: int | None = None,
    kinds: Iterable[int] = REGULAR,
    flags: int = 0,
    backup_id: str | None = None,
) -> int:
    """Open ``path`` (relative to ``dir_fd`` when given) for reading and return the descriptor.

    The last component is not followed when it is a symbolic link, the open does not block
    (a FIFO), and the descriptor must be of one of ``kinds`` (``S_IFREG`` by default; pass
    :data:`VOLUME` to allow block devices), else :class:`UnsafeFile` is raised and the
    descriptor closed. ``flags`` are added to the open (``os.O_RDWR`` replaces read-only).
    Once checked, ``O_NONBLOCK`` is cleared so reads behave as usual. Missing files and
    permission problems raise the usual ``OSError`` (``FileNotFoundError``...). The caller
    closes the descriptor (``os.close`` or :func:`os.fdopen`).
    """
    open_flags = _READ_FLAGS | flags
    if flags & (os.O_WRONLY | os.O_RDWR):
        open_flags &= ~os.O_RDONLY
    try:
        fd = os.open(path, open_flags, dir_fd=dir_fd)
    except OSError as err:
        _refuse_open_error(err, path, dir_fd, what, backup_id)
        raise
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_IFMT(mode) not in frozenset(kinds):
            raise UnsafeFile(os.fspath(path), what, kind_of(mode), backup_id=backup_id, hint=_HINT)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(
    path: PathArg,
    *,
    what: str,
    dir_fd: int | None = None,
    kinds: Iterable[int] = REGULAR,
    backup_id: str | None = None,
) -> BinaryIO:
    """:func:`open_regular` as an unbuffered binary file object (``with`` closes it)."""
    fd = open_regular(path, what=what, dir_fd=dir_fd, kinds=kinds, backup_id=backup_id)
    return os.fdopen(fd, "rb", buffering=0)


def read_bounded(
    source: PathArg | int | BinaryIO,
    limit: int,
    *,
    what: str,
    dir_fd: int | None = None,
    name: str | None = None,
    backup_id: str | None = None,
) -> bytes:
    """All bytes of ``source``, refusing with :class:`FileTooLarge` if there are more than
    ``limit``; never reads more than ``limit + 1`` bytes.

    ``source`` is a path (opened with :func:`open_regular`, relative to ``dir_fd``), an open
    descriptor (read from where it stands; not closed) or a binary stream such as
    ``sys.stdin.buffer`` (not closed). A regular file larger than ``limit`` is refused from
    its size, before a byte is read. ``name`` is the file's name in messages for a descriptor
    or stream (default: ``<fd N>`` / the stream's ``name``).
    """
    if isinstance(source, str | os.PathLike):
        fd = open_regular(source, what=what, dir_fd=dir_fd, backup_id=backup_id)
        try:
            return read_bounded(fd, limit, what=what, name=os.fspath(source), backup_id=backup_id)
        finally:
            os.close(fd)
    if isinstance(source, int):
        label = name or f"<fd {source}>"
        info = os.fstat(source)
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise FileTooLarge(label, what, info.st_size, limit, backup_id=backup_id)
        chunks = _read_upto(lambda n: os.read(source, n), limit + 1)
    else:
        label = name or str(getattr(source, "name", "<stream>"))
        reader = getattr(source, "read1", None) or source.read
        chunks = _read_upto(reader, limit + 1)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileTooLarge(label, what, None, limit, backup_id=backup_id)
    return data


def _read_upto(read: Callable[[int], bytes], most: int) -> list[bytes]:
    """Pieces from ``read(n)`` until end of file or ``most`` bytes in all."""
    out: list[bytes] = []
    left = most
    while left > 0:
        piece = read(min(_PIECE, left))
        if not piece:
            break
        out.append(bytes(piece))
        left -= len(piece)
    return out


@contextlib.contextmanager
def open_beneath(
    root: PathArg,
    relative: str | PurePosixPath | None = None,
    *,
    what: str,
    backup_id: str | None = None,
) -> Iterator[int]:
    """A descriptor of the directory ``root/relative``, reached without following a link.

    ``root`` itself is opened as given (the operator chose it, links and all); every
    component of ``relative`` is opened from its parent's descriptor with ``O_NOFOLLOW``, so a
    symbolic link anywhere below the root raises :class:`UnsafeFile` rather than lead
    outside it. ``relative`` must be relative and hold no ``..`` (:class:`UnsafeFile`
    otherwise). A missing component raises ``FileNotFoundError``. The descriptor is closed
    when the ``with`` block ends.
    """
    parts = PurePosixPath(relative or ".").parts
    if parts and (parts[0] == "/" or ".." in parts):
        raise UnsafeFile(
            str(relative), what, "not a path inside the backup root", backup_id=backup_id
        )
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        walked = PurePosixPath(os.fspath(root))
        for part in parts:
            if part == ".":
                continue
            walked /= part
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                _refuse_open_error(err, part, fd, what, backup_id, str(walked))
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Entry:
    """One name in a directory, described without following it."""

    name: str
    mode: int
    """``st_mode`` of the entry itself (a link is a link, not what it points at)."""
    size: int

    @property
    def regular(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def directory(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def kind(self) -> str:
        return kind_of(self.mode)


def scan_dir(directory: PathArg | int) -> list[Entry]:
    """The entries of a directory (a path or a descriptor), sorted by name, each described by
    ``lstat``: symbolic links, FIFOs and devices show as what they are and are never opened
    or followed. An entry removed while scanning is left out."""
    out: list[Entry] = []
    if isinstance(directory, int):
        # scandir on a descriptor consumes its position: scan a duplicate.
        dup = os.dup(directory)
        names = os.listdir(dup)
        os.close(dup)
        for name in names:
            try:
                info = os.lstat(name, dir_fd=directory)
            except FileNotFoundError:
                continue
            out.append(Entry(name, info.st_mode, info.st_size))
    else:
        with os.scandir(directory) as it:
            for item in it:
                try:
                    info = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                out.append(Entry(item.name, info.st_mode, info.st_size))
    out.sort(key=lambda e: e.name)
    return out


def walk_dirs(root: PathArg, depth: int) -> Iterator[tuple[PurePosixPath, int]]:
    """Every real directory exactly ``depth`` levels below ``root`` (symbolic links to
    directories are not entered), as (path relative to the root, open descriptor). The
    descriptor is valid until the iterator advances."""

    def walk(fd: int, here: PurePosixPath, level: int) -> Iterator[tuple[PurePosixPath, int]]:
        if level == depth:
            yield here, fd
            return
        for entry in scan_dir(fd):
            if not entry.directory:
                continue
            try:
                child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue  # replaced by a link or removed meanwhile: not a directory to walk
            try:
                yield from walk(child, here / entry.name, level + 1)
            finally:
                os.close(child)

    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield from walk(top, PurePosixPath("."), 0)
    finally:
        os.close(top)
