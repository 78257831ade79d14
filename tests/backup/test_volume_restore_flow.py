"""``volume restore`` runs one way: the containers checked before a byte is written are the ones
restored, through the metadata API's ``put_many``, after the data is written."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docket import Container, load_registry
from docket.backup import Backup, MetadataAPI, PosixBackupDriver

VOLUME_ID = "4a3b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c1d"
FIRST = '{"version": 2, "volume-base-metadata": {"display_name": "vol-1"}}'
SECOND = '{"version": 2, "volume-base-metadata": {"display_name": "vol-2"}}'
REGISTRY = load_registry()


class BatchAPI:
    """A metadata API with ``put_many``; records what each call was given and what the
    restore target held at that moment."""

    def __init__(self, target: io.BytesIO) -> None:
        self.container = FIRST
        self.target = target
        self.batches: list[list[tuple[str, Any]]] = []
        self.seen: list[bytes] = []

    def get(self, volume_id: str) -> str:
        return self.container

    def put(self, volume_id: str, json_metadata: str | bytes) -> Any:
        raise AssertionError("a restore with put_many calls put_many")

    def put_many(self, items: Sequence[tuple[str, Container]]) -> list[str]:
        self.batches.append(list(items))
        self.seen.append(self.target.getvalue())
        return [f"done {i}" for i, _ in enumerate(items)]


def _volume(path: Path, seed: int) -> bytes:
    data = random.Random(seed).randbytes(3 * 32768 + 100)
    path.write_bytes(data)
    return data


def test_restore_hands_the_checked_containers_to_put_many_after_the_data(tmp_path: Path) -> None:
    target = io.BytesIO()
    api = BatchAPI(target)
    assert isinstance(api, MetadataAPI)
    d = PosixBackupDriver(tmp_path / "root", api, registry=REGISTRY, chunk_size=32768)
    vol = tmp_path / "vol"
    _volume(vol, 1)
    d.backup(Backup(id="f1ow-1", volume_id=VOLUME_ID), vol)
    api.container = SECOND
    data = _volume(vol, 2)
    d.backup(Backup(id="f1ow-2", volume_id=VOLUME_ID, parent_id="f1ow-1"), vol)

    report = d.restore("f1ow-2", "target", target)

    # One call, the chain oldest first, loaded containers (not text to load again).
    assert len(api.batches) == 1
    (batch,) = api.batches
    assert [volume for volume, _ in batch] == ["target", "target"]
    containers = [c for _, c in batch]
    assert all(isinstance(c, Container) for c in containers)
    assert [c.data["volume-base-metadata"]["display_name"] for c in containers] == [
        "vol-1",
        "vol-2",
    ]
    # The data was in place when the database was written.
    assert api.seen == [data]
    assert report.metadata == (("f1ow-1", "done 0"), ("f1ow-2", "done 1"))


def test_a_refused_batch_leaves_a_new_target_path_absent(tmp_path: Path) -> None:
    class Refusing(BatchAPI):
        def put_many(self, items: Sequence[tuple[str, Container]]) -> list[str]:
            raise RuntimeError("the database refused")

    api = Refusing(io.BytesIO())
    d = PosixBackupDriver(tmp_path / "root", api, registry=REGISTRY, chunk_size=32768)
    vol = tmp_path / "vol"
    _volume(vol, 3)
    d.backup(Backup(id="f1ow-3", volume_id=VOLUME_ID), vol)
    out = tmp_path / "out"
    try:
        d.restore("f1ow-3", "target", out)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the refusal did not reach the caller")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] != [] and not any(
        p.name.startswith(".out") for p in tmp_path.iterdir()
    )
