"""Safe file access, the one place: reading files someone else can write, writing atomically.

Backup storage, records and the files a user points docket at are hostile input: in their place
there may be a FIFO (an ``open`` that never returns), a device (``/dev/zero``: endless bytes), a
socket, a directory, or a symbolic link to a file of the host. The reading helpers here

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

Writing never leaves half a file: :func:`atomic_write` / :func:`write_atomic` /
:func:`atomic_output` write a temporary file beside the target and rename it over the target
once it is complete and flushed; :func:`docket.fs_changes.apply_changes` does the same for
several files at once, all or nothing (a release: a manifest and its golden files).

Typical use::

    fd = open_regular(path, what="key file")            # an int descriptor, caller closes
    with open_file(path, what="input file") as fh: ...  # a binary file object
    raw = read_bounded(path, 1 << 20, what="record")     # bytes, at most the limit
    with open_beneath(root, "ab/cd/abcd-id", what="backup directory") as dir_fd:
        data = read_bounded("x_metadata", limit, what="metadata object", dir_fd=dir_fd)
        for entry in scan_dir(dir_fd): ...
    write_atomic(path, data)                             # whole or not at all

``what`` is a short noun phrase for messages ("key file", "data object"); ``backup_id``, where
accepted, is carried on the error so a report can say which backup the file belongs to.

This module is a bottom layer: it imports nothing from docket but :mod:`docket.core.errors`,
and nothing on ``docket validate``'s start-up path beyond the standard library's basics
(``tempfile`` is imported where a temporary file is made).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

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
    follow: bool = False,
) -> int:
    """Open ``path`` (relative to ``dir_fd`` when given) for reading and return the descriptor.

    The last component is not followed when it is a symbolic link, the open does not block
    (a FIFO), and the descriptor must be of one of ``kinds`` (``S_IFREG`` by default; pass
    :data:`VOLUME` to allow block devices), else :class:`UnsafeFile` is raised and the
    descriptor closed. ``flags`` are added to the open (``os.O_RDWR`` replaces read-only).
    Once checked, ``O_NONBLOCK`` is cleared so reads behave as usual. Missing files and
    permission problems raise the usual ``OSError`` (``FileNotFoundError``...). The caller
    closes the descriptor (``os.close`` or :func:`os.fdopen`).

    ``follow=True`` follows a symbolic link to what it names (``docket validate`` reads the
    files a user lists, links included); what it reaches is checked all the same.
    """
    fd, _ = _open_stat(path, _open_flags(flags, follow), what, dir_fd, kinds, backup_id, follow)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_flags(flags: int, follow: bool) -> int:
    open_flags = _READ_FLAGS | flags
    if flags & (os.O_WRONLY | os.O_RDWR):
        open_flags &= ~os.O_RDONLY
    return open_flags & ~os.O_NOFOLLOW if follow else open_flags


def _open_stat(
    path: PathArg,
    flags: int,
    what: str,
    dir_fd: int | None = None,
    kinds: Iterable[int] = REGULAR,
    backup_id: str | None = None,
    follow: bool = False,
) -> tuple[int, os.stat_result]:
    """``os.open(path, flags)``, the descriptor checked to be one of ``kinds`` (else
    :class:`UnsafeFile`, the descriptor closed), and its ``fstat``. Without ``follow``, the
    errors an open refusing a link or a socket gives become :class:`UnsafeFile` too."""
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as err:
        if not follow:
            _refuse_open_error(err, path, dir_fd, what, backup_id)
        raise
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if stat.S_IFMT(mode) not in kinds:
            raise UnsafeFile(os.fspath(path), what, kind_of(mode), backup_id=backup_id, hint=_HINT)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def open_file(
    path: PathArg,
    *,
    what: str,
    dir_fd: int | None = None,
    kinds: Iterable[int] = REGULAR,
    backup_id: str | None = None,
    follow: bool = False,
) -> BinaryIO:
    """:func:`open_regular` as an unbuffered binary file object (``with`` closes it)."""
    fd = open_regular(
        path, what=what, dir_fd=dir_fd, kinds=kinds, backup_id=backup_id, follow=follow
    )
    return os.fdopen(fd, "rb", buffering=0)


def read_prefix(path: PathArg, most: int, *, what: str, follow: bool = False) -> bytes:
    """At most ``most`` bytes from the start of the regular file ``path`` (a shorter file:
    all of it); :class:`UnsafeFile` for anything else, found without blocking on it.

    Read with one ``os.read`` of the size ``fstat`` gives (plus one byte, to see the end),
    more only when the file grew meanwhile: no buffered file object per file, which
    ``docket validate`` over many small files would pay for at every file."""
    fd, info = _open_stat(path, _open_flags(0, follow), what, follow=follow)
    try:
        want = min(info.st_size + 1, most)
        data = os.read(fd, want) if want > 0 else b""
        if len(data) < want or len(data) >= most:
            return data
        # The file grew since fstat: read on to its end or to ``most``.
        return data + b"".join(read_upto(lambda n: os.read(fd, n), most - len(data)))
    finally:
        os.close(fd)


def standard_input(what: str = "input") -> BinaryIO:
    """Standard input as bytes; :class:`UnsafeFile` when the process has none (started with
    it closed, ``<&-``: Python's ``sys.stdin`` is None then)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise UnsafeFile(
            "<stdin>",
            what,
            "closed (the process was started without standard input)",
            hint="give the input on standard input, or name a file",
        )
    return stream  # type: ignore[no-any-return]


def stream_size(stream: IO[Any]) -> int | None:
    """The size of the regular file behind an open ``stream`` (standard input redirected
    from a file), None for a pipe, terminal or device, or a stream without a descriptor."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # io.BytesIO: UnsupportedOperation
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def read_bounded(
    source: PathArg | int | BinaryIO,
    limit: int,
    *,
    what: str,
    dir_fd: int | None = None,
    name: str | None = None,
    backup_id: str | None = None,
    follow: bool = False,
) -> bytes:
    """All bytes of ``source``, refusing with :class:`FileTooLarge` if there are more than
    ``limit``; never reads more than ``limit + 1`` bytes.

    ``source`` is a path (opened with :func:`open_regular`, relative to ``dir_fd``), an open
    descriptor (read from where it stands; not closed) or a binary stream such as
    ``sys.stdin.buffer`` (not closed). A regular file larger than ``limit`` is refused from
    its size, before a byte is read. ``name`` is the file's name in messages for a descriptor
    or stream (default: ``<fd N>`` / the stream's ``name``). ``follow``: a path that is a
    symbolic link is followed (to a regular file: what it reaches is checked all the same).
    """
    if isinstance(source, str | os.PathLike):
        fd = open_regular(source, what=what, dir_fd=dir_fd, backup_id=backup_id, follow=follow)
        try:
            return read_bounded(fd, limit, what=what, name=os.fspath(source), backup_id=backup_id)
        finally:
            os.close(fd)
    if isinstance(source, int):
        label = name or f"<fd {source}>"
        info = os.fstat(source)
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise FileTooLarge(label, what, info.st_size, limit, backup_id=backup_id)
        chunks = read_upto(lambda n: os.read(source, n), limit + 1)
    else:
        label = name or str(getattr(source, "name", "<stream>"))
        reader = getattr(source, "read1", None) or source.read
        chunks = read_upto(reader, limit + 1)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileTooLarge(label, what, None, limit, backup_id=backup_id)
    return data


def read_upto(read: Callable[[int], bytes], most: int) -> list[bytes]:
    """Pieces from ``read(n)`` until end of file or ``most`` bytes in all, a MiB at a time:
    memory grows with what is there, never with ``most`` (a ``read(most)`` would allocate
    ``most`` bytes first)."""
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
    make: bool = False,
    mode: int | None = None,
) -> Iterator[int]:
    """A descriptor of the directory ``root/relative``, reached without following a link
    (``make``: the missing directories on the way are created, with ``mode`` when given).

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
            made = False
            if make:
                with contextlib.suppress(FileExistsError):  # there, or a concurrent backup's
                    os.mkdir(part, 0o700, dir_fd=fd)
                    made = True
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                _refuse_open_error(err, part, fd, what, backup_id, str(walked))
                raise
            os.close(fd)
            fd = child
            if made and mode is not None:
                os.fchmod(fd, mode)
        yield fd
    finally:
        os.close(fd)


def make_dirs_beneath(
    root: PathArg,
    relative: str,
    mode: int | None,
    *,
    what: str,
    backup_id: str | None = None,
) -> None:
    """Create the directory ``root/relative`` and those missing on the way, reached from
    ``root`` without following a link: a symbolic link (or any non-directory) in place of
    a component raises :class:`UnsafeFile` and nothing is created through it. Each directory
    this creates gets ``mode`` (when given) whatever the umask; ``root`` itself is created as
    ``mkdir -p`` would (the operator chose it)."""
    os.makedirs(root, exist_ok=True)
    with open_beneath(root, relative, what=what, backup_id=backup_id, make=True, mode=mode):
        pass


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


def walk_dirs(
    root: PathArg,
    depth: int,
    *,
    start: int | None = None,
    on_link: Callable[[PurePosixPath], None] | None = None,
) -> Iterator[tuple[PurePosixPath, int]]:
    """Every real directory ``depth`` (or ``start`` to ``depth``) levels below ``root``, as
    (path relative to the root, open descriptor, valid until the iterator advances). Links
    are never entered; those up to ``depth`` levels down are told to ``on_link``."""

    def walk(fd: int, here: PurePosixPath, level: int) -> Iterator[tuple[PurePosixPath, int]]:
        if level >= (depth if start is None else start):
            yield here, fd
        if level == depth:
            return
        for entry in scan_dir(fd):
            if on_link is not None and stat.S_ISLNK(entry.mode):
                on_link(here / entry.name)
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


# --- writing: whole or not at all -------------------------------------------------------------

TEMP_PREFIX = "."
"""Temporary files are written under a dot name beside their target: hidden, and (in a backup
directory) never taken for an object Cinder lists by its prefix."""


def temp_path(final: Path) -> Path:
    """A hidden, unique sibling of ``final`` to write into before renaming."""
    return final.with_name(f"{TEMP_PREFIX}{final.name}.{os.urandom(4).hex()}.part")


def fsync_path(path: Path) -> None:
    """Flush a file's (or directory's) data and metadata to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_file(path: Path, mode: int | None, *, text: bool = False) -> Any:
    """Open a new file for writing; ``mode`` (when given) is set whatever the umask."""
    fh: IO[Any] = open(path, "w", encoding="utf-8") if text else open(path, "wb")  # noqa: SIM115
    if mode is not None:
        try:
            os.fchmod(fh.fileno(), mode)
        except BaseException:
            fh.close()
            raise
    return fh


def make_dirs(top: Path, path: Path, mode: int | None) -> None:
    """Create ``path`` and the missing directories between it and ``top``; each directory
    this creates gets ``mode`` (when given) whatever the umask. ``top`` itself must exist or
    is created as ``mkdir -p`` would."""
    missing: list[Path] = []
    here = path
    while here != top and here.is_relative_to(top) and not here.is_dir():
        missing.append(here)
        here = here.parent
    if not top.is_dir():
        top.mkdir(parents=True, exist_ok=True)
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue  # made by a concurrent backup: not ours to change
        if mode is not None:
            os.chmod(directory, mode)


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either nothing or all of it.

    For files in docket's own trees (a backup directory): what ``path`` is now is not
    checked; :func:`write_atomic` is the one for a path a user gives."""
    tmp = temp_path(path)
    try:
        with create_file(tmp, mode) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def refuse_irregular(path: PathArg) -> os.stat_result | None:
    """Raise :class:`UnsafeFile` (naming ``path`` as given) when ``path`` exists and is not a
    regular file (a device, FIFO, socket, directory or symbolic link): a file written
    beside it and renamed over it would replace it, not write into it. An empty path is
    refused too. Returns the status of the regular file there (None: there is none)."""
    if not os.fspath(path):
        raise UnsafeFile("", "output file", "an empty path", hint="give the file's name")
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(found.st_mode):
        raise UnsafeFile(
            os.fspath(path),
            "output file",
            kind_of(found.st_mode),
            hint="give a new path or a regular file to replace",
        )
    return found


def write_atomic(path: PathArg, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file, then a rename).

    An existing ``path`` that is not a regular file (a device, FIFO, socket, directory or
    symbolic link) is refused with :class:`UnsafeFile` naming ``path`` as given: renaming
    over it would replace it, not write into it.
    """
    with atomic_output(path, binary=True) as fh:
        fh.write(data)


@contextlib.contextmanager
def atomic_output(path: PathArg, *, binary: bool = False) -> Iterator[Any]:
    """A file that replaces ``path`` only when the block ends without an error (a temporary
    file beside it, then a rename); the same refusal of non-regular targets as
    :func:`write_atomic`. A file replaced keeps its permissions (and owner and group where
    they can be kept), as one written in place would: a report or container an operator
    made private stays private."""
    target = Path(path)
    existing = refuse_irregular(path)
    try:
        fd, tmp = _mkstemp(target, "", like=existing)
    except OSError as err:  # name the file asked for, not the temporary one
        raise OSError(err.errno, err.strerror, os.fspath(path)) from None
    try:
        fh = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")
        try:
            try:
                yield fh
            except OSError as err:
                if err.filename != tmp and not (err.filename is None and err.errno in _FULL):
                    raise  # another file's error, raised by the caller's block
                raise OSError(err.errno, err.strerror, os.fspath(path)) from None
            _as_target(fh.flush, path)
            _as_target(lambda: os.fsync(fh.fileno()), path)
        finally:
            # Closing after a failed write tries the write again and fails again: the first
            # error, naming the path, is the one to report.
            with contextlib.suppress(OSError):
                fh.close()
        _as_target(lambda: os.replace(tmp, target), path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO})
"""The errors a write into the temporary file gives (no file name attached)."""


def _as_target(step: Callable[[], object], path: PathArg) -> None:
    """Run one step of writing ``path`` through its temporary file; an ``OSError`` names
    ``path`` as the user gave it, never the temporary file."""
    try:
        step()
    except OSError as err:
        raise OSError(err.errno, err.strerror, os.fspath(path)) from None


def _mkstemp(beside: Path, suffix: str, *, like: os.stat_result | None = None) -> tuple[int, str]:
    """A new hidden file beside ``beside`` (created exclusively, as ``tempfile.mkstemp``
    does), with the mode a plain ``open()`` would give it (mkstemp's is private, 0600), or
    with the permissions, owner and group of ``like``, the file it is to replace. Where
    that owner or group cannot be kept, only the owner's permissions are: the new file never
    gives anyone more access than the old one did."""
    import tempfile  # only where a file is written, not at every start

    fd, tmp = tempfile.mkstemp(prefix=f".{beside.name}.", suffix=suffix, dir=beside.parent or ".")
    try:
        if like is None:
            mask = os.umask(0)
            os.umask(mask)
            mode = 0o666 & ~mask
        else:
            mode = stat.S_IMODE(like.st_mode) & 0o777
            try:
                os.fchown(fd, like.st_uid, like.st_gid)
            except OSError:
                mode &= 0o700
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return fd, tmp


__all__ = [
    "REGULAR",
    "TEMP_PREFIX",
    "VOLUME",
    "Entry",
    "PathArg",
    "atomic_output",
    "atomic_write",
    "create_file",
    "fsync_path",
    "kind_of",
    "make_dirs",
    "make_dirs_beneath",
    "open_beneath",
    "open_file",
    "open_regular",
    "read_bounded",
    "read_prefix",
    "read_upto",
    "refuse_irregular",
    "scan_dir",
    "standard_input",
    "stream_size",
    "temp_path",
    "walk_dirs",
    "write_atomic",
]
