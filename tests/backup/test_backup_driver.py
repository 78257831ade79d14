"""The BackupDriver base class: metadata through the API, records, and what subclasses owe."""

from __future__ import annotations

import base64
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

import docket
import docket.backup
from docket.backup import Backup, BackupDriver, RestoreReport
from docket.backup.posix import PosixBackupDriver
from docket.errors import BackupError, ForeignRecord, SignatureError


class MemoryDriver(BackupDriver):
    """A complete driver in a few lines: volumes are bytes, backups live in a dict."""

    service_names = ("tests.MemoryDriver",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored: dict[str, tuple[bytes, str | None]] = {}

    def backup(self, backup: Backup, volume_file: Any, *, progress: Any = None) -> Backup:
        assert backup.volume_id is not None
        meta = self.get_metadata(backup.volume_id) if self.metadata_api else None
        self.stored[backup.id] = (bytes(volume_file), meta)
        return backup.replace(
            service=self.service, object_count=1, container="mem", service_metadata="m"
        )

    def restore(
        self, backup: Backup | str, volume_id: str | None, volume_file: Any, *, progress: Any = None
    ) -> RestoreReport:
        key = backup if isinstance(backup, str) else backup.id
        data, meta = self.stored[key]
        volume_file[:] = data
        results = ((key, self.put_metadata(volume_id, meta)),) if meta and volume_id else ()
        return RestoreReport(key, (key,), len(data), len(data), results)

    def delete(self, backup: Backup | str) -> None:
        del self.stored[backup if isinstance(backup, str) else backup.id]


class Metadata:
    def __init__(self) -> None:
        self.rows = {"vol-1": '{"version": 2, "volume-base-metadata": {"id": "vol-1"}}'}
        self.puts: list[tuple[str, str | bytes]] = []

    def get(self, volume_id: str) -> str:
        return self.rows[volume_id]

    def put(self, volume_id: str, json_metadata: str | bytes) -> str:
        self.puts.append((volume_id, json_metadata))
        return "done"


def test_the_base_class_is_abstract() -> None:
    with pytest.raises(TypeError):
        BackupDriver()  # type: ignore[abstract]

    class Partial(BackupDriver):
        def delete(self, backup: Backup | str) -> None:
            pass

    with pytest.raises(TypeError, match="backup"):
        Partial()  # type: ignore[abstract]


def test_metadata_goes_through_the_api() -> None:
    api = Metadata()
    driver = MemoryDriver(api)
    assert driver.get_metadata("vol-1") == api.rows["vol-1"]
    assert driver.put_metadata("vol-2", "{}") == "done"
    assert api.puts == [("vol-2", "{}")]

    backup = driver.backup(Backup(id="b-1", volume_id="vol-1"), b"bytes")
    target = bytearray()
    report = driver.restore(backup, "vol-9", target)
    assert target == b"bytes"
    assert api.puts[-1] == ("vol-9", api.rows["vol-1"])
    assert report.metadata == (("b-1", "done"),)


def test_without_an_api_metadata_calls_say_what_to_do() -> None:
    driver = MemoryDriver()
    with pytest.raises(BackupError, match="no metadata API") as caught:
        driver.get_metadata("vol-1")
    assert "BackupMetadataAPI" in caught.value.hint
    with pytest.raises(BackupError):
        driver.put_metadata("vol-1", "{}")


def test_verify_is_optional_for_drivers() -> None:
    with pytest.raises(NotImplementedError):
        MemoryDriver().verify("b-1")


def test_export_and_import_through_a_driver() -> None:
    driver = MemoryDriver(Metadata())
    backup = driver.backup(Backup(id="b-2", volume_id="vol-1", size=1), b"x")
    text = driver.export_record(backup)
    obj = json.loads(base64.b64decode(text))
    assert obj["driver_info"] == {} and obj["service"] == "tests.MemoryDriver"
    imported = driver.import_record(text)
    assert imported.backup == backup
    assert imported.driver_info == {}


def test_a_record_from_another_service_is_foreign() -> None:
    text = MemoryDriver().export_record(Backup(id="b-3", service="tests.MemoryDriver", size=0))
    with pytest.raises(ForeignRecord, match=r"tests\.MemoryDriver") as caught:
        PosixBackupDriver("/nonexistent").import_record(text)
    assert caught.value.path == '$["service"]'


def test_cinders_posix_records_are_the_posix_drivers_own(tmp_path: Path) -> None:
    cinder = Backup(
        id="b-4",
        service="cinder.backup.drivers.posix.PosixBackupDriver",
        size=1,
        object_count=0,
    )
    text = MemoryDriver().export_record(cinder, version=1)
    assert PosixBackupDriver(tmp_path).import_record(text).backup.id == "b-4"


def test_the_registry_key_signs_exported_records() -> None:
    signed = MemoryDriver(registry=docket.load_registry(signing_key=b"k"))
    text = signed.export_record(Backup(id="b-5", size=0, object_count=0))
    assert json.loads(base64.b64decode(text))["signature"].startswith("hmac-sha256:")
    assert signed.import_record(text).signature == "verified"
    unsigned = MemoryDriver().export_record(Backup(id="b-5", size=0, object_count=0))
    with pytest.raises(SignatureError):
        signed.import_record(unsigned)


def test_backup_fields_use_cinders_names_and_keep_unknown_ones() -> None:
    fields = {"id": "b-6", "size": 3, "display_name": "n", "temp_volume_id": "t"}
    backup = Backup.from_fields(fields)
    assert backup.size == 3 and backup.extra == {"temp_volume_id": "t"}
    assert backup.fields()["temp_volume_id"] == "t"
    assert {k: backup.fields()[k] for k in fields} == fields
    with pytest.raises(BackupError, match="string id"):
        Backup.from_fields({"id": 5})


def test_all_is_the_public_surface() -> None:
    public = {
        name
        for name, value in vars(docket.backup).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(docket.backup.__all__) == public
    assert sorted(docket.backup.__all__) == list(docket.backup.__all__)
