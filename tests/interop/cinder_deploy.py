"""Start (and stop) a real Cinder 29.0.0 deployment on this machine, on 127.0.0.1 only.

``cinder-api``, ``cinder-scheduler``, ``cinder-volume`` and ``cinder-backup`` from the Cinder
virtualenv of ``run_cinder_interop.py``, each its own process, on the local RabbitMQ (guest/guest,
in a vhost of their own) and the local MariaDB (root, no password, a database of their own,
``cinder-manage db sync``)::

    python tests/interop/cinder_deploy.py start [--driver docket|cinder]   # idempotent
    python tests/interop/cinder_deploy.py switch --driver cinder          # restart cinder-backup
    python tests/interop/cinder_deploy.py status
    python tests/interop/cinder_deploy.py stop                            # what start started

- The API uses ``auth_strategy = noauth_include_project_id``: URLs are ``/v3/{project}/...``
  with a hex project id, and the token is ``user:project``.
- Volumes: Cinder's own NFS volume driver over a local directory bind-mounted at the share's
  mount point (``<nfs_mount_point_base>/<md5 of the share>``). The driver and os-brick skip
  mounting a share whose mount point is in ``/proc/mounts``, so volumes are sparse files reached
  through the code path of real NFS volumes. It needs ``mount.nfs`` (``nfs-common``) and
  ``qemu-img`` (``qemu-utils``) installed, and the privsep helpers set to the venv's
  ``privsep-helper`` (the services run as root; there is no sudo).
- ``cinder-backup`` loads ``backup_driver``: ``docket.cinder.PosixBackupDriver`` (``docket``)
  or ``cinder.backup.drivers.posix.PosixBackupDriver`` (``cinder``), both on one backup root;
  or ``docket.cinder.SwiftBackupDriver`` (``docket-swift``) or ``S3BackupDriver``
  (``docket-s3``) on the one-node Swift of ``scripts/swift-saio`` (started separately, on
  ``$DOCKET_SWIFT_PORT``, 18080 by default).
  docket is imported from this checkout's ``src`` (``PYTHONPATH``), as ``pip install docket``
  into Cinder's environment would provide it.

Everything lives under ``--state`` (``$DOCKET_CINDER_DEPLOY``, else a folder in the system's
temporary directory); ``stop`` ends only the processes whose ids ``start`` recorded there and
unmounts only the bind mount it made, and leaves RabbitMQ, MariaDB and the state alone (``stop
--purge`` also drops the vhost, the database and the state).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run_cinder_interop as runner  # noqa: E402

SRC = HERE.parents[1] / "src"
HOST = "127.0.0.1"
PORT = int(os.environ.get("DOCKET_CINDER_PORT", "18776"))
VHOST = "docket-cinder"
DATABASE = "docket_cinder"
PROJECT = "d0c4e7d0c4e7d0c4e7d0c4e7d0c4e7aa"
BACKEND = "nfs1"
SERVICE_HOST = "docket-cinder"
SERVICES = ("cinder-api", "cinder-scheduler", "cinder-volume", "cinder-backup")
DRIVERS = {
    "docket": "docket.cinder.PosixBackupDriver",
    "cinder": "cinder.backup.drivers.posix.PosixBackupDriver",
    "docket-swift": "docket.cinder.SwiftBackupDriver",
    "docket-s3": "docket.cinder.S3BackupDriver",
}
SWIFT = f"http://{HOST}:{os.environ.get('DOCKET_SWIFT_PORT', '18080')}"
"""The one-node Swift of ``scripts/swift-saio`` (tempauth ``test:tester``/``testing``, S3
through s3api) that the Swift and S3 drivers back up into."""
START_TIMEOUT = 180.0
STATS_INTERVAL = 10
"""Seconds between cinder-backup's reports of its driver's state to the scheduler, which
places a backup only on a service that reported a working driver."""


class DeployError(RuntimeError):
    """The deployment could not be started (a service missing, a port taken, ...)."""


LOCK = Path(tempfile.gettempdir()) / "docket-cinder-deployment.lock"
"""The one deployment on the machine switches drivers under whoever uses it: the test modules
and the benchmark hold this lock while they do, and wait their turn."""


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Hold the deployment alone (:data:`LOCK`) until the block ends."""
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def default_state() -> Path:
    configured = os.environ.get("DOCKET_CINDER_DEPLOY")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "docket-cinder"


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    if done.returncode != 0:
        raise DeployError(f"{' '.join(cmd[:3])} failed: {(done.stderr or done.stdout)[-2000:]}")
    return done


@dataclass
class Deployment:
    """One deployment's state directory and what it runs."""

    state: Path
    venv: Path

    @classmethod
    def at(cls, state: Path | None = None) -> Deployment:
        python = runner.ensure_venv()
        return cls((state or default_state()).resolve(), python.parent.parent)

    # --- places -------------------------------------------------------------------------

    @property
    def conf(self) -> Path:
        return self.state / "cinder.conf"

    @property
    def backup_root(self) -> Path:
        return self.state / "backups"

    @property
    def export(self) -> Path:
        """The directory that stands for the NFS export: the volumes' files."""
        return self.state / "export"

    @property
    def share(self) -> str:
        return f"{HOST}:{self.export}"

    @property
    def mount_point(self) -> Path:
        digest = hashlib.md5(self.share.encode(), usedforsecurity=False).hexdigest()
        return self.state / "mnt" / digest

    @property
    def url(self) -> str:
        return f"http://{HOST}:{PORT}/v3/{PROJECT}"

    @property
    def database_url(self) -> str:
        return f"mysql+pymysql://root@{HOST}:3306/{DATABASE}?charset=utf8mb4"

    def volume_path(self, volume_id: str) -> Path:
        return self.export / f"volume-{volume_id}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), env.get("PATH", "")])
        env.pop("OS_CINDER_DISABLE_EVENTLET_PATCHING", None)
        return env

    def command(self, script: str) -> list[str]:
        """How to run one of the venv's scripts: through its Python, since the venv was built
        in another folder and renamed (the scripts' ``#!`` lines name that folder)."""
        return [str(self.venv / "bin" / "python"), str(self.venv / "bin" / script)]

    def _pidfile(self, service: str) -> Path:
        return self.state / "run" / f"{service}.pid"

    # --- configuration --------------------------------------------------------------------

    def write_conf(self, driver: str, signing_key: Path | None = None) -> None:
        docket_section = f"\n[docket]\nsigning_key_file = {signing_key}\n" if signing_key else ""
        helper = " ".join([*self.command("privsep-helper"), "--config-file", str(self.conf)])
        conf = f"""\
[DEFAULT]
host = {SERVICE_HOST}
my_ip = {HOST}
state_path = {self.state / "state"}
auth_strategy = noauth_include_project_id
api_paste_config = {self.venv / "etc" / "cinder" / "api-paste.ini"}
transport_url = rabbit://guest:guest@{HOST}:5672/{VHOST}
osapi_volume_listen = {HOST}
osapi_volume_listen_port = {PORT}
osapi_volume_workers = 1
enabled_backends = {BACKEND}
default_volume_type = __DEFAULT__
backup_driver = {DRIVERS[driver]}
backup_posix_path = {self.backup_root}
backup_swift_auth = single_user
backup_swift_auth_url = {SWIFT}/auth/v1.0
backup_swift_auth_version = 1
backup_swift_user = test:tester
backup_swift_key = testing
backup_swift_container = docket-cinder
backup_s3_endpoint_url = {SWIFT}
backup_s3_store_access_key = test:tester
backup_s3_store_secret_key = testing
backup_s3_store_bucket = docket-cinder-s3
backup_driver_init_check_interval = 5
backup_driver_stats_polling_interval = {STATS_INTERVAL}
quota_volumes = -1
quota_snapshots = -1
quota_gigabytes = -1
quota_backups = -1
quota_backup_gigabytes = -1
report_interval = 5
periodic_interval = 5
periodic_fuzzy_delay = 0
debug = false

[database]
connection = {self.database_url}
{docket_section}
[oslo_concurrency]
lock_path = {self.state / "locks"}

[coordination]
backend_url = file://{self.state / "coordination"}

[privsep_osbrick]
helper_command = {helper}

[cinder_sys_admin]
helper_command = {helper}

[{BACKEND}]
volume_backend_name = {BACKEND}
volume_driver = cinder.volume.drivers.nfs.NfsDriver
nfs_shares_config = {self.state / "nfs_shares"}
nfs_mount_point_base = {self.state / "mnt"}
nfs_sparsed_volumes = true
nfs_snapshot_support = false
nas_secure_file_operations = false
nas_secure_file_permissions = false
"""
        self.conf.write_text(conf)
        (self.state / "nfs_shares").write_text(self.share + "\n")

    def driver(self) -> str | None:
        """The driver the configuration names (``docket`` or ``cinder``), if configured."""
        if not self.conf.is_file():
            return None
        for line in self.conf.read_text().splitlines():
            if line.startswith("backup_driver = "):
                name = line.split(" = ", 1)[1]
                return next((k for k, v in DRIVERS.items() if v == name), None)
        return None

    # --- the shared services: RabbitMQ, MariaDB, the bind mount ----------------------------

    def prepare(self) -> None:
        for sub in ("run", "logs", "state", "locks", "coordination", "export", "backups"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        self.mount_point.mkdir(parents=True, exist_ok=True)
        for tool in ("mount.nfs", "qemu-img", "rabbitmqctl"):
            if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
                raise DeployError(
                    f"{tool} is not installed (apt-get install --no-install-recommends "
                    "nfs-common qemu-utils rabbitmq-server)"
                )
        vhosts = _run(["rabbitmqctl", "-q", "list_vhosts"]).stdout.split()
        if VHOST not in vhosts:
            _run(["rabbitmqctl", "-q", "add_vhost", VHOST])
        _run(["rabbitmqctl", "-q", "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"])
        self.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4")
        if not self.mounted():
            _run(["mount", "--bind", str(self.export), str(self.mount_point)])
            (self.state / "run" / "mounted").write_text(str(self.mount_point))

    def mounted(self) -> bool:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            return any(line.split()[1] == str(self.mount_point) for line in mounts if line.strip())

    def sql(self, statement: str, database: str | None = None) -> None:
        code = (
            "import pymysql, sys\n"
            f"c = pymysql.connect(host={HOST!r}, user='root', database={database!r},"
            " autocommit=True)\n"
            "c.cursor().execute(sys.argv[1])\n"
        )
        _run([str(self.venv / "bin" / "python"), "-c", code, statement])

    # --- the Cinder services -------------------------------------------------------------

    def pid(self, service: str) -> int | None:
        """The id of the running service this deployment started, else None."""
        try:
            pid = int(self._pidfile(service).read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if not any(part.endswith(service.encode()) for part in cmdline[:2]):
            return None
        if str(self.conf).encode() not in cmdline:
            return None
        return pid

    def spawn(self, service: str) -> None:
        if self.pid(service) is not None:
            return
        log = open(self.state / "logs" / f"{service}.log", "ab")  # noqa: SIM115
        with log:
            proc = subprocess.Popen(
                [*self.command(service), "--config-file", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                cwd=self.state,
                start_new_session=True,
            )
        # Written whole and renamed, so a reader (wait_ready) never sees it empty.
        pidfile = self._pidfile(service)
        part = pidfile.with_name(pidfile.name + ".part")
        part.write_text(str(proc.pid))
        os.replace(part, pidfile)

    def exited(self, service: str) -> bool:
        """Whether ``service`` is not running, seen three times over a second: one look can
        catch its process id file or ``/proc`` entry mid-change on a loaded machine."""
        for attempt in range(3):
            if self.pid(service) is not None:
                return False
            if attempt < 2:
                time.sleep(0.5)
        return True

    def end(self, service: str) -> None:
        pid = self.pid(service)
        if pid is None:
            self._pidfile(service).unlink(missing_ok=True)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if _zombie(pid):
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self._pidfile(service).unlink(missing_ok=True)

    # --- the whole -----------------------------------------------------------------------

    def start(self, driver: str = "docket") -> dict[str, Any]:
        started = time.monotonic()
        self.state.mkdir(parents=True, exist_ok=True)
        running = [s for s in SERVICES if self.pid(s) is not None]
        if running and self.driver() == driver and len(running) == len(SERVICES):
            self.wait_ready()
            return self.describe(time.monotonic() - started)
        self.prepare()
        self.write_conf(driver)
        if not (self.state / "run" / "synced").is_file():
            _run(
                [*self.command("cinder-manage"), "--config-file", str(self.conf), "db", "sync"],
                env=self.env(),
            )
            (self.state / "run" / "synced").write_text(DATABASE)
        if self.pid("cinder-backup") is not None and driver != self._backup_driver():
            self.end("cinder-backup")
        for service in SERVICES:
            self.spawn(service)
        (self.state / "run" / "cinder-backup.driver").write_text(driver)
        self.wait_ready()
        return self.describe(time.monotonic() - started)

    def _backup_driver(self) -> str | None:
        with contextlib.suppress(OSError):
            return (self.state / "run" / "cinder-backup.driver").read_text()
        return None

    def switch(self, driver: str, signing_key: Path | None = None) -> dict[str, Any]:
        """Restart ``cinder-backup`` alone with ``driver`` (the other services run on);
        ``signing_key``: a file of the key docket's driver signs containers with."""
        started = time.monotonic()
        self.write_conf(driver, signing_key)
        self.end("cinder-backup")
        self.spawn("cinder-backup")
        (self.state / "run" / "cinder-backup.driver").write_text(driver)
        self.wait_ready()
        return self.describe(time.monotonic() - started)

    def stop(self, purge: bool = False) -> None:
        for service in reversed(SERVICES):
            self.end(service)
        marker = self.state / "run" / "mounted"
        if marker.is_file() and self.mounted():
            _run(["umount", str(self.mount_point)])
        marker.unlink(missing_ok=True)
        if purge:
            self.sql(f"DROP DATABASE IF EXISTS {DATABASE}")
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", VHOST], capture_output=True)
            shutil.rmtree(self.state, ignore_errors=True)

    def describe(self, seconds: float = 0.0) -> dict[str, Any]:
        return {
            "url": self.url,
            "project": PROJECT,
            "state": str(self.state),
            "conf": str(self.conf),
            "backup_root": str(self.backup_root),
            "export": str(self.export),
            "database": self.database_url,
            "driver": self.driver(),
            "pids": {s: self.pid(s) for s in SERVICES},
            "seconds": round(seconds, 2),
        }

    # --- readiness -----------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One REST call to the API; its status and decoded JSON body (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={
                "X-Auth-Token": f"admin:{PROJECT}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "OpenStack-API-Version": "volume 3.0",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw) if raw else None
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def _started(self, service: str) -> str:
        """When this deployment started ``service`` (UTC, as the API shows times): only a
        heartbeat after it counts, and ``cinder-backup`` beats only once its driver's
        ``check_for_setup_error`` passed."""
        try:
            return _utc(self._pidfile(service).stat().st_mtime)
        except OSError:
            return ""

    def _settle(self) -> None:
        """A cinder-backup that has just started told the scheduler its driver was not set
        up yet: wait for its next report (every ``STATS_INTERVAL`` s) after its heartbeat."""
        with contextlib.suppress(OSError):
            age = time.time() - self._pidfile("cinder-backup").stat().st_mtime
            if age < 4 * STATS_INTERVAL:
                time.sleep(STATS_INTERVAL + 1)

    def wait_ready(self) -> None:
        """Wait until the API answers, the three other services report up (``cinder-backup``
        only once its driver's ``check_for_setup_error`` passed) and the backend reports its
        pool."""
        deadline = time.monotonic() + START_TIMEOUT
        problem = "the API does not answer"
        while time.monotonic() < deadline:
            for service in SERVICES:
                if self.exited(service):
                    tail = (self.state / "logs" / f"{service}.log").read_text(errors="replace")
                    raise DeployError(f"{service} exited:\n{tail[-3000:]}")
            try:
                status, body = self.request("GET", "/os-services")
                if status == 200:
                    up = {
                        s["binary"]
                        for s in body["services"]
                        if s["state"] == "up"
                        and s["status"] == "enabled"
                        and (s["updated_at"] or "") >= self._started(s["binary"])
                    }
                    missing = {"cinder-scheduler", "cinder-volume", "cinder-backup"} - up
                    pools_status, pools = self.request("GET", "/scheduler-stats/get_pools")
                    if missing:
                        problem = f"not up: {', '.join(sorted(missing))}"
                    elif pools_status != 200 or not pools.get("pools"):
                        problem = "the volume backend reports no pool"
                    else:
                        self._settle()
                        return
                else:
                    problem = f"the API answers {status}"
            except (OSError, ValueError) as err:
                problem = f"the API does not answer: {err}"
            time.sleep(0.5)
        raise DeployError(f"the deployment did not come up in {START_TIMEOUT:.0f} s: {problem}")


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "switch", "status", "stop"))
    parser.add_argument("--driver", choices=sorted(DRIVERS), default="docket")
    parser.add_argument("--state", type=Path, default=None)
    parser.add_argument("--purge", action="store_true", help="stop: drop the database too")
    args = parser.parse_args(argv)
    try:
        deployment = Deployment.at(args.state)
        if args.action == "start":
            print(json.dumps(deployment.start(args.driver), indent=2))
        elif args.action == "switch":
            print(json.dumps(deployment.switch(args.driver), indent=2))
        elif args.action == "status":
            print(json.dumps(deployment.describe(), indent=2))
        else:
            deployment.stop(purge=args.purge)
    except (DeployError, runner.InstallFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
