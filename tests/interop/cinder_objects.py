"""The Cinder side of the Swift and S3 interop tests: runs inside the virtualenv with
``cinder==29.0.0`` (and its ``swift`` and ``s3`` extras).

As ``cinder_posix.py`` (whose steps it runs), with Cinder's own ``SwiftBackupDriver`` or
``S3BackupDriver`` configured through the oslo.config file from the spec's ``store``::

    {"kind": "swift", "options": {"backup_swift_auth": "single_user", ...}}
    {"kind": "s3", "options": {"backup_s3_endpoint_url": "...", ...}}

One more step: ``{"op": "delete", "id"}`` runs the driver's ``delete_backup``. With
``backup_swift_auth = per_user``, the request context carries the spec's ``token``,
``project_id`` and ``catalog`` (the user's request and service catalog, as Cinder's API would
pass them: without ``backup_swift_url``, Cinder finds Swift in the catalog).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cinder_posix import Cinder, main

DRIVERS = {
    "swift": ("cinder.backup.drivers.swift.SwiftBackupDriver", "backup_swift_object_size"),
    "s3": ("cinder.backup.drivers.s3.S3BackupDriver", "backup_s3_object_size"),
}


class ObjectCinder(Cinder):
    """Cinder with its Swift or S3 backup driver."""

    def __init__(self, workdir: Path, spec: dict[str, Any]) -> None:
        store = spec["store"]
        self.kind = store["kind"]
        self.service, self.size_option = DRIVERS[self.kind]
        extra = [f"backup_driver = {self.service}"]
        extra += [f"{name} = {value}" for name, value in store["options"].items()]
        super().__init__(workdir, spec["db"], spec.get("root", str(workdir)), tuple(extra))
        if store.get("token"):
            from cinder import context

            self.ctx = context.RequestContext(
                "5d4f3e2a1b0c4d5e6f7a8b9c0d1e2f3a",
                store["project_id"],
                is_admin=True,
                auth_token=store["token"],
                service_catalog=store.get("catalog"),
            )

    def driver(self, compression: str | None = None, chunk_size: int | None = None) -> Any:
        self.conf.set_override("backup_compression_algorithm", compression or "zlib")
        if chunk_size is not None:
            self.conf.set_override(self.size_option, chunk_size)
        if self.kind == "swift":
            from cinder.backup.drivers import swift

            return swift.SwiftBackupDriver(self.ctx)
        from cinder.backup.drivers import s3

        return s3.S3BackupDriver(self.ctx)

    def extra_ops(self) -> dict[str, Any]:
        return {"delete": self.delete}

    def delete(self, step: dict[str, Any]) -> dict[str, Any]:
        backup = self.objects.Backup.get_by_id(self.ctx, step["id"])
        self.driver().delete_backup(backup)
        return {}


if __name__ == "__main__":
    raise SystemExit(main(lambda workdir, spec: ObjectCinder(workdir, spec)))
