"""``docket audit``: verdicts on roots with every finding, readers, shards, merge and the CLI.

Backups are made by docket's POSIX driver and then damaged by hand, one damage per backup,
so each verdict can be asserted on its own.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup, PosixBackupDriver
from docket.core.documents import read_family
from docket.core.registry import load_registry
from docket.errors import SchemaDocumentError
from docket.fleet.audit import (
    Summary,
    Verdict,
    audit,
    backup_rows,
    database_identity,
    shard_of,
)
from tests._databases import backups_table

CHUNK = 65536
SIZE = 150_000  # three objects


class Meta:
    """A metadata API handing out containers of a chosen backup-metadata version."""

    def __init__(self, version: int = 2) -> None:
        self.version = version

    def get(self, volume_id: str) -> str:
        base = {"id": volume_id, "display_name": "vol", "display_description": None}
        family = load_registry().family("backup-metadata")
        container = family.new({"volume-base-metadata": base}, version=self.version)
        return json.dumps(container.data)

    def put(self, volume_id: str, json_metadata: str | bytes) -> Any:
        raise AssertionError("audit never restores")


def _volume(tmp: Path, seed: int) -> Path:
    path = tmp / f"vol-{seed}.img"
    rng = random.Random(seed)
    path.write_bytes(rng.randbytes(SIZE // 2) + bytes(SIZE - SIZE // 2))
    return path


def _backup(
    root: Path,
    tmp: Path,
    backup_id: str,
    volume_id: str = "vol-a",
    parent: str | None = None,
    version: int | None = 2,
    compression: str = "none",
    seed: int = 1,
) -> Path:
    """A backup made by the driver; returns its directory."""
    api = Meta(version) if version is not None else None
    driver = PosixBackupDriver(root, api, chunk_size=CHUNK, compression=compression)
    driver.backup(Backup(id=backup_id, volume_id=volume_id, parent_id=parent), _volume(tmp, seed))
    return root / PosixBackupDriver.backup_dir_for(backup_id)


def _obj(directory: Path, suffix: str) -> Path:
    (found,) = [p for p in directory.iterdir() if p.name.endswith(suffix)]
    return found


def _edit(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, sort_keys=True, indent=2))


def _ids(n: int, tag: str) -> str:
    return f"{tag}{n:04d}-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A root holding one backup per finding; returns the root and name -> backup id."""
    tmp = tmp_path_factory.mktemp("audit")
    root = tmp / "root"
    root.mkdir()
    ids: dict[str, str] = {}
    made = iter(range(1, 1000))

    def make(name: str, **kw: Any) -> Path:
        ids[name] = _ids(next(made), "ab")
        return _backup(root, tmp, ids[name], **kw)

    make("full")
    make("incremental", parent=ids["full"], seed=1)
    make("v3", version=3, volume_id="vol-v3")
    make("no-meta", version=None, volume_id="vol-nm")
    d = make("partial", volume_id="vol-p")
    make("child-of-partial", volume_id="vol-p", parent=ids["partial"], version=None)
    _obj(d, "_metadata").unlink()  # the child was made while its parent was whole
    d = make("garbage-metadata", volume_id="vol-g")
    _obj(d, "_metadata").write_bytes(b'{"version": "1.0.0", "backup_id": ')
    d = make("future-metadata", volume_id="vol-f")
    _edit(_obj(d, "_metadata"), version="2.0.0")
    d = make("bad-container", volume_id="vol-c")
    _edit(_obj(d, "_metadata"), volume_meta='{"version": 2, "volume-base-metadata": 7}')
    d = make("future-container", volume_id="vol-fc")
    _edit(_obj(d, "_metadata"), volume_meta='{"version": 9, "volume-base-metadata": {}}')
    d = make("sha-disagrees", volume_id="vol-s")
    _edit(_obj(d, "_sha256file"), volume_id="another-volume")
    d = make("sha-missing", volume_id="vol-sm")
    _obj(d, "_sha256file").unlink()
    d = make("missing-object", volume_id="vol-mo")
    _obj(d, "-00002").unlink()
    d = make("unexpected-object", volume_id="vol-uo")
    shutil.copyfile(_obj(d, "-00001"), d / (_obj(d, "-00001").name[:-6] + "-00009"))
    d = make("altered", volume_id="vol-al")
    obj = _obj(d, "-00001")
    data = bytearray(obj.read_bytes())
    data[10] ^= 0xFF
    obj.write_bytes(bytes(data))
    d = make("truncated", volume_id="vol-tr")
    obj = _obj(d, "-00002")
    obj.write_bytes(obj.read_bytes()[:1000])
    make("orphan-parent-base", volume_id="vol-mp")
    make("missing-parent", volume_id="vol-mp", parent=ids["orphan-parent-base"])
    shutil.rmtree(root / PosixBackupDriver.backup_dir_for(ids["orphan-parent-base"]))
    del ids["orphan-parent-base"]
    make("loop-a", volume_id="vol-l")
    make("loop-b", volume_id="vol-l", parent=ids["loop-a"])
    _edit(
        _obj(root / PosixBackupDriver.backup_dir_for(ids["loop-a"]), "_metadata"),
        parent_id=ids["loop-b"],
    )
    make("other-volume", volume_id="vol-x")
    d = make("foreign-parent", volume_id="vol-y")
    _edit(_obj(d, "_metadata"), parent_id=ids["other-volume"])
    d = make("fifo-metadata", volume_id="vol-ff")
    meta = _obj(d, "_metadata")
    meta.unlink()
    os.mkfifo(meta)
    d = make("link-metadata", volume_id="vol-lk")
    meta = _obj(d, "_metadata")
    target = tmp / "elsewhere.json"
    shutil.move(meta, target)
    meta.symlink_to(target)
    # Files of no backup: a stray file, a link, a directory out of the layout, and a backup
    # directory holding another backup's objects.
    (root / "README").write_text("not a backup")
    (root / "zz").mkdir()
    (root / "zz" / "link").symlink_to("/etc")
    (root / "misc" / "deeper").mkdir(parents=True)
    (root / "misc" / "deeper" / "volume_x_backup_y-00001").write_bytes(b"x")
    wrong = root / "cd" / "ef" / "cdef-not-these"
    wrong.mkdir(parents=True)
    (wrong / "volume_q_20260101000000_backup_someone-else-00001").write_bytes(b"x")
    (root / "ee" / "ff" / "eeff-empty").mkdir(parents=True)  # Cinder leaves these: not reported
    return root, ids


@pytest.fixture(scope="module")
def verdicts(damaged: tuple[Path, dict[str, str]]) -> dict[str, Verdict]:
    root, _ = damaged
    out = {}
    for v in audit(root, deep=True):
        out[v.backup_id or v.path or "?"] = v
    return out


def _kinds(verdict: Verdict) -> list[str]:
    return [f.kind for f in verdict.findings]


def test_a_sound_chain_is_restorable_by_both_readers(
    damaged: tuple[Path, dict[str, str]], verdicts: dict[str, Verdict]
) -> None:
    _, ids = damaged
    full, inc = verdicts[ids["full"]], verdicts[ids["incremental"]]
    assert full.ok and inc.ok, (full.findings, inc.findings)
    assert full.formats == {
        "chunked-backup": "1.0.0",
        "chunked-sha256": "1.0.0",
        "backup-metadata": 2,
    }
    assert full.readers == ("cinder", "docket") == inc.readers
    assert inc.parent_id == ids["full"] and inc.volume_id == "vol-a"
    assert full.integrity == "ok" and full.deep
    assert full.created_at is not None and full.created_at.endswith("Z")
    assert verdicts[ids["no-meta"]].ok
    assert "backup-metadata" not in verdicts[ids["no-meta"]].formats


def test_a_version_3_container_is_restorable_by_docket_only(
    damaged: tuple[Path, dict[str, str]], verdicts: dict[str, Verdict]
) -> None:
    _, ids = damaged
    v3 = verdicts[ids["v3"]]
    assert v3.ok and v3.readers == ("docket",) and v3.formats["backup-metadata"] == 3


@pytest.mark.parametrize(
    ("name", "kinds", "readers"),
    [
        ("partial", ["partial"], ()),
        ("child-of-partial", ["broken-parent"], ()),
        ("garbage-metadata", ["metadata"], ()),
        ("future-metadata", ["metadata"], ()),
        ("bad-container", ["container"], ()),
        ("future-container", ["container"], ()),
        ("sha-disagrees", ["sha256"], ("cinder", "docket")),
        ("sha-missing", ["sha256"], ("cinder", "docket")),
        ("missing-object", ["missing"], ()),
        ("unexpected-object", ["unexpected"], ()),
        ("altered", ["altered"], ()),
        ("truncated", ["truncated"], ()),
        ("missing-parent", ["missing-parent"], ()),
        ("loop-a", ["parent-loop"], ()),
        ("loop-b", ["parent-loop"], ()),
        ("foreign-parent", ["foreign-parent"], ()),
        ("fifo-metadata", ["unreadable"], ()),
        ("link-metadata", ["unreadable"], ()),
    ],
)
def test_each_damage_is_its_finding(
    damaged: tuple[Path, dict[str, str]],
    verdicts: dict[str, Verdict],
    name: str,
    kinds: list[str],
    readers: tuple[str, ...],
) -> None:
    _, ids = damaged
    verdict = verdicts[ids[name]]
    assert _kinds(verdict) == kinds, verdict.findings
    assert verdict.readers == readers
    integrity_kinds = {
        "partial",
        "metadata",
        "container",
        "sha256",
        "missing",
        "unexpected",
        "altered",
        "truncated",
        "unreadable",
    }
    assert verdict.integrity == ("damaged" if set(kinds) & integrity_kinds else "ok")


def test_what_the_findings_say(
    damaged: tuple[Path, dict[str, str]], verdicts: dict[str, Verdict]
) -> None:
    _, ids = damaged
    assert verdicts[ids["future-metadata"]].formats["chunked-backup"] == "2.0.0"
    assert verdicts[ids["future-container"]].formats["backup-metadata"] == 9
    assert "volume_id" in verdicts[ids["sha-disagrees"]].findings[0].message
    assert "FIFO" in verdicts[ids["fifo-metadata"]].findings[0].message
    assert "symbolic link" in verdicts[ids["link-metadata"]].findings[0].message
    assert verdicts[ids["missing-object"]].findings[0].object.endswith("-00002")  # type: ignore[union-attr]
    assert ids["partial"] in verdicts[ids["child-of-partial"]].findings[0].message
    assert "vol-x" in verdicts[ids["foreign-parent"]].findings[0].message


def test_without_deep_the_data_is_not_read(damaged: tuple[Path, dict[str, str]]) -> None:
    root, ids = damaged
    shallow = {v.backup_id: v for v in audit(root) if v.backup_id}
    assert shallow[ids["altered"]].ok and shallow[ids["truncated"]].ok
    assert not shallow[ids["altered"]].deep


def test_files_of_no_backup_are_orphans(verdicts: dict[str, Verdict]) -> None:
    orphans = {k: v for k, v in verdicts.items() if v.backup_id is None}
    assert set(orphans) == {"README", "zz/link", "misc", "cd/ef/cdef-not-these"}
    for v in orphans.values():
        assert _kinds(v) == ["orphan"] and v.integrity is None
    assert "symbolic link" in orphans["zz/link"].findings[0].message


def test_require_a_reader(damaged: tuple[Path, dict[str, str]]) -> None:
    root, ids = damaged
    found = {v.backup_id: v for v in audit(root, require=["cinder"]) if v.backup_id}
    v3 = found[ids["v3"]]
    assert _kinds(v3) == ["unrestorable"]
    assert "backup-metadata 3" in v3.findings[0].message
    assert found[ids["full"]].ok
    assert "unrestorable" in _kinds(found[ids["partial"]])
    with pytest.raises(ValueError, match='unknown reader "ceph"'):
        audit(root, require=["ceph"])


def test_hostile_sizes_are_findings(tmp_path: Path) -> None:
    root = tmp_path / "root"
    d = _backup(root, tmp_path, _ids(1, "ab"))
    meta = _obj(d, "_metadata")
    meta.write_bytes(meta.read_bytes() + b" " * 5000)
    (v,) = audit(root, max_object_bytes=4096)
    assert _kinds(v) == ["unreadable", "sha256"] or _kinds(v)[0] == "unreadable"
    assert "too large" in v.findings[0].message
    # A symbolic link in place of a whole backup directory is not followed.
    link = root / "cd" / "ef" / "cdef-link"
    link.parent.mkdir(parents=True)
    link.symlink_to(d)
    found = {v.path: v for v in audit(root)}
    assert _kinds(found["cd/ef/cdef-link"]) == ["orphan"]


def test_database_rows_and_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    a, b, c, gone, deleted, swift = (_ids(i, "ab") for i in range(1, 7))
    _backup(root, tmp_path, a)
    _backup(root, tmp_path, b, parent=a)
    _backup(root, tmp_path, c, volume_id="vol-c")
    posix = "cinder.backup.drivers.posix.PosixBackupDriver"

    def row(bid: str, **kw: Any) -> dict[str, Any]:
        base = {
            "id": bid,
            "volume_id": "vol-a",
            "parent_id": None,
            "status": "available",
            "container": PosixBackupDriver.backup_dir_for(bid),
            "service_metadata": None,
            "service": posix,
            "deleted": False,
            "availability_zone": "nova",
            "num_dependent_backups": 0,
        }
        return {**base, **kw}

    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    backups_table(
        url,
        [
            row(a),
            row(b, parent_id=None),  # the files say its parent is a
            row(gone, status="error"),
            row(deleted, deleted=True),
            row(swift, service="cinder.backup.drivers.swift.SwiftBackupDriver"),
        ],
    )
    assert {r.id for r in backup_rows(url)} == {a, b, gone, swift}
    found = {v.backup_id: v for v in audit(root, rows=backup_rows(url))}
    assert found[a].ok and found[a].row == "available"
    assert _kinds(found[b]) == ["row-mismatch"]
    assert _kinds(found[c]) == ["no-row"] and found[c].readers == ("cinder", "docket")
    assert _kinds(found[gone]) == ["no-files"] and found[gone].row == "error"
    assert deleted not in found and swift not in found


def test_a_row_naming_another_directory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    bid = _ids(1, "ab")
    d = _backup(root, tmp_path, bid)
    (root / "custom").mkdir()
    moved = root / "custom" / "place"
    shutil.move(d, moved)
    rows = [backup_rows_row(bid, "custom/place")]
    (v,) = audit(root, rows=rows)
    assert v.ok and v.path == "custom/place", v.findings


def _legacy(root: Path, tmp: Path, backup_id: str, parent: str | None = None) -> None:
    """A backup of a one- or two-character id where Cinder (and docket before it refused
    such ids) puts it: ``<id>/<id>``, two levels down."""
    driver = PosixBackupDriver(root, Meta(), chunk_size=CHUNK)
    driver.backup(
        Backup(id=backup_id, volume_id="vol-a", parent_id=parent, container=f"x/{backup_id}"),
        _volume(tmp, 1),
    )
    where = root / backup_id / backup_id
    where.mkdir(parents=True, exist_ok=True)
    for path in (root / "x" / backup_id).iterdir():
        path.rename(where / path.name)
    shutil.rmtree(root / "x")


def test_backups_of_one_or_two_character_ids_are_audited_not_orphans(tmp_path: Path) -> None:
    """``b1/b1`` holds backup ``b1``'s files and the directories of the backups whose ids
    start ``b1b1``: the audit named b1's objects files outside any backup directory."""
    root = tmp_path / "root"
    _backup(root, tmp_path, "b1b1-full")
    _legacy(root, tmp_path, "b1", parent="b1b1-full")
    _legacy(root, tmp_path, "c")
    (root / "c" / "c" / "notes.txt").write_text("stray")
    found = {v.backup_id or v.path: v for v in audit(root, deep=True)}
    assert set(found) == {"b1b1-full", "b1", "c", "c/c/notes.txt"}, found
    assert found["b1"].ok and found["b1"].path == "b1/b1" and found["b1"].parent_id == "b1b1-full"
    assert found["c"].ok and found["b1b1-full"].ok
    assert _kinds(found["c/c/notes.txt"]) == ["orphan"]
    rows = [backup_rows_row(b, c) for b, c in (("b1", "b1/b1"), ("b1b1-full", "b1/b1/b1b1-full"))]
    rows[0] = replace(rows[0], parent_id="b1b1-full")
    with_rows = {v.backup_id: v for v in audit(root, rows=rows) if v.backup_id}
    assert with_rows["b1"].row == "available" and with_rows["b1b1-full"].row == "available"
    assert _kinds(with_rows["c"]) == ["no-row"] and not _kinds(with_rows["b1"])


def backup_rows_row(bid: str, container: str) -> Any:
    from docket.fleet.audit import BackupRow

    return BackupRow(id=bid, volume_id="vol-a", status="available", container=container)


def test_summary_counts(damaged: tuple[Path, dict[str, str]], verdicts: dict[str, Verdict]) -> None:
    _, ids = damaged
    summary = Summary()
    for v in verdicts.values():
        summary.add(v)
    data = summary.to_json()
    assert data["records"] == len(verdicts)
    assert data["backups"] == len(verdicts) - 4
    assert data["findings"]["orphan"] == 4
    assert data["findings"]["parent-loop"] == 2
    assert data["readers"]["docket"] == data["restorable"]
    assert data["readers"]["docket"] - data["readers"]["cinder"] == 1  # the v3 backup
    assert data["formats"]["backup-metadata"]["3"]["count"] == 1
    assert data["formats"]["backup-metadata"]["3"]["oldest"]["backup_id"] == ids["v3"]
    assert data["formats"]["chunked-backup"]["2.0.0"]["count"] == 1
    assert (
        sum(data["ages"][m].get("chunked-backup 1.0.0", 0) for m in data["ages"])
        == (data["formats"]["chunked-backup"]["1.0.0"]["count"])
    )
    assert summary.failed


def test_jobs_give_the_same_verdicts(damaged: tuple[Path, dict[str, str]]) -> None:
    root, _ = damaged
    one = [v.to_json() for v in audit(root, deep=True)]
    two = [v.to_json() for v in audit(root, deep=True, jobs=2)]
    assert one == two


def test_shards_are_a_partition_by_id_hash(damaged: tuple[Path, dict[str, str]]) -> None:
    root, _ = damaged
    everything = sorted(json.dumps(v.to_json()) for v in audit(root))
    parts = [[json.dumps(v.to_json()) for v in audit(root, shard=(i, 3))] for i in (1, 2, 3)]
    assert sorted(x for p in parts for x in p) == everything
    for i, part in enumerate(parts, 1):
        for line in part:
            v = json.loads(line)
            assert shard_of(v["backup_id"] or v["path"], 3) == i
    assert shard_of("x", 7) == shard_of("x", 7)


# --- the command line ---------------------------------------------------------------------------


def _docket(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docket", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_cli_exit_codes_and_text(damaged: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    from docket.cli.audit import run_audit

    root, ids = damaged
    out, err = io.StringIO(), io.StringIO()
    assert run_audit(root, stdout=out, stderr=err) == 1
    text = out.getvalue()
    assert f"{ids['partial']}: partial: " in text
    assert "formats" in text and "readers" in text and "backup-metadata" in text
    assert "with findings" in err.getvalue()
    clean = tmp_path / "clean"
    _backup(clean, tmp_path, _ids(1, "ab"))
    out = io.StringIO()
    assert run_audit(clean, stdout=out, stderr=io.StringIO(), output_format="json") == 0
    assert json.loads(out.getvalue())["readers"] == {"cinder": 1, "docket": 1}
    out = io.StringIO()
    assert run_audit(clean, stdout=out, stderr=io.StringIO(), require=["nobody"]) == 2
    assert run_audit(clean, stdout=out, stderr=io.StringIO(), shard="4/3") == 2
    assert run_audit(tmp_path / "nothing", stdout=out, stderr=io.StringIO()) == 2
    report = tmp_path / "report.html"
    code = run_audit(clean, stdout=out, stderr=io.StringIO(), output_format="html", output=report)
    assert code == 0 and report.read_text().startswith("<!DOCTYPE html>")


def test_the_report_refuses_an_output_that_is_not_a_regular_file(tmp_path: Path) -> None:
    from docket.cli.audit import run_audit

    clean = tmp_path / "clean"
    _backup(clean, tmp_path, _ids(1, "ac"))
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    err = io.StringIO()
    code = run_audit(
        clean, stdout=io.StringIO(), stderr=err, output_format="html", output=str(fifo)
    )
    assert code != 0 and str(fifo) in err.getvalue() and "FIFO" in err.getvalue()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_merge_rejects_what_is_not_a_shard(tmp_path: Path) -> None:
    from docket.cli.audit import merge

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"not": "a verdict"}\n')
    err = io.StringIO()
    assert merge([str(bad)], stdout=io.StringIO(), stderr=err) == 3  # could not audit
    assert "bad.jsonl" in err.getvalue() and "no shard header" in err.getvalue()


def test_merging_shards_is_a_library_call_giving_one_runs_verdicts(
    damaged: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    from docket.fleet import merge_shards

    root, _ = damaged
    whole = Summary()
    for verdict in audit(root):
        whole.add(verdict)
    files = []
    for i in (1, 2, 3):
        path = tmp_path / f"shard-{i}.jsonl"
        path.write_bytes(b"".join(audit(root, shard=(i, 3)).jsonl()))
        files.append(str(path))
    stdin = io.BytesIO(Path(files.pop()).read_bytes())  # one shard from standard input
    merged = Summary()
    for verdict in merge_shards([*files, "-"], stdin=stdin):
        merged.add(verdict)
    assert merged.records == whole.records > 0
    assert merged.to_json() == whole.to_json()


@pytest.mark.slow
def test_shards_as_processes_merge_to_a_single_run(
    damaged: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, _ = damaged
    n = 3
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "docket",
                "audit",
                str(root),
                "--deep",
                "--shard",
                f"{i}/{n}",
                "--format",
                "jsonl",
                "-o",
                str(tmp_path / f"shard-{i}.jsonl"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(1, n + 1)
    ]
    codes = [p.wait(timeout=300) for p in procs]
    assert codes == [1, 1, 1] or set(codes) <= {0, 1}
    shards = [str(tmp_path / f"shard-{i}.jsonl") for i in range(1, n + 1)]
    single = _docket("audit", str(root), "--deep", "--format", "json")
    merged = _docket("audit", "merge", *shards, "--format", "json")
    assert single.returncode == merged.returncode == 1
    assert json.loads(single.stdout) == json.loads(merged.stdout)
    single_html = _docket("audit", str(root), "--deep", "--format", "html")
    merged_html = _docket("audit", "merge", *shards, "--format", "html")
    assert single_html.stdout == merged_html.stdout


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def test_the_html_report_renders_in_chromium(
    damaged: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    from docket.cli.audit_report import render

    browser = _chromium()
    root, ids = damaged
    summary = Summary()
    for v in audit(root, require=["cinder"]):
        summary.add(v)
    page = tmp_path / "audit.html"
    page.write_text(render(summary.to_json()), encoding="utf-8")
    assert "http://" not in page.read_text() and "https://" not in page.read_text()
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    # The script ran to its end (it marks the page ready) and wrote no console error.
    assert f'data-records="{summary.records}"' in dom and 'data-ready="yes"' in dom
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "rror" in line or "Uncaught" in line], console
    assert dom.count("<svg") >= 4 and ids["partial"] in dom


# --- readers in manifests -----------------------------------------------------------------------


def test_bundled_readers() -> None:
    registry = load_registry()
    assert dict(registry.family("backup-metadata").readers) == {
        "cinder": (1, 2),
        "docket": (1, 2, 3),
    }
    assert dict(registry.family("chunked-backup").readers) == {
        "cinder": ("1.0.0",),
        "docket": ("1.0.0",),
    }
    assert dict(registry.family("backup-record").readers) == {}


def _family_dir(tmp_path: Path, readers: Any) -> Path:
    src = Path(__file__).resolve().parents[2] / "schemas" / "backup-metadata"
    d = tmp_path / "backup-metadata"
    shutil.copytree(src, d)
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["readers"] = readers
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def test_a_reader_of_a_version_the_family_lacks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SchemaDocumentError, match='reader "old" accepts version 4'):
        read_family(_family_dir(tmp_path, {"old": [1, 4]}))
    with pytest.raises(SchemaDocumentError):
        read_family(_family_dir(tmp_path / "b", {"old": ["1"]}))
    with pytest.raises(SchemaDocumentError):
        read_family(_family_dir(tmp_path / "c", {"Bad Name": [1]}))
    source = read_family(_family_dir(tmp_path / "d", {"x": [3, 1]}))
    assert source.readers == {"x": (1, 3)}


@pytest.mark.slow
def test_the_benchmark_runs_on_a_small_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import audit_bench

    assert (
        audit_bench.main(
            ["--count", "60", "--jobs", "2", "--deep-shards", "2", "--dir", str(tmp_path / "bench")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "metadata, 1 job" in out and "60" in out


# --- empty shards and empty age buckets ---------------------------------------------------------


def test_ages_hold_no_empty_bucket(tmp_path: Path) -> None:
    # A backup with no object of a known family and no date (its metadata object is gone)
    # adds nothing to any month: the ages have no bucket for it.
    root = tmp_path / "root"
    bid = _ids(1, "ad")
    d = _backup(root, tmp_path, bid)
    for name in os.listdir(d):
        (d / name).unlink()
    (d / "stray").write_bytes(b"x")  # not empty: a backup directory with nothing known
    summary = Summary()
    summary.add(Verdict(bid, "x", integrity="damaged"))
    for verdict in audit(root):
        summary.add(verdict)
    ages = summary.to_json()["ages"]
    assert all(ages.values()), ages


def _shard_without(root: Path, n: int) -> int:
    """A shard of ``n`` that holds none of the backups under ``root``."""
    taken = {shard_of(p.name, n) for p in root.glob("*/*/*")}
    return min(set(range(1, n + 1)) - taken)


def test_an_empty_shard_says_so_and_succeeds(tmp_path: Path) -> None:
    from docket.cli.audit import run_audit

    root = tmp_path / "root"
    for i in (1, 2):
        _backup(root, tmp_path, _ids(i, "ae"), volume_id=f"vol-{i}", seed=i)
    empty = _shard_without(root, 5)
    out, err = io.StringIO(), io.StringIO()
    report = tmp_path / "shard.jsonl"
    code = run_audit(
        root, stdout=out, stderr=err, shard=f"{empty}/5", output_format="jsonl", output=report
    )
    assert code == 0
    assert err.getvalue() == (
        f"docket audit: shard {empty}/5 is empty: it holds none of the backups under {root} "
        "(2 backups in all)\n"
    )
    # written, so `merge shard-*.jsonl` finds every shard: its header and end, no verdict
    head, end = [json.loads(line) for line in report.read_text().splitlines()]
    assert head["shard"] == {
        "index": empty,
        "count": 5,
        "root": str(root.resolve()),
        "database": None,
    }
    assert end == {"end": {"records": 0}}
    err = io.StringIO()
    assert run_audit(tmp_path / "root", stdout=io.StringIO(), stderr=err) == 0
    assert "empty" not in err.getvalue()
    bare = tmp_path / "bare"
    bare.mkdir()
    err = io.StringIO()
    assert run_audit(bare, stdout=io.StringIO(), stderr=err, shard="1/3") == 0
    expected = f"docket audit: shard 1/3 is empty: there are no backups under {bare}\n"
    assert err.getvalue() == expected


def test_a_shard_header_records_the_database_without_any_password() -> None:
    # With SQLAlchemy 2.1, URL.set(password=None) kept the password: shard files recorded it.
    assert database_identity("postgresql://cinder:s3cret@db:5433/cinder") == (
        "postgresql://cinder@db:5433/cinder"
    )
    shown = database_identity("mysql+pymysql://cinder@db/cinder?password=s3cret&charset=utf8")
    assert "s3cret" not in shown and "charset=utf8" in shown
    assert database_identity("sqlite:////var/lib/cinder.db") == "sqlite:////var/lib/cinder.db"
