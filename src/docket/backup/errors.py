"""The errors backup drivers and backup records raise; :mod:`docket.errors` exports them too.

The base, :class:`~docket.core.errors.BackupError`, and
:class:`~docket.core.errors.DriverOptionError` are defined in :mod:`docket.core.errors`: every
command maps a ``DriverOptionError`` to exit 2, `docket validate` included, which loads no backup
driver. They are re-exported here so that a driver author finds every backup error in one
module.
"""

from __future__ import annotations

from collections.abc import Sequence

from docket.core.errors import BackupError, DriverOptionError

__all__ = [
    "BackupError",
    "BackupInUse",
    "BackupNotFound",
    "DriverOptionError",
    "ForeignRecord",
    "InvalidBackup",
    "ListingTooLong",
    "MissingRecordFields",
    "MissingStoreClient",
    "ObjectStoreAuthError",
    "ObjectStoreError",
    "RecordDecodeError",
    "RecordError",
    "RecordParseError",
]


class BackupNotFound(BackupError, LookupError):
    """No backup with that id is stored where the driver looks."""


class BackupInUse(BackupError):
    """Other backups build on this one (incrementals name it as their parent), so deleting
    it would leave them unrestorable; ``children`` are their ids."""

    def __init__(self, backup_id: str, children: Sequence[str]) -> None:
        self.children = tuple(children)
        super().__init__(
            "incremental backups build on it: " + ", ".join(self.children),
            backup_id=backup_id,
            hint="delete those first, or delete it anyway with force=True; they "
            "can then no longer be restored",
        )


class InvalidBackup(BackupError, ValueError):
    """The stored backup is incomplete, corrupt, or in a format this driver does not read."""


class RecordError(BackupError, ValueError):
    """A backup record cannot be imported."""


class RecordDecodeError(RecordError):
    """The record is not base64 text (Cinder: "Can't decode backup record.")."""


class RecordParseError(RecordError):
    """The decoded record is not a JSON object (Cinder: "Can't parse backup record.")."""


class MissingRecordFields(RecordError):
    """The record lacks fields an import needs."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            "the backup record is missing required field(s): " + ", ".join(self.missing),
            path=self.missing[:1],
            hint="export the record again from the backup service that made it",
        )


class ForeignRecord(RecordError):
    """The record belongs to another family or backup service."""


class ObjectStoreError(BackupError):
    """An object store failed a request after the retries its options allow: an HTTP error,
    a connection refused, reset or stalled, a timeout, or a listing that does not progress."""


class ListingTooLong(ObjectStoreError):
    """A listing passed the most names docket reads of one (a listing that never ends)."""


class ObjectStoreAuthError(ObjectStoreError):
    """The object store refused the credentials (HTTP 401 or 403)."""


class MissingStoreClient(DriverOptionError):
    """The client library an object store needs is not installed (an extra of docket's)."""

    def __init__(self, store: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            f"the {store} store needs a client library that is not installed",
            hint=f"pip install 'docket[{extra}]'",
        )
