"""docket's driver inside a real ``cinder-backup``, driven through Cinder's REST API.

The deployment of ``cinder_deploy.py`` (cinder-api, -scheduler, -volume with Cinder's NFS
driver, -backup; RabbitMQ, MariaDB) runs with ``backup_driver`` set to
``docket.cinder.PosixBackupDriver``, then to Cinder's own ``PosixBackupDriver`` as the control,
and the same round trip runs with each:

- create a volume, write data, set its metadata; a full backup, change data, an incremental;
- restore both into new volumes and compare their bytes (zero-padded: Cinder truncates a new
  file-backed volume when it restores into it);
- export the incremental's record, delete the backup (its storage kept aside, as a copy
  elsewhere), import the record and restore again;
- force-delete a backup, and delete the chain: nothing of them is left in the backup root;
- the volume a restore made carries the same metadata with either driver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.interop import cinder_deploy
from tests.interop._cinder_service import (
    change_regions,
    padded_digest,
    put_back,
    set_aside,
    write_regions,
)
from tests.interop.cinder_rest import Cinder

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.xdist_group("cinder-service")]

METADATA = {"owner": "docket-interop", "tier": "gold", "note": "éclair ✓"}


def files_under(directory: Path) -> list[Path]:
    """The files left of a deleted backup (Cinder's driver leaves its empty directories,
    docket's removes them)."""
    return [p for p in directory.rglob("*") if not p.is_dir()] if directory.exists() else []


def _restored_view(volume: dict[str, Any], backup_id: str) -> dict[str, Any]:
    """What a restore gave the new volume, with the backup's own id taken out."""
    metadata = dict(volume["metadata"])
    assert metadata.pop("src_backup_id", backup_id) == backup_id
    return {
        "metadata": metadata,
        "name": volume["name"],
        "description": volume["description"],
        "bootable": volume["bootable"],
        "size": volume["size"],
    }


def round_trip(
    deployment: cinder_deploy.Deployment, api: Cinder, driver: str, aside: Path
) -> dict[str, Any]:
    """The round trip with ``driver`` running in cinder-backup; the restored volume's view."""
    deployment.switch(driver)
    root = deployment.backup_root
    source = api.create_volume(1, name="source", description="round trip")
    api.set_metadata(source, METADATA)
    path = deployment.volume_path(source)
    write_regions(path, seed=27)
    full_digest = padded_digest(path)
    full = api.create_backup(source)
    change_regions(path, seed=28)
    incr_digest = padded_digest(path)
    assert incr_digest != full_digest
    incr = api.create_backup(source, incremental=True)
    assert api.backup(incr)["is_incremental"]

    restored_full = api.restore(full)
    assert padded_digest(deployment.volume_path(restored_full)) == full_digest
    view = _restored_view(api.volume(restored_full), full)
    restored_incr = api.restore(incr)
    assert padded_digest(deployment.volume_path(restored_incr)) == incr_digest

    # Export, delete, import: the storage of the backup is kept aside and put back, as a
    # record is imported where its backup's objects are.
    record = api.export_record(incr)
    container = api.backup(incr)["container"]
    copy = set_aside(root, container, aside)
    api.delete_backup(incr)
    assert not files_under(root / container)
    put_back(copy, root, container)
    assert api.import_record(record) == incr
    again = api.restore(incr)
    assert padded_digest(deployment.volume_path(again)) == incr_digest

    # Force-delete a backup nothing builds on; then delete the chain, newest first.
    extra = api.create_backup(source, incremental=True)
    extra_container = api.backup(extra)["container"]
    api.delete_backup(extra, force=True)
    assert not files_under(root / extra_container)
    full_container = api.backup(full)["container"]
    api.delete_backup(incr)
    api.delete_backup(full)
    for gone in (container, full_container):
        assert not files_under(root / gone), f"{gone} is left in the backup root"

    for volume in (source, restored_full, restored_incr, again):
        api.delete_volume(volume)
    return view


def test_round_trip_with_docket_and_with_cinder(
    deployment: cinder_deploy.Deployment, api: Cinder, tmp_path: Path
) -> None:
    views = {
        driver: round_trip(deployment, api, driver, tmp_path / driver)
        for driver in ("docket", "cinder")
    }
    assert views["docket"] == views["cinder"]
    assert views["docket"]["metadata"] == METADATA
    # The new volume was named restore_backup_<id>; the restore gave it the source's name.
    assert (views["docket"]["name"], views["docket"]["description"]) == ("source", "round trip")


def test_a_damaged_backup_fails_its_restore_into_a_new_volume(
    deployment: cinder_deploy.Deployment, api: Cinder
) -> None:
    """Restored into a new volume (``volume_is_new``), docket's driver writes in one pass and
    checks as it goes: a damaged data object raises ``InvalidBackup``, the manager marks the
    new volume as failed and leaves the backup ``available``."""
    deployment.switch("docket")
    source = api.create_volume(1, name="damaged source")
    write_regions(deployment.volume_path(source), seed=29)
    backup = api.create_backup(source)
    directory = deployment.backup_root / api.backup(backup)["container"]
    data = sorted(p for p in directory.iterdir() if p.name[-6:-5] == "-")[0]
    blob = bytearray(data.read_bytes())
    middle = len(blob) // 2
    blob[middle : middle + 64] = bytes(b ^ 0x5A for b in blob[middle : middle + 64])
    data.write_bytes(bytes(blob))
    answer = api.call("POST", f"/backups/{backup}/restore", {"restore": {}}, expect=(202,))
    target = str(answer["restore"]["volume_id"])
    failed = api.wait("volume", target, "error", "error_restoring")
    assert failed["status"] in ("error", "error_restoring")
    assert api.wait("backup", backup, "available")["status"] == "available"
    log = (deployment.state / "logs" / "cinder-backup.log").read_text(errors="replace")
    assert "InvalidBackup" in log and "left partly written" in log
    api.delete_volume(target)
    api.delete_backup(backup)
    api.delete_volume(source)
