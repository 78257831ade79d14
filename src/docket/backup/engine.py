"""The chunked backup engine: chunking, compression, SHA-256 blocks, incrementals, object
naming and verification, over an :class:`~docket.backup.store.ObjectStore`.

Cinder's ``ChunkedBackupDriver`` in docket's shape: the engine does not know where objects
live. It writes a backup as Cinder's chunked drivers do, into one container:

    <prefix>-00001, -00002, ...   data objects (changed SHA blocks only, for an incremental)
    <prefix>_sha256file           the SHA-256 of every block of the volume
    <prefix>_metadata             written last, once every other object is on stable storage

A driver subclasses :class:`ChunkedBackupDriver` and gives it a store (``self.store``): backup,
restore, verify and delete then go through the store's protocol alone (reads bounded by
``open_object(limit=)``; :class:`~docket.backup._layout.Backups` finds and reads backups).
:class:`~docket.backup.posix.PosixBackupDriver` is the first.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, TypedDict

from docket import fs
from docket.backup._chunks import (
    PIECE,
    Compression,
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
    GIB,
    METADATA_SUFFIX,
    SHA256_SUFFIX,
    Backups,
    LoadedBackup,
    StoredBackup,
    _naming,
    backup_dir_for,
    check_id,
    default_container,
    gib,
    iso_utc,
    own_objects,
    record_time,
)
from docket.backup._model import (
    Backup,
    BasicMetadataAPI,
    DeleteReport,
    MetadataAPI,
    Progress,
    RestoreReport,
    VerifyReport,
)
from docket.backup._restore import RestoreWriter, plan
from docket.backup._seal import SEAL, seal_of
from docket.backup._targets import volume_path, write_restore
from docket.backup._threads import executor
from docket.backup._verify import verify_chain
from docket.backup._walk import MIN_ID
from docket.backup._writer import ObjectWriter
from docket.backup.base import BackupDriver
from docket.backup.errors import BackupInUse, InvalidBackup
from docket.backup.records import check_text
from docket.backup.store import ObjectStore, all_objects
from docket.core.codec import Limits
from docket.core.errors import BackupError, DocketError, DriverOptionError, show
from docket.core.family import Container, Family
from docket.core.registry import Registry

DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024
"""Bytes of volume per data object. Cinder's POSIX driver uses 1999994880; any multiple of the
SHA block size restores with either."""
CONTAINER_FAMILY = "backup-metadata"

# The metadata and SHA-256 objects grow with the volume; they are the driver's own objects, so
# the only limit that matters is the machine's.
_OBJECT_LIMITS = Limits(
    max_bytes=1 << 40, max_depth=32, max_string_length=1 << 31, max_keys=1_000_000
)
_BUFFERS = 4
_DIGEST = 32
"""Bytes of a SHA-256 digest."""
_NAME_MAX = 255
"""The longest file name POSIX file systems hold, in bytes (an object is one file)."""


@functools.lru_cache(maxsize=4)
def _zero_digest(size: int) -> bytes:
    """The SHA-256 of a block of ``size`` zero bytes."""
    return hashlib.sha256(bytes(size)).digest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class EngineOptions(TypedDict, total=False):
    """The chunked engine's options, which every driver on it takes as keywords."""

    registry: Registry | None
    compression: str | Compression
    chunk_size: int
    sha_block_size: int
    clock: Callable[[], datetime]


class ChunkedBackupDriver(BackupDriver):
    """A backup driver that stores volumes as chunked, compressed, checked objects in a
    :class:`~docket.backup.store.ObjectStore` (Cinder's ``ChunkedBackupDriver``)."""

    store: ObjectStore
    """Where the objects live; set by the subclass before a backup is taken."""

    def __init__(
        self,
        metadata_api: BasicMetadataAPI | None = None,
        *,
        registry: Registry | None = None,
        compression: str | Compression = Compression.ZLIB,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        sha_block_size: int = DEFAULT_SHA_BLOCK_SIZE,
        clock: Callable[[], datetime] = _utcnow,
        availability_zone: str | None = None,
    ) -> None:
        """``availability_zone`` is the backup service's (Cinder's ``self.az``, its
        ``storage_availability_zone``): what the records of its backups say (None: unknown)."""
        super().__init__(metadata_api, registry=registry)
        if availability_zone is not None:
            check_text(
                availability_zone,
                (),
                error=DriverOptionError,
                hint="a backup record keeps it: printable characters only",
                what="availability zone",
            )
        self.availability_zone = availability_zone
        self.compression = self._compression(compression)
        if sha_block_size <= 0 or chunk_size <= 0 or chunk_size % sha_block_size:
            raise DriverOptionError(
                f"chunk size {chunk_size} is not a positive multiple of the SHA block size "
                f"{sha_block_size}",
                hint="incremental backups compare whole SHA blocks, so chunks hold whole blocks",
            )
        self.chunk_size = chunk_size
        self.sha_block_size = sha_block_size
        self._clock = clock

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

    # --- what a driver supplies -------------------------------------------------------------

    @functools.cached_property
    def _backups(self) -> Backups:
        """The backups in the store: finding them and reading them back."""
        return Backups(
            self.store, lambda name: self._families[name], self.registry.signing_key
        )

    def _new_container(self, backup: Backup) -> tuple[str, str]:
        """The id of a backup about to be taken and the container its objects go to: the
        record's ``container``, else ``<id[0:2]>/<id[2:4]>/<id>`` (Cinder's layout).

        The caller's id is checked as a usage error (:class:`DriverOptionError`): one that
        Cinder's layout cannot hold, and one shorter than :data:`MIN_ID` whose container is
        that layout's (``b1`` would be ``b1/b1``, two levels down, as Cinder makes it)."""
        if not backup.container:
            default_container(backup.id, DriverOptionError)
        backup_id, container = self._backups.container_of(backup)
        if len(backup_id) < MIN_ID and container == backup_dir_for(backup_id):
            raise DriverOptionError(
                f"backup id {show(backup_id)} is shorter than {MIN_ID} characters: Cinder's "
                f"layout, <id[0:2]>/<id[2:4]>/<id>, would put it in {container}, not "
                f"{MIN_ID} levels down, where `docket volume list` and delete's check for "
                "incrementals look (docket makes no backup there, in any store)",
                backup_id=backup_id,
                hint="use a longer id (Cinder uses UUIDs), or leave --backup-id out",
            )
        return backup_id, container

    def _chain(self, backup: Backup | str) -> list[LoadedBackup]:
        """A stored backup and its parents, newest first, each checked as restore needs."""
        return self._backups.chain(backup)

    def _sha256(self, loaded: LoadedBackup, end: int) -> tuple[bytes | bytearray, int]:
        """A stored backup's SHA-256 list (packed, 32 bytes a block) and block size, for a
        volume of ``end`` bytes."""
        return self._backups.sha256(loaded, end)

    def _object_prefix(self, volume_id: str, now: datetime, backup_id: str) -> str:
        """The prefix of a new backup's object names: Cinder's POSIX driver's,
        ``volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>``, unless a driver says otherwise."""
        return f"volume_{volume_id}_{now:%Y%m%d%H%M%S}_backup_{backup_id}"

    def _check_unused(self, container: str, backup_id: str) -> None:
        """Refuse to write into a container that holds this backup's objects already."""
        with contextlib.suppress(FileNotFoundError):
            if self.store.list_objects(container, "volume_", limit=1).names:
                raise BackupError(
                    f"{container} already holds a backup",
                    backup_id=backup_id,
                    hint="pick another backup id, or delete the old backup first",
                )

    def _discard(self, container: str, backup_id: str) -> None:
        """Remove what a failed backup left in its container."""
        with contextlib.suppress(FileNotFoundError):
            own = own_objects(backup_id)
            for name in all_objects(self.store, container, "volume_"):
                if own.match(name):
                    self.store.delete_object(container, name)

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
        volume_id = backup.volume_id
        if not volume_id:
            raise DriverOptionError("a backup needs a volume id", backup_id=backup.id)
        # The volume id becomes part of every object name: checked before anything is made.
        check_id(volume_id, "volume id")
        longest = len(f".volume_{volume_id}_YYYYmmddHHMMSS_backup_{backup.id}_sha256file.") + 13
        if longest > _NAME_MAX:  # the temporary file of the longest object name
            raise DriverOptionError(
                f"volume id and backup id make object names of {longest} bytes, more than a "
                f"file name may hold ({_NAME_MAX})",
                hint="Cinder's ids are 36-character UUIDs",
                backup_id=backup.id,
            )
        backup_id, container = self._new_container(backup)
        self._check_unused(container, backup_id)
        parent_shas, parent_end = self._parent(backup, volume_id)
        volume_meta = self.get_metadata(volume_id) if self.metadata_api is not None else None
        now = self._clock().astimezone(UTC)
        prefix = self._object_prefix(volume_id, now, backup_id)
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
                    fs.open_file(
                        volume_path(volume_file, "volume"), what="volume", kinds=fs.VOLUME
                    )
                )
            objects, total, sha256file = self._store(
                fh, container, prefix, header, parent_shas, parent_end, backup_id, progress
            )
        metadata["objects"] = objects
        if self.registry.signing_key is not None:
            metadata[SEAL] = seal_of(metadata, sha256file, self.registry.signing_key)
        try:
            # Last, once every other object is on stable storage: a backup without its
            # metadata object did not finish.
            data = cinder_json(metadata)
            self.store.put_object(
                container,
                prefix + METADATA_SUFFIX,
                data,
                md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            )
            self.store.sync(container)
        except BaseException:
            self._discard(container, backup_id)
            raise
        return backup.replace(
            container=container,
            service_metadata=prefix,
            service=self.service,
            size=gib(total),
            object_count=len(objects),
            status="available",
            created_at=iso_utc(now),
            data_timestamp=backup.data_timestamp or iso_utc(now),
            # Cinder's backup manager: the service's zone unless the request named one.
            availability_zone=backup.availability_zone or self.availability_zone,
        )

    def _parent(self, backup: Backup, volume_id: str) -> tuple[bytes | bytearray | None, int]:
        """The parent's SHA-256 list and volume size, checked (``None`` for a full backup)."""
        if backup.parent_id is None:
            return None, 0
        parent_chain = self._chain(check_id(backup.parent_id, "parent id"))
        parent = parent_chain[0]
        if parent.metadata["volume_id"] != volume_id:
            raise BackupError(
                f"parent backup {parent.backup_id} is of volume {parent.metadata['volume_id']}",
                backup_id=backup.id,
                hint="an incremental backup builds on a backup of the same volume",
            )
        end = max(c.end() for c in parent_chain)
        shas, block_size = self._sha256(parent, end)
        if block_size != self.sha_block_size:
            raise DriverOptionError(
                f"the parent used SHA blocks of {block_size} bytes, this driver "
                f"{self.sha_block_size}",
                backup_id=backup.id,
                hint="configure the same sha_block_size as the parent backup",
            )
        return shas, end

    def _store(
        self,
        fh: IO[bytes],
        container: str,
        prefix: str,
        header: Mapping[str, Any],
        parent_shas: bytes | bytearray | None,
        parent_end: int,
        backup_id: str,
        progress: Progress | None,
    ) -> tuple[list[dict[str, Any]], int, str]:
        """Write the data objects and the sha256file: the object list, the volume's size
        and the sha256file's digest."""
        total = volume_size(fh)
        if parent_shas is not None and total < parent_end:
            raise BackupError(
                f"the volume has {total} bytes, fewer than the {parent_end} of its parent backup",
                backup_id=backup_id,
                hint="volumes only grow between incremental backups; take a full backup",
            )
        self.store.create_container(container)
        sha = Sha256FileWriter(
            self.store.open_writer(container, prefix + SHA256_SUFFIX),
            {**header, "chunk_size": self.sha_block_size, "version": FORMAT_VERSION},
        )
        try:
            objects = self._write_objects(fh, container, prefix, parent_shas, sha, total, progress)
            sha.close()
            # Every object must be on stable storage before the metadata object is written.
            self.store.sync(container)
        except BaseException:
            sha.abort()
            self._discard(container, backup_id)
            raise
        return objects, total, sha.digest

    def _write_objects(
        self,
        fh: IO[bytes],
        container: str,
        prefix: str,
        parent_shas: bytes | bytearray | None,
        sha: Sha256FileWriter,
        total: int,
        progress: Progress | None,
    ) -> list[dict[str, Any]]:
        """Read the volume once; write changed SHA blocks as objects, split at chunk edges."""
        bs, cs = self.sha_block_size, self.chunk_size
        piece_size = max(bs, PIECE // bs * bs)
        parent_blocks = len(parent_shas) // _DIGEST if parent_shas is not None else 0
        # MD5 on one thread, compression on a pool and writing on a third run while this one
        # reads and takes SHA-256s (hashlib and the compressors release the GIL). Pieces
        # rotate through a few buffers; a buffer is refilled only once all are done with it.
        buffers = [bytearray(piece_size) for _ in range(_BUFFERS)]
        busy: list[list[Future[None]]] = [[] for _ in range(_BUFFERS)]
        worker = executor("write")
        hasher = executor("md5")  # an object's MD5 is one stream: a thread of its own
        # zlib and bz2 pieces of an object are compressed side by side, one thread a core.
        pool = executor("compress", max(1, min(os.cpu_count() or 1, _BUFFERS - 1)))
        objects: list[dict[str, Any]] = []
        run: ObjectWriter | None = None
        block = 0
        offset = 0
        slot = 0
        zero_block = bytes(bs)
        zero_digest = _zero_digest(bs)
        sha256 = hashlib.sha256

        def reread(start: int, length: int) -> Iterator[bytes]:
            return read_range(fh, start, length)

        def open_run(at: int) -> ObjectWriter:
            name = f"{prefix}-{len(objects) + 1:05d}"
            # A full backup knows each chunk's length up front; an incremental run's length is
            # known when it ends (zstd then compresses the run whole, to record its size).
            size = min(cs, total - at) if parent_shas is None and total > at else None
            return ObjectWriter(
                functools.partial(self.store.open_writer, container, name),
                name,
                at,
                self.compression,
                size=size,
                pool=pool,
                hasher=hasher,
            )

        def wait(futures: list[Future[None]]) -> None:
            for future in futures:
                future.result()
            futures.clear()

        def write(data: memoryview, start: int, zeros: list[tuple[int, int]]) -> None:
            """Queue ``data``, which starts ``start`` bytes into the piece."""
            assert run is not None
            end = start + len(data)
            runs = [
                (max(a, start) - start, min(b, end) - start)
                for a, b in zeros
                if a < end and b > start
            ]
            busy[slot].extend(run.submit(data, worker, runs))

        def close_run() -> None:
            nonlocal run
            if run is not None:
                for futures in busy:
                    wait(futures)
                objects.append({run.name: run.finish(reread)})
                run = None

        try:
            while True:
                wait(busy[slot])
                buffer = buffers[slot]
                view = memoryview(buffer)
                want = min(piece_size, cs - offset % cs)
                n = read_full(fh, view[:want])
                if n == 0:
                    break
                data = view[:n]
                # One SHA-256 a block; a block of zeros (a memcmp) has a known one.
                digests: list[bytes] = []
                zeros: list[tuple[int, int]] = []
                for at in range(0, n, bs):
                    if buffer.startswith(zero_block, at, min(at + bs, n)):
                        digests.append(zero_digest)
                        if zeros and zeros[-1][1] == at:
                            zeros[-1] = (zeros[-1][0], at + bs)
                        else:
                            zeros.append((at, at + bs))
                    else:
                        digests.append(sha256(data[at : at + bs]).digest())
                sha.add_many(digests)
                span: int | None = None  # where this piece's changed bytes start
                for index, digest in enumerate(digests):
                    at = index * bs
                    changed = (
                        parent_shas is None
                        or block >= parent_blocks
                        or parent_shas[block * _DIGEST : (block + 1) * _DIGEST] != digest
                    )
                    block += 1
                    if changed:
                        if run is None:
                            run = open_run(offset + at)
                        if span is None:
                            span = at
                    elif run is not None:
                        if span is not None:
                            write(data[span:at], span, zeros)
                            span = None
                        close_run()
                if run is not None and span is not None:
                    write(data[span:n], span, zeros)
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
            for pipeline in (worker, hasher, pool):
                pipeline.shutdown(wait=True, cancel_futures=True)
            if run is not None:
                run.abort()
            raise
        for pipeline in (worker, hasher, pool):
            pipeline.shutdown(wait=True)
        return objects

    # --- restore --------------------------------------------------------------------------

    def restore(
        self,
        backup: Backup | str,
        volume_id: str | None,
        volume_file: Any,
        *,
        progress: Progress | None = None,
        target_is_new: bool = False,
    ) -> RestoreReport:
        """Restore a backup and its parents (oldest first) onto a path or open binary file.

        Every metadata object of the chain is read and checked (version, object list) before
        a byte is written, and every block against its SHA-256 before it is written. A path
        to a regular file (or a new path) is written to a temporary file that replaces it only
        when everything, volume metadata included, is restored. A block device or an open
        file cannot be thrown away, so every object of the chain is read and checked (length,
        MD5) before the first byte is written to it; unless ``target_is_new`` says an open
        regular file was made for this restore (Cinder's ``volume_is_new``): it is then
        emptied and written in one pass, zero blocks left as holes, each object's MD5 checked
        as its last piece passes (a failure leaves it partly written). With ``volume_id`` and
        a metadata API, the chain's volume metadata is restored after all the data, in one
        transaction when the API has ``put_many`` (``docket.store.BackupMetadataAPI`` has).
        """
        chain = list(reversed(self._chain(backup)))
        containers = self._check_containers(chain, volume_id)
        restoring = volume_id is not None and self.metadata_api is not None
        if volume_id is not None and self.metadata_api is not None:
            # The volume must exist before a byte is written, even when the chain holds no
            # metadata to restore into it (VolumeNotFound from the API otherwise).
            self.metadata_api.get(volume_id)
        size = max(c.end() for c in chain)
        # Each backup's sha256file is what every block is checked against; the declared
        # objects must fit the volume it describes before anything is read or written.
        record_size = (
            backup.size * GIB
            if isinstance(backup, Backup) and isinstance(backup.size, int)
            else None
        )
        layers = plan(chain, lambda loaded: self._sha256(loaded, size), record_size)
        work = RestoreWriter(layers, size, progress)
        results = write_restore(
            work,
            volume_file,
            lambda: self._put_volume_metadata(volume_id, containers),
            target_is_new=target_is_new,
        )
        return self._report(work, restoring, results)

    # --- delete ---------------------------------------------------------------------------

    def delete(self, backup: Backup | str, *, force: bool = False) -> DeleteReport:
        """Delete a backup's objects (a partial backup's too), the metadata object first, so
        that an interrupted delete leaves a partial backup the next delete finishes.

        Refused with :class:`BackupInUse` while a backup the store knows of names it as its
        parent (``force`` deletes it anyway); :class:`BackupNotFound` when there is nothing
        of it. A refusal changes nothing.
        """
        stored = self._backups.find(backup)
        own = own_objects(stored.backup_id)
        names = [n for n in all_objects(self.store, stored.container, "volume_") if own.match(n)]
        if not names:
            raise self._backups.not_found(stored.backup_id, stored.container)
        orphaned = tuple(sorted(self._backups.children(stored.backup_id)))
        if orphaned and not force:
            raise BackupInUse(stored.backup_id, orphaned)
        return self._delete_objects(stored, names, orphaned)

    def _delete_objects(self, stored: StoredBackup, names: list[str], orphans: Any) -> DeleteReport:
        """Delete ``names`` of ``stored``, metadata first; report the bytes they held."""
        names = sorted(names, key=lambda n: n != stored.metadata_name)
        size = 0
        where = stored.container
        for name in names:
            try:  # the store's own open: nothing read ahead of an object about to go
                with _naming(stored.backup_id), self.store.open_object(where, name) as fh:
                    size += fh.seek(0, os.SEEK_END)
            except FileNotFoundError:
                continue
        for name in names:
            self.store.delete_object(stored.container, name)
        self.store.sync(stored.container)
        return DeleteReport(
            backup_id=stored.backup_id,
            objects=tuple(names),
            stored_bytes=size,
            directories=(),
            orphaned=orphans,
        )

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

    # --- describing -----------------------------------------------------------------------

    def get_backup(self, backup_id: str) -> Backup:
        """The backup as a record describes it, rebuilt from its stored metadata object."""
        chain = self._chain(backup_id)
        top = chain[0]
        created_at = record_time(top.metadata.get("created_at"))
        return Backup(
            id=top.backup_id,
            volume_id=top.metadata["volume_id"],
            display_name=top.metadata.get("backup_name"),
            display_description=top.metadata.get("backup_description"),
            container=top.stored.container,
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
            availability_zone=self._zone_of(top.stored),
        )

    def _zone_of(self, stored: StoredBackup) -> str | None:
        """The availability zone of a stored backup's service: this driver's, unless the
        backup says otherwise (Swift's and S3's object names hold it)."""
        return self.availability_zone

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
            check_text(
                service,
                (),
                error=DriverOptionError,
                hint="a service is a backup driver's name: printable characters only",
                what="service",
            )
            backup = backup.replace(service=service)
        return super().export_record(backup, version=version)

    # --- restoring volume metadata ----------------------------------------------------

    def _check_containers(
        self, chain: Sequence[LoadedBackup], volume_id: str | None
    ) -> list[_Checked]:
        """Load every volume metadata container of the chain before any data is written,
        when they are to be restored or a signing key must vouch for them: a refused one
        (unsigned, altered, invalid) stops the restore with the target untouched. The loaded
        containers, oldest first, are the ones restored."""
        restoring = volume_id is not None and self.metadata_api is not None
        if not restoring and self.registry.signing_key is None:
            return []
        family = self.registry.family(CONTAINER_FAMILY)
        checked: list[_Checked] = []
        for loaded in chain:
            volume_meta = loaded.metadata.get("volume_meta")
            if not volume_meta:
                continue
            try:
                container = family.load(volume_meta)
            except DocketError as err:
                raise InvalidBackup(
                    f"its volume metadata container is refused: {err}",
                    backup_id=loaded.backup_id,
                    path=("volume_meta",),
                    hint="nothing was restored",
                ) from None
            checked.append(_Checked(loaded.backup_id, volume_meta, container))
        return checked

    def _put_volume_metadata(
        self, volume_id: str | None, containers: Sequence[_Checked]
    ) -> list[tuple[str, Any]]:
        """Write the chain's volume metadata to the database, oldest first, once its data is
        written: the containers checked before the restore began, not loaded again."""
        if volume_id is None or self.metadata_api is None or not containers:
            return []
        api = self.metadata_api
        if isinstance(api, MetadataAPI):
            # One transaction for the chain: a refused container (the incremental's, say)
            # leaves the database exactly as it was.
            done = api.put_many([(volume_id, c.container) for c in containers])
            return [(c.backup_id, out) for c, out in zip(containers, done, strict=True)]
        # An API of the two calls (get, put) restores each container from its text.
        return [(c.backup_id, api.put(volume_id, c.text)) for c in containers]

    @staticmethod
    def _report(
        work: RestoreWriter, restoring: bool, results: list[tuple[str, Any]]
    ) -> RestoreReport:
        """What the restore did; it writes nothing."""
        skipped: list[str] = []
        absent: list[str] = []
        for loaded in work.chain:
            if not loaded.metadata.get("volume_meta"):
                absent.append(loaded.backup_id)
            elif not restoring:
                skipped.append(loaded.backup_id)
        return RestoreReport(
            backup_id=work.chain[-1].backup_id,
            chain=tuple(c.backup_id for c in work.chain),
            size=work.size,
            written=work.done,
            metadata=tuple(results),
            metadata_skipped=tuple(skipped),
            metadata_absent=tuple(absent),
        )


@dataclass(frozen=True)
class _Checked:
    """A backup's volume metadata container, as stored and as loaded and checked."""

    backup_id: str
    text: str
    container: Container
