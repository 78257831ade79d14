"""``docket.cinder.S3BackupDriver``: docket's chunked engine as Cinder's S3 backup driver.

Backups go into ``backup_s3_store_bucket`` (``volumebackups``) at ``backup_s3_endpoint_url``
with ``backup_s3_store_access_key`` and ``backup_s3_store_secret_key``, in the layout of
Cinder's own ``S3BackupDriver`` (either driver restores the other's backups), in objects of
``backup_s3_object_size`` bytes with SHA-256s of ``backup_s3_block_size`` blocks. The other
``backup_s3_*`` options (timeouts, retries, proxies, TLS, MD5 validation, SSE-C) are
honoured as Cinder honours them. What every docket driver class does for Cinder's manager is
in :mod:`docket.cinder._driver`.
"""

from __future__ import annotations

from typing import Any

from cinder import exception as cinder_exception
from cinder.backup.drivers import s3 as cinder_s3  # noqa: F401  (registers options)

from docket.backup.roots import _s3_store
from docket.backup.s3 import S3BackupDriver as DocketS3Driver
from docket.cinder._driver import CONF, ObjectStoreBackupDriver, cinder_options

__all__ = ["S3BackupDriver"]

_REQUIRED = ("backup_s3_endpoint_url", "backup_s3_store_access_key", "backup_s3_store_secret_key")


class S3BackupDriver(ObjectStoreBackupDriver):
    """Cinder's ``backup_driver`` for S3, on docket's engine."""

    docket_class = DocketS3Driver
    options = "backup_s3_"
    container_option = "backup_s3_store_bucket"

    def _store(self) -> Any:
        return _s3_store(cinder_options(self.options))

    def _check_store(self) -> None:
        """The endpoint and the credentials are set (as Cinder's driver requires)."""
        for name in _REQUIRED:
            if not CONF[name]:
                raise cinder_exception.InvalidConfigurationValue(option=name, value=CONF[name])
        super()._check_store()
