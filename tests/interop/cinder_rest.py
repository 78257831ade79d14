"""Cinder's REST API, as the tests and the benchmark drive it: volumes, backups, records.

Every call goes to the deployment of ``cinder_deploy.py``; waits poll the API until a
resource reaches a status (and fail with Cinder's ``fail_reason`` when it reaches ``error``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.interop.cinder_deploy import Deployment

WAIT = 600.0


class RestError(AssertionError):
    """The API answered something a step did not expect."""


class Cinder:
    """A thin client over one deployment's ``/v3/{project}`` API."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = ()) -> Any:
        status, answer = self.deployment.request(method, path, body)
        if expect and status not in expect:
            raise RestError(f"{method} {path}: {status} {answer}")
        if not expect and status >= 400:
            raise RestError(f"{method} {path}: {status} {answer}")
        return answer

    # --- waiting ------------------------------------------------------------------------

    def wait(self, kind: str, ident: str, *statuses: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        found: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status, answer = self.deployment.request("GET", f"/{kind}s/{ident}")
            if status == 404 and "deleted" in statuses:
                return {"status": "deleted"}
            if status == 200:
                found = answer[kind]
                if found["status"] in statuses:
                    return found
                if found["status"].startswith("error") and not any(
                    s.startswith("error") for s in statuses
                ):
                    raise RestError(f"{kind} {ident} is {found['status']}: {found}")
            time.sleep(0.25)
        raise RestError(f"{kind} {ident} did not reach {statuses} in {WAIT:.0f} s: {found}")

    # --- volumes ------------------------------------------------------------------------

    def create_volume(self, size_gib: int = 1, name: str | None = None, **extra: Any) -> str:
        body = {"volume": {"size": size_gib, "name": name, **extra}}
        volume = self.call("POST", "/volumes", body, expect=(202,))["volume"]
        self.wait("volume", volume["id"], "available")
        return str(volume["id"])

    def volume(self, volume_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/volumes/{volume_id}")["volume"])

    def set_metadata(self, volume_id: str, metadata: dict[str, str]) -> None:
        self.call("PUT", f"/volumes/{volume_id}/metadata", {"metadata": metadata})

    def delete_volume(self, volume_id: str) -> None:
        self.call("DELETE", f"/volumes/{volume_id}", expect=(202, 404))
        self.wait("volume", volume_id, "deleted")

    # --- backups ------------------------------------------------------------------------

    def create_backup(self, volume_id: str, *, incremental: bool = False) -> str:
        body = {"backup": {"volume_id": volume_id, "incremental": incremental}}
        backup = self.call("POST", "/backups", body, expect=(202,))["backup"]
        self.wait("backup", backup["id"], "available")
        return str(backup["id"])

    def backup(self, backup_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/backups/{backup_id}")["backup"])

    def restore(self, backup_id: str, volume_id: str | None = None) -> str:
        body = {"restore": {"volume_id": volume_id} if volume_id else {}}
        answer = self.call("POST", f"/backups/{backup_id}/restore", body, expect=(202,))
        target = str(answer["restore"]["volume_id"])
        self.wait("backup", backup_id, "available")
        self.wait("volume", target, "available")
        return target

    def delete_backup(self, backup_id: str, *, force: bool = False) -> None:
        if force:
            self.call(
                "POST", f"/backups/{backup_id}/action", {"os-force_delete": {}}, expect=(202,)
            )
        else:
            self.call("DELETE", f"/backups/{backup_id}", expect=(202,))
        self.wait("backup", backup_id, "deleted")

    def export_record(self, backup_id: str) -> dict[str, str]:
        record = self.call("GET", f"/backups/{backup_id}/export_record")["backup-record"]
        return dict(record)

    def import_record(self, record: dict[str, str]) -> str:
        answer = self.call(
            "POST", "/backups/import_record", {"backup-record": record}, expect=(201,)
        )
        backup_id = str(answer["backup"]["id"])
        self.wait("backup", backup_id, "available")
        return backup_id
