"""The Cinder side of the POSIX interop test: runs inside the virtualenv with ``cinder==29.0.0``.

Cinder's own, unmodified code does the work: its migrations build the database, its db API and
objects create the volumes and backups, ``cinder.backup.drivers.posix.PosixBackupDriver``
backs up and restores, ``BackupManager.export_record``/``import_record`` (behind the API's
``_get_import_backup``) move records. Cinder is configured the way a deployment is, through an
oslo.config file: a SQLite database, the backup root, the compression and chunk size, and the
``fake://`` messaging transport so notifications go through oslo.messaging without a broker.
Nothing of Cinder is mocked or copied; docket is not importable here.

Usage (one JSON document in on stdin, one out on stdout)::

    python cinder_posix.py WORKDIR     # {"db": path, "root": dir, "steps": [...]}

Each step is an object with an ``op``; the answer lists one result per step, in order:

- ``{"op": "migrate"}``: Cinder's migrations build the database.
- ``{"op": "volume", "columns": {...}, "metadata": {...}}``: a volume row (db API).
- ``{"op": "backup", "id", "volume_id", "path", "compression", "chunk_size", "parent_id",
  "name"}``: a backup row (status ``creating``, db API), then the driver's ``backup``.
- ``{"op": "restore", "id", "volume_id", "path", "size"}``: the backup is set ``restoring`` and
  the driver restores it onto a new file of ``size`` bytes that reads as zeros (a new volume:
  ``volume_is_new=True``), restoring volume metadata onto the volume row ``volume_id``.
- ``{"op": "export", "id"}``: ``BackupManager.export_record``.
- ``{"op": "import", "backup_service", "backup_url"}``: the API's ``_get_import_backup`` makes
  the backup row, then ``BackupManager.import_record`` (this host is the last one asked).
- ``{"op": "row", "id"}``: the backup row's fields.
- ``{"op": "volume_state", "id"}``: a volume's display name and live metadata.

A step that raises reports ``{"error": class name, "message": text}`` and the run goes on.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

SERVICE = "cinder.backup.drivers.posix.PosixBackupDriver"
PROJECT = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
USER = "5d4f3e2a1b0c4d5e6f7a8b9c0d1e2f3a"
BACKUP_FIELDS = (
    "id",
    "volume_id",
    "display_name",
    "container",
    "service_metadata",
    "service",
    "parent_id",
    "size",
    "object_count",
    "status",
)


def _write_conf(workdir: Path, db: str, root: str, extra: tuple[str, ...] = ()) -> Path:
    conf = workdir / "cinder.conf"
    conf.write_text(
        "\n".join(
            [
                "[DEFAULT]",
                "transport_url = fake:/",
                f"state_path = {workdir}",
                f"backup_posix_path = {root}",
                f"backup_driver = {SERVICE}",
                *extra,
                "backup_enable_progress_timer = false",
                "host = docket-interop",
                "quota_backups = -1",
                "quota_backup_gigabytes = -1",
                "[database]",
                f"connection = sqlite:///{db}",
                "[oslo_messaging_notifications]",
                "driver = messagingv2",
                "[oslo_concurrency]",
                f"lock_path = {workdir / 'locks'}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return conf


class Cinder:
    """Cinder configured from a config file, with the modules the steps use."""

    service = SERVICE

    def __init__(self, workdir: Path, db: str, root: str, extra: tuple[str, ...] = ()) -> None:
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        from cinder import objects
        from oslo_config import cfg

        objects.register_all()  # before the modules whose annotations name the objects
        from cinder import context, rpc
        from cinder.backup import api as backup_api
        from cinder.backup import manager
        from cinder.backup.drivers import posix
        from cinder.db import api as db_api
        from cinder.db import migration
        from cinder.objects import fields

        conf_file = _write_conf(workdir, db, root, extra)
        cfg.CONF([], project="cinder", default_config_files=[str(conf_file)])
        rpc.init(cfg.CONF)
        self.conf = cfg.CONF
        self.db = db_api
        self.objects = objects
        self.fields = fields
        self.migration = migration
        self.posix = posix
        self.backup_api = backup_api
        self.manager_module = manager
        self.ctx = context.RequestContext(USER, PROJECT, is_admin=True)
        self.root = root

    def driver(self, compression: str | None = None, chunk_size: int | None = None) -> Any:
        self.conf.set_override("backup_compression_algorithm", compression or "zlib")
        if chunk_size is None:
            self.conf.clear_override("backup_file_size")
        else:
            self.conf.set_override("backup_file_size", chunk_size)
        return self.posix.PosixBackupDriver(self.ctx)

    # --- steps ------------------------------------------------------------------------------

    def migrate(self, step: dict[str, Any]) -> dict[str, Any]:
        self.migration.db_sync()
        for vtype in step.get("types", []):
            self.db.volume_type_create(self.ctx, dict(vtype))
        return {}

    def volume(self, step: dict[str, Any]) -> dict[str, Any]:
        values = dict(step["columns"])
        values.setdefault("user_id", USER)
        values.setdefault("project_id", PROJECT)
        values["metadata"] = step.get("metadata", {})
        self.db.volume_create(self.ctx, values)
        return {}

    def _fields(self, backup: Any) -> dict[str, Any]:
        return {name: backup[name] for name in BACKUP_FIELDS}

    def backup(self, step: dict[str, Any]) -> dict[str, Any]:
        self.db.backup_create(
            self.ctx,
            {
                "id": step["id"],
                "volume_id": step["volume_id"],
                "user_id": USER,
                "project_id": PROJECT,
                "display_name": step.get("name"),
                "display_description": step.get("description"),
                "status": self.fields.BackupStatus.CREATING,
                "size": step.get("gib", 1),
                "parent_id": step.get("parent_id"),
                "service": self.service,
                "host": self.conf.host,
            },
        )
        backup = self.objects.Backup.get_by_id(self.ctx, step["id"])
        driver = self.driver(step.get("compression"), step.get("chunk_size"))
        with open(step["path"], "rb") as volume_file:
            driver.backup(backup, volume_file)
        backup.status = self.fields.BackupStatus.AVAILABLE
        backup.save()
        if backup.parent_id:
            self.db.backup_add_dependent(self.ctx, backup.parent_id)
        return self._fields(self.objects.Backup.get_by_id(self.ctx, step["id"]))

    def restore(self, step: dict[str, Any]) -> dict[str, Any]:
        backup = self.objects.Backup.get_by_id(self.ctx, step["id"])
        backup.status = self.fields.BackupStatus.RESTORING
        backup.save()
        path = Path(step["path"])
        with open(path, "wb") as new:  # a new volume: its size, reading as zeros
            new.truncate(step["size"])
        driver = self.driver()
        try:
            with open(path, "r+b") as volume_file:
                driver.restore(backup, step["volume_id"], volume_file, True)
        finally:
            backup.status = self.fields.BackupStatus.AVAILABLE
            backup.save()
        return {}

    def _manager(self) -> Any:
        return self.manager_module.BackupManager()

    def export(self, step: dict[str, Any]) -> dict[str, Any]:
        backup = self.objects.Backup.get_by_id(self.ctx, step["id"])
        record: dict[str, Any] = self._manager().export_record(self.ctx, backup)
        return record

    def import_(self, step: dict[str, Any]) -> dict[str, Any]:
        url = step["backup_url"]
        backup = self.backup_api.API()._get_import_backup(self.ctx, url)
        self._manager().import_record(self.ctx, backup, step["backup_service"], url, [])
        return self._fields(self.objects.Backup.get_by_id(self.ctx, backup.id))

    def row(self, step: dict[str, Any]) -> dict[str, Any]:
        return self._fields(self.objects.Backup.get_by_id(self.ctx, step["id"]))

    def volume_state(self, step: dict[str, Any]) -> dict[str, Any]:
        vol = self.db.volume_get(self.ctx, step["id"])
        return {
            "display_name": vol["display_name"],
            "metadata": self.db.volume_metadata_get(self.ctx, step["id"]),
        }


def main(make: Any = None) -> int:
    """Run the steps on stdin; ``make(workdir, spec)`` builds the Cinder (this module's by
    default), whose ``extra_ops`` add steps of its own."""
    workdir = Path(sys.argv[1])
    spec = json.load(sys.stdin)
    cinder = (make or (lambda w, s: Cinder(w, s["db"], s["root"])))(workdir, spec)
    ops = {
        **getattr(cinder, "extra_ops", dict)(),
        "migrate": cinder.migrate,
        "volume": cinder.volume,
        "backup": cinder.backup,
        "restore": cinder.restore,
        "export": cinder.export,
        "import": cinder.import_,
        "row": cinder.row,
        "volume_state": cinder.volume_state,
    }
    results: list[dict[str, Any]] = []
    for step in spec["steps"]:
        try:
            out = ops[step["op"]](step)
        except Exception as err:  # the oracle reports whatever Cinder raises, by class name
            out = {
                "error": type(err).__name__,
                "message": str(err),
                "trace": traceback.format_exc()[-2000:],
            }
        results.append(out)
    json.dump({"results": results}, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
