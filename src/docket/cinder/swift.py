"""``docket.cinder.SwiftBackupDriver``: docket's chunked engine as Cinder's Swift backup driver.

Backups go into ``backup_swift_container`` (``volumebackups``) in the layout of Cinder's own
``SwiftBackupDriver`` (either driver restores the other's backups), in objects of
``backup_swift_object_size`` bytes with SHA-256s of ``backup_swift_block_size`` blocks.
Authentication is Cinder's: ``backup_swift_auth = single_user`` (``backup_swift_auth_url``,
``backup_swift_user``, ``backup_swift_key``, ``backup_swift_auth_version``, the domain and
project options) or ``per_user`` (Cinder's default: ``backup_swift_url`` followed by the
request's project id, with the request's token). ``backup_swift_retry_attempts``,
``backup_swift_retry_backoff``, ``backup_swift_ca_cert_file`` and
``backup_swift_auth_insecure`` are honoured as Cinder honours them. What every docket driver
class does for Cinder's manager is in :mod:`docket.cinder._driver`.
"""

from __future__ import annotations

from typing import Any

from cinder import exception as cinder_exception
from cinder.backup.drivers import swift as cinder_swift  # noqa: F401  (registers options)

from docket.backup.roots import _swift_store
from docket.backup.swift import SwiftBackupDriver as DocketSwiftDriver
from docket.cinder._driver import CONF, ObjectStoreBackupDriver, cinder_options

__all__ = ["SwiftBackupDriver"]


class SwiftBackupDriver(ObjectStoreBackupDriver):
    """Cinder's ``backup_driver`` for OpenStack Swift, on docket's engine."""

    docket_class = DocketSwiftDriver
    options = "backup_swift_"
    container_option = "backup_swift_container"

    def _store(self) -> Any:
        context = self.context
        env = {
            "OS_PROJECT_ID": getattr(context, "project_id", None) or "",
            "OS_AUTH_TOKEN": getattr(context, "auth_token", None) or "",
        }
        return _swift_store(cinder_options(self.options), env)

    def _check_store(self) -> None:
        """With ``single_user``, the options make a store; with ``per_user`` (whose token
        comes with each request) ``backup_swift_url`` is set: docket does not look the
        storage URL up in Keystone's catalog, as Cinder's driver does without it."""
        if CONF.backup_swift_auth == "per_user":
            if not CONF.backup_swift_url:
                raise cinder_exception.InvalidConfigurationValue(
                    option="backup_swift_url", value=CONF.backup_swift_url
                )
            return
        super()._check_store()
