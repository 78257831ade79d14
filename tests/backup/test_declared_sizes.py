"""Declared sizes do not size resources (issue 24, class 5), and with a signing key the lists
restore trusts are sealed.

The attack: whoever can write the backup storage rewrites ``_metadata`` so that a small object
claims a huge length. Restore checks every declared range against the volume the
``_sha256file`` describes before it reads a byte, and streams what it does read a piece at a
time (no spool): memory and temporary space stay bounded whatever the declaration says.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from docket import load_registry
from docket.backup import Backup
from docket.backup._chunks import cinder_json
from docket.backup._seal import SEAL
from docket.errors import InvalidBackup
from tests._hostile_storage import (
    FULL,
    KEY,
    VOLUME_ID,
    child_peak_rss,
    driver,
    make_backup,
    object_path,
    rewrite,
    run_cli,
    stored_dir,
    volume_bytes,
)
from tests._trees import snapshot

pytestmark = pytest.mark.usefixtures("never_blocks")

zstandard = pytest.importorskip("zstandard")

DECLARED = 3 << 30
"""What the forged object claims: 3 GiB of zeros."""
FORGED = 768 << 20
"""What the consistent forgery holds (smaller: its MD5 and SHA list are computed here)."""
_LAST = "-00006"
"""The last data object of the backup of ``volume_bytes()`` (five chunks and 100 bytes)."""


def _zeros_frame(size: int) -> bytes:
    """One zstd frame of ``size`` zero bytes (about 98 KB for 3 GiB), content size recorded."""
    writer = zstandard.ZstdCompressor(level=1).compressobj(size=size)
    zeros = bytes(16 << 20)
    parts = []
    for _ in range(size // len(zeros)):
        parts.append(writer.compress(zeros))
    parts.append(writer.compress(bytes(size % len(zeros))))
    parts.append(writer.flush())
    return b"".join(parts)


def _forge_huge_object(root: Path) -> None:
    """The backup's last object becomes a 98 KB zstd frame declared as 3 GiB of zeros."""
    last = object_path(root, FULL, _LAST)
    frame = _zeros_frame(DECLARED)
    assert len(frame) < 200_000
    last.write_bytes(frame)

    def declare(meta: dict[str, Any]) -> None:
        (entry,) = meta["objects"][-1].values()
        entry.update(length=DECLARED, compression="zstd", md5="0" * 32)

    rewrite(object_path(root, FULL, "_metadata"), declare)


def test_a_small_object_declared_as_gibibytes_is_refused_before_a_byte_is_read(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
    _forge_huge_object(root)
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    before = snapshot(tmp_path)
    rss, out = child_peak_rss(
        f"""
        from docket.backup import PosixBackupDriver
        from docket.errors import InvalidBackup
        try:
            PosixBackupDriver({str(root)!r}).restore({FULL!r}, None, {str(target)!r})
        except InvalidBackup as err:
            print("refused:", err)
        """
    )
    assert "refused:" in out and "reaches to byte" in out and "SHA blocks" in out
    assert rss < 100, f"peak RSS {rss} MiB"
    result = run_cli(["volume", "restore", FULL, "--root", str(root), str(target)])
    assert result.exit_code == 1, result.output
    assert "reaches to byte" in result.output
    # Nothing written, no temporary file left: the directory is as it was.
    assert snapshot(tmp_path) == before
    assert target.read_bytes() == b"keep"


def test_a_record_size_bounds_the_declared_objects(tmp_path: Path) -> None:
    """A record says how large the volume is: an object past it is refused up front."""
    root = tmp_path / "root"
    done = make_backup(root, tmp_path, volume_bytes())
    with pytest.raises(InvalidBackup, match="by the record"):
        driver(root).restore(done.replace(size=0, container=None), None, tmp_path / "t0")
    # The record's own size (1 GiB, rounded up) holds the volume: restored.
    driver(root).restore(done, None, tmp_path / "t1")
    assert (tmp_path / "t1").read_bytes() == volume_bytes()


def test_overlapping_or_unaligned_objects_are_refused_before_writing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())

    def shift(meta: dict[str, Any]) -> None:
        (entry,) = meta["objects"][1].values()
        entry["offset"] -= 100

    rewrite(object_path(root, FULL, "_metadata"), shift)
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    with pytest.raises(InvalidBackup, match="not on a SHA block edge"):
        driver(root).restore(FULL, None, target)
    assert target.read_bytes() == b"keep"


@pytest.mark.slow
def test_a_consistent_forgery_of_gibibytes_of_zeros_restores_in_bounded_space(
    tmp_path: Path,
) -> None:
    """The attacker rewrites the sha256file and the MD5 to match: that is a real backup of a
    volume of zeros (768 MiB, whose sha256file at 4 KiB blocks is 14 MB). It restores
    streaming, as a sparse file, in bounded memory and without temporary space."""
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
    last = object_path(root, FULL, _LAST)
    meta = json.loads(object_path(root, FULL, "_metadata").read_bytes())
    (entry,) = meta["objects"][-1].values()
    start = entry["offset"]
    size = FORGED - start
    last.write_bytes(_zeros_frame(size))
    md5 = hashlib.md5(usedforsecurity=False)
    chunk = bytes(16 << 20)
    for _ in range(size // len(chunk)):
        md5.update(chunk)
    md5.update(bytes(size % len(chunk)))
    entry.update(length=size, compression="zstd", md5=md5.hexdigest())
    object_path(root, FULL, "_metadata").write_bytes(cinder_json(meta))
    block = 4096
    zero = hashlib.sha256(bytes(block)).hexdigest()

    def extend(sha: dict[str, Any]) -> None:
        keep = start // block
        sha["sha256s"] = sha["sha256s"][:keep] + [zero] * ((FORGED - start) // block)

    rewrite(object_path(root, FULL, "_sha256file"), extend)
    target = tmp_path / "target"
    rss, out = child_peak_rss(
        f"""
        from docket.backup import PosixBackupDriver
        PosixBackupDriver({str(root)!r}).restore({FULL!r}, None, {str(target)!r})
        print("restored")
        """
    )
    assert "restored" in out
    assert rss < 100, f"peak RSS {rss} MiB"
    assert target.stat().st_size == FORGED
    # The zeros are holes: the file holds about the real data's blocks.
    assert target.stat().st_blocks * 512 < (1 << 20)


# --- the seal -------------------------------------------------------------------------------


def _keyed(root: Path) -> Any:
    return driver(root, registry=load_registry().with_signing_key(KEY))


def test_a_keyed_backup_is_sealed_and_restores_with_the_key(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes(), registry=load_registry().with_signing_key(KEY))
    meta = json.loads(object_path(root, FULL, "_metadata").read_bytes())
    assert meta[SEAL]["signature"].startswith("hmac-sha256:")
    assert meta[SEAL]["sha256file"] == "sha256:" + hashlib.sha256(
        object_path(root, FULL, "_sha256file").read_bytes()
    ).hexdigest()
    _keyed(root).restore(FULL, None, tmp_path / "t")
    assert (tmp_path / "t").read_bytes() == volume_bytes()
    assert not _keyed(root).verify(FULL).problems


def _consistent_rewrite(root: Path, data: bytes) -> None:
    """What someone with write access to the storage but no key can do: replace an object,
    and the sha256file and MD5 that describe it, consistently."""
    last = object_path(root, FULL, "-00005")
    meta = json.loads(object_path(root, FULL, "_metadata").read_bytes())
    (entry,) = meta["objects"][4].values()
    forged = b"\x66" * entry["length"]
    last.write_bytes(forged)
    entry.update(compression="none", md5=hashlib.md5(forged, usedforsecurity=False).hexdigest())
    object_path(root, FULL, "_metadata").write_bytes(cinder_json(meta))
    block = 4096

    def relist(sha: dict[str, Any]) -> None:
        first = entry["offset"] // block
        for i in range(first, first + len(forged) // block):
            piece = forged[(i - first) * block : (i - first + 1) * block]
            sha["sha256s"][i] = hashlib.sha256(piece).hexdigest()

    rewrite(object_path(root, FULL, "_sha256file"), relist)
    assert driver(root).restore(FULL, None, root.parent / "unkeyed").size == len(data)


@pytest.mark.parametrize("how", ["forged", "unsealed"])
def test_with_a_key_a_forged_or_unsealed_backup_is_refused(tmp_path: Path, how: str) -> None:
    root = tmp_path / "root"
    data = volume_bytes()
    if how == "forged":
        make_backup(root, tmp_path, data, registry=load_registry().with_signing_key(KEY))
        _consistent_rewrite(root, data)
    else:
        make_backup(root, tmp_path, data)
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    with pytest.raises(InvalidBackup, match="seal"):
        _keyed(root).restore(FULL, None, target)
    assert target.read_bytes() == b"keep"
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    result = run_cli(
        ["volume", "restore", FULL, "--root", str(root), str(target), "--key-file", str(key_file)]
    )
    assert result.exit_code == 1 and "seal" in result.output
    assert target.read_bytes() == b"keep"
    report = _keyed(root).verify(FULL)
    assert any("seal" in p.message for p in report.problems)


def test_an_incremental_on_a_forged_parent_is_refused_with_a_key(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = volume_bytes()
    make_backup(root, tmp_path, data, registry=load_registry().with_signing_key(KEY))
    _consistent_rewrite(root, data)
    src = tmp_path / "src-incr"
    src.write_bytes(data)
    with pytest.raises(InvalidBackup, match="seal"):
        _keyed(root).backup(Backup(id="aa11bb22-incr", volume_id=VOLUME_ID, parent_id=FULL), src)
    assert not (stored_dir(root, "aa11bb22-incr")).exists() or not os.listdir(
        stored_dir(root, "aa11bb22-incr")
    )


@pytest.mark.parametrize(
    ("suffix", "where"),
    [("_metadata", "offset"), ("_metadata", "length"), ("_sha256file", "chunk_size")],
)
def test_a_size_written_as_a_json_float_is_refused_typed(
    tmp_path: Path, suffix: str, where: str
) -> None:
    """``16384.0`` is an integer to JSON Schema, but a float to Python: restore and verify
    refuse it as a backup fault, before the target changes, not with a TypeError."""
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())

    def as_float(doc: dict[str, Any]) -> None:
        if where == "chunk_size":
            doc["chunk_size"] = float(doc["chunk_size"])
        else:
            (entry,) = doc["objects"][1].values()
            entry[where] = float(entry[where])

    rewrite(object_path(root, FULL, suffix), as_float)
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    with pytest.raises(InvalidBackup, match="whole number"):
        driver(root).restore(FULL, None, target)
    with open(target, "r+b") as out, pytest.raises(InvalidBackup, match="whole number"):
        driver(root).restore(FULL, None, out)
    assert target.read_bytes() == b"keep"
    problems = driver(root).verify(FULL).problems
    assert problems and all("whole number" in p.message for p in problems)
