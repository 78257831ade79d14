"""Every error docket raises, importable from one place.

Each error is defined in the layer that raises it. The core's errors, the bases
``StoreError`` and ``BackupError`` (and ``DriverOptionError``, which every command maps to a usage
error), and the usage errors of commands and the library calls behind them (``UsageError``,
``CommandFailed``) are defined in :mod:`docket.core.errors`; the database ones (``Deadlock``,
``VolumeNotFound``, ``ValueTooLong``, ``KeyConflict``, ``BadDatabaseURL``,
``MissingDatabaseDriver``, ``DatabaseUnreachable``, ``MissingTable``) in :mod:`docket.store.errors`;
the backup drivers' and records' (``BackupNotFound``, ``BackupInUse``, ``InvalidBackup``,
``RecordError`` and its kinds, ``ForeignRecord``) in :mod:`docket.backup.errors`. Those two
modules are loaded on first use, so that importing this module loads no SQLAlchemy and no
backup driver.
"""

import importlib
from typing import TYPE_CHECKING, Any

from docket.core.errors import (
    BackupError,
    BackwardEdge,
    CommandFailed,
    CycleDetected,
    DanglingEdge,
    DigestMismatch,
    DocketError,
    DriverOptionError,
    DuplicateEdge,
    DuplicateKey,
    FileTooLarge,
    FingerprintMismatch,
    GraphError,
    IntegrityError,
    InvalidJSON,
    Issue,
    LimitExceeded,
    LocatedError,
    LossyMigration,
    MalformedVersion,
    MigrationError,
    MissingCinder,
    MissingVersion,
    MultipleHeads,
    NoMigrationPath,
    NonAdjacentEdge,
    NonFiniteNumber,
    NotAnObject,
    ParseError,
    PathSegment,
    RestoreError,
    RestoreRefused,
    SchemaDocumentError,
    SignatureError,
    StoreError,
    TrailingData,
    UnknownFamily,
    UnknownField,
    UnknownRule,
    UnknownVersion,
    UnreachableVersion,
    UnsafeFile,
    UnsoundMigration,
    UsageError,
    ValidationError,
    VersionAfterCurrent,
    VersionError,
    VersionTooNew,
    json_path,
    json_pointer,
    segments_of,
)

if TYPE_CHECKING:
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
    from docket.store.errors import (
        BadDatabaseURL,
        DatabaseUnreachable,
        Deadlock,
        InvalidValue,
        KeyConflict,
        MissingDatabaseDriver,
        MissingTable,
        ValueTooLong,
        VolumeNotFound,
    )

_LAZY = {
    **dict.fromkeys(
        (
            "BadDatabaseURL",
            "DatabaseUnreachable",
            "Deadlock",
            "InvalidValue",
            "KeyConflict",
            "MissingDatabaseDriver",
            "MissingTable",
            "ValueTooLong",
            "VolumeNotFound",
        ),
        "docket.store.errors",
    ),
    **dict.fromkeys(
        (
            "BackupInUse",
            "BackupNotFound",
            "ForeignRecord",
            "InvalidBackup",
            "MissingRecordFields",
            "RecordDecodeError",
            "RecordError",
            "RecordParseError",
        ),
        "docket.backup.errors",
    ),
}
"""The errors defined above the core, by the module that defines them: loaded on first use
(the store's module needs SQLAlchemy, the backup's loads the drivers)."""


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "BackupError",
    "BackupInUse",
    "BackupNotFound",
    "BackwardEdge",
    "BadDatabaseURL",
    "CommandFailed",
    "CycleDetected",
    "DanglingEdge",
    "DatabaseUnreachable",
    "Deadlock",
    "DigestMismatch",
    "DocketError",
    "DriverOptionError",
    "DuplicateEdge",
    "DuplicateKey",
    "FileTooLarge",
    "FingerprintMismatch",
    "ForeignRecord",
    "GraphError",
    "IntegrityError",
    "InvalidBackup",
    "InvalidJSON",
    "InvalidValue",
    "Issue",
    "KeyConflict",
    "LimitExceeded",
    "LocatedError",
    "LossyMigration",
    "MalformedVersion",
    "MigrationError",
    "MissingCinder",
    "MissingDatabaseDriver",
    "MissingRecordFields",
    "MissingTable",
    "MissingVersion",
    "MultipleHeads",
    "NoMigrationPath",
    "NonAdjacentEdge",
    "NonFiniteNumber",
    "NotAnObject",
    "ParseError",
    "PathSegment",
    "RecordDecodeError",
    "RecordError",
    "RecordParseError",
    "RestoreError",
    "RestoreRefused",
    "SchemaDocumentError",
    "SignatureError",
    "StoreError",
    "TrailingData",
    "UnknownFamily",
    "UnknownField",
    "UnknownRule",
    "UnknownVersion",
    "UnreachableVersion",
    "UnsafeFile",
    "UnsoundMigration",
    "UsageError",
    "ValidationError",
    "ValueTooLong",
    "VersionAfterCurrent",
    "VersionError",
    "VersionTooNew",
    "VolumeNotFound",
    "json_path",
    "json_pointer",
    "segments_of",
]
