"""Benchmark data: a Cinder-shaped database of volumes with metadata, and container files.

Every volume has 20 user-metadata and 20 glance entries (plus one soft-deleted row of each,
which both contenders must skip), as the issue asks. For the restore case each source volume
has a target: a volume created for the restore, named ``restore_backup_<id>`` the way Cinder
names it, with a few metadata entries of its own so the replace paths delete and insert.
Values are deterministic for a given seed, so two runs build the same data.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

USER_ENTRIES = 20
GLANCE_ENTRIES = 20
TARGET_USER_ENTRIES = 5
TARGET_GLANCE_ENTRIES = 5
VOLUME_TYPES = 4
_CHUNK = 5_000

_GLANCE_KEYS = (
    "image_id",
    "image_name",
    "checksum",
    "container_format",
    "disk_format",
    "min_disk",
    "min_ram",
    "size",
    "architecture",
    "hw_disk_bus",
    "hw_scsi_model",
    "hw_qemu_guest_agent",
    "os_distro",
    "os_type",
    "os_version",
    "owner",
    "hypervisor_type",
    "signature_verified",
    "base_image_ref",
    "instance_uuid",
)
assert len(_GLANCE_KEYS) == GLANCE_ENTRIES


def tables() -> sa.MetaData:
    """Cinder's tables as docket's store declares them."""
    from docket.store import cinder_metadata

    return cinder_metadata()


@dataclass(frozen=True)
class Dataset:
    """What was built: source volumes and, index for index, the volumes they restore into."""

    sources: list[str]
    targets: list[str]
    volume_types: list[str]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _volume_columns(
    rng: random.Random, i: int, vid: str, type_id: str, when: datetime
) -> dict[str, Any]:
    """Every column Cinder 29 has on a volume row, with values like a real cloud's."""
    encrypted = i % 10 == 0
    return {
        "id": vid,
        "_name_id": None,
        "use_quota": True,
        "ec2_id": None,
        "user_id": f"{rng.getrandbits(128):032x}",
        "project_id": f"{rng.getrandbits(128):032x}",
        "snapshot_id": None,
        "cluster_name": None,
        "host": f"node-{i % 7}@lvm#pool-{i % 3}",
        "size": 1 + i % 100,
        "availability_zone": "nova",
        "status": "available",
        "attach_status": "detached",
        "migration_status": None,
        "scheduled_at": when + timedelta(seconds=1, microseconds=250),
        "launched_at": when + timedelta(seconds=3, microseconds=125_000),
        "terminated_at": None,
        "display_name": f"vol-{i:06d}",
        "display_description": f"benchmark volume {i} (ünïcode too)",
        "provider_location": f"10.0.{i % 250}.1:3260,1 iqn.2010-10.org.openstack:volume-{vid} 1",
        "provider_auth": None,
        "provider_geometry": None,
        "provider_id": None,
        "volume_type_id": type_id,
        "source_volid": None,
        "encryption_key_id": _uuid(rng) if encrypted else None,
        "consistencygroup_id": None,
        "group_id": None,
        "bootable": i % 2 == 0,
        "multiattach": False,
        "replication_status": "disabled",
        "replication_extended_status": None,
        "replication_driver_data": None,
        "previous_status": None,
        "service_uuid": _uuid(rng),
        "shared_targets": True,
        "deleted_at": None,
        "deleted": False,
        "created_at": when,
        "updated_at": when + timedelta(minutes=5, microseconds=1),
    }


def _fit(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` restricted to ``table``'s columns; a required column we cannot fill is an error."""
    out = {}
    for col in table.columns:
        if col.name in row:
            out[col.name] = row[col.name]
        elif (
            not col.nullable
            and col.default is None
            and col.server_default is None
            and not (col.primary_key and col.autoincrement in (True, "auto"))
        ):
            raise RuntimeError(f"the benchmark cannot fill required column {col}")
    return out


def _meta_row(vid: str, key: str, value: str, when: datetime, deleted: bool) -> dict[str, Any]:
    return {
        "volume_id": vid,
        "key": key,
        "value": value,
        "created_at": when,
        "updated_at": None,
        "deleted_at": when if deleted else None,
        "deleted": deleted,
    }


def _glance_value(rng: random.Random, key: str, i: int) -> str:
    if key in ("image_id", "owner", "base_image_ref", "instance_uuid"):
        return _uuid(rng)
    if key == "checksum":
        return f"{rng.getrandbits(128):032x}"
    if key in ("min_disk", "min_ram", "size"):
        return str(rng.randrange(1, 1 << 31))
    if key == "signature_verified":
        return "False"
    return f"{key}-{i % 13}"


def _rows(
    n: int, seed: int, type_ids: list[str]
) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
    """(table, volume row, user-metadata rows, glance rows) for sources then targets."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 2, 3, 4, 5, 123456)
    sources = [_uuid(rng) for _ in range(n)]
    for i, vid in enumerate(sources):
        when = start + timedelta(seconds=37 * i, microseconds=i % 1_000_000)
        vol = _volume_columns(rng, i, vid, type_ids[i % len(type_ids)], when)
        user = [
            _meta_row(vid, f"key-{k:02d}", f"value {k} of volume {i}: {rng.getrandbits(64):x}",
                      when, False)
            for k in range(USER_ENTRIES)
        ]
        user.append(_meta_row(vid, "key-gone", "soft-deleted", when, True))
        glance = [
            _meta_row(vid, key, _glance_value(rng, key, i), when, False) for key in _GLANCE_KEYS
        ]
        glance.append(_meta_row(vid, "gone", "soft-deleted", when, True))
        yield "source", vol, user, glance
    for i, src in enumerate(sources):
        vid = _uuid(rng)
        when = start + timedelta(days=30, seconds=11 * i)
        vol = _volume_columns(rng, i, vid, type_ids[i % len(type_ids)], when)
        vol.update(
            display_name=f"restore_backup_{src}",
            display_description=None,
            status="restoring-backup",
            encryption_key_id=None,
            bootable=False,
        )
        # Half the keys are the backup's too (an update), half only the target's (a delete).
        user = [
            _meta_row(vid, f"key-{k * 7:02d}", f"old {k}", when, False)
            for k in range(TARGET_USER_ENTRIES)
        ]
        glance = [
            _meta_row(vid, key, f"old {key}", when, False)
            for key in _GLANCE_KEYS[:TARGET_GLANCE_ENTRIES]
        ]
        yield "target", vol, user, glance


def populate(engine: sa.Engine, n: int, *, seed: int = 7) -> Dataset:
    """Create Cinder's tables on ``engine`` and fill them; return the volume ids."""
    from docket.store import init_db

    init_db(engine)
    meta = tables()
    volumes = meta.tables["volumes"]
    user_t = meta.tables["volume_metadata"]
    glance_t = meta.tables["volume_glance_metadata"]
    types_t = meta.tables["volume_types"]
    rng = random.Random(seed + 1)
    when = datetime(2025, 12, 1, 0, 0, 0, 1)
    type_ids = [_uuid(rng) for _ in range(VOLUME_TYPES)]
    data = Dataset([], [], type_ids)
    type_rows = [
        _fit(
            types_t,
            {
                "id": t,
                "name": f"type-{k}",
                "description": f"volume type {k}",
                "is_public": True,
                "created_at": when,
                "updated_at": None,
                "deleted_at": None,
                "deleted": False,
            },
        )
        for k, t in enumerate(type_ids)
    ]
    batches: dict[str, list[dict[str, Any]]] = {"v": [], "u": [], "g": []}

    def flush(conn: sa.Connection) -> None:
        for key, table in (("v", volumes), ("u", user_t), ("g", glance_t)):
            if batches[key]:
                conn.execute(table.insert(), batches[key])
                batches[key].clear()

    with engine.begin() as conn:
        conn.execute(types_t.insert(), type_rows)
        for kind, vol, user, glance in _rows(n, seed, type_ids):
            (data.sources if kind == "source" else data.targets).append(vol["id"])
            batches["v"].append(_fit(volumes, vol))
            batches["u"].extend(_fit(user_t, r) for r in user)
            batches["g"].extend(_fit(glance_t, {**r, "snapshot_id": None}) for r in glance)
            if len(batches["v"]) >= _CHUNK // 10:
                flush(conn)
        flush(conn)
    return data


def _cinder_value(value: Any) -> Any:
    # Cinder's jsonutils writes datetimes as %Y-%m-%dT%H:%M:%S.%f.
    return value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value


def containers(n: int, *, seed: int = 7) -> list[str]:
    """The v2 containers Cinder writes for the ``n`` source volumes :func:`populate` builds
    with the same seed (all 40 columns), as Cinder's ``json.dumps`` text; no database needed."""
    out = []
    rng_types = random.Random(seed + 1)
    type_ids = [_uuid(rng_types) for _ in range(VOLUME_TYPES)]
    for kind, vol, user, glance in _rows(n, seed, type_ids):
        if kind != "source":
            break
        container: dict[str, Any] = {
            "version": 2,
            "volume-base-metadata": {k: _cinder_value(v) for k, v in vol.items()},
            "volume-metadata": {r["key"]: r["value"] for r in user if not r["deleted"]},
            "volume-glance-metadata": {r["key"]: r["value"] for r in glance if not r["deleted"]},
        }
        out.append(json.dumps(container))
    return out


COMPACT_COLUMNS = (
    *("id", "user_id", "project_id", "host", "size", "availability_zone", "status"),
    *("display_name", "volume_type_id", "bootable", "created_at", "updated_at"),
)
"""The base columns of :func:`compact_container`."""


def compact_container(seed: int = 7) -> str:
    """A v2 container of about 1.5 KB as Cinder's ``json.dumps`` writes it: twelve volume
    columns, 20 user-metadata entries and 20 glance entries with short values (issue 26's
    smaller container, where the cost per call shows most)."""
    full = json.loads(containers(1, seed=seed)[0])
    base = full["volume-base-metadata"]
    glance = full["volume-glance-metadata"]
    container = {
        "version": 2,
        "volume-base-metadata": {k: base[k] for k in COMPACT_COLUMNS},
        "volume-metadata": {f"key-{i:02d}": f"value-{i:02d}" for i in range(USER_ENTRIES)},
        "volume-glance-metadata": {k: v[:8] for k, v in glance.items()},
    }
    return json.dumps(container)


# --- container files -------------------------------------------------------------------------

# Each defect makes a container invalid under its version's schema, or unreadable; together
# they cover types, patterns, bounds, lengths, unknown versions and broken JSON.
_DEFECTS: tuple[tuple[str, Callable[[dict[str, Any]], None]], ...] = (
    ("negative size", lambda c: c["volume-base-metadata"].__setitem__("size", -1)),
    ("name not a string", lambda c: c["volume-base-metadata"].__setitem__("display_name", 12)),
    ("bad timestamp", lambda c: c["volume-base-metadata"].__setitem__("created_at", "yesterday")),
    ("metadata value too long", lambda c: c["volume-metadata"].__setitem__("key-03", "x" * 300)),
    ("metadata value a number", lambda c: c["volume-metadata"].__setitem__("key-04", 4)),
    ("empty metadata key", lambda c: c["volume-metadata"].__setitem__("", "empty key")),
    ("section not an object", lambda c: c.__setitem__("volume-glance-metadata", ["a", "b"])),
    ("unknown version", lambda c: c.__setitem__("version", 9)),
    ("version as text", lambda c: c.__setitem__("version", "2")),
    ("no version", lambda c: c.pop("version")),
)


@dataclass(frozen=True)
class Corpus:
    """A JSONL file of containers and which of its lines (1-based) were made invalid."""

    path: Path
    lines: int
    invalid: frozenset[int]
    versions: dict[int, int]
    """How many lines are at each version (before defects)."""


def _vary(container: dict[str, Any], line: int) -> None:
    # Lines differ from each other, as a real set of backups would.
    base = container["volume-base-metadata"]
    base["display_name"] = f"{base['display_name']}-{line}"
    base["size"] = 1 + line % 500


def write_corpus(
    path: Path,
    containers: list[str],
    lines: int,
    *,
    invalid_every: int = 50,
    seed: int = 11,
) -> Corpus:
    """Write ``lines`` containers to ``path``: mostly v2 as Cinder writes them, some v1 and v3
    (upgraded by docket, with a digest), and every ``invalid_every``-th line broken."""
    import docket

    family = docket.load_registry().family("backup-metadata")
    rng = random.Random(seed)
    invalid: set[int] = set()
    versions = {1: 0, 2: 0, 3: 0}
    with open(path, "wb") as out:
        for line in range(1, lines + 1):
            obj = orjson.loads(containers[(line - 1) % len(containers)])
            _vary(obj, line)
            pick = line % 20
            version = 1 if pick == 1 else 3 if pick in (2, 3) else 2
            obj["version"] = 1 if version == 1 else 2
            if version == 3:
                obj = family.load(orjson.dumps(obj)).data
            versions[version] += 1
            if line % invalid_every == 0:
                invalid.add(line)
                _name, defect = _DEFECTS[rng.randrange(len(_DEFECTS))]
                defect(obj)
            # As each writer writes: Cinder's json.dumps text, docket's canonical bytes.
            text = (
                orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
                if version == 3
                else json.dumps(obj).encode()
            )
            if line % (invalid_every * 97) == 0:
                invalid.add(line)
                text = text[: len(text) // 2]  # a truncated line: not JSON at all
            out.write(text + b"\n")
    return Corpus(path, lines, frozenset(invalid), versions)


def repeat_file(source: Path, dest: Path, times: int) -> int:
    """Write ``source`` ``times`` over into ``dest``; the number of bytes written."""
    size = 0
    with open(dest, "wb") as out:
        for _ in range(times):
            with open(source, "rb") as src:
                while chunk := src.read(1 << 22):
                    out.write(chunk)
                    size += len(chunk)
    return size
