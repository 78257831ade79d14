"""The values backup drivers pass around: a backup, verify and restore reports, records."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from docket.core.errors import BackupError
from docket.core.versions import Version

if TYPE_CHECKING:
    from docket.core.family import Container

Progress = Callable[[int, int], None]
"""Called as work advances with (bytes done, bytes in total)."""


class BasicMetadataAPI(Protocol):
    """A metadata API of the two calls Cinder's has: ``get`` and ``put``."""

    def get(self, volume_id: str) -> str:
        """The volume's metadata container as JSON text."""

    def put(self, volume_id: str, json_metadata: str | bytes) -> Any:
        """Restore a metadata container onto the volume (all or nothing)."""


@runtime_checkable
class MetadataAPI(BasicMetadataAPI, Protocol):
    """Where a volume's metadata container comes from and goes back to.

    ``put_many`` restores a restore's containers (already loaded and checked: the driver passes
    the :class:`~docket.core.family.Container` values it checked) in one transaction.
    ``docket.store.BackupMetadataAPI`` implements it. An API with only ``get`` and ``put``
    (:class:`BasicMetadataAPI`) still works: each container is then restored in its own ``put``,
    from its JSON text.
    """

    def put_many(self, items: Sequence[tuple[str, Container]]) -> Sequence[Any]:
        """Restore each (volume id, container) in one transaction: all of them or none;
        one result per item, in order."""


@dataclass(frozen=True)
class Backup:
    """One backup, with Cinder's field names. Fields docket does not model live in ``extra``."""

    id: str
    volume_id: str | None = None
    display_name: str | None = None
    display_description: str | None = None
    container: str | None = None
    service_metadata: str | None = None
    """Driver data; the chunked drivers keep the object name prefix here."""
    service: str | None = None
    parent_id: str | None = None
    size: int | None = None
    """The volume's size in GiB, rounded up."""
    object_count: int | None = None
    status: str | None = None
    availability_zone: str | None = None
    host: str | None = None
    encryption_key_id: str | None = None
    snapshot_id: str | None = None
    data_timestamp: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "extra")

    def fields(self) -> dict[str, Any]:
        """Every field by its Cinder name: ``extra`` first, so a modelled field always wins."""
        out = dict(self.extra)
        out.update({name: getattr(self, name) for name in self.field_names()})
        return out

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Backup:
        """A backup from a mapping of fields; unmodelled fields go to ``extra``."""
        names = set(cls.field_names())
        known = {k: v for k, v in fields.items() if k in names}
        extra = {k: v for k, v in fields.items() if k not in names}
        if not isinstance(known.get("id"), str):
            raise BackupError("a backup needs a string id", path=("id",))
        return cls(**known, extra=extra)

    def replace(self, **changes: Any) -> Backup:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Problem:
    """One thing verify found wrong with a stored backup."""

    backup_id: str
    kind: str
    """``partial``, ``missing``, ``truncated``, ``altered``, ``unexpected``, ``metadata``,
    ``sha256`` or ``parent``."""
    message: str
    object: str | None = None
    """The stored object the problem is about, when there is one."""

    def __str__(self) -> str:
        what = f"{self.object}: " if self.object else ""
        return f"backup {self.backup_id}: {what}{self.kind}: {self.message}"


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`BackupDriver.verify` checked and found."""

    backup_id: str
    chain: tuple[str, ...]
    """The backups checked, the requested one first and the full backup last."""
    problems: tuple[Problem, ...]
    objects: int
    """Data objects read and checked."""
    blocks: int
    """SHA-256 blocks checked against the stored list."""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RestoreReport:
    """What a restore wrote."""

    backup_id: str
    chain: tuple[str, ...]
    """The backups restored, oldest (the full backup) first."""
    size: int
    """Bytes in the restored volume."""
    written: int
    """Bytes of volume data restored, over all backups in the chain."""
    metadata: tuple[tuple[str, Any], ...] = ()
    """(backup id, what ``put`` returned) for each volume metadata container restored."""
    metadata_skipped: tuple[str, ...] = ()
    """Backups whose volume metadata was not restored because no metadata API or volume id
    was given."""
    metadata_absent: tuple[str, ...] = ()
    """Backups of the chain that hold no volume metadata (backed up without a metadata API,
    ``--db`` on the command line): there was nothing of theirs to restore."""


@dataclass(frozen=True)
class ImportedRecord:
    """A backup record that passed import: the backup, its driver info and what was left out."""

    backup: Backup
    driver_info: Any
    version: Version
    """The record version as written."""
    signature: str
    """``verified``, ``unverified`` (signed, no key configured) or ``absent``."""
    ignored: tuple[str, ...] = ()
    """Fields present in the record that an import never takes (``status``, ``user_id``...)."""


@dataclass(frozen=True)
class BackupSummary:
    """One backup under a root, as ``list_backups`` finds it (``docket volume list``).

    The field names are stable: ``docket volume list --format json`` prints them as they are.
    """

    backup_id: str
    status: str
    """``available`` (its metadata object reads and checks), ``partial`` (no metadata
    object: it did not finish), ``invalid`` (the metadata object is refused, or a parent
    is not under the root) or ``deleting`` (what an interrupted delete left)."""
    container: str
    """Its directory, relative to the root (Cinder's ``container``)."""
    volume_id: str | None = None
    parent_id: str | None = None
    created_at: str | None = None
    """When it was made, as its record says (``YYYY-mm-ddTHH:MM:SS.ffffffZ``)."""
    name: str | None = None
    """Its display name."""
    size: int | None = None
    """The volume's size in GiB, rounded up, as its record says (``None`` when unknown)."""
    stored_bytes: int | None = None
    """Bytes of its own files or objects: what deleting it frees (``None`` when the store's
    listing does not give every object's size)."""
    object_count: int = 0
    """Its data objects (those listed in its metadata object, or those stored)."""
    version: str | None = None
    """The version of its metadata object (``1.0.0``)."""
    problem: str | None = None
    """Why it is not ``available``."""

    def fields(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SkippedPath:
    """A place under a backup root that a listing did not look into, and why (a symbolic
    link, which docket never follows below the root)."""

    path: str
    """Relative to the root."""
    reason: str


OnSkip = Callable[[SkippedPath], None]


@dataclass(frozen=True)
class DeleteReport:
    """What deleting a backup removed."""

    backup_id: str
    objects: tuple[str, ...]
    """The files removed (data, SHA-256 and metadata objects, unfinished temporary files)."""
    stored_bytes: int
    """Their bytes."""
    directories: tuple[str, ...]
    """Directories removed, relative to the root: the backup's own, then each parent left
    empty by it."""
    orphaned: tuple[str, ...] = ()
    """Backups that built on it and were left without their parent (``force``)."""
