"""One side of the object-store benchmark, in a process of its own: ``python objects_child.py``
with a JSON spec on stdin, one JSON answer on stdout (as ``volume_child.py``, whose
measurements it uses).

The spec names the side (``docket``: docket's ``SwiftBackupDriver`` or ``S3BackupDriver`` from
this Python; ``cinder``: Cinder 29.0.0's, under the interop virtualenv's Python), the store
and the operations, in order::

    {"side": "docket", "kind": "swift" or "s3", "container": NAME, "compression": "zlib",
     "chunk_size": N, "store": {"auth_url", "user", "key", "endpoint"},
     "db": PATH (cinder only), "interop": DIR (cinder only), "volume_type": ID (cinder only),
     "ops": [{"op": "backup", "id": ID, "path": VOLUME},
             {"op": "restore", "id": ID, "path": TARGET, "size": BYTES}]}

Each operation is timed around the driver call alone (wall time, then ``sync``, CPU time of
the process, the peak RSS during the call).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from volume_child import TimedDriver, main, timed


def _docket(spec: dict[str, Any]) -> list[dict[str, float]]:
    from docket.backup import Backup

    s = spec["store"]
    common = {"container": spec["container"], "compression": spec["compression"],
              "chunk_size": spec["chunk_size"]}
    if spec["kind"] == "swift":
        from docket.backup.swift import SwiftBackupDriver, SwiftStore

        driver: Any = SwiftBackupDriver(
            SwiftStore(auth_url=s["auth_url"], user=s["user"], key=s["key"]), **common
        )
    else:
        from docket.backup.s3 import S3BackupDriver, S3Store

        store = S3Store(endpoint_url=s["endpoint"], access_key=s["user"], secret_key=s["key"],
                        region="us-east-1")
        driver = S3BackupDriver(store, **common)
    for family in ("chunked-backup", "chunked-sha256"):
        driver.registry.family(family)  # schema loading is not part of an operation
    results = []
    for op in spec["ops"]:
        target = Path(op["path"])
        if op["op"] == "backup":
            backup = Backup(id=op["id"], volume_id="bench")
            results.append(timed(lambda b=backup, p=op["path"]: driver.backup(b, p),
                                 lambda t=target: t))
        else:
            results.append(timed(lambda i=op["id"], t=target: driver.restore(i, None, t),
                                 lambda t=target: t))
    return results


def _cinder(spec: dict[str, Any]) -> list[dict[str, float]]:
    sys.path.insert(0, spec["interop"])
    import cinder_objects  # tests/interop/cinder_objects.py: Cinder's Swift and S3 drivers

    s = spec["store"]
    if spec["kind"] == "swift":
        options = {"backup_swift_auth": "single_user", "backup_swift_auth_url": s["auth_url"],
                   "backup_swift_user": s["user"], "backup_swift_key": s["key"],
                   "backup_swift_container": spec["container"],
                   "backup_swift_object_size": spec["chunk_size"]}
    else:
        options = {"backup_s3_endpoint_url": s["endpoint"],
                   "backup_s3_store_access_key": s["user"],
                   "backup_s3_store_secret_key": s["key"],
                   "backup_s3_store_bucket": spec["container"],
                   "backup_s3_object_size": spec["chunk_size"]}
    workdir = Path(spec["db"]).parent / f"cinder-{spec['kind']}"
    workdir.mkdir(exist_ok=True)
    cinder = cinder_objects.ObjectCinder(
        workdir, {"db": spec["db"], "store": {"kind": spec["kind"], "options": options}}
    )
    cinder.volume({"columns": {"id": "bench", "size": 1, "status": "available",
                               "volume_type_id": spec["volume_type"]}})
    measured: list[dict[str, float]] = []
    pending: dict[str, Callable[[], Path]] = {}
    real = cinder.driver

    cinder.driver = lambda *a, **k: TimedDriver(real(*a, **k), measured, pending)
    for op in spec["ops"]:
        pending["out"] = lambda t=op["path"]: Path(t)
        if op["op"] == "backup":
            cinder.backup({"id": op["id"], "volume_id": "bench", "path": op["path"],
                           "compression": spec["compression"]})
        else:
            cinder.restore({"id": op["id"], "volume_id": "bench", "path": op["path"],
                            "size": op["size"]})
    return measured


if __name__ == "__main__":
    raise SystemExit(main(_docket, _cinder))
