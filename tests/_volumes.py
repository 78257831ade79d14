"""Cinder-shaped volumes for the store tests: every column of a Cinder 29 volume row filled the
way a real cloud fills it, plus helpers to read tables back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from docket import store

TYPE_GOLD = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
TYPE_SILVER = "1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7081"
CREATED = dt.datetime(2026, 1, 2, 3, 4, 5, 123456)


def full_columns(volume_id: str, **overrides: Any) -> dict[str, Any]:
    """Every Cinder 29 column but id, with realistic values (no column left null)."""
    row: dict[str, Any] = {
        "_name_id": None,
        "use_quota": True,
        "ec2_id": None,
        "user_id": "5d4f3e2a1b0c4d5e6f7a8b9c0d1e2f3a",
        "project_id": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        "snapshot_id": None,
        "cluster_name": None,
        "host": "node1@lvm#pool",
        "availability_zone": "nova",
        "status": "available",
        "attach_status": "detached",
        "migration_status": None,
        "scheduled_at": CREATED + dt.timedelta(seconds=1),
        "launched_at": CREATED + dt.timedelta(seconds=3, microseconds=7),
        "terminated_at": None,
        "provider_location": f"10.0.0.1:3260,1 iqn.2010-10.org.openstack:volume-{volume_id} 1",
        "provider_auth": None,
        "provider_geometry": None,
        "provider_id": None,
        "source_volid": None,
        "encryption_key_id": None,
        "consistencygroup_id": None,
        "group_id": None,
        "bootable": False,
        "multiattach": False,
        "replication_status": "disabled",
        "replication_extended_status": None,
        "replication_driver_data": None,
        "previous_status": None,
        "service_uuid": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
        "shared_targets": True,
        "deleted_at": None,
        "created_at": CREATED,
        "updated_at": CREATED + dt.timedelta(minutes=5),
    }
    row.update(overrides)
    return row


def volume(
    engine: sa.Engine,
    volume_id: str,
    *,
    name: str | None = "vol-1",
    description: str | None = "test vol",
    type_id: str | None = TYPE_GOLD,
    metadata: Mapping[str, str | None] | None = None,
    glance: Mapping[str, Any] | None = None,
    **columns: Any,
) -> str:
    """A volume with every column filled (``columns`` override any)."""
    return store.create_volume(
        engine,
        volume_id=volume_id,
        display_name=name,
        display_description=description,
        size=1,
        volume_type_id=type_id,
        metadata=metadata,
        glance=glance,
        **full_columns(volume_id, **columns),
    )


def types(engine: sa.Engine) -> None:
    """The two volume types the tests use."""
    store.create_volume_type(engine, type_id=TYPE_GOLD, name="gold")
    store.create_volume_type(engine, type_id=TYPE_SILVER, name="silver")


def row(engine: sa.Engine, volume_id: str) -> dict[str, Any]:
    """The volume's row, typed."""
    table = store.cinder_metadata().tables["volumes"]
    with engine.connect() as conn:
        found = conn.execute(sa.select(table).where(table.c.id == volume_id)).one()
    return dict(found._mapping)


def entries(engine: sa.Engine, volume_id: str, table_name: str) -> dict[str, Any]:
    """The volume's live (not soft-deleted) metadata of a table, key -> value."""
    table = store.cinder_metadata().tables[table_name]
    stmt = sa.select(table.c.key, table.c.value).where(
        table.c.volume_id == volume_id, table.c.deleted == sa.false()
    )
    with engine.connect() as conn:
        return {k: v for k, v in conn.execute(stmt)}


def user_metadata(engine: sa.Engine, volume_id: str) -> dict[str, Any]:
    return entries(engine, volume_id, "volume_metadata")


def glance_metadata(engine: sa.Engine, volume_id: str) -> dict[str, Any]:
    return entries(engine, volume_id, "volume_glance_metadata")


def clear_volume(engine: sa.Engine, volume_id: str) -> None:
    """Delete a volume and its metadata rows outright (for reusing an id in a test)."""
    tables = store.cinder_metadata().tables
    with engine.begin() as conn:
        for name in ("volume_metadata", "volume_glance_metadata"):
            table = tables[name]
            conn.execute(sa.delete(table).where(table.c.volume_id == volume_id))
        volumes = tables["volumes"]
        conn.execute(sa.delete(volumes).where(volumes.c.id == volume_id))
