"""``docket volume`` against a real Swift (and its S3 face): the root is ``swift://CONTAINER``
or ``s3://BUCKET``, credentials come from the environment or a cinder.conf."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from docket.cli import app
from tests._swift import Saio, ensure_saio, fresh_container


@pytest.fixture(scope="module")
def saio() -> Saio:
    return ensure_saio()


def _docket(*argv: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app.cli, list(argv), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_back_up_to_swift_restore_through_s3_and_delete(saio: Saio, tmp_path: Path) -> None:
    image = tmp_path / "vol.img"
    image.write_bytes(bytes(range(256)) * 8192)
    root = f"swift://{fresh_container()}"
    env: dict[str, str | None] = {**saio.env()}
    code, out, err = _docket(
        "volume", "backup", str(image), "--root", root, "--backup-id", "b-1",
        "--volume-id", "vol-1", "--compression", "bz2", env=env,
    )  # fmt: skip
    assert code == 0, err
    assert "volume_vol-1/" in out
    code, out, err = _docket("volume", "list", "--root", root, env=env)
    assert code == 0 and "b-1" in out and "available" in out, err
    code, out, err = _docket("volume", "verify", "b-1", "--root", root, env=env)
    assert code == 0, err
    same_bucket = root.replace("swift://", "s3://")
    target = tmp_path / "out.img"
    code, out, err = _docket(
        "volume", "restore", "b-1", "--root", same_bucket, str(target), env=env
    )
    assert code == 0, err
    assert target.read_bytes() == image.read_bytes()
    code, out, err = _docket("volume", "delete", "b-1", "--root", root, env=env)
    assert code == 0, err
    code, out, err = _docket("volume", "list", "--root", root, env=env)
    assert code == 0 and "no backups" in out


def test_a_cinder_config_configures_the_store(saio: Saio, tmp_path: Path) -> None:
    conf = tmp_path / "cinder.conf"
    conf.write_text(
        "[DEFAULT]\n"
        "backup_swift_auth = single_user\n"
        f"backup_swift_auth_url = {saio.auth_url}\n"
        f"backup_swift_user = {saio.user}\n"
        f"backup_swift_key = {saio.key}\n"
        "backup_swift_object_size = 65536\n"
        "backup_compression_algorithm = none\n"
        "storage_availability_zone = zone-b\n"
    )
    image = tmp_path / "vol.img"
    image.write_bytes(b"\x01" * 200_000)
    root = f"swift://{fresh_container()}"
    argv = ("--root", root, "--cinder-config", str(conf))
    code, out, err = _docket(
        "volume",
        "backup",
        str(image),
        *argv,
        "--backup-id",
        "b-2",
        "--volume-id",
        "v",
        env=dict.fromkeys(saio.env()),
    )
    assert code == 0, err
    assert "az_zone-b_backup_b-2" in out
    assert "objects    4" in out  # 200000 bytes in objects of 65536
    code, out, err = _docket("volume", "export-record", "b-2", *argv)
    assert code == 0, err
    code, out, err = _docket("volume", "import-record", out.strip(), *argv)
    assert code == 0, err
    code, out, err = _docket("volume", "delete", "b-2", *argv)
    assert code == 0, err
