"""``docket cinder relabel``: moving backups between Cinder's POSIX driver and docket's.

On a SQLite ``backups`` table in Cinder's layout (``docket db init``) and a backup root of
docket's POSIX driver (Cinder's layout): what verifies moves, in one transaction; what does
not, what is not available, what builds on a refused backup and what names another volume stay
as they were; a dry run writes nothing. (The same through Cinder's REST API, with the real
services: ``tests/interop/test_cinder_switch.py``.)
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from docket import store
from docket.cli import commands
from docket.fleet.relabel import SERVICES, relabel
from tests._posix import back_up, backup_dir, driver, meta_path, volume_bytes

CINDER, DOCKET = SERVICES["cinder"], SERVICES["docket"]
IDS = [f"{n:02x}{n:02x}0000-0000-4000-8000-00000000000{n}" for n in range(1, 7)]


def _rows(url: str, rows: list[dict[str, Any]]) -> None:
    engine = store.make_engine(url)
    store.init_db(engine)
    table = sa.Table("backups", sa.MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()


def _services(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = dict(conn.execute(sa.text("SELECT id, service FROM backups")).all())
    engine.dispose()
    return found


def _row(backup_id: str, **changes: Any) -> dict[str, Any]:
    from tests._posix import VOLUME_ID

    row = {
        "id": backup_id,
        "volume_id": VOLUME_ID,
        "status": "available",
        "container": f"{backup_id[0:2]}/{backup_id[2:4]}/{backup_id}",
        "service": CINDER,
        "deleted": False,
        "parent_id": None,
        "user_id": "user",
        "project_id": "project",
    }
    return {**row, **changes}


@pytest.fixture
def world(tmp_path: Path) -> tuple[str, Path]:
    """A chain of three (full, incremental, incremental), a lone full whose data object is
    damaged with an incremental on it, and a backup still being made."""
    root = tmp_path / "root"
    d = driver(root)
    volume = tmp_path / "volume"
    full, incr, incr2, broken, on_broken, creating = IDS
    back_up(d, volume, volume_bytes(1, 300_000), full)
    back_up(d, volume, volume_bytes(2, 300_000), incr, parent=full)
    back_up(d, volume, volume_bytes(3, 300_000), incr2, parent=incr)
    back_up(d, volume, volume_bytes(4, 300_000), broken)
    back_up(d, volume, volume_bytes(5, 300_000), on_broken, parent=broken)
    data = next(p for p in backup_dir(root, broken).iterdir() if p.name.endswith("-00001"))
    data.write_bytes(data.read_bytes()[:-1] + b"?")
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    _rows(
        url,
        [
            _row(full),
            _row(incr, parent_id=full),
            _row(incr2, parent_id=incr),
            _row(broken),
            _row(on_broken, parent_id=broken),
            _row(creating, status="creating"),
        ],
    )
    return url, root


def test_what_verifies_moves_and_nothing_else(world: tuple[str, Path]) -> None:
    url, root = world
    full, incr, incr2, broken, on_broken, creating = IDS
    before = _services(url)
    dry = relabel(url, root, to="docket", dry_run=True)
    assert _services(url) == before
    assert dry.changed == 0
    report = relabel(url, root, to="docket")
    verdicts = {m.backup_id: m.verdict for m in report.moves}
    assert verdicts == {
        full: "move",
        incr: "move",
        incr2: "move",
        broken: "refuse",
        on_broken: "refuse",
        creating: "skip",
    }
    assert {m.backup_id: m.verdict for m in dry.moves} == verdicts
    assert report.changed == 3
    assert not report.ok
    reasons = {m.backup_id: m.reason for m in report.moves}
    assert "does not verify" in reasons[broken]
    assert broken in reasons[on_broken]
    assert _services(url) == {**before, full: DOCKET, incr: DOCKET, incr2: DOCKET}
    # And back: the moved ones only (the others are still Cinder's).
    back = relabel(url, root, to="cinder")
    assert {m.backup_id for m in back.moves if m.verdict == "move"} == {full, incr, incr2}
    assert _services(url) == before


def test_a_backup_of_another_volume_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    back_up(driver(root), tmp_path / "v", volume_bytes(7, 100_000), IDS[0])
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    _rows(url, [_row(IDS[0], volume_id="11111111-2222-4333-8444-555555555555")])
    (move,) = relabel(url, root, to="docket").moves
    assert move.verdict == "refuse"
    assert "names volume" in move.reason
    assert _services(url) == {IDS[0]: CINDER}


def test_a_missing_metadata_object_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    back_up(driver(root), tmp_path / "v", volume_bytes(8, 100_000), IDS[0])
    meta_path(backup_dir(root, IDS[0])).unlink()
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    _rows(url, [_row(IDS[0])])
    (move,) = relabel(url, root, to="docket").moves
    assert move.verdict == "refuse"
    assert _services(url) == {IDS[0]: CINDER}


def test_the_command(world: tuple[str, Path]) -> None:
    url, root = world
    out, err = io.StringIO(), io.StringIO()
    code = commands.relabel(
        url, root, "docket", dry_run=True, output_format="json", stdout=out, stderr=err
    )
    assert code == 1  # two are refused
    data = json.loads(out.getvalue())
    assert data["counts"] == {"move": 3, "keep": 0, "refuse": 2, "skip": 1}
    assert data["dry_run"] is True
    out = io.StringIO()
    code = commands.relabel(url, root, "docket", stdout=out, stderr=err)
    assert code == 1
    assert out.getvalue().splitlines()[-1] == (
        f"re-labelled 3 backup(s) as {DOCKET}; 2 refused, 1 skipped, 0 already its own"
    )
    assert err.getvalue() == ""


OTHER_STORES = (
    "cinder.backup.drivers.swift.SwiftBackupDriver",
    "cinder.backup.drivers.s3.S3BackupDriver",
    "cinder.backup.drivers.nfs.NFSBackupDriver",
    "cinder.backup.drivers.swift",  # an old record's module path
    "docket.cinder.SwiftBackupDriver",
    "docket.cinder.S3BackupDriver",
)


@pytest.mark.parametrize("to", ["docket", "cinder"])
def test_backups_of_other_stores_are_left_alone(tmp_path: Path, to: str) -> None:
    """relabel moves between the two POSIX drivers only: a Swift, S3 or NFS backup (Cinder's
    or docket's) is neither checked, reported nor re-labelled, in either direction."""
    root = tmp_path / "root"
    root.mkdir()
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    ids = [f"{n:02x}{n:02x}0000-0000-4000-8000-0000000000{n:02x}" for n in range(1, 7)]
    _rows(url, [_row(i, service=s) for i, s in zip(ids, OTHER_STORES, strict=True)])
    before = _services(url)
    report = relabel(url, root, to=to)
    assert report.moves == ()
    assert report.changed == 0 and report.ok
    assert _services(url) == before
