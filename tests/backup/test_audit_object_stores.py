"""``docket audit swift://C`` and ``s3://B`` against a real one-node Swift (S3 through s3api):
the POSIX audit's verdicts over a paged listing grouped by backup prefix, shards that merge
into one run, the same verdicts through either face of the store, ``--deep`` finding a
changed object, rows of Cinder's backups table, and a store that lists without end."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from docket.backup import Backup
from docket.backup.errors import ListingTooLong
from docket.backup.objects import ObjectStoreBackupDriver
from docket.backup.store import all_objects
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from docket.cli import app
from docket.fleet.audit import Summary, Verdict, audit
from tests._databases import backups_table
from tests._fault_proxy import FaultProxy, Rule
from tests._swift import Saio, fresh_container, saio_environment

SWIFT = "cinder.backup.drivers.swift.SwiftBackupDriver"
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def saio() -> Iterator[Saio]:
    with saio_environment() as found:  # what `docket audit swift://...` reads
        yield found


def _store(saio: Saio) -> SwiftStore:
    return SwiftStore(auth_url=saio.auth_url, user=saio.user, key=saio.key)


def _driver(saio: Saio, container: str, clock: Any = None) -> SwiftBackupDriver:
    extra = {} if clock is None else {"clock": clock}
    return SwiftBackupDriver(
        _store(saio), container=container, chunk_size=1 << 16, compression="none", **extra
    )


def _put(store: SwiftStore, container: str, name: str, data: bytes) -> None:
    store.put_object(container, name, data, md5=hashlib.md5(data).hexdigest())


def _objects(driver: ObjectStoreBackupDriver, done: Backup) -> list[str]:
    return sorted(all_objects(driver.store, driver.container, str(done.service_metadata)))


def _empty(driver: ObjectStoreBackupDriver) -> None:
    store, container = driver.store, driver.container
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: store.delete_object(container, n), all_objects(store, container)))


@pytest.fixture(scope="module")
def varied(saio: Saio, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A container holding a chain, a partial backup, an orphaned incremental, a backup
    changed behind docket's back, one with an object too many, two nested prefixes
    (``b-n`` and ``b-n-0`` at the same second) and a stray object."""
    container = fresh_container()
    driver = _driver(saio, container)
    image = tmp_path_factory.mktemp("vol") / "vol.img"
    image.write_bytes(os.urandom(150_000))
    made: dict[str, Backup] = {}

    def backup(backup_id: str, volume: str, parent: str | None = None) -> Backup:
        made[backup_id] = driver.backup(
            Backup(id=backup_id, volume_id=volume, parent_id=parent), image
        )
        return made[backup_id]

    backup("b-full", "v-1")
    backup("b-inc", "v-1", "b-full")
    partial = backup("b-partial", "v-2")
    driver.store.delete_object(container, f"{partial.service_metadata}_metadata")
    backup("b-gone", "v-3")
    backup("b-child", "v-3", "b-gone")
    for name in _objects(driver, made["b-gone"]):
        driver.store.delete_object(container, name)
    changed = backup("b-changed", "v-4")
    first = f"{changed.service_metadata}-00001"
    with driver.store.open_object(container, first) as fh:
        data = fh.read()
    _put(driver.store, container, first, bytes(b ^ 0xFF for b in data))  # same length
    extra = backup("b-extra", "v-5")
    _put(driver.store, container, f"{extra.service_metadata}-99999", b"not listed")
    nested = _driver(saio, container, clock=lambda: WHEN)
    made["b-n"] = nested.backup(Backup(id="b-n", volume_id="v-6"), image)
    made["b-n-0"] = nested.backup(Backup(id="b-n-0", volume_id="v-6"), image)
    _put(driver.store, container, "stray-object", b"x")
    yield {"container": container, "driver": driver, "made": made}
    _empty(driver)


def _run(url: str, **options: Any) -> list[dict[str, Any]]:
    return sorted(
        (v.to_json() for v in audit(url, **options)),
        key=lambda v: (v["backup_id"] or "", v["path"] or ""),
    )


def _kinds(verdicts: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {
        v["backup_id"] or v["path"]: sorted({f["kind"] for f in v["findings"]}) for v in verdicts
    }


def test_the_audit_of_a_container_finds_what_the_posix_audit_finds(varied: dict[str, Any]) -> None:
    verdicts = _run(f"swift://{varied['container']}")
    assert _kinds(verdicts) == {
        "b-full": [],
        "b-inc": [],
        "b-partial": ["partial"],
        "b-child": ["missing-parent"],
        "b-changed": [],  # only reading the objects shows it
        "b-extra": ["unexpected"],
        # Cinder's restore lists by prefix: b-n-0's names all start with b-n's prefix, and
        # b-n's data objects (b-n-00001...) with b-n-0's. Each is refused.
        "b-n": ["unexpected"],
        "b-n-0": ["unexpected"],
        "stray-object": ["orphan"],
    }
    by_id = {v["backup_id"]: v for v in verdicts}
    assert by_id["b-inc"]["parent_id"] == "b-full"
    assert by_id["b-inc"]["readers"] == ["cinder", "docket"]
    assert by_id["b-inc"]["path"] == varied["made"]["b-inc"].service_metadata
    assert by_id["b-full"]["formats"] == {"chunked-backup": "1.0.0", "chunked-sha256": "1.0.0"}
    assert by_id["b-partial"]["volume_id"] == "v-2"
    unexpected = [f["object"] for f in by_id["b-n"]["findings"]]
    assert unexpected and all("_backup_b-n-0" in o for o in unexpected)
    # b-n-0 met its names after b-n-0's had begun: listed again, all of them seen.
    prefix = varied["made"]["b-n"].service_metadata
    assert [f["object"] for f in by_id["b-n-0"]["findings"]] == [
        f"{prefix}-00001",
        f"{prefix}-00002",
        f"{prefix}-00003",
    ]


def test_deep_finds_the_changed_object_through_swift_and_s3_alike(varied: dict[str, Any]) -> None:
    container = varied["container"]
    swift = _run(f"swift://{container}", deep=True)
    assert _kinds(swift)["b-changed"] == ["altered"]
    changed = next(v for v in swift if v["backup_id"] == "b-changed")
    assert changed["integrity"] == "damaged" and changed["readers"] == []
    assert _kinds(swift)["b-full"] == [] and _kinds(swift)["b-inc"] == []
    assert _run(f"s3://{container}", deep=True) == swift
    assert _run(f"s3://{container}") == _run(f"swift://{container}")


def test_small_pages_and_worker_processes_give_the_verdicts_of_one_run(
    varied: dict[str, Any],
) -> None:
    # Pages of 2 names cut every backup's objects across pages, nested prefixes too.
    url = f"swift://{varied['container']}"
    one = _run(url)
    assert _run(url, page=2) == one
    assert _run(url.replace("swift", "s3"), page=3) == one
    assert _run(url, jobs=2, deep=True) == _run(url, deep=True)


def test_a_cinder_config_gives_the_store(
    saio: Saio, varied: dict[str, Any], tmp_path: Path
) -> None:
    conf = tmp_path / "cinder.conf"
    conf.write_text(
        "[DEFAULT]\n"
        f"backup_s3_endpoint_url = {saio.endpoint}\n"
        f"backup_s3_store_access_key = {saio.user}\n"
        f"backup_s3_store_secret_key = {saio.key}\n"
    )
    bare = {**dict.fromkeys(saio.env(), ""), "AWS_DEFAULT_REGION": "us-east-1"}
    root = f"s3://{varied['container']}"
    code, out, err = _docket("audit", root, "--format", "jsonl", env=bare)
    assert code == 3 and "NoCredentialsError" in err, err  # it could not run
    code, out, err = _docket(
        "audit", root, "--cinder-config", str(conf), "--format", "jsonl", env=bare
    )
    assert code == 1, err
    assert [json.loads(x) for x in out.splitlines()[1:-1]] == [
        json.loads(x) for x in _docket("audit", root, "--format", "jsonl")[1].splitlines()[1:-1]
    ]
    assert saio.key not in out + err


def test_shards_merge_into_the_single_run(varied: dict[str, Any], tmp_path: Path) -> None:
    url = f"swift://{varied['container']}"
    files = []
    for i in (1, 2, 3):
        out = tmp_path / f"shard-{i}.jsonl"
        argv = ("--shard", f"{i}/3", "--format", "jsonl", "-o", str(out))
        code, _, err = _docket("audit", url, *argv)
        assert code == 1, err
        files.append(str(out))
    code, merged, err = _docket("audit", "merge", *files, "--format", "json")
    assert code == 1, err
    code, single, err = _docket("audit", url, "--format", "json")
    assert code == 1, err
    assert json.loads(merged) == json.loads(single)
    lines = [json.loads(x) for f in files for x in Path(f).read_text().splitlines()[1:-1]]
    assert sorted(v["backup_id"] or v["path"] for v in lines) == sorted(
        v["backup_id"] or v["path"] for v in _run(url)
    )
    roots = {json.loads(Path(f).read_text().splitlines()[0])["shard"]["root"] for f in files}
    assert roots == {url}


def _docket(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app.cli, list(argv), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_rows_of_the_swift_services_are_matched_by_prefix(
    varied: dict[str, Any], tmp_path: Path
) -> None:
    container = varied["container"]
    made = varied["made"]
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    rows = [
        {
            "id": backup_id,
            "volume_id": made[backup_id].volume_id,
            "parent_id": made[backup_id].parent_id,
            "status": "available",
            "container": container,
            "service_metadata": made[backup_id].service_metadata,
            "service": SWIFT,
            "deleted": False,
        }
        for backup_id in ("b-full", "b-changed", "b-extra", "b-n", "b-n-0", "b-child")
    ]
    rows += [
        {"id": "b-lost", "volume_id": "v-9", "status": "available", "container": container,
         "service_metadata": "volume_v-9/20260101000000/az_nova_backup_b-lost",
         "service": "docket.backup.swift.SwiftBackupDriver", "deleted": False},
        # another container's, an S3 and a POSIX row and a deleted one: not this audit's
        {"id": "b-other", "container": "elsewhere", "service": SWIFT, "deleted": False},
        {"id": "b-s3", "container": container, "deleted": False,
         "service": "cinder.backup.drivers.s3.S3BackupDriver"},
        {"id": "b-posix", "service": "cinder.backup.drivers.posix.PosixBackupDriver",
         "deleted": False},
        {"id": "b-deleted", "container": container, "service": SWIFT, "deleted": True},
    ]  # fmt: skip
    columns = ("volume_id", "parent_id", "status", "container", "service_metadata")
    backups_table(url, [{**dict.fromkeys(columns), **row} for row in rows])
    code, out, err = _docket("audit", f"swift://{container}", "--db", url, "--format", "jsonl")
    assert code == 1, err
    verdicts = [json.loads(line) for line in out.splitlines()[1:-1]]
    kinds = _kinds(verdicts)
    assert kinds["b-lost"] == ["no-files"]
    assert "no-row" in kinds["b-inc"] and "no-row" in kinds["b-partial"]
    assert kinds["b-full"] == [] and kinds["b-n-0"] == ["unexpected"]
    assert not {"b-other", "b-s3", "b-posix", "b-deleted"} & set(kinds)
    lost = next(v for v in verdicts if v["backup_id"] == "b-lost")
    assert lost["path"] == "volume_v-9/20260101000000/az_nova_backup_b-lost"


def test_exit_codes_clean_findings_and_a_listing_past_the_cap(
    saio: Saio, varied: dict[str, Any], tmp_path: Path
) -> None:
    clean = _driver(saio, fresh_container())
    image = tmp_path / "vol.img"
    image.write_bytes(b"\x05" * 70_000)
    clean.backup(Backup(id="c-1", volume_id="v-1"), image)
    try:
        code, out, err = _docket("audit", f"swift://{clean.container}", "--deep")
        assert code == 0, err
        code, out, err = _docket("audit", f"s3://{varied['container']}")
        assert code == 1 and "partial" in out, err
        # The cap counts every name listed: past it, the audit cannot be made.
        code, out, err = _docket("audit", f"swift://{varied['container']}", "--max-listed", "5")
        assert code == 3 and "passed 5 names" in err, (code, err)
        code, out, err = _docket("audit", f"swift://{fresh_container()}")
        assert code == 2 and "does not exist" in err, err
    finally:
        _empty(clean)


def test_a_listing_that_never_ends_is_refused(saio: Saio, monkeypatch: pytest.MonkeyPatch) -> None:
    container = fresh_container()
    store = _store(saio)
    store.create_container(container)
    with FaultProxy(int(saio.endpoint.rsplit(":", 1)[1])) as proxy:
        proxy.add(Rule("GET", f"/{container}", "endless"))
        env = {**saio.env(), "ST_AUTH": f"{proxy.endpoint}/auth/v1.0"}
        code, _, err = _docket("audit", f"swift://{container}", "--max-listed", "5000", env=env)
        assert code == 3 and "passed 5000 names" in err, (code, err)
        assert proxy.count("GET", f"/{container}") <= 7
        monkeypatch.setenv("ST_AUTH", env["ST_AUTH"])
        with pytest.raises(ListingTooLong, match="passed 2500 names"):
            list(audit(f"swift://{container}", max_listed=2500))


def test_hostile_names_and_sizes(saio: Saio, tmp_path: Path) -> None:
    """A name with control characters is shown escaped; an object larger than the audit
    reads is a finding, not a read."""
    driver = _driver(saio, fresh_container())
    image = tmp_path / "vol.img"
    image.write_bytes(b"\x07" * 70_000)
    done = driver.backup(Backup(id="h-1", volume_id="v-1"), image)
    conn = driver.store._conn()
    conn.put_object(driver.container, "evil\x1b[31mred\x07", b"x")  # past docket's name check
    try:
        code, out, err = _docket("audit", f"swift://{driver.container}")
        assert code == 1, err
        assert "\x1b" not in out and "\x07" not in out
        assert "evil\\x1b[31mred\\x07" in out, out
        code, out, err = _docket("audit", f"swift://{driver.container}", "--format", "jsonl")
        assert "\x1b" not in out
        found = [Verdict.from_json(json.loads(x)) for x in out.splitlines()[1:-1]]
        assert [v.findings[0].kind for v in found if v.backup_id is None] == ["orphan"]
        # A metadata object that declares a terabyte object: read as far as it goes.
        meta_name = f"{done.service_metadata}_metadata"
        with driver.store.open_object(driver.container, meta_name) as fh:
            meta = json.loads(fh.read())
        ((first, entry),) = meta["objects"][0].items()
        entry["length"] = 1 << 40
        _put(driver.store, driver.container, meta_name, json.dumps(meta, indent=2).encode())
        deep = next(v for v in audit(f"swift://{driver.container}", deep=True) if v.backup_id)
        assert ("truncated", first) in {(f.kind, f.object) for f in deep.findings}
        small = list(audit(f"swift://{driver.container}", max_object_bytes=100))
        backup = next(v for v in small if v.backup_id == "h-1")
        assert [f.kind for f in backup.findings] == ["unreadable"]
        assert backup.findings[0].object == f"{done.service_metadata}_metadata"
    finally:
        conn.delete_object(driver.container, "evil\x1b[31mred\x07")
        _empty(driver)


@pytest.mark.slow
def test_ten_thousand_objects_over_pages_shards_and_both_faces(saio: Saio, tmp_path: Path) -> None:
    driver = _driver(saio, fresh_container())
    image = tmp_path / "vol.img"
    image.write_bytes(os.urandom(200_000))
    driver.backup(Backup(id="big-1", volume_id="v-1"), image)
    driver.backup(Backup(id="big-2", volume_id="v-1", parent_id="big-1"), image)
    store, container = driver.store, driver.container
    names = [f"orphans/{n:06d}" for n in range(10_050)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: _put(store, container, n, b""), names))
    try:
        url = f"swift://{container}"
        whole = Summary()
        for verdict in audit(url):  # Swift's pages of 1,000 names: 11 of them
            whole.add(verdict)
        assert whole.records == 10_052 and whole.backups == 2
        assert whole.findings == {"orphan": 10_050}
        shards = Summary()
        for i in (1, 2, 3):
            for verdict in audit(url.replace("swift", "s3"), shard=(i, 3), jobs=2 if i == 1 else 1):
                shards.add(verdict)
        assert shards.to_json() == whole.to_json()
    finally:
        _empty(driver)


def test_an_empty_shard_names_the_container_cinder_conf_gives(
    saio: Saio, tmp_path: Path
) -> None:
    """`docket audit swift:// --cinder-config` (the container from cinder.conf) said its
    shard was empty "under swift://", without the container audited."""
    container = fresh_container()
    _store(saio).create_container(container)  # empty
    conf = tmp_path / "cinder.conf"
    conf.write_text(f"[DEFAULT]\nbackup_swift_container = {container}\n")
    code, _, err = _docket("audit", "swift://", "--cinder-config", str(conf), "--shard", "1/3")
    assert code == 0, err
    expected = f"shard 1/3 is empty: there are no backups under swift://{container}"
    assert err == f"docket audit: {expected}\n"
