"""Where a restore writes a checked chain, and in how many passes.

- A path to a regular file, or a new path: a hidden temporary file beside it, written in one
  pass (zero blocks left as holes), replaces it once the data and the volume metadata are
  restored. A failure leaves the target as it was.
- A block device, by path or open: it cannot be thrown away, so every object of the chain is
  read and checked first (:meth:`RestoreWriter.verify`), and then written (two passes).
- An open regular file (Cinder's manager hands one over): two passes, as a device, unless the
  caller says the target is new (``target_is_new``, Cinder's ``volume_is_new``: the volume was
  made for this restore, and Cinder opened its file ``'wb'``, truncating it). There is then
  nothing on it to keep, so the restore writes in one pass: each block is checked against the
  ``_sha256file`` before it is written, each object's MD5 when its last piece has passed, zero
  blocks are left as holes, and a failure raises :class:`InvalidBackup` with the new volume
  left partly written (Cinder then marks it ``error_restoring``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from docket import fs
from docket.backup._chunks import volume_size
from docket.backup._restore import RestoreWriter
from docket.backup.errors import InvalidBackup
from docket.core.errors import BackupError, UnsafeFile
from docket.fs import fsync_path, temp_path

T = TypeVar("T")

_PARTLY = (
    "the new volume it was being restored onto is left partly written (restore it again "
    "once the backup is repaired)"
)


def volume_path(path: str | os.PathLike[str], what: str) -> str | os.PathLike[str]:
    """The path to open for a volume named by ``path``: itself, or where it leads when it
    is a symbolic link to a block device (LVM's ``/dev/VG/LV``, ``/dev/disk/by-id/...``).
    A link to anything else (a regular file, a missing one) is refused as
    :class:`~docket.core.errors.UnsafeFile`: a link planted where a restore is about to
    write would otherwise send the volume's bytes over the file it names."""
    try:
        if not stat.S_ISLNK(os.lstat(path).st_mode):
            return path
    except FileNotFoundError:
        return path
    resolved = os.path.realpath(path)
    try:
        device = stat.S_ISBLK(os.stat(resolved).st_mode)
    except OSError:
        device = False
    if device:
        return resolved
    raise UnsafeFile(
        os.fspath(path),
        what,
        f"a symbolic link (to {resolved}), not to a block device",
        hint="docket follows a link only to a block device (as /dev/VG/LV); "
        "name the file itself",
    )


def write_restore(
    work: RestoreWriter,
    volume_file: Any,
    finish: Callable[[], T],
    *,
    target_is_new: bool = False,
) -> T:
    """Write ``work`` onto ``volume_file`` (a path or an open binary file), then call
    ``finish`` (restoring the volume metadata), before a new file replaces a path target;
    return what ``finish`` returns. ``target_is_new``: an open file was made for this restore
    (its bytes, if any, are dropped), so a regular one is restored in one pass."""
    backup_id = work.chain[-1].backup_id
    if not isinstance(volume_file, str | os.PathLike):
        if target_is_new and _regular(volume_file):
            _onto_new(work, volume_file, backup_id)
        else:
            work.verify()
            with _writing("the restore target", backup_id):
                _reserve(volume_file, work.size, backup_id)
                work.write(volume_file, sparse=False)
                if _regular(volume_file) is not False:  # a device keeps its size
                    volume_file.truncate(work.size)
                volume_file.flush()
        return finish()
    target = Path(volume_path(volume_file, "restore target"))
    if os.path.lexists(target) and not stat.S_ISREG(os.lstat(target).st_mode):
        fd = _open_device(target, backup_id)
        with os.fdopen(fd, "r+b") as out:
            available = volume_size(out)
            if available < work.size:
                raise InvalidBackup(
                    f"{target} has {available} bytes; the backup needs {work.size}",
                    backup_id=backup_id,
                    hint="restore onto a volume at least as large as the backed-up one",
                )
            work.verify()
            with _writing(str(target), backup_id):
                work.write(out, sparse=False)
                out.flush()
                os.fsync(out.fileno())
        return finish()
    tmp = temp_path(target)
    try:
        # A new name of our own: never a file or link someone put there.
        made = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666
        )  # the mode open() gives a new file (the umask applies)
        with _writing(str(target), backup_id), os.fdopen(made, "wb") as out:
            work.write(out, sparse=True)
            out.truncate(work.size)
            out.flush()
            # The old file's mode, set on the file written (not by name: whoever can write
            # the directory could have put a link to another file at the temporary name).
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISREG(mode := os.lstat(target).st_mode):
                    os.fchmod(out.fileno(), stat.S_IMODE(mode))
            os.fsync(out.fileno())
        # The data is written and on disk; the database is written before the new file
        # replaces the target, so that a refused container leaves the target as it was.
        result = finish()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(target.parent)
    return result


def _open_device(target: Path, backup_id: str) -> int:
    """The block device ``target``, open to be written and claimed: ``O_EXCL`` on a device
    fails (``EBUSY``) while it is mounted, a member of an LVM, RAID or device-mapper volume,
    or claimed by another writer (another restore), so a restore never overwrites a file
    system in use. Refused before a byte is written."""
    try:
        return fs.open_regular(
            target, what="restore target", kinds=fs.VOLUME, flags=os.O_RDWR | os.O_EXCL
        )
    except OSError as err:
        if err.errno != errno.EBUSY:
            raise
        raise BackupError(
            f"the restore target {target} is in use (mounted, part of another volume, or "
            "being written by another program): nothing was written",
            backup_id=backup_id,
            hint="unmount it (or stop what holds it, `lsblk` and `fuser -vm` say what), "
            "then restore again",
        ) from None


def _onto_new(work: RestoreWriter, out: IO[bytes], backup_id: str) -> None:
    """One pass onto a new regular file: emptied, then grown to the volume's size, so that
    every block not written (zeros) reads back as zeros, from a hole."""
    with _writing("the restore target", backup_id):
        out.truncate(0)
        _reserve(out, work.size, backup_id)
        work.write(out, sparse=True, left=_PARTLY)
        out.flush()


def _regular(out: IO[bytes]) -> bool | None:
    """Whether an open target is a regular file on disk (False: a device; None: a file in
    memory, which grows and shrinks as a regular one does)."""
    try:
        return stat.S_ISREG(os.fstat(out.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return None


@contextlib.contextmanager
def _writing(target: str, backup_id: str) -> Iterator[None]:
    """Report a target the system will not write (full, too large, read-only) as a backup
    error naming it, not as a bare ``OSError``."""
    try:
        yield
    except OSError as err:
        raise BackupError(
            f"cannot write {target}: {err.strerror or err}",
            backup_id=backup_id,
            hint="restore onto a file system or volume that can hold the backup",
        ) from None


def _reserve(out: IO[bytes], size: int, backup_id: str) -> None:
    """Grow a regular file target to ``size`` before a byte of data is written, so a file
    system that cannot hold that much refuses now, with the target as it was."""
    if not _regular(out):
        return  # a device has its size; an in-memory file grows as written
    fd = out.fileno()
    out.flush()
    before = os.fstat(fd).st_size
    if before >= size:
        return
    try:
        os.ftruncate(fd, size)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, before)
        raise BackupError(
            f"the restore target cannot grow to {size} bytes: {err.strerror or err}",
            backup_id=backup_id,
            hint="restore onto a file system or volume that can hold the backup",
        ) from None
