"""The object-store protocol: the kit in docket.testing holds stores to it, the POSIX store
keeps it, and the chunked engine writes through any store that does."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket import load_registry
from docket.backup import Backup
from docket.backup._layout import METADATA_BASE_LIMIT, METADATA_PER_OBJECT, LoadedBackup
from docket.backup.engine import ChunkedBackupDriver
from docket.backup.errors import BackupNotFound, InvalidBackup
from docket.backup.objects import ObjectStoreBackupDriver
from docket.backup.posix import PosixBackupDriver, PosixStore
from docket.backup.store import ObjectPage, ObjectStore
from docket.core.errors import BackupError, FileTooLarge
from docket.testing import check_object_store

REGISTRY = load_registry()


class MemoryStore:
    """A store in a dict, written against the protocol alone (what a third party does)."""

    def __init__(self) -> None:
        self.containers: dict[str, dict[str, bytes]] = {}

    def create_container(self, container: str) -> None:
        self.containers.setdefault(container, {})

    def open_writer(self, container: str, name: str) -> Any:
        store = self

        class Sink:
            def __init__(self) -> None:
                self.buffer = bytearray()

            def write(self, data: bytes | memoryview, /) -> None:
                self.buffer += data

            def commit(self, md5: str) -> None:
                store.put_object(container, name, bytes(self.buffer), md5=md5)

            def abort(self) -> None:
                self.buffer.clear()

        return Sink()

    def put_object(self, container: str, name: str, data: bytes, *, md5: str) -> None:
        if hashlib.md5(data, usedforsecurity=False).hexdigest() != md5:
            raise InvalidBackup(f"{name}: MD5 mismatch")
        self.containers[container][name] = data

    def open_object(self, container: str, name: str, *, limit: int | None = None) -> BinaryIO:
        data = self.containers[container].get(name)
        if data is None:
            raise FileNotFoundError(name)
        if limit is not None and len(data) > limit:
            raise FileTooLarge(name, "object", len(data), limit)
        return io.BytesIO(data)

    def list_objects(
        self, container: str, prefix: str = "", *, marker: str | None = None, limit: int = 1000
    ) -> ObjectPage:
        if container not in self.containers:
            raise FileNotFoundError(container)
        names = sorted(
            n
            for n in self.containers[container]
            if n.startswith(prefix) and (marker is None or n > marker)
        )
        page = tuple(names[:limit])
        return ObjectPage(page, page[-1] if len(names) > limit else None)

    def delete_object(self, container: str, name: str) -> None:
        self.containers[container].pop(name, None)

    def sync(self, container: str) -> None:
        return None


def test_the_posix_store_keeps_the_protocol(tmp_path: Path) -> None:
    roots = iter(range(100))
    check_object_store(lambda: PosixStore(tmp_path / f"root{next(roots)}"), container="ab/cd/abcd")


def test_a_store_written_against_the_protocol_alone_keeps_it() -> None:
    check_object_store(MemoryStore)


class _Unchecked(MemoryStore):
    def put_object(self, container: str, name: str, data: bytes, *, md5: str) -> None:
        self.containers[container][name] = data  # no MD5 check


class _OnePage(MemoryStore):
    def list_objects(
        self, container: str, prefix: str = "", *, marker: str | None = None, limit: int = 1000
    ) -> ObjectPage:
        page = super().list_objects(container, prefix, marker=marker, limit=1000)
        return ObjectPage(page.names, None)  # ignores limit


class _Unbounded(MemoryStore):
    def open_object(self, container: str, name: str, *, limit: int | None = None) -> BinaryIO:
        return super().open_object(container, name)


class _ShowsWork(MemoryStore):
    def open_writer(self, container: str, name: str) -> Any:
        self.containers[container][name] = b""  # visible before its commit
        return super().open_writer(container, name)


@pytest.mark.parametrize(
    ("broken", "complaint"),
    [
        (_Unchecked, "MD5"),
        (_OnePage, "a page of 1 held"),
        (_Unbounded, "past its limit"),
        (_ShowsWork, "before its commit"),
    ],
)
def test_the_kit_fails_a_store_that_breaks_the_protocol(
    broken: Callable[[], ObjectStore], complaint: str
) -> None:
    with pytest.raises(AssertionError, match=complaint):
        check_object_store(broken)


class MemoryDriver(ChunkedBackupDriver):
    """The engine over a MemoryStore (full backups: no chain to read back)."""

    def __init__(self, store: MemoryStore, **kw: Any) -> None:
        super().__init__(registry=REGISTRY, **kw)
        self.store = store

    def _new_container(self, backup: Backup) -> tuple[str, str]:
        return backup.id, f"backups-{backup.id}"

    def _chain(self, backup: Backup | str) -> list[LoadedBackup]:
        raise NotImplementedError

    def _sha256(self, loaded: LoadedBackup, end: int) -> tuple[bytes | bytearray, int]:
        raise NotImplementedError

    def restore(self, backup: Backup | str, volume_id: str | None, volume: Any, **kw: Any) -> Any:
        raise NotImplementedError

    def delete(self, backup: Backup | str) -> None:
        raise NotImplementedError


@pytest.mark.parametrize("compression", ["none", "zlib", "bz2", "zstd"])
def test_the_engine_writes_the_same_objects_to_any_store(tmp_path: Path, compression: str) -> None:
    rng = random.Random(7)
    data = (
        b"".join(rng.randbytes(32768) if rng.random() < 0.5 else bytes(32768) for _ in range(9))
        + b"end"
    )
    vol = tmp_path / "vol"
    vol.write_bytes(data)
    kw: dict[str, Any] = {"compression": compression, "chunk_size": 2 * 32768}
    kw["clock"] = lambda: datetime(2026, 1, 2, tzinfo=UTC)
    posix = PosixBackupDriver(tmp_path / "root", registry=REGISTRY, **kw)
    done = posix.backup(Backup(id="abcd-1", volume_id="v"), vol)
    memory = MemoryStore()
    again = MemoryDriver(memory, **kw).backup(Backup(id="abcd-1", volume_id="v"), vol)
    assert again.service_metadata == done.service_metadata
    assert again.object_count == done.object_count
    on_disk = {
        p.name: p.read_bytes() for p in (tmp_path / "root" / "ab" / "cd" / "abcd-1").iterdir()
    }
    assert memory.containers["backups-abcd-1"] == on_disk
    assert len(on_disk) == done.object_count + 2


class StoreOnlyDriver(ChunkedBackupDriver):
    """The engine over a store and nothing else: no hook of the engine is overridden."""

    def __init__(self, store: ObjectStore, **kw: Any) -> None:
        super().__init__(registry=REGISTRY, **kw)
        self.store = store


def _volumes(seed: int) -> tuple[bytes, bytes]:
    """A volume, and the same volume later: some blocks changed, some zeroed, grown."""
    rng = random.Random(seed)
    blocks = [rng.randbytes(32768) if rng.random() < 0.6 else bytes(32768) for _ in range(9)]
    first = b"".join(blocks) + b"tail"
    for i in (1, 4, 5):
        blocks[i] = rng.randbytes(32768)
    blocks[7] = bytes(32768)
    return first, b"".join(blocks) + rng.randbytes(40000)


def _both(tmp_path: Path, compression: str) -> tuple[PosixBackupDriver, StoreOnlyDriver, Any]:
    times = iter([datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)] * 2)
    kw: dict[str, Any] = {"compression": compression, "chunk_size": 2 * 32768}
    posix = PosixBackupDriver(tmp_path / "root", registry=REGISTRY, clock=lambda: next(times), **kw)
    memory = MemoryStore()
    again = StoreOnlyDriver(memory, clock=lambda: next(times), **kw)
    return posix, again, memory


@pytest.mark.parametrize("compression", ["none", "zlib", "zstd"])
def test_a_store_alone_gets_backup_verify_restore_and_delete(
    tmp_path: Path, compression: str
) -> None:
    posix, driver, memory = _both(tmp_path, compression)
    first, second = _volumes(3)
    (tmp_path / "v1").write_bytes(first)
    (tmp_path / "v2").write_bytes(second)
    for d in (posix, driver):
        d.backup(Backup(id="abcd-1", volume_id="v"), tmp_path / "v1")
        d.backup(Backup(id="abcd-2", volume_id="v", parent_id="abcd-1"), tmp_path / "v2")
    for backup_id in ("abcd-1", "abcd-2"):
        on_disk = {p.name: p.read_bytes() for p in (tmp_path / "root/ab/cd" / backup_id).iterdir()}
        assert memory.containers[f"ab/cd/{backup_id}"] == on_disk

    report = driver.verify("abcd-2")
    assert report.ok and report.chain == ("abcd-2", "abcd-1")
    assert report == posix.verify("abcd-2")

    restored = driver.restore("abcd-2", None, tmp_path / "from-store")
    assert restored == posix.restore("abcd-2", None, tmp_path / "from-posix")
    assert (tmp_path / "from-store").read_bytes() == second
    assert (tmp_path / "from-posix").read_bytes() == second
    out = io.BytesIO()
    driver.restore("abcd-1", None, out)
    assert out.getvalue() == first

    described = driver.get_backup("abcd-2")
    assert described.service == driver.service
    assert described.replace(service=posix.service) == posix.get_backup("abcd-2")
    for backup_id in ("abcd-2", "abcd-1"):
        gone, expected = driver.delete(backup_id), posix.delete(backup_id)
        assert gone.objects == expected.objects
        assert gone.stored_bytes == expected.stored_bytes
        assert memory.containers[f"ab/cd/{backup_id}"] == {}
        with pytest.raises(BackupNotFound):
            driver.delete(backup_id)


def test_the_engine_reads_a_store_as_it_checks_the_posix_layout(tmp_path: Path) -> None:
    _, driver, memory = _both(tmp_path, "zlib")
    first, _ = _volumes(5)
    (tmp_path / "v1").write_bytes(first)
    driver.backup(Backup(id="abcd-1", volume_id="v"), tmp_path / "v1")
    objects = memory.containers["ab/cd/abcd-1"]
    name = sorted(n for n in objects if n[-6:-5] == "-")[0]
    objects[name] = objects[name][:-1] + bytes([objects[name][-1] ^ 1])
    problems = driver.verify("abcd-1").problems
    assert [(p.kind, p.object) for p in problems] == [("altered", name)]
    with pytest.raises(InvalidBackup, match=f"object {name}"):
        driver.restore("abcd-1", None, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # An oversized metadata object is refused by the store before it is read.
    meta = next(n for n in objects if n.endswith("_metadata"))
    objects[meta] = b" " * (METADATA_BASE_LIMIT + 10 * METADATA_PER_OBJECT)
    with pytest.raises(FileTooLarge) as refused:
        driver.restore("abcd-1", None, tmp_path / "out")
    assert refused.value.backup_id == "abcd-1"
    with pytest.raises(BackupNotFound, match="in the store"):
        driver.verify("abcd-9")


@settings(max_examples=15, deadline=None)
@given(
    first=st.binary(max_size=5 * 4096),
    edits=st.lists(st.tuples(st.integers(0, 6 * 4096), st.binary(min_size=1, max_size=600))),
)
def test_a_chain_restores_from_any_store_to_its_last_volume(
    first: bytes, edits: list[tuple[int, bytes]]
) -> None:
    second = bytearray(first)
    for at, data in edits:
        at = min(at, len(second))
        second[at : at + len(data)] = data
    driver = StoreOnlyDriver(MemoryStore(), sha_block_size=4096, chunk_size=8192)
    driver.backup(Backup(id="abcd-1", volume_id="v"), io.BytesIO(first))
    driver.backup(Backup(id="abcd-2", volume_id="v", parent_id="abcd-1"), io.BytesIO(second))
    assert driver.verify("abcd-2").ok
    out = io.BytesIO()
    driver.restore("abcd-2", None, out)
    assert out.getvalue() == bytes(second)


class _FailingBody(io.BytesIO):
    """An object body whose storage fails a read part way (a disk's EIO)."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        super().__init__(data)
        self.fail_at = fail_at

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() >= self.fail_at:
            raise OSError(errno.EIO, "Input/output error")
        return super().read(size)

    def readinto(self, buffer: Any, /) -> int:
        if self.tell() >= self.fail_at:
            raise OSError(errno.EIO, "Input/output error")
        return super().readinto(buffer)


class _FailsReads(MemoryStore):
    """Reads of one data object fail: when opened (EACCES), or part way (EIO)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: tuple[str, str] | None = None

    def open_object(self, container: str, name: str, *, limit: int | None = None) -> BinaryIO:
        body = super().open_object(container, name, limit=limit)
        if self.failing is None or not name.endswith(self.failing[0]):
            return body
        if self.failing[1] == "open":
            raise PermissionError(errno.EACCES, "Permission denied", name)
        if self.failing[1] == "gone":
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", name)
        return _FailingBody(body.read(), fail_at=1000)


@pytest.mark.parametrize(
    ("how", "kind", "said"),
    [
        ("read", BackupError, "cannot read object .*-00002: Input/output error"),
        ("open", BackupError, "cannot read object .*-00002: Permission denied"),
        ("gone", InvalidBackup, "object .*-00002 is missing"),
    ],
)
def test_a_storage_read_failing_is_the_storages_failure_not_the_targets(
    tmp_path: Path, how: str, kind: type[Exception], said: str
) -> None:
    store = _FailsReads()
    d = StoreOnlyDriver(store, chunk_size=64 * 1024, compression="zlib")
    volume = tmp_path / "vol"
    volume.write_bytes(os.urandom(200_000))
    d.backup(Backup(id="eio-1", volume_id="v"), volume)
    target = tmp_path / "target"
    target.write_bytes(b"before")
    store.failing = ("-00002", how)
    with pytest.raises(kind, match=said) as caught:
        d.restore("eio-1", None, target)
    assert "cannot write" not in str(caught.value)
    assert target.read_bytes() == b"before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target", "vol"]


# --- sizes in a listing -------------------------------------------------------------------


class _Sized(MemoryStore):
    """The listing gives each object's size, as Swift's JSON listing and S3's do."""

    def list_objects(
        self, container: str, prefix: str = "", *, marker: str | None = None, limit: int = 1000
    ) -> ObjectPage:
        page = super().list_objects(container, prefix, marker=marker, limit=limit)
        sizes = tuple(len(self.containers[container][n]) for n in page.names)
        return ObjectPage(page.names, page.marker, sizes)


class _WrongSizes(_Sized):
    def list_objects(
        self, container: str, prefix: str = "", *, marker: str | None = None, limit: int = 1000
    ) -> ObjectPage:
        page = super().list_objects(container, prefix, marker=marker, limit=limit)
        return ObjectPage(page.names, page.marker, tuple(s + 1 for s in page.sizes or ()))


class _TooFewSizes(_Sized):
    def list_objects(
        self, container: str, prefix: str = "", *, marker: str | None = None, limit: int = 1000
    ) -> ObjectPage:
        page = super().list_objects(container, prefix, marker=marker, limit=limit)
        return ObjectPage(page.names, page.marker, (page.sizes or ())[1:])


def test_the_kit_holds_listed_sizes_to_the_objects() -> None:
    check_object_store(_Sized)
    with pytest.raises(AssertionError, match="listed with"):
        check_object_store(_WrongSizes)
    with pytest.raises(AssertionError, match="names gave"):
        check_object_store(_TooFewSizes)


def test_the_posix_store_lists_sizes(tmp_path: Path) -> None:
    store = PosixStore(tmp_path)
    store.create_container("ab/cd/abcd")
    store.put_object("ab/cd/abcd", "volume_x-00001", b"abc", md5=hashlib.md5(b"abc").hexdigest())
    assert store.list_objects("ab/cd/abcd").sizes == (3,)


def _listed_stored(store: MemoryStore, tmp_path: Path) -> dict[str, int | None]:
    driver = ObjectStoreBackupDriver(store, chunk_size=64 * 1024)
    volume = tmp_path / "vol"
    volume.write_bytes(os.urandom(200_000))
    driver.backup(Backup(id="full-1", volume_id="v"), volume)
    driver.backup(Backup(id="incr-1", volume_id="v", parent_id="full-1"), volume)
    return {b.backup_id: b.stored_bytes for b in driver.list_backups()}


def test_an_object_store_listing_reports_what_each_backup_stores(tmp_path: Path) -> None:
    """Swift and S3 listed ``stored_bytes`` 0 for every backup: the listing's sizes are
    summed now; a store whose listing has no sizes says unknown (None), not 0."""
    store = _Sized()
    stored = _listed_stored(store, tmp_path)
    (objects,) = store.containers.values()
    for backup_id, size in stored.items():
        assert size == sum(len(v) for n, v in objects.items() if f"_backup_{backup_id}" in n)
    assert stored["full-1"] and stored["full-1"] > 200_000 // 2  # random bytes: stored whole
    assert _listed_stored(MemoryStore(), tmp_path) == {"full-1": None, "incr-1": None}
