"""docs/backup-drivers.md, "Adding a store" and "A store of your own, in a shared container":
the in-memory store the page shows keeps the protocol by the kit, and the two drivers over it
back up, verify, restore, list, find and delete exactly as the page says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from docket.backup import FileTooLarge, InvalidBackup
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
