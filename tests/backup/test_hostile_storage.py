"""Backup storage, records and input files as an attacker leaves them (issue 12).

Each class of the review has tests of its own: the hostile storage or input is built here, and
each test asserts the typed error, the exit status of the command line (1 for a bad backup,
record or parent, 2 only for usage), that the target and the database are unchanged and, where
the attack is about size, the peak memory of a child process. ``docs/security.md`` has the
threat model. Nothing may block: every test runs under an alarm.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import docket.store
from docket import load_registry
from docket.backup import Backup, PosixBackupDriver
from docket.backup._chunks import cinder_json
from docket.cli import cli
from docket.errors import (
    BackupNotFound,
    DriverOptionError,
    FileTooLarge,
    InvalidBackup,
    KeyConflict,
    SignatureError,
    UnsafeFile,
)
from docket.fs import open_regular, read_bounded, scan_dir, write_atomic
from tests._databases import dump, scratch_database
from tests._trees import snapshot

KEY = b"operator key for hostile storage"
BLOCK = 4096
CHUNK = 4 * BLOCK
FULL = "aa11bb22-full"
INCR = "aa11bb22-incr"
VOLUME_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


@pytest.fixture(autouse=True)
def _never_blocks() -> Iterator[None]:
    """A FIFO opened or read the wrong way blocks forever: fail the test instead."""

    def expired(*_: Any) -> None:
        raise TimeoutError("blocked on hostile storage")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def volume_bytes(n: int = 5 * CHUNK + 100, seed: int = 1) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def driver(root: Path, **kw: Any) -> PosixBackupDriver:
    return PosixBackupDriver(root, chunk_size=CHUNK, sha_block_size=BLOCK, **kw)


def make_backup(root: Path, tmp: Path, data: bytes, backup_id: str = FULL, **kw: Any) -> Backup:
    src = tmp / f"src-{backup_id}"
    src.write_bytes(data)
    done = driver(root).backup(Backup(id=backup_id, volume_id=VOLUME_ID, **kw), src)
    return done


def stored_dir(root: Path, backup_id: str) -> Path:
    return root / backup_id[0:2] / backup_id[2:4] / backup_id


def object_path(root: Path, backup_id: str, suffix: str) -> Path:
    [path] = [p for p in stored_dir(root, backup_id).iterdir() if p.name.endswith(suffix)]
    return path


def plant(path: Path, kind: str, host_file: Path) -> None:
    """Replace ``path`` with a non-regular file of ``kind``."""
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        path.symlink_to(host_file)
    elif kind == "socket":
        here = os.getcwd()
        os.chdir(path.parent)  # a socket's path is short: bind by name
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(path.name)
        finally:
            os.chdir(here)
    elif kind == "device":
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero
        except PermissionError:
            pytest.skip("creating a device node needs privileges here")
    else:  # pragma: no cover
        raise AssertionError(kind)


KINDS = ["fifo", "symlink", "socket", "device"]


def run_cli(args: list[str], **kw: Any) -> Any:
    result = CliRunner().invoke(cli, args, catch_exceptions=False, **kw)
    assert "Traceback" not in result.output
    return result


# A child's peak RSS, from the kernel's high-water mark of its own address space (VmHWM).
# ru_maxrss is no use here: Linux carries the parent's high-water mark across exec, so a child
# of a large pytest worker would report the worker's memory, not its own.
PEAK_RSS_SOURCE = """
def PEAK_RSS_KIB():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")
"""


def child_peak_rss(code: str) -> tuple[int, str]:
    """Run ``code`` in a fresh Python; its peak RSS in MiB and its stdout."""
    script = PEAK_RSS_SOURCE + textwrap.dedent(code) + textwrap.dedent(
        """
        import sys
        sys.stdout.write("\\nRSS %d\\n" % (PEAK_RSS_KIB() // 1024))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    rss = int(out.stdout.rsplit("RSS ", 1)[1])
    return rss, out.stdout


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"host secret " * 1000)
    return secret


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
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
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
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
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
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
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
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
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
    script = PEAK_RSS_SOURCE + code + (
        "print('RSS', PEAK_RSS_KIB() // 1024)\n"
    )
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


def _rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_bytes())
    change(data)
    path.write_bytes(cinder_json(data))


@pytest.mark.parametrize("block_size", [1, 2, 1 << 40])
def test_an_insane_sha_block_size_is_refused(tmp_path: Path, block_size: int) -> None:
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
    _rewrite(object_path(root, FULL, "_sha256file"), lambda d: d.update(chunk_size=block_size))
    report = driver(root).verify(FULL)
    assert [p.kind for p in report.problems] == ["sha256"]
    assert "SHA block size" in report.problems[0].message


@pytest.mark.parametrize(("offset", "length"), [(1 << 63, 1), (0, 1 << 63), (1 << 50, 1)])
def test_insane_object_offsets_and_lengths_are_refused(
    tmp_path: Path, offset: int, length: int
) -> None:
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())

    def change(data: dict[str, Any]) -> None:
        [(_name, entry)] = data["objects"][1].items()
        entry.update(offset=offset, length=length)

    _rewrite(object_path(root, FULL, "_metadata"), change)
    with pytest.raises(InvalidBackup, match="reaches past"):
        driver(root).restore(FULL, None, tmp_path / "target")
    assert not (tmp_path / "target").exists()
    report = driver(root).verify(FULL)
    assert [p.kind for p in report.problems] == ["metadata"]
    result = run_cli(["volume", "restore", FULL, "--root", str(root), str(tmp_path / "t")])
    assert result.exit_code == 1


# --- 3. nothing unverified reaches the target -----------------------------------------------


@pytest.mark.parametrize("damage", ["altered", "symlink"])
def test_an_open_file_target_gets_nothing_when_an_object_is_bad(
    tmp_path: Path, host_file: Path, damage: str
) -> None:
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
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
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
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
    # Objects 1-4 were written; object 5's bytes (altered after the check) were not.
    assert data[4 * CHUNK :] == original[4 * CHUNK :]


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_restore_target_that_is_not_a_file_or_block_device_is_refused(
    tmp_path: Path, host_file: Path, kind: str
) -> None:
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
    target = tmp_path / "target"
    target.write_bytes(b"")
    plant(target, kind, host_file)
    result = run_cli(["volume", "restore", FULL, "--root", str(root), str(target)])
    assert result.exit_code == 1 and str(target) in result.output


# --- 4. one restore, one outcome --------------------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path) -> tuple[str, Any]:
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    docket.store.init_db(url)
    return url, docket.store.make_engine(url)


def _volume(engine: Any) -> str:
    return docket.store.create_volume(  # type: ignore[no-any-return]
        engine,
        volume_id=VOLUME_ID,
        display_name="db-volume",
        metadata={"fee": "old"},
    )


@pytest.mark.parametrize("refusal", ["load", "put"])
def test_a_refused_incremental_leaves_the_database_and_target_as_they_were(
    tmp_path: Path, sqlite_db: tuple[str, Any], refusal: str
) -> None:
    url, engine = sqlite_db
    _volume(engine)
    api = docket.store.BackupMetadataAPI(engine)
    root = tmp_path / "root"
    src = tmp_path / "src"
    src.write_bytes(volume_bytes())
    driver(root, metadata_api=api).backup(Backup(id=FULL, volume_id=VOLUME_ID), src)
    src.write_bytes(volume_bytes(seed=3))
    driver(root, metadata_api=api).backup(Backup(id=INCR, volume_id=VOLUME_ID, parent_id=FULL), src)
    # The incremental's container: one the loader refuses, or one only the database refuses.
    bad = (
        '{"version": 2, "volume-base-metadata": "not a section"}'
        if refusal == "load"
        else json.dumps({"version": 2, "volume-metadata": {"k": "v" * 300}})
    )
    _rewrite(object_path(root, INCR, "_metadata"), lambda d: d.update(volume_meta=bad))
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
    _volume(engine)
    api = docket.store.BackupMetadataAPI(engine)
    root = tmp_path / "root"
    src = tmp_path / "src"
    src.write_bytes(volume_bytes())
    driver(root, metadata_api=api).backup(Backup(id=FULL, volume_id=VOLUME_ID), src)
    api.put(VOLUME_ID, json.dumps({"version": 2, "volume-metadata": {"fee": "new"}}))
    driver(root, metadata_api=api).backup(Backup(id=INCR, volume_id=VOLUME_ID, parent_id=FULL), src)
    api.put(VOLUME_ID, json.dumps({"version": 2, "volume-metadata": {"fee": "latest"}}))
    report = driver(root, metadata_api=api).restore(INCR, VOLUME_ID, tmp_path / "t")
    assert [b for b, _ in report.metadata] == [FULL, INCR]
    assert json.loads(api.get(VOLUME_ID))["volume-metadata"] == {"fee": "new"}


# --- 5. signing keys are honoured everywhere --------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "operator.key"
    path.write_bytes(KEY)
    return path


def test_volume_commands_take_the_key_and_refuse_unsigned_backups(
    tmp_path: Path, sqlite_db: tuple[str, Any], key_file: Path
) -> None:
    url, engine = sqlite_db
    _volume(engine)
    root = tmp_path / "root"
    src = tmp_path / "src"
    src.write_bytes(volume_bytes())
    base = ["--root", str(root)]
    db = ["--db", url, "--volume-id", VOLUME_ID]
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
    meta = object_path(root, "cc33-signed", "_metadata")
    container = json.loads(json.loads(meta.read_bytes())["volume_meta"])
    assert container.get("signature")
    family = load_registry().family("backup-metadata")
    altered = {k: v for k, v in container.items() if k not in ("digest", "signature")}
    altered["volume-base-metadata"] = dict(altered["volume-base-metadata"], display_name="evil")
    redigested = dict(family.new(altered).data, signature=container["signature"])
    _rewrite(meta, lambda d: d.update(volume_meta=json.dumps(redigested)))
    result = run_cli(["volume", "verify", "cc33-signed", *base, *signed])
    assert result.exit_code == 1 and "signature" in result.output.lower()
    before = dump(engine)
    result = run_cli(["volume", "restore", "cc33-signed", *base, str(target), *db, *signed])
    assert result.exit_code == 1 and dump(engine) == before


def test_import_record_honours_the_key(tmp_path: Path, key_file: Path) -> None:
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
    unsigned = driver(root).export_record(FULL)
    signed = driver(root, registry=load_registry().with_signing_key(KEY)).export_record(FULL)
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
        driver(root, registry=load_registry().with_signing_key(KEY)).import_record(text)


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
    plant(out, kind, host_file)
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
    _volume(engine)
    monkeypatch.chdir(tmp_path)
    os.mkfifo("pipe.json")
    result = run_cli(["backup", "--db", url, VOLUME_ID, "-o", "pipe.json"])
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
    PosixBackupDriver(root, compression="zstd", chunk_size=CHUNK, sha_block_size=BLOCK).backup(
        Backup(id=FULL, volume_id=VOLUME_ID), src
    )
    obj = object_path(root, FULL, "-00001")
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
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
    for parent in ["../../etc", "x\n", "/abs"]:
        _rewrite(object_path(root, FULL, "_metadata"), lambda d: d.update(parent_id=parent))  # noqa: B023
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
def test_a_target_the_file_system_cannot_grow_is_a_typed_refusal(
    tmp_path: Path, onto: str
) -> None:
    """With a file size limit below the volume's size, the file system refuses to grow the
    target: the restore says so as a BackupError and the target is as it was."""
    root = tmp_path / "root"
    make_backup(root, tmp_path, volume_bytes())
    target = tmp_path / "target"
    target.write_bytes(b"\xee" * 100)
    code = _FSIZE_CHILD
    if onto == "path":
        code = code.replace(
            'with open(target, "r+b") as out:', "if True:\n    out = target"
        )
    out = subprocess.run(
        [sys.executable, "-c", code, str(root), str(target), FULL, str(CHUNK), str(BLOCK)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in out.stderr, out.stderr
    assert out.stdout.startswith("BackupError"), out.stdout + out.stderr
    assert "File too large" in out.stdout
    assert target.read_bytes() == b"\xee" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["root", "target", f"src-{FULL}"]
    )
