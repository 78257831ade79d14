"""``docket volume`` given what operators get wrong: a volume file that is not there, a
restore target in a directory that is not there, a record's file name where its text goes.
Each is one line naming what the operator gave, with a hint."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from docket.cli import app


def _docket(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app.cli, list(argv))
    return result.exit_code, result.stdout, result.stderr


def _backed_up(tmp_path: Path) -> tuple[str, str]:
    image = tmp_path / "vol.img"
    image.write_bytes(b"\x05" * 100_000)
    root = str(tmp_path / "root")
    code, _, err = _docket("volume", "backup", str(image), "--root", root, "--backup-id", "b-m")
    assert code == 0, err
    return root, "b-m"


def test_a_volume_file_that_is_not_there_is_named_with_a_hint(tmp_path: Path) -> None:
    """Was "error: No such file or directory: PATH", no hint."""
    missing = tmp_path / "nothere.img"
    code, out, err = _docket("volume", "backup", str(missing), "--root", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == (
        f"error: {missing}: cannot read: No such file or directory "
        "(hint: check the path of the file or block device to back up)\n"
    )


def test_a_target_in_a_directory_that_is_not_there_is_named_not_its_temporary_file(
    tmp_path: Path,
) -> None:
    """Was "error: No such file or directory: DIR/.x.img.NNNN.part": a name the operator
    never gave."""
    root, backup_id = _backed_up(tmp_path)
    target = tmp_path / "nodir" / "x.img"
    code, out, err = _docket("volume", "restore", backup_id, "--root", root, str(target))
    assert (code, out) == (1, "")
    assert ".part" not in err
    assert err == (
        f"error: {target}: cannot write: No such file or directory "
        "(hint: check that the target's directory exists)\n"
    )


def test_a_records_file_given_for_its_text_gets_a_hint_to_pass_the_file(tmp_path: Path) -> None:
    root, backup_id = _backed_up(tmp_path)
    code, record, err = _docket("volume", "export-record", backup_id, "--root", root)
    assert code == 0, err
    saved = tmp_path / "rec.txt"
    saved.write_text(record)
    code, _, err = _docket("volume", "import-record", str(saved), "--root", root)
    assert code == 1
    assert "Can't decode backup record." in err
    assert f"is a file: pass `- < {saved}`" in err
    # As the hint says, it imports.
    result = CliRunner().invoke(
        app.cli, ["volume", "import-record", "-", "--root", root], input=saved.read_bytes()
    )
    assert result.exit_code == 0, result.stderr


def test_a_long_chain_is_shown_by_its_ends_in_text_and_whole_in_json(tmp_path: Path) -> None:
    """verify and restore printed a chain on one line whole: 110 KB for 10,000 backups (and
    restore's arrows pointed from an incremental to its parent, verify's the other way)."""
    image = tmp_path / "vol.img"
    image.write_bytes(b"\x05" * 70_000)
    root = str(tmp_path / "root")
    ids = [f"b-{i:02d}" for i in range(9)]
    for i, backup_id in enumerate(ids):
        parent = ["--parent", ids[i - 1]] if i else []
        code, _, err = _docket(
            "volume", "backup", str(image), "--root", root, "--backup-id", backup_id, *parent
        )
        assert code == 0, err
    code, out, err = _docket("volume", "verify", ids[-1], "--root", root)
    assert code == 0, err
    assert "chain b-08 <- b-07 <- b-06 <- ... 3 more ... <- b-02 <- b-01 <- b-00)" in out
    code, out, err = _docket("volume", "verify", ids[-1], "--root", root, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["chain"] == ids[::-1]
    target = tmp_path / "restored.img"
    code, out, err = _docket("volume", "restore", ids[-1], "--root", root, str(target))
    assert code == 0, err
    # The full first: the arrows point from a backup to the one built on it, as verify's.
    assert "  chain      b-00 -> b-01 -> b-02 -> ... 3 more ... -> b-06 -> b-07 -> b-08\n" in out
    assert target.read_bytes() == image.read_bytes()
