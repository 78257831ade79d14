"""The reference chunked driver: Cinder's POSIX backup layout on a local or mounted file system.

Under the backup root, each backup has a directory ``<id[0:2]>/<id[2:4]>/<id>`` (Cinder's
backup record calls it the backup's ``container``) holding::

    volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>-00001     data objects, -00002, ...
    volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>_sha256file (chunked-sha256 family)
    volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>_metadata   (chunked-backup family)

The metadata object is written last, atomically, after every other object is on stable
storage: a backup without one did not finish and never verifies or restores. Backup, restore
and verify stream a piece at a time, so memory does not grow with the volume.

This module is the POSIX object store (:class:`PosixStore`) and the driver, the chunked engine
(:mod:`docket.backup.engine`) over that store, which restores and verifies through it;
:mod:`docket.backup._layout` finds backups and reads their metadata (a POSIX root's
directories listed whole), :mod:`docket.backup._catalog` lists a root and deletes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, TypeVar, Unpack

from docket import fs
from docket.backup import _threads, _walk
from docket.backup._catalog import delete_backup, list_backups
from docket.backup._chunks import Compression
from docket.backup._layout import (
    BackupRoot,
    backup_dir_for,
    safe_id,
)
from docket.backup._model import (
    Backup,
    BackupSummary,
    BasicMetadataAPI,
    DeleteReport,
    OnSkip,
)
from docket.backup._threads import executor
from docket.backup.engine import (
    CONTAINER_FAMILY,
    DEFAULT_CHUNK_SIZE,
    ChunkedBackupDriver,
    EngineOptions,
)
from docket.backup.errors import InvalidBackup
from docket.backup.store import DEFAULT_PAGE, ObjectPage
from docket.core.errors import BackupError, DriverOptionError, FileTooLarge, UnsafeFile, show
from docket.fs import TEMP_PREFIX, temp_path

__all__ = [
    "CONTAINER_FAMILY",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_DIR_MODE",
    "DEFAULT_FILE_MODE",
    "PosixBackupDriver",
    "PosixStore",
]

_T = TypeVar("_T")

DEFAULT_DIR_MODE = 0o770
DEFAULT_FILE_MODE = 0o660
"""Cinder's modes: a backup share is used by a group of services, whatever their umask."""

MIN_ID = _walk.MIN_ID
"""The shortest id of a new backup in the default layout (every chunked driver's rule)."""


def _mode(value: int | None, what: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not 0 <= value <= 0o777):
        raise DriverOptionError(
            f"{what} {show(value)} is not a permission mode",
            hint="use an octal mode such as 0o770, or None to follow the umask",
        )
    return value


def _check_name(name: object, what: str) -> str:
    """A flat object name: one path-safe name, not a hidden (work-in-progress) one."""
    if not isinstance(name, str) or not safe_id(name) or name.startswith(TEMP_PREFIX):
        raise DriverOptionError(
            f"{what} {show(name)} is not one path-safe name",
            hint="object names are flat: letters, digits, '_', '.' and '-', no '/'",
        )
    return name


class PosixStore:
    """The :class:`~docket.backup.store.ObjectStore` of Cinder's POSIX driver: a container
    is a directory under ``root`` (``ab/cd/<backup id>``), an object a regular file in it.

    An object is written under a hidden temporary name (``.<name>.<hex>.part``, never listed)
    and renamed into place when committed; its file is flushed to disk in the background,
    and :meth:`sync` waits for those flushes and flushes the directory. Containers are
    reached from the root without following a symbolic link, and only regular files are
    read. Directories get ``dir_mode`` and files ``file_mode`` (when not None) whatever the
    umask.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        dir_mode: int | None = DEFAULT_DIR_MODE,
        file_mode: int | None = DEFAULT_FILE_MODE,
    ) -> None:
        self.root = Path(root)
        self.dir_mode = _mode(dir_mode, "dir_mode")
        self.file_mode = _mode(file_mode, "file_mode")
        self._lock = _threads.lock()
        self._flushing: dict[str, list[Future[None]]] = {}
        self._syncer: Executor | None = None

    def _directory(self, container: str) -> Path:
        relative = PurePosixPath(container)
        if (
            not isinstance(container, str)
            or relative.is_absolute()
            or not relative.parts
            or not all(safe_id(part) for part in relative.parts)
        ):
            raise DriverOptionError(
                f"container {show(container)} is not a path inside the root",
                hint="a container is a relative path of path-safe names (Cinder: ab/cd/<id>)",
            )
        return self.root / relative

    @contextlib.contextmanager
    def _open_dir(self, container: str) -> Iterator[int]:
        self._directory(container)
        with fs.open_beneath(self.root, container, what="backup directory") as fd:
            yield fd

    def create_container(self, container: str) -> None:
        self._directory(container)
        fs.make_dirs_beneath(self.root, container, self.dir_mode, what="backup directory")

    def open_writer(self, container: str, name: str) -> _PosixSink:
        _check_name(name, "object name")
        with self._open_dir(container) as fd:
            return _PosixSink(self, container, os.dup(fd), name)

    def put_object(self, container: str, name: str, data: bytes, *, md5: str) -> None:
        _check_md5(data, md5, name)
        sink = self.open_writer(container, name)
        try:
            sink.write(data)
        except BaseException:
            sink.abort()
            raise
        sink.commit(md5, durable=True)

    def open_object(self, container: str, name: str, *, limit: int | None = None) -> BinaryIO:
        _check_name(name, "object name")
        with self._open_dir(container) as fd:
            fh = fs.open_file(name, what="object", dir_fd=fd)
        if limit is not None:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                fh.close()
                raise FileTooLarge(name, "object", size, limit)
        return fh

    def list_objects(
        self,
        container: str,
        prefix: str = "",
        *,
        marker: str | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> ObjectPage:
        if limit < 1:
            raise DriverOptionError(f"a listing page of {limit} names", hint="ask for 1 or more")
        with self._open_dir(container) as fd:
            entries = [
                entry
                for entry in fs.scan_dir(fd)
                if entry.name.startswith(prefix)
                and not entry.name.startswith(TEMP_PREFIX)
                and not entry.directory
                and (marker is None or entry.name > marker)
            ]
        page = tuple(entry.name for entry in entries[:limit])
        sizes = tuple(entry.size if entry.regular else None for entry in entries[:limit])
        return ObjectPage(page, page[-1] if len(entries) > limit else None, sizes)

    def delete_object(self, container: str, name: str) -> None:
        _check_name(name, "object name")
        with self._open_dir(container) as fd, contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=fd)

    def sync(self, container: str) -> None:
        self._wait(container)
        with self._open_dir(container) as fd:  # not a link or FIFO swapped in meanwhile
            os.fsync(fd)

    def _fsync_object(self, container: str, name: str) -> None:
        """Flush a committed object to disk, reached as every read is (no link followed,
        no blocking open, a regular file only): one swapped for a FIFO or a link to a
        device must not hang :meth:`sync` or open the device."""
        with self._open_dir(container) as fd, fs.open_file(name, what="object", dir_fd=fd) as fh:
            os.fsync(fh.fileno())

    def _wait(self, container: str) -> None:
        """Wait for the container's background flushes; the flushing thread stops when no
        container has any left."""
        with self._lock:
            pending = self._flushing.pop(container, [])
        try:
            for flushed in pending:
                flushed.result()
        finally:
            with self._lock:
                if not self._flushing and self._syncer is not None:
                    syncer, self._syncer = self._syncer, None
                    syncer.shutdown(wait=False)

    def discard_pending(self, container: str) -> None:
        """Wait for the container's background flushes, ignoring their errors (before what
        a failed write left is removed): an object swapped for a link meanwhile
        (:class:`UnsafeFile`) must not keep the clean-up from running."""
        with contextlib.suppress(OSError, UnsafeFile):
            self._wait(container)

    def _flush_later(self, container: str, flush: Callable[[_T], None], what: _T) -> None:
        """Flush (part of) an object to disk in the background while the rest, or the next
        one, is written; :meth:`sync` waits for it."""
        with self._lock:
            if self._syncer is None:
                self._syncer = executor("fsync")
            self._flushing.setdefault(container, []).append(self._syncer.submit(flush, what))


def _check_md5(data: bytes | None, md5: str, name: str, digest: str | None = None) -> None:
    found = digest if digest is not None else hashlib.md5(data or b"", usedforsecurity=False)
    found_hex = found if isinstance(found, str) else found.hexdigest()
    if found_hex != md5:
        raise InvalidBackup(
            f"object {name} was stored with MD5 {found_hex}, not the {md5} it was sent with",
            hint="nothing was stored under its name; write it again",
        )


class _PosixSink:
    """One object being written to a hidden temporary file beside its final name, in a
    directory held open (``dir_fd``, owned), so that nothing is written through a link that
    replaced a directory of the container meanwhile.

    Every :data:`FLUSH_STEP` bytes, what was written so far is flushed to disk in the
    background (``fdatasync`` on the store's flushing thread) while later bytes are still
    being hashed and written, so the flush at the end has only the last step left.
    """

    def __init__(self, store: PosixStore, container: str, dir_fd: int, name: str) -> None:
        self._store = store
        self._container = container
        self._dir_fd = dir_fd
        self.name = name
        self.tmp = temp_path(Path(name)).name
        self._md5: Any = hashlib.md5(usedforsecurity=False)
        """The sink's own MD5 of what it wrote, checked in commit; None once the caller
        said it takes the MD5 itself (:meth:`write_known`, :meth:`skip`)."""
        try:
            self._fd = os.open(self.tmp, _NEW_FILE, 0o600, dir_fd=dir_fd)
        except BaseException:
            os.close(dir_fd)
            raise
        self._at = 0  # the file's length as written (holes included)
        self._end = 0  # the bytes actually written (the file's size on disk so far)
        self._flushed = 0
        if store.file_mode is not None:
            os.fchmod(self._fd, store.file_mode)

    md5_unused = True
    """Once the caller writes through :meth:`write_known` or :meth:`skip`, :meth:`commit`
    does not look at its ``md5``: a local file has no ETag to check, and Cinder's metadata
    keeps the MD5 of the uncompressed bytes, which the caller takes. So the caller need
    not hash the stored (compressed) bytes at all."""

    def write(self, data: bytes | memoryview, /) -> None:
        if self._md5 is not None:
            self._md5.update(data)
        self._put(data)

    def write_known(self, data: bytes | memoryview, /) -> None:
        """Write bytes whose MD5 the caller takes itself, from the same buffer, and gives to
        :meth:`commit`: the sink does not take it a second time (in the same process the
        second MD5 would check nothing the first does not)."""
        self._md5 = None
        self._put(data)

    def skip(self, size: int, /) -> None:
        """``size`` zero bytes, left as a hole in the file (the caller hashes them, as for
        :meth:`write_known`); the file still reads back every byte."""
        self._md5 = None
        self._at += size

    def _put(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        at = self._at
        while view:
            n = os.pwrite(self._fd, view, at)
            view, at = view[n:], at + n
        self._at = self._end = at
        if at - self._flushed >= FLUSH_STEP:
            self._flushed = at
            self._store._flush_later(self._container, _fdatasync, os.dup(self._fd))

    def commit(self, md5: str, *, durable: bool = False) -> None:
        """Rename the object into place once its MD5 is ``md5``; ``durable``: on stable
        storage before the rename (else flushed in the background, see :meth:`sync`)."""
        try:
            if self._at > self._end:  # ends in a hole
                os.ftruncate(self._fd, self._at)
            if durable:
                os.fsync(self._fd)
            self._close()
            if self._md5 is not None:
                _check_md5(None, md5, self.name, self._md5.hexdigest())
            os.replace(self.tmp, self.name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        except BaseException:
            self.abort()
            raise
        self._release()
        if not durable:
            store, container = self._store, self._container
            store._flush_later(
                container, functools.partial(store._fsync_object, container), self.name
            )

    def _close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def abort(self) -> None:
        self._close()
        if self._dir_fd >= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp, dir_fd=self._dir_fd)
        self._release()

    def _release(self) -> None:
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1


FLUSH_STEP = 32 << 20
"""Bytes of an object written between two background flushes of it."""


def _fdatasync(fd: int) -> None:
    """Flush a file's data to disk through ``fd`` (a duplicate, closed here)."""
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class PosixBackupDriver(ChunkedBackupDriver):
    """Backs volumes (files or block devices) up into ``root`` in Cinder's POSIX layout: the
    chunked engine over a :class:`PosixStore`."""

    service_names = (
        "cinder.backup.drivers.posix.PosixBackupDriver",
        "docket.backup.posix.PosixBackupDriver",
    )
    """Records name Cinder's driver by default: the on-disk format is Cinder's, and Cinder's
    ``import_record`` accepts only the name of its own driver. Both names import."""

    store: PosixStore

    def __init__(
        self,
        root: str | os.PathLike[str],
        metadata_api: BasicMetadataAPI | None = None,
        *,
        dir_mode: int | None = DEFAULT_DIR_MODE,
        file_mode: int | None = DEFAULT_FILE_MODE,
        availability_zone: str | None = None,
        **options: Unpack[EngineOptions],
    ) -> None:
        """``availability_zone``: the zone of the backup service (Cinder's
        ``storage_availability_zone``) that new backups' and exported records say; the
        layout keeps none, so a stored backup's record says it too (None: not known)."""
        # An unknown compression is refused before the modes, as it always was.
        self._compression(options.get("compression", Compression.ZLIB))
        self.store = PosixStore(root, dir_mode=dir_mode, file_mode=file_mode)
        super().__init__(metadata_api, availability_zone=availability_zone, **options)
        self.root = self.store.root
        self.dir_mode = self.store.dir_mode
        self.file_mode = self.store.file_mode

    @functools.cached_property
    def _backups(self) -> BackupRoot:
        return BackupRoot(
            self.root, self.store, lambda name: self._families[name], self.registry.signing_key
        )

    @staticmethod
    def backup_dir_for(backup_id: str) -> str:
        """A backup's directory under the root, ``<id[0:2]>/<id[2:4]>/<id>`` (Cinder's
        ``container`` field of the backup record)."""
        return backup_dir_for(backup_id)

    # --- the engine's questions -----------------------------------------------------------

    def _check_unused(self, container: str, backup_id: str) -> None:
        # Anything in the directory (another backup's files, a leftover) refuses it; so does
        # a link anywhere on the way to it (UnsafeFile): nothing is written through one.
        backup_dir = self.root / container
        try:
            with fs.open_beneath(
                self.root, container, what="backup directory", backup_id=backup_id
            ) as fd:
                used = bool(fs.scan_dir(fd))
        except FileNotFoundError:
            used = False
        if used:
            raise BackupError(
                f"{backup_dir} already holds a backup",
                backup_id=backup_id,
                hint="pick another backup id, or delete the old backup first",
            )

    def _discard(self, container: str, backup_id: str) -> None:
        # Its own objects and temporary files, and the directories it leaves empty.
        self.store.discard_pending(container)
        self._backups.remove(self.root / container, backup_id)

    # --- delete ---------------------------------------------------------------------------

    def delete(self, backup: Backup | str, *, force: bool = False) -> DeleteReport:
        """Delete a backup's files (a partial backup's too) and the directories it leaves
        empty; finish what an interrupted delete of it left.

        Refused with :class:`BackupInUse` while another backup under the root names it as its
        parent (``force`` deletes it anyway, leaving those without their parent), and with
        :class:`UnsafeFile` when its directory is a link or holds anything but its own
        regular files; a refusal changes nothing. :class:`BackupNotFound` when there is
        nothing of it.
        """
        return delete_backup(self._backups, backup, force=force)

    def list_backups(
        self, volume_id: str | None = None, *, on_skip: OnSkip | None = None
    ) -> list[BackupSummary]:
        """The backups under the root (of ``volume_id`` only, when given), sorted by volume,
        time and id, each with its status: ``available``, ``partial``, ``invalid`` or
        ``deleting`` (an interrupted delete's leftover). Only the default layout
        (``<id[0:2]>/<id[2:4]>/<id>``, and ``<id>/<id>`` for the ids of one or two
        characters older versions made) is searched, never through a link: a backup whose
        directory is a link is ``invalid``, and every other link in the layout is told to
        ``on_skip`` (a :class:`SkippedPath`)."""
        return list_backups(self._backups, volume_id, on_skip=on_skip)
