"""Backup storage, records and input files as an attacker leaves them (issue 12), part two:
signing keys, records that reach for another backup, output files, database equality, smaller
edges and a target the file system cannot grow (see test_hostile_storage.py)."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import docket.store
from docket import load_registry
from docket.backup import Backup, PosixBackupDriver
from docket.errors import (
    BackupNotFound,
    DriverOptionError,
    InvalidBackup,
    KeyConflict,
    SignatureError,
    UnsafeFile,
)
from docket.fs import write_atomic
from tests import _hostile_storage as hs
from tests._databases import dump, scratch_database
from tests._hostile_storage import FULL, backed_up_root, driver, make_backup, run_cli, volume_bytes
from tests._trees import snapshot

# A FIFO opened the wrong way blocks forever: every test here runs under an alarm.
pytestmark = pytest.mark.usefixtures("never_blocks")

# --- 5. signing keys are honoured everywhere --------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "operator.key"
    path.write_bytes(hs.KEY)
    return path


def test_volume_commands_take_the_key_and_refuse_unsigned_backups(
    tmp_path: Path, sqlite_db: tuple[str, Any], key_file: Path
) -> None:
    url, engine = sqlite_db
    hs.make_volume(engine)
    root = tmp_path / "root"
    src = tmp_path / "src"
    src.write_bytes(volume_bytes())
    base = ["--root", str(root)]
    db = ["--db", url, "--volume-id", hs.VOLUME_ID]
    # Unsigned (no key): verify and restore with the key refuse it.
    assert run_cli(["volume", "backup", str(src), *base, *db, "--backup-id", FULL]).exit_code == 0
    env = {"DOCKET_SIGNING_KEY_FILE": str(key_file)}
    result = run_cli(["volume", "verify", FULL, *base], env=env)
    assert result.exit_code == 1 and "container is refused" in result.output
    before = dump(engine)
    target = tmp_path / "target"
    result = run_cli(["volume", "restore", FULL, *base, str(target), *db], env=env)
    assert result.exit_code == 1 and dump(engine) == before and not target.exists()
    # Signed (with the key): accepted everywhere the key is given.
    signed = ["--key-file", str(key_file)]
    assert run_cli(["volume", "backup", str(src), *base, *db, "--backup-id", "cc33-signed",
                    *signed]).exit_code == 0  # fmt: skip
    assert run_cli(["volume", "verify", "cc33-signed", *base, *signed]).exit_code == 0
    restored = run_cli(["volume", "restore", "cc33-signed", *base, str(target), *db, *signed])
    assert restored.exit_code == 0, restored.output
    # Re-digested with the old signature: the digest matches, the signature does not.
    meta = hs.object_path(root, "cc33-signed", "_metadata")
    container = json.loads(json.loads(meta.read_bytes())["volume_meta"])
    assert container.get("signature")
    family = load_registry().family("backup-metadata")
    altered = {k: v for k, v in container.items() if k not in ("digest", "signature")}
    altered["volume-base-metadata"] = dict(altered["volume-base-metadata"], display_name="evil")
    redigested = dict(family.new(altered).data, signature=container["signature"])
    hs.rewrite(meta, lambda d: d.update(volume_meta=json.dumps(redigested)))
    result = run_cli(["volume", "verify", "cc33-signed", *base, *signed])
    assert result.exit_code == 1 and "signature" in result.output.lower()
    before = dump(engine)
    result = run_cli(["volume", "restore", "cc33-signed", *base, str(target), *db, *signed])
    assert result.exit_code == 1 and dump(engine) == before


def test_import_record_honours_the_key(tmp_path: Path, key_file: Path) -> None:
    root = tmp_path / "root"
    # Taken with the key: its object list and sha256file are sealed, as a keyed import needs.
    make_backup(root, tmp_path, volume_bytes(), registry=load_registry().with_signing_key(hs.KEY))
    unsigned = driver(root).export_record(FULL)
    signed = driver(root, registry=load_registry().with_signing_key(hs.KEY)).export_record(FULL)
    base = ["volume", "import-record", "--root", str(root)]
    assert run_cli([*base, unsigned]).exit_code == 0
    result = run_cli([*base, "--key-file", str(key_file), unsigned])
    assert result.exit_code == 1 and "sign" in result.output.lower()
    assert run_cli([*base, "--key-file", str(key_file), signed]).exit_code == 0
    result = run_cli([*base, "-"], input=unsigned, env={"DOCKET_SIGNING_KEY_FILE": str(key_file)})
    assert result.exit_code == 1
    # Altered after signing, digest recomputed, the old signature kept.
    obj = json.loads(base64.b64decode(signed))
    family = load_registry().family("backup-record")
    fields = {k: v for k, v in obj.items() if k not in ("digest", "signature")}
    fields["display_name"] = "evil"
    redigested = dict(family.new(fields).data, signature=obj["signature"])
    text = base64.b64encode(json.dumps(redigested).encode()).decode()
    assert run_cli([*base, text]).exit_code == 0  # without a key nothing can tell
    with pytest.raises(SignatureError):
        driver(root, registry=load_registry().with_signing_key(hs.KEY)).import_record(text)


# --- 6. a record cannot reach another backup ------------------------------------------------


def test_a_record_naming_another_backups_directory_or_prefix_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    victim = make_backup(root, tmp_path, volume_bytes())
    shared = make_backup(root, tmp_path, volume_bytes(), backup_id="dd44-shared", container="c")
    before = snapshot(root)
    d = driver(root)
    forged = [
        # Another backup's default directory; another backup's objects in a shared one.
        Backup(id="ee55-attacker", container=victim.container),
        Backup(id="ee55-attacker", container="c", service_metadata=shared.service_metadata),
        Backup(id="ee55-attacker", container="../root/" + str(victim.container)),
        Backup(id="ee55-attacker", container="c/../" + str(victim.container)),
        Backup(id="x\n", container=victim.container),
        Backup(id=FULL, container=victim.container, parent_id="../../etc"),
    ]
    for backup in forged:
        for call in (d.delete, d.verify, lambda b: d.restore(b, None, tmp_path / "t")):
            with pytest.raises(InvalidBackup):
                call(backup)
    assert snapshot(root) == before
    # The same through a record on the command line: exit 1, not a usage error.
    registry = load_registry()
    for backup in forged[:3]:
        text = driver(root, registry=registry).export_record(
            backup.replace(size=1, object_count=1, display_name="", display_description="")
        )
        result = run_cli(["volume", "import-record", "--root", str(root), text])
        assert result.exit_code == 1, result.output
    assert snapshot(root) == before


def test_delete_removes_only_its_own_objects_in_a_shared_container(tmp_path: Path) -> None:
    root = tmp_path / "root"
    longer = make_backup(root, tmp_path, volume_bytes(), backup_id="ab123", container="shared")
    keep = {p.name: p.read_bytes() for p in (root / "shared").iterdir()}
    # Cinder lets backups share a container (its --container option); docket does not make
    # one, so move the second backup in. The same volume and second: its prefix is a prefix of
    # the first one's object names.
    make_backup(root, tmp_path, volume_bytes(), backup_id="ab12", container="own")
    for path in (root / "own").iterdir():
        path.rename(root / "shared" / path.name)
    driver(root).delete(Backup(id="ab12", container="shared"))
    assert {p.name: p.read_bytes() for p in (root / "shared").iterdir()} == keep
    assert driver(root).verify(longer).ok


def test_ids_with_control_characters_are_not_path_safe(tmp_path: Path) -> None:
    for bad in ["x\n", "x\r", "x\x00", "x\t"]:
        with pytest.raises(DriverOptionError):
            driver(tmp_path).verify(bad)
        with pytest.raises(InvalidBackup):
            driver(tmp_path).verify(Backup(id=bad))
    result = run_cli(["volume", "verify", "x\n", "--root", str(tmp_path)])
    assert result.exit_code == 2


def test_a_records_parent_and_volume_must_agree_with_the_backups_metadata(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    full = make_backup(root, tmp_path, volume_bytes())
    make_backup(root, tmp_path, volume_bytes(seed=2), backup_id="bb22-other")
    for claim in ({"parent_id": "bb22-other"}, {"volume_id": "another-volume"}):
        with pytest.raises(InvalidBackup, match="record's"):
            driver(root).restore(full.replace(**claim), None, tmp_path / "t")


# --- 7. output files -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "symlink", "socket", "device"])
def test_output_refuses_an_existing_target_that_is_not_a_regular_file(
    tmp_path: Path, host_file: Path, kind: str
) -> None:
    out = tmp_path / "out.json"
    out.write_bytes(b"")
    hs.plant(out, kind, host_file)
    secret = host_file.read_bytes()
    with pytest.raises(UnsafeFile) as info:
        write_atomic(out, b"{}")
    assert info.value.filename == str(out)
    assert stat.S_IFMT(out.lstat().st_mode) != stat.S_IFREG
    assert host_file.read_bytes() == secret
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.json")] == []


def test_cli_output_to_a_fifo_is_refused_naming_the_given_path(
    tmp_path: Path, sqlite_db: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, engine = sqlite_db
    hs.make_volume(engine)
    monkeypatch.chdir(tmp_path)
    os.mkfifo("pipe.json")
    result = run_cli(["backup", "--db", url, hs.VOLUME_ID, "-o", "pipe.json"])
    assert result.exit_code == 1 and "pipe.json is a FIFO" in result.output
    assert stat.S_ISFIFO(os.lstat("pipe.json").st_mode)


# --- 8. databases decide equality ------------------------------------------------------------


@pytest.mark.mariadb
@pytest.mark.parametrize(
    "keys",
    [("straße", "strase"), ("\U0001f600", "\U0001f601"), ("Owner", "owner")],
    ids=["eszett", "emoji", "case"],
)
def test_keys_mariadb_holds_equal_are_a_key_conflict(tmp_path: Path, keys: tuple[str, str]) -> None:
    with scratch_database("mariadb", tmp_path) as url:
        engine = docket.store.make_engine(url)
        try:
            docket.store.init_db(engine)
            vid = docket.store.create_volume(engine, metadata={"keep": "me"})
            api = docket.store.BackupMetadataAPI(engine)
            before = dump(engine)
            for section in ("volume-metadata", "volume-glance-metadata"):
                doc = {"version": 2, section: {keys[0]: "a", keys[1]: "b"}}
                with pytest.raises(KeyConflict) as info:
                    api.put(vid, json.dumps(doc))
                assert set(info.value.keys) == set(keys)
                assert dump(engine) == before
            # Keys the collation tells apart are still restored.
            api.put(vid, json.dumps({"version": 2, "volume-metadata": {"straße": "a", "x": "b"}}))
        finally:
            engine.dispose()


# --- 10. smaller edges -------------------------------------------------------------------------


@pytest.mark.parametrize("extra", ["skippable", "second-frame"])
def test_a_zstd_object_with_trailing_frames_is_altered(tmp_path: Path, extra: str) -> None:
    zstandard = pytest.importorskip("zstandard")
    root = tmp_path / "root"
    src = tmp_path / "src"
    src.write_bytes(b"compressible " * 8000)
    PosixBackupDriver(
        root, compression="zstd", chunk_size=hs.CHUNK, sha_block_size=hs.BLOCK
    ).backup(Backup(id=FULL, volume_id=hs.VOLUME_ID), src)
    obj = hs.object_path(root, FULL, "-00001")
    tail = (
        b"\x50\x2a\x4d\x18" + (8).to_bytes(4, "little") + b"smuggled"
        if extra == "skippable"
        else zstandard.ZstdCompressor().compress(b"")
    )
    obj.write_bytes(obj.read_bytes() + tail)
    report = driver(root).verify(FULL)
    assert [(p.kind, "after the end" in p.message) for p in report.problems] == [("altered", True)]
    with pytest.raises(InvalidBackup):
        driver(root).restore(FULL, None, tmp_path / "t")


def test_a_hostile_parent_id_is_a_parent_problem_not_a_usage_error(tmp_path: Path) -> None:
    root = backed_up_root(tmp_path)
    for parent in ["../../etc", "x\n", "/abs"]:
        hs.rewrite(hs.object_path(root, FULL, "_metadata"), lambda d: d.update(parent_id=parent))  # noqa: B023
        for args in (["verify", FULL], ["restore", FULL, str(tmp_path / "t")]):
            result = run_cli(["volume", *args, "--root", str(root)])
            assert result.exit_code == 1, result.output
            assert "parent" in result.output
        with pytest.raises(InvalidBackup):
            driver(root).restore(FULL, None, tmp_path / "t")


def test_a_missing_root_is_backup_not_found(tmp_path: Path) -> None:
    with pytest.raises(BackupNotFound):
        driver(tmp_path / "nowhere").verify(FULL)


def test_fuzzed_metadata_and_sha256_objects_give_only_typed_errors(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, settings

    from tests import fuzz_long

    tally = fuzz_long.Tally()
    check = fuzz_long.storage_check(tmp_path)
    test = fuzz_long.targets(tally, storage=check)["storage"]
    settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))(test)()
    seen = {key.split(": ", 1)[1] for key in tally.outcomes}
    assert "InvalidBackup" in seen or "ValidationError" in seen, seen
    assert sum(tally.outcomes.values()) >= 100


# --- a target the file system cannot grow ---------------------------------------------------

_FSIZE_CHILD = """
import resource, signal, sys
from pathlib import Path
from docket.backup import PosixBackupDriver
from docket.errors import DocketError

root, target, backup_id, chunk, block = sys.argv[1:6]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
driver = PosixBackupDriver(Path(root), chunk_size=int(chunk), sha_block_size=int(block))
with open(target, "r+b") as out:
    try:
        driver.restore(backup_id, None, out)
    except DocketError as err:
        print(type(err).__name__, err)
"""


@pytest.mark.parametrize("onto", ["open-file", "path"])
def test_a_target_the_file_system_cannot_grow_is_a_typed_refusal(tmp_path: Path, onto: str) -> None:
    """With a file size limit below the volume's size, the file system refuses to grow the
    target: the restore says so as a BackupError and the target is as it was."""
    root = backed_up_root(tmp_path)
    target = tmp_path / "target"
    target.write_bytes(b"\xee" * 100)
    code = _FSIZE_CHILD
    if onto == "path":
        code = code.replace('with open(target, "r+b") as out:', "if True:\n    out = target")
    out = subprocess.run(
        [sys.executable, "-c", code, str(root), str(target), FULL, str(hs.CHUNK), str(hs.BLOCK)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in out.stderr, out.stderr
    assert out.stdout.startswith("BackupError"), out.stdout + out.stderr
    assert "File too large" in out.stdout
    assert target.read_bytes() == b"\xee" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["root", "target", f"src-{FULL}"])
