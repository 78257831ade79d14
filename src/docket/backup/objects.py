"""Chunked backups in an object store's shared container, in the layout of Cinder's Swift and
S3 drivers: the base of :class:`~docket.backup.swift.SwiftBackupDriver` and
:class:`~docket.backup.s3.S3BackupDriver`, and of a store of your own.

Every backup lives in one flat container (``volumebackups`` by default), under a prefix kept
as its record's ``service_metadata``::

    volume_<volume id>/<UTC YYYYmmddHHMMSS>/az_<availability zone>_backup_<backup id>
    <prefix>-00001, -00002, ...   data objects (one per changed extent, for an incremental)
    <prefix>_sha256file
    <prefix>_metadata             written last

Listings are by prefix and in pages, and bounded (a listing that never ends is refused).
Nothing but a backup's own objects is ever written under its prefix: Cinder's restore
refuses a backup with one name more.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, BinaryIO, ClassVar, Concatenate, ParamSpec, TypeVar, Unpack

import orjson

from docket.backup import _threads
from docket.backup._catalog import Found, with_chains
from docket.backup._http import (
    MAX_LISTED,
    READ_PIECE,
    ReadAhead,
    check_container,
    check_object_name,
    check_page,
)
from docket.backup._layout import (
    METADATA_BASE_LIMIT,
    METADATA_SUFFIX,
    SHA256_SUFFIX,
    Backups,
    StoredBackup,
    check_id,
    check_stored_id,
    record_time,
)
from docket.backup._model import (
    Backup,
    BackupSummary,
    BasicMetadataAPI,
    DeleteReport,
    OnSkip,
)
from docket.backup.engine import ChunkedBackupDriver, EngineOptions
from docket.backup.errors import (
    BackupInUse,
    BackupNotFound,
    InvalidBackup,
    ListingTooLong,
)
from docket.backup.store import DEFAULT_PAGE, ObjectPage, ObjectStore
from docket.core.errors import BackupError, DocketError, show

__all__ = [
    "DEFAULT_AVAILABILITY_ZONE",
    "DEFAULT_CONTAINER",
    "DEFAULT_OBJECT_SIZE",
    "DEFAULT_SHA_BLOCK_SIZE",
    "ObjectStoreBackupDriver",
    "ObjectStoreBackups",
    "parse_object_name",
]

DEFAULT_CONTAINER = "volumebackups"
DEFAULT_OBJECT_SIZE = 52428800
DEFAULT_SHA_BLOCK_SIZE = 32768
DEFAULT_AVAILABILITY_ZONE = "nova"
"""Cinder's defaults: ``backup_swift_container``/``backup_s3_store_bucket``, the object and
SHA block sizes, and ``storage_availability_zone``."""

_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
# Digits are [0-9], never \d: \d matches every Unicode digit (Arabic-Indic, fullwidth...,
# which int() reads as ASCII ones), names Cinder never writes.
_AZ = r"[A-Za-z0-9_.:-]*"
_PREFIX = re.compile(
    rf"volume_(?P<volume>{_ID})/(?P<time>[0-9]{{14}})/az_{_AZ}_backup_(?P<id>{_ID})"
)
_STAND_IN = "\N{DIVISION SLASH}"
"""What stands in for ``/`` in a data object's name while the schema checks the rest."""
_TAIL = rf"(?:-[0-9]{{5,}}|{METADATA_SUFFIX}|{SHA256_SUFFIX})"
_DATA_OBJECT = re.compile(rf"{_PREFIX.pattern}-[0-9]{{5,}}")
_LISTINGS_KEPT = 64
"""Backups whose listing is kept to know which object comes next (a chain being restored)."""
_NUMBERED = re.compile(r"(?P<stem>.*)-(?P<n>[0-9]{5,})")
_ANY_OBJECT = re.compile(rf"(?P<prefix>{_PREFIX.pattern}){_TAIL}")


def _own_tail(prefix: str) -> re.Pattern[str]:
    """A backup's own objects: its prefix and one of the three endings, nothing else."""
    return re.compile(rf"{re.escape(prefix)}{_TAIL}")


class ObjectStoreBackups(Backups):
    """The backups in one shared container of an object store, found by prefix."""

    max_listed = MAX_LISTED
    """Names one listing may return in all before it is refused as endless."""

    def __init__(
        self,
        store: ObjectStore,
        family: Callable[[str], Any],
        container: str,
        place: str,
    ) -> None:
        super().__init__(store, family)
        self.container = container
        self._place = place
        self._listed: dict[tuple[str, str], frozenset[str]] = {}
        """The names a backup's listing gave, by (container, prefix): which objects exist
        to be asked for ahead."""
        self._ahead: dict[tuple[str, str], ReadAhead] = {}
        self._lock = _threads.lock()

    @property
    def place(self) -> str:
        return f"in {self._place}"

    def listed(self, container: str, prefix: str) -> list[str]:
        """Every name under ``prefix``, page by page, refused past :data:`MAX_LISTED`."""
        try:
            return [name for page in self.pages(container, prefix) for name in page]
        except FileNotFoundError:
            return []

    def pages(
        self, container: str, prefix: str = "", *, limit: int = DEFAULT_PAGE
    ) -> Iterator[tuple[str, ...]]:
        """The listing under ``prefix`` as it comes, a page at a time (only one is held).
        A page out of order or not after the last is :class:`ObjectStoreError`; past
        :attr:`max_listed` names in all, :class:`ListingTooLong` (a listing that never ends).
        A missing container is ``FileNotFoundError``."""
        for page in self.object_pages(container, prefix, limit=limit):
            yield page.names

    def object_pages(
        self, container: str, prefix: str = "", *, limit: int = DEFAULT_PAGE
    ) -> Iterator[ObjectPage]:
        """:meth:`pages`, each page whole: its names with their sizes where the store gives
        them (:meth:`ObjectPage.sized`)."""
        count = 0
        marker: str | None = None
        while True:
            page = self.store.list_objects(container, prefix, marker=marker, limit=limit)
            check_page(list(page.names), prefix, marker, f"{self._place} under {show(prefix)}")
            count += len(page.names)
            if count > self.max_listed:
                raise ListingTooLong(
                    f"the listing of {container} under {show(prefix)} passed "
                    f"{self.max_listed} names",
                    hint="a listing that never ends: the store is misbehaving (or raise the cap)",
                )
            yield page
            if page.marker is None or not page.names:
                return
            marker = page.marker

    def names(self, container: str, backup_id: str) -> list[str]:
        return self.listed(container, "volume_")

    def listing(self, stored: StoredBackup) -> list[str]:
        names = self.listed(stored.container, stored.prefix)
        with self._lock:
            self._listed.pop((stored.container, stored.prefix), None)
            self._listed[(stored.container, stored.prefix)] = frozenset(names)
            while len(self._listed) > _LISTINGS_KEPT:  # a long-lived service: the newest only
                del self._listed[next(iter(self._listed))]
        return names

    def open_object(self, stored: StoredBackup, name: str, *, limit: int | None = None) -> BinaryIO:
        """As in any store, but an object listed and then not found (a store that lost it,
        or one that lies) is :class:`InvalidBackup`, not a bare ``FileNotFoundError``.

        A data object read whole (no ``limit``: a restore or a verify) is read ahead on a
        thread of its own, and the next data object of the listing is asked for while this
        one is read: the network overlaps decompressing and checking. One object ahead at
        most, :data:`~docket.backup._http.READ_AHEAD` MiB each."""
        if limit is not None or not self.object_name_ok(name):
            return self._open(stored, name, limit)
        with self._lock:
            body = self._ahead.pop((stored.container, name), None)
            following = self._following(stored, name)
            for key in [k for k in self._ahead if k[1] != following]:
                self._ahead.pop(key).close()  # asked for ahead, then not read next
            if following is not None and (stored.container, following) not in self._ahead:
                self._ahead[(stored.container, following)] = self._read_ahead(stored, following)
        return io.BufferedReader(body or self._read_ahead(stored, name), READ_PIECE)

    def _following(self, stored: StoredBackup, name: str) -> str | None:
        match = _NUMBERED.fullmatch(name)
        if match is None:
            return None
        width = len(match.group("n"))
        following = f"{match.group('stem')}-{int(match.group('n')) + 1:0{width}d}"
        listed = self._listed.get((stored.container, stored.prefix), frozenset())
        return following if following in listed else None

    def _read_ahead(self, stored: StoredBackup, name: str) -> ReadAhead:
        return ReadAhead(functools.partial(self._open, stored, name, None))

    def close_ahead(self) -> None:
        """Drop what was asked for ahead and not read (a restore that stopped early)."""
        with self._lock:
            ahead, self._ahead = self._ahead, {}
            self._listed.clear()
        for body in ahead.values():
            body.close()

    def _open(self, stored: StoredBackup, name: str, limit: int | None) -> BinaryIO:
        try:
            return super().open_object(stored, name, limit=limit)
        except FileNotFoundError:
            raise InvalidBackup(
                f"object {name} is listed but cannot be read (404)",
                backup_id=stored.backup_id,
                hint="the store lost the object, or changed while it was read",
            ) from None

    def object_name_ok(self, name: object) -> bool:
        return isinstance(name, str) and _DATA_OBJECT.fullmatch(name) is not None

    def decode(self, family: str, raw: bytes) -> dict[str, Any]:
        """As on POSIX, but data object names hold ``/`` here, which the released
        ``chunked-backup`` 1.0.0 schema does not allow (it was written from the POSIX
        driver): the names are checked by :meth:`object_name_ok` and the rest of the
        document by the schema, with each name stood in for by one without ``/``."""
        if family != "chunked-backup":
            return super().decode(family, raw)
        try:
            document = orjson.loads(raw)
            items = document["objects"]
            names = [next(iter(item)) for item in items]
        except (orjson.JSONDecodeError, KeyError, TypeError, StopIteration):
            return super().decode(family, raw)  # the family says what is wrong with it
        if not all(isinstance(n, str) and "/" in n for n in names):
            return super().decode(family, raw)
        document["objects"] = [
            {n.replace("/", _STAND_IN): v for n, v in item.items()} for item in items
        ]
        data = super().decode(family, orjson.dumps(document))
        data["objects"] = [
            {n.replace(_STAND_IN, "/"): v for n, v in item.items()} for item in data["objects"]
        ]
        return data

    def container_of(self, backup: Backup | str) -> tuple[str, str]:
        """The backup's id and container: its record's ``container``, or the driver's."""
        if isinstance(backup, str):
            return check_id(backup), self.container
        backup_id = check_stored_id(backup.id, "backup id", None, "id")
        if backup.parent_id is not None:
            check_stored_id(backup.parent_id, "parent id", backup_id, "parent_id")
        if not backup.container:
            return backup_id, self.container
        try:
            return backup_id, check_container(backup.container)
        except DocketError:
            raise InvalidBackup(
                f"container {show(backup.container)} is not a container name",
                backup_id=backup_id,
                path=("container",),
            ) from None

    def find(self, backup: Backup | str) -> StoredBackup:
        backup_id, container = self.container_of(backup)
        prefix = record_prefix(backup, backup_id)
        if prefix is not None:
            names = self.listed(container, prefix)
            own = _own_tail(prefix)
            if not any(own.fullmatch(n) for n in names):
                raise self.not_found(backup_id, container)
            return StoredBackup(
                backup_id, container, prefix, prefix + METADATA_SUFFIX in names, self
            )
        # By id alone: search the container for its objects.
        prefixes = sorted(
            {
                m.group("prefix")
                for n in self.names(container, backup_id)
                if (m := _ANY_OBJECT.fullmatch(n)) and m.group("id") == backup_id
            }
        )
        if not prefixes:
            raise self.not_found(backup_id, container)
        if len(prefixes) > 1:
            raise InvalidBackup(
                "the container holds several backups of this id: " + ", ".join(prefixes),
                backup_id=backup_id,
                hint="name the backup by its record (export-record) to pick one",
            )
        found = self.listed(container, prefixes[0])
        return StoredBackup(
            backup_id, container, prefixes[0], prefixes[0] + METADATA_SUFFIX in found, self
        )

    def not_found(self, backup_id: str, container: str) -> BackupNotFound:
        try:
            self.store.list_objects(container, "", limit=1)
        except FileNotFoundError:
            # Not "no backup": a mistyped container (or another account) holds none at all.
            return BackupNotFound(
                f"no backup {self.place}: {self._absent(container)}",
                backup_id=backup_id,
                hint=_CONTAINER_HINT,
            )
        return BackupNotFound(
            f"no backup {self.place}",
            backup_id=backup_id,
            hint="check the backup id and the container; `docket volume list` lists them",
        )

    def _absent(self, container: str) -> str:
        return f"the {getattr(self.store, 'kind', 'container')} {show(container)} does not exist"

    def no_container(self, container: str) -> BackupError:
        """What listing a container that does not exist is: an error, as a backup root that
        does not exist is, not an empty list."""
        return BackupError(f"{self._place}: {self._absent(container)}", hint=_CONTAINER_HINT)

    def children_of(self, stored: StoredBackup) -> Iterator[str]:
        """The ids of the backups of the same volume that name this one as their parent."""
        volume = stored.prefix.split("/", 1)[0] + "/"
        for name in self.listed(stored.container, volume):
            match = _ANY_OBJECT.fullmatch(name)
            if match is None or not name.endswith(METADATA_SUFFIX):
                continue
            other = StoredBackup(
                match.group("id"), stored.container, match.group("prefix"), True, self
            )
            try:
                data = self.read_object(
                    "chunked-backup", other, other.metadata_name, limit=METADATA_BASE_LIMIT
                )
            except DocketError:
                continue
            if data.get("parent_id") == stored.backup_id:
                yield str(data.get("backup_id"))


_CONTAINER_HINT = (
    "check the name (the root's, or backup_swift_container / backup_s3_store_bucket in "
    "cinder.conf) and that the credentials are of its account"
)


def parse_object_name(name: str) -> tuple[str, str, str] | None:
    """``(prefix, volume id, backup id)`` of an object name in Cinder's Swift and S3 layout
    (a data, SHA-256 or metadata object); None for any other name."""
    match = _ANY_OBJECT.fullmatch(name)
    if match is None:
        return None
    return match.group("prefix"), match.group("volume"), match.group("id")


def record_prefix(backup: Backup | str, backup_id: str) -> str | None:
    """The object prefix a record gives (its ``service_metadata``), checked: it must be the
    prefix of this backup, ``volume_<volume id>/<time>/az_<zone>_backup_<backup id>``."""
    prefix = backup.service_metadata if isinstance(backup, Backup) else None
    if not prefix:
        return None
    match = _PREFIX.fullmatch(prefix) if isinstance(prefix, str) else None
    if match is None or match.group("id") != backup_id:
        raise InvalidBackup(
            f"object prefix {show(prefix)} is not this backup's "
            f"(volume_<volume id>/<time>/az_<zone>_backup_{backup_id})",
            backup_id=backup_id,
            path=("service_metadata",),
        )
    return prefix


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _closing_ahead(
    method: Callable[Concatenate[ChunkedBackupDriver, _P], _R],
) -> Callable[Concatenate[ChunkedBackupDriver, _P], _R]:
    """``method``, then the driver's read-ahead closed, however it ended."""

    @functools.wraps(method)
    def run(driver: ChunkedBackupDriver, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(driver, *args, **kwargs)
        finally:
            backups = driver._backups
            if isinstance(backups, ObjectStoreBackups):
                backups.close_ahead()

    return run


class ObjectStoreBackupDriver(ChunkedBackupDriver):
    """The chunked engine over an object store whose containers hold many backups, in the
    layout of Cinder's Swift and S3 drivers. A subclass names its ``scheme`` (``swift``) and
    Cinder's driver in ``service_names``; the store is given."""

    scheme: ClassVar[str] = "objects"

    def __init__(
        self,
        store: ObjectStore,
        metadata_api: BasicMetadataAPI | None = None,
        *,
        container: str = DEFAULT_CONTAINER,
        availability_zone: str = DEFAULT_AVAILABILITY_ZONE,
        **options: Unpack[EngineOptions],
    ) -> None:
        """``options`` are the engine's (:class:`~docket.backup.engine.EngineOptions`);
        ``chunk_size`` defaults to Cinder's object size for Swift and S3, 52428800."""
        self.store = store
        self.container = check_container(container)
        if re.fullmatch(_AZ, availability_zone) is None:
            raise BackupError(
                f"availability zone {show(availability_zone)} cannot be in an object name",
                hint="use letters, digits, '_', '.', ':' and '-'",
            )
        self._prefixes: dict[str, str] = {}
        options.setdefault("chunk_size", DEFAULT_OBJECT_SIZE)
        super().__init__(metadata_api, availability_zone=availability_zone, **options)
        self.availability_zone: str = availability_zone

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.container}"

    @functools.cached_property
    def _backups(self) -> ObjectStoreBackups:
        return ObjectStoreBackups(
            self.store, lambda name: self._families[name], self.container, self.url
        )

    # --- the engine's questions -----------------------------------------------------------

    def _new_container(self, backup: Backup) -> tuple[str, str]:
        # The driver's container holds every backup: Cinder's per-backup layout and its
        # rules for ids (MIN_ID) are not this one's.
        return self._backups.container_of(backup)

    def _zone_of(self, stored: StoredBackup) -> str | None:
        # The zone Cinder's chunked driver wrote into the prefix, az_<zone>_backup_<id>: the
        # service's that made it (an empty one is unknown).
        tail = stored.prefix.rsplit("/", 1)[-1]
        zone = tail.removeprefix("az_").removesuffix(f"_backup_{stored.backup_id}")
        return zone if zone and tail == f"az_{zone}_backup_{stored.backup_id}" else None

    def _object_prefix(self, volume_id: str, now: datetime, backup_id: str) -> str:
        prefix = (
            f"volume_{volume_id}/{now:%Y%m%d%H%M%S}/az_{self.availability_zone}_backup_{backup_id}"
        )
        check_object_name(prefix + METADATA_SUFFIX)
        # A backup of this id of the same volume already stored would make two.
        for name in self._backups.listed(self.container, f"volume_{volume_id}/"):
            match = _ANY_OBJECT.fullmatch(name)
            if match is not None and match.group("id") == backup_id:
                raise BackupError(
                    f"{self.url} already holds objects of this backup ({name})",
                    backup_id=backup_id,
                    hint="pick another backup id, or delete the old backup first",
                )
        self._prefixes[backup_id] = prefix
        return prefix

    def _check_unused(self, container: str, backup_id: str) -> None:
        """Checked by prefix once the volume is known (:meth:`_object_prefix`)."""

    def _discard(self, container: str, backup_id: str) -> None:
        prefix = self._prefixes.get(backup_id)
        if prefix is None:
            return
        # Uploads still running in the background finish first (their failure is what is
        # being raised, or follows from it): then nothing appears after the listing.
        failure = sys.exc_info()[1]  # what made the backup fail (called while handling it)
        with contextlib.suppress(Exception):
            self.store.sync(container)
        own = _own_tail(prefix)
        try:
            for name in self._backups.listed(container, prefix):
                if own.fullmatch(name):
                    self.store.delete_object(container, name)
        except DocketError:
            # The store failed again (it is down): say what may be left, keep the failure.
            if isinstance(failure, DocketError):
                left = (
                    f"objects of this backup may be left under {prefix} in {container}: "
                    f"`docket volume delete {backup_id}` removes them once the store is back"
                )
                failure.hint = f"{failure.hint}; {left}" if failure.hint else left
            else:
                raise

    def backup(self, backup: Backup, volume_file: Any, *, progress: Any = None) -> Backup:
        try:
            return super().backup(backup, volume_file, progress=progress)
        finally:
            self._prefixes.pop(backup.id, None)

    # What was read ahead and not read (a failed restore or verify) is dropped at the end.
    restore = _closing_ahead(ChunkedBackupDriver.restore)
    verify = _closing_ahead(ChunkedBackupDriver.verify)

    # --- delete and list ------------------------------------------------------------------

    def delete(self, backup: Backup | str, *, force: bool = False) -> DeleteReport:
        """Delete every object of a backup (the metadata object first) and leave the
        container; refused (:class:`BackupInUse`) while a backup of the same volume names it
        as its parent, unless ``force``. :class:`BackupNotFound` when nothing of it is there."""
        stored = self._backups.find(backup)
        own = _own_tail(stored.prefix)
        names = [n for n in self._backups.listing(stored) if own.fullmatch(n)]
        orphaned = tuple(sorted(self._backups.children_of(stored)))
        if orphaned and not force:
            raise BackupInUse(stored.backup_id, orphaned)
        return self._delete_objects(stored, names, orphaned)

    def list_backups(
        self, volume_id: str | None = None, *, on_skip: OnSkip | None = None
    ) -> list[BackupSummary]:
        """The backups in the container (of ``volume_id`` only, when given), sorted by volume,
        time and id: ``available`` when the metadata object reads and checks, ``partial``
        without one, ``invalid`` when it is refused. An object store has no links:
        ``on_skip`` (the POSIX driver's) is never called."""
        where = f"volume_{check_id(volume_id, 'volume id')}/" if volume_id else "volume_"
        groups: dict[str, dict[str, int | None]] = {}
        try:
            # The listing's sizes are what each backup stores: no request per object.
            for page in self._backups.object_pages(self.container, where):
                for name, size in page.sized():
                    match = _ANY_OBJECT.fullmatch(name)
                    if match is not None:
                        groups.setdefault(match.group("prefix"), {})[name] = size
        except FileNotFoundError:
            raise self._backups.no_container(self.container) from None
        found: list[Found] = []
        prefixes: dict[str, list[str]] = {}  # of each backup id
        for prefix, sizes in sorted(groups.items()):
            match = _PREFIX.fullmatch(prefix)
            assert match is not None
            known = [size for size in sizes.values() if size is not None]
            stored = sum(known) if len(known) == len(sizes) else None  # unknown: not 0
            found.append(self._summary(prefix, match, list(sizes), stored))
            prefixes.setdefault(match.group("id"), []).append(prefix)
        # Two prefixes of one id: restore by id refuses it (``find``), and so does a child
        # naming it as parent; every prefix of it is listed as such.
        found = [_ambiguous(item, prefixes[item.summary.backup_id]) for item in found]
        # As on POSIX: an incremental is available only when its parents are (a parent is of
        # the same volume, so in the same listing), and its size is that of its chain.
        by_id = {item.summary.backup_id: item for item in found}
        return with_chains(found, by_id, f"in {self.url}")

    def _summary(
        self, prefix: str, match: re.Match[str], names: list[str], stored: int | None
    ) -> Found:
        backup_id = match.group("id")
        base = BackupSummary(
            backup_id=backup_id,
            status="partial",
            container=self.container,
            volume_id=match.group("volume"),
            stored_bytes=stored,
            object_count=sum(1 for n in names if _DATA_OBJECT.fullmatch(n)),
            problem="no metadata object: the backup did not finish",
        )
        if prefix + METADATA_SUFFIX not in names:
            return Found(base)
        record = Backup(
            id=backup_id,
            volume_id=match.group("volume"),
            container=self.container,
            service_metadata=prefix,
        )
        try:
            loaded = self._backups.load(record)
        except DocketError as err:
            return Found(
                BackupSummary(
                    backup_id=backup_id,
                    status="invalid",
                    container=self.container,
                    volume_id=match.group("volume"),
                    stored_bytes=stored,
                    object_count=base.object_count,
                    problem=str(err),
                )
            )
        meta = loaded.metadata
        summary = BackupSummary(
            backup_id=backup_id,
            status="available",
            container=self.container,
            volume_id=meta.get("volume_id"),
            parent_id=meta.get("parent_id"),
            created_at=record_time(meta.get("created_at")),
            name=meta.get("backup_name"),
            stored_bytes=stored,
            object_count=len(loaded.objects),
            version=meta.get("version"),
        )
        return Found(summary, loaded.end())


def _ambiguous(item: Found, prefixes: list[str]) -> Found:
    """``item``, ``invalid`` when its backup id has several prefixes in the listing."""
    if len(prefixes) < 2:
        return item
    problem = "the container holds several backups of this id: " + ", ".join(prefixes)
    summary = dataclasses.replace(item.summary, status="invalid", problem=problem)
    return dataclasses.replace(item, summary=summary)
