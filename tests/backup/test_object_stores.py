"""Swift and S3 stores and drivers against a real one-node Swift (S3 through s3api).

Each store keeps the object-store protocol (:func:`docket.testing.check_object_store`), and
each driver backs up, restores, verifies, lists and deletes in Cinder's layout, leaving
nothing behind; errors are typed and carry no secret.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from docket.backup import Backup, BackupInUse, BackupNotFound, InvalidBackup
from docket.backup.errors import MissingStoreClient, ObjectStoreAuthError, ObjectStoreError
from docket.backup.objects import ObjectStoreBackupDriver
from docket.backup.s3 import S3BackupDriver, S3Store
from docket.backup.store import ObjectStore, all_objects
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from docket.cli import app
from docket.core.errors import BackupError
from docket.testing import check_object_store
from tests._swift import Saio, ensure_saio, fresh_container

PREFIX = re.compile(r"volume_vol-1/\d{14}/az_nova_backup_[a-z0-9-]+")


@pytest.fixture(scope="module")
def saio() -> Saio:
    return ensure_saio()


def swift_store(saio: Saio, **options: object) -> SwiftStore:
    return SwiftStore(
        auth_url=saio.auth_url,
        user=saio.user,
        key=saio.key,
        **options,  # type: ignore[arg-type]
    )


def s3_store(saio: Saio, **options: object) -> S3Store:
    return S3Store(
        endpoint_url=saio.endpoint,
        access_key=saio.user,
        secret_key=saio.key,
        region="us-east-1",
        **options,  # type: ignore[arg-type]
    )


STORES: dict[str, Callable[..., ObjectStore]] = {"swift": swift_store, "s3": s3_store}
DRIVERS = {"swift": SwiftBackupDriver, "s3": S3BackupDriver}


# Swift in the default run; S3 (the same engine through boto3 and the SAIO's s3api) in the
# long group, which .ci/run runs: the default run stays under its five minutes.
@pytest.fixture(params=["swift", pytest.param("s3", marks=pytest.mark.slow)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def driver(kind: str, saio: Saio) -> Iterator[ObjectStoreBackupDriver]:
    made = DRIVERS[kind](STORES[kind](saio), container=fresh_container(), chunk_size=1 << 20)
    yield made
    for name in all_objects(made.store, made.container):
        made.store.delete_object(made.container, name)


def test_the_stores_keep_the_object_store_protocol(kind: str, saio: Saio) -> None:
    check_object_store(lambda: STORES[kind](saio), container=fresh_container())


def _volume(path: Path, size: int, seed: int = 1) -> bytes:
    data = bytes((i * seed + i // 7) % 251 for i in range(size))
    path.write_bytes(data)
    return data


def test_full_and_incremental_restore_verify_and_delete_leave_nothing(
    driver: ObjectStoreBackupDriver, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    _volume(volume, (3 << 20) + 4096)
    full = driver.backup(Backup(id="full-1", volume_id="vol-1"), volume)
    assert full.container == driver.container
    assert PREFIX.fullmatch(full.service_metadata or "")
    names = all_objects(driver.store, driver.container)
    assert sorted(names) == sorted(
        [f"{full.service_metadata}-{i:05d}" for i in range(1, 5)]
        + [f"{full.service_metadata}_sha256file", f"{full.service_metadata}_metadata"]
    )
    with open(volume, "r+b") as fh:
        fh.seek(2 << 20)
        fh.write(b"changed" * 10)
    data = volume.read_bytes()
    incr = driver.backup(Backup(id="incr-1", volume_id="vol-1", parent_id="full-1"), volume)
    assert incr.object_count == 1

    report = driver.restore(incr, None, tmp_path / "restored")
    assert report.chain == ("full-1", "incr-1")
    assert (tmp_path / "restored").read_bytes() == data
    assert not driver.verify("incr-1").problems
    assert [(b.backup_id, b.status) for b in driver.list_backups("vol-1")] == [
        ("full-1", "available"),
        ("incr-1", "available"),
    ]

    with pytest.raises(BackupInUse):
        driver.delete("full-1")
    assert len(all_objects(driver.store, driver.container)) == 9  # a refusal changes nothing
    driver.delete(incr)
    driver.delete("full-1")
    assert all_objects(driver.store, driver.container) == []
    with pytest.raises(BackupNotFound):
        driver.delete("full-1")


@pytest.mark.parametrize(
    "compression",
    # bz2 takes ten times the others' time: in the long group (`-m slow`).
    ["none", "zlib", pytest.param("bz2", marks=pytest.mark.slow), "zstd"],
)
def test_objects_uploaded_side_by_side_and_read_ahead_restore_every_byte(
    kind: str, saio: Saio, tmp_path: Path, compression: str
) -> None:
    """Five objects, uploaded one at a time and three at a time, restored with the next
    object read ahead (zstd's frame check seeks back over what was read ahead): the same
    objects, the same bytes."""
    volume = tmp_path / "volume"
    data = _volume(volume, (5 << 20) - 12345, seed=3)
    listed = []
    for uploads in (0, 3):
        made = DRIVERS[kind](
            STORES[kind](saio, uploads=uploads),
            container=fresh_container(),
            chunk_size=1 << 20,
            compression=compression,
        )
        done = made.backup(Backup(id="side-1", volume_id="vol-1"), volume)
        prefix = done.service_metadata or ""
        listed.append([n[len(prefix) :] for n in all_objects(made.store, made.container)])
        made.restore(done, None, tmp_path / f"restored-{uploads}")
        assert (tmp_path / f"restored-{uploads}").read_bytes() == data
        assert not made.verify("side-1").problems
        made.delete(done)
        assert all_objects(made.store, made.container) == []
    own = ["-00001", "-00002", "-00003", "-00004", "-00005", "_metadata", "_sha256file"]
    assert listed[0] == listed[1] == own


def test_a_record_moves_a_backup_between_drivers(
    driver: ObjectStoreBackupDriver, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    data = _volume(volume, 1 << 20, seed=3)
    driver.backup(Backup(id="b-1", volume_id="vol-1", display_name="n"), volume)
    record = driver.export_record("b-1")
    imported = driver.import_record(record)
    assert imported.backup.service_metadata == driver.get_backup("b-1").service_metadata
    driver.restore(imported.backup, None, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data


def test_an_extra_object_under_a_prefix_refuses_the_restore(
    driver: ObjectStoreBackupDriver, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    _volume(volume, 1 << 20)
    done = driver.backup(Backup(id="b-2", volume_id="vol-1"), volume)
    extra = f"{done.service_metadata}-00099"
    driver.store.put_object(driver.container, extra, b"x", md5="9dd4e461268c8034f5c8564e155c67a6")
    target = tmp_path / "target"
    target.write_bytes(b"before")
    with pytest.raises(InvalidBackup, match="not in the metadata"):
        driver.restore(done, None, target)
    assert target.read_bytes() == b"before"


def test_wrong_credentials_are_a_typed_error_without_the_secret(kind: str, saio: Saio) -> None:
    secret = "not-the-key-9f8e7d"
    if kind == "swift":
        store: ObjectStore = SwiftStore(
            auth_url=saio.auth_url, user=saio.user, key=secret, retries=0
        )
    else:
        store = S3Store(
            endpoint_url=saio.endpoint,
            access_key=saio.user,
            secret_key=secret,
            region="us-east-1",
            retries=1,
        )
    with pytest.raises(ObjectStoreAuthError) as caught:
        store.list_objects("volumebackups")
    assert secret not in str(caught.value)


def test_an_unreachable_store_fails_after_bounded_retries(kind: str) -> None:
    if kind == "swift":
        store: ObjectStore = SwiftStore(
            auth_url="http://127.0.0.1:9/auth/v1.0", user="u", key="k", retries=1, backoff=0.01
        )
    else:
        store = S3Store(
            endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="s", retries=1
        )
    with pytest.raises(ObjectStoreError):
        store.create_container("volumebackups")


def test_a_missing_client_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "swiftclient", None)
    monkeypatch.setitem(sys.modules, "swiftclient.client", None)
    with pytest.raises(MissingStoreClient, match=r"docket\[swift\]"):
        SwiftStore(auth_url="http://127.0.0.1:9/auth/v1.0")
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingStoreClient, match=r"docket\[s3\]"):
        S3Store()


def test_names_are_checked_before_any_request(saio: Saio) -> None:
    store = swift_store(saio)
    for bad in ("../x", "a//b", ".hidden", "x\ny", "a" * 1100):
        with pytest.raises(ValueError):
            store.open_writer("volumebackups", bad)
    with pytest.raises(ValueError):
        store.create_container("a/b")


# --- what an operator meets: a chain whose parent is gone, a mistyped container ---------


def _cli(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app.cli, list(argv), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_an_incremental_without_its_parent_is_listed_invalid(
    driver: ObjectStoreBackupDriver, tmp_path: Path, saio: Saio
) -> None:
    """Listed `available`, size 0 GiB, once its parent was deleted with --force (POSIX said
    `invalid`); its size is now its chain's, as on POSIX."""
    volume = tmp_path / "volume"
    volume.write_bytes(b"\x01" * (3 << 20))
    driver.backup(Backup(id="full-l", volume_id="vol-l"), volume)
    driver.backup(Backup(id="incr-l", volume_id="vol-l", parent_id="full-l"), volume)
    listed = {b.backup_id: b for b in driver.list_backups("vol-l")}
    assert listed["incr-l"].status == "available" and listed["incr-l"].size == 1
    driver.delete("full-l", force=True)
    (orphan,) = driver.list_backups("vol-l")
    assert (orphan.backup_id, orphan.status, orphan.size) == ("incr-l", "invalid", None)
    assert orphan.problem == f"parent backup full-l is not in {driver.url}"
    code, out, err = _cli(
        "volume", "list", "--root", driver.url, "--format", "json", env=saio.env()
    )
    assert code == 0, err
    assert [(b["backup_id"], b["status"]) for b in json.loads(out)] == [("incr-l", "invalid")]


def test_a_container_that_does_not_exist_is_named_as_such(kind: str, saio: Saio) -> None:
    """`list` said "no backups under swift://typo" (exit 0), and verify, restore and delete
    "no backup in swift://typo": a mistyped container looked empty. Now each says the
    container does not exist (list exits 1, as for a backup root that does not exist)."""
    store = STORES[kind](saio)
    missing = fresh_container()
    missing_driver = DRIVERS[kind](store, container=missing)
    what = "container" if kind == "swift" else "bucket"
    said = f'the {what} "{missing}" does not exist'
    with pytest.raises(BackupError, match=said) as info:
        missing_driver.list_backups()
    assert "backup_swift_container" in info.value.hint
    with pytest.raises(BackupNotFound, match=said):
        missing_driver.verify("b-1")
    code, out, err = _cli("volume", "list", "--root", missing_driver.url, env=saio.env())
    assert (code, out) == (1, "") and said in err, err
    code, out, err = _cli("volume", "delete", "b-1", "--root", missing_driver.url, env=saio.env())
    assert code == 1 and said in err, err
    # A container that exists and holds nothing is still an empty list.
    missing_driver.store.create_container(missing)
    assert missing_driver.list_backups() == []


def test_a_root_of_the_scheme_alone_is_named_by_its_container(
    kind: str, saio: Saio, tmp_path: Path
) -> None:
    """`list --root swift://` said "no backups under swift://", not which container."""
    store = STORES[kind](saio)
    container = fresh_container()
    store.create_container(container)
    option = "backup_swift_container" if kind == "swift" else "backup_s3_store_bucket"
    conf = tmp_path / "cinder.conf"
    conf.write_text(f"[DEFAULT]\n{option} = {container}\n")
    code, out, err = _cli(
        "volume", "list", "--root", f"{kind}://", "--cinder-config", str(conf), env=saio.env()
    )
    assert (code, out) == (0, f"no backups under {kind}://{container}\n"), err


def test_list_reports_the_bytes_each_backup_stores(
    driver: ObjectStoreBackupDriver, tmp_path: Path, saio: Saio
) -> None:
    """`docket volume list` said stored_bytes 0 for every backup on Swift and S3 (a directory
    root gave real sizes): the sizes their listings give are summed, a partial backup's too."""
    volume = tmp_path / "volume"
    _volume(volume, (2 << 20) + 4096)
    made = {
        b.id: driver.backup(b, volume)
        for b in (Backup(id="full-s", volume_id="vol-s"), Backup(id="part-s", volume_id="vol-s"))
    }
    prefix = made["part-s"].service_metadata or ""
    driver.store.delete_object(driver.container, prefix + "_metadata")
    expected = {}
    for backup_id, backup in made.items():
        expected[backup_id] = 0
        for name in all_objects(driver.store, driver.container, backup.service_metadata or ""):
            with driver.store.open_object(driver.container, name) as fh:
                expected[backup_id] += len(fh.read())
    assert all(size > 0 for size in expected.values())
    page = driver.store.list_objects(driver.container, made["full-s"].service_metadata or "")
    assert page.sizes is not None and sum(s or 0 for s in page.sizes) == expected["full-s"]
    listed = {b.backup_id: (b.status, b.stored_bytes) for b in driver.list_backups("vol-s")}
    assert listed == {"full-s": ("available", expected["full-s"]),
                      "part-s": ("partial", expected["part-s"])}
    code, out, err = _cli(
        "volume", "list", "--root", driver.url, "--format", "json", env=saio.env()
    )
    assert code == 0, err
    assert {b["backup_id"]: b["stored_bytes"] for b in json.loads(out)} == expected


def test_two_prefixes_of_one_backup_id_are_listed_invalid(
    driver: ObjectStoreBackupDriver, tmp_path: Path
) -> None:
    """A writer of the container copies a backup's objects under a second prefix of the same
    id: restore by id refuses it (which one?), but `list` called both `available`, and a
    child of that id too."""
    volume = tmp_path / "volume"
    volume.write_bytes(b"\x02" * (2 << 20))
    full = driver.backup(Backup(id="full-d", volume_id="vol-d"), volume)
    driver.backup(Backup(id="incr-d", volume_id="vol-d", parent_id="full-d"), volume)
    prefix = full.service_metadata or ""
    other = re.sub(r"/\d{14}/", "/20990101000000/", prefix)
    assert other != prefix
    for name in all_objects(driver.store, driver.container):
        if name.startswith(prefix):
            with driver.store.open_object(driver.container, name) as fh:
                body = fh.read()
            md5 = hashlib.md5(body).hexdigest()
            driver.store.put_object(driver.container, other + name[len(prefix) :], body, md5=md5)
    listed = [(b.backup_id, b.status, b.problem) for b in driver.list_backups("vol-d")]
    several = f"the container holds several backups of this id: {prefix}, {other}"
    assert listed == [
        ("full-d", "invalid", several),
        ("incr-d", "invalid", "parent backup full-d is invalid"),
        ("full-d", "invalid", several),
    ]
    with pytest.raises(InvalidBackup, match="several backups of this id"):
        driver.restore("full-d", None, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()
