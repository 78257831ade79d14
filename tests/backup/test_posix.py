"""The chunked POSIX driver: layout, round trips, backups killed midway, volume metadata,
refusals, and what real Cinder needs. Hand-laid and damaged backups: test_posix_verify.py."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from docket.backup import Backup
from docket.backup.posix import PosixBackupDriver
from docket.errors import (
    BackupError,
    BackupNotFound,
    DocketError,
    DriverOptionError,
    InvalidBackup,
)
from tests._posix import (
    BLOCK,
    COMPRESSIONS,
    VOLUME_ID,
    back_up,
    backup_dir,
    driver,
    edit,
    meta_path,
    restored,
    sha_path,
    volume_bytes,
)

# --- layout --------------------------------------------------------------------------------


def test_layout_follows_cinder(tmp_path: Path) -> None:
    d = driver(tmp_path / "root", compression="zlib")
    data = volume_bytes(1, 300_000)
    b = back_up(d, tmp_path / "vol", data, "5e6f7a8b-full")
    where = backup_dir(tmp_path / "root", "5e6f7a8b-full")
    prefix = f"volume_{VOLUME_ID}_20260102030405_backup_5e6f7a8b-full"
    assert b.container == "5e/6f/5e6f7a8b-full"
    assert PosixBackupDriver.backup_dir_for("5e6f7a8b-full") == b.container
    assert b.service_metadata == prefix
    assert b.size == 1 and b.object_count == 3 and b.status == "available"
    names = sorted(os.listdir(where))
    assert names == sorted(
        [f"{prefix}-{i:05d}" for i in (1, 2, 3)] + [prefix + "_metadata", prefix + "_sha256file"]
    )

    raw = (where / (prefix + "_metadata")).read_bytes()
    meta = json.loads(raw)
    assert raw == json.dumps(meta, sort_keys=True, indent=2).encode("utf-8")
    assert meta["version"] == "1.0.0"
    assert meta["created_at"] == "2026-01-02 03:04:05.123456+00:00"
    assert meta["parent_id"] is None and meta["volume_meta"] is None
    assert "extra_metadata" not in meta
    offset = 0
    for i, item in enumerate(meta["objects"], 1):
        ((name, entry),) = item.items()
        assert name == f"{prefix}-{i:05d}"
        chunk = data[offset : offset + 4 * BLOCK]
        assert entry["offset"] == offset and entry["length"] == len(chunk)
        assert entry["md5"] == hashlib.md5(chunk).hexdigest()
        body = (where / name).read_bytes()
        assert (zlib.decompress(body) if entry["compression"] == "zlib" else body) == chunk
        offset += len(chunk)
    assert offset == len(data)

    raw = (where / (prefix + "_sha256file")).read_bytes()
    sha = json.loads(raw)
    assert raw == json.dumps(sha, sort_keys=True, indent=2).encode("utf-8")
    assert sha["chunk_size"] == BLOCK
    assert sha["sha256s"] == [
        hashlib.sha256(data[i : i + BLOCK]).hexdigest() for i in range(0, len(data), BLOCK)
    ]
    assert {k: sha[k] for k in ("backup_id", "volume_id", "created_at", "version")} == {
        k: meta[k] for k in ("backup_id", "volume_id", "created_at", "version")
    }


@pytest.mark.parametrize("size", [0, 1, BLOCK, BLOCK + 1, 3 * BLOCK])
def test_metadata_objects_are_exactly_what_json_dumps_writes(tmp_path: Path, size: int) -> None:
    d = driver(tmp_path / "root")
    back_up(d, tmp_path / "vol", volume_bytes(24, size), "f0f0-1")
    where = backup_dir(tmp_path / "root", "f0f0-1")
    for path in (sha_path(where), meta_path(where)):
        raw = path.read_bytes()
        assert raw == json.dumps(json.loads(raw), sort_keys=True, indent=2).encode("utf-8")
    assert len(json.loads(sha_path(where).read_bytes())["sha256s"]) == -(-size // BLOCK)


def test_a_chunk_that_does_not_shrink_is_stored_uncompressed(tmp_path: Path) -> None:
    d = driver(tmp_path / "root", compression="zlib")
    data = random.Random(5).randbytes(2 * 4 * BLOCK) + bytes(4 * BLOCK)
    back_up(d, tmp_path / "vol", data, "abcd-1")
    where = backup_dir(tmp_path / "root", "abcd-1")
    (meta_path,) = where.glob("*_metadata")
    kinds = [
        next(iter(o.values()))["compression"] for o in json.loads(meta_path.read_text())["objects"]
    ]
    assert kinds == ["none", "none", "zlib"]
    assert restored(d, "abcd-1", tmp_path / "out") == data


@pytest.mark.parametrize("name", ["", "x" * 10, "\u00e9t\u00e9 \u2603"])
def test_empty_and_odd_volumes_round_trip(tmp_path: Path, name: str) -> None:
    d = driver(tmp_path / "root")
    data = name.encode("utf-8")
    b = d.backup(
        Backup(id="abcd-2", volume_id=VOLUME_ID, display_name=name or None), _write(tmp_path, data)
    )
    assert b.object_count == (1 if data else 0)
    assert restored(d, "abcd-2", tmp_path / "out") == data
    assert d.verify("abcd-2").ok


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "vol"
    path.write_bytes(data)
    return path


def test_zstd_full_chunks_record_their_content_size(tmp_path: Path) -> None:
    d = driver(tmp_path / "root", compression="zstd")
    back_up(d, tmp_path / "vol", bytes(5 * BLOCK), "abcd-3")
    (obj,) = backup_dir(tmp_path / "root", "abcd-3").glob("*-00001")
    assert zstandard.frame_content_size(obj.read_bytes()) == 4 * BLOCK


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_full_and_incremental_chain_round_trip(tmp_path: Path, compression: str) -> None:
    d = driver(tmp_path / "root", compression=compression)
    vol = tmp_path / "vol"
    v1 = volume_bytes(2, 500_000)
    v2 = edit(v1, 3)
    v3 = edit(v2, 4, grow=70_000)  # the volume grew; its old partial last block changed
    v4 = v3  # nothing changed: an incremental with no objects
    back_up(d, vol, v1, "c0ffee-1")
    i2 = back_up(d, vol, v2, "c0ffee-2", parent="c0ffee-1")
    back_up(d, vol, v3, "c0ffee-3", parent="c0ffee-2")
    i4 = back_up(d, vol, v4, "c0ffee-4", parent="c0ffee-3")
    assert i4.object_count == 0
    assert 0 < (i2.object_count or 0) <= 3
    for backup_id, expected in [
        ("c0ffee-1", v1),
        ("c0ffee-2", v2),
        ("c0ffee-3", v3),
        ("c0ffee-4", v4),
    ]:
        assert restored(d, backup_id, tmp_path / f"out-{backup_id}") == expected
        report = d.verify(backup_id)
        assert report.ok, report.problems
    report = d.restore("c0ffee-4", None, tmp_path / "out")
    assert report.chain == ("c0ffee-1", "c0ffee-2", "c0ffee-3", "c0ffee-4")
    assert report.size == len(v4)


def test_incrementals_store_only_changed_blocks(tmp_path: Path) -> None:
    d = driver(tmp_path / "root", compression="none")
    vol = tmp_path / "vol"
    v1 = volume_bytes(6, 20 * BLOCK)
    v2 = bytearray(v1)
    v2[5 * BLOCK + 7] ^= 1  # block 5
    v2[6 * BLOCK] ^= 1  # block 6, the same run
    v2[15 * BLOCK + 9] ^= 1  # block 15, another chunk
    back_up(d, vol, v1, "feed-1")
    back_up(d, vol, bytes(v2), "feed-2", parent="feed-1")
    (meta_path,) = backup_dir(tmp_path / "root", "feed-2").glob("*_metadata")
    entries = [next(iter(o.values())) for o in json.loads(meta_path.read_text())["objects"]]
    assert [(e["offset"], e["length"]) for e in entries] == [
        (5 * BLOCK, 2 * BLOCK),
        (15 * BLOCK, BLOCK),
    ]
    assert restored(d, "feed-2", tmp_path / "out") == bytes(v2)


@settings(max_examples=25)
@given(
    first=st.binary(max_size=6000),
    edits=st.lists(
        st.tuples(st.integers(0, 7000), st.binary(min_size=1, max_size=900), st.booleans()),
        max_size=4,
    ),
    compression=st.sampled_from(COMPRESSIONS),
)
def test_any_chain_restores_every_point_byte_for_byte(
    first: bytes, edits: list[tuple[int, bytes, bool]], compression: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        d = PosixBackupDriver(
            root / "b", compression=compression, chunk_size=2048, sha_block_size=512
        )
        vol = root / "vol"
        versions = [first]
        vol.write_bytes(first)
        d.backup(Backup(id="back-0", volume_id="v"), vol)
        for i, (at, data, append) in enumerate(edits, 1):
            current = bytearray(versions[-1])
            if append:
                current += data
            else:
                at = min(at, len(current))
                current[at : at + len(data)] = data[: max(0, len(current) - at)] or b""
            versions.append(bytes(current))
            vol.write_bytes(current)
            d.backup(Backup(id=f"back-{i}", volume_id="v", parent_id=f"back-{i - 1}"), vol)
        for i, expected in enumerate(versions):
            out = root / f"out-{i}"
            d.restore(f"back-{i}", None, out)
            assert out.read_bytes() == expected
        assert d.verify(f"back-{len(versions) - 1}").ok


def test_restore_into_an_open_file_overwrites_in_place(tmp_path: Path) -> None:
    d = driver(tmp_path / "root")
    data = volume_bytes(7, 200_000)
    back_up(d, tmp_path / "vol", data, "abcd-4")
    out = io.BytesIO(b"\xff" * 300_000)
    report = d.restore("abcd-4", None, out)
    assert out.getvalue() == data and report.size == len(data)


def test_restore_replaces_an_existing_file_and_keeps_its_mode(tmp_path: Path) -> None:
    d = driver(tmp_path / "root")
    data = volume_bytes(8, 150_000)
    back_up(d, tmp_path / "vol", data, "abcd-5")
    target = tmp_path / "target"
    target.write_bytes(b"old" * 100_000)
    target.chmod(0o640)
    assert restored(d, "abcd-5", target) == data
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root", "target", "vol"]


def test_restored_zeros_stay_sparse(tmp_path: Path) -> None:
    d = driver(tmp_path / "root", chunk_size=1 << 20)
    vol = tmp_path / "vol"
    with open(vol, "wb") as fh:
        fh.truncate(8 << 20)
        fh.seek(3 << 20)
        fh.write(b"data")
    d.backup(Backup(id="abcd-6", volume_id="v"), vol)
    out = tmp_path / "out"
    d.restore("abcd-6", None, out)
    assert out.read_bytes() == vol.read_bytes()
    if vol.stat().st_blocks * 512 < (8 << 20):  # the file system makes holes
        assert out.stat().st_blocks * 512 < (2 << 20)


# --- killed mid-backup ------------------------------------------------------------------------

KILLER = """
import os, signal, sys
import docket.backup._writer as chunks
import docket.backup.posix as posix
from docket.backup import Backup

root, volume, stage = sys.argv[1:4]
calls = {"n": 0}

def die_after(n, original):
    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    return wrapper

if stage == "between-objects":
    chunks.ObjectWriter.finish = die_after(2, chunks.ObjectWriter.finish)
elif stage == "inside-an-object":
    chunks.ObjectWriter.write = die_after(5, chunks.ObjectWriter.write)
elif stage == "before-metadata":
    posix.PosixStore.put_object = die_after(0, posix.PosixStore.put_object)
driver = posix.PosixBackupDriver(root, compression="zlib", chunk_size=65536)
driver.backup(Backup(id="dead-beef", volume_id="v"), volume)
"""


@pytest.mark.parametrize("stage", ["between-objects", "inside-an-object", "before-metadata"])
def test_a_backup_killed_midway_never_verifies(tmp_path: Path, stage: str) -> None:
    root = tmp_path / "root"
    vol = tmp_path / "vol"
    vol.write_bytes(volume_bytes(19, 20 * 65536))
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(root), str(vol), stage], capture_output=True
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    where = backup_dir(root, "dead-beef")
    assert any(where.iterdir())
    d = PosixBackupDriver(root)
    report = d.verify("dead-beef")
    assert [p.kind for p in report.problems] == ["partial"]
    with pytest.raises(InvalidBackup, match="did not finish"):
        d.restore("dead-beef", None, tmp_path / "out")
    with pytest.raises(BackupError, match="already holds a backup"):
        d.backup(Backup(id="dead-beef", volume_id="v"), vol)
    d.delete("dead-beef")
    assert not (root / "de").exists()


def test_a_failed_backup_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import docket.backup._writer as chunks

    calls = {"n": 0}
    original = chunks.ObjectWriter.finish

    def failing(self: chunks.ObjectWriter, reread: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return original(self, reread)

    monkeypatch.setattr(chunks.ObjectWriter, "finish", failing)
    d = driver(tmp_path / "root")
    with pytest.raises(OSError, match="No space"):
        back_up(d, tmp_path / "vol", volume_bytes(20, 400_000), "fa11-1")
    assert not (tmp_path / "root" / "fa").exists()


# --- volume metadata ----------------------------------------------------------------------------


class StubMetadataAPI:
    """Implements the two calls of docket.store.BackupMetadataAPI the driver uses."""

    def __init__(self, containers: dict[str, str]) -> None:
        self.containers = containers
        self.puts: list[tuple[str, str | bytes]] = []

    def get(self, volume_id: str) -> str:
        return self.containers[volume_id]

    def put(self, volume_id: str, json_metadata: str | bytes) -> str:
        self.puts.append((volume_id, json_metadata))
        return f"restored {len(self.puts)}"


def test_volume_metadata_is_stored_unchanged_and_restored_oldest_first(tmp_path: Path) -> None:
    first = '{"version": 2, "volume-base-metadata": {"display_name": "vol-1", "id": "x"}}'
    second = '{"version": 2, "volume-base-metadata": {"display_name": "vol-\\u00e9"}}'
    # The target volume exists: restore reads it (get) before writing a byte.
    api = StubMetadataAPI({VOLUME_ID: first, "target-volume": '{"version": 2}'})
    d = driver(tmp_path / "root", metadata_api=api)
    vol = tmp_path / "vol"
    v1 = volume_bytes(21, 100_000)
    back_up(d, vol, v1, "5eed-1")
    api.containers[VOLUME_ID] = second
    back_up(d, vol, edit(v1, 5), "5eed-2", parent="5eed-1")
    meta = json.loads(meta_path(backup_dir(tmp_path / "root", "5eed-2")).read_text())
    assert meta["volume_meta"] == second

    report = d.restore("5eed-2", "target-volume", tmp_path / "out")
    assert api.puts == [("target-volume", first), ("target-volume", second)]
    assert report.metadata == (("5eed-1", "restored 1"), ("5eed-2", "restored 2"))
    no_id = d.restore("5eed-2", None, tmp_path / "out")
    assert no_id.metadata == () and no_id.metadata_skipped == ("5eed-1", "5eed-2")
    assert len(api.puts) == 2


def test_a_refused_metadata_restore_leaves_the_target_untouched(tmp_path: Path) -> None:
    class Refusing(StubMetadataAPI):
        def put(self, volume_id: str, json_metadata: str | bytes) -> str:
            raise InvalidBackup("refused by the store")

    api = Refusing({VOLUME_ID: '{"version": 2}', "vol-x": '{"version": 2}'})
    d = driver(tmp_path / "root", metadata_api=api)
    back_up(d, tmp_path / "vol", b"data" * 1000, "5eed-3")
    target = tmp_path / "target"
    target.write_bytes(b"before")
    with pytest.raises(InvalidBackup, match="refused"):
        d.restore("5eed-3", "vol-x", target)
    assert target.read_bytes() == b"before"


# --- refusals -------------------------------------------------------------------------------------


def test_bad_driver_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DriverOptionError, match="multiple"):
        PosixBackupDriver(tmp_path, chunk_size=1000)
    with pytest.raises(DriverOptionError, match="unknown compression"):
        PosixBackupDriver(tmp_path, compression="lz4")
    with pytest.raises(DriverOptionError, match="path-safe"):
        driver(tmp_path).backup(Backup(id="../../etc", volume_id="v"), tmp_path)
    with pytest.raises(DriverOptionError, match="volume id"):
        driver(tmp_path).backup(Backup(id="abcd-7"), tmp_path)
    with pytest.raises(InvalidBackup, match="inside the backup root"):
        driver(tmp_path).verify(Backup(id="abcd-8", container="../elsewhere"))
    (tmp_path / "ab" / "cd" / "abcd-8").mkdir(parents=True)
    with pytest.raises(InvalidBackup, match="not a name inside the backup directory"):
        driver(tmp_path).verify(Backup(id="abcd-8", service_metadata="../../x"))


def test_incrementals_are_checked_against_their_parent(tmp_path: Path) -> None:
    d = driver(tmp_path / "root")
    vol = tmp_path / "vol"
    data = volume_bytes(22, 200_000)
    back_up(d, vol, data, "9a9a-1")
    vol.write_bytes(data[:-1])
    with pytest.raises(BackupError, match="fewer than"):
        d.backup(Backup(id="9a9a-2", volume_id=VOLUME_ID, parent_id="9a9a-1"), vol)
    with pytest.raises(BackupError, match="of volume"):
        d.backup(Backup(id="9a9a-3", volume_id="other", parent_id="9a9a-1"), vol)
    with pytest.raises(DriverOptionError, match="SHA blocks"):
        PosixBackupDriver(tmp_path / "root", chunk_size=8192, sha_block_size=4096).backup(
            Backup(id="9a9a-4", volume_id=VOLUME_ID, parent_id="9a9a-1"), vol
        )
    with pytest.raises(BackupNotFound):
        d.backup(Backup(id="9a9a-5", volume_id=VOLUME_ID, parent_id="nope-0"), vol)
    assert sorted(os.listdir(tmp_path / "root")) == ["9a"]
    assert sorted(os.listdir(tmp_path / "root" / "9a")) == ["9a"]
    assert os.listdir(tmp_path / "root" / "9a" / "9a") == ["9a9a-1"]


@pytest.mark.parametrize("length", [200, 300])
def test_a_name_the_format_cannot_hold_is_refused_before_reading(
    tmp_path: Path, length: int
) -> None:
    # 300 is over an id's 255; 200 makes object names longer than a file name may be
    with pytest.raises(DriverOptionError, match="volume id"):
        driver(tmp_path / "root").backup(
            Backup(id="abcd-9", volume_id="v" * length), tmp_path / "x"
        )
    assert not (tmp_path / "root").exists()


def test_delete_refuses_a_backup_with_incrementals(tmp_path: Path) -> None:
    d = driver(tmp_path / "root")
    vol = tmp_path / "vol"
    data = volume_bytes(23, 100_000)
    back_up(d, vol, data, "de1e-1")
    back_up(d, vol, edit(data, 9), "de1e-2", parent="de1e-1")
    with pytest.raises(BackupError, match="de1e-2"):
        d.delete("de1e-1")
    d.delete("de1e-2")
    d.delete("de1e-1")
    assert os.listdir(tmp_path / "root") == []
    with pytest.raises(BackupNotFound):
        d.delete("de1e-1")


def test_errors_are_docket_errors() -> None:
    for err in (BackupError, BackupNotFound, InvalidBackup, DriverOptionError):
        assert issubclass(err, DocketError)
    assert issubclass(BackupNotFound, LookupError)
    assert issubclass(InvalidBackup, ValueError)


def test_metadata_round_trips_through_the_store(tmp_path: Path) -> None:
    store = pytest.importorskip("docket.store", reason="docket.store is not there yet")
    engine = store.make_engine(f"sqlite:///{tmp_path / 'cinder.db'}")
    store.init_db(engine)
    source = store.create_volume(
        engine, display_name="vol-1", display_description="data", metadata={"fee": "fi"}
    )
    target = store.create_volume(engine, display_name="restore_backup_5eed-4")
    api = store.BackupMetadataAPI(engine)
    d = driver(tmp_path / "root", metadata_api=api)
    data = volume_bytes(25, 100_000)
    vol = tmp_path / "vol"
    vol.write_bytes(data)
    d.backup(Backup(id="5eed-4", volume_id=source), vol)
    meta = json.loads(meta_path(backup_dir(tmp_path / "root", "5eed-4")).read_text())
    assert meta["volume_meta"] == api.get(source)
    assert json.loads(meta["volume_meta"])["volume-metadata"] == {"fee": "fi"}

    report = d.restore("5eed-4", target, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data
    assert [backup_id for backup_id, _ in report.metadata] == ["5eed-4"]
    restored_meta = json.loads(api.get(target))
    assert restored_meta["volume-base-metadata"]["display_name"] == "vol-1"
    assert restored_meta["volume-base-metadata"]["display_description"] == "data"
    assert restored_meta["volume-metadata"] == {"fee": "fi"}
    engine.dispose()


# --- what real Cinder needs: zstd content sizes, modes, holes, the service name --------------

CINDER_SERVICE = "cinder.backup.drivers.posix.PosixBackupDriver"
DOCKET_SERVICE = "docket.backup.posix.PosixBackupDriver"


def _text(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = [rng.randbytes(4).hex().encode() for _ in range(50)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def test_every_zstd_object_records_its_content_size(tmp_path: Path) -> None:
    """Cinder decompresses each object in one shot, which needs the size in the frame header
    once the object is over 128 KiB; incremental objects (size unknown while reading) too."""
    d = driver(tmp_path / "root", compression="zstd", chunk_size=1 << 20)
    first = _text(3 << 20, 1)
    second = bytearray(first)
    second[100_000 : 100_000 + 700_000] = _text(700_000, 2)  # crosses a chunk edge
    second[(2 << 20) + 5 * BLOCK : (2 << 20) + 6 * BLOCK] = bytes(BLOCK)
    back_up(d, tmp_path / "vol", first, "2d00-full")
    back_up(d, tmp_path / "vol", bytes(second), "2d00-incr", parent="2d00-full")
    big = 0
    for backup_id in ("2d00-full", "2d00-incr"):
        where = backup_dir(tmp_path / "root", backup_id)
        meta = json.loads(meta_path(where).read_text())
        for item in meta["objects"]:
            ((name, entry),) = item.items()
            assert entry["compression"] == "zstd", (name, entry)
            body = (where / name).read_bytes()
            assert zstandard.frame_content_size(body) == entry["length"]
            # One shot, no output bound: works only with the content size in the header.
            out = zstandard.ZstdDecompressor().decompress(body)
            assert hashlib.md5(out).hexdigest() == entry["md5"]
            big += entry["length"] > 128 * 1024
    assert big >= 4  # two full chunks of 1 MiB, and incremental objects beyond 128 KiB
    assert restored(d, "2d00-incr", tmp_path / "out") == bytes(second)


def test_backups_get_cinders_modes_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        d = driver(tmp_path / "root", chunk_size=BLOCK)
        back_up(d, tmp_path / "vol", volume_bytes(3, 3 * BLOCK), "3a4b-1")
    finally:
        os.umask(old)
    where = backup_dir(tmp_path / "root", "3a4b-1")
    for directory in (where, where.parent, where.parent.parent):
        assert directory.stat().st_mode & 0o7777 == 0o770, directory
    files = list(where.iterdir())
    assert len(files) == 5
    for path in files:
        assert path.stat().st_mode & 0o7777 == 0o660, path


def test_modes_are_configurable(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        d = driver(tmp_path / "root", dir_mode=0o750, file_mode=0o640)
        back_up(d, tmp_path / "vol", volume_bytes(4, 2 * BLOCK), "3a4b-2")
        umasked = driver(tmp_path / "root", dir_mode=None, file_mode=None)
        back_up(umasked, tmp_path / "vol", volume_bytes(4, 2 * BLOCK), "3a4c-3")
    finally:
        os.umask(old)
    where = backup_dir(tmp_path / "root", "3a4b-2")
    assert where.stat().st_mode & 0o777 == 0o750
    assert {p.stat().st_mode & 0o777 for p in where.iterdir()} == {0o640}
    where = backup_dir(tmp_path / "root", "3a4c-3")
    assert where.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in where.iterdir()} == {0o600}
    with pytest.raises(DriverOptionError):
        driver(tmp_path / "root", file_mode=0o10660)


def _allocated(path: Path) -> int:
    return path.stat().st_blocks * 512


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_restore_leaves_holes_for_zero_runs(tmp_path: Path, compression: str) -> None:
    """20 MiB holding 2 MiB of data, in runs that do not fall on piece or MiB edges."""
    vol = tmp_path / "vol"
    rng = random.Random(9)
    with open(vol, "wb") as fh:
        fh.truncate(20 << 20)
        for k in range(8):
            fh.seek(k * (2 << 20) + 12345 + k * 70001)
            fh.write(rng.randbytes(256 << 10))
    probe = tmp_path / "probe"
    with open(probe, "wb") as fh:
        fh.truncate(1 << 20)
    if _allocated(probe) > 0:
        pytest.skip("this file system does not make holes")
    d = driver(tmp_path / "root", compression=compression, chunk_size=(3 << 20) + BLOCK)
    d.backup(Backup(id="401e-1", volume_id="v"), vol)
    out = tmp_path / "out"
    d.restore("401e-1", None, out)
    assert out.read_bytes() == vol.read_bytes()
    assert _allocated(out) <= (2 << 20) + (256 << 10), _allocated(out)


def test_an_incremental_that_zeroes_data_restores_zeros_onto_a_new_file(tmp_path: Path) -> None:
    d = driver(tmp_path / "root", chunk_size=1 << 20)
    first = random.Random(1).randbytes(3 << 20)
    second = first[: 1 << 20] + bytes(1 << 20) + first[2 << 20 :]
    back_up(d, tmp_path / "vol", first, "401e-2")
    back_up(d, tmp_path / "vol", second, "401e-3", parent="401e-2")
    # The full backup's data is there, so the incremental's zeros must be written, not skipped.
    assert restored(d, "401e-3", tmp_path / "out") == second


def test_records_name_cinders_service_by_default(tmp_path: Path) -> None:
    import base64

    d = driver(tmp_path / "root")
    back_up(d, tmp_path / "vol", volume_bytes(5, 2 * BLOCK), "5e41-1")
    assert d.service == CINDER_SERVICE
    for version in (1, 2):
        text = d.export_record("5e41-1", version=version)
        assert json.loads(base64.b64decode(text))["service"] == CINDER_SERVICE
        assert d.import_record(text).backup.service == CINDER_SERVICE
    other = d.export_record("5e41-1", service=DOCKET_SERVICE)
    assert json.loads(base64.b64decode(other))["service"] == DOCKET_SERVICE
    assert d.import_record(other).backup.service == DOCKET_SERVICE
    with pytest.raises(DocketError, match=r"some\.other\.Driver"):
        d.import_record(d.export_record("5e41-1", service="some.other.Driver"))


def test_export_record_command_names_the_service(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from docket.cli.app import cli

    d = driver(tmp_path / "root")
    back_up(d, tmp_path / "vol", volume_bytes(6, 2 * BLOCK), "5e41-2")
    base = ["volume", "export-record", "5e41-2", "--root", str(tmp_path / "root"), "--format"]
    done = CliRunner().invoke(cli, [*base, "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["backup-record"]["backup_service"] == CINDER_SERVICE
    done = CliRunner().invoke(cli, [*base, "json", "--service", DOCKET_SERVICE])
    assert done.exit_code == 0, done.output
    envelope = json.loads(done.stdout)["backup-record"]
    assert envelope["backup_service"] == DOCKET_SERVICE
    for url in (envelope["backup_url"], d.export_record("5e41-2")):
        done = CliRunner().invoke(
            cli, ["volume", "import-record", url, "--root", str(tmp_path / "root")]
        )
        assert done.exit_code == 0, done.output
