"""Cinder's own unit tests for ``BackupMetadataAPI``, run against docket's store.

Runs inside the Cinder virtualenv, with docket importable from ``src/`` (its runtime
dependencies are in that venv). The test module is Cinder's, unmodified, from the installed
package: ``cinder/tests/unit/backup/drivers/test_backup_driver_base.py``. The only change is
which class ``cinder.backup.driver.BackupMetadataAPI`` names: :class:`DocketMetadataAPI`, a
thin adapter that gives docket's ``store.BackupMetadataAPI`` Cinder's constructor (a request
context), the engine of Cinder's own database (the tests' in-memory SQLite, built by Cinder's
migrations), Cinder's configured ``backup_metadata_version``, and Cinder's exception classes
for the errors docs/cinder.md maps onto them. It adds no behaviour: Cinder's private helpers
(``_save_vol_*``, ``_restore_vol_*``, ``_v1_restore_factory``, ``_filter``, ...) have no
counterpart in docket, which restores a container as one planned transaction.

Usage: ``python cinder_unit_adapter.py DOCKET_SRC`` prints one JSON object,
``{test id: {"outcome": "pass" | "fail" | "error" | "skip", "error": class, "message": text}}``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import unittest
import warnings
from typing import Any

TEST_MODULE = "cinder.tests.unit.backup.drivers.test_backup_driver_base"
_RAISED = re.compile(r"^([A-Za-z_][\w.]*): (.*)$", re.MULTILINE)


def _adapter() -> type:
    from cinder import exception
    from cinder.db import api as cinder_db
    from oslo_config import cfg

    from docket import store
    from docket.errors import RestoreRefused, VersionError, VolumeNotFound

    class DocketMetadataAPI:
        """Cinder's ``BackupMetadataAPI`` interface over docket's store."""

        TYPE_TAG_VOL_BASE_META = "volume-base-metadata"
        TYPE_TAG_VOL_META = "volume-metadata"
        TYPE_TAG_VOL_GLANCE_META = "volume-glance-metadata"

        def __init__(self, context: Any, db: Any = None) -> None:
            self.context = context
            self._api = store.BackupMetadataAPI(
                cinder_db.get_engine(), version=cfg.CONF.backup_metadata_version
            )

        def get(self, volume_id: str) -> str:
            try:
                return self._api.get(volume_id)
            except VolumeNotFound:
                raise exception.VolumeNotFound(volume_id=volume_id) from None

        def put(self, volume_id: str, json_metadata: str) -> None:
            try:
                self._api.put(volume_id, json_metadata)
            except VersionError as err:
                raise exception.BackupMetadataUnsupportedVersion(str(err)) from None
            except RestoreRefused as err:
                raise exception.EncryptedBackupOperationFailed(str(err)) from None
            except VolumeNotFound:
                raise exception.VolumeNotFound(volume_id=volume_id) from None

    return DocketMetadataAPI


class _Outcomes(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, dict[str, str]] = {}

    def _name(self, test: unittest.TestCase) -> str:
        return test.id().removeprefix(TEST_MODULE + ".")

    def addSuccess(self, test: unittest.TestCase) -> None:
        self.outcomes[self._name(test)] = {"outcome": "pass"}

    def _failed(self, kind: str, test: unittest.TestCase, err: Any) -> None:
        etype, value, _tb = err
        text = str(value)
        # testtools reports errors as a _StringException holding the traceback: its last
        # "package.ExceptionClass: message" line is the real error (notes may follow it).
        found = [m for m in _RAISED.finditer(text)]
        name, message = (
            (found[-1].group(1), found[-1].group(2)) if found else (etype.__name__, text)
        )
        self.outcomes[self._name(test)] = {
            "outcome": kind,
            "error": name.rsplit(".", 1)[-1],
            "message": message[:500],
        }

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        self._failed("fail", test, err)

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        self._failed("error", test, err)

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        self.outcomes[self._name(test)] = {"outcome": "skip", "message": reason}


def main() -> int:
    sys.path.insert(0, sys.argv[1])
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    from cinder import objects

    objects.register_all()
    from cinder.backup import driver

    driver.BackupMetadataAPI = _adapter()  # type: ignore[misc]
    suite = unittest.defaultTestLoader.loadTestsFromName(TEST_MODULE)
    result = _Outcomes()
    suite.run(result)
    json.dump(result.outcomes, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
