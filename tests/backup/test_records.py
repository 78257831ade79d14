"""Backup records: export, import, versions, signatures, and what an import refuses."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import docket
from docket.backup import Backup
from docket.backup.records import (
    DECODE_MESSAGE,
    MAX_SIZE_GIB,
    PARSE_MESSAGE,
    REQUIRED_FIELDS,
    export_record,
    import_record,
    wrap,
)
from docket.core.family import Family
from docket.errors import (
    DigestMismatch,
    ForeignRecord,
    IntegrityError,
    MalformedVersion,
    MissingRecordFields,
    MissingVersion,
    RecordDecodeError,
    RecordError,
    RecordParseError,
    SignatureError,
    ValidationError,
    VersionTooNew,
)
from tests._records import nightly

REGISTRY = docket.load_registry()
RECORDS = REGISTRY.family("backup-record")
KEY = b"operator key"
SIGNED = REGISTRY.with_signing_key(KEY).family("backup-record")

BACKUP = nightly("9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", status="available")


def decoded(text: str) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(base64.b64decode(text))
    return obj


def encoded(obj: Any) -> str:
    """What Cinder's encode_record writes: base64 of json.dumps."""
    return base64.b64encode(json.dumps(obj).encode()).decode()


def cinder_record(**changes: Any) -> dict[str, Any]:
    record = {
        "id": BACKUP.id,
        "user_id": "u-1",
        "project_id": "p-1",
        "volume_id": BACKUP.volume_id,
        "host": "h@posix",
        "availability_zone": "nova",
        "container": BACKUP.container,
        "parent_id": None,
        "status": "available",
        "fail_reason": None,
        "size": 2,
        "display_name": "nightly",
        "display_description": None,
        "service_metadata": BACKUP.service_metadata,
        "service": "cinder.backup.drivers.posix.PosixBackupDriver",
        "object_count": 7,
        "temp_volume_id": None,
        "num_dependent_backups": 0,
        "metadata": {"k": "v"},
        "created_at": "2026-01-02T03:04:05Z",
        "deleted_at": None,
        "deleted": False,
        "driver_info": {"anything": [1, 2]},
    }
    record.update(changes)
    return record


# --- export ----------------------------------------------------------------------------------


def test_export_is_base64_of_a_json_object_of_the_fields() -> None:
    text = export_record(RECORDS, BACKUP.fields())
    obj = decoded(text)
    assert {k: obj[k] for k in BACKUP.fields()} == BACKUP.fields()
    assert obj["version"] == 2 and obj["family"] == "backup-record"
    assert obj["digest"].startswith("sha256:") and "signature" not in obj


def test_version_1_is_cinders_record_without_a_version_member() -> None:
    obj = decoded(export_record(RECORDS, BACKUP.fields(), version=1))
    assert obj == BACKUP.fields()
    back = import_record(RECORDS, export_record(RECORDS, BACKUP.fields(), version=1))
    assert back.version == 1 and back.signature == "absent"
    assert back.backup == BACKUP.replace(status=None)


def test_driver_info_never_overwrites_a_real_field() -> None:
    info = {"id": "evil", "display_name": "hijacked", "driver_info": {"x": 1}, "version": 99}
    obj = decoded(export_record(RECORDS, BACKUP.fields(), info=info))
    assert obj["id"] == BACKUP.id and obj["display_name"] == "nightly"
    assert obj["driver_info"] == {"x": 1} and obj["version"] == 2
    imported = import_record(RECORDS, export_record(RECORDS, BACKUP.fields(), info=info))
    assert imported.driver_info == {"x": 1} and imported.backup.id == BACKUP.id


def test_a_field_named_like_a_record_member_is_refused() -> None:
    with pytest.raises(RecordError, match="digest"):
        export_record(RECORDS, {**BACKUP.fields(), "digest": "x"})


def test_export_validates_the_fields() -> None:
    with pytest.raises(ValidationError):
        export_record(RECORDS, BACKUP.replace(id="../escape").fields())
    with pytest.raises(ValidationError):
        export_record(RECORDS, BACKUP.replace(size=-1).fields())


def test_api_envelope() -> None:
    assert wrap("svc", "abc") == {"backup-record": {"backup_service": "svc", "backup_url": "abc"}}


# --- import: Cinder's rules ------------------------------------------------------------------


def test_a_record_written_by_cinder_imports_as_version_1() -> None:
    imported = import_record(RECORDS, encoded(cinder_record()))
    assert imported.version == 1
    assert imported.backup.id == BACKUP.id
    assert imported.backup.service == "cinder.backup.drivers.posix.PosixBackupDriver"
    assert imported.backup.extra == {
        "fail_reason": None,
        "temp_volume_id": None,
        "num_dependent_backups": 0,
        "metadata": {"k": "v"},
    }
    assert imported.driver_info == {"anything": [1, 2]}


def test_import_never_takes_ownership_state_or_deletion_fields() -> None:
    record = cinder_record(deleted_by="admin", deletedness=1)
    imported = import_record(RECORDS, encoded(record))
    assert imported.ignored == (
        "deleted",
        "deleted_at",
        "deleted_by",
        "deletedness",
        "project_id",
        "status",
        "user_id",
    )
    assert imported.backup.status is None
    assert not set(imported.ignored) & set(imported.backup.extra)


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_each_required_field_is_required(field: str) -> None:
    record = cinder_record()
    del record[field]
    with pytest.raises(MissingRecordFields) as caught:
        import_record(RECORDS, encoded(record))
    assert caught.value.missing == (field,)
    assert caught.value.path == f'$["{field}"]'


def test_every_missing_field_is_named_at_once() -> None:
    with pytest.raises(MissingRecordFields) as caught:
        import_record(RECORDS, encoded({"id": "abc", "unrelated": True}))
    assert caught.value.missing == REQUIRED_FIELDS[1:]


@pytest.mark.parametrize(
    "text",
    ["not base64!", "abc", "YWJ", "\u00e9t\u00e9", "====", "YW Jj\x00"],
)
def test_bad_base64_cannot_be_decoded(text: str) -> None:
    with pytest.raises(RecordDecodeError) as caught:
        import_record(RECORDS, text)
    assert str(caught.value).startswith(DECODE_MESSAGE)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b"[1, 2]", b'{"id": 1', b'{"a": 1, "a": 2}', b"\xff\xfe{}", b"NaN"],
)
def test_bad_json_cannot_be_parsed(payload: bytes) -> None:
    with pytest.raises(RecordParseError) as caught:
        import_record(RECORDS, base64.b64encode(payload).decode())
    assert str(caught.value).startswith(PARSE_MESSAGE)


def test_python2_line_wrapped_base64_imports() -> None:
    text = encoded(cinder_record())
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + "\n"
    assert import_record(RECORDS, wrapped).backup.id == BACKUP.id


# --- truncated, tampered, foreign --------------------------------------------------------------


@given(st.data())
def test_every_truncated_record_is_refused(data: st.DataObject) -> None:
    text = export_record(RECORDS, BACKUP.fields())
    cut = data.draw(st.integers(0, len(text) - 1))
    with pytest.raises((RecordDecodeError, RecordParseError)):
        import_record(RECORDS, text[:cut])


def test_a_tampered_record_fails_its_digest() -> None:
    obj = decoded(export_record(RECORDS, BACKUP.fields()))
    obj["size"] = 2000
    with pytest.raises(DigestMismatch):
        import_record(RECORDS, encoded(obj))


def test_signed_records_verify_with_the_key() -> None:
    text = export_record(SIGNED, BACKUP.fields())
    assert decoded(text)["signature"].startswith("hmac-sha256:")
    assert import_record(SIGNED, text).signature == "verified"
    assert import_record(RECORDS, text).signature == "unverified"


def test_a_tampered_signed_record_is_refused_even_with_a_fresh_digest() -> None:
    obj = decoded(export_record(SIGNED, BACKUP.fields()))
    obj["container"] = "ev/il/elsewhere"
    integrity = RECORDS.spec(2).integrity
    assert integrity is not None
    obj["digest"] = integrity.digest_of(obj)  # the tamperer recomputes the digest...
    assert import_record(RECORDS, encoded(obj)).backup.container == "ev/il/elsewhere"
    with pytest.raises(SignatureError):  # ...but cannot sign without the key
        import_record(SIGNED, encoded(obj))


def test_a_record_signed_with_another_key_is_refused() -> None:
    other = REGISTRY.with_signing_key(b"another key").family("backup-record")
    with pytest.raises(SignatureError):
        import_record(SIGNED, export_record(other, BACKUP.fields()))


@pytest.mark.parametrize("version", [1, 2])
def test_with_a_key_unsigned_records_are_refused(version: int) -> None:
    with pytest.raises(SignatureError):
        import_record(SIGNED, export_record(RECORDS, BACKUP.fields(), version=version))
    with pytest.raises(SignatureError):
        import_record(SIGNED, encoded(cinder_record()))


def test_a_signature_stripped_record_is_refused_with_a_key() -> None:
    obj = decoded(export_record(SIGNED, BACKUP.fields()))
    del obj["signature"]
    with pytest.raises(IntegrityError):
        import_record(SIGNED, encoded(obj))


def test_another_familys_container_is_foreign() -> None:
    metadata = REGISTRY.family("backup-metadata")
    container = metadata.new({"volume-base-metadata": {"id": "x", "display_name": "v"}})
    with pytest.raises(ForeignRecord, match="backup-metadata"):
        import_record(RECORDS, base64.b64encode(metadata.dump(container)).decode())


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"version": 3}, VersionTooNew),
        ({"version": "2"}, MalformedVersion),
        ({"family": "backup-record"}, MissingVersion),
        ({"id": "a/b"}, ValidationError),
        ({"size": "big"}, ValidationError),
        ({"object_count": -1}, ValidationError),
    ],
)
def test_records_of_unknown_versions_or_shapes_are_refused(
    change: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        import_record(RECORDS, encoded(cinder_record(**change)))


# --- properties and golden files -----------------------------------------------------------------

# Text a record may hold: no controls, format characters, surrogates or line separators
# (tests/backup/test_hostile_record_fields.py has the refusals).
names = st.one_of(
    st.none(),
    st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp")), max_size=40),
)
backups = st.builds(
    Backup,
    id=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,40}\Z"),
    volume_id=names,
    display_name=names,
    display_description=names,
    container=names,
    service_metadata=names,
    size=st.one_of(st.none(), st.integers(0, MAX_SIZE_GIB)),
    object_count=st.one_of(st.none(), st.integers(0, 2**31 - 1)),
    status=st.sampled_from([None, "available", "error"]),
    extra=st.dictionaries(
        st.sampled_from(["fail_reason", "temp_volume_id", "x-custom"]),
        names,
    ),
)


@given(backups, st.sampled_from([1, 2]), st.booleans())
def test_export_then_import_keeps_every_importable_field(
    backup: Backup, version: int, signed: bool
) -> None:
    family: Family = SIGNED if signed and version == 2 else RECORDS
    imported = import_record(family, export_record(family, backup.fields(), version=version))
    assert imported.backup == backup.replace(status=None)
    assert imported.version == version
    assert imported.ignored == (("status",))


@pytest.mark.parametrize("name", ["backup-record", "chunked-backup", "chunked-sha256"])
def test_golden_containers_still_read_and_write_the_same(name: str) -> None:
    family = REGISTRY.family(name)
    assert set(family.golden()) == set(family.versions)
    for version, paths in family.golden().items():
        assert paths
        for path in paths:
            raw = path.read_bytes()
            assert family.validate(raw) == []
            container = family.load(raw, to=version)
            assert container.written_version == version
            assert family.dump(container, version=version) == raw
            for newer in family.versions[family.versions.index(version) + 1 :]:
                upgraded = path.parent / "upgraded" / str(newer) / path.name
                assert family.dump(container, version=newer) == upgraded.read_bytes()


@pytest.mark.parametrize("name", ["backup-record", "chunked-backup", "chunked-sha256"])
def test_released_documents_are_frozen(name: str) -> None:
    family = REGISTRY.family(name)
    assert family.released() == family.versions
    assert list(family.source.fingerprint_findings()) == []


def test_the_signed_golden_record_verifies_with_its_key() -> None:
    family = REGISTRY.with_signing_key(b"docket-golden-key").family("backup-record")
    (path,) = [p for p in family.golden()[2] if "signed" in p.name]
    container = family.load(path.read_bytes())
    assert container.signature == "verified"
