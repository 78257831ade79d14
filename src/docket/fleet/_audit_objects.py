"""The audit of an object store: a Swift container or an S3 bucket in the layout of Cinder's
Swift and S3 drivers (``volume_<volume id>/<time>/az_<zone>_backup_<backup id>`` then
``-00001``..., ``_sha256file`` and ``_metadata``).

:func:`walk_objects` reads the container's listing a page at a time and groups the names by
backup prefix as they come: every name that starts with a prefix is that backup's (as
Cinder's restore lists it), so a backup's names arrive together in a sorted listing and only
the backups whose prefixes the current name starts with are held (a nest of them, only in a
hostile store). Names under no backup's prefix are orphans. :class:`ObjectInspector` is the
POSIX :class:`~docket.fleet._audit_checks.Inspector` reading through the store: the same
checks, parents looked up in their volume's listing (bounded cache), store failures raised
(the audit cannot be made) rather than reported as findings.
"""

from __future__ import annotations

import collections
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docket.backup._layout import METADATA_SUFFIX, Backups, safe_id
from docket.backup.errors import ObjectStoreError
from docket.backup.objects import ObjectStoreBackupDriver, ObjectStoreBackups, parse_object_name
from docket.backup.store import DEFAULT_PAGE
from docket.core.errors import DocketError, DriverOptionError, UnsafeFile, show
from docket.core.registry import Registry
from docket.fleet._audit_checks import DEFAULT_MAX_OBJECT_BYTES, Inspector, Unreadable, _Look
from docket.fleet._verdicts import Place
from docket.fs import Entry, read_upto

_VOLUMES = 64
"""Volume listings (backup id to prefix) kept for parent look-ups."""
_OBJECT = stat.S_IFREG | 0o644


def is_object_root(root: object) -> bool:
    """Whether an audit root names an object store (``swift://...``, ``s3://...``)."""
    return isinstance(root, str) and "://" in root


def open_object_root(
    url: str, cinder_config: str | os.PathLike[str] | None = None
) -> ObjectStoreBackupDriver:
    """The driver of ``swift://CONTAINER`` or ``s3://BUCKET`` (credentials as the
    ``docket volume`` commands take them); a directory is a usage error here."""
    from docket.backup.roots import open_driver

    driver = open_driver(url, cinder_config=cinder_config)
    if not isinstance(driver, ObjectStoreBackupDriver):
        raise DriverOptionError(f"{show(url)} is not an object store", hint="swift:// or s3://")
    return driver


class _StoreFailed(Exception):
    """A store failure inside the checks, which turn every DocketError into a finding: it
    is carried out as is (the audit cannot be made), not reported against a backup."""

    def __init__(self, error: DocketError) -> None:
        super().__init__(str(error))
        self.error = error


class ObjectInspector(Inspector):
    """Checks the backups of one container; places are object prefixes."""

    def __init__(
        self,
        url: str,
        registry: Registry,
        *,
        cinder_config: str | os.PathLike[str] | None = None,
        deep: bool = False,
        require: tuple[str, ...] = (),
        with_rows: bool = False,
        max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
        max_listed: int | None = None,
        page: int = DEFAULT_PAGE,
    ) -> None:
        driver = open_object_root(url, cinder_config)
        self.driver = driver
        self.store = driver.store
        self.container = driver.container
        self.url = driver.url
        self.page = page
        self.max_listed = max_listed
        self._volumes: collections.OrderedDict[str, dict[str, str]] = collections.OrderedDict()
        super().__init__(
            Path("."),
            registry,
            deep=deep,
            require=require,
            with_rows=with_rows,
            max_object_bytes=max_object_bytes,
        )

    def _open_backups(self) -> Backups:
        self.objects = ObjectStoreBackups(
            self.store, self.families.__getitem__, self.container, self.url
        )
        if self.max_listed is not None:
            self.objects.max_listed = self.max_listed
        return self.objects

    def pages(self, prefix: str = "") -> Iterator[tuple[str, ...]]:
        """The container's listing under ``prefix``, a page at a time (bounded)."""
        try:
            yield from self.objects.pages(self.container, prefix, limit=self.page)
        except FileNotFoundError:
            if prefix:
                return
            raise DriverOptionError(
                f"{self.url}: the container does not exist",
                hint="check the name and the credentials' account",
            ) from None

    # --- where things are -----------------------------------------------------------------

    def _container_of(self, place: str) -> str:
        return self.container

    def _partial_volume(self, backup_id: str, place: str, listing: Mapping[str, Any]) -> str | None:
        parsed = parse_object_name(place + METADATA_SUFFIX)
        return None if parsed is None else parsed[1]

    def _key(self, backup_id: str, volume: str | None) -> str:
        return f"{volume or ''}/{backup_id}"

    def place_of(self, backup_id: str, volume: str | None = None) -> str | None:
        """A parent's prefix: the backup of that id in the volume's listing (Cinder's
        incrementals are of the volume of their parent), the one with a metadata object
        first; None when the volume holds none."""
        if volume is None or not safe_id(volume):
            return None
        index = self._volumes.get(volume)
        if index is None:
            index = self._index(volume)
            self._volumes[volume] = index
            while len(self._volumes) > _VOLUMES:
                self._volumes.popitem(last=False)
        else:
            self._volumes.move_to_end(volume)
        return index.get(backup_id)

    def _index(self, volume: str) -> dict[str, str]:
        best: dict[str, tuple[bool, str]] = {}
        for page in self.pages(f"volume_{volume}/"):
            for name in page:
                parsed = parse_object_name(name)
                if parsed is None or parsed[1] != volume:
                    continue
                prefix, _, backup_id = parsed
                complete = name == prefix + METADATA_SUFFIX
                known = best.get(backup_id)
                if known is None or (complete and not known[0]):
                    best[backup_id] = (complete, prefix)
        return {backup_id: prefix for backup_id, (_, prefix) in best.items()}

    # --- reading ----------------------------------------------------------------------------

    def inspect(
        self, backup_id: str, place: str, prefix: str | None = None,
        *, full: bool = False, names: tuple[str, ...] | None = None
    ) -> _Look:
        """The backup at prefix ``place``, from ``names`` (the walk's listing of it) or a
        listing of the prefix."""
        try:
            if names is None:
                names = tuple(n for page in self.pages(place) for n in page)
            listing = {name: Entry(name, _OBJECT, 0) for name in names}
            return self._look(backup_id, self._read, place, place, listing, full)
        except _StoreFailed as failed:
            raise failed.error from None

    def _read(self, name: str, *, what: str) -> bytes:
        limit = self.limit
        try:
            with self.store.open_object(self.container, name, limit=limit) as fh:
                data = b"".join(read_upto(fh.read, limit + 1))
        except FileNotFoundError:
            raise Unreadable(f"{name} is missing") from None
        except UnsafeFile as err:
            raise Unreadable(f"{name} is {err.found}") from None
        except ObjectStoreError as err:
            raise _StoreFailed(err) from None
        if len(data) > limit:
            raise Unreadable(f"{name} holds more than {limit} bytes")
        return data


@dataclass
class _Group:
    """A backup prefix whose names the listing is passing."""

    prefix: str
    backup_id: str
    names: list[str] | None
    """None: the listing passed names of it before it was seen (a hostile nest of
    prefixes); the inspector lists it again."""


def walk_objects(inspector: ObjectInspector) -> Iterator[Place]:
    """Every backup prefix and every orphan object of the container, in listing order."""
    nest: list[_Group] = []  # each a prefix of the next, all prefixes of the current name
    for page in inspector.pages():
        for name in page:
            while nest and not name.startswith(nest[-1].prefix):
                yield _closed(nest.pop())
            parsed = parse_object_name(name)
            if parsed is not None and not any(g.prefix == parsed[0] for g in nest):
                at = sum(1 for g in nest if len(g.prefix) < len(parsed[0]))
                late = at < len(nest)  # a longer prefix is open: this one began before
                nest.insert(at, _Group(parsed[0], parsed[2], None if late else []))
            if not nest:
                yield Place(name, problem="an object outside any backup's prefix")
                continue
            for group in nest:
                if group.names is not None:
                    group.names.append(name)
    while nest:
        yield _closed(nest.pop())


def _closed(group: _Group) -> Place:
    names = None if group.names is None else tuple(group.names)
    return Place(group.prefix, group.backup_id, names=names)
