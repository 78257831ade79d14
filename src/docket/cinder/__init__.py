"""docket's backup drivers inside Cinder: classes a ``cinder-backup`` service loads.

Set ``backup_driver = docket.cinder.PosixBackupDriver`` in ``cinder.conf`` (docket installed
into the environment ``cinder-backup`` runs from). The driver takes Cinder's own options
(``backup_posix_path``, ``backup_file_size``, ``backup_sha_block_size_bytes``,
``backup_compression_algorithm``, ``backup_container``, ``backup_metadata_version``,
``[database] connection``) with Cinder's defaults, backs up with docket's chunked engine in
Cinder's POSIX layout, and reads and restores the volume metadata container through docket, on
Cinder's own database. ``[docket] signing_key_file`` signs the containers (version 3).

This is an integration module: it imports Cinder, and outside a Cinder environment importing
it fails with :class:`~docket.errors.MissingCinder`, saying what to install. Nothing else in
docket imports it.
"""

from __future__ import annotations

from docket.core.errors import MissingCinder

try:
    import cinder.backup.driver  # noqa: F401
except ImportError as err:
    raise MissingCinder(str(err)) from None

from docket.cinder.posix import PosixBackupDriver

__all__ = ["PosixBackupDriver"]
