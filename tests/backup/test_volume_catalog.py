"""``docket volume list`` and ``docket volume delete``: the driver's ``list_backups`` and
``delete`` under a root, and the commands over them."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.backup import (
    Backup,
    BackupInUse,
    BackupNotFound,
    DriverOptionError,
    PosixBackupDriver,
    SkippedPath,
    UnsafeFile,
)
from docket.cli import volume as commands
from docket.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from docket.cli.volume import volume
from tests._streams import Streams
from tests._trees import snapshot

CHUNK = 65536
FULL = "f011-1"
INCR = "f011-2"
OTHER = "0123-other"


def backup_dir(root: Path, backup_id: str) -> Path:
    return root / backup_id[0:2] / backup_id[2:4] / backup_id


def back_up(root: Path, vol: Path, backup_id: str, **kw: Any) -> None:
    s = Streams()
    code = commands.backup(vol, root=root, backup_id=backup_id, chunk_size=CHUNK, **kw, **s.kw)
    assert code == EXIT_OK, s.stderr.getvalue()


@pytest.fixture
def vol(tmp_path: Path) -> Path:
    path = tmp_path / "vol"
    path.write_bytes(random.Random(3).randbytes(150_000) + bytes(100_000))
    return path


@pytest.fixture
def root(tmp_path: Path, vol: Path) -> Path:
    """A full backup, an incremental of it, and a full backup of another volume."""
    root = tmp_path / "root"
    back_up(root, vol, FULL, volume_id="vol-a", name="nightly")
    vol.write_bytes(vol.read_bytes() + b"grown" * 1000)
    back_up(root, vol, INCR, volume_id="vol-a", parent=FULL)
    back_up(root, vol, OTHER, volume_id="vol-b")
    return root


def listed(root: Path, **kw: Any) -> list[dict[str, Any]]:
    s = Streams()
    assert commands.list_backups(root=root, output_format="json", **kw, **s.kw) == EXIT_OK
    assert s.stderr.getvalue() == ""
    out: list[dict[str, Any]] = json.loads(s.stdout.getvalue())
    return out


# --- list ----------------------------------------------------------------------------------


def test_list_names_every_backup_with_its_fields(root: Path, vol: Path) -> None:
    rows = {row["backup_id"]: row for row in listed(root)}
    assert sorted(rows) == sorted([FULL, INCR, OTHER])
    full, incr = rows[FULL], rows[INCR]
    assert (full["volume_id"], full["parent_id"], full["status"]) == ("vol-a", None, "available")
    assert (incr["parent_id"], incr["status"], incr["problem"]) == (FULL, "available", None)
    assert full["name"] == "nightly" and full["version"] == "1.0.0"
    assert full["container"] == f"f0/11/{FULL}"
    # The same size, object count and creation time as the backup's record.
    driver = PosixBackupDriver(root)
    for backup_id, row in rows.items():
        record = driver.get_backup(backup_id)
        assert (row["size"], row["object_count"], row["created_at"]) == (
            record.size,
            record.object_count,
            record.created_at,
        )
        files = list(backup_dir(root, backup_id).iterdir())
        assert row["stored_bytes"] == sum(p.stat().st_size for p in files)
    # The documented, stable field names.
    assert set(full) == {
        "backup_id",
        "volume_id",
        "parent_id",
        "status",
        "problem",
        "created_at",
        "name",
        "size",
        "stored_bytes",
        "object_count",
        "version",
        "container",
    }


def test_list_filters_by_volume_and_prints_text(root: Path) -> None:
    assert [row["backup_id"] for row in listed(root, volume_id="vol-b")] == [OTHER]
    assert listed(root, volume_id="vol-none") == []
    s = Streams()
    assert commands.list_backups(root=root, **s.kw) == EXIT_OK
    lines = s.stdout.getvalue().splitlines()
    assert lines[0].split()[:3] == ["BACKUP", "VOLUME", "PARENT"]
    assert any(line.startswith(INCR) and FULL in line for line in lines[1:])
    s = Streams()
    assert commands.list_backups(root=root, volume_id="vol-none", **s.kw) == EXIT_OK
    assert s.stdout.getvalue() == f"no backups under {root} of volume vol-none\n"


def test_list_reports_a_partial_and_an_unreadable_backup(root: Path) -> None:
    (meta,) = backup_dir(root, OTHER).glob("*_metadata")
    meta.unlink()
    (meta,) = backup_dir(root, INCR).glob("*_metadata")
    meta.write_text("{not json")
    rows = {row["backup_id"]: row for row in listed(root)}
    assert rows[OTHER]["status"] == "partial" and "did not finish" in rows[OTHER]["problem"]
    assert rows[OTHER]["volume_id"] == "vol-b"  # read from the objects' prefix
    assert rows[INCR]["status"] == "invalid" and rows[INCR]["problem"]
    assert rows[FULL]["status"] == "available"


def test_list_of_an_empty_root(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    assert listed(tmp_path / "root") == []


# --- delete --------------------------------------------------------------------------------


def test_delete_of_a_backup_with_an_incremental_is_refused_and_changes_nothing(
    root: Path,
) -> None:
    before = snapshot(root)
    s = Streams()
    assert commands.delete(FULL, root=root, **s.kw) == EXIT_FAILED
    err = s.stderr.getvalue()
    assert err.startswith("error: ") and err.count("\n") == 1
    assert INCR in err and "--force" in err
    assert snapshot(root) == before
    with pytest.raises(BackupInUse) as caught:
        PosixBackupDriver(root).delete(FULL)
    assert caught.value.children == (INCR,) and caught.value.backup_id == FULL
    assert snapshot(root) == before


def test_delete_with_force_leaves_the_incremental_without_its_parent(root: Path) -> None:
    s = Streams()
    assert commands.delete(FULL, root=root, force=True, output_format="json", **s.kw) == 0
    report = json.loads(s.stdout.getvalue())
    assert report["backup_id"] == FULL and report["orphaned"] == [INCR]
    assert not backup_dir(root, FULL).exists()
    rows = {row["backup_id"]: row for row in listed(root)}
    assert sorted(rows) == sorted([INCR, OTHER])
    assert rows[INCR]["status"] == "invalid" and FULL in rows[INCR]["problem"]


def test_delete_of_a_leaf_leaves_no_file_of_it(root: Path, tmp_path: Path) -> None:
    others = {
        k: v for k, v in snapshot(root).items() if INCR not in k and not k.endswith(("f0", "11"))
    }
    names = sorted(p.name for p in backup_dir(root, INCR).iterdir())
    s = Streams()
    assert commands.delete(INCR, root=root, **s.kw) == EXIT_OK, s.stderr.getvalue()
    assert f"deleted backup {INCR}" in s.stdout.getvalue()
    after = snapshot(root)
    assert not any(INCR in path for path in after)
    assert {k: v for k, v in after.items() if not k.endswith(("f0", "11"))} == others
    assert [row["backup_id"] for row in listed(root, volume_id="vol-a")] == [FULL]
    s = Streams()
    assert commands.delete(FULL, root=root, output_format="json", **s.kw) == EXIT_OK
    report = json.loads(s.stdout.getvalue())
    assert report["directories"] == [f"f0/11/{FULL}", "f0/11", "f0"]
    assert not (root / "f0").exists()  # its now-empty directories went too
    assert [row["backup_id"] for row in listed(root)] == [OTHER]
    assert PosixBackupDriver(root).verify(OTHER).ok
    assert len(names) == 3  # one data object, the sha256file and the metadata object
    s = Streams()
    out = tmp_path / "restored"
    assert commands.restore(OTHER, out, root=root, **s.kw) == EXIT_OK


def test_delete_of_a_partial_backup(root: Path) -> None:
    (meta,) = backup_dir(root, OTHER).glob("*_metadata")
    meta.unlink()
    assert commands.delete(OTHER, root=root, **Streams().kw) == EXIT_OK
    assert not (root / "01").exists()


@pytest.mark.parametrize("kind", ["symlink", "directory", "fifo", "stranger"])
def test_delete_refuses_a_backup_directory_holding_something_unexpected(
    root: Path, host_file: Path, kind: str
) -> None:
    secret = host_file.read_bytes()
    where = backup_dir(root, INCR)
    (data,) = (p for p in where.iterdir() if p.name.endswith("-00001"))
    if kind == "symlink":
        # Named as one of its objects, pointing out of the root.
        data.unlink()
        data.symlink_to(host_file)
    elif kind == "directory":
        (where / "nested").mkdir()
    elif kind == "fifo":
        os.mkfifo(where / "pipe")
    else:
        (where / "notes.txt").write_text("not an object")
    before = snapshot(root)
    s = Streams()
    assert commands.delete(INCR, root=root, **s.kw) == EXIT_FAILED
    err = s.stderr.getvalue()
    assert err.startswith("error: ") and err.count("\n") == 1 and "nothing was deleted" in err
    assert snapshot(root) == before
    assert host_file.read_bytes() == secret
    with pytest.raises(UnsafeFile):
        PosixBackupDriver(root).delete(INCR)
    assert snapshot(root) == before


def test_delete_does_not_follow_a_linked_backup_directory(root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    backup_dir(root, INCR).rename(elsewhere)
    backup_dir(root, INCR).symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(elsewhere)
    s = Streams()
    assert commands.delete(INCR, root=root, **s.kw) == EXIT_FAILED
    assert "symbolic link" in s.stderr.getvalue()
    assert snapshot(elsewhere) == before
    assert backup_dir(root, INCR).is_symlink()


def test_an_interrupted_delete_is_listed_and_finished_by_delete(root: Path) -> None:
    # What a delete killed after it renamed the backup's directory aside leaves.
    where = backup_dir(root, OTHER)
    leftover = where.with_name(f".deleting.{OTHER}.0a1b2c3d")
    where.rename(leftover)
    rows = {row["backup_id"]: row for row in listed(root)}
    assert rows[OTHER]["status"] == "deleting"
    assert f"docket volume delete {OTHER}" in rows[OTHER]["problem"]
    assert rows[OTHER]["container"] == f"01/23/{leftover.name}"
    assert [r["backup_id"] for r in listed(root, volume_id="vol-b")] == [OTHER]
    # A leftover is not a child: it does not keep its parent from being deleted.
    assert commands.delete(OTHER, root=root, **Streams().kw) == EXIT_OK
    assert not (root / "01").exists()
    assert OTHER not in [r["backup_id"] for r in listed(root)]


def test_a_crash_midway_leaves_the_backup_or_a_named_leftover(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_unlink = os.unlink
    calls = {"n": 0}

    def dying(path: Any, *args: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(5, "Input/output error")
        real_unlink(path, *args, **kw)

    monkeypatch.setattr(os, "unlink", dying)
    s = Streams()
    assert commands.delete(OTHER, root=root, **s.kw) == EXIT_FAILED
    assert "Input/output error" in s.stderr.getvalue()
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert not backup_dir(root, OTHER).exists()
    (leftover,) = backup_dir(root, OTHER).parent.iterdir()
    assert leftover.name.startswith(f".deleting.{OTHER}.")
    assert {r["backup_id"]: r["status"] for r in listed(root)}[OTHER] == "deleting"
    assert commands.delete(OTHER, root=root, **Streams().kw) == EXIT_OK
    assert not (root / "01").exists()


@pytest.mark.parametrize(
    ("call", "message", "code"),
    [
        (lambda r, s: commands.list_backups(root=r / "absent", **s.kw), "does not exist", 1),
        (lambda r, s: commands.list_backups(root=r / "file", **s.kw), "not a directory", 1),
        (lambda r, s: commands.delete(FULL, root=r / "absent", **s.kw), "does not exist", 1),
        (lambda r, s: commands.delete(FULL, root=r / "file", **s.kw), "not a directory", 1),
        (lambda r, s: commands.delete("abcd-9", root=r, **s.kw), "docket volume list", 1),
        (lambda r, s: commands.delete("ab", root=r, **s.kw), "docket volume list", 1),
        (lambda r, s: commands.delete("../x", root=r, **s.kw), "path-safe", 2),
    ],
)
def test_errors_are_one_typed_line(tmp_path: Path, call: Any, message: str, code: int) -> None:
    (tmp_path / "file").write_text("not a root")
    s = Streams()
    assert call(tmp_path, s) == code
    err = s.stderr.getvalue()
    assert err.startswith("error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert s.stdout.getvalue() == ""


@pytest.mark.parametrize("short", ["a", "b1"])
def test_a_backup_id_too_short_for_three_levels_is_refused(
    root: Path, vol: Path, short: str
) -> None:
    """``b1`` would go to ``b1/b1`` (Cinder's layout drops the empty ``id[2:4]``), where
    neither the listing nor delete's search for incrementals looks: an incremental ``b1``
    of FULL would be invisible, and deleting FULL would not be refused."""
    before = snapshot(root)
    s = Streams()
    code = commands.backup(
        vol, root=root, backup_id=short, parent=FULL, volume_id="vol-a", chunk_size=CHUNK, **s.kw
    )
    err = s.stderr.getvalue()
    assert code == EXIT_USAGE and err.startswith(f"error: backup {short}: "), err
    assert "shorter than 3 characters" in err and "hint: " in err and err.count("\n") == 1
    assert snapshot(root) == before
    with pytest.raises(DriverOptionError, match="docket volume list"):
        PosixBackupDriver(root).backup(Backup(id=short, volume_id="vol-a"), vol)
    assert snapshot(root) == before
    back_up(root, vol, "b1x", volume_id="vol-a", parent=INCR)  # three characters will do
    assert {"b1x": INCR}.items() <= {b["backup_id"]: b["parent_id"] for b in listed(root)}.items()
    with pytest.raises(BackupInUse):
        PosixBackupDriver(root).delete(INCR)


@pytest.mark.parametrize("backup_id", ["ab-cd", "ab.cd", "ab_c"])
def test_an_id_without_a_directory_in_cinders_layout_is_named_as_the_problem(
    tmp_path: Path, vol: Path, backup_id: str
) -> None:
    """``ab-cd`` would need the directory ``ab/-c``: the error says the id is the problem
    (not a "container" the user never gave); a backup of it is a usage error, and nothing is
    made; no backup of it can be found."""
    root = tmp_path / "root"
    for call, code in (
        (lambda s: commands.backup(vol, root=root, backup_id=backup_id, volume_id="v", **s.kw),
         EXIT_USAGE),
        (lambda s: commands.verify(backup_id, root=tmp_path, **s.kw), EXIT_FAILED),
        (lambda s: commands.delete(backup_id, root=tmp_path, **s.kw), EXIT_FAILED),
    ):  # fmt: skip
        s = Streams()
        assert call(s) == code
        err = s.stderr.getvalue()
        assert err.startswith(f"error: backup {backup_id}: backup id ") and "container" not in err
        assert "has no directory in Cinder's layout" in err and "hint: " in err, err
    assert not root.exists()


def test_unknown_backup_id_is_backup_not_found(tmp_path: Path) -> None:
    with pytest.raises(BackupNotFound, match="docket volume list"):
        PosixBackupDriver(tmp_path).delete("abcd-9")


def test_the_click_commands(root: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(volume, ["list", "--root", str(root), "--format", "json"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 3
    result = runner.invoke(volume, ["delete", FULL, "--root", str(root)])
    assert result.exit_code == 1 and INCR in result.output
    result = runner.invoke(volume, ["delete", FULL, "--root", str(root), "--force"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(volume, ["list", "--root", str(root / "f0" / "11" / "x" / "y")])
    assert result.exit_code == 1 and result.output.startswith("error: ")
    (root / "plain").write_text("")
    result = runner.invoke(volume, ["list", "--root", str(root / "plain")])
    assert result.exit_code == EXIT_USAGE and "Traceback" not in result.output


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parents=st.lists(st.integers(min_value=-1, max_value=5), min_size=1, max_size=5))
def test_deleting_leaves_exactly_the_other_backups(
    tmp_path_factory: Any, parents: list[int]
) -> None:
    """Backups form a forest (each names an earlier one as parent, or none); deleting any
    backup that no other builds on removes exactly its files, and list agrees."""
    tmp = tmp_path_factory.mktemp("forest")
    root, vol = tmp / "root", tmp / "vol"
    data = bytearray(random.Random(len(parents)).randbytes(3 * 32768))
    ids: list[str] = []
    for i, parent in enumerate(parents):
        data[i * 100] ^= 0xFF
        vol.write_bytes(bytes(data))
        backup_id = f"aa{i:02d}-{i}"
        parent_id = ids[parent] if 0 <= parent < i else None
        back_up(root, vol, backup_id, volume_id="v", parent=parent_id)
        ids.append(backup_id)
    parent_of = {row["backup_id"]: row["parent_id"] for row in listed(root)}
    leaves = [b for b in ids if b not in parent_of.values()]
    for victim in leaves:
        keep = {k: v for k, v in snapshot(root).items() if victim not in k}
        assert commands.delete(victim, root=root, **Streams().kw) == EXIT_OK
        after = snapshot(root)
        assert not any(victim in k for k in after)
        assert {k: v for k, v in keep.items() if k in after} == {k: v for k, v in after.items()}
        assert set(keep) - set(after) <= {f"aa/{victim[2:4]}", "aa"}
    assert sorted(r["backup_id"] for r in listed(root)) == sorted(set(ids) - set(leaves))


# --- links and the backups of one- and two-character ids ------------------------------------


def test_list_reports_links_in_the_layout_and_never_follows_them(
    root: Path, tmp_path: Path
) -> None:
    """A linked backup directory is an ``invalid`` row naming the link (as verify and delete
    refuse it); a link higher up (``01``) is a warning on stderr: what it holds is not listed
    and nothing is read through either."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    backup_dir(root, INCR).rename(elsewhere / INCR)
    backup_dir(root, INCR).symlink_to(elsewhere / INCR, target_is_directory=True)
    (root / "01").rename(elsewhere / "01")
    (root / "01").symlink_to(elsewhere / "01", target_is_directory=True)
    (root / "f0" / "11" / "not-a-backup").symlink_to(elsewhere)
    before = snapshot(elsewhere)
    for output_format in ("text", "json"):
        s = Streams()
        code = commands.list_backups(root=root, output_format=output_format, **s.kw)
        assert code == EXIT_OK
        assert s.stderr.getvalue().splitlines() == [
            "warning: skipped 01: a symbolic link (not followed)",
            "warning: skipped f0/11/not-a-backup: a symbolic link (not followed)",
        ]
    rows = {row["backup_id"]: row for row in json.loads(s.stdout.getvalue())}
    assert sorted(rows) == [FULL, INCR]
    assert rows[INCR]["status"] == "invalid"
    assert f"{backup_dir(root, INCR)} is a symbolic link" in rows[INCR]["problem"]
    assert rows[FULL]["status"] == "available"
    assert snapshot(elsewhere) == before
    skipped: list[SkippedPath] = []
    PosixBackupDriver(root).list_backups(on_skip=skipped.append)
    assert [p.path for p in skipped] == ["01", "f0/11/not-a-backup"]


def _legacy(root: Path, vol: Path, backup_id: str, parent: str | None = None) -> None:
    """A backup of a one- or two-character id where docket before MIN_ID put it (and Cinder
    does): ``<id>/<id>``, two levels down."""
    driver = PosixBackupDriver(root, chunk_size=CHUNK)
    made = Backup(id=backup_id, volume_id="vol-a", parent_id=parent, container=f"x/{backup_id}")
    driver.backup(made, vol)
    where = root / backup_id / backup_id
    where.mkdir(parents=True, exist_ok=True)
    for path in (root / "x" / backup_id).iterdir():
        path.rename(where / path.name)
    (root / "x" / backup_id).rmdir()
    (root / "x").rmdir()


def test_backups_of_one_or_two_character_ids_are_listed_restored_and_guarded(
    root: Path, vol: Path, tmp_path: Path
) -> None:
    """``b1/b1`` and ``c/c`` were made before short ids were refused: they are listed,
    verified and restored, an incremental in one keeps its parent from being deleted, and
    deleting one leaves the backups whose directories are below ``b1/b1`` alone."""
    back_up(root, vol, "b1b1-full", volume_id="vol-a")
    _legacy(root, vol, "b1", parent="b1b1-full")
    _legacy(root, vol, "c")
    rows = {row["backup_id"]: row for row in listed(root)}
    assert (rows["b1"]["container"], rows["b1"]["status"]) == ("b1/b1", "available")
    assert (rows["c"]["container"], rows["c"]["status"]) == ("c/c", "available")
    assert rows["b1"]["parent_id"] == "b1b1-full"
    driver = PosixBackupDriver(root)
    assert driver.verify("b1").ok
    driver.restore("b1", None, tmp_path / "restored")
    assert (tmp_path / "restored").read_bytes() == vol.read_bytes()
    with pytest.raises(BackupInUse, match="b1"):
        driver.delete("b1b1-full")
    done = driver.delete("b1")
    assert done.directories == () and len(done.objects) == 2
    assert (root / "b1" / "b1" / "b1b1-full").is_dir()
    assert "b1" not in [r["backup_id"] for r in listed(root)]
    assert driver.verify("b1b1-full").ok
    with pytest.raises(BackupNotFound):
        driver.delete("b1")  # b1/b1 holds nothing of it any more
    assert driver.delete("c").directories == ("c/c", "c")
    assert driver.delete("b1b1-full").directories == ("b1/b1/b1b1-full", "b1/b1", "b1")


def test_an_interrupted_delete_of_a_two_character_id_is_listed(root: Path, vol: Path) -> None:
    _legacy(root, vol, "c")
    (root / "c" / "c").rename(root / "c" / ".deleting.c.0a1b2c3d")
    rows = {row["backup_id"]: row for row in listed(root)}
    assert rows["c"]["status"] == "deleting"
    assert commands.delete("c", root=root, **Streams().kw) == EXIT_OK
    assert not (root / "c").exists()


def test_a_recorded_container_does_not_get_round_the_minimum_id(root: Path, vol: Path) -> None:
    """Cinder's record of ``b1`` names ``b1/b1`` (``os.path.join`` drops the empty part)."""
    with pytest.raises(DriverOptionError, match="shorter than 3"):
        PosixBackupDriver(root).backup(Backup(id="b1", volume_id="v", container="b1/b1"), vol)
    assert not (root / "b1").exists()
