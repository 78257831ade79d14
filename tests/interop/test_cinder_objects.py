"""Interop with the real Cinder's ``SwiftBackupDriver`` and ``S3BackupDriver`` on a real Swift (the
one-node SAIO of ``scripts/swift-saio``; S3 through its s3api).

Cinder 29.0.0 runs unmodified in its own virtualenv (``cinder_objects.py``), configured through
oslo.config as a deployment is (``backup_swift_auth = single_user``, or the S3 endpoint and
keys), and once more with ``backup_swift_auth = per_user``: the user's tempauth token and a
service catalog naming the user's storage URL in Cinder's request context, the same token
through docket's cinder.conf route. Both sides use one container and the same object size. For
each store and each compression (none, zlib, bz2, zstd):

- Cinder backs up (full, then incremental) and docket restores and verifies both, and
  restores the full from Cinder's exported record;
- docket backs up (full, then incremental), Cinder imports docket's records and restores;
- mixed chains: a Cinder incremental on a docket full and a docket incremental on a Cinder
  full, each restored by both;
- Cinder deletes docket's chain and docket deletes Cinder's: nothing stays under either
  volume's prefix, and the container stays.

The exchange runs once per store (two Cinder processes); each test checks one cell.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup
from docket.backup.objects import ObjectStoreBackupDriver
from docket.backup.roots import open_driver
from docket.backup.s3 import S3BackupDriver, S3Store
from docket.backup.store import all_objects
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from tests._swift import Saio, ensure_saio, fresh_container
from tests.interop._cinder import CHAINS, RESTORERS, run_object_steps
from tests.interop._cinder import cinder_python as shared_cinder_python

pytestmark = [pytest.mark.interop, pytest.mark.slow]

COMPRESSIONS = ("none", "zlib", "bz2", "zstd")
MIB = 1 << 20
SIZE = 6 * MIB
OBJECT_SIZE = 2 * MIB
GOLD = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
NAMESPACE = uuid.UUID("1f2e3d4c-5b6a-4798-a9b0-cbdcedfe0f10")
KINDS = ("full", "incremental")


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _images(rng: random.Random) -> tuple[bytes, bytes]:
    """A volume of random, zero and text regions, and its next state."""
    text = b"".join(f"line {i}: the quick brown fox\n".encode() for i in range(80000))
    first = bytearray(SIZE)
    first[0 : 2 * MIB] = rng.randbytes(2 * MIB)
    first[3 * MIB : 5 * MIB] = text[: 2 * MIB]
    second = bytearray(first)
    second[MIB : MIB + 300_000] = rng.randbytes(300_000)
    second[4 * MIB + 17 : 4 * MIB + 26] = b"CHANGED!!"
    second[5 * MIB : 5 * MIB + 65536] = rng.randbytes(65536)
    return bytes(first), bytes(second)


@dataclasses.dataclass
class World:
    kind: str
    states: dict[str, bytes]
    restored: dict[tuple[str, str, str, str], bytes | str]
    """(chain, compression, kind, restorer) -> restored bytes, or the error text."""
    verify: dict[tuple[str, str, str], list[str]]
    cinder_errors: list[str]
    left: dict[str, list[str]]
    """Per chain, what stays under its volumes' prefixes after the deletes."""
    container_kept: bool


def _bid(chain: str, c: str, kind: str) -> str:
    return _id("backup", chain, c, kind)


def _vid(chain: str, c: str) -> str:
    return _id("volume", chain, c)


def _tid(chain: str, c: str, kind: str) -> str:
    return _id("target", chain, c, kind)


def _volume(vid: str) -> dict[str, Any]:
    return {
        "op": "volume",
        "columns": {
            "id": vid,
            "size": 1,
            "volume_type_id": GOLD,
            "status": "available",
            "display_name": vid,
        },
    }


def _per_user(
    saio: Saio, container: str, folder: Path
) -> tuple[ObjectStoreBackupDriver, dict[str, Any]]:
    """Cinder's ``per_user`` Swift: the user's token from tempauth, and the service catalog
    that names the user's storage URL, in Cinder's request context; docket gets the same
    token through its cinder.conf route (``backup_swift_url`` + ``OS_PROJECT_ID``, with
    ``OS_AUTH_TOKEN``), as an operator would configure it."""
    import swiftclient.client

    storage_url, token = swiftclient.client.get_auth(saio.auth_url, saio.user, saio.key)
    base, _, project = storage_url.rpartition("AUTH_")
    conf = folder / "cinder-per-user.conf"
    conf.write_text(
        f"[DEFAULT]\nbackup_swift_auth = per_user\nbackup_swift_url = {base}AUTH_\n"
    )
    driver = open_driver(
        f"swift://{container}",
        cinder_config=conf,
        chunk_size=OBJECT_SIZE,
        environ={"OS_PROJECT_ID": project, "OS_AUTH_TOKEN": token},
    )
    assert isinstance(driver, ObjectStoreBackupDriver)
    catalog = [
        {"type": "object-store", "name": "swift", "endpoints": [{"publicURL": storage_url}]}
    ]
    options = {
        "backup_swift_auth": "per_user",
        "backup_swift_container": container,
        "backup_swift_object_size": OBJECT_SIZE,
    }
    store = {"kind": "swift", "options": options, "token": token, "project_id": project}
    return driver, {**store, "catalog": catalog}


def _stores(
    kind: str, saio: Saio, container: str, folder: Path
) -> tuple[ObjectStoreBackupDriver, dict[str, Any]]:
    """docket's driver and Cinder's configuration of one store and container."""
    if kind == "swift per_user":
        return _per_user(saio, container, folder)
    if kind == "swift":
        store = SwiftStore(auth_url=saio.auth_url, user=saio.user, key=saio.key)
        driver: ObjectStoreBackupDriver = SwiftBackupDriver(
            store, container=container, chunk_size=OBJECT_SIZE
        )
        options = {
            "backup_swift_auth": "single_user",
            "backup_swift_auth_url": saio.auth_url,
            "backup_swift_user": saio.user,
            "backup_swift_key": saio.key,
            "backup_swift_container": container,
            "backup_swift_object_size": OBJECT_SIZE,
        }
    else:
        s3 = S3Store(
            endpoint_url=saio.endpoint,
            access_key=saio.user,
            secret_key=saio.key,
            region="us-east-1",
        )
        driver = S3BackupDriver(s3, container=container, chunk_size=OBJECT_SIZE)
        options = {
            "backup_s3_endpoint_url": saio.endpoint,
            "backup_s3_store_access_key": saio.user,
            "backup_s3_store_secret_key": saio.key,
            "backup_s3_store_bucket": container,
            "backup_s3_object_size": OBJECT_SIZE,
        }
    return driver, {"kind": kind, "options": options}


def _cinder_backup(chain: str, c: str, kind: str, path: Path) -> dict[str, Any]:
    return {
        "op": "backup",
        "id": _bid(chain, c, kind),
        "volume_id": _vid(chain, c),
        "path": str(path),
        "compression": c,
        "name": f"{chain} {kind}",
        "parent_id": _bid(chain, c, "full") if kind == "incremental" else None,
    }


@pytest.fixture(scope="module")
def saio() -> Saio:
    return ensure_saio()


@pytest.fixture(scope="module", params=["swift", "swift per_user", "s3"])
def world(
    request: pytest.FixtureRequest, saio: Saio, tmp_path_factory: pytest.TempPathFactory
) -> World:
    kind = str(request.param)
    python = shared_cinder_python()
    tmp = tmp_path_factory.mktemp(f"{kind.replace(' ', '-')}-interop")
    container = fresh_container()
    driver, store = _stores(kind, saio, container, tmp)
    first, second = _images(random.Random(29))
    states = {"full": first, "incremental": second}
    paths = {k: tmp / f"{k}.img" for k in KINDS}
    for k in KINDS:
        paths[k].write_bytes(states[k])
    db = tmp / "cinder.db"
    errors: list[str] = []

    def cinder(workdir: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results = run_object_steps(python, tmp / workdir, db, store, steps)
        for step, result in zip(steps, results, strict=True):
            if "error" in result:
                errors.append(
                    f"{step['op']} {step.get('id')}: {result['error']}: {result['message']}"
                )
        return results

    # 1. Cinder: volumes, its fulls and incrementals, records of its chain.
    steps: list[dict[str, Any]] = [{"op": "migrate", "types": [{"id": GOLD, "name": "gold"}]}]
    for chain in CHAINS:
        for c in COMPRESSIONS:
            steps.append(_volume(_vid(chain, c)))
            steps += [_volume(_tid(chain, c, k)) for k in KINDS]
    for c in COMPRESSIONS:
        steps += [_cinder_backup("cinder>docket", c, k, paths[k]) for k in KINDS]
        steps.append(_cinder_backup("cinder-full+docket-incr", c, "full", paths["full"]))
        steps.append({"op": "export", "id": _bid("cinder>docket", c, "full")})
    results = cinder("cinder-1", steps)
    exported = [r for s, r in zip(steps, results, strict=True) if s["op"] == "export"]

    # 2. docket: restore and verify Cinder's chain (and its full from Cinder's record); back
    #    up its own chains and export their records.
    restored: dict[tuple[str, str, str, str], bytes | str] = {}
    verify: dict[tuple[str, str, str], list[str]] = {}

    def docket_restore(chain: str, c: str, k: str, backup: Backup | str | None = None) -> None:
        out = tmp / f"{chain}-{c}-{k}-docket.img"
        try:
            driver.restore(backup or _bid(chain, c, k), None, out)
            restored[(chain, c, k, "docket")] = out.read_bytes()
            if backup is None:
                report = driver.verify(_bid(chain, c, k))
                verify[(chain, c, k)] = [str(p) for p in report.problems]
        except Exception as err:  # recorded; the cell's test fails with it
            restored[(chain, c, k, "docket")] = f"{type(err).__name__}: {err}"

    records: list[dict[str, Any]] = []
    for i, c in enumerate(COMPRESSIONS):
        driver.compression = driver._compression(c)
        for k in KINDS:
            docket_restore("cinder>docket", c, k)
        imported = driver.import_record(exported[i]["backup_url"])
        docket_restore("cinder>docket", c, "record", imported.backup)
        plan = [
            ("docket>cinder", "full"),
            ("docket>cinder", "incremental"),
            ("docket-full+cinder-incr", "full"),
            ("cinder-full+docket-incr", "incremental"),
        ]
        for chain, k in plan:
            done = driver.backup(
                Backup(
                    id=_bid(chain, c, k),
                    volume_id=_vid(chain, c),
                    display_name=f"{chain} {k}",
                    parent_id=_bid(chain, c, "full") if k == "incremental" else None,
                ),
                paths[k],
            )
            records.append(
                {"backup_service": driver.service, "backup_url": driver.export_record(done)}
            )
        docket_restore("cinder-full+docket-incr", c, "incremental")

    # 3. Cinder: import docket's records, its incrementals on docket's fulls, restore every
    #    chain that needs Cinder, then delete docket's chain.
    steps = [{"op": "import", **r} for r in records]
    steps += [
        _cinder_backup("docket-full+cinder-incr", c, "incremental", paths["incremental"])
        for c in COMPRESSIONS
    ]
    outs: dict[tuple[str, str, str], Path] = {}
    for chain, restorers in RESTORERS.items():
        if "cinder" not in restorers:
            continue
        for c in COMPRESSIONS:
            for k in KINDS:
                if chain != "docket>cinder" and k == "full":
                    continue
                out = outs[(chain, c, k)] = tmp / f"{chain}-{c}-{k}-cinder.img"
                steps.append(
                    {
                        "op": "restore",
                        "id": _bid(chain, c, k),
                        "volume_id": _tid(chain, c, k),
                        "path": str(out),
                        "size": SIZE,
                    }
                )
    for c in COMPRESSIONS:
        steps += [{"op": "delete", "id": _bid("docket>cinder", c, k)} for k in reversed(KINDS)]
    results = cinder("cinder-2", steps)
    for (chain, c, k), out in outs.items():
        restored[(chain, c, k, "cinder")] = out.read_bytes() if out.exists() else "not restored"

    # 4. docket: the Cinder incremental on its full; then it deletes Cinder's chain.
    for c in COMPRESSIONS:
        docket_restore("docket-full+cinder-incr", c, "incremental")
        for k in reversed(KINDS):
            driver.delete(_bid("cinder>docket", c, k))
    left = {
        chain: [
            name
            for c in COMPRESSIONS
            for name in all_objects(driver.store, container, f"volume_{_vid(chain, c)}/")
        ]
        for chain in ("cinder>docket", "docket>cinder")
    }
    kept = bool(driver.store.list_objects(container, "volume_", limit=1).names)
    return World(kind, states, restored, verify, errors, left, kept)


@pytest.mark.parametrize("c", COMPRESSIONS)
@pytest.mark.parametrize("chain", list(CHAINS))
def test_each_side_restores_the_others_backups(world: World, chain: str, c: str) -> None:
    assert not world.cinder_errors, world.cinder_errors
    for restorer in RESTORERS[chain]:
        kinds = (
            KINDS
            if (chain, restorer) in (("cinder>docket", "docket"), ("docket>cinder", "cinder"))
            else ("incremental",)
        )
        for k in kinds:
            got = world.restored[(chain, c, k, restorer)]
            assert not isinstance(got, str), got
            assert got[:SIZE] == world.states[k], (chain, c, k, restorer)


@pytest.mark.parametrize("c", COMPRESSIONS)
def test_docket_verifies_cinders_backups_and_restores_from_its_record(world: World, c: str) -> None:
    for k in KINDS:
        assert world.verify[("cinder>docket", c, k)] == []
    got = world.restored[("cinder>docket", c, "record", "docket")]
    assert not isinstance(got, str), got
    assert got == world.states["full"]


def test_deletes_by_either_side_leave_nothing_and_keep_the_container(world: World) -> None:
    assert world.left == {"cinder>docket": [], "docket>cinder": []}
    assert world.container_kept  # the mixed chains are still there: the container stays
