"""What an operator's cinder.conf mistakes give (``--cinder-config``): each said before any
request, naming the option or the section, never a request that fails and is retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from docket.backup.roots import open_driver, read_cinder_config
from docket.cli import app
from docket.core.errors import DriverOptionError, UsageError

GOOD = (
    "[DEFAULT]\n"
    "backup_swift_auth = single_user\n"
    "backup_swift_auth_url = http://127.0.0.1:9/auth/v1.0\n"
    "backup_swift_user = test:tester\n"
    "backup_swift_key = s3cr3t-key\n"
)


def _conf(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cinder.conf"
    path.write_text(text)
    return path


def _docket(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app.cli, list(argv), env={"ST_AUTH": None, "OS_AUTH_URL": None})
    return result.exit_code, result.stdout, result.stderr


def test_a_mistyped_option_is_a_warning_naming_the_option_it_is_closest_to(
    tmp_path: Path,
) -> None:
    """`backup_swfit_key` left only "backup_swift_key is not set"; `backup_s3_bucket` was
    ignored without a word (the default bucket was listed)."""
    conf = _conf(
        tmp_path,
        GOOD.replace("backup_swift_key", "backup_swfit_key")
        + "backup_s3_bucket = op-b\nbackup_posix_path = /srv\nstorage_availablity_zone = z\n",
    )
    doubts = read_cinder_config(conf).doubts()
    assert [d.split("] ", 1)[1].split(" is ")[0] for d in doubts] == [
        "backup_s3_bucket", "backup_swfit_key", "storage_availablity_zone"
    ]  # fmt: skip
    assert "(did you mean backup_s3_store_bucket?)" in doubts[0]
    assert "(did you mean backup_swift_key?)" in doubts[1]
    code, out, err = _docket("volume", "list", "--root", "swift://c", "--cinder-config", str(conf))
    assert code == 2 and out == ""
    assert "warning: " in err and "backup_swfit_key is not an option" in err
    assert "(did you mean backup_swift_key?)" in err
    assert "backup_swift_key is not set" in err
    assert not read_cinder_config(_conf(tmp_path, GOOD)).doubts()


def test_a_config_without_a_default_section_is_refused_naming_its_sections(
    tmp_path: Path,
) -> None:
    """`[DEFUALT]` read as no options at all: "no Swift credentials", the file not named."""
    conf = _conf(tmp_path, GOOD.replace("[DEFAULT]", "[DEFUALT]"))
    with pytest.raises(UsageError, match=r"has no \[DEFAULT\] section .*\[DEFUALT\]"):
        read_cinder_config(conf)
    code, _, err = _docket("volume", "list", "--root", "swift://c", "--cinder-config", str(conf))
    assert code == 2 and "no [DEFAULT] section" in err and "no Swift credentials" not in err


def test_an_auth_version_swift_does_not_have_is_an_option_error(tmp_path: Path) -> None:
    """`backup_swift_auth_version = one` reached swiftclient: "Swift failed ... after 3
    retries (hint: check that the store is up)"."""
    pytest.importorskip("swiftclient")
    conf = _conf(tmp_path, GOOD + "backup_swift_auth_version = one\n")
    with pytest.raises(DriverOptionError, match='backup_swift_auth_version = "one" is not 1'):
        open_driver("swift://c", cinder_config=conf)
    for version in ("1", "2", "3"):
        open_driver("swift://c", cinder_config=_conf(
            tmp_path, GOOD + f"backup_swift_auth_version = {version}\n"))  # fmt: skip
