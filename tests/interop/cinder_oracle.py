"""The Cinder side of the interop test: runs inside a virtualenv with ``cinder==29.0.0``.

Cinder's own, unmodified code is the oracle: its migrations build the database, its db API
creates the volumes, its ``BackupMetadataAPI.get``/``put`` back up and restore. This file
only calls them (docket is not importable here, and nothing of Cinder is copied).

Usage (one JSON document in on stdin, one out on stdout)::

    python cinder_oracle.py setup DB      # {"types": [...], "volumes": [...], "get": [...]}
    python cinder_oracle.py put DB        # {"pairs": [[volume_id, container_text], ...]}
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import warnings
from typing import Any


def _cinder(db_path: str) -> Any:
    """Configure Cinder for a SQLite database and return its modules."""
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    from cinder import context, objects
    from cinder.backup import driver
    from cinder.db import api as db
    from cinder.db import migration
    from oslo_config import cfg

    cfg.CONF([], project="cinder", default_config_files=[])
    cfg.CONF.set_override("connection", f"sqlite:///{db_path}", group="database")
    objects.register_all()
    return context, db, driver, migration, cfg.CONF


def setup(db_path: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Build the database with Cinder's migrations, create the volumes, back them up."""
    context, db, driver, migration, conf = _cinder(db_path)
    migration.db_sync()
    ctx = context.get_admin_context()
    for vtype in spec["types"]:
        db.volume_type_create(ctx, dict(vtype))
    for vol in spec["volumes"]:
        values = dict(vol["columns"])
        for name in ("created_at", "launched_at", "scheduled_at"):
            if name in values:
                values[name] = datetime.datetime.fromisoformat(values[name])
        values["metadata"] = vol.get("metadata", {})
        db.volume_create(ctx, values)
        for key, value in vol.get("glance", {}).items():
            db.volume_glance_metadata_create(ctx, values["id"], key, value)
    got: dict[str, dict[str, str]] = {}
    for version in (1, 2):
        conf.set_override("backup_metadata_version", version)
        api = driver.BackupMetadataAPI(ctx)
        got[str(version)] = {vid: api.get(vid) for vid in spec["get"]}
    return {"get": got}


def put(db_path: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Restore each (volume id, container) pair with Cinder's put; report each outcome."""
    context, _db, driver, _migration, _conf = _cinder(db_path)
    ctx = context.get_admin_context()
    api = driver.BackupMetadataAPI(ctx)
    outcomes = []
    for volume_id, text in spec["pairs"]:
        try:
            api.put(volume_id, text)
        except Exception as err:  # the oracle reports whatever Cinder raises, by class name
            outcomes.append(type(err).__name__)
        else:
            outcomes.append("ok")
    return {"outcomes": outcomes}


def main() -> int:
    command, db_path = sys.argv[1], sys.argv[2]
    spec = json.load(sys.stdin)
    result = {"setup": setup, "put": put}[command](db_path, spec)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
