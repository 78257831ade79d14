"""Where the POSIX driver's backups are on disk, and reading what their metadata objects say.

Each backup has a directory under the backup root, ``<id[0:2]>/<id[2:4]>/<id>`` by default.
Cinder's backup record keeps that path relative to the root in its ``container`` field, the
only place the word keeps Cinder's meaning; everywhere else in the driver it is the backup
directory, never to be confused with a docket :class:`~docket.core.family.Container`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from docket.backup._chunks import TEMP_PREFIX, Compression, compression_named
from docket.backup._model import Backup
from docket.core.errors import BackupNotFound, DriverOptionError, InvalidBackup
from docket.core.family import Family

DEFAULT_SHA_BLOCK_SIZE = 32768
FORMAT_VERSION = "1.0.0"
METADATA_SUFFIX = "_metadata"
SHA256_SUFFIX = "_sha256file"

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

Entries = tuple[tuple[str, dict[str, Any]], ...]
"""A metadata object's ``objects`` list: (object name, entry), in the order listed."""


def check_id(backup_id: str, what: str = "backup id") -> str:
    """``backup_id`` when it is one path-safe name; :class:`DriverOptionError` otherwise."""
    if not isinstance(backup_id, str) or not _SAFE_ID.match(backup_id):
        raise DriverOptionError(
            f"{what} {backup_id!r} is not one path-safe name",
            hint="use letters, digits, '_', '.' and '-' (Cinder uses UUIDs)",
        )
    return backup_id


def backup_dir_for(backup_id: str) -> str:
    """A backup's directory relative to the root, as Cinder lays it out: ``ab/cd/abcd...``."""
    check_id(backup_id)
    return f"{backup_id[0:2]}/{backup_id[2:4]}/{backup_id}"


@dataclass(frozen=True)
class StoredBackup:
    """Where one backup's objects are."""

    backup_id: str
    backup_dir: Path
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
            for name in os.listdir(self.backup_dir)
            if name.startswith(self.prefix) and name not in skip
        )


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


class BackupRoot:
    """The backups under one root: finding them, reading their metadata, removing them.

    ``family`` gives the driver's ``chunked-backup`` and ``chunked-sha256`` families by name;
    it is called only when an object is read, so finding or deleting loads no registry.
    """

    def __init__(self, root: Path, family: Callable[[str], Family]) -> None:
        self.root = root
        self._family = family

    def locate(self, backup: Backup | str) -> tuple[str, Path]:
        """The backup's id and directory: its record's ``container`` field, or the default."""
        backup_id = check_id(backup if isinstance(backup, str) else backup.id)
        recorded = backup.container if isinstance(backup, Backup) else None
        if not recorded:
            return backup_id, self.root / backup_dir_for(backup_id)
        relative = PurePosixPath(recorded)
        if relative.is_absolute() or ".." in relative.parts:
            raise InvalidBackup(
                f"container {recorded!r} is not a path inside the backup root",
                backup_id=backup_id,
                path=("container",),
            )
        return backup_id, self.root / relative

    def find(self, backup: Backup | str) -> StoredBackup:
        """Where a backup's objects are, finished or not; :class:`BackupNotFound` if nowhere."""
        backup_id, backup_dir = self.locate(backup)
        if not backup_dir.is_dir():
            raise BackupNotFound(
                f"no backup under {self.root} (looked in {backup_dir})",
                backup_id=backup_id,
                hint="check the backup id and --root",
            )
        names = os.listdir(backup_dir)
        prefix = backup.service_metadata if isinstance(backup, Backup) else None
        if prefix:
            if "/" in prefix or prefix.startswith(TEMP_PREFIX):
                raise InvalidBackup(
                    f"object prefix {prefix!r} is not a name inside the backup directory",
                    backup_id=backup_id,
                    path=("service_metadata",),
                )
            return StoredBackup(backup_id, backup_dir, prefix, prefix + METADATA_SUFFIX in names)
        tail = f"_backup_{backup_id}{METADATA_SUFFIX}"
        found = sorted(n for n in names if n.startswith("volume_") and n.endswith(tail))
        if len(found) > 1:
            raise InvalidBackup(
                "the backup directory holds several metadata objects: " + ", ".join(found),
                backup_id=backup_id,
            )
        if found:
            return StoredBackup(backup_id, backup_dir, found[0][: -len(METADATA_SUFFIX)], True)
        # No metadata object: the backup never finished. Name its prefix from what is there.
        pattern = re.compile(rf"^(volume_.+_backup_{re.escape(backup_id)})(-\d+|{SHA256_SUFFIX})$")
        guesses = sorted({m.group(1) for n in names if (m := pattern.match(n))})
        prefix = guesses[0] if guesses else f"volume_?_backup_{backup_id}"
        return StoredBackup(backup_id, backup_dir, prefix, False)

    def read_object(self, family: str, path: Path, backup_id: str) -> dict[str, Any]:
        """A metadata or SHA-256 object, loaded and checked by its family."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InvalidBackup(f"{path.name} is missing", backup_id=backup_id) from None
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
        metadata = self.read_object(
            "chunked-backup", stored.backup_dir / stored.metadata_name, stored.backup_id
        )
        if metadata["backup_id"] != stored.backup_id:
            raise InvalidBackup(
                f"the metadata object belongs to backup {metadata['backup_id']!r}",
                backup_id=stored.backup_id,
                path=("backup_id",),
            )
        return LoadedBackup(stored, metadata, _entries(metadata, stored.backup_id))

    def chain(self, backup: Backup | str) -> list[LoadedBackup]:
        """The backup and its parents, newest first, each checked as restore needs."""
        chain: list[LoadedBackup] = []
        current: Backup | str | None = backup
        while current is not None:
            try:
                loaded = self.load(current)
            except BackupNotFound as err:
                if not chain:
                    raise
                raise BackupNotFound(
                    f"parent backup {err.backup_id} is not under {self.root}",
                    backup_id=chain[-1].backup_id,
                    path=("parent_id",),
                    hint="an incremental backup needs every backup it builds on",
                ) from None
            _check_listing(loaded)
            if chain and loaded.metadata["volume_id"] != chain[-1].metadata["volume_id"]:
                raise InvalidBackup(
                    f"parent backup {loaded.backup_id} is of another volume "
                    f"({loaded.metadata['volume_id']})",
                    backup_id=chain[-1].backup_id,
                    path=("parent_id",),
                )
            if any(c.backup_id == loaded.backup_id for c in chain):
                raise InvalidBackup(
                    "the parent chain loops back to backup " + loaded.backup_id,
                    backup_id=chain[0].backup_id,
                )
            chain.append(loaded)
            current = loaded.parent_id
        return chain

    def children(self, backup_id: str) -> Iterator[str]:
        """The ids of the backups under the root that name ``backup_id`` as their parent."""
        for path in self.root.glob(f"*/*/*/volume_*_backup_*{METADATA_SUFFIX}"):
            try:
                data = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("parent_id") == backup_id:
                yield str(data.get("backup_id"))

    def remove(self, backup_dir: Path, backup_id: str) -> None:
        """Remove what a failed or deleted backup left; an empty backup directory goes too."""
        if not backup_dir.is_dir():
            return
        mark = f"_backup_{backup_id}"
        for name in os.listdir(backup_dir):
            if mark in name and (name.startswith("volume_") or name.startswith(TEMP_PREFIX)):
                (backup_dir / name).unlink(missing_ok=True)
        here = backup_dir
        while here != self.root and here.is_relative_to(self.root):
            try:
                here.rmdir()
            except OSError:
                break
            here = here.parent


def _entries(metadata: Mapping[str, Any], backup_id: str) -> Entries:
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
        if name in seen:
            raise InvalidBackup(
                f"object {name} is listed twice",
                backup_id=backup_id,
                path=("objects", i),
            )
        seen.add(name)
        if compression_named(entry["compression"]) is None:
            raise InvalidBackup(
                f"object {name} uses unknown compression {entry['compression']!r}",
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
