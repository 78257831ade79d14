"""Hostile and failing object stores: the real Swift (and its S3) behind a fault-injecting
proxy on 127.0.0.1, and objects changed in the store behind docket's back.

Every failure is a typed error after a bounded number of requests; a refused restore leaves
its target as it was; a refused backup leaves nothing under its prefix.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup, InvalidBackup, _threads
from docket.backup._chunks import Compression
from docket.backup.errors import ObjectStoreAuthError, ObjectStoreError
from docket.backup.objects import ObjectStoreBackupDriver
from docket.backup.s3 import S3BackupDriver, S3Store
from docket.backup.store import all_objects
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from tests._fault_proxy import FaultProxy, Rule
from tests._rss import PEAK_RSS_SOURCE
from tests._swift import PORT, Saio, ensure_saio, fresh_container

RETRIES = 2
OBJECT = 1 << 20
BEFORE = b"the target before the restore\n" * 100


@pytest.fixture(scope="module")
def saio() -> Saio:
    return ensure_saio()


@pytest.fixture(scope="module")
def proxy(saio: Saio) -> Iterator[FaultProxy]:
    with FaultProxy(PORT) as running:
        yield running


def _swift(
    saio: Saio, proxy: FaultProxy, container: str, timeout: float = 2
) -> SwiftBackupDriver:
    store = SwiftStore(
        auth_url=f"{proxy.endpoint}/auth/v1.0",
        user=saio.user,
        key=saio.key,
        retries=RETRIES,
        backoff=0.01,
        timeout=timeout,
    )
    return SwiftBackupDriver(store, container=container, chunk_size=OBJECT)


def _s3(saio: Saio, proxy: FaultProxy, container: str, timeout: float = 2) -> S3BackupDriver:
    store = S3Store(
        endpoint_url=proxy.endpoint,
        access_key=saio.user,
        secret_key=saio.key,
        region="us-east-1",
        retries=RETRIES,  # Cinder's default retry mode, legacy: retries after the first
        timeout=timeout,
    )
    return S3BackupDriver(store, container=container, chunk_size=OBJECT)


# Swift in the default run; S3 in the long group (.ci/run), as in test_object_stores.
@pytest.fixture(params=["swift", pytest.param("s3", marks=pytest.mark.slow)])
def setup(
    request: pytest.FixtureRequest, saio: Saio, proxy: FaultProxy, tmp_path: Path
) -> Iterator[tuple[ObjectStoreBackupDriver, Backup, Path, bytes]]:
    """A backup of three data objects, taken with no fault, and a target to restore onto."""
    proxy.clear()
    make = _swift if request.param == "swift" else _s3
    driver = make(saio, proxy, fresh_container())
    volume = tmp_path / "volume"
    data = random.Random(5).randbytes(3 * OBJECT - 1000)  # objects as large as the chunks
    volume.write_bytes(data)
    done = driver.backup(Backup(id="b-1", volume_id="v-1"), volume)
    target = tmp_path / "target"
    target.write_bytes(BEFORE)
    proxy.clear()
    yield driver, done, target, data
    proxy.clear()
    for name in all_objects(driver.store, driver.container):
        driver.store.delete_object(driver.container, name)


Setup = tuple[ObjectStoreBackupDriver, Backup, Path, bytes]


def _object(done: Backup, n: int) -> str:
    return f"{done.service_metadata}-{n:05d}"


def _gets(proxy: FaultProxy, done: Backup, n: int) -> int:
    return proxy.count("GET", _object(done, n).rpartition("/")[2])


def test_transient_server_errors_are_retried(setup: Setup, proxy: FaultProxy) -> None:
    driver, done, target, data = setup
    tail = _object(done, 2).rpartition("/")[2]
    proxy.add(Rule("GET", tail, "status", 503, times=2))
    driver.restore(done, None, target)
    assert target.read_bytes() == data
    assert _gets(proxy, done, 2) == 3


def test_persistent_server_errors_fail_after_bounded_retries(
    setup: Setup, proxy: FaultProxy
) -> None:
    driver, done, target, _ = setup
    proxy.add(Rule("GET", _object(done, 2).rpartition("/")[2], "status", 503))
    with pytest.raises(ObjectStoreError):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE
    assert _gets(proxy, done, 2) == RETRIES + 1


def test_a_body_reset_midway_is_resumed_where_it_stopped(setup: Setup, proxy: FaultProxy) -> None:
    driver, done, target, data = setup
    proxy.add(Rule("GET", _object(done, 1).rpartition("/")[2], "reset", 5000, times=1))
    driver.restore(done, None, target)
    assert target.read_bytes() == data
    assert _gets(proxy, done, 1) == 2


def test_an_object_listed_but_not_found_refuses_the_restore(
    setup: Setup, proxy: FaultProxy
) -> None:
    driver, done, target, _ = setup
    proxy.add(Rule("GET", _object(done, 3).rpartition("/")[2], "status", 404))
    with pytest.raises(InvalidBackup, match="cannot be read"):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE


def test_refused_credentials_are_an_auth_error(setup: Setup, proxy: FaultProxy) -> None:
    driver, done, target, _ = setup
    proxy.add(Rule("GET", "/", "status", 401), Rule("HEAD", "/", "status", 401))
    with pytest.raises(ObjectStoreAuthError):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE


def test_a_wrong_etag_refuses_the_backup_and_leaves_nothing(
    setup: Setup, proxy: FaultProxy, tmp_path: Path
) -> None:
    driver = setup[0]
    volume = tmp_path / "other"
    volume.write_bytes(b"\x07" * (2 * OBJECT))
    proxy.add(Rule("PUT", "-00002", "etag", '"00000000000000000000000000000000"'))
    with pytest.raises(InvalidBackup, match="MD5"):
        driver.backup(Backup(id="b-2", volume_id="v-2"), volume)
    assert all_objects(driver.store, driver.container, "volume_v-2/") == []


def test_a_listing_that_never_ends_is_refused(setup: Setup, proxy: FaultProxy) -> None:
    """A Swift listing whose pages never run out, an S3 ListObjectsV2 truncated for ever:
    bounded, and a typed error (not a hang, not memory growing without end)."""
    driver, _, _, _ = setup
    endless = "endless-s3" if isinstance(driver, S3BackupDriver) else "endless"
    driver._backups.max_listed = 5000
    proxy.add(Rule("GET", f"/{driver.container}", endless, query="prefix=volume_"))
    err = _bounded(driver.list_backups)
    assert isinstance(err, ObjectStoreError), err
    assert "passed 5000 names" in str(err)
    assert proxy.count("GET", f"/{driver.container}") <= 7


@pytest.mark.parametrize(
    "change", ["longer", "shorter", "missing", "extra", "other bytes", "no metadata"]
)
def test_objects_changed_in_the_store_refuse_the_restore(
    setup: Setup, change: str, tmp_path: Path
) -> None:
    driver, done, target, _ = setup
    store, container = driver.store, driver.container
    name = _object(done, 2)
    with store.open_object(container, name) as fh:
        stored = fh.read()
    replacement = {
        "longer": stored + b"\x00" * 10,
        "shorter": stored[:-10],
        "other bytes": bytes(b ^ 1 for b in stored),
    }
    if change in replacement:
        data = replacement[change]
        store.put_object(container, name, data, md5=hashlib.md5(data).hexdigest())
    elif change == "missing":
        store.delete_object(container, name)
    elif change == "extra":
        store.put_object(container, _object(done, 9), b"x", md5=hashlib.md5(b"x").hexdigest())
    else:
        store.delete_object(container, f"{done.service_metadata}_metadata")
    with pytest.raises(InvalidBackup):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE
    if change != "no metadata":
        assert driver.verify("b-1").problems


def test_a_zstd_object_is_read_from_the_store_once(setup: Setup, proxy: FaultProxy) -> None:
    """The check that a zstd frame ends the object follows the frame's block headers as the
    bytes pass: no second GET to walk it again (which read the whole object twice)."""
    driver, _, target, _ = setup
    driver.compression = Compression.ZSTD
    data = b"compressible bytes of a zstd object\n" * (3 * OBJECT // 36)
    volume = target.parent / "zstd-volume"
    volume.write_bytes(data)
    done = driver.backup(Backup(id="b-z", volume_id="v-z"), volume)
    proxy.clear()
    driver.restore(done, None, target)
    assert target.read_bytes() == data
    assert [_gets(proxy, done, n) for n in (1, 2, 3)] == [1, 1, 1]


# --- stalls, resets, endless listings: every failure bounded ---------------------------------


def _bounded(work: Callable[[], object]) -> BaseException | None:
    """Run ``work`` on a thread; what it raised. A call still running after 10 minutes is a
    hang (what a missing timeout looks like), not a slow store: the test fails."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as err:  # handed to the test
            raised.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(600)
    assert not thread.is_alive(), "the call hung: a timeout or a retry bound is missing"
    return raised[0] if raised else None


@pytest.mark.slow  # waits out the store's timeout at every attempt
def test_a_store_that_stalls_mid_body_fails_after_bounded_retries(
    setup: Setup, proxy: FaultProxy
) -> None:
    """No byte for longer than the timeout: each attempt times out, the body is asked for
    again from where it stopped, and the restore fails after the retries, typed."""
    driver, done, target, _ = setup
    proxy.add(Rule("GET", _object(done, 2).rpartition("/")[2], "stall", 4096))
    err = _bounded(lambda: driver.restore(done, None, target))
    assert isinstance(err, ObjectStoreError), err
    assert target.read_bytes() == BEFORE
    assert _gets(proxy, done, 2) == RETRIES + 1


@pytest.mark.parametrize(("stalled", "damaged"), [(2, 1), (1, 2)])
def test_a_stall_beside_a_failed_object_is_given_up_and_the_failure_is_the_one_raised(
    setup: Setup, saio: Saio, proxy: FaultProxy, stalled: int, damaged: int
) -> None:
    """One lane's object stalls mid-body while the other lane's object is damaged: the stalled
    read is given up when the other fails (not waited for through the store's timeout and
    retries), the damaged object is the one named even when the stalled one comes first, and
    no thread of the restore runs on after it returns."""
    driver, done, target, _ = setup
    patient = (_swift if isinstance(driver, SwiftBackupDriver) else _s3)(
        saio, proxy, driver.container, timeout=30
    )
    garbage = b"not a zlib stream" * 10
    driver.store.put_object(
        driver.container, _object(done, damaged), garbage, md5=hashlib.md5(garbage).hexdigest()
    )
    proxy.add(Rule("GET", _object(done, stalled).rpartition("/")[2], "stall", 4096))
    before = set(threading.enumerate())
    err = _bounded(lambda: patient.restore(done, None, target))
    assert isinstance(err, InvalidBackup), err
    assert _object(done, damaged) in str(err) and _object(done, stalled) not in str(err)
    started = [t for t in threading.enumerate() if t not in before]
    assert [t.name for t in started if t.name.startswith("docket-")] == []
    assert _gets(proxy, done, stalled) == 1, "the stalled object was asked for again"
    assert target.read_bytes() == BEFORE


def _stack_of(thread: threading.Thread) -> list[str]:
    frame = sys._current_frames().get(thread.ident or 0)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return names


def _until(condition: Callable[[], bool]) -> None:
    for _ in range(60000):
        if condition():
            return
        threading.Event().wait(0.001)
    raise AssertionError("never came")


def test_an_interrupt_while_waiting_for_a_stalled_lane_stops_that_lane_first(
    setup: Setup, saio: Saio, proxy: FaultProxy
) -> None:
    """Ctrl-C reaches the calling thread while it waits, at the end, for the other lane,
    stuck in a stalled body: the restore gives that read up and waits for the lane before
    it raises the interrupt (a lane left running would write into a target, or a
    descriptor, that is no longer the restore's)."""
    driver, done, target, _ = setup
    patient = (_swift if isinstance(driver, SwiftBackupDriver) else _s3)(
        saio, proxy, driver.container, timeout=30
    )
    proxy.add(Rule("GET", _object(done, 2).rpartition("/")[2], "stall", 4096))
    main = threading.main_thread()

    def second_lane(workers: int, name: str) -> Executor:
        """The helper lane starts once the calling thread's lane holds object 1: it takes
        object 2, which stalls, and the calling thread runs out of objects after 3."""
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        if name != "docket-object":
            return pool
        submit = pool.submit

        def later(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            def run() -> Any:
                _until(lambda: "_object" in _stack_of(main))
                return fn(*args, **kwargs)

            return submit(run)

        pool.submit = later  # type: ignore[method-assign]
        return pool

    def interrupt_when_waiting() -> None:
        # Whenever the signal lands (before the calling thread blocks in its wait, too, which
        # a wait without a timeout would not notice until the lane ended), it is handled.
        _until(lambda: "_wait_lane" in _stack_of(main))
        signal.pthread_kill(main.ident or 0, signal.SIGINT)  # Ctrl-C

    before = set(threading.enumerate())
    watcher = threading.Thread(target=interrupt_when_waiting, daemon=True)
    _threads.use(pools=second_lane)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            patient.restore(done, None, target)
    finally:
        _threads.use()
    started = [t for t in threading.enumerate() if t not in before and t is not watcher]
    assert [t.name for t in started if t.name.startswith("docket-")] == []
    assert _gets(proxy, done, 2) == 1
    assert target.read_bytes() == BEFORE


@pytest.mark.slow  # waits out the store's timeout at every attempt
def test_a_store_that_never_answers_a_write_fails_the_backup_and_leaves_nothing(
    setup: Setup, proxy: FaultProxy, tmp_path: Path
) -> None:
    driver = setup[0]
    volume = tmp_path / "other"
    volume.write_bytes(random.Random(8).randbytes(3 * OBJECT))
    proxy.add(Rule("PUT", "-00002", "silent"))
    err = _bounded(lambda: driver.backup(Backup(id="b-2", volume_id="v-2"), volume))
    assert isinstance(err, ObjectStoreError), err
    assert all_objects(driver.store, driver.container, "volume_v-2/") == []
    # swiftclient and botocore each retry the write RETRIES times, no more.
    assert proxy.count("PUT", "-00002") == RETRIES + 1


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_connection_always_reset_fails_after_bounded_retries(
    setup: Setup, proxy: FaultProxy, tmp_path: Path, method: str
) -> None:
    """Every connection to one object reset before an answer: Cinder's retry options
    (backup_swift_retry_attempts, backup_s3_retry_max_attempts) bound the attempts."""
    driver, done, target, _ = setup
    if method == "GET":
        proxy.add(Rule("GET", _object(done, 2).rpartition("/")[2], "drop"))
        err = _bounded(lambda: driver.restore(done, None, target))
        assert target.read_bytes() == BEFORE
        assert _gets(proxy, done, 2) == RETRIES + 1
    else:
        volume = tmp_path / "other"
        volume.write_bytes(random.Random(9).randbytes(3 * OBJECT))
        proxy.add(Rule("PUT", "-00002", "drop"))
        err = _bounded(lambda: driver.backup(Backup(id="b-2", volume_id="v-2"), volume))
        assert all_objects(driver.store, driver.container, "volume_v-2/") == []
        assert proxy.count("PUT", "-00002") == RETRIES + 1
    assert isinstance(err, ObjectStoreError), err


# --- memory under faults ----------------------------------------------------------------------

_MEMORY = """
import random, sys, tempfile
from pathlib import Path
from docket.backup import Backup
from docket.backup.errors import ObjectStoreError
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from docket.backup.s3 import S3BackupDriver, S3Store
kind, endpoint, user, key, container, volume = sys.argv[1:7]
if kind == "swift":
    store = SwiftStore(auth_url=endpoint + "/auth/v1.0", user=user, key=key, retries=2,
                       backoff=0.01, timeout=2)
    driver = SwiftBackupDriver(store, container=container, chunk_size=16 << 20)
else:
    store = S3Store(endpoint_url=endpoint, access_key=user, secret_key=key, region="us-east-1",
                    retries=2, timeout=2)
    driver = S3BackupDriver(store, container=container, chunk_size=16 << 20)
try:
    driver.backup(Backup(id="m-1", volume_id="v-m"), volume)
except ObjectStoreError:
    print("FAILED")
print("RSS", PEAK_RSS_KIB() // 1024)
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["swift", "s3"])
def test_peak_memory_stays_bounded_while_uploads_fail(
    saio: Saio, proxy: FaultProxy, tmp_path: Path, kind: str
) -> None:
    """A 128 MiB backup in objects of 16 MiB whose fifth object's writes are always reset:
    the uploads in flight, their retries and the failure hold a few spooled pieces, never
    the volume or an object per retry."""
    proxy.clear()
    volume = tmp_path / "volume"
    rng = random.Random(11)
    with open(volume, "wb") as fh:
        for _ in range(128):
            fh.write(rng.randbytes(1 << 20))
    proxy.add(Rule("PUT", "-00005", "drop"))
    container = fresh_container()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PEAK_RSS_SOURCE + _MEMORY,
            kind,
            proxy.endpoint,
            saio.user,
            saio.key,
            container,
            str(volume),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FAILED" in done.stdout
    peak = int(done.stdout.split("RSS")[1])
    # Imports (boto3 alone is ~60 MiB), 3 uploads spooling 8 MiB each, the pieces in flight:
    # bounded, under the 128 MiB volume whatever the retries.
    assert peak < 200, peak
    proxy.clear()
    store = _swift(saio, proxy, container).store
    assert all_objects(store, container, "volume_v-m/") == []
