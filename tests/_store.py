"""What the store tests share: the volumes they back up and restore, and the family."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

import docket
from tests import _volumes as vols

CINDER_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")
SRC = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
DST = "8a7b6c5d-4e3f-4a2b-9c1d-0e1f2a3b4c5d"
OTHER = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
FAMILY = docket.load_registry().family("backup-metadata")


def source_volume(engine: sa.Engine, **kw: Any) -> str:
    """The volume backed up (SRC), with user and image metadata; the volume types made first."""
    vols.types(engine)
    kw.setdefault("metadata", {"fee": "fi", "fo": "fum"})
    kw.setdefault("glance", {"disk_format": "raw", "container_format": "bare", "min_ram": 512})
    return vols.volume(engine, SRC, **kw)


def target_volume(engine: sa.Engine, volume_id: str = DST, **kw: Any) -> str:
    """A volume Cinder made to restore into (status restoring-backup), with stale metadata."""
    kw.setdefault("name", f"restore_backup_{volume_id}")
    kw.setdefault("description", None)
    kw.setdefault("metadata", {"fee": "old", "stale": "x"})
    kw.setdefault("glance", {"disk_format": "qcow2", "old_key": "1"})
    return vols.volume(engine, volume_id, status="restoring-backup", **kw)
