"""``docket.cinder.PosixBackupDriver``: docket's chunked engine as a Cinder backup driver.

Cinder's backup manager makes one instance per operation, with the request context, and calls
``backup``, ``restore``, ``delete_backup``, ``export_record``, ``import_record`` and
``check_for_setup_error`` on it; ``support_force_delete`` says a backup may be force-deleted.
The work is :class:`docket.backup.posix.PosixBackupDriver`'s: the same layout and objects as
Cinder's own ``PosixBackupDriver`` (either driver restores the other's backups), streamed a
piece at a time instead of a chunk (``backup_file_size``, 1.9 GB by default) in memory.

The volume metadata container is read and restored by :class:`docket.store.BackupMetadataAPI`
on the database of Cinder's ``[database] connection``: versioned (``backup_metadata_version``,
Cinder's option, 2 by default), validated before it is stored and before anything is restored,
restored in one transaction, and signed (version 3) when ``[docket] signing_key_file`` names
a key.

Under eventlet (Cinder's default), each operation runs in the green thread Cinder's manager
called it in; the engine's worker pools become green threads of that OS thread, and its waits
on them yield to the hub, so the service's RPC and heartbeats keep running.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cinder import exception as cinder_exception
from cinder.backup import chunkeddriver as cinder_chunked  # noqa: F401  (registers options)
from cinder.backup import driver as cinder_driver
from cinder.backup.drivers import posix as cinder_posix  # noqa: F401  (registers options)
from oslo_config import cfg

from docket.backup._layout import backup_dir_for
from docket.backup._model import Backup
from docket.backup.errors import BackupNotFound
from docket.backup.posix import PosixBackupDriver as DocketPosixDriver
from docket.core.errors import DocketError
from docket.core.registry import Registry, load_registry
from docket.fs import read_bounded
from docket.store.api import BackupMetadataAPI, make_engine

__all__ = ["PosixBackupDriver", "docket_opts"]

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
T = TypeVar("T")

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
    per operation; the connection pool outlives them)."""
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


@functools.cache
def _registry(key_file: str | None) -> Registry:
    if not key_file:
        return load_registry()
    key = read_bounded(Path(key_file), _KEY_LIMIT, what="signing key").strip()
    return load_registry(signing_key=key)


def _in_native_thread(call: Callable[[], T]) -> T:
    """Run ``call`` where Cinder's manager called the driver.

    Under eventlet (Cinder's default) that is a green thread: the engine's worker pools are
    then green threads of the same OS thread, and its waits on them yield to the hub, so the
    service keeps reporting while a backup runs. The engine is not run in eventlet's native
    pool (``tpool``): its pools and their locks, patched green by eventlet, cannot be waited on
    from another OS thread ("Cannot switch to a different thread").
    """
    return call()


def _unwrap(volume_file: Any) -> Any:
    """The file inside eventlet's ``tpool.Proxy``: the engine already runs in a native thread,
    and reads through the proxy would hop threads for every piece."""
    return getattr(volume_file, "_obj", volume_file)


class PosixBackupDriver(cinder_driver.BackupDriver):  # type: ignore[misc]
    """Cinder's ``backup_driver`` for a POSIX file system, on docket's engine."""

    def __init__(self, context: Any, backup_path: str | None = None) -> None:
        super().__init__(context)
        self.support_force_delete = True
        self.backup_path = backup_path or CONF.backup_posix_path
        if not self.backup_path:
            raise cinder_exception.ConfigNotFound(path="backup_posix_path")
        self.registry = _registry(CONF.docket.signing_key_file)
        version = 3 if self.registry.signing_key is not None else CONF.backup_metadata_version
        self.metadata_api = BackupMetadataAPI(
            _engine(CONF.database.connection), version=version, registry=self.registry
        )
        self.driver = self._driver(self.metadata_api)

    def _driver(self, metadata_api: BackupMetadataAPI | None) -> DocketPosixDriver:
        return DocketPosixDriver(
            self.backup_path,
            metadata_api,
            registry=self.registry,
            compression=CONF.backup_compression_algorithm,
            chunk_size=CONF.backup_file_size,
            sha_block_size=CONF.backup_sha_block_size_bytes,
        )

    @staticmethod
    def get_driver_options() -> list[Any]:
        return list(docket_opts)

    def _record(self, backup: Any) -> Backup:
        """docket's view of Cinder's backup object: what finds its objects."""
        container = backup.container or CONF.backup_container or backup_dir_for(backup.id)
        return Backup(
            id=backup.id,
            volume_id=backup.volume_id,
            display_name=backup.display_name,
            display_description=backup.display_description,
            container=container,
            service_metadata=backup.service_metadata,
            parent_id=backup.parent_id,
        )

    # --- what the manager calls -------------------------------------------------------------

    def check_for_setup_error(self) -> None:
        """The backup root is a directory this service can write, and Cinder's database
        answers (the manager retries until both hold)."""
        root = Path(self.backup_path)
        if not root.is_dir() or not os.access(root, os.W_OK | os.X_OK):
            raise cinder_exception.ConfigNotFound(path=str(root))
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
        driver = self.driver if backup_metadata else self._driver(None)
        done = _in_native_thread(lambda: driver.backup(record, _unwrap(volume_file)))
        LOG.info("docket backed up volume %s as %s", backup.volume_id, backup.id)
        return {
            "container": done.container,
            "service_metadata": done.service_metadata,
            "object_count": done.object_count,
        }

    def restore(self, backup: Any, volume_id: str, volume_file: Any, volume_is_new: bool) -> None:
        """Restore the backup's chain onto ``volume_file``: every object checked before its
        bytes are written, then the chain's volume metadata in one transaction."""
        record = self._record(backup)
        report = _in_native_thread(
            lambda: self.driver.restore(record, volume_id, _unwrap(volume_file))
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
            _in_native_thread(lambda: self.driver.delete(record))
        except BackupNotFound:
            LOG.info("backup %s has no objects left in %s", backup.id, record.container)

    def export_record(self, backup: Any) -> dict[str, Any]:
        """Where the backup's objects are and whose they are, for :meth:`import_record` to
        check (Cinder's own driver adds nothing, and ignores this)."""
        return {"docket": {"container": backup.container, "volume_id": backup.volume_id}}

    def import_record(self, backup: Any, driver_info: Any) -> None:
        """Refuse a record whose backup is not in storage, or is of another volume than the
        record says: the stored metadata objects of its chain are read (bounded) and checked
        before Cinder marks the backup available. (Cinder calls this before it copies the
        record's fields onto ``backup``, so they come from ``driver_info``; a record made by
        Cinder's driver carries none, and its backup is looked for in the default place.)"""
        info = driver_info.get("docket") if isinstance(driver_info, dict) else None
        info = info if isinstance(info, dict) else {}
        container = info.get("container") or backup_dir_for(backup.id)
        record = Backup(id=backup.id, container=container)
        try:
            chain = _in_native_thread(lambda: self.driver._chain(record))
        except DocketError as err:
            raise cinder_exception.InvalidBackup(reason=str(err)) from err
        stored = chain[0].metadata.get("volume_id")
        expected = info.get("volume_id")
        if expected is not None and stored != expected:
            raise cinder_exception.InvalidBackup(
                reason=f"the stored backup {backup.id} is of volume {stored}, "
                f"the record says {expected}"
            )
