"""Backup records whose fields the schema lets through but nothing downstream should take:
sizes past 1 PiB, counts past Cinder's columns, times that are not times, and text with
controls, bidirectional overrides or line separators (the service name, ids, the zone...).
Each is a typed error naming the field's ``$``-path, on import and on export; the command
line refuses a ``--service`` that holds one as a usage error."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.backup.records import MAX_SIZE_GIB, export_record, import_record
from docket.errors import RecordError
from tests._hostile_storage import FULL, make_backup, run_cli, volume_bytes
from tests._records import nightly

RECORDS = docket.load_registry().family("backup-record")
BACKUP = nightly("9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f")


def record(**changes: Any) -> str:
    """Cinder's record (version 1: no digest to recompute) of BACKUP with ``changes``."""
    obj = {**BACKUP.fields(), "status": "available", **changes}
    return base64.b64encode(json.dumps(obj).encode()).decode()


REFUSED = {
    "size 10**30 GiB": ({"size": 10**30}, '$["size"]'),
    "size just past 1 PiB": ({"size": MAX_SIZE_GIB + 1}, '$["size"]'),
    "size written 2.0": ({"size": 2.0}, '$["size"]'),
    "object_count past INTEGER": ({"object_count": 1 << 31}, '$["object_count"]'),
    "num_dependent_backups past INTEGER": (
        {"num_dependent_backups": 1 << 40},
        '$["num_dependent_backups"]',
    ),
    "service with a newline": (
        {"service": "docket.backup.posix.PosixBackupDriver\nforged: yes"},
        '$["service"]',
    ),
    "service with ESC": ({"service": "x\x1b]0;owned\x07"}, '$["service"]'),
    "zone with a bidi override": (
        {"availability_zone": "nova\u202eevil"},
        '$["availability_zone"]',
    ),
    "host with NUL": ({"host": "h\x00@posix"}, '$["host"]'),
    "volume id with a line separator": ({"volume_id": "v\u2028x"}, '$["volume_id"]'),
    "snapshot id with a zero-width space": ({"snapshot_id": "s\u200bx"}, '$["snapshot_id"]'),
    "container with a tab": ({"container": "5e/6f\t/x"}, '$["container"]'),
    "prefix with DEL": ({"service_metadata": "volume_\x7f"}, '$["service_metadata"]'),
    "created_at 1 MiB long": ({"created_at": "2" * (1 << 20)}, '$["created_at"]'),
    "created_at not a time": ({"created_at": "yesterday"}, '$["created_at"]'),
    "updated_at with ESC": ({"updated_at": "2026-01-02\x1b[2J"}, '$["updated_at"]'),
    "display name with a newline": ({"display_name": "nightly\nok"}, '$["display_name"]'),
    "description with ESC": ({"display_description": "a\x1b[31mred"}, '$["display_description"]'),
    "metadata key with CR": ({"metadata": {"k\r": "v"}}, '$["metadata"]["k\\u000d"]'),
    "metadata value with a bidi isolate": ({"metadata": {"k": "\u2067v"}}, '$["metadata"]["k"]'),
    "a field named with ESC": ({"x\x1b": 1}, '$["x\\u001b"]'),
    "a never-imported field named with ESC": ({"deleted\x1b": 1}, '$["deleted\\u001b"]'),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_import_refuses_a_hostile_field_naming_its_path(case: str) -> None:
    changes, path = REFUSED[case]
    with pytest.raises(RecordError) as caught:
        import_record(RECORDS, record(**changes))
    assert caught.value.path == path and caught.value.hint
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_export_refuses_the_same_fields(case: str) -> None:
    changes, path = REFUSED[case]
    with pytest.raises(RecordError) as caught:
        export_record(RECORDS, {**BACKUP.fields(), **changes})
    assert caught.value.path == path
    # The backup itself holds the value: the hint says to correct it, not that a record was
    # altered (there is no record yet).
    assert "altered" not in caught.value.hint and "correct the field" in caught.value.hint


@pytest.mark.parametrize(
    "changes",
    [
        {"size": MAX_SIZE_GIB},
        {"display_description": "line one\nline two\tindented"},
        {"display_name": "nightly \U0001f468\u200d\U0001f469\u200d\U0001f467 caf\u00e9"},
        {"created_at": "2026-01-02T03:04:05.000000"},  # oslo's, no zone
        {"created_at": "2026-01-02T03:04:05+00:00", "updated_at": None},
        {"metadata": {"k": "v", "\u00fcber": "gr\u00fc\u00df"}},
    ],
)
def test_what_cinder_and_people_write_still_imports(changes: dict[str, Any]) -> None:
    imported = import_record(RECORDS, record(**changes))
    assert (
        imported.backup.fields().items()
        >= {k: v for k, v in changes.items() if k != "metadata"}.items()
    )


def test_export_record_refuses_a_service_option_with_a_control_character(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
    base = ["volume", "export-record", FULL, "--root", str(root)]
    result = run_cli([*base, "--service", "cinder.backup.drivers.posix\nPosixBackupDriver"])
    assert result.exit_code == 2, result.output
    assert "service" in result.output and "\\n" in result.output and "hint: " in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1
    assert (
        run_cli([*base, "--service", "cinder.backup.drivers.posix.PosixBackupDriver"]).exit_code
        == 0
    )


# --- records relabelled to another version ---------------------------------------------------


def test_a_version_2_record_relabelled_version_1_does_not_skip_its_digest() -> None:
    """Version 1 (Cinder's) has no digest: a version 2 record altered, with its version
    member set to 1, imported with the altered name and its digest never checked."""
    obj = json.loads(base64.b64decode(export_record(RECORDS, BACKUP.fields())))
    obj.update(display_name="altered", version=1)
    with pytest.raises(RecordError) as caught:
        import_record(RECORDS, base64.b64encode(json.dumps(obj).encode()).decode())
    assert caught.value.path == '$["digest"]' and "version 1" in str(caught.value)


@pytest.mark.parametrize("family", [None, "backup-record"])
def test_a_family_member_in_a_version_1_record_is_refused_by_name(family: str | None) -> None:
    """``"family": null`` without a version was a MigrationError blaming docket's own
    upgrade; a family member with ``"version": 1`` was taken as a version 1 record."""
    changes: dict[str, Any] = {"family": family}
    if family is not None:
        changes["version"] = 1
    with pytest.raises(RecordError) as caught:
        import_record(RECORDS, record(**changes))
    assert caught.value.path == '$["family"]'


def test_backup_refuses_a_name_its_record_could_not_hold(tmp_path: Path) -> None:
    """``--name`` with ESC made a backup whose ``export-record`` then failed (the driver
    takes what Cinder gives it: the command line refuses it)."""
    src = tmp_path / "vol"
    src.write_bytes(volume_bytes())
    base = ["volume", "backup", str(src), "--root", str(tmp_path / "root"), "--volume-id", "v"]
    result = run_cli([*base, "--backup-id", "abc-1", "--name", "nightly\x1b[2J"])
    assert result.exit_code == 2 and "--name" in result.output, result.output
    assert not (tmp_path / "root").exists()
    described = [*base, "--backup-id", "abc-2", "--description", "two\nlines"]
    assert run_cli(described).exit_code == 0
    assert (
        run_cli(["volume", "export-record", "abc-2", "--root", str(tmp_path / "root")]).exit_code
        == 0
    )
