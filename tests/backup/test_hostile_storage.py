"""Backup storage, records and input files as an attacker leaves them (issue 12), part one:
files that are not regular files, sizes the attacker chooses, nothing unverified reaching the
target, one restore with one outcome.

Each class of the review has tests of its own: the hostile storage or input is built in
``tests/_hostile_storage.py``, and each test asserts the typed error, the exit status of the
command line (1 for a bad backup, record or parent, 2 only for usage), that the target and the
database are unchanged and, where the attack is about size, the peak memory of a child process.
``docs/security.md`` has the threat model. Nothing may block: every test runs under an alarm.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import docket.store
from docket.backup import Backup
from docket.errors import (
    FileTooLarge,
    InvalidBackup,
    UnsafeFile,
)
from docket.fs import open_regular, read_bounded, scan_dir
from tests._databases import dump
from tests._hostile_storage import (
    CHUNK,
    FULL,
    INCR,
    KEY,
    KINDS,
    PEAK_RSS_SOURCE,
    VOLUME_ID,
    backed_up_root,
    child_peak_rss,
    driver,
    make_backup,
    make_volume,
    object_path,
    plant,
    rewrite,
    run_cli,
    stored_dir,
    volume_bytes,
)
from tests._trees import snapshot

# A FIFO opened the wrong way blocks forever: every test here runs under an alarm.
pytestmark = pytest.mark.usefixtures("never_blocks")

# --- 0. the helpers other code builds on ------------------------------------------------------


def test_safe_helpers_refuse_what_is_not_a_regular_file(tmp_path: Path, host_file: Path) -> None:
    for kind in KINDS:
        path = tmp_path / f"x-{kind}"
        path.write_bytes(b"")
        if kind == "device":
            continue
        plant(path, kind, host_file)
        with pytest.raises(UnsafeFile) as info:
            open_regular(path, what="test file")
        assert info.value.filename == str(path) and "regular" not in info.value.found
    with pytest.raises(FileTooLarge):
        read_bounded(host_file, 100, what="test file")
    assert read_bounded(host_file, 12000, what="test file") == host_file.read_bytes()
    with open("/dev/zero", "rb") as endless, pytest.raises(FileTooLarge):
        read_bounded(endless, 1 << 20, what="stream")
    kinds = {e.name: e.kind for e in scan_dir(tmp_path)}
    assert kinds["x-fifo"] == "a FIFO" and kinds["x-symlink"] == "a symbolic link"


# --- 1. files that are not regular files ------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_planted_data_object_is_refused_by_verify_and_restore(
    tmp_path: Path, host_file: Path, kind: str
) -> None:
    root = backed_up_root(tmp_path)
    plant(object_path(root, FULL, "-00002"), kind, host_file)
    report = driver(root).verify(FULL)
    [problem] = [p for p in report.problems if p.object and p.object.endswith("-00002")]
    assert problem.kind == "altered" and "is not read" in problem.message
    target = tmp_path / "target"
    target.write_bytes(b"keep me")
    with pytest.raises(UnsafeFile):
        driver(root).restore(FULL, None, target)
    assert target.read_bytes() == b"keep me"
    result = run_cli(["volume", "restore", FULL, "--root", str(root), str(target)])
    assert result.exit_code == 1 and "error:" in result.output
    assert target.read_bytes() == b"keep me"
    assert run_cli(["volume", "verify", FULL, "--root", str(root)]).exit_code == 1


@pytest.mark.parametrize("suffix", ["_metadata", "_sha256file"])
@pytest.mark.parametrize("kind", ["fifo", "symlink", "socket"])
def test_a_planted_metadata_or_sha256_object_is_refused(
    tmp_path: Path, host_file: Path, kind: str, suffix: str
) -> None:
    root = backed_up_root(tmp_path)
    # The host file is a valid object of another backup: following the link would "work".
    other = tmp_path / "other-root"
    make_backup(other, tmp_path, volume_bytes(seed=2))
    plant(object_path(root, FULL, suffix), kind, object_path(other, FULL, suffix))
    report = driver(root).verify(FULL)
    assert not report.ok
    assert any("is a" in p.message for p in report.problems), report.problems
    result = run_cli(["volume", "verify", FULL, "--root", str(root)])
    assert result.exit_code == 1
    if suffix == "_metadata":
        target = tmp_path / "target"
        with pytest.raises(UnsafeFile):
            driver(root).restore(FULL, None, target)
        assert not target.exists()


@pytest.mark.parametrize("operation", ["verify", "restore", "delete"])
def test_symlinked_directories_under_the_root_are_not_followed(
    tmp_path: Path, operation: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    make_backup(elsewhere, tmp_path, volume_bytes())
    before = snapshot(elsewhere)
    root = tmp_path / "root"
    root.mkdir()
    (root / FULL[0:2]).symlink_to(elsewhere / FULL[0:2])
    d = driver(root)
    with pytest.raises(UnsafeFile, match="symbolic link"):
        if operation == "verify":
            d.verify(FULL)
        elif operation == "restore":
            d.restore(FULL, None, tmp_path / "target")
        else:
            d.delete(FULL)
    assert snapshot(elsewhere) == before
    assert not (tmp_path / "target").exists()
    command = "verify" if operation == "delete" else operation
    extra = [str(tmp_path / "t")] if operation == "restore" else []
    result = run_cli(["volume", command, FULL, "--root", str(root), *extra])
    assert result.exit_code == 1


def test_children_search_does_not_follow_links(tmp_path: Path) -> None:
    root = backed_up_root(tmp_path)
    # Another tree's incremental of FULL, linked in: it is not under the root.
    other = tmp_path / "other"
    make_backup(other, tmp_path, volume_bytes())
    make_backup(other, tmp_path, volume_bytes(), backup_id=INCR, parent_id=FULL)
    (root / "zz").symlink_to(other / INCR[0:2])
    driver(root).delete(FULL)
    assert not stored_dir(root, FULL).exists()


@pytest.mark.parametrize("kind", ["fifo", "symlink", "socket"])
def test_input_key_and_volume_files_that_are_not_regular_are_refused(
    tmp_path: Path, host_file: Path, kind: str
) -> None:
    key = tmp_path / "key"
    key.write_bytes(KEY)
    plant(key, kind, host_file)
    vol = tmp_path / "vol"
    vol.write_bytes(b"")
    plant(vol, kind, host_file)
    container = tmp_path / "vol.json"
    container.write_bytes(b"")
    plant(container, kind, host_file)
    root = tmp_path / "root"
    result = run_cli(["volume", "backup", str(vol), "--root", str(root)])
    assert result.exit_code == 1 and str(vol) in result.output
    assert not root.exists() or not any(root.rglob("*_metadata"))
    result = run_cli(["validate", "--key-file", str(key), str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "--key-file" in result.output
    result = run_cli(["migrate", "--to", "3", str(container)])
    assert result.exit_code == 1 and str(container) in result.output


# --- 2. sizes the attacker chooses -------------------------------------------------------------


def _sparse(path: Path, size: int, head: bytes = b"") -> None:
    path.unlink(missing_ok=True)
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)


@pytest.mark.parametrize("suffix", ["_metadata", "_sha256file"])
def test_a_huge_metadata_or_sha256_object_is_refused_before_reading(
    tmp_path: Path, suffix: str
) -> None:
    root = backed_up_root(tmp_path)
    # 8 GiB that take no disk: reading them would need 8 GiB of memory.
    _sparse(object_path(root, FULL, suffix), 8 << 30, b'{"version": "1.0.0", "x": "')
    rss, out = child_peak_rss(
        f"""
        from docket.backup import PosixBackupDriver
        report = PosixBackupDriver({str(root)!r}).verify({FULL!r})
        print([p.message for p in report.problems])
        """
    )
    assert "too large" in out
    assert rss < 200, f"peak RSS {rss} MiB"
    result = run_cli(["volume", "verify", FULL, "--root", str(root)])
    assert result.exit_code == 1 and "too large" in result.output


def test_an_endless_record_on_stdin_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom docket.cli import main\n"
        f"sys.argv = ['docket', 'volume', 'import-record', '--root', {str(tmp_path)!r}, '-']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    print('EXIT', e.code)\n"
    )
    script = PEAK_RSS_SOURCE + code + ("print('RSS', PEAK_RSS_KIB() // 1024)\n")
    with open("/dev/zero", "rb") as zero:
        out = subprocess.run(
            [sys.executable, "-c", script], stdin=zero, capture_output=True, text=True, timeout=120
        )
    assert "EXIT 1" in out.stdout, out.stdout + out.stderr
    assert "too large" in out.stderr and "Traceback" not in out.stderr
    rss = int(out.stdout.rsplit("RSS ", 1)[1])
    assert rss < 250, f"peak RSS {rss} MiB"


def test_a_huge_key_file_is_refused_before_reading(tmp_path: Path) -> None:
    key = tmp_path / "key"
    _sparse(key, 4 << 30, b"k")
    result = run_cli(["validate", "--key-file", str(key), str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "too large" in result.output


@pytest.mark.parametrize("block_size", [1, 2, 1 << 40])
def test_an_insane_sha_block_size_is_refused(tmp_path: Path, block_size: int) -> None:
    root = backed_up_root(tmp_path)
    rewrite(object_path(root, FULL, "_sha256file"), lambda d: d.update(chunk_size=block_size))
    report = driver(root).verify(FULL)
    assert [p.kind for p in report.problems] == ["sha256"]
    assert "SHA block size" in report.problems[0].message


@pytest.mark.parametrize(("offset", "length"), [(1 << 63, 1), (0, 1 << 63), (1 << 50, 1)])
def test_insane_object_offsets_and_lengths_are_refused(
    tmp_path: Path, offset: int, length: int
) -> None:
    root = backed_up_root(tmp_path)

    def change(data: dict[str, Any]) -> None:
        [(_name, entry)] = data["objects"][1].items()
        entry.update(offset=offset, length=length)

    rewrite(object_path(root, FULL, "_metadata"), change)
    with pytest.raises(InvalidBackup, match="reaches past"):
        driver(root).restore(FULL, None, tmp_path / "target")
    assert not (tmp_path / "target").exists()
    report = driver(root).verify(FULL)
    assert [p.kind for p in report.problems] == ["metadata"]
    result = run_cli(["volume", "restore", FULL, "--root", str(root), str(tmp_path / "t")])
    assert result.exit_code == 1


def test_a_far_offset_does_not_make_docket_allocate_what_it_allows(tmp_path: Path) -> None:
    """An offset of 150 GiB (inside the sane bound) lets the SHA-256 list be 25 GB long; the
    small list there is read in pieces, not into a buffer of the allowed size (found by the
    storage fuzzer as a MemoryError), and the backup is a typed problem."""
    root = backed_up_root(tmp_path)

    def change(data: dict[str, Any]) -> None:
        [(_name, entry)] = data["objects"][0].items()
        entry.update(offset=161_767_240_705)

    rewrite(object_path(root, FULL, "_metadata"), change)
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from docket.backup import PosixBackupDriver\n"
        f"report = PosixBackupDriver({str(root)!r}).verify({FULL!r})\n"
        "print(sorted({p.kind for p in report.problems}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MemoryError" not in done.stderr and done.stdout.strip() not in ("", "[]")


# --- 3. nothing unverified reaches the target -----------------------------------------------


@pytest.mark.parametrize("damage", ["altered", "symlink"])
def test_an_open_file_target_gets_nothing_when_an_object_is_bad(
    tmp_path: Path, host_file: Path, damage: str
) -> None:
    root = backed_up_root(tmp_path)
    last = object_path(root, FULL, "-00005")
    if damage == "altered":
        last.write_bytes(last.read_bytes()[:-3] + b"xyz")
    else:
        plant(last, "symlink", host_file)
    target = tmp_path / "device-like"
    original = b"\xee" * (6 * CHUNK)
    target.write_bytes(original)
    with open(target, "r+b") as out, pytest.raises((InvalidBackup, UnsafeFile)):
        driver(root).restore(FULL, None, out)
    # Objects 1-4 are intact, but none was written: the chain is checked first.
    assert target.read_bytes() == original
    assert b"host secret" not in target.read_bytes()


def test_each_object_is_checked_before_its_bytes_are_written(tmp_path: Path) -> None:
    """The object is changed between the check of the chain and its own write: the spool
    holds what was checked, so a swap at that moment writes nothing of the new bytes."""
    root = backed_up_root(tmp_path)
    from docket.backup import _restore

    last = object_path(root, FULL, "-00005")
    good = last.read_bytes()
    verify = _restore.RestoreWriter.verify

    def swap_after_verify(self: Any) -> None:
        verify(self)
        last.write_bytes(good[:-3] + b"xyz")

    target = tmp_path / "t"
    original = b"\xee" * (6 * CHUNK)
    target.write_bytes(original)
    with (
        pytest.MonkeyPatch.context() as mp,
        open(target, "r+b") as out,
        pytest.raises(InvalidBackup),
    ):
        mp.setattr(_restore.RestoreWriter, "verify", swap_after_verify)
        driver(root).restore(FULL, None, out)
    data = target.read_bytes()
    # Objects 1-4 were written; object 5's bytes (altered after the check) were not. Object
    # 6 is read beside object 5 (two objects in flight): its blocks, checked, may be there.
    assert data[4 * CHUNK : 5 * CHUNK] == original[4 * CHUNK : 5 * CHUNK]
    end = len(volume_bytes())
    assert data[5 * CHUNK : end] in (original[5 * CHUNK : end], volume_bytes()[5 * CHUNK :])
    assert data[end:] == original[end:]


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_restore_target_that_is_not_a_file_or_block_device_is_refused(
    tmp_path: Path, host_file: Path, kind: str
) -> None:
    root = backed_up_root(tmp_path)
    target = tmp_path / "target"
    target.write_bytes(b"")
    plant(target, kind, host_file)
    result = run_cli(["volume", "restore", FULL, "--root", str(root), str(target)])
    assert result.exit_code == 1 and str(target) in result.output


# --- 4. one restore, one outcome --------------------------------------------------------------


def _full_backup(tmp_path: Path, engine: Any) -> tuple[docket.store.BackupMetadataAPI, Path, Path]:
    """The volume's full backup (FULL) under tmp_path/root, its metadata from the database."""
    make_volume(engine)
    api = docket.store.BackupMetadataAPI(engine)
    root = tmp_path / "root"
    src = tmp_path / "src"
    src.write_bytes(volume_bytes())
    driver(root, metadata_api=api).backup(Backup(id=FULL, volume_id=VOLUME_ID), src)
    return api, root, src


def _incremental(root: Path, api: docket.store.BackupMetadataAPI, src: Path) -> None:
    """An incremental (INCR) of ``src`` on FULL."""
    driver(root, metadata_api=api).backup(Backup(id=INCR, volume_id=VOLUME_ID, parent_id=FULL), src)


@pytest.mark.parametrize("refusal", ["load", "put"])
def test_a_refused_incremental_leaves_the_database_and_target_as_they_were(
    tmp_path: Path, sqlite_db: tuple[str, Any], refusal: str
) -> None:
    url, engine = sqlite_db
    api, root, src = _full_backup(tmp_path, engine)
    src.write_bytes(volume_bytes(seed=3))
    _incremental(root, api, src)
    # The incremental's container: one the loader refuses, or one only the database refuses.
    bad = (
        '{"version": 2, "volume-base-metadata": "not a section"}'
        if refusal == "load"
        else json.dumps({"version": 2, "volume-metadata": {"k": "v" * 300}})
    )
    rewrite(object_path(root, INCR, "_metadata"), lambda d: d.update(volume_meta=bad))
    before = dump(engine)
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    result = run_cli(["volume", "restore", INCR, "--root", str(root), str(target),
                      "--db", url, "--volume-id", VOLUME_ID])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert dump(engine) == before
    assert target.read_bytes() == b"keep"


def test_a_good_chain_restores_its_metadata_in_order(
    tmp_path: Path, sqlite_db: tuple[str, Any]
) -> None:
    _, engine = sqlite_db
    api, root, src = _full_backup(tmp_path, engine)
    api.put(VOLUME_ID, json.dumps({"version": 2, "volume-metadata": {"fee": "new"}}))
    _incremental(root, api, src)
    api.put(VOLUME_ID, json.dumps({"version": 2, "volume-metadata": {"fee": "latest"}}))
    report = driver(root, metadata_api=api).restore(INCR, VOLUME_ID, tmp_path / "t")
    assert [b for b, _ in report.metadata] == [FULL, INCR]
    assert json.loads(api.get(VOLUME_ID))["volume-metadata"] == {"fee": "new"}
