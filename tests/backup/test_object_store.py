"""The object-store protocol: the kit in docket.testing holds stores to it, the POSIX store
keeps it, and the chunked engine writes through any store that does."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from docket import load_registry
from docket.backup import Backup
from docket.backup._layout import LoadedBackup
from docket.backup.engine import ChunkedBackupDriver
from docket.backup.errors import InvalidBackup
from docket.backup.posix import PosixBackupDriver, PosixStore
from docket.backup.store import ObjectPage, ObjectStore
from docket.core.errors import FileTooLarge
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

    def _sha256(self, loaded: LoadedBackup, end: int) -> tuple[list[str], int]:
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
