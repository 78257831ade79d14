"""Interop with the real Cinder: its unmodified ``BackupMetadataAPI`` is the oracle.

Cinder 29.0.0 runs in a virtualenv of its own (``run_cinder_interop.py`` builds it once, about
a minute, and reuses it). Cinder's migrations build a SQLite database and its db API fills
it; a copy goes to docket. Then:

- Cinder's ``get()`` output validates with docket, and docket's ``get()`` of the same volumes
  has the same content;
- every container (Cinder's v1 and v2, docket's v1 and v2) is restored by Cinder's ``put()``
  into one database and by docket's into the other, onto the same targets: the outcomes and
  the resulting rows and metadata are the same;
- docket's v3 restores with docket and is refused by Cinder (which knows versions 1 and 2).

Outside CI the test skips only if Cinder cannot be installed; with ``CI=true`` that fails it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import docket
from docket import store
from tests.interop import run_cinder_interop as runner
from tests.interop._cinder import cinder_python as cinder_python_or_skip

pytestmark = pytest.mark.interop

FAMILY = docket.load_registry().family("backup-metadata")
GOLD = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
SILVER = "1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7081"
KEY_ID = "6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"
NAMESPACE = uuid.UUID("5c0ff1d3-0c4e-4b9a-9d7e-3f2a1b0c9d8e")
KINDS = ("cinder-1", "cinder-2", "docket-1", "docket-2", "docket-3")


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _volume(vid: str, **columns: Any) -> dict[str, Any]:
    base = {
        "id": vid,
        "size": 1,
        "volume_type_id": GOLD,
        "status": "available",
        "attach_status": "detached",
        "host": "node1@lvm#pool",
        "availability_zone": "nova",
        "user_id": "5d4f3e2a1b0c4d5e6f7a8b9c0d1e2f3a",
        "project_id": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        "bootable": False,
        "created_at": "2026-01-02T03:04:05.123456",
        "scheduled_at": "2026-01-02T03:04:05.500001",
        "launched_at": "2026-01-02T03:04:09.000000",
    }
    base.update(columns)
    return base


SOURCES: dict[str, dict[str, Any]] = {
    "full": {
        "columns": _volume(
            _id("full"), display_name="vol-1", display_description="test vol", bootable=True
        ),
        "metadata": {"fee": "fi", "fo": "fum"},
        "glance": {"image_id": _id("image"), "disk_format": "qcow2", "min_ram": 512},
    },
    "encrypted": {
        "columns": _volume(_id("encrypted"), display_name="secret", encryption_key_id=KEY_ID),
        "metadata": {"encrypted": "yes"},
    },
    "unicode": {
        "columns": _volume(
            _id("unicode"), display_name="données-€-漢字", display_description="résumé 😀"
        ),
        "metadata": {"propriétaire": "Zoë", "emoji-😀": "✓"},
        "glance": {"image_name": "ünïcode image"},
    },
    "unnamed": {
        "columns": _volume(_id("unnamed"), display_name="", display_description="kept?"),
        "metadata": {"a": "b"},
    },
    "bare": {"columns": _volume(_id("bare"), display_name="bare", display_description=None)},
}

# Targets other than the default (auto-named, gold, with metadata of its own to replace).
SPECIAL: dict[tuple[str, str], dict[str, Any]] = {
    ("full", "cinder-2"): {"display_name": "mine", "display_description": "my own"},
    ("full", "docket-1"): {"display_name": "mine", "display_description": "my own"},
    ("encrypted", "cinder-2"): {"volume_type_id": SILVER},  # refused by both
    ("encrypted", "docket-2"): {"volume_type_id": SILVER},
}


def _targets() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for source in SOURCES:
        for kind in KINDS:
            tid = _id("target", source, kind)
            columns = _volume(tid, display_name=f"restore_backup_{tid}", status="restoring-backup")
            columns.update(SPECIAL.get((source, kind), {}))
            out[(source, kind)] = {
                "columns": columns,
                "metadata": {"fee": "old", "stale": "x"},
                "glance": {"disk_format": "raw", "old_key": "1"},
            }
    return out


@pytest.fixture(scope="module")
def cinder_python() -> Path:
    started = time.monotonic()
    python = cinder_python_or_skip()
    print(f"\ncinder venv ready in {time.monotonic() - started:.1f} s: {python}")
    return python


def _oracle(python: Path, command: str, db: Path, spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-W", "ignore", str(runner.ORACLE), command, str(db)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _state(db: Path, volume_id: str) -> dict[str, Any]:
    """A volume's row (but updated_at) and its live metadata, read with plain SQLAlchemy."""
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        md = sa.MetaData()
        md.reflect(engine, only=["volumes", "volume_metadata", "volume_glance_metadata"])
        volumes = md.tables["volumes"]
        with engine.connect() as conn:
            row = dict(
                conn.execute(sa.select(volumes).where(volumes.c.id == volume_id)).one()._mapping
            )
            row.pop("updated_at")
            state: dict[str, Any] = {"row": row}
            for name in ("volume_metadata", "volume_glance_metadata"):
                t = md.tables[name]
                state[name] = dict(
                    conn.execute(
                        sa.select(t.c.key, t.c.value).where(
                            t.c.volume_id == volume_id, t.c.deleted == sa.false()
                        )
                    ).all()
                )
        return state
    finally:
        engine.dispose()


def test_docket_and_cinder_agree(cinder_python: Path, tmp_path: Path) -> None:
    targets = _targets()
    types = [{"id": GOLD, "name": "gold"}, {"id": SILVER, "name": "silver"}]
    volumes = [*SOURCES.values(), *targets.values()]
    source_ids = {name: s["columns"]["id"] for name, s in SOURCES.items()}
    cinder_db, docket_db = tmp_path / "cinder.db", tmp_path / "docket.db"

    # 1. Cinder builds the database and backs the sources up (versions 1 and 2).
    got = _oracle(
        cinder_python,
        "setup",
        cinder_db,
        {"types": types, "volumes": volumes, "get": list(source_ids.values())},
    )["get"]
    shutil.copyfile(cinder_db, docket_db)

    # 2. Cinder's containers are valid for docket, and docket backs up the same content.
    engine = store.make_engine(f"sqlite:///{docket_db}")
    try:
        containers: dict[tuple[str, str], str] = {}
        for version in (1, 2):
            ours = store.BackupMetadataAPI(engine, version=version).get_many(source_ids.values())
            for name, vid in source_ids.items():
                theirs = got[str(version)][vid]
                assert FAMILY.validate(theirs) == [], (name, version)
                assert json.loads(ours[vid]) == json.loads(theirs), (name, version)
                containers[(name, f"cinder-{version}")] = theirs
                containers[(name, f"docket-{version}")] = ours[vid]
        v3 = store.BackupMetadataAPI(engine, version=3).get_many(source_ids.values())
        for name, vid in source_ids.items():
            containers[(name, "docket-3")] = v3[vid]

        # 3. docket restores every container into its copy.
        pairs = [(targets[key]["columns"]["id"], text, key) for key, text in containers.items()]
        api = store.BackupMetadataAPI(engine)
        ours_out = []
        for tid, text, _key in pairs:
            try:
                api.put(tid, text)
            except docket.DocketError as err:
                ours_out.append(type(err).__name__)
            else:
                ours_out.append("ok")
    finally:
        engine.dispose()

    # 4. Cinder restores the same containers into its database.
    theirs_out = _oracle(
        cinder_python, "put", cinder_db, {"pairs": [[tid, text] for tid, text, _ in pairs]}
    )["outcomes"]

    # 5. Same outcomes, same resulting volumes.
    for (tid, _text, key), ours, theirs in zip(pairs, ours_out, theirs_out, strict=True):
        source, kind = key
        if kind == "docket-3":
            assert (ours, theirs) == ("ok", "BackupMetadataUnsupportedVersion"), key
            continue
        if (source, kind) in (("encrypted", "cinder-2"), ("encrypted", "docket-2")):
            assert (ours, theirs) == ("RestoreRefused", "EncryptedBackupOperationFailed"), key
        else:
            assert (ours, theirs) == ("ok", "ok"), key
        assert _state(docket_db, tid) == _state(cinder_db, tid), key
    for vid in source_ids.values():
        assert _state(docket_db, vid) == _state(cinder_db, vid)
    # The cases did what they are named for (not just "the same").
    full_named = _state(docket_db, targets[("full", "cinder-2")]["columns"]["id"])
    assert full_named["row"]["display_name"] == "mine"
    full_auto = _state(docket_db, targets[("full", "cinder-1")]["columns"]["id"])
    assert full_auto["row"]["display_name"] == "vol-1" and full_auto["row"]["bootable"]
    assert full_auto["volume_metadata"] == {"fee": "fi", "fo": "fum"}
    assert full_auto["volume_glance_metadata"]["min_ram"] == "512"
    enc = _state(docket_db, targets[("encrypted", "docket-1")]["columns"]["id"])
    assert enc["row"]["encryption_key_id"] is None  # version 1 never restores the key
    enc = _state(docket_db, targets[("encrypted", "cinder-2")]["columns"]["id"])
    assert enc["row"]["encryption_key_id"] is None  # refused
    enc = _state(docket_db, targets[("encrypted", "docket-3")]["columns"]["id"])
    assert enc["row"]["encryption_key_id"] == KEY_ID
