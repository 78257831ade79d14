"""Several files changed all or nothing: :class:`FileChanges` and :func:`apply_changes`.

A release writes a manifest and dozens of golden files, ``docket new-version`` a document and
the manifest; both go through here. The files are a family folder's, which anyone who can
write the schema directory may have tampered with: each target is checked (a regular file or
nothing, under no linked directory) with :mod:`docket.fs`'s rules before anything is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from docket.core.errors import CommandFailed, UnsafeFile
from docket.fs import (
    _DIR_FLAGS,
    _HINT,
    _mkstemp,
    _refuse_open_error,
    fsync_path,
    kind_of,
    read_prefix,
)

# --- several files, all or nothing ------------------------------------------------------------
#
# A release writes a manifest and dozens of golden files; a failure half-way (a full disk, a
# permission, an interrupt) must not leave a manifest that says "released" beside half the
# files. apply_changes first checks every target (a regular file or nothing, under no linked
# directory), then writes every new file to a temporary file beside its target (fsync'd, with
# the permissions and owner of the file it replaces, as atomic_output gives them); only when
# all are written does it move them into place (removals first, then one rename per file,
# which replaces a name and never writes through a link), keeping what they replace aside;
# any error on the way puts every replaced file back and removes every new one, so the tree is
# as it was. Files are swapped in the order given: put the one that makes the change count
# (the manifest) last, so even a crash between renames leaves it unchanged.


@dataclass
class FileChanges:
    """Files to write (path to bytes, in the order they are swapped in) and files to remove.

    ``root``: the directory the changes stay in (a family folder); a directory between it and
    a target that is a symbolic link (or not a directory) is refused, as the target itself is
    when it is anything but a regular file."""

    writes: dict[Path, bytes] = field(default_factory=dict)
    removes: list[Path] = field(default_factory=list)
    root: Path | None = None

    def write(self, path: Path, data: bytes) -> None:
        self.writes.pop(path, None)  # a rewrite moves to the end of the order
        self.writes[path] = data

    def update(self, other: Mapping[Path, bytes]) -> None:
        for path, data in other.items():
            self.write(path, data)

    def changed(self) -> list[Path]:
        """The files whose content would change (new, different or removed)."""
        out = [p for p, data in self.writes.items() if not _holds(p, data)]
        return out + [p for p in self.removes if os.path.lexists(p) and p not in self.writes]

    def __bool__(self) -> bool:
        return bool(self.changed())


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file holding exactly ``data``: read without following a
    link or blocking on a FIFO, and not at all when its size differs (a huge file)."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
            return False
        return read_prefix(path, len(data) + 1, what="file") == data
    except (OSError, UnsafeFile):
        return False


def _check_target(path: Path, root: Path | None) -> os.stat_result | None:
    """The status of the regular file ``path`` (None: nothing there), after refusing anything
    else there and a linked directory between ``root`` and it (:class:`UnsafeFile`)."""
    if root is not None and path.is_relative_to(root):
        here = root
        for part in path.parent.relative_to(root).parts:
            here = here / part
            try:
                mode = os.lstat(here).st_mode
            except FileNotFoundError:
                break  # made by apply_changes, below root
            if not stat.S_ISDIR(mode):
                raise UnsafeFile(str(here), "directory", kind_of(mode), hint=_HINT)
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(found.st_mode):
        raise UnsafeFile(str(path), "file to replace", kind_of(found.st_mode), hint=_HINT)
    return found


def _make_dirs_noting(directory: Path, made: list[Path]) -> None:
    """Create ``directory`` and missing parents, noting each one made (outermost first)."""
    missing = []
    for d in (directory, *directory.parents):
        if d.is_dir():
            break
        missing.append(d)
    for d in reversed(missing):
        d.mkdir()
        made.append(d)


def _stage(path: Path, data: bytes, like: os.stat_result | None) -> Path:
    """``data`` in a new temporary file beside ``path``, flushed to disk, with the mode (and
    owner) of ``like``, the file it is to replace, or a new file's (see :func:`_mkstemp`)."""
    fd, tmp = _mkstemp(path, ".new", like=like)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _aside(path: Path) -> Path:
    """A free name beside ``path`` to keep its old content while the change is made."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent)
    os.close(fd)
    return Path(name)


def apply_changes(changes: FileChanges) -> list[Path]:
    """Make ``changes`` whole or not at all; returns the files changed.

    Unchanged files are left alone (their times too). Every target is checked before any
    is written: one that is not a regular file (a link, a FIFO, a directory) or lies under a
    linked directory of ``changes.root`` is refused with :class:`UnsafeFile`, and nothing
    changes. On any error (``OSError``, an interrupt) every file is as it was before the
    call, and the error is raised.
    """
    todo = changes.changed()
    writes = [(p, changes.writes[p]) for p in changes.writes if p in todo]
    removes = [p for p in changes.removes if p in todo]
    found = {p: _check_target(p, changes.root) for p in [p for p, _ in writes] + removes}
    made: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    kept: list[tuple[Path, Path | None]] = []  # (target, where its old content waits)
    try:
        for path, data in writes:
            _make_dirs_noting(path.parent, made)
            staged.append((path, _stage(path, data, found[path])))
        for path in removes:
            kept.append((path, _keep_aside(path)))
        for path, tmp in staged:
            old = _keep_aside(path)
            kept.append((path, old))
            os.replace(tmp, path)
    except BaseException:
        _undo(kept, staged, made)
        raise
    for _, old in kept:
        if old is not None:
            with contextlib.suppress(OSError):
                old.unlink()
    for directory in dict.fromkeys(p.parent for p in todo):  # the renames made durable
        with contextlib.suppress(OSError):
            fsync_path(directory)
    return todo


def _keep_aside(path: Path) -> Path | None:
    if not os.path.lexists(path):
        return None
    old = _aside(path)
    try:
        os.replace(path, old)
    except BaseException:
        old.unlink(missing_ok=True)
        raise
    return old


def _undo(
    kept: Iterable[tuple[Path, Path | None]],
    staged: Iterable[tuple[Path, Path]],
    made: list[Path],
) -> None:
    for path, old in reversed(list(kept)):
        with contextlib.suppress(OSError):
            if old is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(old, path)
    for _, tmp in staged:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    for directory in reversed(made):
        with contextlib.suppress(OSError):
            directory.rmdir()


@contextlib.contextmanager
def changing(directory: Path | None) -> Iterator[None]:
    """Hold ``directory`` (a family folder) for one change: an exclusive ``flock`` on the
    folder itself, opened without following a link. A second ``docket release`` or
    ``new-version`` of the same family meanwhile is refused at once with
    :class:`CommandFailed` (each reads the manifest, then writes it whole: run together, one
    would drop what the other recorded). None: nothing to hold."""
    if directory is None:
        yield
        return
    try:
        fd = os.open(directory, _DIR_FLAGS)
    except OSError as err:
        _refuse_open_error(err, directory, None, "family folder", None)
        raise
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandFailed(
                f"another docket is changing {directory} (a release or new-version)",
                hint="wait for it to finish, then run again",
            ) from None
        yield
    finally:
        os.close(fd)  # and the lock with it


__all__ = ["FileChanges", "apply_changes", "changing"]
