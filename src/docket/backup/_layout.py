"""Where the POSIX driver's backups are on disk, and reading what their metadata objects say.

Each backup has a directory under the backup root, ``<id[0:2]>/<id[2:4]>/<id>`` by default.
Cinder's backup record keeps that path relative to the root in its ``container`` field, the
only place the word keeps Cinder's meaning; everywhere else in the driver it is the backup
directory, never to be confused with a docket :class:`~docket.core.family.Container`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from docket import fs
from docket.backup._chunks import Compression, compression_named
from docket.backup._model import Backup
from docket.backup._seal import check_seal, sha256file_digest
from docket.backup._shalist import Split, read_sha256file
from docket.backup._walk import layout_dirs, legacy_dir
from docket.backup.errors import BackupNotFound, InvalidBackup
from docket.backup.store import ObjectStore, all_objects
from docket.core.errors import (
    BackupError,
    DriverOptionError,
    FileTooLarge,
    UnsafeFile,
    show,
)
from docket.core.family import Family
from docket.fs import TEMP_PREFIX

DEFAULT_SHA_BLOCK_SIZE = 32768
GIB = 1 << 30
FORMAT_VERSION = "1.0.0"
METADATA_SUFFIX = "_metadata"
SHA256_SUFFIX = "_sha256file"

# fullmatch, not ``$``: in Python ``$`` also matches before a trailing newline ("x\n").
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_MAX_ID = 255

MIN_SHA_BLOCK_SIZE = 512
MAX_SHA_BLOCK_SIZE = 64 << 20
"""SHA block sizes a stored backup may declare: each block is hashed whole in memory, and
one hash is kept per block (Cinder uses 32768)."""
MAX_VOLUME_SIZE = 1 << 50
"""No object may reach past 1 PiB of volume: a larger offset or length is not a volume."""
METADATA_BASE_LIMIT = 17 << 20
"""Bytes a ``_metadata`` object may have before its objects list: the volume metadata
container inside it is at most 16 MiB (the container limit), plus the header."""
METADATA_PER_OBJECT = 1024
"""Bytes of ``_metadata`` allowed per data object stored beside it (an entry is ~150)."""
SHA256_BASE_LIMIT = 64 << 10
SHA256_PER_BLOCK = 80
"""Bytes of ``_sha256file`` per SHA block of the volume (a hash line is 72)."""

Entries = tuple[tuple[str, dict[str, Any]], ...]
"""A metadata object's ``objects`` list: (object name, entry), in the order listed."""


def safe_id(value: object) -> bool:
    """Whether ``value`` is one path-safe name: letters, digits, ``_``, ``.``, ``-``, not
    starting with a punctuation mark, at most 255 characters (no control characters)."""
    return (
        isinstance(value, str) and len(value) <= _MAX_ID and _SAFE_ID.fullmatch(value) is not None
    )


def check_id(backup_id: str, what: str = "backup id") -> str:
    """``backup_id`` when it is one path-safe name; :class:`DriverOptionError` otherwise
    (for ids the user gives: a usage error)."""
    if not safe_id(backup_id):
        raise DriverOptionError(
            f"{what} {show(backup_id)} is not one path-safe name",
            hint="use letters, digits, '_', '.' and '-' (Cinder uses UUIDs)",
        )
    return backup_id


def check_stored_id(value: object, what: str, backup_id: str | None, path: str) -> str:
    """An id read from a record or a stored object: :class:`InvalidBackup` when it is not one
    path-safe name (bad stored data, not a usage error)."""
    if not safe_id(value):
        raise InvalidBackup(
            f"{what} {show(value)} is not one path-safe name",
            backup_id=backup_id,
            path=(path,),
            hint="the record or metadata object was altered",
        )
    assert isinstance(value, str)
    return value


def own_objects(backup_id: str) -> re.Pattern[str]:
    """The names of a backup's own files in its directory: ``volume_<...>_backup_<id>`` with
    its ``-NNNNN``, ``_metadata`` or ``_sha256file`` ending, or such a name's temporary file
    (``.<name>.<hex>.part``); never a file of a backup whose id merely starts with ``id``."""
    return re.compile(
        rf"^(?:{re.escape(TEMP_PREFIX)})?volume_[^/]*_backup_{re.escape(backup_id)}"
        rf"{_OBJECT_TAIL}$"
    )


_OBJECT_TAIL = rf"(?:-[0-9]+|{METADATA_SUFFIX}|{SHA256_SUFFIX})(?:\.[0-9a-f]+\.part)?"
ANY_OBJECT = re.compile(
    rf"^(?:{re.escape(TEMP_PREFIX)})?volume_[^/]*_backup_[A-Za-z0-9][A-Za-z0-9_.-]*{_OBJECT_TAIL}$"
)
"""The name of any backup's file (a shared directory holds several backups' files)."""
_PREFIX = re.compile(r"^volume_(?P<volume>.+)_[0-9]{14}_backup_")


def volume_of_prefix(prefix: str) -> str | None:
    """The volume id in an object prefix, ``volume_<volume id>_<YYYYmmddHHMMSS>_backup_<id>``."""
    found = _PREFIX.match(prefix)
    return found.group("volume") if found else None


def _check_named_volume(loaded: LoadedBackup) -> None:
    """Refuse a backup whose objects are named for another volume than its metadata object
    names: another volume's backup (or child of one) passed off as this volume's."""
    named = volume_of_prefix(loaded.stored.prefix)
    claimed = loaded.metadata["volume_id"]
    if named is not None and named != claimed:
        raise InvalidBackup(
            f"its objects are named for volume {show(named)}, its metadata object says "
            f"volume {show(claimed)}",
            backup_id=loaded.backup_id,
            path=("volume_id",),
            hint="the backup was altered, or is another volume's: nothing was restored",
        )


def iso_utc(moment: datetime) -> str:
    """A time as records write it: ``YYYY-mm-ddTHH:MM:SS.ffffffZ``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_time(created: object) -> str | None:
    """A metadata object's ``created_at`` (``str(datetime)``) as a record writes it; text
    that is not a time is kept as it is."""
    if not created or not isinstance(created, str):
        return None
    try:
        return iso_utc(datetime.fromisoformat(created))
    except ValueError:
        return created


def gib(size: int) -> int:
    """Bytes as whole GiB, rounded up (a record's ``size``)."""
    return -(-size // GIB)


def check_prefix(backup: Backup | str, backup_id: str) -> str | None:
    """The object prefix a record gives (its ``service_metadata``), if any, once checked.

    Cinder's prefix is ``volume_<volume id>_<time>_backup_<backup id>``: a record naming
    another backup's objects (to delete or restore them) is :class:`InvalidBackup`.
    """
    prefix = backup.service_metadata if isinstance(backup, Backup) else None
    if not prefix:
        return None
    if (
        not isinstance(prefix, str)
        or not safe_id(prefix)
        or not prefix.startswith("volume_")
        or not prefix.endswith(f"_backup_{backup_id}")
    ):
        raise InvalidBackup(
            f"object prefix {show(prefix)} is not a name inside the backup directory "
            f"for this backup (volume_<volume id>_<time>_backup_{backup_id})",
            backup_id=backup_id,
            path=("service_metadata",),
        )
    return prefix


def backup_dir_for(backup_id: str) -> str:
    """A backup's directory relative to the root, as Cinder lays it out: ``ab/cd/abcd...``,
    and ``b1/b1`` for ``b1`` (Cinder's ``os.path.join`` drops the empty ``id[2:4]``)."""
    check_id(backup_id)
    return "/".join(part for part in (backup_id[0:2], backup_id[2:4], backup_id) if part)


def default_container(backup_id: str, error: type[BackupError]) -> str:
    """:func:`backup_dir_for`, or ``error`` naming the id when Cinder's layout makes no
    directory of it (``ab-cd`` would need ``ab/-c``: no name starts with punctuation)."""
    container = backup_dir_for(backup_id)
    middle = backup_id[2:4]
    if middle and not safe_id(middle):
        raise error(
            f"backup id {show(backup_id)} has no directory in Cinder's layout "
            f"({backup_id[0:2]}/{middle}/{backup_id}): {show(middle)}, its third and fourth "
            "characters, would be a directory name starting with punctuation",
            backup_id=backup_id,
            path=("id",) if error is InvalidBackup else (),
            hint="use an id whose third character is a letter or digit (Cinder uses UUIDs)",
        )
    return container


@dataclass(frozen=True)
class StoredBackup:
    """Where one backup's objects are: a container of a store, and their common prefix."""

    backup_id: str
    container: str
    prefix: str
    complete: bool
    """Whether the metadata object exists (a backup without one did not finish)."""
    backups: Backups | None = field(default=None, compare=False, repr=False)
    """The backups it was found among, which read its objects (None: names only)."""

    @property
    def metadata_name(self) -> str:
        return self.prefix + METADATA_SUFFIX

    @property
    def sha256_name(self) -> str:
        return self.prefix + SHA256_SUFFIX

    def _reader(self) -> Backups:
        assert self.backups is not None, "a StoredBackup of names only reads no object"
        return self.backups

    def entries(self) -> list[str]:
        """The data objects present: names starting with the prefix (Cinder's listing).
        Whatever they are (a FIFO, a link): opening one is what refuses it."""
        skip = {self.metadata_name, self.sha256_name}
        names = self._reader().listing(self)
        return sorted(name for name in names if name.startswith(self.prefix) and name not in skip)

    def open_object(self, name: str) -> BinaryIO:
        """One of the backup's objects, opened for reading (on POSIX as a regular file: a
        FIFO, device, socket or symbolic link is :class:`UnsafeFile`); the caller closes it."""
        return self._reader().open_object(self, name)

    def read_object(self, name: str, limit: int) -> bytes:
        """One of the backup's objects, whole, refused (:class:`FileTooLarge`) past ``limit``
        bytes before it is read."""
        with self.open_object_bounded(name, limit) as fh:
            # In pieces: a hostile offset can make ``limit`` tens of GB for a small object.
            data = b"".join(fs.read_upto(fh.read, limit + 1))
        if len(data) > limit:
            raise FileTooLarge(name, "object", None, limit, backup_id=self.backup_id)
        return data

    def open_object_bounded(self, name: str, limit: int) -> BinaryIO:
        """:meth:`open_object`, refused (:class:`FileTooLarge`) past ``limit`` bytes."""
        return self._reader().open_object(self, name, limit=limit)


@contextlib.contextmanager
def _naming(backup_id: str) -> Iterator[None]:
    """A store's refusal (a link, a FIFO, too large) names the backup it was reading."""
    try:
        yield
    except (UnsafeFile, InvalidBackup) as err:
        if err.backup_id is None:
            err.backup_id = backup_id
        raise


@dataclass(frozen=True)
class LoadedBackup:
    """A backup whose metadata object was read and checked."""

    stored: StoredBackup
    metadata: dict[str, Any]
    objects: Entries

    @property
    def backup_id(self) -> str:
        return self.stored.backup_id

    @property
    def parent_id(self) -> str | None:
        return self.metadata.get("parent_id")

    def end(self) -> int:
        return max((e["offset"] + e["length"] for _, e in self.objects), default=0)

    def sha256_limit(self, end: int) -> int:
        """The most bytes the ``_sha256file`` of a volume of ``end`` bytes can need."""
        blocks = -(-end // MIN_SHA_BLOCK_SIZE)
        return SHA256_BASE_LIMIT + SHA256_PER_BLOCK * blocks


class Backups:
    """The backups in one object store: finding them, reading their metadata, SHA-256 and
    data objects, and walking a chain, through the store's protocol alone.

    ``family`` gives the driver's ``chunked-backup`` and ``chunked-sha256`` families by name;
    it is called only when an object is read, so finding or deleting loads no registry.
    """

    def __init__(
        self,
        store: ObjectStore,
        family: Callable[[str], Family],
        signing_key: bytes | None = None,
    ) -> None:
        self.store = store
        self._family = family
        self.signing_key = signing_key
        """With a key, a backup's object list and sha256file must carry its seal
        (:mod:`docket.backup._seal`), checked whenever the sha256file is read."""

    # --- what a store's catalog may say differently ---------------------------------------

    @property
    def place(self) -> str:
        """Where the backups are, in messages: ``under <root>`` for a POSIX root."""
        return "in the store"

    def names(self, container: str, backup_id: str) -> list[str]:
        """Every object name in a container (``FileNotFoundError`` when there is none)."""
        with _naming(backup_id):
            return all_objects(self.store, container)

    def listing(self, stored: StoredBackup) -> list[str]:
        """The names that may be a found backup's objects: its container's, by default (a
        store whose containers hold many backups lists by the backup's prefix)."""
        return self.names(stored.container, stored.backup_id)

    def object_name_ok(self, name: object) -> bool:
        """Whether a metadata object may list ``name`` as a data object: one path-safe
        name, not a temporary one (a store whose names hold ``/`` says otherwise)."""
        return flat_name_ok(name)

    def open_object(
        self, stored: StoredBackup, name: str, *, limit: int | None = None
    ) -> BinaryIO:
        """One of a backup's objects, opened through the store (bounded by ``limit``)."""
        with _naming(stored.backup_id):
            return self.store.open_object(stored.container, name, limit=limit)

    def not_found(self, backup_id: str, container: str) -> BackupNotFound:
        return BackupNotFound(
            f"no backup {self.place} (looked in container {container})",
            backup_id=backup_id,
            hint="check the backup id and where the store is",
        )

    def children(self, backup_id: str) -> Iterator[str]:
        """The ids of the backups that name ``backup_id`` as their parent, where the store
        can say: the protocol lists no containers, so none by default (Cinder's API refuses
        deleting a parent from its records, ``num_dependent_backups``)."""
        return iter(())

    # --- finding and reading --------------------------------------------------------------

    def container_of(self, backup: Backup | str) -> tuple[str, str]:
        """The backup's id and container: its record's ``container`` field, or the default.

        An id given as text is the user's (a bad one is :class:`DriverOptionError`); a
        :class:`Backup` comes from a record, whose bad id or container is
        :class:`InvalidBackup`. A container must be a relative path of path-safe names that
        is not another backup's default container.
        """
        if isinstance(backup, str):
            backup_id = check_id(backup)
            # No backup can be there: not found (as before), saying why.
            return backup_id, default_container(backup_id, BackupNotFound)
        backup_id = check_stored_id(backup.id, "backup id", None, "id")
        if backup.parent_id is not None:
            check_stored_id(backup.parent_id, "parent id", backup_id, "parent_id")
        recorded = backup.container
        if not recorded:
            return backup_id, default_container(backup_id, InvalidBackup)
        relative = PurePosixPath(recorded) if isinstance(recorded, str) else None
        if (
            relative is None
            or relative.is_absolute()
            or not relative.parts
            or not all(safe_id(part) for part in relative.parts)
        ):
            raise InvalidBackup(
                f"container {show(recorded)} is not a path inside the backup root",
                backup_id=backup_id,
                path=("container",),
                hint="a container is a relative path of path-safe names (Cinder: ab/cd/<id>)",
            )
        parts = relative.parts
        if (
            len(parts) == 3
            and parts[2] != backup_id
            and parts[0] == parts[2][0:2]
            and parts[1] == parts[2][2:4]
        ):
            raise InvalidBackup(
                f"container {show(recorded)} is the directory of backup {parts[2]}",
                backup_id=backup_id,
                path=("container",),
                hint="a record names only its own backup's directory",
            )
        return backup_id, relative.as_posix()

    def find(self, backup: Backup | str) -> StoredBackup:
        """Where a backup's objects are, finished or not; :class:`BackupNotFound` if nowhere."""
        backup_id, container = self.container_of(backup)
        try:
            names = self.names(container, backup_id)
        except (FileNotFoundError, NotADirectoryError):
            raise self.not_found(backup_id, container) from None
        prefix = check_prefix(backup, backup_id)
        if prefix:
            return StoredBackup(
                backup_id, container, prefix, prefix + METADATA_SUFFIX in names, self
            )
        tail = f"_backup_{backup_id}{METADATA_SUFFIX}"
        found = sorted(n for n in names if n.startswith("volume_") and n.endswith(tail))
        if len(found) > 1:
            raise InvalidBackup(
                "the backup directory holds several metadata objects: " + ", ".join(found),
                backup_id=backup_id,
            )
        if found:
            return StoredBackup(
                backup_id, container, found[0][: -len(METADATA_SUFFIX)], True, self
            )
        # No metadata object: the backup never finished. Name its prefix from what is there.
        own = re.compile(rf"^(volume_.+_backup_{re.escape(backup_id)})(-[0-9]+|{SHA256_SUFFIX})$")
        guesses = sorted({m.group(1) for n in names if (m := own.match(n))})
        prefix = guesses[0] if guesses else f"volume_?_backup_{backup_id}"
        return StoredBackup(backup_id, container, prefix, False, self)

    def read_object(
        self, family: str, stored: StoredBackup, name: str, *, limit: int | None = None
    ) -> dict[str, Any]:
        """A metadata or SHA-256 object of a found backup, loaded and checked by its family.

        The object is refused before it is read when it has more than ``limit`` bytes
        (default: what a metadata object beside the stored objects can need).
        """
        return self.decode(family, self._raw(stored, name, limit))

    def _raw(self, stored: StoredBackup, name: str, limit: int | None) -> bytes:
        if limit is None:
            count = len(self.listing(stored))
            limit = METADATA_BASE_LIMIT + METADATA_PER_OBJECT * count
        try:
            return stored.read_object(name, limit)
        except FileNotFoundError:
            raise self._missing(stored, name) from None

    @staticmethod
    def _split_sha256(stored: StoredBackup, name: str, limit: int) -> Split | None:
        """A sha256file read through as it streams in (:mod:`docket.backup._shalist`)."""
        with stored.open_object_bounded(name, limit) as fh:
            try:
                size = os.fstat(fh.fileno()).st_size
            except (AttributeError, OSError, ValueError):
                size = 0  # not a file: the packed list grows as it is read
            seen = 0

            def read(n: int) -> bytes:
                nonlocal seen
                piece = fh.read(n)
                seen += len(piece)
                if seen > limit:
                    raise FileTooLarge(name, "object", None, limit, backup_id=stored.backup_id)
                return piece

            return read_sha256file(read, size)

    @staticmethod
    def _missing(stored: StoredBackup, name: str) -> InvalidBackup:
        return InvalidBackup(f"{name} is missing", backup_id=stored.backup_id)

    def decode(self, family: str, raw: bytes) -> dict[str, Any]:
        """A metadata or SHA-256 object's bytes, loaded and checked by its family (a store
        whose names the released schema does not admit overrides this)."""
        return self._family(family).load(raw).data

    def load(self, backup: Backup | str) -> LoadedBackup:
        """Find a backup and read its metadata object: version, schema and entries checked."""
        stored = self.find(backup)
        if not stored.complete:
            raise InvalidBackup(
                f"{stored.metadata_name} is missing: the backup did not finish",
                backup_id=stored.backup_id,
                hint="delete it and back up again",
            )
        metadata = self.read_object("chunked-backup", stored, stored.metadata_name)
        if metadata["backup_id"] != stored.backup_id:
            raise InvalidBackup(
                f"the metadata object belongs to backup {show(metadata['backup_id'])}",
                backup_id=stored.backup_id,
                path=("backup_id",),
            )
        if metadata.get("parent_id") is not None:
            check_stored_id(metadata["parent_id"], "parent id", stored.backup_id, "parent_id")
        if isinstance(backup, Backup):
            # A record's claims must agree with the backup's own metadata.
            for field_name in ("volume_id", "parent_id"):
                claimed = getattr(backup, field_name)
                if claimed is not None and claimed != metadata.get(field_name):
                    raise InvalidBackup(
                        f"the record's {field_name} {show(claimed)} is not the backup's "
                        f"({show(metadata.get(field_name))})",
                        backup_id=stored.backup_id,
                        path=(field_name,),
                        hint="the record was altered or belongs to another backup",
                    )
        return LoadedBackup(
            stored, metadata, _entries(metadata, stored.backup_id, self.object_name_ok)
        )

    def sha256(self, loaded: LoadedBackup, end: int) -> tuple[bytes | bytearray, int]:
        """A loaded backup's SHA-256 list, packed (32 bytes a block), and its block size, for
        a volume of ``end`` bytes.

        The object is refused before reading when it is larger than such a volume's list can
        be, and its block size must be within the sane bounds. The list is packed as it is
        read (:mod:`docket.backup._shalist`); the rest of the object is checked by its family.
        """
        stored = loaded.stored
        name, limit = stored.sha256_name, loaded.sha256_limit(end)
        family = self._family("chunked-sha256")
        try:
            split = self._split_sha256(stored, name, limit)
            raw = None if split is not None else stored.read_object(name, limit)
        except FileNotFoundError:
            raise self._missing(stored, name) from None
        if self.signing_key is not None:
            # Before the list is used: what restore and verify compare against is sealed.
            digest = split.digest if split is not None else sha256file_digest(raw or b"")
            check_seal(loaded.metadata, digest, self.signing_key, stored.backup_id)
        packed: bytes | bytearray
        if split is None:  # not the usual form: the family reads it whole, or names the fault
            shafile = family.load(raw or b"").data
            packed = b"".join(bytes.fromhex(h) for h in shafile["sha256s"])
        else:
            shafile = family.load(split.header).data
            packed = split.packed
        if shafile["backup_id"] != stored.backup_id:
            raise InvalidBackup(
                f"the sha256file belongs to backup {show(shafile['backup_id'])}",
                backup_id=stored.backup_id,
                path=("backup_id",),
            )
        block_size = _whole(
            shafile["chunk_size"], "the SHA block size", stored.backup_id, ("chunk_size",)
        )
        if not MIN_SHA_BLOCK_SIZE <= block_size <= MAX_SHA_BLOCK_SIZE:
            raise InvalidBackup(
                f"SHA block size {block_size} is outside {MIN_SHA_BLOCK_SIZE}.."
                f"{MAX_SHA_BLOCK_SIZE} bytes",
                backup_id=stored.backup_id,
                path=("chunk_size",),
            )
        return packed, block_size

    def chain(self, backup: Backup | str) -> list[LoadedBackup]:
        """The backup and its parents, newest first, each checked as restore needs."""
        chain: list[LoadedBackup] = []
        seen: set[str] = set()
        current: Backup | str | None = backup
        while current is not None:
            try:
                loaded = self.load(current)
            except BackupNotFound as err:
                if not chain:
                    raise
                raise BackupNotFound(
                    f"parent backup {err.backup_id} is not {self.place}",
                    backup_id=chain[-1].backup_id,
                    path=("parent_id",),
                    hint="an incremental backup needs every backup it builds on",
                ) from None
            _check_listing(loaded)
            _check_named_volume(loaded)
            if chain and loaded.metadata["volume_id"] != chain[-1].metadata["volume_id"]:
                raise InvalidBackup(
                    f"parent backup {loaded.backup_id} is of another volume "
                    f"({loaded.metadata['volume_id']})",
                    backup_id=chain[-1].backup_id,
                    path=("parent_id",),
                )
            if loaded.backup_id in seen:
                raise InvalidBackup(
                    "the parent chain loops back to backup " + loaded.backup_id,
                    backup_id=chain[0].backup_id,
                )
            chain.append(loaded)
            seen.add(loaded.backup_id)
            current = loaded.parent_id
        return chain


class BackupRoot(Backups):
    """The backups under one POSIX root (a :class:`~docket.backup.posix.PosixStore`'s).

    Objects are read through the store; a backup directory is listed whole, every entry
    (so that a directory posing as an object is refused when opened, not passed over), and
    reached from the root without following a link. Searching for children and removing
    what a backup left are directory walks.
    """

    def __init__(
        self,
        root: Path,
        store: ObjectStore,
        family: Callable[[str], Family],
        signing_key: bytes | None = None,
    ) -> None:
        super().__init__(store, family, signing_key)
        self.root = root

    @property
    def place(self) -> str:
        return f"under {self.root}"

    def locate(self, backup: Backup | str) -> tuple[str, Path]:
        """The backup's id and directory (see :meth:`Backups.container_of`)."""
        backup_id, container = self.container_of(backup)
        return backup_id, self.root / container

    @contextlib.contextmanager
    def directory(self, container: str, backup_id: str) -> Iterator[int]:
        """A descriptor of a backup directory, reached from the root without following links."""
        with fs.open_beneath(
            self.root, container, what="backup directory", backup_id=backup_id
        ) as fd:
            yield fd

    def names(self, container: str, backup_id: str) -> list[str]:
        with self.directory(container, backup_id) as fd:
            return [entry.name for entry in fs.scan_dir(fd)]

    def not_found(self, backup_id: str, container: str) -> BackupNotFound:
        return BackupNotFound(
            f"no backup under {self.root} (looked in {self.root / container})",
            backup_id=backup_id,
            hint="check the backup id and --root; `docket volume list --root DIR` "
            "lists the backups there",
        )

    def children(self, backup_id: str) -> Iterator[str]:
        """The ids of the backups under the root that name ``backup_id`` as their parent.

        Only backup directories of the layout are searched (three levels down, or ``<id>/<id>``
        for an id of one or two characters), never through a link, and only regular metadata
        files of bounded size are read.
        """
        if not self.root.is_dir():
            return
        for where, fd in layout_dirs(self.root):
            if not (legacy_dir(where) or (len(where.parts) == 3 and safe_id(where.name))):
                continue  # not a backup: what an interrupted delete left, say
            for entry in fs.scan_dir(fd):
                name = entry.name
                if not (
                    entry.regular and name.startswith("volume_") and name.endswith(METADATA_SUFFIX)
                ):
                    continue
                try:
                    raw = fs.read_bounded(
                        name, METADATA_BASE_LIMIT, what="metadata object", dir_fd=fd
                    )
                    data = json.loads(raw)
                except (OSError, ValueError, UnsafeFile):
                    continue
                if isinstance(data, dict) and data.get("parent_id") == backup_id:
                    yield str(data.get("backup_id"))

    def remove(self, backup_dir: Path, backup_id: str) -> None:
        """Remove what a failed or deleted backup left; an empty backup directory goes too.

        Only this backup's own objects go (``volume_<...>_backup_<id>`` and its ``-NNNNN``,
        ``_metadata`` and ``_sha256file`` objects, and their temporary files): not a file of
        a backup whose id merely starts with this one. A directory reached through a link
        is not touched.
        """
        own = own_objects(backup_id)
        try:
            with self.directory(backup_dir.relative_to(self.root).as_posix(), backup_id) as fd:
                for entry in fs.scan_dir(fd):
                    if own.match(entry.name) and not entry.directory:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.name, dir_fd=fd)
        except (FileNotFoundError, NotADirectoryError):
            return
        remove_empty_dirs(self.root, PurePosixPath(backup_dir.relative_to(self.root)))


def remove_empty_dirs(root: Path, parent: PurePosixPath) -> list[str]:
    """Remove ``parent`` and the directories above it, up to (not including) the root, while
    they are empty; each reached without following a link."""
    removed: list[str] = []
    here = parent
    while here.parts:
        try:
            with fs.open_beneath(root, here.parent, what="directory") as fd:
                os.rmdir(here.name, dir_fd=fd)
        except (OSError, UnsafeFile):
            break  # not empty (or not ours to touch): it stays
        removed.append(here.as_posix())
        here = here.parent
    return removed


def flat_name_ok(name: object) -> bool:
    """Whether ``name`` may be a data object of a POSIX backup: one path-safe name, not a
    temporary one."""
    return isinstance(name, str) and safe_id(name) and not name.startswith(TEMP_PREFIX)


def _whole(value: Any, what: str, backup_id: str, path: tuple[str | int, ...]) -> int:
    """A size the schema admitted as an integer: JSON Schema counts ``16384.0`` as one,
    Python does not (it would reach a slice or a read as a float). Cinder writes integers."""
    if type(value) is not int:
        raise InvalidBackup(
            f"{what} {show(value)} is not written as a whole number",
            backup_id=backup_id,
            path=path,
            hint="the metadata object or the sha256file was altered; nothing was written",
        )
    return value


def _entries(
    metadata: Mapping[str, Any],
    backup_id: str,
    name_ok: Callable[[object], bool] = flat_name_ok,
) -> Entries:
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for i, item in enumerate(metadata["objects"]):
        if len(item) != 1:
            raise InvalidBackup(
                f"an objects entry must name exactly one object, found {len(item)}",
                backup_id=backup_id,
                path=("objects", i),
            )
        ((name, entry),) = item.items()
        if not name_ok(name):
            raise InvalidBackup(
                f"object name {show(name)} is not a name inside the backup directory",
                backup_id=backup_id,
                path=("objects", i),
            )
        offset, length = (
            _whole(entry[key], f"object {name}'s {key}", backup_id, ("objects", i, name, key))
            for key in ("offset", "length")
        )
        if offset > MAX_VOLUME_SIZE or length > MAX_VOLUME_SIZE - offset:
            raise InvalidBackup(
                f"object {name} reaches past {MAX_VOLUME_SIZE} bytes of volume "
                f"(offset {offset}, length {length})",
                backup_id=backup_id,
                path=("objects", i, name),
            )
        if name in seen:
            raise InvalidBackup(
                f"object {name} is listed twice",
                backup_id=backup_id,
                path=("objects", i),
            )
        seen.add(name)
        if compression_named(entry["compression"]) is None:
            raise InvalidBackup(
                f"object {name} uses unknown compression {show(entry['compression'])}",
                backup_id=backup_id,
                path=("objects", i, name, "compression"),
                hint="known: " + ", ".join(c.value for c in Compression),
            )
        out.append((name, entry))
    return tuple(out)


def _check_listing(loaded: LoadedBackup) -> None:
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
            path=("objects",),
            hint="`docket volume verify` reports every problem",
        )
