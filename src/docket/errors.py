"""Every error docket raises, importable from one place.

The core's errors are defined in :mod:`docket.core.errors`; the command line's own
(``UsageError``, ``CommandFailed``) in :mod:`docket.cli.errors`, loaded on first use so that
importing this module loads no command-line library.
"""

from typing import Any

from docket.core.errors import (
    BackupError,
    BackupNotFound,
    CycleDetected,
    DanglingEdge,
    Deadlock,
    DigestMismatch,
    DocketError,
    DriverOptionError,
    DuplicateEdge,
    DuplicateKey,
    FingerprintMismatch,
    ForeignRecord,
    GraphError,
    IntegrityError,
    InvalidBackup,
    InvalidJSON,
    Issue,
    KeyConflict,
    LimitExceeded,
    LossyMigration,
    MalformedVersion,
    MigrationError,
    MissingRecordFields,
    MissingVersion,
    MultipleHeads,
    NoMigrationPath,
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
    UnknownFamily,
    UnknownField,
    UnknownRule,
    UnknownVersion,
    UnreachableVersion,
    ValidationError,
    ValueTooLong,
    VersionError,
    VersionTooNew,
    VolumeNotFound,
    json_path,
    json_pointer,
)

_CLI_ERRORS = frozenset({"CommandFailed", "UsageError"})


def __getattr__(name: str) -> Any:
    if name in _CLI_ERRORS:
        from docket.cli import errors

        return getattr(errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BackupError",
    "BackupNotFound",
    "CycleDetected",
    "DanglingEdge",
    "Deadlock",
    "DigestMismatch",
    "DocketError",
    "DriverOptionError",
    "DuplicateEdge",
    "DuplicateKey",
    "FingerprintMismatch",
    "ForeignRecord",
    "GraphError",
    "IntegrityError",
    "InvalidBackup",
    "InvalidJSON",
    "Issue",
    "KeyConflict",
    "LimitExceeded",
    "LossyMigration",
    "MalformedVersion",
    "MigrationError",
    "MissingRecordFields",
    "MissingVersion",
    "MultipleHeads",
    "NoMigrationPath",
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
    "UnknownFamily",
    "UnknownField",
    "UnknownRule",
    "UnknownVersion",
    "UnreachableVersion",
    "ValidationError",
    "ValueTooLong",
    "VersionError",
    "VersionTooNew",
    "VolumeNotFound",
    "json_path",
    "json_pointer",
]
