"""Every error docket raises, importable from one place.

The core's errors, and the usage errors of commands and the library calls behind them
(``UsageError``, ``CommandFailed``), are defined in :mod:`docket.core.errors`; the database ones
(``BadDatabaseURL``, ``MissingDatabaseDriver``, ``DatabaseUnreachable``, ``MissingTable``) in
:mod:`docket.store.errors`, loaded on first use so that importing this module loads no SQLAlchemy.
"""

from typing import Any

from docket.core.errors import (
    BackupError,
    BackupInUse,
    BackupNotFound,
    BackwardEdge,
    CommandFailed,
    CycleDetected,
    DanglingEdge,
    Deadlock,
    DigestMismatch,
    DocketError,
    DriverOptionError,
    DuplicateEdge,
    DuplicateKey,
    FileTooLarge,
    FingerprintMismatch,
    ForeignRecord,
    GraphError,
    IntegrityError,
    InvalidBackup,
    InvalidJSON,
    Issue,
    KeyConflict,
    LimitExceeded,
    LocatedError,
    LossyMigration,
    MalformedVersion,
    MigrationError,
    MissingRecordFields,
    MissingVersion,
    MultipleHeads,
    NoMigrationPath,
    NonAdjacentEdge,
    NonFiniteNumber,
    NotAnObject,
    ParseError,
    PathSegment,
    RecordDecodeError,
    RecordError,
    RecordParseError,
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
    ValueTooLong,
    VersionAfterCurrent,
    VersionError,
    VersionTooNew,
    VolumeNotFound,
    json_path,
    json_pointer,
    segments_of,
)

_DATABASE_ERRORS = frozenset(
    {
        "BadDatabaseURL",
        "DatabaseUnreachable",
        "InvalidValue",
        "MissingDatabaseDriver",
        "MissingTable",
    }
)


def __getattr__(name: str) -> Any:
    # Loaded on first use: the CLI's errors need click, the database ones SQLAlchemy.
    if name in _DATABASE_ERRORS:
        from docket.store import errors as store_errors

        return getattr(store_errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BackupError",
    "BackupInUse",
    "BackupNotFound",
    "BackwardEdge",
    "BadDatabaseURL",  # noqa: F822 (module __getattr__)
    "CommandFailed",
    "CycleDetected",
    "DanglingEdge",
    "DatabaseUnreachable",  # noqa: F822 (module __getattr__)
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
    "InvalidValue",  # noqa: F822 (module __getattr__)
    "Issue",
    "KeyConflict",
    "LimitExceeded",
    "LocatedError",
    "LossyMigration",
    "MalformedVersion",
    "MigrationError",
    "MissingDatabaseDriver",  # noqa: F822 (module __getattr__)
    "MissingRecordFields",
    "MissingTable",  # noqa: F822 (module __getattr__)
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
