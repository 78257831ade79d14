"""The reference chunked driver: Cinder's POSIX backup layout on a local or mounted file system.

Under the backup root, each backup has a directory ``<id[0:2]>/<id[2:4]>/<id>`` (Cinder's
backup record calls it the backup's ``container``) holding::

    volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>-00001     data objects, -00002, ...
    volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>_sha256file (chunked-sha256 family)
    volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>_metadata   (chunked-backup family)

The metadata object is written last, atomically, after every other object is on stable
storage: a backup without one did not finish and never verifies or restores. Backup, restore
and verify stream a piece at a time, so memory does not grow with the volume.

This module is the driver and its writing side; :mod:`docket.backup._layout` finds backups and
reads their metadata, :mod:`docket.backup._restore` and :mod:`docket.backup._verify` read
their objects back.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from docket import fs
from docket.backup._catalog import delete_backup, list_backups
from docket.backup._chunks import (
    PIECE,
    Compression,
    ObjectWriter,
    Sha256FileWriter,
    cinder_json,
    compression_named,
    read_full,
    read_range,
    volume_size,
)
from docket.backup._layout import (
    DEFAULT_SHA_BLOCK_SIZE,
    FORMAT_VERSION,
    METADATA_SUFFIX,
    SHA256_SUFFIX,
    BackupRoot,
    LoadedBackup,
    backup_dir_for,
    check_id,
    gib,
    iso_utc,
    record_time,
)
from docket.backup._model import (
    Backup,
    BackupSummary,
    DeleteReport,
    MetadataAPI,
    Progress,
    RestoreReport,
    VerifyReport,
)
from docket.backup._restore import RestoreWriter, truncate_regular
from docket.backup._verify import verify_chain
from docket.backup.base import BackupDriver
from docket.core.codec import Limits
from docket.core.errors import BackupError, DocketError, DriverOptionError, InvalidBackup, show
from docket.core.family import Family
from docket.core.registry import Registry
from docket.fs import atomic_write, fsync_path, make_dirs, temp_path

DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024
"""Bytes of volume per data object. Cinder's POSIX driver uses 1999994880; any multiple of the
SHA block size restores with either."""
DEFAULT_DIR_MODE = 0o770
DEFAULT_FILE_MODE = 0o660
"""Cinder's modes: a backup share is used by a group of services, whatever their umask."""
CONTAINER_FAMILY = "backup-metadata"

# The metadata and SHA-256 objects grow with the volume; they are the driver's own files, so
# the only limit that matters is the machine's.
_OBJECT_LIMITS = Limits(
    max_bytes=1 << 40, max_depth=32, max_string_length=1 << 31, max_keys=1_000_000
)
_BUFFERS = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _mode(value: int | None, what: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not 0 <= value <= 0o777):
        raise DriverOptionError(
            f"{what} {show(value)} is not a permission mode",
            hint="use an octal mode such as 0o770, or None to follow the umask",
        )
    return value


class PosixBackupDriver(BackupDriver):
    """Backs volumes (files or block devices) up into ``root`` in Cinder's POSIX layout."""

    service_names = (
        "cinder.backup.drivers.posix.PosixBackupDriver",
        "docket.backup.posix.PosixBackupDriver",
    )
    """Records name Cinder's driver by default: the on-disk format is Cinder's, and Cinder's
    ``import_record`` accepts only the name of its own driver. Both names import."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        metadata_api: MetadataAPI | None = None,
        *,
        registry: Registry | None = None,
        compression: str | Compression = Compression.ZLIB,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        sha_block_size: int = DEFAULT_SHA_BLOCK_SIZE,
        clock: Callable[[], datetime] = _utcnow,
        dir_mode: int | None = DEFAULT_DIR_MODE,
        file_mode: int | None = DEFAULT_FILE_MODE,
    ) -> None:
        super().__init__(metadata_api, registry=registry)
        self.root = Path(root)
        self.compression = self._compression(compression)
        self.dir_mode = _mode(dir_mode, "dir_mode")
        self.file_mode = _mode(file_mode, "file_mode")
        if sha_block_size <= 0 or chunk_size <= 0 or chunk_size % sha_block_size:
            raise DriverOptionError(
                f"chunk size {chunk_size} is not a positive multiple of the SHA block size "
                f"{sha_block_size}",
                hint="incremental backups compare whole SHA blocks, so chunks hold whole blocks",
            )
        self.chunk_size = chunk_size
        self.sha_block_size = sha_block_size
        self._clock = clock
        self._backups = BackupRoot(self.root, lambda name: self._families[name])

    @staticmethod
    def _compression(value: str | Compression) -> Compression:
        if isinstance(value, Compression):
            return value
        found = compression_named(value)
        if found is None:
            raise DriverOptionError(
                f"unknown compression {show(value)}",
                hint="use one of: " + ", ".join(c.value for c in Compression),
            )
        return found

    @functools.cached_property
    def _families(self) -> dict[str, Family]:
        return {
            name: self.registry.family(name).with_limits(_OBJECT_LIMITS)
            for name in ("chunked-backup", "chunked-sha256")
        }

    @staticmethod
    def backup_dir_for(backup_id: str) -> str:
        """A backup's directory under the root, ``<id[0:2]>/<id[2:4]>/<id>`` (Cinder's
        ``container`` field of the backup record)."""
        return backup_dir_for(backup_id)

    # --- backup ---------------------------------------------------------------------------

    def backup(
        self, backup: Backup, volume_file: Any, *, progress: Progress | None = None
    ) -> Backup:
        """Back up a volume (a path or an open binary file) as ``backup``.

        ``backup.volume_id`` is required; ``backup.parent_id`` makes an incremental backup that
        stores only the SHA blocks that changed since the parent. Returns ``backup`` with
        ``container``, ``service_metadata`` (the prefix), ``size``, ``object_count``...
        filled in.
        """
        check_id(backup.id)  # the caller's id: a bad one is a usage error
        backup_id, backup_dir = self._backups.locate(backup)
        volume_id = backup.volume_id
        if not volume_id:
            raise DriverOptionError("a backup needs a volume id", backup_id=backup_id)
        if backup_dir.exists() and any(backup_dir.iterdir()):
            raise BackupError(
                f"{backup_dir} already holds a backup",
                backup_id=backup_id,
                hint="pick another backup id, or delete the old backup first",
            )
        parent_shas, parent_end = self._parent(backup, volume_id)
        volume_meta = self.get_metadata(volume_id) if self.metadata_api is not None else None
        now = self._clock().astimezone(UTC)
        prefix = f"volume_{volume_id}_{now:%Y%m%d%H%M%S}_backup_{backup_id}"
        header = {
            "backup_id": backup_id,
            "volume_id": volume_id,
            "backup_name": backup.display_name,
            "backup_description": backup.display_description,
            "created_at": str(now),
        }
        metadata: dict[str, Any] = {
            "version": FORMAT_VERSION,
            **header,
            "parent_id": backup.parent_id,
            "objects": [],
            "volume_meta": volume_meta,
        }
        # Refuse a bad id, name or metadata container before reading a byte of the volume.
        self._families["chunked-backup"].load(metadata)

        with contextlib.ExitStack() as stack:
            fh = volume_file
            if isinstance(volume_file, str | os.PathLike):
                # Not a link, a FIFO or a character device: a regular file or block device.
                fh = stack.enter_context(
                    fs.open_file(volume_file, what="volume", kinds=fs.VOLUME)
                )
            objects, total = self._store(
                fh, backup_dir, prefix, header, parent_shas, parent_end, backup_id, progress
            )
        metadata["objects"] = objects
        try:
            atomic_write(
                backup_dir / (prefix + METADATA_SUFFIX), cinder_json(metadata), mode=self.file_mode
            )
            fsync_path(backup_dir)
        except BaseException:
            self._backups.remove(backup_dir, backup_id)
            raise
        return backup.replace(
            container=str(backup_dir.relative_to(self.root)),
            service_metadata=prefix,
            service=self.service,
            size=gib(total),
            object_count=len(objects),
            status="available",
            created_at=iso_utc(now),
            data_timestamp=backup.data_timestamp or iso_utc(now),
        )

    def _parent(self, backup: Backup, volume_id: str) -> tuple[list[bytes] | None, int]:
        """The parent's SHA-256 list and volume size, checked (``None`` for a full backup)."""
        if backup.parent_id is None:
            return None, 0
        parent_chain = self._backups.chain(check_id(backup.parent_id, "parent id"))
        parent = parent_chain[0]
        if parent.metadata["volume_id"] != volume_id:
            raise BackupError(
                f"parent backup {parent.backup_id} is of volume {parent.metadata['volume_id']}",
                backup_id=backup.id,
                hint="an incremental backup builds on a backup of the same volume",
            )
        end = max(c.end() for c in parent_chain)
        shas, block_size = self._backups.sha256(parent, end)
        if block_size != self.sha_block_size:
            raise DriverOptionError(
                f"the parent used SHA blocks of {block_size} bytes, this driver "
                f"{self.sha_block_size}",
                backup_id=backup.id,
                hint="configure the same sha_block_size as the parent backup",
            )
        return [bytes.fromhex(h) for h in shas], end

    def _store(
        self,
        fh: IO[bytes],
        backup_dir: Path,
        prefix: str,
        header: Mapping[str, Any],
        parent_shas: Sequence[bytes] | None,
        parent_end: int,
        backup_id: str,
        progress: Progress | None,
    ) -> tuple[list[dict[str, Any]], int]:
        total = volume_size(fh)
        if parent_shas is not None and total < parent_end:
            raise BackupError(
                f"the volume has {total} bytes, fewer than the {parent_end} of its parent backup",
                backup_id=backup_id,
                hint="volumes only grow between incremental backups; take a full backup",
            )
        make_dirs(self.root, backup_dir, self.dir_mode)
        sha = Sha256FileWriter(
            backup_dir / (prefix + SHA256_SUFFIX),
            {**header, "chunk_size": self.sha_block_size, "version": FORMAT_VERSION},
            mode=self.file_mode,
        )
        try:
            # Each finished object is flushed to disk in the background while the next one is
            # read and hashed; all must be on disk before the metadata objects are written.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-fsync") as syncer:
                flushing: list[Future[None]] = []
                objects = self._write_objects(
                    fh,
                    backup_dir,
                    prefix,
                    parent_shas,
                    sha,
                    total,
                    progress,
                    lambda path: flushing.append(syncer.submit(fsync_path, path)),
                )
                for flushed in flushing:
                    flushed.result()
            sha.close()
        except BaseException:
            sha.abort()
            self._backups.remove(backup_dir, backup_id)
            raise
        return objects, total

    def _write_objects(
        self,
        fh: IO[bytes],
        backup_dir: Path,
        prefix: str,
        parent_shas: Sequence[bytes] | None,
        sha: Sha256FileWriter,
        total: int,
        progress: Progress | None,
        written: Callable[[Path], None],
    ) -> list[dict[str, Any]]:
        """Read the volume once; write changed SHA blocks as objects, split at chunk edges.

        ``written`` is called with each object's path once it is complete.
        """
        bs, cs = self.sha_block_size, self.chunk_size
        piece_size = max(bs, PIECE // bs * bs)
        # MD5, compression and writing run on a worker thread while this one reads and takes
        # SHA-256s (both hashlib and the compressors release the GIL). Pieces rotate through
        # a few buffers; a buffer is refilled only once the worker is done with it.
        buffers = [bytearray(piece_size) for _ in range(_BUFFERS)]
        busy: list[list[Future[None]]] = [[] for _ in range(_BUFFERS)]
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-write")
        objects: list[dict[str, Any]] = []
        run: ObjectWriter | None = None
        block = 0
        offset = 0
        slot = 0

        def reread(start: int, length: int) -> Iterator[bytes]:
            return read_range(fh, start, length)

        def open_run(at: int) -> ObjectWriter:
            name = f"{prefix}-{len(objects) + 1:05d}"
            # A full backup knows each chunk's length up front; an incremental run's length is
            # known when it ends (zstd then compresses the run whole, to record its size).
            size = min(cs, total - at) if parent_shas is None and total > at else None
            return ObjectWriter(
                backup_dir, name, at, self.compression, size=size, mode=self.file_mode
            )

        def wait(futures: list[Future[None]]) -> None:
            for future in futures:
                future.result()
            futures.clear()

        def write(data: memoryview) -> None:
            assert run is not None
            busy[slot].append(worker.submit(run.write, data))

        def close_run() -> None:
            nonlocal run
            if run is not None:
                for futures in busy:
                    wait(futures)
                objects.append({run.name: run.finish(reread)})
                written(run.final)
                run = None

        try:
            while True:
                wait(busy[slot])
                view = memoryview(buffers[slot])
                want = min(piece_size, cs - offset % cs)
                n = read_full(fh, view[:want])
                if n == 0:
                    break
                data = view[:n]
                span: int | None = None  # where this piece's changed bytes start
                for at in range(0, n, bs):
                    digest = hashlib.sha256(data[at : at + bs]).digest()
                    sha.add(digest)
                    changed = (
                        parent_shas is None
                        or block >= len(parent_shas)
                        or parent_shas[block] != digest
                    )
                    block += 1
                    if changed:
                        if run is None:
                            run = open_run(offset + at)
                        if span is None:
                            span = at
                    elif run is not None:
                        if span is not None:
                            write(data[span:at])
                            span = None
                        close_run()
                if run is not None and span is not None:
                    write(data[span:n])
                offset += n
                if offset % cs == 0:
                    close_run()
                if progress is not None:
                    progress(offset, max(total, offset))
                slot = (slot + 1) % _BUFFERS
                if n < want:
                    break
            close_run()
        except BaseException:
            worker.shutdown(wait=True, cancel_futures=True)
            if run is not None:
                run.abort()
            raise
        worker.shutdown(wait=True)
        return objects

    # --- restore --------------------------------------------------------------------------

    def restore(
        self,
        backup: Backup | str,
        volume_id: str | None,
        volume_file: Any,
        *,
        progress: Progress | None = None,
    ) -> RestoreReport:
        """Restore a backup and its parents (oldest first) onto a path or open binary file.

        Every metadata object of the chain is read and checked (version, object list) before
        a byte is written. A path to a regular file (or a new path) is written to a temporary
        file that replaces it only when everything, volume metadata included, is restored.
        A block device or an open file cannot be thrown away, so every object of the chain
        is read and checked before the first byte is written to it; and each object's bytes
        reach any target only after its length and MD5 are checked. With ``volume_id`` and a
        metadata API, the chain's volume metadata is restored after all the data, in one
        transaction when the API has ``put_many`` (``docket.store.BackupMetadataAPI`` has).
        """
        chain = list(reversed(self._backups.chain(backup)))
        self._check_containers(chain, volume_id)
        if volume_id is not None and self.metadata_api is not None:
            # The volume must exist before a byte is written, even when the chain holds no
            # metadata to restore into it (VolumeNotFound from the API otherwise).
            self.metadata_api.get(volume_id)
        size = max(c.end() for c in chain)
        work = RestoreWriter(chain, size, progress)
        backup_id = chain[-1].backup_id
        if not isinstance(volume_file, str | os.PathLike):
            work.verify()
            with _writing("the restore target", backup_id):
                _reserve(volume_file, size, backup_id)
                work.write(volume_file, sparse=False)
                truncate_regular(volume_file, size)
                volume_file.flush()
            return self._report(work, volume_id)
        # Through a symlink, restore what it points at rather than replace the link.
        target = Path(os.path.realpath(volume_file))
        if os.path.lexists(target) and not target.is_file():
            fd = fs.open_regular(
                target, what="restore target", kinds=fs.VOLUME, flags=os.O_RDWR
            )
            with os.fdopen(fd, "r+b") as out:
                available = volume_size(out)
                if available < size:
                    raise InvalidBackup(
                        f"{target} has {available} bytes; the backup needs {size}",
                        backup_id=chain[-1].backup_id,
                        hint="restore onto a volume at least as large as the backed-up one",
                    )
                work.verify()
                with _writing(str(target), backup_id):
                    work.write(out, sparse=False)
                    out.flush()
                    os.fsync(out.fileno())
            return self._report(work, volume_id)
        tmp = temp_path(target)
        try:
            with _writing(str(target), backup_id), open(tmp, "wb") as out:
                work.write(out, sparse=True)
                out.truncate(size)
                out.flush()
                os.fsync(out.fileno())
            if target.exists():
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
            report = self._report(work, volume_id)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_path(target.parent)
        return report

    def _report(self, work: RestoreWriter, volume_id: str | None) -> RestoreReport:
        results: list[tuple[str, Any]] = []
        skipped: list[str] = []
        absent: list[str] = []
        todo: list[tuple[str, str]] = []
        for loaded in work.chain:
            volume_meta = loaded.metadata.get("volume_meta")
            if not volume_meta:
                absent.append(loaded.backup_id)
                continue
            if volume_id is None or self.metadata_api is None:
                skipped.append(loaded.backup_id)
                continue
            todo.append((loaded.backup_id, volume_meta))
        put_many = getattr(self.metadata_api, "put_many", None)
        if todo and volume_id is not None and callable(put_many):
            # One transaction for the chain: a refused container (the incremental's, say)
            # leaves the database exactly as it was.
            done = put_many([(volume_id, meta) for _, meta in todo])
            results = [(bid, out) for (bid, _), out in zip(todo, done, strict=True)]
        elif volume_id is not None:
            results = [(bid, self.put_metadata(volume_id, meta)) for bid, meta in todo]
        return RestoreReport(
            backup_id=work.chain[-1].backup_id,
            chain=tuple(c.backup_id for c in work.chain),
            size=work.size,
            written=work.done,
            metadata=tuple(results),
            metadata_skipped=tuple(skipped),
            metadata_absent=tuple(absent),
        )

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

    def list_backups(self, volume_id: str | None = None) -> list[BackupSummary]:
        """The backups under the root (of ``volume_id`` only, when given), sorted by volume,
        time and id, each with its status: ``available``, ``partial``, ``invalid`` or
        ``deleting`` (an interrupted delete's leftover). Only the default layout
        (``<id[0:2]>/<id[2:4]>/<id>``) is searched, never through a link."""
        return list_backups(self._backups, volume_id)

    # --- describing -----------------------------------------------------------------------

    def get_backup(self, backup_id: str) -> Backup:
        """The backup as a record describes it, rebuilt from its stored metadata object."""
        chain = self._backups.chain(backup_id)
        top = chain[0]
        created_at = record_time(top.metadata.get("created_at"))
        return Backup(
            id=top.backup_id,
            volume_id=top.metadata["volume_id"],
            display_name=top.metadata.get("backup_name"),
            display_description=top.metadata.get("backup_description"),
            container=str(top.stored.backup_dir.relative_to(self.root)),
            service_metadata=top.stored.prefix,
            service=self.service,
            parent_id=top.parent_id,
            size=gib(max(c.end() for c in chain)),
            object_count=len(top.objects),
            status="available",
            created_at=created_at,
            # Cinder's data_timestamp of a volume backup is its created_at; docket's backups
            # are all of volumes (none of snapshots), and backup() sets it so.
            data_timestamp=created_at,
        )

    def export_record(
        self,
        backup: Backup | str,
        *,
        version: int | str | None = None,
        service: str | None = None,
    ) -> str:
        """A record for a backup object, or for a stored backup given by id.

        The record's ``service`` is ``service`` when given, else the backup's own (Cinder's
        driver name for a stored backup, :attr:`service`), which Cinder's import expects.
        """
        if isinstance(backup, str):
            backup = self.get_backup(backup)
        if service is not None:
            backup = backup.replace(service=service)
        return super().export_record(backup, version=version)

    # --- verify ---------------------------------------------------------------------------

    def verify(self, backup: Backup | str, *, progress: Progress | None = None) -> VerifyReport:
        """Check a stored backup and every backup it builds on; report each problem.

        Checks that the stored objects are exactly the listed ones, that each object's
        uncompressed bytes have its recorded length and MD5, that every SHA-256 block matches
        the sha256file, that a full backup covers every block and that a block an incremental
        did not store is unchanged from its parent. Raises :class:`BackupNotFound` when the
        backup itself does not exist; everything else is a :class:`Problem` in the report.
        """
        containers = (
            self.registry.family(CONTAINER_FAMILY)
            if self.registry.signing_key is not None
            else None
        )
        return verify_chain(self._backups, backup, progress, containers)

    def _check_containers(self, chain: Sequence[LoadedBackup], volume_id: str | None) -> None:
        """Load every volume metadata container of the chain before any data is written,
        when they are to be restored or a signing key must vouch for them: a refused one
        (unsigned, altered, invalid) stops the restore with the target untouched."""
        restoring = volume_id is not None and self.metadata_api is not None
        if not restoring and self.registry.signing_key is None:
            return
        family = self.registry.family(CONTAINER_FAMILY)
        for loaded in chain:
            volume_meta = loaded.metadata.get("volume_meta")
            if not volume_meta:
                continue
            try:
                family.load(volume_meta)
            except DocketError as err:
                raise InvalidBackup(
                    f"its volume metadata container is refused: {err}",
                    backup_id=loaded.backup_id,
                    path=("volume_meta",),
                    hint="nothing was restored",
                ) from None


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
    try:
        fd = out.fileno()
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except (AttributeError, OSError, ValueError):
        return  # an in-memory file grows as written
    if not regular:
        return
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
