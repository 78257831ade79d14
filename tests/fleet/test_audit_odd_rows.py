"""One odd row does not decide for the database (issue 24, class 7): a ``backups`` row whose
id is no path-safe name (quotes, emoji, a newline, ``..``) is reported, and every other row
and backup is audited, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from docket.fleet.audit import audit, backup_rows
from tests._databases import backend_params, backups_table, scratch_database

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.audit_bench import _uuid, build  # noqa: E402

POSIX = "cinder.backup.drivers.posix.PosixBackupDriver"
ODD_IDS = ["ab'cd\"ef", "ok-\U0001f600", "../../etc", "ab\ncd", "ab cd", "-leading-dash"]


@pytest.mark.parametrize("backend", backend_params(["sqlite", "postgresql", "mariadb"]))
def test_rows_with_odd_ids_are_reported_and_the_rest_audited(backend: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    build(root, 3)  # a full backup and two incrementals of one volume
    good = [_uuid(i) for i in range(3)]

    def row(
        backup_id: str, parent: str | None = None, container: str | None = None
    ) -> dict[str, object]:
        return {
            "id": backup_id,
            "volume_id": _uuid(-1),
            "parent_id": parent,
            "status": "available",
            "container": container,
            "service": POSIX,
            "deleted": False,
        }

    rows = [row(good[0]), row(good[1], good[0]), row(good[2], good[1])]
    # Half of them name a container too (a row's own directory is looked at first).
    rows += [row(odd, container=f"ab/cd/{i}" if i % 2 else None) for i, odd in enumerate(ODD_IDS)]
    (tmp_path / "db").mkdir()
    with scratch_database(backend, tmp_path / "db") as url:
        backups_table(url, rows)
        found = {v.backup_id: v for v in audit(root, rows=backup_rows(url))}
        assert set(found) == {*good, *ODD_IDS}
        assert all(found[g].ok for g in good)
        for odd in ODD_IDS:
            (finding,) = found[odd].findings
            assert finding.kind == "no-files" and "not one path-safe name" in finding.message
        command = ["audit", str(root), "--db", url, "--format", "jsonl", "--require", "docket"]
        done = subprocess.run(
            [sys.executable, "-m", "docket", *command],
            capture_output=True,
            text=True,
            timeout=120,
        )
        engine = sa.create_engine(url)
        try:  # the audit only reads
            with engine.connect() as conn:
                ids = set(conn.execute(sa.text("SELECT id FROM backups")).scalars())
        finally:
            engine.dispose()
        assert ids == {*good, *ODD_IDS}
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "--require" not in done.stderr, done.stderr
    lines = map(json.loads, done.stdout.splitlines())
    verdicts = {v["backup_id"]: v for v in lines if "backup_id" in v}  # not the shard's header
    assert set(verdicts) == {*good, *ODD_IDS}
    assert all(verdicts[g]["findings"] == [] for g in good)
