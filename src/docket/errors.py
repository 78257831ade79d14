"""Every error docket raises, importable from one place.

Each error is defined in the layer that raises it. The core's errors, the bases
``StoreError`` and ``BackupError`` (and ``DriverOptionError``, which every command maps to a usage
error), and the usage errors of commands and the library calls behind them (``UsageError``,
``CommandFailed``) are defined in :mod:`docket.core.errors`; the database ones (``Deadlock``,
``VolumeNotFound``, ``ValueTooLong``, ``ValueOutOfRange``, ``KeyConflict``, ``BadDatabaseURL``,
``MissingDatabaseDriver``, ``DatabaseUnreachable``, ``ConnectionLost``, ``LockTimeout``,
``MissingTable``) in :mod:`docket.store.errors`;
the backup drivers' and records' (``BackupNotFound``, ``BackupInUse``, ``InvalidBackup``,
``RecordError`` and its kinds, ``ForeignRecord``) in :mod:`docket.backup.errors`. Those two
modules are loaded on first use, so that importing this module loads no SQLAlchemy and no
backup driver.
"""

from typing import TYPE_CHECKING

from docket._lazy import lazy_exports
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
    from docket.backup.errors import *  # noqa: F403  (types only: loaded lazily below)
    from docket.store.errors import *  # noqa: F403

__getattr__ = lazy_exports(
    __name__,
    {
        "docket.store.errors": """BadDatabaseURL ConnectionLost DatabaseUnreachable Deadlock
            InvalidValue KeyConflict LockTimeout MissingDatabaseDriver MissingTable
            UnstorableValue ValueOutOfRange ValueTooLong VolumeNotFound""",
        "docket.backup.errors": """BackupInUse BackupNotFound ForeignRecord InvalidBackup
            ListingTooLong MissingRecordFields MissingStoreClient ObjectStoreAuthError
            ObjectStoreError RecordDecodeError RecordError RecordParseError""",
    },
)
"""The errors defined above the core, by the module that defines them: loaded on first use
(the store's module needs SQLAlchemy, the backup's loads the drivers)."""


__all__ = [
    "BackupError",
    "BackupInUse",
    "BackupNotFound",
    "BackwardEdge",
    "BadDatabaseURL",
    "CommandFailed",
    "ConnectionLost",
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
    "ListingTooLong",
    "LocatedError",
    "LockTimeout",
    "LossyMigration",
    "MalformedVersion",
    "MigrationError",
    "MissingCinder",
    "MissingDatabaseDriver",
    "MissingRecordFields",
    "MissingStoreClient",
    "MissingTable",
    "MissingVersion",
    "MultipleHeads",
    "NoMigrationPath",
    "NonAdjacentEdge",
    "NonFiniteNumber",
    "NotAnObject",
    "ObjectStoreAuthError",
    "ObjectStoreError",
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
    "UnstorableValue",
    "UsageError",
    "ValidationError",
    "ValueOutOfRange",
    "ValueTooLong",
    "VersionAfterCurrent",
    "VersionError",
    "VersionTooNew",
    "VolumeNotFound",
    "json_path",
    "json_pointer",
    "segments_of",
]
