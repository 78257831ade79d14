"""docket.cinder under eventlet (as ``cinder-backup`` runs it): the engine's pools are real OS
threads, an operation runs in a native thread, and the green threads of the service keep
running while it does. Run in Cinder's virtualenv, with eventlet's monkey patching."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.interop._cinder import cinder_python

pytestmark = pytest.mark.interop

SRC = Path(__file__).resolve().parents[2] / "src"

SCRIPT = r"""
import eventlet
eventlet.monkey_patch()
import json, os, sys
from eventlet import patcher
import docket.cinder  # installs real OS threads for the engine
from docket.backup import _threads
from docket.backup._model import Backup
from docket.backup.posix import PosixBackupDriver
from docket.cinder import _native

work = sys.argv[1]
real = patcher.original("threading")
hub_thread = real.get_ident()
seen = set()
pool = _threads.pool(2, "probe")
idents = [pool.submit(real.get_ident).result() for _ in range(4)]
pool.shutdown()

ticks = [0]
def ticker():
    while True:
        ticks[0] += 1
        eventlet.sleep(0.005)
eventlet.spawn_n(ticker)

data = os.urandom(3 << 20) + bytes(5 << 20) + os.urandom(1 << 20)
volume = os.path.join(work, "volume")
with open(volume, "wb") as f:
    f.write(data)
driver = PosixBackupDriver(os.path.join(work, "root"), chunk_size=1 << 20)
record = Backup(id="27bb0000-0000-4000-8000-000000000001", volume_id="v1")

def round_trip():
    seen.add(real.get_ident())
    driver.backup(record, volume)
    driver.restore(record.id, None, os.path.join(work, "restored"))

before = ticks[0]
_native.run(round_trip)

# docket.store runs inside those OS threads too (volume metadata): none of its modules may
# hold one of eventlet's green locks, which fail when waited on across OS threads.
import docket.store.api, docket.store.sql, docket.store.tables
green_locks = sorted(
    f"{name}.{attr}"
    for name, module in list(sys.modules.items())
    if name.startswith("docket.store")
    for attr, value in vars(module).items()
    if type(value).__module__.startswith("eventlet")
)
with open(os.path.join(work, "restored"), "rb") as f:
    same = f.read() == data
print(json.dumps({
    "green": _native.green(),
    "pool_native": all(i != hub_thread for i in idents),
    "operation_native": hub_thread not in seen,
    "ticks_during": ticks[0] - before,
    "same": same,
    "store_green_locks": green_locks,
}))
"""


def test_the_engine_runs_on_real_threads_under_eventlet(tmp_path: Path) -> None:
    python = cinder_python()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [str(python), "-W", "ignore", "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["green"]
    assert found["pool_native"], "the engine's pool ran on the hub's thread"
    assert found["operation_native"], "the operation ran on the hub's thread"
    assert found["ticks_during"] > 0, "the hub was blocked while the operation ran"
    assert found["same"]
    assert found["store_green_locks"] == []
