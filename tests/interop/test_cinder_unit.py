"""Cinder's own unit tests for ``BackupMetadataAPI``, unmodified, against docket's store.

``cinder_unit_adapter.py`` runs ``cinder/tests/unit/backup/drivers/test_backup_driver_base.py``
from the installed Cinder 29.0.0 package (with Cinder's test dependencies in the same cached
virtualenv) after pointing ``cinder.backup.driver.BackupMetadataAPI`` at a thin adapter over
``docket.store.BackupMetadataAPI``. Every test must pass, except where docs/cinder.md
("Cinder's unit tests") documents the difference, and then it must fail for that reason.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.interop import run_cinder_interop as runner
from tests.interop._cinder import cinder_python

pytestmark = pytest.mark.interop

PASS = {
    "BackupBaseDriverTestCase.test_export_record",
    "BackupBaseDriverTestCase.test_get_metadata",
    "BackupBaseDriverTestCase.test_get_put_metadata",
    "BackupBaseDriverTestCase.test_import_record",
    "BackupBaseDriverTestCase.test_put_metadata",
    "BackupMetadataAPITestCase.test_get",
    "BackupMetadataAPITestCase.test_put",
}
# Documented: Cinder's private per-section helpers have no counterpart in docket.
PRIVATE = {
    "BackupMetadataAPITestCase.test_filter": "_filter",
    "BackupMetadataAPITestCase.test_is_serializable": "_is_serializable",
    "BackupMetadataAPITestCase.test_is_not_serializable": "_is_serializable",
    "BackupMetadataAPITestCase.test_v1_restore_factory": "_v1_restore_factory",
    "BackupMetadataAPITestCase.test_v1_restore_factory_no_restore_name": "_v1_restore_factory",
    "BackupMetadataAPITestCase.test_v2_restore_factory": "_v2_restore_factory",
    "BackupMetadataAPITestCase.test_save_vol_base_meta": "_save_vol_base_meta",
    "BackupMetadataAPITestCase.test_save_vol_meta": "_save_vol_meta",
    "BackupMetadataAPITestCase.test_save_vol_glance_meta": "_save_vol_glance_meta",
    "BackupMetadataAPITestCase.test_restore_vol_base_meta": "_save_vol_base_meta",
    "BackupMetadataAPITestCase.test_restore_vol_meta": "_save_vol_meta",
    "BackupMetadataAPITestCase.test_restore_vol_glance_meta": "_save_vol_glance_meta",
    "BackupMetadataAPITestCase.test_restore_encrypted_vol_to_different_volume_type": (
        "_save_vol_base_meta"
    ),
    "BackupMetadataAPITestCase.test_restore_encrypted_vol_to_same_volume_type": (
        "_save_vol_base_meta"
    ),
    "BackupMetadataAPITestCase.test_restore_unencrypted_vol_to_different_volume_type": (
        "_save_vol_base_meta"
    ),
}
# Documented: version 3 is docket's own, so {"version": 3} is judged by its schema.
VERSION_3 = "BackupMetadataAPITestCase.test_put_invalid_version"


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, Any]]:
    python = cinder_python()
    done = subprocess.run(
        [str(python), "-W", "ignore", str(runner.UNIT_ADAPTER), str(runner.ROOT / "src")],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(python).parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return result


def test_every_test_of_the_module_ran(outcomes: dict[str, dict[str, Any]]) -> None:
    assert set(outcomes) == PASS | set(PRIVATE) | {VERSION_3}


@pytest.mark.parametrize("name", sorted(PASS))
def test_passes(outcomes: dict[str, dict[str, Any]], name: str) -> None:
    assert outcomes[name] == {"outcome": "pass"}


@pytest.mark.parametrize("name", sorted(PRIVATE))
def test_private_helper_is_not_part_of_docket(
    outcomes: dict[str, dict[str, Any]], name: str
) -> None:
    got = outcomes[name]
    assert got["outcome"] == "error" and got["error"] == "AttributeError", got
    assert got["message"] == f"'DocketMetadataAPI' object has no attribute '{PRIVATE[name]}'"


def test_version_3_is_docket_own(outcomes: dict[str, dict[str, Any]]) -> None:
    got = outcomes[VERSION_3]
    assert got["outcome"] == "error" and got["error"] == "ValidationError", got
    assert got["message"].startswith("backup-metadata v3:")
    assert '"digest" is a required property' in got["message"]  # jsonschema-rs's words
