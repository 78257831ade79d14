"""docket's backup drivers inside Cinder: classes a ``cinder-backup`` service loads.

Set ``backup_driver`` in ``cinder.conf`` (docket installed into the environment
``cinder-backup`` runs from) to one of:

- ``docket.cinder.PosixBackupDriver`` (Cinder's ``backup_posix_path``, ``backup_file_size``,
  ``backup_sha_block_size_bytes``, ``backup_container``);
- ``docket.cinder.SwiftBackupDriver`` (Cinder's ``backup_swift_*`` options);
- ``docket.cinder.S3BackupDriver`` (Cinder's ``backup_s3_*`` options).

Each takes Cinder's own options with Cinder's defaults (and ``backup_compression_algorithm``,
``backup_metadata_version``, ``storage_availability_zone``, ``[database] connection``), backs
up with docket's chunked engine in the layout of Cinder's driver for the store, and reads and
restores the volume metadata container through docket, on Cinder's own database.
``[docket] signing_key_file`` signs the containers (version 3).

This is an integration module: it imports Cinder, and outside a Cinder environment importing
it fails with :class:`~docket.errors.MissingCinder`, saying what to install. The Swift and S3
classes are imported when first named (they need python-swiftclient or boto3). Nothing else
in docket imports it.
"""

from __future__ import annotations

from typing import Any

from docket.core.errors import MissingCinder

try:
    import cinder.backup.driver  # noqa: F401
except ImportError as err:
    raise MissingCinder(str(err)) from None

from docket.cinder.posix import PosixBackupDriver

__all__ = ["PosixBackupDriver", "S3BackupDriver", "SwiftBackupDriver"]


def __getattr__(name: str) -> Any:
    if name == "SwiftBackupDriver":
        from docket.cinder.swift import SwiftBackupDriver

        return SwiftBackupDriver
    if name == "S3BackupDriver":
        from docket.cinder.s3 import S3BackupDriver

        return S3BackupDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
