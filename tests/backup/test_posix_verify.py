"""The chunked POSIX driver reading what it did not write as it is: backups laid out by hand from
CINDER.md, damaged objects and metadata, and verify."""

from __future__ import annotations

import bz2
import hashlib
import json
import os
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
import zstandard

from docket.backup.posix import PosixBackupDriver
from docket.errors import (
    BackupNotFound,
    InvalidBackup,
    UnknownVersion,
    ValidationError,
    VersionError,
    VersionTooNew,
)
from tests import _posix as px
from tests._posix import BLOCK, back_up, backup_dir, driver, meta_path, sha_path, volume_bytes

# --- a backup laid out by hand from CINDER.md ------------------------------------------------


def _compress(kind: str, raw: bytes) -> bytes:
    if kind == "zlib":
        return zlib.compress(raw)
    if kind == "bz2":
        return bz2.compress(raw)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


def lay_out(
    root: Path,
    backup_id: str,
    volume: bytes,
    pieces: list[tuple[int, int]],
    *,
    parent: str | None = None,
    version: str = "1.0.0",
    volume_meta: str | None = None,
    stamp: str = "20251231235959",
) -> Path:
    """A backup written the way CINDER.md says, without any docket code."""
    where = root / backup_id[0:2] / backup_id[2:4] / backup_id
    where.mkdir(parents=True)
    prefix = f"volume_{px.VOLUME_ID}_{stamp}_backup_{backup_id}"
    objects = []
    for i, (offset, length) in enumerate(pieces, 1):
        raw = volume[offset : offset + length]
        kind = px.COMPRESSIONS[i % 4]
        name = f"{prefix}-{i:05d}"
        (where / name).write_bytes(_compress(kind, raw))
        entry = {"offset": offset, "length": length, "compression": kind}
        entry["md5"] = hashlib.md5(raw).hexdigest()
        objects.append({name: entry})
    header = {
        "backup_id": backup_id,
        "volume_id": px.VOLUME_ID,
        "backup_name": f"by hand {backup_id}",
        "backup_description": None,
        "created_at": "2025-12-31 23:59:59",
        "version": version,
    }
    sha = dict(header, chunk_size=BLOCK)
    sha["sha256s"] = [
        hashlib.sha256(volume[i : i + BLOCK]).hexdigest() for i in range(0, len(volume), BLOCK)
    ]
    (where / f"{prefix}_sha256file").write_text(json.dumps(sha, sort_keys=True, indent=2))
    meta = dict(header, parent_id=parent, objects=objects, volume_meta=volume_meta)
    (where / f"{prefix}_metadata").write_text(json.dumps(meta, sort_keys=True, indent=2))
    return where


def test_a_backup_laid_out_by_hand_restores_and_verifies(tmp_path: Path) -> None:
    root = tmp_path / "root"
    full = volume_bytes(9, 10 * BLOCK + 1234)
    chunk = 3 * BLOCK  # not docket's chunk size: any multiple of the block size works
    lay_out(
        root, "aa11bb22", full, [(o, min(chunk, len(full) - o)) for o in range(0, len(full), chunk)]
    )
    changed = bytearray(full)
    changed[BLOCK : BLOCK + 10] = b"0123456789"
    changed[7 * BLOCK + 5] ^= 0xFF
    changed += b"grown" * 10000
    changed = bytes(changed)
    pieces = [(BLOCK, BLOCK), (7 * BLOCK, BLOCK), (10 * BLOCK, len(changed) - 10 * BLOCK)]
    lay_out(root, "aa11bb33", changed, pieces, parent="aa11bb22", stamp="20260101000000")
    d = PosixBackupDriver(root)
    assert px.restored(d, "aa11bb22", tmp_path / "full") == full
    report = d.restore("aa11bb33", None, tmp_path / "inc")
    assert (tmp_path / "inc").read_bytes() == changed
    assert report.chain == ("aa11bb22", "aa11bb33")
    for backup_id in ("aa11bb22", "aa11bb33"):
        result = d.verify(backup_id)
        assert result.ok, result.problems
    described = d.get_backup("aa11bb33")
    assert described.parent_id == "aa11bb22" and described.object_count == 3
    assert described.display_name == "by hand aa11bb33"


def test_cinder_compression_spellings_restore(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = b"cinder wrote what it was configured with " * 2000
    where = lay_out(root, "ab12cd34", data, [(0, len(data))])
    (meta_path,) = where.glob("*_metadata")
    meta = json.loads(meta_path.read_text())
    ((name, entry),) = meta["objects"][0].items()
    (where / name).write_bytes(zlib.compress(data))
    entry["compression"] = "gzip"
    meta_path.write_text(json.dumps(meta, sort_keys=True, indent=2))
    assert px.restored(PosixBackupDriver(root), "ab12cd34", tmp_path / "out") == data


@pytest.mark.parametrize("version", ["2.0.0", "1.0.1", "1.0"])
def test_unknown_metadata_version_is_refused_before_writing(tmp_path: Path, version: str) -> None:
    root = tmp_path / "root"
    data = volume_bytes(10, 3 * BLOCK)
    lay_out(root, "ee11ff22", data, [(0, len(data))], version=version)
    target = tmp_path / "target"
    target.write_bytes(b"keep me")
    d = PosixBackupDriver(root)
    with pytest.raises(VersionError) as caught:
        d.restore("ee11ff22", None, target)
    assert caught.value.family == "chunked-backup" and caught.value.found == version
    assert isinstance(caught.value, UnknownVersion)
    assert isinstance(caught.value, VersionTooNew) == (version != "1.0")
    assert target.read_bytes() == b"keep me"
    assert not (tmp_path / "new").exists()
    with pytest.raises(VersionError):
        d.restore("ee11ff22", None, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root", "target"]


def test_a_parent_with_an_unknown_version_is_refused_before_writing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = volume_bytes(11, 4 * BLOCK)
    lay_out(root, "ee11ff33", data, [(0, len(data))], version="9.0.0")
    lay_out(root, "ee11ff44", data, [], parent="ee11ff33")
    target = tmp_path / "target"
    with pytest.raises(VersionTooNew):
        PosixBackupDriver(root).restore("ee11ff44", None, target)
    assert not target.exists()


def test_object_list_must_match_for_restore(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = volume_bytes(12, 4 * BLOCK)
    where = lay_out(root, "ff00ff00", data, [(0, 2 * BLOCK), (2 * BLOCK, 2 * BLOCK)])
    stray = next(where.glob("*-00002")).name.replace("-00002", "-00003")
    (where / stray).write_bytes(b"stray")
    target = tmp_path / "target"
    target.write_bytes(b"untouched")
    with pytest.raises(InvalidBackup, match=r"not in the metadata: .*-00003"):
        PosixBackupDriver(root).restore("ff00ff00", None, target)
    (where / stray).unlink()
    next(where.glob("*-00001")).unlink()
    with pytest.raises(InvalidBackup, match=r"missing: .*-00001"):
        PosixBackupDriver(root).restore("ff00ff00", None, target)
    assert target.read_bytes() == b"untouched"


def test_a_damaged_object_leaves_the_target_untouched(tmp_path: Path) -> None:
    d = driver(tmp_path / "root", compression="none")
    data = volume_bytes(13, 300_000)
    back_up(d, tmp_path / "vol", data, "dead-1")
    obj = next(backup_dir(tmp_path / "root", "dead-1").glob("*-00003"))
    body = bytearray(obj.read_bytes())
    body[100] ^= 1
    obj.write_bytes(body)
    target = tmp_path / "target"
    target.write_bytes(b"untouched")
    # The flipped byte is in block 8 of the object: its SHA-256 is not the listed one.
    with pytest.raises(InvalidBackup, match=r"-00003 block 8 .*does not match the sha256file"):
        d.restore("dead-1", None, target)
    assert target.read_bytes() == b"untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root", "target", "vol"]


BAD_METADATA: dict[str, Any] = {
    "empty-entry": lambda m: m["objects"].append({}),
    "two-names": lambda m: m["objects"].append({"a": {}, "b": {}}),
    "listed-twice": lambda m: m["objects"].append(m["objects"][0]),
    "unknown-compression": lambda m: next(iter(m["objects"][0].values())).update(
        compression="lz4"
    ),
    "other-backup": lambda m: m.update(backup_id="someone-else"),
    "no-objects": lambda m: m.pop("objects"),
    "bad-md5": lambda m: next(iter(m["objects"][0].values())).update(md5="XYZ"),
}


@pytest.mark.parametrize("change", list(BAD_METADATA.values()), ids=list(BAD_METADATA))
def test_bad_metadata_objects_are_refused(tmp_path: Path, change: Any) -> None:
    root = tmp_path / "root"
    data = volume_bytes(14, 2 * BLOCK)
    where = lay_out(root, "bad0meta", data, [(0, len(data))])
    (meta_path,) = where.glob("*_metadata")
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises((InvalidBackup, ValidationError)):
        PosixBackupDriver(root).restore("bad0meta", None, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    report = PosixBackupDriver(root).verify("bad0meta")
    assert [p.kind for p in report.problems] == ["metadata"]


# --- verify ----------------------------------------------------------------------------------


def _objects(where: Path) -> list[Path]:
    return sorted(p for p in where.iterdir() if re.search(r"-\d{5}$", p.name))


def _flip(path: Path) -> None:
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 0x55
    path.write_bytes(body)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


CORRUPTIONS = {
    "missing": (lambda w: _objects(w)[1].unlink(), "missing", 1),
    "truncated": (lambda w: _truncate(_objects(w)[1]), "truncated", 1),
    "emptied": (lambda w: _objects(w)[2].write_bytes(b""), "truncated", 2),
    "altered": (lambda w: _flip(_objects(w)[0]), "altered", 0),
    "appended": (
        lambda w: _objects(w)[2].write_bytes(_objects(w)[2].read_bytes() + b"junk"),
        "altered",
        2,
    ),
    "swapped": (
        lambda w: [
            os.rename(_objects(w)[0], w / "tmp"),
            os.rename(_objects(w)[0], _objects(w)[0].with_name(_objects(w)[0].name[:-5] + "00001")),
            os.rename(w / "tmp", _objects(w)[0].with_name(_objects(w)[0].name[:-5] + "00002")),
        ],
        "altered",
        0,
    ),
}


@pytest.mark.parametrize("compression", px.COMPRESSIONS)
@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_verify_names_each_damaged_object(tmp_path: Path, compression: str, case: str) -> None:
    d = driver(tmp_path / "root", compression=compression)
    data = volume_bytes(15, 450_000)
    back_up(d, tmp_path / "vol", data, "0b1e-1")
    where = backup_dir(tmp_path / "root", "0b1e-1")
    names = [p.name for p in _objects(where)]
    damage, kind, index = CORRUPTIONS[case]
    assert d.verify("0b1e-1").ok
    damage(where)
    report = d.verify("0b1e-1")
    assert not report.ok
    found = {(p.kind, p.object) for p in report.problems}
    expected = {(kind, names[index])}
    if case == "swapped":
        expected.add((kind, names[1]))
    assert found == expected, report.problems
    with pytest.raises(InvalidBackup):
        d.restore("0b1e-1", None, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _edit_json(path: Path, change: Any) -> None:
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj, sort_keys=True, indent=2))


def _alter_sha(obj: dict[str, Any]) -> None:
    obj["sha256s"][3] = "0" * 64


def _alter_md5(obj: dict[str, Any]) -> None:
    next(iter(obj["objects"][1].values()))["md5"] = "0" * 32


def _drop_object_entry(obj: dict[str, Any]) -> None:
    del obj["objects"][1]


OTHER_CORRUPTIONS = {
    "stray-object": (
        lambda w: (w / (_objects(w)[0].name[:-5] + "00099")).write_bytes(b"x"),
        "unexpected",
    ),
    "sha256-altered": (lambda w: _edit_json(sha_path(w), _alter_sha), "sha256"),
    "sha256-missing": (lambda w: sha_path(w).unlink(), "sha256"),
    "sha256-shortened": (
        lambda w: _edit_json(sha_path(w), lambda o: o["sha256s"].pop()),
        "sha256",
    ),
    "metadata-not-json": (lambda w: meta_path(w).write_text('{"version": "1.0.0",'), "metadata"),
    "metadata-md5": (lambda w: _edit_json(meta_path(w), _alter_md5), "altered"),
    "metadata-lost-entry": (lambda w: _edit_json(meta_path(w), _drop_object_entry), "unexpected"),
    "metadata-missing": (lambda w: meta_path(w).unlink(), "partial"),
}


@pytest.mark.parametrize("case", sorted(OTHER_CORRUPTIONS))
def test_verify_finds_damaged_metadata_objects(tmp_path: Path, case: str) -> None:
    d = driver(tmp_path / "root", compression="zlib")
    back_up(d, tmp_path / "vol", volume_bytes(16, 450_000), "0b1e-2")
    damage, kind = OTHER_CORRUPTIONS[case]
    damage(backup_dir(tmp_path / "root", "0b1e-2"))
    report = d.verify("0b1e-2")
    assert kind in {p.kind for p in report.problems}, report.problems


def test_verify_checks_the_whole_chain(tmp_path: Path) -> None:
    d = driver(tmp_path / "root", compression="bz2")
    vol = tmp_path / "vol"
    v1 = volume_bytes(17, 400_000)
    back_up(d, vol, v1, "c4a1-1")
    back_up(d, vol, px.edit(v1, 1), "c4a1-2", parent="c4a1-1")
    assert d.verify("c4a1-2").chain == ("c4a1-2", "c4a1-1")
    _flip(_objects(backup_dir(tmp_path / "root", "c4a1-1"))[1])
    report = d.verify("c4a1-2")
    assert [(p.backup_id, p.kind) for p in report.problems] == [("c4a1-1", "altered")]
    # A block the incremental did not store must be unchanged from the parent's list.
    _edit_json(sha_path(backup_dir(tmp_path / "root", "c4a1-2")), _alter_sha)
    kinds = {(p.backup_id, p.kind) for p in d.verify("c4a1-2").problems}
    assert ("c4a1-2", "sha256") in kinds


def test_verify_reports_a_missing_parent(tmp_path: Path) -> None:
    d = driver(tmp_path / "root")
    vol = tmp_path / "vol"
    v1 = volume_bytes(18, 100_000)
    back_up(d, vol, v1, "c4a2-1")
    back_up(d, vol, px.edit(v1, 2), "c4a2-2", parent="c4a2-1")
    for p in backup_dir(tmp_path / "root", "c4a2-1").iterdir():
        p.unlink()
    backup_dir(tmp_path / "root", "c4a2-1").rmdir()
    report = d.verify("c4a2-2")
    assert [(p.backup_id, p.kind) for p in report.problems] == [("c4a2-2", "parent")]
    with pytest.raises(BackupNotFound, match="parent backup c4a2-1"):
        d.restore("c4a2-2", None, tmp_path / "out")


def test_verify_of_an_unknown_backup_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BackupNotFound):
        driver(tmp_path).verify("no-such-backup")
