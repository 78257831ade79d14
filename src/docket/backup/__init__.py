"""Backup drivers: the base class, backup records, the reference chunked POSIX driver, and the
errors they raise (each also importable from :mod:`docket.errors`)."""

from docket.backup._model import (
    Backup,
    BackupSummary,
    DeleteReport,
    ImportedRecord,
    MetadataAPI,
    Problem,
    Progress,
    RestoreReport,
    SkippedPath,
    VerifyReport,
)
from docket.backup.base import BackupDriver
from docket.backup.errors import (
    BackupInUse,
    BackupNotFound,
    ForeignRecord,
    InvalidBackup,
    MissingRecordFields,
    RecordDecodeError,
    RecordError,
    RecordParseError,
)
from docket.backup.posix import PosixBackupDriver
from docket.core.errors import BackupError, DriverOptionError, FileTooLarge, UnsafeFile

__all__ = [
    "Backup",
    "BackupDriver",
    "BackupError",
    "BackupInUse",
    "BackupNotFound",
    "BackupSummary",
    "DeleteReport",
    "DriverOptionError",
    "FileTooLarge",
    "ForeignRecord",
    "ImportedRecord",
    "InvalidBackup",
    "MetadataAPI",
    "MissingRecordFields",
    "PosixBackupDriver",
    "Problem",
    "Progress",
    "RecordDecodeError",
    "RecordError",
    "RecordParseError",
    "RestoreReport",
    "SkippedPath",
    "UnsafeFile",
    "VerifyReport",
]
