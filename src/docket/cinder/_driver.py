"""What docket's Cinder backup drivers share: the calls of Cinder's manager, handed to docket's
chunked engine, and the volume metadata container on Cinder's own database.

Cinder's backup manager makes one instance per operation, with the request context, and calls
``backup``, ``restore``, ``delete_backup``, ``export_record``, ``import_record`` and
``check_for_setup_error`` on it; ``support_force_delete`` says a backup may be force-deleted.
A subclass names the engine's driver (:meth:`DocketBackupDriver._engine_driver`), the
container a backup goes to when its record names none, and what its store needs to work.

The volume metadata container is read and restored by :class:`docket.store.BackupMetadataAPI`
on the database of Cinder's ``[database] connection``: versioned (``backup_metadata_version``,
Cinder's option, 2 by default), validated before it is stored and before anything is restored,
restored in one transaction, and signed (version 3) when ``[docket] signing_key_file`` names
a key.

Under eventlet (Cinder's default), each operation runs in a native thread of eventlet's pool,
and the engine's worker pools are real OS threads with real locks
(:mod:`docket.cinder._native`): reading, hashing, compressing and writing run side by side on
the machine's cores, while the manager's green thread waits without blocking the hub, so the
service's RPC and heartbeats keep running.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from cinder import exception as cinder_exception
from cinder.backup import chunkeddriver as cinder_chunked  # noqa: F401  (registers options)
from cinder.backup import driver as cinder_driver
from oslo_config import cfg

from docket.backup._model import Backup
from docket.backup.engine import ChunkedBackupDriver
from docket.backup.errors import BackupNotFound
from docket.backup.objects import ObjectStoreBackupDriver as DocketObjectDriver
from docket.backup.roots import CinderConfig
from docket.cinder import _native
from docket.core.errors import DocketError
from docket.core.registry import Registry, load_registry
from docket.fs import read_bounded
from docket.store.api import BackupMetadataAPI, make_engine

__all__ = [
    "CONF",
    "DocketBackupDriver",
    "ObjectStoreBackupDriver",
    "cinder_options",
    "docket_opts",
]

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

docket_opts = [
    cfg.StrOpt(
        "signing_key_file",
        help="A file holding the key that signs volume metadata containers (HMAC-SHA256, "
        "container version 3). Restores then refuse unsigned or altered containers. Cinder's "
        "own driver cannot restore version 3 containers.",
    ),
]
CONF.register_opts(docket_opts, group="docket")

_KEY_LIMIT = 64 * 1024
_lock = threading.Lock()
_engines: dict[str, Any] = {}


def _engine(url: str) -> Any:
    """One SQLAlchemy engine per database URL for the process (Cinder's manager makes a driver
    per operation). Under eventlet it keeps no pool: operations run in native threads, and a
    pool's locks, green there, cannot be waited on across them."""
    with _lock:
        if url not in _engines:
            extra = {"poolclass": sa.pool.NullPool} if _native.green() else {}
            _engines[url] = make_engine(url, **extra)
        return _engines[url]


@functools.cache
def _registry(key_file: str | None) -> Registry:
    if not key_file:
        return load_registry()
    key = read_bounded(Path(key_file), _KEY_LIMIT, what="signing key").strip()
    return load_registry(signing_key=key)


def cinder_options(prefix: str) -> CinderConfig:
    """Cinder's ``[DEFAULT]`` options whose names start with ``prefix`` (``backup_swift_``),
    as this service parsed them, with Cinder's defaults: what docket's store settings read
    (:mod:`docket.backup.roots`)."""
    options: dict[str, str] = {}
    for name in CONF:
        if isinstance(name, str) and name.startswith(prefix):
            value = CONF[name]
            if isinstance(value, bool):
                options[name] = "true" if value else "false"
            elif isinstance(value, str | int | float):
                options[name] = str(value)
    return CinderConfig(options, "cinder.conf")


def _unwrap(volume_file: Any) -> Any:
    """The file inside eventlet's ``tpool.Proxy``: the engine already runs in a native thread,
    and reads through the proxy would hop threads for every piece."""
    return getattr(volume_file, "_obj", volume_file)


class DocketBackupDriver(cinder_driver.BackupDriver):  # type: ignore[misc]
    """Cinder's ``backup_driver`` on docket's chunked engine (the base of the store classes)."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.support_force_delete = True
        self.registry = _registry(CONF.docket.signing_key_file)
        version = 3 if self.registry.signing_key is not None else CONF.backup_metadata_version
        self.metadata_api = BackupMetadataAPI(
            _engine(CONF.database.connection), version=version, registry=self.registry
        )

    @functools.cached_property
    def driver(self) -> ChunkedBackupDriver:
        """docket's driver for this operation (made when first needed: a store's settings
        may need the request's credentials, which the manager's own checks lack)."""
        return self._docket_driver(self.metadata_api)

    def _docket_driver(self, metadata_api: BackupMetadataAPI | None) -> ChunkedBackupDriver:
        try:
            return self._engine_driver(metadata_api)
        except DocketError as err:
            raise cinder_exception.BackupDriverException(reason=err.describe()) from err

    # --- what a store's class gives ---------------------------------------------------------

    def _engine_driver(self, metadata_api: BackupMetadataAPI | None) -> ChunkedBackupDriver:
        """docket's driver for this store, storing volume metadata through ``metadata_api``."""
        raise NotImplementedError

    def _default_container(self, backup_id: str) -> str:
        """Where a backup whose record names no container goes (Cinder's choice)."""
        raise NotImplementedError

    def _check_store(self) -> None:
        """Raise a Cinder exception while the store cannot be used (by default: while docket's
        driver cannot be made from the options)."""
        self._docket_driver(None)

    # --- what the manager calls -------------------------------------------------------------

    @staticmethod
    def get_driver_options() -> list[Any]:
        return list(docket_opts)

    def _record(self, backup: Any) -> Backup:
        """docket's view of Cinder's backup object: what finds its objects."""
        return Backup(
            id=backup.id,
            volume_id=backup.volume_id,
            display_name=backup.display_name,
            display_description=backup.display_description,
            container=backup.container or self._default_container(backup.id),
            service_metadata=backup.service_metadata,
            parent_id=backup.parent_id,
        )

    def check_for_setup_error(self) -> None:
        """The store can be used, and Cinder's database answers (the manager retries until
        both hold)."""
        self._check_store()
        try:
            self.metadata_api.engine.connect().close()
        except Exception as err:  # any error: the database is not there yet
            raise cinder_exception.BackupDriverException(reason=str(err)) from err

    def backup(self, backup: Any, volume_file: Any, backup_metadata: bool = True) -> dict[str, Any]:
        """Back ``volume_file`` up (incrementally when ``backup.parent_id`` is set); the
        updates the manager saves on the backup. The container is saved first, so that a
        backup interrupted midway can still be deleted. ``backup_metadata`` (True, as in
        Cinder's chunked drivers, when the manager does not say) stores the volume's metadata
        container with it."""
        record = self._record(backup)
        backup.container = record.container
        backup.save()
        driver = self.driver if backup_metadata else self._docket_driver(None)
        done = _native.run(lambda: driver.backup(record, _unwrap(volume_file)))
        LOG.info("docket backed up volume %s as %s", backup.volume_id, backup.id)
        return {
            "container": done.container,
            "service_metadata": done.service_metadata,
            "object_count": done.object_count,
        }

    def restore(self, backup: Any, volume_id: str, volume_file: Any, volume_is_new: bool) -> None:
        """Restore the backup's chain onto ``volume_file``, then the chain's volume metadata
        in one transaction. Every block is checked before it is written. Onto an existing
        volume, every object of the chain is checked before the first byte is written; onto a
        new volume's file (``volume_is_new``; the manager opened it ``'wb'``), in one pass,
        zero blocks left as holes, a damaged object raising ``InvalidBackup`` (the manager
        then marks the volume ``error_restoring``)."""
        record = self._record(backup)
        file = _unwrap(volume_file)
        report = _native.run(
            lambda: self.driver.restore(record, volume_id, file, target_is_new=volume_is_new)
        )
        LOG.info(
            "docket restored backup %s (chain %s) onto volume %s",
            backup.id,
            ", ".join(report.chain),
            volume_id,
        )

    def delete_backup(self, backup: Any) -> None:
        """Delete the backup's objects, the metadata object first. A backup that never got
        an object (it failed before writing one) or whose objects are gone is deleted; one
        that another stored backup builds on is refused."""
        record = self._record(backup)
        try:
            _native.run(lambda: self.driver.delete(record))
        except BackupNotFound:
            LOG.info("backup %s has no objects left in %s", backup.id, record.container)

    def export_record(self, backup: Any) -> dict[str, Any]:
        """Where the backup's objects are and whose they are, for :meth:`import_record` to
        check (Cinder's own drivers add nothing, and ignore this)."""
        return {"docket": {"container": backup.container, "volume_id": backup.volume_id}}

    def import_record(self, backup: Any, driver_info: Any) -> None:
        """Refuse a record whose backup is not in storage, or is of another volume than the
        record says: the stored metadata objects of its chain are read (bounded) and checked
        before Cinder marks the backup available. (Cinder calls this before it copies the
        record's fields onto ``backup``, so they come from ``driver_info``; a record made by
        Cinder's driver carries none, and its backup is looked for in the default place.)"""
        info = driver_info.get("docket") if isinstance(driver_info, dict) else None
        info = info if isinstance(info, dict) else {}
        record = Backup(
            id=backup.id, container=info.get("container") or self._default_container(backup.id)
        )
        try:
            chain = _native.run(lambda: self.driver._chain(record))
        except DocketError as err:
            raise cinder_exception.InvalidBackup(reason=str(err)) from err
        stored = chain[0].metadata.get("volume_id")
        expected = info.get("volume_id")
        if expected is not None and stored != expected:
            raise cinder_exception.InvalidBackup(
                reason=f"the stored backup {backup.id} is of volume {stored}, "
                f"the record says {expected}"
            )


class ObjectStoreBackupDriver(DocketBackupDriver):
    """Cinder's ``backup_driver`` for an object store (the base of the Swift and S3 classes):
    one shared container named by ``container_option``, objects of ``options``'s
    ``object_size`` bytes and SHA-256s of its ``block_size`` blocks."""

    docket_class: ClassVar[type[DocketObjectDriver]]
    options: ClassVar[str]
    """The prefix of the store's options: ``backup_swift_``, ``backup_s3_``."""
    container_option: ClassVar[str]

    def _store(self) -> Any:
        """The store, as Cinder's options (and this request's context) say."""
        raise NotImplementedError

    def _engine_driver(self, metadata_api: BackupMetadataAPI | None) -> DocketObjectDriver:
        return self.docket_class(
            self._store(),
            metadata_api,
            container=CONF[self.container_option],
            availability_zone=CONF.storage_availability_zone,
            registry=self.registry,
            compression=CONF.backup_compression_algorithm,
            chunk_size=CONF[self.options + "object_size"],
            sha_block_size=CONF[self.options + "block_size"],
        )

    def _default_container(self, backup_id: str) -> str:
        return str(CONF[self.container_option])
