"""``docket volume``: the command functions (in-process, injected streams) and the click group."""

from __future__ import annotations

import base64
import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from docket.cli import volume as commands
from docket.cli.common import EXIT_FAILED, EXIT_USAGE
from docket.cli.volume import volume
from tests._streams import Streams

CHUNK = 65536


@pytest.fixture
def vol(tmp_path: Path) -> Path:
    path = tmp_path / "vol"
    rng = random.Random(1)
    path.write_bytes(rng.randbytes(100_000) + bytes(200_000) + b"text " * 30_000)
    return path


@pytest.fixture
def cinder_db(tmp_path: Path) -> tuple[Any, str]:
    """docket.store (skipped without it) and the URL of a Cinder database it made."""
    store = pytest.importorskip("docket.store")
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    store.init_db(url)
    return store, url


def test_backup_restore_verify_in_process(tmp_path: Path, vol: Path) -> None:
    root = tmp_path / "root"
    s = Streams()
    code = commands.backup(
        vol, root=root, backup_id="c0de-1", compression="zstd", chunk_size=CHUNK, **s.kw
    )
    assert (code, s.stderr.getvalue()) == (0, "")
    assert "backed up" in s.stdout.getvalue() and "c0de-1 (full)" in s.stdout.getvalue()
    assert f"volume     {commands.default_volume_id(vol)}" in s.stdout.getvalue()

    s = Streams()
    assert commands.restore("c0de-1", tmp_path / "out", root=root, **s.kw) == 0
    assert (tmp_path / "out").read_bytes() == vol.read_bytes()
    assert "chain      c0de-1" in s.stdout.getvalue()

    s = Streams()
    assert commands.verify("c0de-1", root=root, **s.kw) == 0
    assert s.stdout.getvalue().startswith("backup c0de-1: ok (")


def test_an_incremental_takes_its_parents_volume_id(tmp_path: Path, vol: Path) -> None:
    root = tmp_path / "root"
    s = Streams()
    assert commands.backup(vol, root=root, backup_id="c0de-2", volume_id="v-9", **s.kw) == 0
    vol.write_bytes(vol.read_bytes() + b"more")
    s = Streams()
    code = commands.backup(
        vol, root=root, backup_id="c0de-3", parent="c0de-2", output_format="json", **s.kw
    )
    assert code == 0, s.stderr.getvalue()
    out = json.loads(s.stdout.getvalue())
    assert out["volume_id"] == "v-9" and out["parent_id"] == "c0de-2"
    s = Streams()
    assert (
        commands.restore("c0de-3", tmp_path / "out", root=root, output_format="json", **s.kw) == 0
    )
    assert json.loads(s.stdout.getvalue())["chain"] == ["c0de-2", "c0de-3"]
    assert (tmp_path / "out").read_bytes() == vol.read_bytes()


def test_default_volume_ids_are_stable_per_path(tmp_path: Path) -> None:
    a = commands.default_volume_id(tmp_path / "x")
    assert a == commands.default_volume_id(tmp_path / "." / "x")
    assert a != commands.default_volume_id(tmp_path / "y")
    assert uuid.UUID(a).version == 5


def test_verify_lists_each_problem_and_exits_1(tmp_path: Path, vol: Path) -> None:
    root = tmp_path / "root"
    commands.backup(vol, root=root, backup_id="c0de-4", chunk_size=CHUNK, **Streams().kw)
    where = root / "c0" / "de" / "c0de-4"
    chunks = sorted(p for p in where.iterdir() if p.name[-6] == "-")
    chunks[1].unlink()
    chunks[2].write_bytes(b"")
    s = Streams()
    assert commands.verify("c0de-4", root=root, **s.kw) == EXIT_FAILED
    text = s.stdout.getvalue()
    assert f"{chunks[1].name}: missing" in text
    assert f"{chunks[2].name}: truncated" in text
    assert "FAILED: 2 problem(s)" in text
    s = Streams()
    commands.verify("c0de-4", root=root, output_format="json", **s.kw)
    report = json.loads(s.stdout.getvalue())
    assert report["ok"] is False
    assert {(p["kind"], p["object"]) for p in report["problems"]} == {
        ("missing", chunks[1].name),
        ("truncated", chunks[2].name),
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda root, tmp, s: commands.verify("nope-1", root=root, **s.kw), "no backup under"),
        (
            lambda root, tmp, s: commands.restore("nope-1", tmp / "o", root=root, **s.kw),
            "no backup under",
        ),
        (
            lambda root, tmp, s: commands.backup(tmp / "absent", root=root, **s.kw),
            "No such file or directory",
        ),
        (
            lambda root, tmp, s: commands.backup(tmp / "vol", root=root, db="sqlite://", **s.kw),
            "--db needs --volume-id",
        ),
        (
            lambda root, tmp, s: commands.backup(tmp / "vol", root=root, chunk_size=1000, **s.kw),
            "multiple of the SHA block size",
        ),
        (
            lambda root, tmp, s: commands.import_record("!!", root=root, **s.kw),
            "Can't decode backup record.",
        ),
    ],
)
def test_errors_are_one_line_and_exit_1_or_2_for_usage(
    tmp_path: Path, vol: Path, call: Any, message: str
) -> None:
    s = Streams()
    usage = message.startswith(("--db", "multiple"))
    expected = EXIT_USAGE if usage else EXIT_FAILED
    assert call(tmp_path / "root", tmp_path, s) == expected
    err = s.stderr.getvalue()
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert s.stdout.getvalue() == ""


def test_an_unknown_metadata_version_is_refused_without_writing(tmp_path: Path, vol: Path) -> None:
    root = tmp_path / "root"
    commands.backup(vol, root=root, backup_id="c0de-5", **Streams().kw)
    (meta,) = (root / "c0" / "de" / "c0de-5").glob("*_metadata")
    meta.write_text(meta.read_text().replace('"version": "1.0.0"', '"version": "3.1.0"'))
    s = Streams()
    assert commands.restore("c0de-5", tmp_path / "out", root=root, **s.kw) == 1
    assert 'chunked-backup: version "3.1.0" is newer' in s.stderr.getvalue()
    assert not (tmp_path / "out").exists()


def test_records_export_and_import(tmp_path: Path, vol: Path) -> None:
    root = tmp_path / "root"
    commands.backup(vol, root=root, backup_id="c0de-6", name="nightly", **Streams().kw)
    s = Streams()
    assert commands.export_record("c0de-6", root=root, **s.kw) == 0
    record = s.stdout.getvalue().strip()
    fields = json.loads(base64.b64decode(record))
    assert fields["display_name"] == "nightly" and fields["object_count"] == 1
    s = Streams()
    assert commands.import_record(record, root=root, output_format="json", **s.kw) == 0
    out = json.loads(s.stdout.getvalue())
    assert out["verified"] is True and out["ignored"] == ["status"]
    assert out["backup"]["container"] == "c0/de/c0de-6"

    s = Streams()
    assert commands.export_record("c0de-6", root=root, version=1, **s.kw) == 0
    assert "version" not in json.loads(base64.b64decode(s.stdout.getvalue()))

    tampered = dict(fields, object_count=99)
    s = Streams()
    text = base64.b64encode(json.dumps(tampered).encode()).decode()
    assert commands.import_record(text, root=root, **s.kw) == 1
    assert "digest" in s.stderr.getvalue()


def test_progress_bar_draws_when_asked(tmp_path: Path, vol: Path) -> None:
    s = Streams()
    assert commands.backup(vol, root=tmp_path / "r", backup_id="c0de-7", progress=True, **s.kw) == 0
    assert s.stdout.getvalue().startswith("backed up")
    s = Streams()
    assert commands.verify("c0de-7", root=tmp_path / "r", progress=False, **s.kw) == 0
    assert s.stderr.getvalue() == ""


def test_the_click_group(tmp_path: Path, vol: Path) -> None:
    runner = CliRunner()
    root = str(tmp_path / "root")
    result = runner.invoke(
        volume,
        [
            "backup",
            str(vol),
            "--root",
            root,
            "--backup-id",
            "c11-1",
            "--compression",
            "bz2",
            "--chunk-size",
            str(CHUNK),
            "--name",
            "n",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["object_count"] == 7
    result = runner.invoke(volume, ["restore", "c11-1", "--root", root, str(tmp_path / "o")])
    assert result.exit_code == 0 and (tmp_path / "o").read_bytes() == vol.read_bytes()
    result = runner.invoke(volume, ["verify", "c11-1", "--root", root])
    assert result.exit_code == 0 and "ok" in result.stdout
    result = runner.invoke(volume, ["export-record", "c11-1", "--root", root])
    assert result.exit_code == 0
    result = runner.invoke(volume, ["import-record", "-", "--root", root], input=result.stdout)
    assert result.exit_code == 0, result.output
    result = runner.invoke(volume, ["backup", str(vol), "--root", root, "--compression", "lz4"])
    assert result.exit_code == 2 and "lz4" in result.output
    result = runner.invoke(volume, ["verify", "missing-1", "--root", root])
    assert result.exit_code == 1 and "error: backup missing-1: no backup" in result.output


def test_db_options_back_up_and_restore_volume_metadata(
    tmp_path: Path, vol: Path, cinder_db: tuple[Any, str]
) -> None:
    store, url = cinder_db
    engine = store.make_engine(url)
    source = store.create_volume(engine, display_name="vol-1", metadata={"k": "v"})
    target = store.create_volume(engine, display_name="restore_backup_c0de-8")
    root = tmp_path / "root"
    s = Streams()
    code = commands.backup(vol, root=root, backup_id="c0de-8", db=url, volume_id=source, **s.kw)
    assert code == 0, s.stderr.getvalue()
    s = Streams()
    code = commands.restore("c0de-8", tmp_path / "out", root=root, db=url, volume_id=target, **s.kw)
    assert code == 0, s.stderr.getvalue()
    assert "metadata   restored from c0de-8" in s.stdout.getvalue()
    restored = json.loads(store.BackupMetadataAPI(engine).get(target))
    assert restored["volume-base-metadata"]["display_name"] == "vol-1"
    assert restored["volume-metadata"] == {"k": "v"}
    s = Streams()
    assert commands.restore("c0de-8", tmp_path / "out2", root=root, **s.kw) == 0
    assert "not restored (give --db and --volume-id) from c0de-8" in s.stdout.getvalue()
    engine.dispose()


def test_restore_with_db_of_a_backup_without_metadata_says_none_was_restored(
    tmp_path: Path, vol: Path, cinder_db: tuple[Any, str]
) -> None:
    store, url = cinder_db
    engine = store.make_engine(url)
    target = store.create_volume(engine, display_name="restore_backup_c0de-9")
    engine.dispose()
    root = tmp_path / "root"
    assert commands.backup(vol, root=root, backup_id="c0de-9", **Streams().kw) == 0
    s = Streams()
    code = commands.restore("c0de-9", tmp_path / "out", root=root, db=url, volume_id=target, **s.kw)
    assert code == 0, s.stderr.getvalue()
    text = s.stdout.getvalue()
    assert "no volume metadata restored" in text
    assert "c0de-9 was backed up without volume metadata (no --db)" in text
    s = Streams()
    code = commands.restore(
        "c0de-9",
        tmp_path / "out",
        root=root,
        db=url,
        volume_id=target,
        output_format="json",
        **s.kw,
    )
    assert code == 0, s.stderr.getvalue()
    out = json.loads(s.stdout.getvalue())
    assert out["metadata_restored"] == [] and out["metadata_absent"] == ["c0de-9"]


def test_restore_into_a_volume_that_does_not_exist_is_refused_before_writing(
    tmp_path: Path, vol: Path, cinder_db: tuple[Any, str]
) -> None:
    _, url = cinder_db
    root = tmp_path / "root"
    assert commands.backup(vol, root=root, backup_id="c0de-a", **Streams().kw) == 0
    s = Streams()
    code = commands.restore("c0de-a", tmp_path / "out", root=root, db=url, volume_id="nope", **s.kw)
    assert code == EXIT_FAILED
    err = s.stderr.getvalue()
    assert err.startswith("error: ") and "volume nope not found" in err
    assert err.count("\n") == 1 and s.stdout.getvalue() == ""
    assert not (tmp_path / "out").exists()


def test_export_record_keeps_the_fields_backup_printed(tmp_path: Path, vol: Path) -> None:
    root = tmp_path / "root"
    s = Streams()
    code = commands.backup(
        vol, root=root, backup_id="c0de-b", name="n", output_format="json", **s.kw
    )
    assert code == 0, s.stderr.getvalue()
    printed = json.loads(s.stdout.getvalue())
    s = Streams()
    assert commands.export_record("c0de-b", root=root, **s.kw) == 0
    record = json.loads(base64.b64decode(s.stdout.getvalue()))
    assert printed["data_timestamp"] is not None
    for name, value in printed.items():
        assert record[name] == value, name


def test_verify_counts_in_the_singular_and_delete_names_the_option(tmp_path: Path) -> None:
    """verify printed "(1 objects, 1 SHA-256 blocks checked" for a one-object backup, and
    delete's hint on a backup with an incremental named the library's "force=True"."""
    root, small = tmp_path / "root", tmp_path / "small.img"
    small.write_bytes(b"x" * 1000)
    assert commands.backup(small, root=root, backup_id="c0de-7", **Streams().kw) == 0
    s = Streams()
    assert commands.verify("c0de-7", root=root, **s.kw) == 0
    assert "(1 object, 1 SHA-256 block checked;" in s.stdout.getvalue(), s.stdout.getvalue()
    small.write_bytes(b"y" * 1000)
    code = commands.backup(small, root=root, backup_id="c0de-8", parent="c0de-7", **Streams().kw)
    assert code == 0
    s = Streams()
    assert commands.delete("c0de-7", root=root, **s.kw) == EXIT_FAILED
    err = s.stderr.getvalue()
    assert "--force" in err and "force=True" not in err, err
