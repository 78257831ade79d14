"""The baseline: the seed's ``BackupMetadataAPI`` way of working, on a plain DB-API driver.

The 2014 seed (``/work/shared/seed``) reads a volume with three queries (the row, its user
metadata, its glance metadata), checks that every value serializes with ``json.dumps``, and
restores row at a time: one statement per metadata key and a commit per volume. This module
does exactly that, with the restore rules Cinder has today (so it writes what docket writes),
on ``sqlite3`` or ``psycopg`` directly: no ORM, no SQLAlchemy, reused connection, statements
the driver caches. It is the fastest honest version of that pattern, not a straw man; where
the seed wasted work (Cinder re-reads the target row per rule and looks each glance key up
before inserting it after deleting them all) the baseline does not.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

LOG = logging.getLogger(__name__)

BASE = "volume-base-metadata"
USER = "volume-metadata"
GLANCE = "volume-glance-metadata"
RESTORE_PREFIX = "restore_backup_"

# The restore factory of each version: section -> fields ([] = all), as Cinder has it.
_FIELDS: dict[int, dict[str, list[str]]] = {
    1: {BASE: ["display_name", "display_description"], USER: [], GLANCE: []},
    2: {BASE: ["display_name", "display_description", "encryption_key_id"], USER: [], GLANCE: []},
}


class UnsupportedVersion(ValueError):
    """The seed's ``BackupMetadataUnsupportedVersion``."""


class RestoreFailed(ValueError):
    """The seed's ``EncryptedBackupOperationFailed`` / volume type not found."""


class Connection(Protocol):
    """What the baseline needs of a DB-API connection (``sqlite3`` and ``psycopg`` both have it)."""

    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...

    def cursor(self) -> Any: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


def _to_cinder_time(value: Any) -> Any:
    # Cinder's jsonutils writes datetimes as %Y-%m-%dT%H:%M:%S.%f.
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value


class SeedMetadataAPI:
    """Cinder's ``BackupMetadataAPI.get``/``put``, the seed's way, on a DB-API connection.

    ``dialect`` is ``"sqlite"`` (``sqlite3``: booleans and datetimes come back as numbers and
    text and are converted by declared column type) or ``"postgresql"`` (``psycopg``: they
    come back typed).
    """

    def __init__(self, conn: Connection, *, dialect: str, version: int = 2) -> None:
        self.conn = conn
        self.dialect = dialect
        self.version = version
        cur = conn.execute("SELECT * FROM volumes WHERE 1 = 0")
        self._columns = [d[0] for d in cur.description]
        cur.fetchall()
        self._convert = self._converters() if dialect == "sqlite" else None

    def _sql(self, text: str) -> str:
        return text if self.dialect == "sqlite" else text.replace("?", "%s")

    def _converters(self) -> list[Any]:
        decl = {
            row[1]: str(row[2]).upper()
            for row in self.conn.execute("PRAGMA table_info(volumes)").fetchall()
        }

        def as_bool(v: Any) -> Any:
            return None if v is None else bool(v)

        def as_time(v: Any) -> Any:
            # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" in SQLite.
            return None if v is None else v.replace(" ", "T", 1)

        out: list[Any] = []
        for name in self._columns:
            kind = decl.get(name, "")
            out.append(as_bool if "BOOL" in kind else as_time if "DATETIME" in kind else None)
        return out

    def _now(self) -> Any:
        now = datetime.now(UTC).replace(tzinfo=None)
        return now.strftime("%Y-%m-%d %H:%M:%S.%f") if self.dialect == "sqlite" else now

    @staticmethod
    def _is_serializable(value: Any) -> bool:
        try:
            json.dumps(value)
        except TypeError:
            LOG.info("Value with type=%s is not serializable", type(value))
            return False
        return True

    # --- get ---------------------------------------------------------------------------------

    def _save_vol_base_meta(self, container: dict[str, Any], volume_id: str) -> None:
        row = self.conn.execute(
            self._sql("SELECT * FROM volumes WHERE id = ? AND deleted = ?"), (volume_id, False)
        ).fetchone()
        if row is None:
            return
        section: dict[str, Any] = {}
        if self._convert is not None:
            pairs = zip(self._columns, self._convert, row, strict=True)
            values = [(k, v if f is None else f(v)) for k, f, v in pairs]
        else:
            values = [(k, _to_cinder_time(v)) for k, v in zip(self._columns, row, strict=True)]
        for key, value in values:
            if not self._is_serializable(value):
                LOG.info("Unable to serialize field '%s' - excluding from backup", key)
                continue
            section[key] = value
        container[BASE] = section

    def _save_kv(self, container: dict[str, Any], tag: str, table: str, volume_id: str) -> None:
        rows = self.conn.execute(
            self._sql(f"SELECT key, value FROM {table} WHERE volume_id = ? AND deleted = ?"),
            (volume_id, False),
        ).fetchall()
        if not rows:
            return
        section: dict[str, Any] = {}
        for key, value in rows:
            if not self._is_serializable(value):
                LOG.info("Unable to serialize field '%s' - excluding from backup", key)
                continue
            section[key] = value
        container[tag] = section

    def get(self, volume_id: str) -> str:
        """The volume's metadata container as JSON text (three queries)."""
        container: dict[str, Any] = {"version": self.version}
        self._save_vol_base_meta(container, volume_id)
        self._save_kv(container, USER, "volume_metadata", volume_id)
        self._save_kv(container, GLANCE, "volume_glance_metadata", volume_id)
        return json.dumps(container)

    # --- put ---------------------------------------------------------------------------------

    @staticmethod
    def _filter(metadata: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        if not fields:
            return metadata
        return {f: metadata[f] for f in fields if f in metadata}

    def _restore_vol_base_meta(
        self, metadata: dict[str, Any], volume_id: str, fields: list[str]
    ) -> None:
        target = self.conn.execute(
            self._sql("SELECT display_name, volume_type_id FROM volumes WHERE id = ?"),
            (volume_id,),
        ).fetchone()
        if target is None:
            raise RestoreFailed(f"volume {volume_id} not found")
        name, type_id = target
        excludes: set[str] = set()
        if (
            "display_name" in fields
            and "display_name" in metadata
            and (not metadata["display_name"] or (name and not name.startswith(RESTORE_PREFIX)))
        ):
            excludes = {"display_name", "display_description"}
        if "encryption_key_id" in fields and metadata.get("encryption_key_id") is not None:
            source_type = metadata["volume_type_id"]
            if type_id is None:
                found = self.conn.execute(
                    self._sql("SELECT id FROM volume_types WHERE id = ? AND deleted = ?"),
                    (source_type, False),
                ).fetchone()
                if found is None:
                    raise RestoreFailed(f"volume type {source_type} not found")
                self.conn.execute(
                    self._sql("UPDATE volumes SET volume_type_id = ? WHERE id = ?"),
                    (source_type, volume_id),
                )
            elif type_id != source_type:
                raise RestoreFailed("the backup's volume type differs from the volume's")
        values = {
            k: v for k, v in self._filter(metadata, fields).items() if k not in excludes
        }
        if values:
            # Column names come from the fixed allowlist above, never from the container.
            sets = ", ".join(f"{k} = ?" for k in values)
            self.conn.execute(
                self._sql(f"UPDATE volumes SET {sets}, updated_at = ? WHERE id = ?"),
                (*values.values(), self._now(), volume_id),
            )

    def _restore_vol_meta(
        self, metadata: dict[str, Any], volume_id: str, fields: list[str]
    ) -> None:
        # Cinder's volume_metadata_update(..., delete=True), one statement per key.
        metadata = self._filter(metadata, fields)
        now = self._now()
        existing = {
            key: (row_id, value)
            for row_id, key, value in self.conn.execute(
                self._sql(
                    "SELECT id, key, value FROM volume_metadata WHERE volume_id = ? AND deleted = ?"
                ),
                (volume_id, False),
            ).fetchall()
        }
        for key, (row_id, _) in existing.items():
            if key not in metadata:
                self.conn.execute(
                    self._sql(
                        "UPDATE volume_metadata SET deleted = ?, deleted_at = ?, updated_at = ?"
                        " WHERE id = ?"
                    ),
                    (True, now, now, row_id),
                )
        for key, value in metadata.items():
            if key in existing:
                row_id, old = existing[key]
                if old != value:
                    self.conn.execute(
                        self._sql(
                            "UPDATE volume_metadata SET value = ?, updated_at = ? WHERE id = ?"
                        ),
                        (value, now, row_id),
                    )
            else:
                self.conn.execute(
                    self._sql(
                        "INSERT INTO volume_metadata (volume_id, key, value, created_at, deleted)"
                        " VALUES (?, ?, ?, ?, ?)"
                    ),
                    (volume_id, key, value, now, False),
                )

    def _restore_vol_glance_meta(
        self, metadata: dict[str, Any], volume_id: str, fields: list[str]
    ) -> None:
        metadata = self._filter(metadata, fields)
        now = self._now()
        self.conn.execute(
            self._sql(
                "UPDATE volume_glance_metadata SET deleted = ?, deleted_at = ?, updated_at = ?"
                " WHERE volume_id = ? AND deleted = ?"
            ),
            (True, now, now, volume_id, False),
        )
        for key, value in metadata.items():
            self.conn.execute(
                self._sql(
                    "INSERT INTO volume_glance_metadata"
                    " (volume_id, key, value, created_at, deleted) VALUES (?, ?, ?, ?, ?)"
                ),
                (volume_id, key, str(value), now, False),
            )
        self.conn.execute(
            self._sql("UPDATE volumes SET bootable = ?, updated_at = ? WHERE id = ?"),
            (True, now, volume_id),
        )

    def put(self, volume_id: str, json_metadata: str | bytes, *, commit: bool = True) -> None:
        """Restore a container into ``volume_id``, a statement per key, one commit (none with
        ``commit=False``: the caller commits many restores at once)."""
        container = json.loads(json_metadata)
        version = container["version"]
        if type(version) is not int or version not in _FIELDS:
            raise UnsupportedVersion(f"Unsupported backup metadata version ({version!r})")
        factory = {
            BASE: self._restore_vol_base_meta,
            USER: self._restore_vol_meta,
            GLANCE: self._restore_vol_glance_meta,
        }
        try:
            for tag, fields in _FIELDS[version].items():
                if tag in container:
                    factory[tag](container[tag], volume_id, fields)
        except BaseException:
            self.conn.rollback()
            raise
        if commit:
            self.conn.commit()
