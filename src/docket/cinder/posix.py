"""``docket.cinder.PosixBackupDriver``: docket's chunked engine as Cinder's POSIX backup driver.

The work is :class:`docket.backup.posix.PosixBackupDriver`'s: the same layout and objects as
Cinder's own ``PosixBackupDriver`` (either driver restores the other's backups), streamed a
piece at a time instead of a chunk (``backup_file_size``, 1.9 GB by default) in memory. What
every docket driver class does for Cinder's manager is in :mod:`docket.cinder._driver`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cinder import exception as cinder_exception
from cinder.backup.drivers import posix as cinder_posix  # noqa: F401  (registers options)

from docket.backup._layout import backup_dir_for
from docket.backup.posix import PosixBackupDriver as DocketPosixDriver
from docket.cinder._driver import CONF, DocketBackupDriver, docket_opts
from docket.store.api import BackupMetadataAPI

__all__ = ["PosixBackupDriver", "docket_opts"]


class PosixBackupDriver(DocketBackupDriver):
    """Cinder's ``backup_driver`` for a POSIX file system, on docket's engine."""

    def __init__(self, context: Any, backup_path: str | None = None) -> None:
        self.backup_path = backup_path or CONF.backup_posix_path
        if not self.backup_path:
            raise cinder_exception.ConfigNotFound(path="backup_posix_path")
        super().__init__(context)

    def _engine_driver(self, metadata_api: BackupMetadataAPI | None) -> DocketPosixDriver:
        return DocketPosixDriver(
            self.backup_path,
            metadata_api,
            registry=self.registry,
            compression=CONF.backup_compression_algorithm,
            chunk_size=CONF.backup_file_size,
            sha_block_size=CONF.backup_sha_block_size_bytes,
        )

    def _default_container(self, backup_id: str) -> str:
        return str(CONF.backup_container or backup_dir_for(backup_id))

    def _check_store(self) -> None:
        """The backup root is a directory this service can write."""
        root = Path(self.backup_path)
        if not root.is_dir() or not os.access(root, os.W_OK | os.X_OK):
            raise cinder_exception.ConfigNotFound(path=str(root))
