"""docs/backup-drivers.md, "Adding a store" and "A store of your own, in a shared container":
the in-memory store the page shows keeps the protocol by the kit, and the two drivers over it
back up, verify, restore, list, find and delete exactly as the page says."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from docket.backup import Backup, FileTooLarge, InvalidBackup
from docket.backup.posix import PosixBackupDriver
from docket.core.errors import DriverOptionError
from docket.testing import check_object_store

DOC = Path(__file__).resolve().parents[2] / "docs" / "backup-drivers.md"
BLOCK = re.compile(r"<!-- run -->\n```python\n(?P<body>.*?)```", re.S)


def _page() -> dict[str, Any]:
    """Run the page's blocks in order, in one namespace, as a reader pasting them would."""
    blocks = [m["body"] for m in BLOCK.finditer(DOC.read_text())]
    assert len(blocks) == 4, "docs/backup-drivers.md has four blocks the tests run"
    namespace: dict[str, Any] = {"__name__": "backup_drivers_doc"}
    for body in blocks:
        exec(compile(body, str(DOC), "exec"), namespace)
    return namespace


def test_the_pages_store_and_drivers_run() -> None:
    page = _page()
    page["test_my_store_keeps_the_protocol"]()


def test_the_pages_store_raises_the_errors_the_page_names() -> None:
    """The errors a store raises are constructed as the page shows (FileTooLarge's signature
    was not given anywhere: ``FileTooLarge("...")`` is a TypeError)."""
    store = _page()["MemoryStore"]()
    store.create_container("c")
    store.put_object("c", "volume_x-00001", b"abc", md5="900150983cd24fb0d6963f7d28e17f72")
    with pytest.raises(FileTooLarge) as large:
        store.open_object("c", "volume_x-00001", limit=2)
    assert (large.value.size, large.value.limit) == (3, 2)
    with pytest.raises(InvalidBackup):
        store.put_object("c", "volume_x-00002", b"abc", md5="0" * 32)


def test_the_kit_fails_a_store_that_keeps_a_refused_write() -> None:
    """The kit the page points to catches a store that stores before checking the MD5."""
    page = _page()

    class Careless(page["MemoryStore"]):  # type: ignore[misc]
        def put_object(self, container: str, name: str, data: bytes, *, md5: str) -> None:
            self._objects(container)[name] = bytes(data)
            super().put_object(container, name, data, md5=md5)

    with pytest.raises(AssertionError):
        check_object_store(Careless, container="docket-kit")


def _backed_up(driver: Any, backup_id: str, volume: bytes, **fields: Any) -> Any:
    with tempfile.TemporaryFile() as source:
        source.write(volume)
        source.seek(0)
        return driver.backup(Backup(id=backup_id, volume_id="vol-1", size=1, **fields), source)


def _restored(driver: Any, backup: Any) -> bytes:
    with tempfile.TemporaryFile() as target:
        driver.restore(backup, "vol-2", target)
        target.seek(0)
        return target.read()


@pytest.mark.parametrize("short", ["b1", "c"])
def test_a_short_id_is_refused_by_the_pages_driver_as_by_posix(short: str) -> None:
    """``b1`` went to container ``b1//b1`` and its restore looked in ``b1/b1`` (BackupNotFound):
    a driver over any store in the default layout refuses it as the POSIX one does, before
    anything is stored."""
    page = _page()
    driver = page["MemoryBackupDriver"](page["MemoryStore"]())
    with pytest.raises(DriverOptionError, match=f'"{short}" is shorter than 3 characters') as e:
        _backed_up(driver, short, b"\1" * 4096)
    assert e.value.backup_id == short and "<id[0:2]>/<id[2:4]>/<id>" in str(e.value)
    assert driver.store.containers == {}
    kept = _backed_up(driver, short, b"\1" * 4096, container=f"mine/{short}")  # its own place
    assert kept.container == f"mine/{short}" and _restored(driver, kept) == b"\1" * 4096


def test_a_short_id_in_cinders_layout_is_found_where_cinder_put_it() -> None:
    """Cinder's POSIX driver puts ``b1`` in ``b1/b1`` (``os.path.join`` drops the empty
    ``id[2:4]``): reading it by id or by its record looks there, as writing would."""
    page = _page()
    driver = page["MemoryBackupDriver"](page["MemoryStore"]())
    volume = os.urandom(8192)
    made = _backed_up(driver, "b1", volume, container="elsewhere/b1")
    driver.store.containers["b1/b1"] = driver.store.containers.pop("elsewhere/b1")
    assert PosixBackupDriver.backup_dir_for("b1") == "b1/b1"
    assert _restored(driver, "b1") == volume
    assert _restored(driver, made.replace(container="b1/b1")) == volume
    assert driver.verify("b1").problems == ()
