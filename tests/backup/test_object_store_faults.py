"""Hostile and failing object stores: the real Swift (and its S3) behind a fault-injecting
proxy on 127.0.0.1, and objects changed in the store behind docket's back.

Every failure is a typed error after a bounded number of requests; a refused restore leaves
its target as it was; a refused backup leaves nothing under its prefix.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from docket.backup import Backup, InvalidBackup
from docket.backup.errors import ObjectStoreAuthError, ObjectStoreError
from docket.backup.objects import ObjectStoreBackupDriver
from docket.backup.s3 import S3BackupDriver, S3Store
from docket.backup.store import all_objects
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from tests._fault_proxy import FaultProxy, Rule
from tests._swift import PORT, Saio, ensure_saio, fresh_container

RETRIES = 2
OBJECT = 1 << 20
BEFORE = b"the target before the restore\n" * 100


@pytest.fixture(scope="module")
def saio() -> Saio:
    return ensure_saio()


@pytest.fixture(scope="module")
def proxy(saio: Saio) -> Iterator[FaultProxy]:
    with FaultProxy(PORT) as running:
        yield running


def _swift(saio: Saio, proxy: FaultProxy, container: str) -> SwiftBackupDriver:
    store = SwiftStore(
        auth_url=f"{proxy.endpoint}/auth/v1.0",
        user=saio.user,
        key=saio.key,
        retries=RETRIES,
        backoff=0.01,
        timeout=2,
    )
    return SwiftBackupDriver(store, container=container, chunk_size=OBJECT)


def _s3(saio: Saio, proxy: FaultProxy, container: str) -> S3BackupDriver:
    store = S3Store(
        endpoint_url=proxy.endpoint,
        access_key=saio.user,
        secret_key=saio.key,
        region="us-east-1",
        retries=RETRIES,  # Cinder's default retry mode, legacy: retries after the first
        timeout=2,
    )
    return S3BackupDriver(store, container=container, chunk_size=OBJECT)


@pytest.fixture(params=["swift", "s3"])
def setup(
    request: pytest.FixtureRequest, saio: Saio, proxy: FaultProxy, tmp_path: Path
) -> Iterator[tuple[ObjectStoreBackupDriver, Backup, Path, bytes]]:
    """A backup of three data objects, taken with no fault, and a target to restore onto."""
    proxy.clear()
    make = _swift if request.param == "swift" else _s3
    driver = make(saio, proxy, fresh_container())
    volume = tmp_path / "volume"
    data = random.Random(5).randbytes(3 * OBJECT - 1000)  # objects as large as the chunks
    volume.write_bytes(data)
    done = driver.backup(Backup(id="b-1", volume_id="v-1"), volume)
    target = tmp_path / "target"
    target.write_bytes(BEFORE)
    proxy.clear()
    yield driver, done, target, data
    proxy.clear()
    for name in all_objects(driver.store, driver.container):
        driver.store.delete_object(driver.container, name)


Setup = tuple[ObjectStoreBackupDriver, Backup, Path, bytes]


def _object(done: Backup, n: int) -> str:
    return f"{done.service_metadata}-{n:05d}"


def _gets(proxy: FaultProxy, done: Backup, n: int) -> int:
    return proxy.count("GET", _object(done, n).rpartition("/")[2])


def test_transient_server_errors_are_retried(setup: Setup, proxy: FaultProxy) -> None:
    driver, done, target, data = setup
    tail = _object(done, 2).rpartition("/")[2]
    proxy.add(Rule("GET", tail, "status", 503, times=2))
    driver.restore(done, None, target)
    assert target.read_bytes() == data
    assert _gets(proxy, done, 2) == 3


def test_persistent_server_errors_fail_after_bounded_retries(
    setup: Setup, proxy: FaultProxy
) -> None:
    driver, done, target, _ = setup
    proxy.add(Rule("GET", _object(done, 2).rpartition("/")[2], "status", 503))
    with pytest.raises(ObjectStoreError):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE
    assert _gets(proxy, done, 2) == RETRIES + 1


def test_a_body_reset_midway_is_resumed_where_it_stopped(setup: Setup, proxy: FaultProxy) -> None:
    driver, done, target, data = setup
    proxy.add(Rule("GET", _object(done, 1).rpartition("/")[2], "reset", 5000, times=1))
    driver.restore(done, None, target)
    assert target.read_bytes() == data
    assert _gets(proxy, done, 1) == 2


def test_an_object_listed_but_not_found_refuses_the_restore(
    setup: Setup, proxy: FaultProxy
) -> None:
    driver, done, target, _ = setup
    proxy.add(Rule("GET", _object(done, 3).rpartition("/")[2], "status", 404))
    with pytest.raises(InvalidBackup, match="cannot be read"):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE


def test_refused_credentials_are_an_auth_error(setup: Setup, proxy: FaultProxy) -> None:
    driver, done, target, _ = setup
    proxy.add(Rule("GET", "/", "status", 401), Rule("HEAD", "/", "status", 401))
    with pytest.raises(ObjectStoreAuthError):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE


def test_a_wrong_etag_refuses_the_backup_and_leaves_nothing(
    setup: Setup, proxy: FaultProxy, tmp_path: Path
) -> None:
    driver = setup[0]
    volume = tmp_path / "other"
    volume.write_bytes(b"\x07" * (2 * OBJECT))
    proxy.add(Rule("PUT", "-00002", "etag", '"00000000000000000000000000000000"'))
    with pytest.raises(InvalidBackup, match="MD5"):
        driver.backup(Backup(id="b-2", volume_id="v-2"), volume)
    assert all_objects(driver.store, driver.container, "volume_v-2/") == []


def test_a_listing_that_never_ends_is_refused(setup: Setup, proxy: FaultProxy) -> None:
    driver, _, _, _ = setup
    if isinstance(driver, S3BackupDriver):
        pytest.skip("the endless listing is made in Swift's JSON form")
    driver._backups.max_listed = 5000
    proxy.add(Rule("GET", f"/{driver.container}", "endless", query="prefix=volume_"))
    with pytest.raises(ObjectStoreError, match="passed 5000 names"):
        driver.list_backups()
    assert proxy.count("GET", f"/{driver.container}") <= 7


@pytest.mark.parametrize(
    "change", ["longer", "shorter", "missing", "extra", "other bytes", "no metadata"]
)
def test_objects_changed_in_the_store_refuse_the_restore(
    setup: Setup, change: str, tmp_path: Path
) -> None:
    driver, done, target, _ = setup
    store, container = driver.store, driver.container
    name = _object(done, 2)
    with store.open_object(container, name) as fh:
        stored = fh.read()
    replacement = {
        "longer": stored + b"\x00" * 10,
        "shorter": stored[:-10],
        "other bytes": bytes(b ^ 1 for b in stored),
    }
    if change in replacement:
        data = replacement[change]
        store.put_object(container, name, data, md5=hashlib.md5(data).hexdigest())
    elif change == "missing":
        store.delete_object(container, name)
    elif change == "extra":
        store.put_object(container, _object(done, 9), b"x", md5=hashlib.md5(b"x").hexdigest())
    else:
        store.delete_object(container, f"{done.service_metadata}_metadata")
    with pytest.raises(InvalidBackup):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE
    if change != "no metadata":
        assert driver.verify("b-1").problems
