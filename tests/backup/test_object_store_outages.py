"""A store whose server stops mid-run: a ``swift-proxy-server`` of the SAIO's own (same rings,
storage and tokens, a port of its own) is killed while docket backs up or restores through it,
for Swift and for S3 (s3api runs in the same server). The SAIO's own proxy keeps serving, so
the test sees what was left behind.

- A backup fails with a typed error after bounded retries, and either leaves nothing under its
  prefix or says, in its error, what may be left (the store was down when it cleaned up); the
  leftovers are a partial backup that ``delete`` removes once the store is back.
- A restore fails typed, and changes neither its target nor the database.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup
from docket.backup.errors import ObjectStoreError
from docket.backup.objects import ObjectStoreBackupDriver
from docket.backup.s3 import S3BackupDriver, S3Store
from docket.backup.store import all_objects
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from tests._databases import dump, scratch_database
from tests._swift import OwnProxy, Saio, ensure_saio, fresh_container

pytestmark = pytest.mark.slow

OBJECT = 1 << 20
BEFORE = b"the target before the restore\n" * 100


def store() -> Any:
    return pytest.importorskip("docket.store", reason="docket.store is not there yet")


@pytest.fixture(scope="module")
def saio() -> Saio:
    return ensure_saio()


def _driver(
    kind: str, endpoint: str, saio: Saio, container: str, api: Any = None
) -> ObjectStoreBackupDriver:
    if kind == "swift":
        swift = SwiftStore(
            auth_url=f"{endpoint}/auth/v1.0",
            user=saio.user,
            key=saio.key,
            retries=2,
            backoff=0.01,
            timeout=2,
        )
        return SwiftBackupDriver(swift, api, container=container, chunk_size=OBJECT)
    s3 = S3Store(
        endpoint_url=endpoint,
        access_key=saio.user,
        secret_key=saio.key,
        region="us-east-1",
        retries=2,
        timeout=2,
    )
    return S3BackupDriver(s3, api, container=container, chunk_size=OBJECT)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Any]:
    (tmp_path / "db").mkdir()
    with scratch_database("sqlite", tmp_path / "db") as url:
        engine = store().make_engine(url)
        store().init_db(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.mark.parametrize("kind", ["swift", "s3"])
def test_a_server_stopped_mid_backup_fails_it_and_leaves_nothing_unreported(
    saio: Saio, tmp_path: Path, kind: str
) -> None:
    container = fresh_container()
    volume = tmp_path / "volume"
    volume.write_bytes(random.Random(3).randbytes(8 * OBJECT))
    with OwnProxy(tmp_path) as server:
        driver = _driver(kind, server.endpoint, saio, container)

        def stop_midway(done: int, total: int) -> None:
            if done >= 3 * OBJECT:
                server.stop()

        with pytest.raises(ObjectStoreError) as raised:
            driver.backup(Backup(id="b-out", volume_id="v-out"), volume, progress=stop_midway)
    # Seen through the SAIO's own server, which kept running.
    there = _driver(kind, saio.endpoint, saio, container)
    left = all_objects(there.store, container, "volume_v-out/")
    if left:
        prefix = left[0].rpartition("-")[0]
        assert prefix in str(raised.value)
        assert "docket volume delete b-out" in str(raised.value)
        assert not any(n.endswith("_metadata") for n in left)  # never taken for a good one
        assert [b.status for b in there.list_backups("v-out")] == ["partial"]
        there.delete("b-out")
    assert all_objects(there.store, container, "volume_v-out/") == []


@pytest.mark.parametrize("kind", ["swift", "s3"])
def test_a_server_stopped_mid_restore_changes_no_target_and_no_database(
    saio: Saio, tmp_path: Path, kind: str, database: Any
) -> None:
    api = store().BackupMetadataAPI(database)
    source = store().create_volume(database, display_name="source", metadata={"k": "from"})
    target_volume = store().create_volume(database, display_name="target", metadata={"k": "to"})
    container = fresh_container()
    volume = tmp_path / "volume"
    volume.write_bytes(random.Random(4).randbytes(6 * OBJECT))
    done = _driver(kind, saio.endpoint, saio, container, api).backup(
        Backup(id="b-in", volume_id=source), volume
    )
    before = dump(database)
    target = tmp_path / "target"
    target.write_bytes(BEFORE)
    with OwnProxy(tmp_path) as server:
        driver = _driver(kind, server.endpoint, saio, container, api)

        def stop_midway(done: int, total: int) -> None:
            if done >= 2 * OBJECT:
                server.stop()

        with pytest.raises(ObjectStoreError):
            driver.restore(done, target_volume, target, progress=stop_midway)
    assert target.read_bytes() == BEFORE
    assert dump(database) == before
    assert sorted(p.name for p in tmp_path.iterdir() if "target" in p.name) == ["target"]
    # Once the store is back, the same restore goes through.
    there = _driver(kind, saio.endpoint, saio, container, api)
    there.restore(done, target_volume, target)
    assert target.read_bytes() == volume.read_bytes()
