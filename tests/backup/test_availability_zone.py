"""A backup's ``availability_zone``, as Cinder fills it: the backup service's
``storage_availability_zone`` (``nova`` unless the cinder.conf sets it) when the request names
none (cinder/backup/manager.py), and the zone Cinder's Swift and S3 drivers write into a
backup's prefix, ``az_<zone>_backup_<id>`` (cinder/backup/chunkeddriver.py, ``self.az``).
Records said null even with a cinder.conf that sets it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

from docket.backup import Backup
from docket.backup.posix import PosixBackupDriver
from docket.backup.store import all_objects
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from docket.cli import app
from docket.core.errors import DriverOptionError
from tests._swift import Saio, ensure_saio, fresh_container


def _docket(*argv: str, env: Mapping[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app.cli, list(argv), env=dict(env or {}))
    return result.exit_code, result.stdout, result.stderr


def _conf(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cinder.conf"
    path.write_text("[DEFAULT]\n" + text)
    return path


def _zone_of_record(root: Path, backup_id: str, *config: str) -> str | None:
    code, out, err = _docket("volume", "export-record", backup_id, "--root", str(root), *config)
    assert code == 0, err
    return PosixBackupDriver(root).import_record(out.strip()).backup.availability_zone


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    path = tmp_path / "volume"
    path.write_bytes(b"\x07" * (1 << 20))
    return path


def test_a_posix_backup_made_with_a_cinder_conf_says_its_zone(
    tmp_path: Path, volume: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    config = ("--cinder-config", str(_conf(tmp_path, "storage_availability_zone = az-east\n")))
    code, out, err = _docket(
        "volume", "backup", str(volume), "--root", str(root), "--backup-id", "zoned-1",
        "--format", "json", *config,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["availability_zone"] == "az-east"
    assert _zone_of_record(root, "zoned-1", *config) == "az-east"
    # The POSIX layout keeps no zone: without the service's cinder.conf it is not known...
    assert _zone_of_record(root, "zoned-1") is None
    # ...and a cinder.conf that does not set it means Cinder's default, as for Cinder.
    plain = ("--cinder-config", str(_conf(tmp_path, "backup_compression_algorithm = zlib\n")))
    assert _zone_of_record(root, "zoned-1", *plain) == "nova"


def test_a_requested_zone_is_kept_and_a_zone_a_record_cannot_hold_is_refused(
    tmp_path: Path, volume: Path
) -> None:
    driver = PosixBackupDriver(tmp_path, availability_zone="az-east")
    done = driver.backup(Backup(id="asked-1", volume_id="v", availability_zone="az-x"), volume)
    assert done.availability_zone == "az-x"  # the request's, as Cinder's manager keeps it
    assert driver.get_backup("asked-1").availability_zone == "az-east"
    with pytest.raises(DriverOptionError, match="availability zone"):
        PosixBackupDriver(tmp_path, availability_zone="az\x1b[31m")


def test_a_swift_backup_says_the_zone_its_prefix_holds(tmp_path: Path, volume: Path) -> None:
    saio: Saio = ensure_saio()
    container = fresh_container()
    config = ("--cinder-config", str(_conf(tmp_path, "storage_availability_zone = az-west\n")))
    root = ("--root", f"swift://{container}")
    env = saio.env()
    code, out, err = _docket(
        "volume", "backup", str(volume), *root, "--backup-id", "zoned-s", "--format", "json",
        *config, env=env,
    )  # fmt: skip
    assert code == 0, err
    made = json.loads(out)
    assert "/az_az-west_backup_zoned-s" in made["service_metadata"]
    assert made["availability_zone"] == "az-west"
    driver = SwiftBackupDriver(
        SwiftStore(auth_url=saio.auth_url, user=saio.user, key=saio.key), container=container
    )
    try:
        # Read back from the prefix, whatever zone the reading driver is in.
        assert driver.get_backup("zoned-s").availability_zone == "az-west"
        code, out, err = _docket("volume", "export-record", "zoned-s", *root, env=env)
        assert code == 0, err
        assert driver.import_record(out.strip()).backup.availability_zone == "az-west"
    finally:
        for name in all_objects(driver.store, container):
            driver.store.delete_object(container, name)
