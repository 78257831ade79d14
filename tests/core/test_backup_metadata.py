"""The backup-metadata family: Cinder's restore rules (one test each, from the facts in
CINDER.md) through ``BackupMetadataAPI.put`` on every database, and the golden containers
frozen with versions 1, 2 and 3."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import docket
import docket.errors
from docket import RestoreRefused, ValidationError, VersionError, store
from docket.core.documents import fingerprint
from docket.core.family import Family
from docket.errors import MalformedVersion, MissingVersion, UnknownVersion, VersionTooNew
from docket.testing import check_golden
from docket.testing.golden import regenerating
from tests import _volumes as vols
from tests._store import DST, SRC
from tests.conftest_db import dump

REGISTRY = docket.load_registry()
FAMILY = REGISTRY.family("backup-metadata")
GOLDEN_KEY = b"docket-golden-key"
KEY_ID = "6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"


# --- restore rules -------------------------------------------------------------------------


def _backup(**base: Any) -> dict[str, Any]:
    """A container's sections as Cinder writes them for a gold volume (v2 by default)."""
    section = {
        "id": SRC,
        "display_name": "vol-1",
        "display_description": "test vol",
        "volume_type_id": vols.TYPE_GOLD,
        "encryption_key_id": None,
        "bootable": False,
        "status": "available",
    }
    section.update(base)
    return {"version": 2, "volume-base-metadata": section}


def _restore(engine: sa.Engine, container: dict[str, Any], **target: Any) -> dict[str, Any]:
    """Restore ``container`` into a fresh target; return the target's row afterwards."""
    vols.types(engine)
    target.setdefault("name", f"restore_backup_{DST}")
    target.setdefault("description", None)
    vols.volume(engine, DST, **target)
    store.BackupMetadataAPI(engine).put(DST, json.dumps(container))
    return vols.row(engine, DST)


def _refused(engine: sa.Engine, body: str | bytes, error: type[Exception], **target: Any) -> Any:
    """Check ``body`` is refused with ``error`` and leaves the database as it was."""
    vols.types(engine)
    target.setdefault("name", f"restore_backup_{DST}")
    vols.volume(engine, DST, metadata={"keep": "me"}, glance={"image_id": "i"}, **target)
    before = dump(engine)
    with pytest.raises(error) as caught:
        store.BackupMetadataAPI(engine).put(DST, body)
    assert dump(engine) == before
    return caught.value


def test_an_auto_named_restore_target_takes_the_backed_up_name(db_engine: sa.Engine) -> None:
    row = _restore(db_engine, _backup())
    assert (row["display_name"], row["display_description"]) == ("vol-1", "test vol")


def test_a_named_target_keeps_its_name_and_description(db_engine: sa.Engine) -> None:
    row = _restore(db_engine, _backup(), name="my volume", description="mine")
    assert (row["display_name"], row["display_description"]) == ("my volume", "mine")


@pytest.mark.parametrize("empty", ["", None])
def test_an_empty_backed_up_name_restores_neither_name_nor_description(
    db_engine: sa.Engine, empty: str | None
) -> None:
    row = _restore(db_engine, _backup(display_name=empty))
    assert row["display_name"] == f"restore_backup_{DST}"
    assert row["display_description"] is None


def test_a_section_without_display_name_restores_the_description(db_engine: sa.Engine) -> None:
    container = _backup()
    del container["volume-base-metadata"]["display_name"]
    row = _restore(db_engine, container, name="my volume", description="old")
    assert (row["display_name"], row["display_description"]) == ("my volume", "test vol")


def test_the_same_volume_type_restores_the_encryption_key(db_engine: sa.Engine) -> None:
    row = _restore(db_engine, _backup(encryption_key_id=KEY_ID), type_id=vols.TYPE_GOLD)
    assert row["encryption_key_id"] == KEY_ID and row["volume_type_id"] == vols.TYPE_GOLD


def test_a_target_without_a_type_takes_the_backed_up_type(db_engine: sa.Engine) -> None:
    row = _restore(db_engine, _backup(encryption_key_id=KEY_ID), type_id=None)
    assert row["encryption_key_id"] == KEY_ID and row["volume_type_id"] == vols.TYPE_GOLD


def test_a_target_without_a_type_is_refused_when_the_backed_up_type_is_gone(
    db_engine: sa.Engine,
) -> None:
    gone = "00000000-0000-4000-8000-00000000dead"
    body = json.dumps(_backup(encryption_key_id=KEY_ID, volume_type_id=gone))
    err = _refused(db_engine, body, RestoreRefused, type_id=None)
    assert "no longer exists" in str(err)
    assert err.path == '$["volume-base-metadata"]["volume_type_id"]'


def test_another_volume_type_refuses_an_encrypted_backup(db_engine: sa.Engine) -> None:
    body = json.dumps(_backup(encryption_key_id=KEY_ID))
    err = _refused(db_engine, body, RestoreRefused, type_id=vols.TYPE_SILVER)
    assert vols.TYPE_GOLD in str(err) and vols.TYPE_SILVER in str(err)


def test_another_volume_type_is_fine_without_an_encryption_key(db_engine: sa.Engine) -> None:
    row = _restore(db_engine, _backup(), type_id=vols.TYPE_SILVER)
    assert row["volume_type_id"] == vols.TYPE_SILVER and row["encryption_key_id"] is None


def test_a_key_without_the_backed_up_type_is_refused(db_engine: sa.Engine) -> None:
    # Cinder raises a bare KeyError here; docket names the missing member.
    container = _backup(encryption_key_id=KEY_ID)
    del container["volume-base-metadata"]["volume_type_id"]
    err = _refused(db_engine, json.dumps(container), RestoreRefused)
    assert err.path == '$["volume-base-metadata"]["volume_type_id"]'


@pytest.mark.parametrize(
    ("version", "error"),
    [
        ("3", MalformedVersion),  # Cinder: unsupported, as a string
        ('"2"', MalformedVersion),
        ("true", MalformedVersion),  # Cinder's == lets true pass as 1
        ("2.0", MalformedVersion),  # ... and 2.0 as 2
        ("0", UnknownVersion),
        ("-1", MalformedVersion),
        ("4", VersionTooNew),
        ("null", MalformedVersion),
        ("[2]", MalformedVersion),
    ],
)
def test_unsupported_versions_are_refused(
    db_engine: sa.Engine, version: str, error: type[VersionError]
) -> None:
    body = '{"version": ' + version + ', "volume-metadata": {"a": "b"}}'
    if version == "3":
        # Version 3 is docket's own; a bare "version": 3 lacks what v3 requires.
        err = _refused(db_engine, body, ValidationError)
        assert {i.keyword for i in err.issues} == {"required"}
        return
    err = _refused(db_engine, body, error)
    assert isinstance(err, ValueError) and err.supported == (1, 2, 3)
    assert "supported versions: 1, 2, 3" in str(err)


def test_a_missing_version_is_a_typed_error(db_engine: sa.Engine) -> None:
    # Cinder raises a bare KeyError.
    err = _refused(db_engine, '{"volume-metadata": {"a": "b"}}', MissingVersion)
    assert 'no "version" member' in str(err)


def test_an_empty_glance_section_still_sets_bootable(db_engine: sa.Engine) -> None:
    container = {"version": 2, "volume-glance-metadata": {}}
    row = _restore(db_engine, container, bootable=False, glance={"old": "x"})
    assert row["bootable"] is True
    assert vols.glance_metadata(db_engine, DST) == {}


def test_no_glance_section_leaves_bootable_alone(db_engine: sa.Engine) -> None:
    row = _restore(db_engine, {"version": 2, "volume-metadata": {}}, bootable=False)
    assert row["bootable"] is False


def test_user_metadata_is_replaced(db_engine: sa.Engine) -> None:
    container = {"version": 1, "volume-metadata": {"fee": "fi", "fo": "fum"}}
    _restore(db_engine, container, metadata={"fee": "old", "gone": "x"})
    # An empty field list means every field (a Cinder bug once restored none).
    assert vols.user_metadata(db_engine, DST) == {"fee": "fi", "fo": "fum"}


def test_unknown_members_are_ignored_and_missing_sections_skipped(db_engine: sa.Engine) -> None:
    container = {"version": 2, "volume-metadata": {"a": "b"}, "x-extra": {"status": "error"}}
    row = _restore(db_engine, container, glance={"image_id": "i"}, name="n", description="d")
    assert vols.user_metadata(db_engine, DST) == {"a": "b"}
    assert vols.glance_metadata(db_engine, DST) == {"image_id": "i"}
    assert (row["display_name"], row["display_description"], row["status"]) == (
        "n",
        "d",
        "available",
    )


def test_a_v1_container_never_restores_the_encryption_key(db_engine: sa.Engine) -> None:
    v1 = _backup(encryption_key_id=KEY_ID) | {"version": 1}
    upgraded = FAMILY.upgrade(FAMILY.load(json.dumps(v1), to=1))
    assert upgraded.version == 3 and upgraded.written_version == 1
    vols.types(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    for body in (json.dumps(v1), upgraded):
        vols.volume(db_engine, DST, name=f"restore_backup_{DST}", type_id=None)
        result = api.put(DST, body)
        assert result.version == 1
        row = vols.row(db_engine, DST)
        assert row["encryption_key_id"] is None and row["volume_type_id"] is None
        assert row["display_name"] == "vol-1"
        assert any(d.field == "encryption_key_id" for d in result.dropped)
        vols.clear_volume(db_engine, DST)
    # The same container at version 2 does restore it.
    vols.volume(db_engine, DST, name=f"restore_backup_{DST}", type_id=None)
    api.put(DST, json.dumps(_backup(encryption_key_id=KEY_ID)))
    assert vols.row(db_engine, DST)["encryption_key_id"] == KEY_ID


def test_docket_writes_cinder_s_shape_at_versions_1_and_2(db_engine: sa.Engine) -> None:
    vols.types(db_engine)
    vols.volume(db_engine, SRC, metadata={"fee": "fi"}, glance={"image_id": "i", "min_ram": 0})
    for version in (1, 2):
        container = json.loads(store.BackupMetadataAPI(db_engine, version=version).get(SRC))
        assert container["version"] == version
        assert set(container) == {
            "version",
            "volume-base-metadata",
            "volume-metadata",
            "volume-glance-metadata",
        }
        base = container["volume-base-metadata"]
        assert all(v is None or isinstance(v, str | int | bool) for v in base.values())
        assert container["volume-glance-metadata"] == {"image_id": "i", "min_ram": "0"}


# --- golden containers ---------------------------------------------------------------------

GOLDEN = Path(__file__).resolve().parents[2] / "schemas" / "backup-metadata" / "golden"
CREATED = dt.datetime(2026, 1, 2, 3, 4, 5)


def _time(offset_seconds: float) -> str:
    return (CREATED + dt.timedelta(seconds=offset_seconds)).isoformat(timespec="microseconds")


def cinder_29_base(**overrides: Any) -> dict[str, Any]:
    """The 40 columns Cinder 29's get() writes, in its order (the table's), for an attached
    LVM volume: the store tests' full row, with its times as Cinder writes them."""
    values = vols.full_columns(
        SRC,
        id=SRC,
        size=1,
        display_name="vol-1",
        display_description="test vol",
        volume_type_id=vols.TYPE_GOLD,
        deleted=False,
        provider_auth="CHAP 4lbtVjbEdEpJUJ5MeCKs 4hPvUhQkiDFkw7Yn",
        replication_status=None,
        scheduled_at=_time(0.125),
        launched_at=_time(3.5),
        created_at=_time(0),
        updated_at=_time(12.000001),
    )
    columns = store.cinder_metadata().tables["volumes"].columns
    base = {str(column.name): values[column.name] for column in columns}
    base.update(overrides)
    return base


def older_release_base() -> dict[str, Any]:
    """A base section from a release before Cinder 29's layout: columns it has since dropped
    (instance_uuid, attached_host, mountpoint, attach_time) and none it added later."""
    return {
        "id": SRC,
        "ec2_id": None,
        "user_id": "5d4f3e2a1b0c4d5e6f7a8b9c0d1e2f3a",
        "project_id": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        "snapshot_id": None,
        "host": "node1",
        "size": 10,
        "availability_zone": "nova",
        "instance_uuid": "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b",
        "attached_host": None,
        "mountpoint": "/dev/vdb",
        "attach_time": "2014-03-04T05:06:07.000000",
        "status": "in-use",
        "attach_status": "attached",
        "migration_status": None,
        "scheduled_at": "2014-03-04T05:06:01.000000",
        "launched_at": "2014-03-04T05:06:03.000000",
        "terminated_at": None,
        "display_name": "db-data",
        "display_description": "",
        "provider_location": "10.0.0.2:3260,1 iqn.2010-10.org.openstack:volume-x 1",
        "provider_auth": None,
        "provider_geometry": None,
        "volume_type_id": None,
        "source_volid": None,
        "encryption_key_id": None,
        "bootable": False,
        "_name_id": None,
        "deleted_at": None,
        "deleted": False,
        "created_at": "2014-03-04T05:06:00.000000",
        "updated_at": "2014-03-04T05:06:08.000000",
    }


GLANCE = {
    "image_id": "41d5b9d5-4e13-4c1c-8f1e-e2c5a7b0c6d4",
    "image_name": "cirros-0.6.2-x86_64-disk",
    "checksum": "c8fc807773e5354afe61636071771906",
    "container_format": "bare",
    "disk_format": "qcow2",
    "min_disk": "0",
    "min_ram": "0",
    "size": "21430272",
}
UNICODE = {
    "display_name": "données-€-漢字",
    "display_description": "résumé 😀 über",
}


def _utc(base: dict[str, Any]) -> dict[str, Any]:
    # Version 3 writes the six timestamps as aware UTC.
    out = dict(base)
    for name in ("scheduled_at", "launched_at", "terminated_at", "deleted_at"):
        if out.get(name) is not None:
            out[name] += "Z"
    for name in ("created_at", "updated_at"):
        if out.get(name) is not None:
            out[name] += "Z"
    return out


def golden_containers() -> dict[int, dict[str, dict[str, Any]]]:
    """Per version, the golden containers' sections (version and integrity members aside)."""
    full = {
        "volume-base-metadata": cinder_29_base(bootable=True),
        "volume-metadata": {"fee": "fi", "fo": "fum", "readonly": "False"},
        "volume-glance-metadata": GLANCE,
    }
    minimal = {"volume-base-metadata": cinder_29_base()}
    encrypted = {
        "volume-base-metadata": cinder_29_base(encryption_key_id=KEY_ID, display_name="secret"),
        "volume-metadata": {"encrypted": "yes"},
    }
    unicode = {
        "volume-base-metadata": cinder_29_base(**UNICODE),
        "volume-metadata": {"propriétaire": "Zoë", "emoji-😀": "✓", "空": ""},
    }
    return {
        1: {
            "cinder-29-full": full,
            "older-release": {
                "volume-base-metadata": older_release_base(),
                "volume-metadata": {"purpose": "database"},
            },
        },
        2: {
            "cinder-29-full": full,
            "cinder-29-minimal": minimal,
            "encrypted": encrypted,
            "unicode": unicode,
        },
        3: {
            "full": {**full, "volume-base-metadata": _utc(full["volume-base-metadata"])},
            "minimal": {"volume-base-metadata": _utc(minimal["volume-base-metadata"])},
            "unicode": {**unicode, "volume-base-metadata": _utc(unicode["volume-base-metadata"])},
            "signed-docket-golden-key": {
                **encrypted,
                "volume-base-metadata": _utc(encrypted["volume-base-metadata"]),
            },
        },
    }


def _golden_bytes(version: int, name: str, sections: dict[str, Any]) -> bytes:
    family: Family = FAMILY
    if "signed" in name:
        family = REGISTRY.with_signing_key(GOLDEN_KEY).family("backup-metadata")
    if version == 3:
        return family.dump(family.new(sections, version=3), version=3)
    container = family.load(json.dumps({"version": version, **sections}), to=version)
    return family.dump(container, version=version)


def _expected_files() -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    for version, containers in golden_containers().items():
        for name, sections in containers.items():
            raw = _golden_bytes(version, name, sections)
            files[GOLDEN / str(version) / f"{name}.json"] = raw
            loaded = FAMILY.load(raw, to=version)
            for newer in FAMILY.versions[FAMILY.versions.index(version) + 1 :]:
                path = GOLDEN / str(version) / "upgraded" / str(newer) / f"{name}.json"
                files[path] = FAMILY.dump(loaded, version=newer)
    return files


def test_golden_files_hold_what_the_facts_say() -> None:
    expected = _expected_files()
    if regenerating():
        for path, raw in expected.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw)
    found = {p: p.read_bytes() for p in GOLDEN.rglob("*.json")}
    assert sorted(found) == sorted(expected)
    for path, raw in expected.items():
        assert found[path] == raw, f"{path} differs from what its facts build"


def test_golden_containers_load_upgrade_and_validate() -> None:
    checked = check_golden(FAMILY)
    assert {p.parent.name for p in checked} == {"1", "2", "3"}
    for version, paths in FAMILY.golden().items():
        for path in paths:
            raw = path.read_bytes()
            assert FAMILY.validate(raw) == []
            current = FAMILY.load(raw)
            assert current.version == 3 and current.written_version == version
            assert FAMILY.spec(3).issues(current.data) == []
            assert current.data["family"] == "backup-metadata"
            assert current.data["digest"].startswith("sha256:")


def test_a_golden_container_from_another_release_keeps_its_columns() -> None:
    raw = (GOLDEN / "1" / "older-release.json").read_bytes()
    base = FAMILY.load(raw).data["volume-base-metadata"]
    assert base["mountpoint"] == "/dev/vdb" and "shared_targets" not in base
    # Other releases' columns are carried, never restored.
    plan = FAMILY.restore_policy(FAMILY.load(raw)).filter(FAMILY.load(raw))
    assert set(plan["volume-base-metadata"]) == {"display_name", "display_description"}


def test_the_signed_golden_container_verifies_with_its_key_only() -> None:
    raw = (GOLDEN / "3" / "signed-docket-golden-key.json").read_bytes()
    assert FAMILY.load(raw).signature == "unverified"
    signed = REGISTRY.with_signing_key(GOLDEN_KEY).family("backup-metadata")
    assert signed.load(raw).signature == "verified"
    with pytest.raises(docket.errors.SignatureError):
        REGISTRY.with_signing_key(b"another key").family("backup-metadata").load(raw)


def test_golden_v3_containers_carry_correct_digests() -> None:
    for path in FAMILY.golden()[3]:
        data = json.loads(path.read_bytes())
        data["volume-metadata"] = {**data.get("volume-metadata", {}), "tampered": "yes"}
        with pytest.raises(docket.errors.DigestMismatch):
            FAMILY.load(json.dumps(data))


def test_released_versions_are_frozen() -> None:
    assert FAMILY.released() == (1, 2, 3)
    assert list(FAMILY.source.fingerprint_findings()) == []
    for version, document in FAMILY.source.documents.items():
        assert FAMILY.source.released[str(version)] == fingerprint(document)


def test_golden_containers_restore_on_every_database(db_engine: sa.Engine) -> None:
    vols.types(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    for version, paths in FAMILY.golden().items():
        for path in paths:
            vols.volume(db_engine, DST, name=f"restore_backup_{DST}", type_id=vols.TYPE_GOLD)
            result = api.put(DST, path.read_bytes())
            assert result.version == version
            data = json.loads(path.read_bytes())
            row = vols.row(db_engine, DST)
            assert row["display_name"] == data["volume-base-metadata"]["display_name"]
            assert vols.user_metadata(db_engine, DST) == data.get("volume-metadata", {})
            vols.clear_volume(db_engine, DST)
