"""Tamper evidence: with an operator key configured, every single-byte change to a signed v3
container or a signed backup record is refused.

The only changes that may pass are those that do not change the content at all: the case of
a hex digit in a ``\\u`` escape, or the unused low bits of the last base64 character. Those
are checked to decode to exactly the original. The default run tries every replacement byte
at every position of a small container and a sample of replacements on larger ones; the long
mode (``DOCKET_FUZZ_LONG=1``) tries all 255 replacements everywhere.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import docket
import docket.errors
from docket import DocketError, load_registry
from docket.backup import Backup
from docket.backup.records import export_record, import_record
from tests._records import nightly

LONG = os.environ.get("DOCKET_FUZZ_LONG") == "1"
long_mode = pytest.mark.skipif(not LONG, reason="long mode: set DOCKET_FUZZ_LONG=1")

KEY = b"operator key: 32 bytes of secret"
REGISTRY = load_registry().with_signing_key(KEY)
FAMILY = REGISTRY.family("backup-metadata")
RECORDS = REGISTRY.family("backup-record")
VOLUME_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"

CINDER_COLUMNS = [
    "id",
    "_name_id",
    "use_quota",
    "ec2_id",
    "user_id",
    "project_id",
    "snapshot_id",
    "cluster_name",
    "host",
    "size",
    "availability_zone",
    "status",
    "attach_status",
    "migration_status",
    "scheduled_at",
    "launched_at",
    "terminated_at",
    "display_name",
    "display_description",
    "provider_location",
    "provider_auth",
    "provider_geometry",
    "provider_id",
    "volume_type_id",
    "source_volid",
    "encryption_key_id",
    "consistencygroup_id",
    "group_id",
    "bootable",
    "multiattach",
    "replication_status",
    "replication_extended_status",
    "replication_driver_data",
    "previous_status",
    "service_uuid",
    "shared_targets",
    "deleted_at",
    "deleted",
    "created_at",
    "updated_at",
]


def small_container() -> bytes:
    container = FAMILY.new(
        {
            "volume-base-metadata": {"display_name": "db", "size": 1},
            "volume-metadata": {"fee": "fi"},
        }
    )
    return FAMILY.dump(container)


def full_container() -> bytes:
    """A container as a real volume gives it: all 40 columns, user and glance metadata, and
    text that needs escapes (a control character) and multi-byte UTF-8."""
    base: dict[str, Any] = dict.fromkeys(CINDER_COLUMNS)
    base.update(
        id=VOLUME_ID,
        size=10,
        status="available",
        host="node1@lvm#pool",
        display_name="volé \x1b",
        bootable=False,
        deleted=False,
        use_quota=True,
        volume_type_id="7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
        created_at="2026-01-02T03:04:05.000000Z",
        updated_at="2026-01-02T03:04:06.123456Z",
    )
    container = FAMILY.new(
        {
            "volume-base-metadata": base,
            "volume-metadata": {"fee": "fi", "fo": "fum", "ключ": "значение"},
            "volume-glance-metadata": {"os_distro": "debian", "min_disk": 1, "ratio": 0.5},
        }
    )
    return FAMILY.dump(container)


def record_text() -> str:
    backup = nightly(VOLUME_ID)
    return export_record(RECORDS, backup.fields(), info={"driver_info": {"chunks": [1, 2]}})


def changes(raw: bytes, per_position: int | None, seed: int = 0) -> Iterator[tuple[int, bytes]]:
    """Every single-byte change of ``raw`` (``per_position=None``) or, at every position, a
    fixed sample: neighbours in value, case and high-bit flips, then seeded random bytes."""
    rng = random.Random(seed)
    for i, old in enumerate(raw):
        if per_position is None:
            values = [v for v in range(256) if v != old]
        else:
            picked = {old ^ 1, old ^ 0x20, old ^ 0x80, (old + 1) % 256, (old - 1) % 256}
            while len(picked) < per_position:
                picked.add(rng.randrange(256))
            values = sorted(picked - {old})
        for value in values:
            yield i, raw[:i] + bytes([value]) + raw[i + 1 :]


def tamper_all(
    raw: bytes, load: Callable[[bytes], Any], original: Any, per_position: int | None
) -> Counter[str]:
    """Apply each change; every one must be refused with a typed error or load as the
    original content. Returns how many of each outcome."""
    seen: Counter[str] = Counter()
    for position, changed in changes(raw, per_position):
        try:
            result = load(changed)
        except DocketError as err:
            seen[type(err).__name__] += 1
            continue
        assert result == original, f"a change at byte {position} was accepted: {changed!r}"
        seen["same content"] += 1
        seen[f"same content at {position}"] += 1
    return seen


def accepted_at(seen: Counter[str]) -> set[int]:
    prefix = "same content at "
    return {int(k[len(prefix) :]) for k in seen if k.startswith(prefix)}


def load_container(raw: bytes) -> dict[str, Any]:
    return FAMILY.load(raw).data


def load_record(raw: bytes) -> docket.backup.ImportedRecord:
    return import_record(RECORDS, raw)


# --- containers -----------------------------------------------------------------------------


def test_every_single_byte_change_to_a_small_signed_container_is_refused() -> None:
    raw = small_container()
    seen = tamper_all(raw, load_container, load_container(raw), None)
    assert sum(n for k, n in seen.items() if not k.startswith("same content ")) == 255 * len(raw)
    assert seen["same content"] == 0  # nothing in it can be spelled two ways
    # The checks each do their share: bad bytes, bad schema, bad digest, bad signature.
    for kind in ("InvalidJSON", "ValidationError", "DigestMismatch", "SignatureError"):
        assert seen[kind] > 0, kind


def test_single_byte_changes_to_a_full_signed_container_are_refused() -> None:
    raw = full_container()
    original = load_container(raw)
    seen = tamper_all(raw, load_container, original, 12)
    # The only accepted change is the case of the hex digit in the escape of "\x1b".
    escape = raw.index(b"\\u001b")
    assert accepted_at(seen) <= {escape + 5}


@pytest.mark.slow
@long_mode
def test_every_single_byte_change_to_a_full_signed_container_is_refused() -> None:
    raw = full_container()
    seen = tamper_all(raw, load_container, load_container(raw), None)
    assert sum(n for k, n in seen.items() if not k.startswith("same content ")) == 255 * len(raw)
    assert seen["same content"] == 1  # "\u001b" -> "\u001B"
    [position] = accepted_at(seen)
    assert raw[position - 5 : position + 1] == b"\\u001b"


def test_a_changed_signature_or_key_is_refused() -> None:
    raw = small_container()
    obj = json.loads(raw)
    other = load_registry().with_signing_key(b"another key").family("backup-metadata")
    with pytest.raises(docket.errors.SignatureError):
        other.load(raw)
    for bad in ("hmac-sha256:" + "0" * 64, obj["signature"].upper(), None):
        changed = dict(obj, signature=bad) if bad is not None else dict(obj)
        if bad is None:
            del changed["signature"]
        with pytest.raises((docket.errors.SignatureError, docket.ValidationError)):
            FAMILY.load(json.dumps(changed))


def test_a_signed_container_relabelled_as_an_unsignable_version_is_refused() -> None:
    # Downgrade attack: turn "version": 3 into 2 (whose containers carry no signature) so the
    # signature is never looked at; with a key configured, v1/v2 are not accepted at all.
    v2 = FAMILY.dump(FAMILY.load(small_container()), version=2)
    with pytest.raises(docket.errors.SignatureError):
        FAMILY.load(v2)
    assert load_registry().family("backup-metadata").load(v2).version == 3


def test_without_a_key_the_digest_detects_accidents_but_not_an_attacker() -> None:
    # The digest is no defence against someone who can write backup storage: they recompute
    # it. This is why docs/security.md says to configure a key. (This test pins that fact.)
    plain = load_registry().family("backup-metadata")
    obj = json.loads(plain.dump(plain.load(small_container())))
    obj["volume-metadata"]["fee"] = "forged"
    with pytest.raises(docket.errors.DigestMismatch):
        plain.load(json.dumps(obj))
    integrity = plain.spec(3).integrity
    assert integrity is not None
    forged = integrity.seal(obj, None)
    assert plain.load(json.dumps(forged)).data["volume-metadata"]["fee"] == "forged"
    with pytest.raises(docket.errors.SignatureError):
        FAMILY.load(json.dumps(forged))


# --- records --------------------------------------------------------------------------------


def test_single_byte_changes_to_a_signed_record_text_are_refused() -> None:
    text = record_text().encode()
    original = load_record(text)
    assert original.signature == "verified"
    seen = tamper_all(text, load_record, original, 12)
    # Accepted, with the same content: the last character's unused bits, or the padding "="
    # turned into a character that decodes to trailing whitespace.
    assert accepted_at(seen) <= {len(text) - 2, len(text) - 1}
    assert seen["RecordDecodeError"] > 0 and seen["SignatureError"] + seen["DigestMismatch"] > 0


def test_every_single_byte_change_to_a_signed_record_is_refused() -> None:
    # The JSON inside the base64, changed byte by byte and encoded again.
    inner = base64.b64decode(record_text())
    original = load_record(base64.b64encode(inner))
    seen = tamper_all(
        inner, lambda raw: load_record(base64.b64encode(raw)), original, None if LONG else 8
    )
    assert seen["same content"] == 0
    assert seen["SignatureError"] + seen["DigestMismatch"] > 0


@pytest.mark.slow
@long_mode
def test_every_single_byte_change_to_a_signed_record_text_is_refused() -> None:
    text = record_text().encode()
    seen = tamper_all(text, load_record, load_record(text), None)
    assert sum(n for k, n in seen.items() if not k.startswith("same content ")) == 255 * len(text)
    assert accepted_at(seen) <= {len(text) - 2, len(text) - 1}


def test_an_unsigned_record_is_refused_when_a_key_is_configured() -> None:
    plain = load_registry().family("backup-record")
    fields = json.loads(base64.b64decode(record_text()))
    for version in (1, 2):
        backup = {k: fields[k] for k in Backup.field_names()}
        unsigned = export_record(plain, backup, version=version)
        assert import_record(plain, unsigned).signature == "absent"
        with pytest.raises(docket.errors.SignatureError):
            import_record(RECORDS, unsigned)


def test_a_restore_with_a_key_refuses_every_changed_container_and_writes_nothing(
    tmp_path: Any,
) -> None:
    # End to end: the same single-byte changes, handed to BackupMetadataAPI.put.
    store = pytest.importorskip("docket.store", reason="docket.store is not there yet")
    from tests._databases import dump

    engine = store.make_engine(f"sqlite:///{tmp_path / 'cinder.db'}")
    store.init_db(engine)
    volume_id = store.create_volume(engine, display_name="restore_backup_1", metadata={"a": "b"})
    api = store.BackupMetadataAPI(engine, registry=REGISTRY)
    raw = small_container()
    before = dump(engine)
    refused = 0
    for _, changed in changes(raw, 3, seed=1):
        with pytest.raises(DocketError):
            api.put(volume_id, changed)
        refused += 1
    assert refused >= 2 * len(raw)
    assert dump(engine) == before
    api.put(volume_id, raw)  # the genuine container restores
    assert json.loads(api.get(volume_id))["volume-metadata"] == {"fee": "fi"}
    engine.dispose()
