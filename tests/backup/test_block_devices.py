"""Volumes that are block devices, as operators name them: real loop devices, reached directly
and through the symbolic links LVM and udev make (``/dev/VG/LV``, ``/dev/disk/by-id/...``).
A link to anything but a block device is refused, on both sides, before a byte is read or
written: a link planted where a restore is about to write must not send the volume over the
file it names.

Loop devices need root and ``losetup``; without them these tests skip, saying why."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from docket.backup import Backup
from docket.backup.posix import PosixBackupDriver
from docket.cli import app
from docket.errors import BackupError, InvalidBackup, UnsafeFile
from tests._posix import VOLUME_ID, backup_dir, driver, volume_bytes

Loop = Callable[[bytes], Path]


def _attach(backing: Path) -> str:
    done = subprocess.run(
        ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"no loop device here: losetup said {done.stderr.strip()!r}")
    return done.stdout.strip()


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    """Attach loop devices holding the given bytes; each is detached afterwards."""
    if shutil.which("losetup") is None or os.geteuid() != 0:
        pytest.skip("loop devices need root and losetup (util-linux)")
    attached: list[str] = []

    def make(data: bytes) -> Path:
        backing = tmp_path / f"backing-{len(attached)}"
        backing.write_bytes(data)
        attached.append(_attach(backing))
        return Path(attached[-1])

    yield make
    for device in attached:
        subprocess.run(["losetup", "--detach", device], check=False)


def _linked(tmp_path: Path, device: Path, name: str) -> Path:
    """A link to ``device`` as LVM makes one (``/dev/VG/LV``)."""
    group = tmp_path / "vg"
    group.mkdir(exist_ok=True)
    link = group / name
    link.symlink_to(device)
    return link


def test_back_up_a_device_through_its_link_and_restore_onto_another(
    tmp_path: Path, loop: Loop
) -> None:
    data = volume_bytes(41, 1 << 20)
    source = _linked(tmp_path, loop(data), "lv-1")
    target = _linked(tmp_path, loop(bytes(1 << 20) + b"\xff" * 4096), "lv-2")
    d = driver(tmp_path / "root", chunk_size=256 << 10)
    d.backup(Backup(id="dev-1", volume_id=VOLUME_ID), source)
    d.restore("dev-1", None, target)
    restored = target.read_bytes()
    # A device keeps its size: the backed-up bytes, then what was there.
    assert restored[: len(data)] == data
    assert restored[len(data) :] == b"\xff" * 4096
    assert target.is_symlink()


def test_an_incremental_chain_restores_onto_a_device(tmp_path: Path, loop: Loop) -> None:
    first = volume_bytes(42, 512 << 10)
    second = bytearray(first)
    second[100_000:140_000] = os.urandom(40_000)
    source = loop(first)
    d = driver(tmp_path / "root", chunk_size=128 << 10)
    d.backup(Backup(id="dev-full", volume_id=VOLUME_ID), source)
    with open(source, "r+b") as fh:
        fh.write(second)
    d.backup(Backup(id="dev-incr", volume_id=VOLUME_ID, parent_id="dev-full"), source)
    target = loop(b"\x5a" * (512 << 10))
    d.restore("dev-incr", None, target)
    assert target.read_bytes() == bytes(second)


def test_a_damaged_backup_leaves_the_device_as_it_was(tmp_path: Path, loop: Loop) -> None:
    data = volume_bytes(43, 512 << 10)
    d = driver(tmp_path / "root", chunk_size=128 << 10, compression="none")
    d.backup(Backup(id="dev-bad", volume_id=VOLUME_ID), loop(data))
    # The last data object is damaged: a restore that wrote as it read would have written
    # the first three before finding it.
    last = sorted(p for p in backup_dir(tmp_path / "root", "dev-bad").iterdir()
                  if p.name[-5:].isdigit())[-1]  # fmt: skip
    damaged = bytearray(last.read_bytes())
    damaged[-1] ^= 0xFF
    last.write_bytes(bytes(damaged))
    before = b"\x33" * (512 << 10)
    target = loop(before)
    with pytest.raises(InvalidBackup):
        d.restore("dev-bad", None, target)
    assert target.read_bytes() == before


def test_a_device_smaller_than_the_volume_is_refused_untouched(
    tmp_path: Path, loop: Loop
) -> None:
    d = driver(tmp_path / "root")
    d.backup(Backup(id="dev-big", volume_id=VOLUME_ID), loop(volume_bytes(44, 256 << 10)))
    before = b"\x11" * (128 << 10)
    target = loop(before)
    with pytest.raises(InvalidBackup, match="restore onto a volume at least as large"):
        d.restore("dev-big", None, target)
    assert target.read_bytes() == before


def test_a_device_in_use_is_refused_untouched(tmp_path: Path, loop: Loop) -> None:
    """A restore wrote over a mounted device (its file system) without a word. A device
    claimed by someone else (mounted; here held with O_EXCL, as the kernel holds a mounted
    one) is now refused, nothing written; once released, the restore goes through."""
    data = volume_bytes(45, 256 << 10)
    d = driver(tmp_path / "root")
    d.backup(Backup(id="dev-used", volume_id=VOLUME_ID), loop(data))
    before = b"\x22" * (256 << 10)
    target = loop(before)
    held = os.open(target, os.O_RDONLY | os.O_EXCL)
    try:
        with pytest.raises(BackupError, match="is in use") as info:
            d.restore("dev-used", None, target)
        assert "unmount it" in info.value.hint
        code, out = _docket("volume", "restore", "dev-used", "--root", str(tmp_path / "root"),
                            str(target))  # fmt: skip
        assert code == 1 and f"the restore target {target} is in use" in out, out
        assert target.read_bytes() == before
    finally:
        os.close(held)
    d.restore("dev-used", None, target)
    assert target.read_bytes() == data


# --- links to anything but a device ------------------------------------------------------


def _docket(*argv: str) -> tuple[int, str]:
    result = CliRunner().invoke(app.cli, list(argv))
    return result.exit_code, result.stderr


def _backed_up_file(tmp_path: Path, backup_id: str, seed: int, size: int) -> PosixBackupDriver:
    """A driver whose root holds ``backup_id``, a backup of a file ``vol`` beside it."""
    d = driver(tmp_path / "root")
    volume = tmp_path / "vol"
    volume.write_bytes(volume_bytes(seed, size))
    d.backup(Backup(id=backup_id, volume_id=VOLUME_ID), volume)
    return d


def test_a_restore_onto_a_link_to_a_file_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    d = _backed_up_file(tmp_path, "file-1", 45, 100_000)
    # Someone who can write the restore's directory points the target's name elsewhere.
    elsewhere = tmp_path / "precious"
    elsewhere.write_bytes(b"keep me")
    planted = tmp_path / "restored.img"
    planted.symlink_to(elsewhere)
    with pytest.raises(UnsafeFile, match="not to a block device"):
        d.restore("file-1", None, planted)
    assert elsewhere.read_bytes() == b"keep me"
    assert planted.is_symlink()
    code, err = _docket("volume", "restore", "file-1", "--root", str(tmp_path / "root"),
                        str(planted))  # fmt: skip
    assert code != 0
    assert "is a symbolic link (to " in err and "name the file itself" in err
    assert "Traceback" not in err
    assert elsewhere.read_bytes() == b"keep me"


def test_a_dangling_link_is_refused_and_nothing_is_made(tmp_path: Path) -> None:
    d = _backed_up_file(tmp_path, "file-2", 46, 50_000)
    planted = tmp_path / "restored.img"
    planted.symlink_to(tmp_path / "made-by-the-restore")
    with pytest.raises(UnsafeFile):
        d.restore("file-2", None, planted)
    assert not (tmp_path / "made-by-the-restore").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["restored.img", "root", "vol"]


def test_a_link_swapped_for_the_temporary_file_does_not_get_the_targets_mode(
    tmp_path: Path,
) -> None:
    """Someone who can write the restore's directory swaps the temporary file being written
    for a link to another file: the old target's mode goes onto the file written, never
    through the link (a root restore would otherwise chmod any file the link names)."""
    d = _backed_up_file(tmp_path, "file-5", 48, 100_000)
    target = tmp_path / "restored.img"
    target.write_bytes(b"old")
    target.chmod(0o664)
    victim = tmp_path / "shadow"
    victim.write_bytes(b"secret")
    victim.chmod(0o600)
    swapped: list[Path] = []

    def swap(done: int, total: int) -> None:
        for tmp in tmp_path.glob(".restored.img.*"):
            if not tmp.is_symlink():
                tmp.rename(tmp_path / "moved")
                tmp.symlink_to(victim)
                swapped.append(tmp)

    d.restore("file-5", None, target, progress=swap)
    assert swapped, "the restore wrote no temporary file beside its target"
    assert victim.stat().st_mode & 0o777 == 0o600 and victim.read_bytes() == b"secret"
    assert (tmp_path / "moved").stat().st_mode & 0o777 == 0o664


def test_a_backup_of_a_link_to_a_file_is_refused(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.write_bytes(b"secret" * 1000)
    link = tmp_path / "vol-link"
    link.symlink_to(volume)
    d = driver(tmp_path / "root")
    with pytest.raises(UnsafeFile, match="not to a block device"):
        d.backup(Backup(id="file-3", volume_id=VOLUME_ID), link)
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").rglob("*_metadata"))


def test_a_restore_onto_a_new_path_makes_a_file_of_the_usual_mode(tmp_path: Path) -> None:
    d = _backed_up_file(tmp_path, "file-4", 47, 60_000)
    old = os.umask(0o022)
    try:
        d.restore("file-4", None, tmp_path / "new.img")
    finally:
        os.umask(old)
    assert (tmp_path / "new.img").stat().st_mode & 0o777 == 0o644
