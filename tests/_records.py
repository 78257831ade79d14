"""The backup the record tests export: one nightly POSIX backup, its fields as Cinder keeps them."""

from __future__ import annotations

from typing import Any

from docket.backup import Backup

BACKUP_ID = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"


def nightly(volume_id: str, **fields: Any) -> Backup:
    """The nightly backup of ``volume_id`` (``fields`` override any of its values)."""
    values: dict[str, Any] = {
        "display_name": "nightly",
        "display_description": "before the upgrade",
        "container": f"5e/6f/{BACKUP_ID}",
        "service_metadata": f"volume_{volume_id[:4]}_20260102030405_backup_5e6f",
        "service": "docket.backup.posix.PosixBackupDriver",
        "size": 2,
        "object_count": 7,
        "created_at": "2026-01-02T03:04:05.123456Z",
    }
    values.update(fields)
    return Backup(id=BACKUP_ID, volume_id=volume_id, **values)
