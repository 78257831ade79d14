"""Write the hostile-input corpus: ``python -m tests.hostile.generate``.

Every file is what an attacker with write access to backup storage could leave there. The
bytes are written exactly (some are not UTF-8 on purpose). ``cases.json`` records, per file,
what docket must do with it: refuse it with a typed error (the class name), or accept it with a
documented harmless result (``docs/security.md`` explains each). Inputs too large to keep in
the repository (10 MB strings, 100 MB containers) are built by the tests themselves.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import docket
from docket.backup.records import export_record
from tests._records import nightly

HERE = Path(__file__).resolve().parent
VOLUME_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
TYPE_ID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
OTHER_TYPE_ID = "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516"


def base(**extra: Any) -> dict[str, Any]:
    """A Cinder-shaped base section of a volume whose backup is being restored."""
    section = {
        "id": VOLUME_ID,
        "size": 1,
        "status": "available",
        "host": "node1@lvm#pool",
        "display_name": "db-volume",
        "display_description": "primary database",
        "volume_type_id": TYPE_ID,
        "encryption_key_id": None,
        "bootable": False,
        "project_id": "owner-project",
        "user_id": "owner-user",
        "created_at": "2026-01-02T03:04:05.000000",
    }
    section.update(extra)
    return section


def v2(**sections: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": 2, "volume-base-metadata": base()}
    doc.update({k.replace("_", "-"): v for k, v in sections.items()})
    return doc


def text(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def containers() -> dict[str, tuple[bytes, dict[str, str]]]:
    """File name -> (bytes, expectation)."""
    good = text(v2(volume_metadata={"fee": "fi"}, volume_glance_metadata={"os": "linux"}))
    family = docket.load_registry().family("backup-metadata")
    v3 = json.loads(family.dump(family.load(good)))
    # Edit the first value of the base section's name, keeping the old digest.
    v3_edited = dict(
        v3, **{"volume-base-metadata": dict(v3["volume-base-metadata"], display_name="changed")}
    )
    sql = "'; DROP TABLE volumes; --"

    def err(name: str) -> dict[str, str]:
        return {"load": name}

    def ok(why: str) -> dict[str, str]:
        return {"load": "ok", "why": why}

    return {
        # --- not JSON at all, or not an object ------------------------------------------------
        "truncated.json": (good[: len(good) // 2], err("InvalidJSON")),
        "truncated-after-comma.json": (b'{"version": 2,', err("InvalidJSON")),
        "empty.json": (b"", err("InvalidJSON")),
        "whitespace-only.json": (b" \n\t ", err("InvalidJSON")),
        "trailing-garbage.json": (good + b" {}", err("InvalidJSON")),
        "two-documents.json": (good + b"\n" + good, err("InvalidJSON")),
        "comment.json": (b'{"version": 2 // two\n}', err("InvalidJSON")),
        "single-quotes.json": (b"{'version': 2}", err("InvalidJSON")),
        "raw-newline-in-string.json": (
            b'{"version": 2, "volume-metadata": {"k": "a\nb"}}',
            err("InvalidJSON"),
        ),
        "root-array.json": (b"[" + good + b"]", err("NotAnObject")),
        "root-string.json": (json.dumps(good.decode()).encode(), err("NotAnObject")),
        "root-number.json": (b"2", err("NotAnObject")),
        "root-null.json": (b"null", err("NotAnObject")),
        "root-true.json": (b"true", err("NotAnObject")),
        # --- ambiguous or non-standard JSON -----------------------------------------------------
        "duplicate-version.json": (b'{"version": 1, "version": 2}', err("DuplicateKey")),
        "duplicate-section.json": (
            b'{"version": 2, "volume-metadata": {}, "volume-metadata": {"a": "b"}}',
            err("DuplicateKey"),
        ),
        "duplicate-field.json": (
            b'{"version": 2, "volume-base-metadata": {"display_name": "a", "display_name": "b"}}',
            err("DuplicateKey"),
        ),
        "nan.json": (
            b'{"version": 2, "volume-base-metadata": {"size": NaN}}',
            err("NonFiniteNumber"),
        ),
        "infinity.json": (b'{"version": Infinity}', err("NonFiniteNumber")),
        "negative-infinity.json": (
            b'{"version": 2, "volume-glance-metadata": {"min_ram": -Infinity}}',
            err("NonFiniteNumber"),
        ),
        "huge-integer-version.json": (b'{"version": ' + b"9" * 5000 + b"}", err("InvalidJSON")),
        "huge-integer-size.json": (
            text(v2(volume_base_metadata=base(size=int("9" * 4000)))),
            ok("size is not restored; the number is parsed exactly and dropped by the policy"),
        ),
        "huge-integer-glance-value.json": (
            text(v2(volume_glance_metadata={"min_disk": int("9" * 4000)})),
            ok("glance values are stored as text, as Cinder does (str(value))"),
        ),
        "float-overflow.json": (
            b'{"version": 2, "volume-glance-metadata": {"min_ram": 1e999}}',
            err("NonFiniteNumber"),
        ),
        # --- encodings -----------------------------------------------------------------------
        "invalid-utf8.json": (
            b'{"version": 2, "volume-metadata": {"k": "\xff\xfe"}}',
            err("InvalidJSON"),
        ),
        "overlong-utf8.json": (
            b'{"version": 2, "volume-metadata": {"k": "\xc0\xaf"}}',
            err("InvalidJSON"),
        ),
        "utf8-encoded-surrogate.json": (
            b'{"version": 2, "volume-metadata": {"k": "\xed\xa0\x80"}}',
            err("InvalidJSON"),
        ),
        "bom.json": (b"\xef\xbb\xbf" + good, err("InvalidJSON")),
        "utf16.json": (good.decode().encode("utf-16"), err("InvalidJSON")),
        "latin1.json": (
            '{"version": 2, "volume-metadata": {"k": "café"}}'.encode("latin-1"),
            err("InvalidJSON"),
        ),
        "lone-high-surrogate.json": (
            b'{"version": 2, "volume-metadata": {"k": "\\ud800"}}',
            err("InvalidJSON"),
        ),
        "lone-low-surrogate-key.json": (
            b'{"version": 2, "volume-metadata": {"\\udc00": "v"}}',
            err("InvalidJSON"),
        ),
        "reversed-surrogate-pair.json": (
            b'{"version": 2, "volume-metadata": {"k": "\\ude00\\ud83d"}}',
            err("InvalidJSON"),
        ),
        "surrogate-pair.json": (
            b'{"version": 2, "volume-metadata": {"k": "\\ud83d\\ude00"}}',
            ok("a proper surrogate pair is one character (U+1F600) and is stored as such"),
        ),
        # --- the version member --------------------------------------------------------------
        "version-true.json": (text(dict(v2(), version=True)), err("MalformedVersion")),
        "version-false.json": (text(dict(v2(), version=False)), err("MalformedVersion")),
        "version-string.json": (text(dict(v2(), version="2")), err("MalformedVersion")),
        "version-float.json": (text(dict(v2(), version=2.0)), err("MalformedVersion")),
        "version-exponent.json": (b'{"version": 2e0}', err("MalformedVersion")),
        "version-null.json": (text(dict(v2(), version=None)), err("MalformedVersion")),
        "version-object.json": (text(dict(v2(), version={"v": 2})), err("MalformedVersion")),
        "version-array.json": (text(dict(v2(), version=[2])), err("MalformedVersion")),
        "version-negative.json": (text(dict(v2(), version=-1)), err("MalformedVersion")),
        "version-zero.json": (text(dict(v2(), version=0)), err("UnknownVersion")),
        "version-future.json": (text(dict(v2(), version=4)), err("VersionTooNew")),
        "version-missing.json": (
            text({k: v for k, v in v2().items() if k != "version"}),
            err("MissingVersion"),
        ),
        # --- sections of the wrong type or shape ---------------------------------------------
        "base-section-array.json": (
            text(v2(volume_base_metadata=[base()])),
            err("ValidationError"),
        ),
        "base-section-string.json": (text(v2(volume_base_metadata="x")), err("ValidationError")),
        "metadata-section-string.json": (
            text(v2(volume_metadata="fee=fi")),
            err("ValidationError"),
        ),
        "metadata-section-null.json": (text(v2(volume_metadata=None)), err("ValidationError")),
        "glance-section-array.json": (
            text(v2(volume_glance_metadata=[["k", "v"]])),
            err("ValidationError"),
        ),
        "metadata-value-object.json": (
            text(v2(volume_metadata={"k": {"nested": "v"}})),
            err("ValidationError"),
        ),
        "metadata-value-number.json": (text(v2(volume_metadata={"k": 1})), err("ValidationError")),
        "metadata-value-too-long.json": (
            text(v2(volume_metadata={"k": "v" * 256})),
            err("ValidationError"),
        ),
        "metadata-key-too-long.json": (
            text(v2(volume_metadata={"k" * 256: "v"})),
            err("ValidationError"),
        ),
        "metadata-key-empty.json": (text(v2(volume_metadata={"": "v"})), err("ValidationError")),
        "glance-value-object.json": (
            text(v2(volume_glance_metadata={"k": {"a": 1}})),
            err("ValidationError"),
        ),
        "display-name-too-long.json": (
            text(v2(volume_base_metadata=base(display_name="n" * 256))),
            err("ValidationError"),
        ),
        "display-name-number.json": (
            text(v2(volume_base_metadata=base(display_name=12))),
            err("ValidationError"),
        ),
        "bootable-string.json": (
            text(v2(volume_base_metadata=base(bootable="true"))),
            err("ValidationError"),
        ),
        "unknown-sections.json": (
            text(
                v2(
                    volume_admin_metadata={"readonly": "True"},
                    quota={"gigabytes": 100000},
                    volume_type={"id": OTHER_TYPE_ID, "name": "gold"},
                )
            ),
            ok("top-level members no policy names are ignored, as Cinder ignores them"),
        ),
        "unknown-base-fields.json": (
            text(v2(volume_base_metadata=base(is_admin=True, quota_class="unlimited"))),
            ok("base fields outside the allowlist are dropped"),
        ),
        # --- privilege: fields a user must not be able to set --------------------------------
        "sets-status-and-project.json": (
            text(
                v2(
                    volume_base_metadata=base(
                        status="in-use",
                        project_id="attacker-project",
                        user_id="attacker",
                        host="attacker-host@evil#pool",
                        size=100000,
                        deleted=True,
                        deleted_at="2026-01-01T00:00:00.000000",
                        volume_type_id=TYPE_ID,
                        provider_location="iscsi://attacker",
                        attach_status="attached",
                    )
                )
            ),
            ok("only display_name, display_description and encryption_key_id are restored"),
        ),
        "other-volume-id.json": (
            text(v2(volume_base_metadata=base(id="11111111-2222-4333-8444-555555555555"))),
            ok("the id in the container is never used; put() writes the volume it is given"),
        ),
        "encryption-key-other-type.json": (
            text(
                v2(
                    volume_base_metadata=base(
                        encryption_key_id="aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
                        volume_type_id=OTHER_TYPE_ID,
                    )
                )
            ),
            {"load": "ok", "put": "RestoreRefused", "why": "the volume-type rule refuses it"},
        ),
        "encryption-key-no-type.json": (
            text(
                {
                    "version": 2,
                    "volume-base-metadata": {
                        "display_name": "x",
                        "encryption_key_id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
                    },
                }
            ),
            {"load": "ok", "put": "RestoreRefused", "why": "a key needs the backed-up type"},
        ),
        # --- strings that try to be something else ---------------------------------------------
        "nul-in-key.json": (
            b'{"version": 2, "volume-metadata": {"a\\u0000b": "x"}}',
            {"load": "ok", "put": "DocketError", "why": "no database stores NUL in text alike"},
        ),
        "nul-in-value.json": (
            b'{"version": 2, "volume-metadata": {"k": "a\\u0000b"}}',
            {"load": "ok", "put": "DocketError", "why": "no database stores NUL in text alike"},
        ),
        "nul-in-display-name.json": (
            text(v2(volume_base_metadata=base(display_name="restore\x00me"))),
            {"load": "ok", "put": "DocketError", "why": "no database stores NUL in text alike"},
        ),
        "sql-strings.json": (
            text(
                v2(
                    volume_base_metadata=base(display_name=sql, display_description="x' OR '1'='1"),
                    volume_metadata={sql: sql, "k') OR 1=1; --": "%s %(x)s ?"},
                    volume_glance_metadata={"image_id": "1; DELETE FROM volume_glance_metadata"},
                )
            ),
            ok("SQL-looking text is data: bound as parameters and stored literally"),
        ),
        "case-colliding-keys.json": (
            text(v2(volume_metadata={"Owner": "a", "owner": "b"})),
            {"load": "ok", "put": "case", "why": "refused where keys compare without case"},
        ),
        "control-characters.json": (
            text(v2(volume_metadata={"k\t\n": "\x1b[31mred\x1b[0m\r"})),
            ok("control characters are data, stored as they are"),
        ),
        "astral-characters.json": (
            text(
                v2(
                    volume_base_metadata=base(display_name="vol \U0001f600"),
                    volume_metadata={"k\U0001f600": "\U0001f600\U0001d11e"},
                    volume_glance_metadata={"os": "\U0001f427"},
                )
            ),
            ok(
                "characters beyond U+FFFF are stored exactly where the columns hold them "
                "(utf8mb4, PostgreSQL, SQLite); a utf8mb3 or latin1 column refuses them "
                "with UnstorableValue (tests/store/test_store_charsets.py)"
            ),
        ),
        "proto-keys.json": (
            text(v2(volume_metadata={"__proto__": "x", "constructor": "y", "__class__": "z"})),
            ok("no key has a meaning to docket beyond being a key"),
        ),
        "deep-section.json": (
            b'{"version": 2, "volume-glance-metadata": {"k": ' + b"[" * 40 + b"]" * 40 + b"}}",
            err("LimitExceeded"),
        ),
        # --- version 3: integrity --------------------------------------------------------------
        "v3-edited-after-digest.json": (text(v3_edited), err("DigestMismatch")),
        "v3-digest-missing.json": (
            text({k: v for k, v in v3.items() if k != "digest"}),
            err("ValidationError"),
        ),
        "v3-digest-not-hex.json": (
            text(dict(v3, digest="sha256:" + "z" * 64)),
            err("ValidationError"),
        ),
        "v3-wrong-family.json": (text(dict(v3, family="backup-record")), err("ValidationError")),
        "v3-forged-signature.json": (
            text(dict(v3, signature="hmac-sha256:" + "0" * 64)),
            {"load": "ok", "signed": "SignatureError", "why": "only a key can check a signature"},
        ),
        "v3-relabelled-v2.json": (
            text(dict(v3, version=2)),
            err("ValidationError"),
        ),
        "v3-naive-timestamp.json": (
            text(dict(v3, **{"volume-base-metadata": base(created_at="2026-01-02T03:04:05")})),
            err("ValidationError"),
        ),
    }


def records() -> dict[str, tuple[bytes, dict[str, str]]]:
    registry = docket.load_registry()
    family = registry.family("backup-record")
    fields = nightly(
        VOLUME_ID,
        display_description="",
        service_metadata="volume_prefix",
        service=None,
        size=1,
        object_count=1,
        created_at=None,
    ).fields()
    v1 = json.loads(base64.b64decode(export_record(family, fields, version=1)))
    v2 = json.loads(base64.b64decode(export_record(family, fields)))

    def b64(raw: bytes) -> bytes:
        return base64.b64encode(raw)

    def err(name: str) -> dict[str, str]:
        return {"load": name}

    evil = dict(
        v1,
        status="available",
        project_id="attacker-project",
        user_id="attacker",
        deleted=False,
        deleted_at=None,
    )
    return {
        "not-base64.b64": (b"!!! this is not base64 !!!", err("RecordDecodeError")),
        "bad-padding.b64": (b64(text(v1))[:-2] + b"=", err("RecordDecodeError")),
        "non-ascii.b64": ("é".encode() + b64(text(v1)), err("RecordDecodeError")),
        "url-safe-alphabet.b64": (
            base64.urlsafe_b64encode(b"\xfb\xff" * 10),
            err("RecordDecodeError"),
        ),
        "empty.b64": (b"", err("RecordParseError")),
        "truncated-json.b64": (b64(text(v1)[:-10]), err("RecordParseError")),
        "root-array.b64": (b64(b"[" + text(v1) + b"]"), err("RecordParseError")),
        "bom.b64": (b64(b"\xef\xbb\xbf" + text(v1)), err("RecordParseError")),
        "invalid-utf8.b64": (
            b64(text(v1).replace(b"nightly", b"night\xff")),
            err("RecordParseError"),
        ),
        "duplicate-id.b64": (
            b64(text(v1)[:-1] + b', "id": "other"}'),
            err("RecordParseError"),
        ),
        "nan-size.b64": (
            b64(text(v1).replace(b'"size": 1', b'"size": NaN')),
            err("RecordParseError"),
        ),
        "missing-fields.b64": (b64(text({"id": "x", "size": 1})), err("MissingRecordFields")),
        "sets-status-and-project.b64": (
            b64(text(evil)),
            ok_record("status, project_id, user_id and deleted* are never imported (see ignored)"),
        ),
        "path-traversal-id.b64": (b64(text(dict(v1, id="../../../etc"))), err("ValidationError")),
        "path-traversal-parent.b64": (
            b64(text(dict(v1, parent_id="../../x"))),
            err("ValidationError"),
        ),
        # Python's re lets "x\n" through ^...$; an id is path-safe only without it.
        "control-char-id.b64": (b64(text(dict(v1, id="x\n"))), err("ValidationError")),
        "control-char-parent.b64": (b64(text(dict(v1, parent_id="x\n"))), err("ValidationError")),
        "container-of-another-backup.b64": (
            b64(text(dict(v1, container="aa/11/aa11bb22-other"))),
            ok_record(
                "the record is well formed; the driver refuses a container that is another "
                "backup's directory (tests/backup/test_hostile_storage.py)"
            ),
        ),
        "prefix-of-another-backup.b64": (
            b64(text(dict(v1, service_metadata="volume_v_20260102030405_backup_other"))),
            ok_record(
                "the record is well formed; the driver refuses an object prefix that is not "
                "its own backup's (tests/backup/test_hostile_storage.py)"
            ),
        ),
        "size-string.b64": (b64(text(dict(v1, size="1"))), err("ValidationError")),
        "size-negative.b64": (b64(text(dict(v1, size=-1))), err("ValidationError")),
        "version-string.b64": (b64(text(dict(v2, version="2"))), err("MalformedVersion")),
        "version-true.b64": (b64(text(dict(v1, version=True))), err("MalformedVersion")),
        "version-future.b64": (b64(text(dict(v2, version=9))), err("VersionTooNew")),
        "family-without-version.b64": (
            b64(text({k: v for k, v in v2.items() if k != "version"})),
            err("MissingVersion"),
        ),
        "foreign-family.b64": (b64(text(dict(v2, family="backup-metadata"))), err("ForeignRecord")),
        "v2-edited-after-digest.b64": (
            b64(text(dict(v2, display_name="changed"))),
            err("DigestMismatch"),
        ),
        "v2-forged-signature.b64": (
            b64(text(dict(v2, signature="hmac-sha256:" + "0" * 64))),
            {"load": "ok", "signed": "SignatureError", "why": "only a key can check a signature"},
        ),
        "v1-when-signing.b64": (
            b64(text(v1)),
            {"load": "ok", "signed": "SignatureError", "why": "only a key can check a signature"},
        ),
        "driver-info-shadows-field.b64": (
            b64(text(dict(v1, driver_info={"id": "other", "size": 999}))),
            ok_record("driver_info is kept apart; it never replaces a field"),
        ),
    }


def shards() -> dict[str, tuple[bytes, dict[str, str]]]:
    """Shard files ``docket audit merge`` is given (issue 24): each refused with a typed
    error, or merged. ``root`` names the audit each belongs to."""

    def lines(*values: Any) -> bytes:
        return b"".join(
            v if isinstance(v, bytes) else json.dumps(v).encode() + b"\n" for v in values
        )

    def head(index: int = 1, count: int = 1, **extra: Any) -> dict[str, Any]:
        return {"shard": {"index": index, "count": count, "root": "/backups", "database": None}
                | extra}  # fmt: skip

    verdict = {
        "backup_id": "ab000000-0000-4000-8000-000000000000", "path": "ab/00/ab000000",
        "findings": [{"kind": "partial", "message": "no _metadata object"}],
    }  # fmt: skip
    refused = {"merge": "CommandFailed"}
    return {
        "whole.jsonl": (
            lines(head(), verdict, {"end": {"records": 1}}),
            {"merge": "ok", "why": "a whole audit of one shard"},
        ),
        "no-header.jsonl": (lines(verdict, {"end": {"records": 1}}), refused),
        "no-end.jsonl": (lines(head(), verdict), refused),
        "end-counts-more.jsonl": (lines(head(), verdict, {"end": {"records": 2}}), refused),
        "one-of-two.jsonl": (lines(head(1, 2), {"end": {"records": 0}}), refused),
        "header-twice.jsonl": (lines(head(), head(), {"end": {"records": 0}}), refused),
        "index-zero.jsonl": (lines(head(0, 1), {"end": {"records": 0}}), refused),
        "index-true.jsonl": (lines(head(True, 1), {"end": {"records": 0}}), refused),
        "root-number.jsonl": (lines(head(root=7), {"end": {"records": 0}}), refused),
        "verdict-array.jsonl": (lines(head(), [], {"end": {"records": 1}}), refused),
        "backup-id-number.jsonl": (
            lines(head(), verdict | {"backup_id": 5}, {"end": {"records": 1}}), refused
        ),
        "findings-object.jsonl": (
            lines(head(), verdict | {"findings": {}}, {"end": {"records": 1}}), refused
        ),
        "finding-kind-null.jsonl": (
            lines(head(), verdict | {"findings": [{"kind": None}]}, {"end": {"records": 1}}),
            refused,
        ),
        "created-at-number.jsonl": (
            lines(head(), verdict | {"created_at": 20260101}, {"end": {"records": 1}}), refused
        ),
        "not-utf8.jsonl": (lines(head(), b"\xff\xfe\n", {"end": {"records": 0}}), refused),
        "line-after-end.jsonl": (lines(head(), {"end": {"records": 0}}, verdict), refused),
        "workflow-command-path.jsonl": (
            lines(head(), verdict | {"path": "::error::x\n::add-mask::y"}, {"end": {"records": 1}}),
            {"merge": "ok", "why": "a path is data: every report escapes it"},
        ),
    }


def ok_record(why: str) -> dict[str, str]:
    return {"load": "ok", "why": why}


def main() -> None:
    cases: dict[str, dict[str, dict[str, str]]] = {"containers": {}, "records": {}, "shards": {}}
    for kind, items in (("containers", containers()), ("records", records()), ("shards", shards())):
        folder = HERE / kind
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for name, (raw, expect) in sorted(items.items()):
            (folder / name).write_bytes(raw)
            cases[kind][name] = expect
    (HERE / "cases.json").write_text(json.dumps(cases, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
