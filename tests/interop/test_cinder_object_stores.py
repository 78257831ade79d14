"""docket's Swift and S3 drivers inside a real ``cinder-backup``, through Cinder's REST API.

The deployment of ``cinder_deploy.py`` runs with ``backup_driver`` set to
``docket.cinder.SwiftBackupDriver``, then ``docket.cinder.S3BackupDriver``, both on the
one-node Swift of ``scripts/swift-saio`` (S3 through its s3api), configured by Cinder's own
``backup_swift_*`` and ``backup_s3_*`` options. With each:

- create a volume, write data, set its metadata; a full backup, change data, an incremental;
- the objects are in the store's container, in Cinder's layout (data objects, the SHA-256
  file, the metadata object, under ``volume_<id>/<time>/az_<zone>_backup_<id>``);
- restore both into new volumes and compare their bytes (zero-padded), and the restored
  volume's metadata;
- delete the chain: nothing of it is left in the container.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests._swift import Saio, ensure_saio
from tests.interop import cinder_deploy
from tests.interop._cinder_service import change_regions, padded_digest, write_regions
from tests.interop.cinder_rest import Cinder

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.xdist_group("cinder-service")]

METADATA = {"owner": "docket-objects", "tier": "silver"}
CONTAINERS = {"docket-swift": "docket-cinder", "docket-s3": "docket-cinder-s3"}


@pytest.fixture(scope="module")
def saio() -> Saio:
    return ensure_saio()


def _names(saio: Saio, container: str, prefix: str) -> list[str]:
    """The object names under ``prefix`` in ``container``, straight from Swift (S3 buckets
    are Swift containers under s3api)."""
    import swiftclient.client

    conn = swiftclient.client.Connection(authurl=saio.auth_url, user=saio.user, key=saio.key)
    try:
        _, listed = conn.get_container(container, prefix=prefix, full_listing=True)
    except swiftclient.client.ClientException as err:
        if err.http_status == 404:
            return []
        raise
    finally:
        conn.close()
    return sorted(str(item["name"]) for item in listed)


@pytest.fixture(scope="module", params=sorted(CONTAINERS))
def store_driver(
    request: pytest.FixtureRequest, saio: Saio, deployment: cinder_deploy.Deployment
) -> Iterator[str]:
    deployment.switch(request.param)
    yield request.param
    deployment.switch("docket")


def test_round_trip_through_the_object_store(
    store_driver: str, saio: Saio, deployment: cinder_deploy.Deployment, api: Cinder
) -> None:
    source = api.create_volume(1, name=f"objects-{store_driver}", description="round trip")
    made: list[str] = [source]
    backups: list[str] = []
    try:
        path = deployment.volume_path(source)
        write_regions(path, seed=27)
        api.set_metadata(source, METADATA)
        full_digest = padded_digest(path)
        backups.append(api.create_backup(source))
        change_regions(path, seed=28)
        incremental_digest = padded_digest(path)
        backups.append(api.create_backup(source, incremental=True))

        records: list[dict[str, Any]] = [api.backup(b) for b in backups]
        container = CONTAINERS[store_driver]
        stored = _names(saio, container, f"volume_{source}/")
        for record in records:
            assert record["container"] == container
            own = [n for n in stored if f"_backup_{record['id']}" in n]
            prefix = next(n for n in own if n.endswith("_metadata")).removesuffix("_metadata")
            assert prefix + "_sha256file" in own
            assert any(n.startswith(prefix + "-0000") for n in own)
            assert record["object_count"] == len(own) - 2
        assert records[1]["is_incremental"]

        for backup_id, digest in zip(backups, (full_digest, incremental_digest), strict=True):
            restored = api.restore(backup_id)
            made.append(restored)
            assert padded_digest(deployment.volume_path(restored)) == digest
            metadata = dict(api.volume(restored)["metadata"])
            metadata.pop("src_backup_id", None)
            assert metadata == METADATA

        for backup_id in reversed(backups):
            api.delete_backup(backup_id)
        backups.clear()
        assert _names(saio, container, f"volume_{source}/") == []
    finally:
        for backup_id in reversed(backups):
            api.delete_backup(backup_id, force=True)
        for volume_id in made:
            api.delete_volume(volume_id)
