"""docket.store: Cinder's ``BackupMetadataAPI`` on SQLAlchemy, over Cinder's own tables.

The implementation lives in the package's modules: :mod:`~docket.store.api` (the API, engines,
demo databases), :mod:`~docket.store.engines` (a URL checked and opened: :func:`open_engine`),
:mod:`~docket.store.tables` (the table layout and reflection), :mod:`~docket.store.sql`
(statements compiled once per dialect), :mod:`~docket.store.restore` (the all-or-nothing
restore engine) and :mod:`~docket.store.values` (database values to a version's JSON values
and back).
"""

from docket.core.errors import StoreError
from docket.store.api import (
    FAMILY,
    BackupMetadataAPI,
    create_volume,
    create_volume_type,
    init_db,
    make_engine,
)
from docket.store.engines import open_engine
from docket.store.errors import (
    BadDatabaseURL,
    ConnectionLost,
    DatabaseUnreachable,
    Deadlock,
    KeyConflict,
    LockTimeout,
    MissingDatabaseDriver,
    MissingTable,
    UnstorableValue,
    ValueOutOfRange,
    ValueTooLong,
    VolumeNotFound,
)
from docket.store.restore import RestoreResult
from docket.store.tables import cinder_metadata
from docket.store.values import Unserializable

__all__ = [
    "FAMILY",
    "BackupMetadataAPI",
    "BadDatabaseURL",
    "ConnectionLost",
    "DatabaseUnreachable",
    "Deadlock",
    "KeyConflict",
    "LockTimeout",
    "MissingDatabaseDriver",
    "MissingTable",
    "RestoreResult",
    "StoreError",
    "Unserializable",
    "UnstorableValue",
    "ValueOutOfRange",
    "ValueTooLong",
    "VolumeNotFound",
    "cinder_metadata",
    "create_volume",
    "create_volume_type",
    "init_db",
    "make_engine",
    "open_engine",
]
