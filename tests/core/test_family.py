"""Loading, validating, migrating and dumping containers: examples and properties."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

import docket
import docket.errors
from tests.strategies import backup_metadata_v1v2, notes_v1

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schemas"
BM = docket.load_registry().family("backup-metadata")
NOTES = docket.load_registry(FIXTURES).family("notes")


@given(backup_metadata_v1v2())
def test_load_dump_is_identity_at_the_written_version(obj: dict[str, Any]) -> None:
    c = BM.load(obj, to=obj["version"])
    again = BM.load(BM.dump(c, version=obj["version"]), to=obj["version"])
    assert again == c
    assert again.data == obj


@given(backup_metadata_v1v2())
def test_dump_load_is_identity_at_current(obj: dict[str, Any]) -> None:
    c = BM.load(obj)
    assert BM.load(BM.dump(c)) == c


@given(backup_metadata_v1v2())
def test_canonical_bytes_are_stable(obj: dict[str, Any]) -> None:
    first = BM.dump(BM.load(obj))
    assert BM.dump(BM.load(first)) == first
    assert BM.dump(BM.load(copy.deepcopy(obj))) == first


@given(backup_metadata_v1v2())
def test_every_version_upgrades_to_a_valid_current_container(obj: dict[str, Any]) -> None:
    c = BM.load(obj)
    assert c.version == BM.current
    assert c.written_version == obj["version"]
    assert BM.validate(c.data) == []
    assert c.data["family"] == "backup-metadata"


@given(backup_metadata_v1v2(version=2))
def test_downgrade_after_upgrade_is_identity_on_exact_edges(obj: dict[str, Any]) -> None:
    up = BM.upgrade(BM.load(obj, to=2))
    down = BM.downgrade(up, 2)
    assert down.data == obj


@given(backup_metadata_v1v2())
def test_upgrade_is_deterministic(obj: dict[str, Any]) -> None:
    assert BM.dump(BM.load(obj)) == BM.dump(BM.load(copy.deepcopy(obj)))


@given(notes_v1())
def test_notes_round_trip_and_rename(obj: dict[str, Any]) -> None:
    c = NOTES.load(obj)
    assert NOTES.validate(c.data) == []
    if "body" in obj["note"]:
        assert c.data["note"]["text"] == obj["note"]["body"]
    back = NOTES.downgrade(c, 1, allow_lossy=True)
    assert back.data == obj


def test_lossy_downgrade_is_refused_with_what_is_lost() -> None:
    c = NOTES.load({"version": 1, "note": {"title": "t"}})
    with pytest.raises(docket.LossyMigration) as info:
        NOTES.dump(c, version=1)
    assert info.value.losses == ("note.priority is dropped",)
    assert "allow_lossy" in str(info.value)
    assert NOTES.losses(2, 1) == ["note.priority is dropped"]
    assert NOTES.losses(1, 2) == []


def test_validate_collects_every_problem_with_pointers() -> None:
    issues = BM.validate(
        {
            "version": 2,
            "volume-base-metadata": {"size": "big", "bootable": "yes"},
            "volume-metadata": {"k": 5},
        }
    )
    assert {i.pointer for i in issues} == {
        "/volume-base-metadata/size",
        "/volume-base-metadata/bootable",
        "/volume-metadata/k",
    }
    assert all(i.message and i.keyword == "type" for i in issues)
    assert issues[0].json_path.startswith('$["volume-')


def test_validate_never_raises_for_bad_input() -> None:
    assert BM.validate(b"{")[0].keyword == "parse"
    assert BM.validate(b"[]")[0].keyword == "parse"
    assert BM.validate({"version": "2"})[0].keyword == "version"
    assert BM.validate({"version": 9})[0].pointer == "/version"


def test_load_raises_validation_error_with_all_issues() -> None:
    with pytest.raises(docket.ValidationError) as info:
        BM.load({"version": 1, "volume-base-metadata": {"size": -1, "bootable": 1}})
    assert len(info.value.issues) == 2
    assert "/volume-base-metadata/size" in {i.pointer for i in info.value.issues}


def test_cinder_naive_timestamps_load_and_become_utc() -> None:
    c = BM.load(
        {
            "version": 2,
            "volume-base-metadata": {
                "id": "v",
                "created_at": "2026-01-02T03:04:05.000000",
                "deleted_at": None,
            },
        }
    )
    base = c.data["volume-base-metadata"]
    assert base["created_at"] == "2026-01-02T03:04:05.000000Z"
    assert base["deleted_at"] is None
    assert BM.load(BM.dump(c, version=2), to=2).data["volume-base-metadata"]["created_at"] == (
        "2026-01-02T03:04:05.000000"
    )


def test_v3_timestamps_must_be_canonical_utc() -> None:
    c = BM.new({"volume-base-metadata": {"id": "v", "created_at": "2026-01-02T03:04:05.000000Z"}})
    assert BM.validate(c.data) == []
    bad = dict(c.data)
    bad["volume-base-metadata"] = {"id": "v", "created_at": "2026-01-02T03:04:05+02:00"}
    assert any(i.pointer == "/volume-base-metadata/created_at" for i in BM.validate(bad))


def test_digest_mismatch_is_refused() -> None:
    c = BM.new({"volume-base-metadata": {"id": "v", "display_name": "a"}})
    tampered = copy.deepcopy(c.data)
    tampered["volume-base-metadata"]["display_name"] = "b"
    with pytest.raises(docket.errors.DigestMismatch):
        BM.load(tampered)
    issues = BM.validate(tampered)
    assert [(i.pointer, i.keyword) for i in issues] == [("/digest", "digest")]


def test_signature_required_when_a_key_is_configured() -> None:
    signed_family = BM.with_signing_key(b"operator-key")
    unsigned = BM.dump(BM.new({"volume-base-metadata": {"id": "v"}}))
    with pytest.raises(docket.errors.SignatureError, match="not signed"):
        signed_family.load(unsigned)
    signed = signed_family.dump(signed_family.new({"volume-base-metadata": {"id": "v"}}))
    assert signed_family.load(signed).signature == "verified"
    assert BM.load(signed).signature == "unverified"
    with pytest.raises(docket.errors.SignatureError, match="does not match"):
        BM.with_signing_key(b"other-key").load(signed)


def test_a_signing_key_refuses_versions_that_cannot_be_signed() -> None:
    fam = BM.with_signing_key(b"k")
    with pytest.raises(docket.errors.SignatureError, match="cannot be signed"):
        fam.load({"version": 2, "volume-base-metadata": {"id": "v"}})
    assert [i.keyword for i in fam.validate({"version": 2})] == ["signature"]


def test_every_single_byte_change_of_a_signed_container_is_refused() -> None:
    fam = BM.with_signing_key(b"k")
    raw = fam.dump(
        fam.new(
            {
                "volume-base-metadata": {"id": "v", "display_name": "n"},
                "volume-metadata": {"a": "b"},
            }
        )
    )
    for i in range(len(raw)):
        for replacement in {raw[i] ^ 0x01, raw[i] ^ 0x20}:
            changed = raw[:i] + bytes([replacement]) + raw[i + 1 :]
            with pytest.raises(docket.DocketError):
                fam.load(changed)


def test_downgrade_from_v3_drops_integrity_members() -> None:
    c = BM.new({"volume-base-metadata": {"id": "v"}})
    v2 = BM.downgrade(c, 2)
    assert set(v2.data) == {"version", "volume-base-metadata"}


def test_upgrade_and_downgrade_refuse_the_wrong_direction() -> None:
    c = BM.load({"version": 2, "volume-base-metadata": {"id": "v"}})
    with pytest.raises(docket.MigrationError, match="downgrade"):
        BM.upgrade(c, 2)
    with pytest.raises(docket.MigrationError, match="upgrade"):
        BM.downgrade(BM.downgrade(c, 2), 3)


def test_a_broken_python_migration_is_reported(tmp_path: Path) -> None:
    import json
    import shutil

    shutil.copytree(FIXTURES / "notes", tmp_path / "notes")
    doc = json.loads((tmp_path / "notes" / "2.json").read_text())
    del doc["migration"]
    (tmp_path / "notes" / "2.json").write_text(json.dumps(doc))

    def drops_title(data: dict[str, Any]) -> dict[str, Any]:
        data["family"] = "notes"
        data["note"] = {"priority": 0}
        return data

    reg = docket.load_registry(tmp_path, migrations=[docket.Migration("notes", 1, 2, drops_title)])
    with pytest.raises(docket.MigrationError, match="not valid at version"):
        reg.family("notes").load({"version": 1, "note": {"title": "t"}})


def test_accepts_str_bytes_and_dicts() -> None:
    raw = '{"version": 1, "volume-base-metadata": {"id": "v"}}'
    a = BM.load(raw)
    assert (
        a == BM.load(raw.encode()) == BM.load({"version": 1, "volume-base-metadata": {"id": "v"}})
    )


def test_an_impossible_timestamp_is_named_when_the_upgrade_cannot_carry_it() -> None:
    odd = {
        "version": 2,
        "volume-base-metadata": {"id": "v", "created_at": "2026-02-30T00:00:00.000000"},
    }
    assert BM.validate(odd) == []  # version 2's pattern accepts it, as Cinder would
    with pytest.raises(docket.MigrationError) as info:
        BM.load(odd)
    assert "created_at" in str(info.value)
    assert "not a real date" in str(info.value)
    assert BM.load(odd, to=2).data == odd


@pytest.mark.parametrize(
    ("sections", "error", "pointer"),
    [
        (
            {"volume-base-metadata": {"id": "v", "display_name": "\ud800"}},
            docket.errors.InvalidJSON,
            "/volume-base-metadata/display_name",
        ),
        (
            {"volume-metadata": {"\udfff": "x"}},
            docket.errors.InvalidJSON,
            "/volume-metadata/\\udfff",
        ),  # the member, its key escaped
        ({"volume-metadata": {"a": float("nan")}}, docket.errors.NonFiniteNumber, None),
        ({"volume-metadata": {"a": object()}}, docket.errors.InvalidJSON, None),
    ],
)
def test_new_refuses_values_no_json_text_holds_before_sealing(
    sections: dict[str, Any], error: type[docket.DocketError], pointer: str | None
) -> None:
    """What new() is given is checked as a parsed mapping is (a lone surrogate was a bare
    TypeError from the digest's canonical writing)."""
    with pytest.raises(error) as raised:
        BM.new(sections)
    if pointer is not None:
        assert raised.value.pointer == pointer


@pytest.mark.parametrize(
    "raw",
    [
        b'{"version": 2, "volume-metadata": {}}',
        '{"version": 2, "volume-metadata": {}}',
        bytearray(b'{"version": 2}'),
        memoryview(b'{"version": 2}'),
        {"version": 2},
    ],
)
def test_detect_takes_what_load_and_validate_take(raw: Any) -> None:
    """Family.detect(bytes) was a bare TypeError (``dict(b"...")``): it takes container bytes
    and text as load and validate do, and a mapping or Container as before."""
    assert BM.detect(raw) == 2
    assert BM.detect(BM.load(raw, to=2)) == 2


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"[1]", docket.errors.NotAnObject),
        (b'{"version": 1, "version": 2}', docket.errors.DuplicateKey),
        (b'{"volume-metadata": {}}', docket.errors.MissingVersion),
        (b'{"version": 9}', docket.errors.VersionTooNew),
    ],
)
def test_detect_refuses_bad_bytes_with_typed_errors(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        BM.detect(raw)
