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


@pytest.mark.parametrize("scheme", ["swift", "s3"])
def test_a_root_without_a_container_takes_the_one_cinder_conf_names(
    saio: Saio, tmp_path: Path, scheme: str
) -> None:
    container = fresh_container()
    option = "backup_swift_container" if scheme == "swift" else "backup_s3_store_bucket"
    conf = tmp_path / "cinder.conf"
    conf.write_text(f"[DEFAULT]\n{option} = {container}\nbackup_compression_algorithm = none\n")
    image = tmp_path / "vol.img"
    image.write_bytes(b"\x07" * 70_000)
    argv = ("--root", f"{scheme}://", "--cinder-config", str(conf))
    code, out, err = _docket(
        "volume", "backup", str(image), *argv, "--backup-id", "b-3", "--volume-id", "v",
        env=saio.env(),
    )  # fmt: skip
    assert code == 0, err
    assert f"container  {container}" in out
    # The backup is in that container, seen through a root that names it.
    code, out, err = _docket("volume", "list", "--root", f"{scheme}://{container}", env=saio.env())
    assert code == 0 and "b-3" in out, err
    code, out, err = _docket("volume", "delete", "b-3", *argv, env=saio.env())
    assert code == 0, err


@pytest.mark.parametrize(
    ("drop", "scheme", "said"),
    [
        ("ST_KEY", "swift", "ST_AUTH is set but ST_KEY is not"),
        ("ST_USER", "swift", "ST_AUTH is set but ST_USER is not"),
        ("AWS_SECRET_ACCESS_KEY", "s3", "S3 credentials are incomplete"),
    ],
)
def test_credentials_given_in_part_are_refused_before_any_request(
    saio: Saio, drop: str, scheme: str, said: str
) -> None:
    env: dict[str, str | None] = {**saio.env(), drop: None}
    code, out, err = _docket("volume", "list", "--root", f"{scheme}://{fresh_container()}", env=env)
    assert code != 0 and out == ""
    assert said in err and "Traceback" not in err
    assert saio.key not in err


def test_an_s3_endpoint_that_is_no_url_is_an_option_error(saio: Saio) -> None:
    env: dict[str, str | None] = {**saio.env(), "AWS_ENDPOINT_URL": "not-a-url"}
    code, _, err = _docket("volume", "list", "--root", "s3://bucket", env=env)
    assert code != 0
    assert "cannot set up the S3 client" in err and "not-a-url" in err
    assert "Traceback" not in err


def test_a_swift_failure_without_a_status_says_what_failed(saio: Saio) -> None:
    env: dict[str, str | None] = {**saio.env(), "ST_AUTH": "no-scheme/auth"}
    code, _, err = _docket("volume", "list", "--root", "swift://c", env=env)
    assert code != 0
    assert "no-scheme/auth" in err and saio.key not in err
