"""Switching a running cinder-backup between Cinder's POSIX driver and docket's strands nothing.

Through Cinder's REST API on the deployment of ``cinder_deploy.py``: Cinder's driver makes a
full and an incremental backup; ``docket cinder relabel --to docket`` (a dry run first, which
changes nothing) moves them and cinder-backup restarts with docket's driver, which restores
them and adds an incremental of its own. ``--to cinder`` moves all three back, and Cinder's
driver restores the mixed chain and deletes every backup of it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from docket.cli import commands
from tests.interop import cinder_deploy
from tests.interop._cinder_service import change_regions, padded_digest, write_regions
from tests.interop.cinder_rest import Cinder
from tests.interop.test_cinder_service import METADATA, files_under

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.xdist_group("cinder-service")]


def services(deployment: cinder_deploy.Deployment, ids: list[str]) -> dict[str, str]:
    engine = sa.create_engine(deployment.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, service FROM backups")).all()
    finally:
        engine.dispose()
    return {r.id: r.service for r in rows if r.id in ids}


def relabel(deployment: cinder_deploy.Deployment, to: str, *, dry_run: bool) -> dict[str, object]:
    out, err = io.StringIO(), io.StringIO()
    code = commands.relabel(
        deployment.database_url,
        deployment.backup_root,
        to,
        dry_run=dry_run,
        output_format="json",
        stdout=out,
        stderr=err,
    )
    assert code == 0, (out.getvalue(), err.getvalue())
    report: dict[str, object] = json.loads(out.getvalue())
    return report


def test_switch_from_cinder_to_docket_and_back(
    deployment: cinder_deploy.Deployment, api: Cinder, tmp_path: Path
) -> None:
    deployment.switch("cinder")
    source = api.create_volume(1, name="switch")
    api.set_metadata(source, METADATA)
    path = deployment.volume_path(source)
    write_regions(path, seed=31)
    full_digest = padded_digest(path)
    full = api.create_backup(source)
    change_regions(path, seed=32)
    incr_digest = padded_digest(path)
    incr = api.create_backup(source, incremental=True)
    chain = [full, incr]
    cinder_name = cinder_deploy.DRIVERS["cinder"]
    docket_name = cinder_deploy.DRIVERS["docket"]
    assert services(deployment, chain) == dict.fromkeys(chain, cinder_name)

    # Cinder's driver to docket's: a dry run checks and changes nothing.
    report = relabel(deployment, "docket", dry_run=True)
    assert {b["backup_id"] for b in report["backups"] if b["verdict"] == "move"} >= set(chain)
    assert report["changed"] == 0
    assert services(deployment, chain) == dict.fromkeys(chain, cinder_name)
    report = relabel(deployment, "docket", dry_run=False)
    assert services(deployment, chain) == dict.fromkeys(chain, docket_name)
    deployment.switch("docket")
    restored = [api.restore(full), api.restore(incr)]
    assert [padded_digest(deployment.volume_path(v)) for v in restored] == [
        full_digest,
        incr_digest,
    ]
    change_regions(path, seed=33)
    mixed_digest = padded_digest(path)
    mixed = api.create_backup(source, incremental=True)  # docket's, on Cinder's chain
    chain.append(mixed)

    # And back: Cinder's driver restores the mixed chain and deletes all of it.
    relabel(deployment, "cinder", dry_run=False)
    assert services(deployment, chain) == dict.fromkeys(chain, cinder_name)
    deployment.switch("cinder")
    again = api.restore(mixed)
    assert padded_digest(deployment.volume_path(again)) == mixed_digest
    containers = [api.backup(b)["container"] for b in chain]
    for backup in reversed(chain):
        api.delete_backup(backup)
    for container in containers:
        assert not files_under(deployment.backup_root / container)
    for volume in (source, *restored, again):
        api.delete_volume(volume)


def test_a_signed_backup_is_restored_by_docket_and_stays_docket_s(
    deployment: cinder_deploy.Deployment, api: Cinder, tmp_path: Path
) -> None:
    """With ``[docket] signing_key_file``, the volume metadata container is signed (version
    3): docket's driver restores it, and ``relabel --to cinder`` refuses to hand it to
    Cinder's driver, which reads versions 1 and 2 only."""
    key = deployment.state / "docket.key"
    key.write_bytes(b"a signing key for the interop test\n")
    deployment.switch("docket", signing_key=key)
    try:
        source = api.create_volume(1, name="signed")
        api.set_metadata(source, METADATA)
        write_regions(deployment.volume_path(source), seed=41)
        digest = padded_digest(deployment.volume_path(source))
        backup = api.create_backup(source)
        container = deployment.backup_root / api.backup(backup)["container"]
        (meta,) = container.glob("*_metadata")
        volume_meta = json.loads(json.loads(meta.read_text())["volume_meta"])
        assert volume_meta["version"] == 3
        assert volume_meta["signature"].startswith("hmac-sha256:")
        restored = api.restore(backup)
        assert padded_digest(deployment.volume_path(restored)) == digest
        assert _without_backup_id(api.volume(restored)["metadata"]) == METADATA

        out, err = io.StringIO(), io.StringIO()
        code = commands.relabel(
            deployment.database_url,
            deployment.backup_root,
            "cinder",
            dry_run=True,
            output_format="json",
            stdout=out,
            stderr=err,
        )
        assert code == 1, err.getvalue()
        (mine,) = [b for b in json.loads(out.getvalue())["backups"] if b["backup_id"] == backup]
        assert mine["verdict"] == "refuse"
        assert "version 3" in mine["reason"]
        api.delete_backup(backup)
        for volume in (source, restored):
            api.delete_volume(volume)
    finally:
        deployment.switch("docket")


def _without_backup_id(metadata: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if k != "src_backup_id"}
