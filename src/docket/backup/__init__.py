"""Backup drivers: the base class, backup records, and the reference chunked POSIX driver."""

from docket.backup._model import (
    Backup,
    ImportedRecord,
    MetadataAPI,
    Problem,
    Progress,
    RestoreReport,
    VerifyReport,
)
from docket.backup.base import BackupDriver

__all__ = [
    "Backup",
    "BackupDriver",
    "ImportedRecord",
    "MetadataAPI",
    "Problem",
    "Progress",
    "RestoreReport",
    "VerifyReport",
]
