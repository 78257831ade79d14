"""The base class backup drivers build on (Cinder's ``BackupDriver``).

A driver moves a volume's bytes; the base class moves the volume's *metadata* through a
:class:`MetadataAPI` (``docket.store.BackupMetadataAPI``, or anything with its ``get``/``put``)
and writes and reads backup records (:mod:`docket.backup.records`).
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from docket.backup import records
from docket.backup._model import (
    Backup,
    BasicMetadataAPI,
    DeleteReport,
    ImportedRecord,
    Progress,
    RestoreReport,
    VerifyReport,
)
from docket.backup.errors import ForeignRecord
from docket.core.errors import BackupError, show
from docket.core.registry import Registry, load_registry
from docket.core.versions import Version


class BackupDriver(abc.ABC):
    """Base class for backup drivers (Cinder's ``BackupDriver``).

    ``metadata_api`` reads and restores volume metadata containers; ``registry`` supplies the
    record family and the signing key (the bundled registry when omitted).
    """

    service_names: ClassVar[tuple[str, ...]] = ()
    """Names of this driver in a record's ``service`` field; the first is what it writes."""

    def __init__(
        self, metadata_api: BasicMetadataAPI | None = None, *, registry: Registry | None = None
    ) -> None:
        self.metadata_api = metadata_api
        self._registry = registry

    @functools.cached_property
    def registry(self) -> Registry:
        return self._registry if self._registry is not None else load_registry()

    @property
    def service(self) -> str:
        cls = type(self)
        return self.service_names[0] if self.service_names else f"{cls.__module__}.{cls.__name__}"

    # --- volume metadata ------------------------------------------------------------------

    def _api(self) -> BasicMetadataAPI:
        if self.metadata_api is None:
            raise BackupError(
                "this driver has no metadata API",
                hint="pass metadata_api=BackupMetadataAPI(engine) (CLI: --db URL)",
            )
        return self.metadata_api

    def get_metadata(self, volume_id: str) -> str:
        """The volume's metadata container (JSON text) to store with a backup."""
        return self._api().get(volume_id)

    def put_metadata(self, volume_id: str, json_metadata: str | bytes) -> Any:
        """Restore a stored metadata container onto a volume."""
        return self._api().put(volume_id, json_metadata)

    # --- the driver's work ----------------------------------------------------------------

    @abc.abstractmethod
    def backup(
        self, backup: Backup, volume_file: Any, *, progress: Progress | None = None
    ) -> Backup:
        """Back up ``volume_file``; returns ``backup`` with the driver's fields filled in."""

    @abc.abstractmethod
    def restore(
        self, backup: Backup | str, volume_id: str | None, volume_file: Any,
        *, progress: Progress | None = None
    ) -> RestoreReport:
        """Restore a backup (and its parents) onto ``volume_file``."""

    @abc.abstractmethod
    def delete(self, backup: Backup | str) -> DeleteReport | None:
        """Delete a stored backup (a driver may say what it removed in a report)."""

    def verify(self, backup: Backup | str, *, progress: Progress | None = None) -> VerifyReport:
        """Check that a stored backup is complete and intact (drivers that can, override)."""
        raise NotImplementedError(f"{type(self).__name__} cannot verify backups")

    # --- records --------------------------------------------------------------------------

    def driver_info(self, backup: Backup) -> Mapping[str, Any]:
        """Driver-specific data to carry in an exported record (none by default)."""
        return {}

    def export_record(self, backup: Backup, *, version: Version | None = None) -> str:
        """The backup as a record: base64 text of a JSON object of its fields."""
        return records.export_record(
            self.registry.family("backup-record"),
            backup.fields(),
            info={"driver_info": dict(self.driver_info(backup))},
            version=version,
        )

    def import_record(self, backup_url: str | bytes) -> ImportedRecord:
        """Check and decode a record made by this driver (or a compatible one)."""
        imported = records.import_record(self.registry.family("backup-record"), backup_url)
        service = imported.backup.service
        if service is not None and self.service_names and service not in self.service_names:
            raise ForeignRecord(
                f"the record was made by backup service {show(service)}",
                backup_id=imported.backup.id,
                path=("service",),
                hint="import it with that service; this driver reads "
                + ", ".join(self.service_names),
            )
        return imported
