"""The reference chunked driver: Cinder's POSIX backup layout on a local or mounted file system.

Under the backup root, each backup has a container ``<id[0:2]>/<id[2:4]>/<id>`` holding::

    volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>-00001     data objects, -00002, ...
    volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>_sha256file (chunked-sha256 family)
    volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>_metadata   (chunked-backup family)

The metadata object is written last, atomically, after every other object is on stable
storage: a backup without one did not finish and never verifies or restores. Backup, restore
and verify stream a piece at a time, so memory does not grow with the volume.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from docket.backup._chunks import (
    PIECE,
    TEMP_PREFIX,
    Compression,
    ObjectDamaged,
    ObjectWriter,
    Sha256FileWriter,
    atomic_write,
    cinder_json,
    compression_named,
    fsync_path,
    object_pieces,
    read_full,
    read_range,
    temp_path,
    volume_size,
)
from docket.backup._model import (
    Backup,
    MetadataAPI,
    Problem,
    Progress,
    RestoreReport,
    VerifyReport,
)
from docket.backup.base import BackupDriver
from docket.core.codec import Limits
from docket.core.errors import (
    BackupError,
    BackupNotFound,
    DocketError,
    DriverOptionError,
    InvalidBackup,
    json_path,
)
from docket.core.family import Family
from docket.core.registry import Registry

DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024
"""Bytes of volume per data object. Cinder's POSIX driver uses 1999994880; any multiple of the
SHA block size restores with either."""
DEFAULT_SHA_BLOCK_SIZE = 32768
FORMAT_VERSION = "1.0.0"
METADATA_SUFFIX = "_metadata"
SHA256_SUFFIX = "_sha256file"
GIB = 1 << 30

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The metadata and SHA-256 objects grow with the volume; they are the driver's own files, so
# the only limit that matters is the machine's.
_OBJECT_LIMITS = Limits(
    max_bytes=1 << 40, max_depth=32, max_string_length=1 << 31, max_keys=1_000_000
)
_ZERO = bytes(PIECE)
_BUFFERS = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _gib(size: int) -> int:
    return -(-size // GIB)


def _check_id(backup_id: str, what: str = "backup id") -> str:
    if not isinstance(backup_id, str) or not _SAFE_ID.match(backup_id):
        raise DriverOptionError(
            f"{what} {backup_id!r} is not one path-safe name",
            hint="use letters, digits, '_', '.' and '-' (Cinder uses UUIDs)",
        )
    return backup_id


@dataclass(frozen=True)
class _Stored:
    """Where one backup's objects are."""

    backup_id: str
    directory: Path
    prefix: str
    complete: bool
    """Whether the metadata object exists (a backup without one did not finish)."""

    @property
    def metadata_name(self) -> str:
        return self.prefix + METADATA_SUFFIX

    @property
    def sha256_name(self) -> str:
        return self.prefix + SHA256_SUFFIX

    def entries(self) -> list[str]:
        """The data objects present: names starting with the prefix (Cinder's listing)."""
        skip = {self.metadata_name, self.sha256_name}
        return sorted(
            name
            for name in os.listdir(self.directory)
            if name.startswith(self.prefix) and name not in skip
        )


@dataclass(frozen=True)
class _Loaded:
    """A backup whose metadata object was read and checked."""

    stored: _Stored
    metadata: dict[str, Any]
    objects: tuple[tuple[str, dict[str, Any]], ...]

    @property
    def backup_id(self) -> str:
        return self.stored.backup_id

    @property
    def parent_id(self) -> str | None:
        return self.metadata.get("parent_id")

    def end(self) -> int:
        return max((e["offset"] + e["length"] for _, e in self.objects), default=0)


class PosixBackupDriver(BackupDriver):
    """Backs volumes (files or block devices) up into ``root`` in Cinder's POSIX layout."""

    service_names = (
        "docket.backup.posix.PosixBackupDriver",
        "cinder.backup.drivers.posix.PosixBackupDriver",
    )

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
    ) -> None:
        super().__init__(metadata_api, registry=registry)
        self.root = Path(root)
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
                f"unknown compression {value!r}",
                hint="use one of: " + ", ".join(c.value for c in Compression),
            )
        return found

    @functools.cached_property
    def _families(self) -> dict[str, Family]:
        return {
            name: self.registry.family(name).with_limits(_OBJECT_LIMITS)
            for name in ("chunked-backup", "chunked-sha256")
        }

    # --- where things are -----------------------------------------------------------------

    @staticmethod
    def container_for(backup_id: str) -> str:
        """Cinder's POSIX container for a backup id: ``<id[0:2]>/<id[2:4]>/<id>``."""
        _check_id(backup_id)
        return f"{backup_id[0:2]}/{backup_id[2:4]}/{backup_id}"

    def _directory(self, backup: Backup | str) -> tuple[str, Path]:
        backup_id = _check_id(backup if isinstance(backup, str) else backup.id)
        container = backup.container if isinstance(backup, Backup) else None
        if not container:
            return backup_id, self.root / self.container_for(backup_id)
        relative = PurePosixPath(container)
        if relative.is_absolute() or ".." in relative.parts:
            raise InvalidBackup(
                f"container {container!r} is not a path inside the backup root",
                backup_id=backup_id,
                path='$["container"]',
            )
        return backup_id, self.root / relative

    def _find(self, backup: Backup | str) -> _Stored:
        backup_id, directory = self._directory(backup)
        if not directory.is_dir():
            raise BackupNotFound(
                f"no backup under {self.root} (looked in {directory})",
                backup_id=backup_id,
                hint="check the backup id and --root",
            )
        names = os.listdir(directory)
        prefix = backup.service_metadata if isinstance(backup, Backup) else None
        if prefix:
            if "/" in prefix or prefix.startswith(TEMP_PREFIX):
                raise InvalidBackup(
                    f"object prefix {prefix!r} is not a name inside the container",
                    backup_id=backup_id,
                    path='$["service_metadata"]',
                )
            return _Stored(backup_id, directory, prefix, prefix + METADATA_SUFFIX in names)
        tail = f"_backup_{backup_id}{METADATA_SUFFIX}"
        found = sorted(n for n in names if n.startswith("volume_") and n.endswith(tail))
        if len(found) > 1:
            raise InvalidBackup(
                "the container holds several metadata objects: " + ", ".join(found),
                backup_id=backup_id,
            )
        if found:
            return _Stored(backup_id, directory, found[0][: -len(METADATA_SUFFIX)], True)
        # No metadata object: the backup never finished. Name its prefix from what is there.
        pattern = re.compile(rf"^(volume_.+_backup_{re.escape(backup_id)})(-\d+|{SHA256_SUFFIX})$")
        guesses = sorted({m.group(1) for n in names if (m := pattern.match(n))})
        prefix = guesses[0] if guesses else f"volume_?_backup_{backup_id}"
        return _Stored(backup_id, directory, prefix, False)

    def _read_object(self, family: str, path: Path, backup_id: str) -> dict[str, Any]:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InvalidBackup(f"{path.name} is missing", backup_id=backup_id) from None
        return self._families[family].load(raw).data

    def _load(self, backup: Backup | str) -> _Loaded:
        """Find a backup and read its metadata object: version, schema and entries checked."""
        stored = self._find(backup)
        if not stored.complete:
            raise InvalidBackup(
                f"{stored.metadata_name} is missing: the backup did not finish",
                backup_id=stored.backup_id,
                hint="delete it and back up again",
            )
        metadata = self._read_object(
            "chunked-backup", stored.directory / stored.metadata_name, stored.backup_id
        )
        if metadata["backup_id"] != stored.backup_id:
            raise InvalidBackup(
                f"the metadata object belongs to backup {metadata['backup_id']!r}",
                backup_id=stored.backup_id,
                path='$["backup_id"]',
            )
        return _Loaded(stored, metadata, self._entries(metadata, stored.backup_id))

    @staticmethod
    def _entries(
        metadata: Mapping[str, Any], backup_id: str
    ) -> tuple[tuple[str, dict[str, Any]], ...]:
        out: list[tuple[str, dict[str, Any]]] = []
        seen: set[str] = set()
        for i, item in enumerate(metadata["objects"]):
            if len(item) != 1:
                raise InvalidBackup(
                    f"an objects entry must name exactly one object, found {len(item)}",
                    backup_id=backup_id,
                    path=json_path(["objects", i]),
                )
            ((name, entry),) = item.items()
            if name in seen:
                raise InvalidBackup(
                    f"object {name} is listed twice",
                    backup_id=backup_id,
                    path=json_path(["objects", i]),
                )
            seen.add(name)
            if compression_named(entry["compression"]) is None:
                raise InvalidBackup(
                    f"object {name} uses unknown compression {entry['compression']!r}",
                    backup_id=backup_id,
                    path=json_path(["objects", i, name, "compression"]),
                    hint="known: " + ", ".join(c.value for c in Compression),
                )
            out.append((name, entry))
        return tuple(out)

    @staticmethod
    def _check_listing(loaded: _Loaded) -> None:
        stored = sorted(loaded.stored.entries())
        listed = sorted(name for name, _ in loaded.objects)
        if stored != listed:
            missing = sorted(set(listed) - set(stored))
            extra = sorted(set(stored) - set(listed))
            detail = "; ".join(
                part
                for part in (
                    "missing: " + ", ".join(missing) if missing else "",
                    "not in the metadata: " + ", ".join(extra) if extra else "",
                )
                if part
            )
            raise InvalidBackup(
                f"the stored objects do not match the metadata's object list ({detail})",
                backup_id=loaded.backup_id,
                path='$["objects"]',
                hint="`docket volume verify` reports every problem",
            )

    def _chain(self, backup: Backup | str) -> list[_Loaded]:
        """The backup and its parents, newest first, each checked as restore needs."""
        chain: list[_Loaded] = []
        current: Backup | str | None = backup
        while current is not None:
            try:
                loaded = self._load(current)
            except BackupNotFound as err:
                if not chain:
                    raise
                raise BackupNotFound(
                    f"parent backup {err.backup_id} is not under {self.root}",
                    backup_id=chain[-1].backup_id,
                    path='$["parent_id"]',
                    hint="an incremental backup needs every backup it builds on",
                ) from None
            self._check_listing(loaded)
            if chain and loaded.metadata["volume_id"] != chain[-1].metadata["volume_id"]:
                raise InvalidBackup(
                    f"parent backup {loaded.backup_id} is of another volume "
                    f"({loaded.metadata['volume_id']})",
                    backup_id=chain[-1].backup_id,
                    path='$["parent_id"]',
                )
            if any(c.backup_id == loaded.backup_id for c in chain):
                raise InvalidBackup(
                    "the parent chain loops back to backup " + loaded.backup_id,
                    backup_id=chain[0].backup_id,
                )
            chain.append(loaded)
            current = loaded.parent_id
        return chain

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
        backup_id, directory = self._directory(backup)
        volume_id = backup.volume_id
        if not volume_id:
            raise DriverOptionError("a backup needs a volume id", backup_id=backup_id)
        if directory.exists() and any(directory.iterdir()):
            raise BackupError(
                f"{directory} already holds a backup",
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

        if isinstance(volume_file, str | os.PathLike):
            with open(volume_file, "rb", buffering=0) as fh:
                objects, total = self._store(
                    fh, directory, prefix, header, parent_shas, parent_end, backup_id, progress
                )
        else:
            objects, total = self._store(
                volume_file, directory, prefix, header, parent_shas, parent_end, backup_id, progress
            )
        metadata["objects"] = objects
        try:
            atomic_write(directory / (prefix + METADATA_SUFFIX), cinder_json(metadata))
            fsync_path(directory)
        except BaseException:
            self._remove_container(directory, backup_id)
            raise
        return backup.replace(
            container=str(directory.relative_to(self.root)),
            service_metadata=prefix,
            service=self.service,
            size=_gib(total),
            object_count=len(objects),
            status="available",
            created_at=_iso(now),
            data_timestamp=backup.data_timestamp or _iso(now),
        )

    def _parent(self, backup: Backup, volume_id: str) -> tuple[list[bytes] | None, int]:
        """The parent's SHA-256 list and volume size, checked (``None`` for a full backup)."""
        if backup.parent_id is None:
            return None, 0
        parent_chain = self._chain(_check_id(backup.parent_id, "parent id"))
        parent = parent_chain[0]
        if parent.metadata["volume_id"] != volume_id:
            raise BackupError(
                f"parent backup {parent.backup_id} is of volume {parent.metadata['volume_id']}",
                backup_id=backup.id,
                hint="an incremental backup builds on a backup of the same volume",
            )
        shafile = self._read_object(
            "chunked-sha256",
            parent.stored.directory / parent.stored.sha256_name,
            parent.backup_id,
        )
        if shafile["chunk_size"] != self.sha_block_size:
            raise DriverOptionError(
                f"the parent used SHA blocks of {shafile['chunk_size']} bytes, this driver "
                f"{self.sha_block_size}",
                backup_id=backup.id,
                hint="configure the same sha_block_size as the parent backup",
            )
        return [bytes.fromhex(h) for h in shafile["sha256s"]], max(c.end() for c in parent_chain)

    def _store(
        self,
        fh: IO[bytes],
        directory: Path,
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
        directory.mkdir(parents=True, exist_ok=True)
        sha = Sha256FileWriter(
            directory / (prefix + SHA256_SUFFIX),
            {**header, "chunk_size": self.sha_block_size, "version": FORMAT_VERSION},
        )
        try:
            # Each finished object is flushed to disk in the background while the next one is
            # read and hashed; all must be on disk before the metadata objects are written.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-fsync") as syncer:
                flushing: list[Future[None]] = []
                objects = self._write_objects(
                    fh,
                    directory,
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
            self._remove_container(directory, backup_id)
            raise
        return objects, total

    def _write_objects(
        self,
        fh: IO[bytes],
        directory: Path,
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
            # A full backup knows each chunk's length; zstd records it in the frame.
            size = min(cs, total - at) if parent_shas is None and total > at else None
            return ObjectWriter(directory, name, at, self.compression, size=size)

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

    def _remove_container(self, directory: Path, backup_id: str) -> None:
        """Remove what a failed or deleted backup left; an empty container goes too."""
        if not directory.is_dir():
            return
        mark = f"_backup_{backup_id}"
        for name in os.listdir(directory):
            if mark in name and (name.startswith("volume_") or name.startswith(TEMP_PREFIX)):
                (directory / name).unlink(missing_ok=True)
        here = directory
        while here != self.root and here.is_relative_to(self.root):
            try:
                here.rmdir()
            except OSError:
                break
            here = here.parent

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
        With ``volume_id`` and a metadata API, each backup's volume metadata is restored too.
        """
        chain = list(reversed(self._chain(backup)))
        size = max(c.end() for c in chain)
        work = _Restore(chain, size, progress)
        if not isinstance(volume_file, str | os.PathLike):
            work.write(volume_file, sparse=False)
            _truncate_regular(volume_file, size)
            return self._report(work, volume_id)
        # Through a symlink, restore what it points at rather than replace the link.
        target = Path(os.path.realpath(volume_file))
        if target.exists() and not target.is_file():
            with open(target, "r+b") as out:
                available = volume_size(out)
                if available < size:
                    raise InvalidBackup(
                        f"{target} has {available} bytes; the backup needs {size}",
                        backup_id=chain[-1].backup_id,
                        hint="restore onto a volume at least as large as the backed-up one",
                    )
                work.write(out, sparse=False)
                out.flush()
                os.fsync(out.fileno())
            return self._report(work, volume_id)
        tmp = temp_path(target)
        try:
            with open(tmp, "wb") as out:
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

    def _report(self, work: _Restore, volume_id: str | None) -> RestoreReport:
        results: list[tuple[str, Any]] = []
        skipped: list[str] = []
        for loaded in work.chain:
            volume_meta = loaded.metadata.get("volume_meta")
            if not volume_meta:
                continue
            if volume_id is None or self.metadata_api is None:
                skipped.append(loaded.backup_id)
                continue
            results.append((loaded.backup_id, self.put_metadata(volume_id, volume_meta)))
        return RestoreReport(
            backup_id=work.chain[-1].backup_id,
            chain=tuple(c.backup_id for c in work.chain),
            size=work.size,
            written=work.done,
            metadata=tuple(results),
            metadata_skipped=tuple(skipped),
        )

    # --- delete ---------------------------------------------------------------------------

    def delete(self, backup: Backup | str) -> None:
        """Delete a backup's objects (a partial backup's too) and its empty container.

        Refused while another backup under the root names it as its parent.
        """
        stored = self._find(backup)
        children = sorted(self._children(stored.backup_id))
        if children:
            raise BackupError(
                "incremental backups build on it: " + ", ".join(children),
                backup_id=stored.backup_id,
                hint="delete those first",
            )
        # The metadata object goes first: if deleting stops half-way, what is left is a
        # partial backup, which never passes verify.
        (stored.directory / stored.metadata_name).unlink(missing_ok=True)
        self._remove_container(stored.directory, stored.backup_id)

    def _children(self, backup_id: str) -> Iterator[str]:
        for path in self.root.glob(f"*/*/*/volume_*_backup_*{METADATA_SUFFIX}"):
            try:
                data = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("parent_id") == backup_id:
                yield str(data.get("backup_id"))

    # --- describing -----------------------------------------------------------------------

    def get_backup(self, backup_id: str) -> Backup:
        """The backup as a record describes it, rebuilt from its stored metadata object."""
        chain = self._chain(backup_id)
        top = chain[0]
        created = top.metadata.get("created_at")
        try:
            created_at = _iso(datetime.fromisoformat(created)) if created else None
        except ValueError:
            created_at = created
        return Backup(
            id=top.backup_id,
            volume_id=top.metadata["volume_id"],
            display_name=top.metadata.get("backup_name"),
            display_description=top.metadata.get("backup_description"),
            container=str(top.stored.directory.relative_to(self.root)),
            service_metadata=top.stored.prefix,
            service=self.service,
            parent_id=top.parent_id,
            size=_gib(max(c.end() for c in chain)),
            object_count=len(top.objects),
            status="available",
            created_at=created_at,
        )

    def export_record(self, backup: Backup | str, *, version: int | str | None = None) -> str:
        """A record for a backup object, or for a stored backup given by id."""
        if isinstance(backup, str):
            backup = self.get_backup(backup)
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
        top = self._find(backup)  # a wrong id is an error, not a finding
        problems: list[Problem] = []
        found: list[_Checked] = []
        current: Backup | str | None = backup
        while current is not None:
            child = found[-1].loaded.backup_id if found else top.backup_id
            try:
                stored = self._find(current)
            except BackupNotFound as err:
                problems.append(Problem(child, "parent", str(err)))
                break
            if any(f.loaded.backup_id == stored.backup_id for f in found):
                problems.append(Problem(child, "parent", "the parent chain loops"))
                break
            if not stored.complete:
                problems.append(
                    Problem(
                        stored.backup_id,
                        "partial",
                        f"{stored.metadata_name} is missing: the backup did not finish",
                    )
                )
                break
            try:
                loaded = self._load(current)
            except DocketError as err:
                problems.append(
                    Problem(stored.backup_id, "metadata", str(err), stored.metadata_name)
                )
                break
            checked = _Checked(loaded)
            try:
                shafile = self._read_object(
                    "chunked-sha256", stored.directory / stored.sha256_name, stored.backup_id
                )
                if shafile["backup_id"] != stored.backup_id:
                    raise InvalidBackup(
                        f"the sha256file belongs to backup {shafile['backup_id']!r}",
                        path='$["backup_id"]',
                    )
                checked = _Checked(loaded, shafile["sha256s"], shafile["chunk_size"])
            except DocketError as err:
                problems.append(Problem(stored.backup_id, "sha256", str(err), stored.sha256_name))
            found.append(checked)
            current = loaded.parent_id

        total = sum(e["length"] for f in found for _, e in f.loaded.objects)
        check = _Verify(total, progress)
        for i, checked in enumerate(found):
            parent = found[i + 1] if i + 1 < len(found) else None
            check.backup(checked, parent)
        return VerifyReport(
            backup_id=top.backup_id,
            chain=tuple(f.loaded.backup_id for f in found),
            problems=tuple(problems + check.problems),
            objects=check.objects,
            blocks=check.blocks,
        )


@dataclass(frozen=True)
class _Checked:
    """A backup verify is checking, with its SHA-256 list when that could be read."""

    loaded: _Loaded
    shas: list[str] | None = None
    block_size: int = DEFAULT_SHA_BLOCK_SIZE


def _truncate_regular(fh: IO[bytes], size: int) -> None:
    try:
        regular = stat.S_ISREG(os.fstat(fh.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        regular = True  # an in-memory file behaves like a regular one
    if regular:
        fh.truncate(size)


class _Restore:
    """Writes a checked chain's objects onto an output, oldest backup first."""

    def __init__(self, chain: list[_Loaded], size: int, progress: Progress | None) -> None:
        self.chain = chain
        self.size = size
        self.total = sum(e["length"] for c in chain for _, e in c.objects)
        self.done = 0
        self.progress = progress

    def write(self, out: IO[bytes], *, sparse: bool) -> None:
        """``sparse``: ``out`` is new and empty, so the full backup's zeros can be skipped."""
        for layer, loaded in enumerate(self.chain):
            for name, entry in loaded.objects:
                self._object(out, loaded, name, entry, skip_zeros=sparse and layer == 0)

    def _object(
        self,
        out: IO[bytes],
        loaded: _Loaded,
        name: str,
        entry: Mapping[str, Any],
        *,
        skip_zeros: bool,
    ) -> None:
        length = entry["length"]
        compression = compression_named(entry["compression"])
        assert compression is not None  # checked when the metadata was loaded
        md5 = hashlib.md5(usedforsecurity=False)
        seen = 0
        out.seek(entry["offset"])
        try:
            with open(loaded.stored.directory / name, "rb") as fh:
                for piece in object_pieces(fh, compression, length):
                    seen += len(piece)
                    if seen > length:
                        raise _damaged(loaded, name, f"holds more than its {length} bytes")
                    md5.update(piece)
                    if skip_zeros and piece == (
                        _ZERO if len(piece) == PIECE else bytes(len(piece))
                    ):
                        out.seek(len(piece), os.SEEK_CUR)
                    else:
                        out.write(piece)
                    self.done += len(piece)
                    if self.progress is not None:
                        self.progress(self.done, self.total)
        except ObjectDamaged as err:
            raise _damaged(loaded, name, f"cannot be decompressed ({err})") from None
        if seen < length:
            raise _damaged(loaded, name, f"is truncated: {seen} of {length} bytes")
        if md5.hexdigest() != entry["md5"]:
            raise _damaged(loaded, name, "does not match its MD5")


def _damaged(loaded: _Loaded, name: str, what: str) -> InvalidBackup:
    return InvalidBackup(
        f"object {name} {what}; nothing was restored onto a new or regular-file target",
        backup_id=loaded.backup_id,
        hint="`docket volume verify` lists every damaged object",
    )


class _Verify:
    """Reads every object of a chain and collects what does not match."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.progress = progress
        self.done = 0
        self.objects = 0
        self.blocks = 0
        self.problems: list[Problem] = []

    def _add(self, loaded: _Loaded, kind: str, message: str, obj: str | None = None) -> None:
        self.problems.append(Problem(loaded.backup_id, kind, message, obj))

    def backup(self, checked: _Checked, parent: _Checked | None) -> None:
        loaded, shas, block_size = checked.loaded, checked.shas, checked.block_size
        has_parent = loaded.parent_id is not None
        stored = set(loaded.stored.entries())
        listed = {name for name, _ in loaded.objects}
        for name in sorted(stored - listed):
            self._add(loaded, "unexpected", "stored but not in the metadata's object list", name)
        for name, entry in loaded.objects:
            if name not in stored:
                self._add(loaded, "missing", "listed in the metadata but not stored", name)
                continue
            self._object(loaded, name, entry, shas, block_size)
        if shas is None:
            return
        # A listed object accounts for its blocks even when it is missing or damaged: that is
        # reported once, as the object's own problem.
        covered = bytearray(len(shas))
        for _, entry in loaded.objects:
            if entry["offset"] % block_size == 0:
                first = entry["offset"] // block_size
                last = min(-(-(entry["offset"] + entry["length"]) // block_size), len(shas))
                covered[first:last] = b"\x01" * max(0, last - first)
        end = loaded.end()
        if not has_parent and len(shas) != -(-end // block_size):
            self._add(
                loaded,
                "sha256",
                f"the sha256file lists {len(shas)} blocks; the objects hold "
                f"{-(-end // block_size)}",
                loaded.stored.sha256_name,
            )
        gaps = [i for i in range(len(shas)) if not covered[i]]
        if not has_parent:
            if gaps:
                self._add(
                    loaded,
                    "metadata",
                    f"{len(gaps)} block(s) are in no object, first block {gaps[0]} "
                    f"(offset {gaps[0] * block_size})",
                )
            return
        if parent is None or parent.shas is None:
            return  # the parent's own problem is already reported
        parent_shas = parent.shas
        changed = [i for i in gaps if i >= len(parent_shas) or parent_shas[i] != shas[i]]
        if changed:
            self._add(
                loaded,
                "sha256",
                f"{len(changed)} block(s) are neither stored nor unchanged from the parent, "
                f"first block {changed[0]} (offset {changed[0] * block_size})",
                loaded.stored.sha256_name,
            )

    def _object(
        self,
        loaded: _Loaded,
        name: str,
        entry: Mapping[str, Any],
        shas: list[str] | None,
        block_size: int,
    ) -> None:
        self.objects += 1
        offset, length = entry["offset"], entry["length"]
        compression = compression_named(entry["compression"])
        assert compression is not None
        aligned = offset % block_size == 0
        if not aligned:
            self._add(loaded, "metadata", f"offset {offset} is not on a SHA block edge", name)
        md5 = hashlib.md5(usedforsecurity=False)
        seen = 0
        pending = bytearray()
        digests: list[bytes] = []
        damaged: str | None = None
        try:
            with open(loaded.stored.directory / name, "rb") as fh:
                for piece in object_pieces(fh, compression, length):
                    seen += len(piece)
                    if seen > length:
                        damaged = f"holds more than its {length} bytes"
                        break
                    md5.update(piece)
                    self.done += len(piece)
                    if aligned and shas is not None:
                        pending += piece
                        whole = len(pending) // block_size * block_size
                        view = memoryview(pending)
                        for at in range(0, whole, block_size):
                            digests.append(hashlib.sha256(view[at : at + block_size]).digest())
                        view.release()
                        del pending[:whole]
                    if self.progress is not None:
                        self.progress(self.done, self.total)
        except ObjectDamaged as err:
            damaged = f"cannot be decompressed ({err})"
        except OSError as err:
            damaged = f"cannot be read ({err.strerror})"
        if damaged is not None:
            self._add(loaded, "altered", damaged, name)
            return
        if seen < length:
            self._add(loaded, "truncated", f"holds {seen} of its {length} bytes", name)
            return
        if md5.hexdigest() != entry["md5"]:
            self._add(loaded, "altered", "its bytes do not match the recorded MD5", name)
            return
        if not aligned or shas is None:
            return
        if pending:
            digests.append(hashlib.sha256(pending).digest())
        first = offset // block_size
        bad = []
        for k, digest in enumerate(digests):
            index = first + k
            self.blocks += 1
            if index >= len(shas):
                bad.append(index)
                continue
            if shas[index] != digest.hex():
                bad.append(index)
        if bad:
            self._add(
                loaded,
                "sha256",
                f"{len(bad)} block(s) of {name} do not match the sha256file, first block "
                f"{bad[0]} (offset {bad[0] * block_size})",
                loaded.stored.sha256_name,
            )
