"""``docket audit`` over backups the real Cinder made: its files and its own ``backups`` table.

Cinder 29.0.0 (in its own virtualenv, driven by ``tests/interop/cinder_posix.py``) builds its
database with its migrations, makes volume rows and takes a full and an incremental backup with
its ``PosixBackupDriver``. The audit must find both sound, restorable by Cinder and docket,
with the rows Cinder wrote; then a row is deleted by hand and a backup's files removed.
"""

from __future__ import annotations

import random
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from docket.fleet.audit import audit, backup_rows
from tests.interop._cinder import cinder_python, run_posix_steps

pytestmark = [pytest.mark.interop, pytest.mark.slow]

GOLD = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"docket-audit/{name}"))


@pytest.fixture(scope="module")
def cinder_made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    python = cinder_python()
    tmp = tmp_path_factory.mktemp("audit-cinder")
    root, db = tmp / "backups", tmp / "cinder.db"
    root.mkdir()
    image = tmp / "volume.img"
    rng = random.Random(5)
    image.write_bytes(rng.randbytes(1 << 20) + bytes(1 << 20))
    ids = {"volume": _id("volume"), "full": _id("full"), "incr": _id("incr")}
    steps: list[dict[str, Any]] = [
        {"op": "migrate", "types": [{"id": GOLD, "name": "gold"}]},
        {
            "op": "volume",
            "columns": {
                "id": ids["volume"],
                "size": 1,
                "volume_type_id": GOLD,
                "status": "available",
                "display_name": "audited",
            },
            "metadata": {"team": "storage"},
        },
        {
            "op": "backup",
            "id": ids["full"],
            "volume_id": ids["volume"],
            "path": str(image),
            "compression": "zlib",
            "name": "full",
        },
        {
            "op": "backup",
            "id": ids["incr"],
            "volume_id": ids["volume"],
            "path": str(image),
            "compression": "zlib",
            "name": "incr",
            "parent_id": ids["full"],
        },
    ]
    results = run_posix_steps(python, tmp / "cinder", db, root, steps)
    for step, result in zip(steps, results, strict=True):
        assert "error" not in result, (step, result)
    return root, f"sqlite:///{db}", ids


def test_cinder_backups_are_sound_and_restorable_by_both(
    cinder_made: tuple[Path, str, dict[str, str]],
) -> None:
    root, url, ids = cinder_made
    found = {
        v.backup_id: v
        for v in audit(root, rows=backup_rows(url), deep=True, require=["cinder", "docket"])
    }
    assert set(found) == {ids["full"], ids["incr"]}
    for v in found.values():
        assert v.ok, v.findings
        assert v.readers == ("cinder", "docket") and v.row == "available"
        assert v.formats == {
            "chunked-backup": "1.0.0",
            "chunked-sha256": "1.0.0",
            "backup-metadata": 2,
        }
        assert v.volume_id == ids["volume"] and v.created_at is not None
    assert found[ids["incr"]].parent_id == ids["full"]


def test_cinder_rows_and_files_out_of_step(
    cinder_made: tuple[Path, str, dict[str, str]], tmp_path: Path
) -> None:
    root, url, ids = cinder_made
    copy = tmp_path / "backups"
    shutil.copytree(root, copy, symlinks=True)
    db = tmp_path / "cinder.db"
    shutil.copyfile(url.removeprefix("sqlite:///"), db)
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # Cinder's own table, every column it has
        conn.execute(sa.text("DELETE FROM backups WHERE id = :id"), {"id": ids["incr"]})
    engine.dispose()
    full_dir = copy / ids["full"][0:2] / ids["full"][2:4] / ids["full"]
    shutil.rmtree(full_dir)
    found = {v.backup_id: v for v in audit(copy, rows=backup_rows(f"sqlite:///{db}"))}
    assert [f.kind for f in found[ids["full"]].findings] == ["no-files"]
    assert [f.kind for f in found[ids["incr"]].findings] == ["missing-parent", "no-row"]
