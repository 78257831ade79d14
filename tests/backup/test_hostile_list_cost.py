"""``docket volume list`` costs N steps for a chain of N backups, not N².

The attack: whoever can write the backup storage writes a chain of empty incrementals (a
``_metadata`` and a ``_sha256file`` each, a few hundred bytes) tens of thousands long. Each
listed backup's size and status come from its parent chain, and each was worked out by
walking the whole chain again: 10,000 backups took 57 s to list, and 65,000 (the longest
chain restore takes) most of an hour, on POSIX, Swift and S3 alike. Each chain is now worked
out once and remembered; every backup gets the verdict the step-by-step walk gives.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from docket.backup._catalog import Found, with_chains
from docket.backup._layout import gib
from docket.backup._model import BackupSummary
from tests._hostile_storage import FULL, driver, make_backup, object_path, rewrite, volume_bytes

pytestmark = pytest.mark.usefixtures("never_blocks")


def _walk(item: Found, found: dict[str, Found], where: str) -> BackupSummary:
    """The chain's verdict walked step by step (what ``list`` said before)."""
    summary = item.summary
    if summary.status != "available":
        return summary
    end, seen, parent_id = item.end, {summary.backup_id}, summary.parent_id

    def invalid(problem: str) -> BackupSummary:
        return replace(summary, status="invalid", problem=problem)

    while parent_id is not None:
        if parent_id not in found:
            return invalid(f"parent backup {parent_id} is not {where}")
        up = found[parent_id]
        if up.summary.status != "available":
            return invalid(f"parent backup {parent_id} is {up.summary.status}")
        if up.summary.volume_id != summary.volume_id:
            return invalid(f"parent backup {parent_id} is of another volume")
        if parent_id in seen:
            return invalid(f"the parent chain loops back to backup {parent_id}")
        seen.add(parent_id)
        end = max(end, up.end)
        parent_id = up.summary.parent_id
    return replace(summary, size=gib(end))


def _found(backup_id: str, parent_id: str | None, **kw: Any) -> Found:
    end = kw.pop("end", 0)
    summary = BackupSummary(
        backup_id=backup_id,
        status=kw.pop("status", "available"),
        container=backup_id,
        volume_id=kw.pop("volume_id", "v1"),
        parent_id=parent_id,
    )
    return Found(summary, end)


@pytest.mark.parametrize("seed", range(300))
def test_every_backup_gets_the_step_by_step_verdict(seed: int) -> None:
    """Any parent graph (loops, loops entered from outside, missing and broken parents,
    other volumes), in any order."""
    rng = random.Random(seed)
    n = rng.randint(1, 12)
    ids = [f"b{i}" for i in range(n)]
    items = [
        _found(
            backup_id,
            rng.choice([None, f"gone{i}", *ids]),
            status=rng.choice(["available"] * 5 + ["invalid", "partial"]),
            volume_id=rng.choice(["v1"] * 6 + ["v2"]),
            end=rng.randint(0, 5 << 30),
        )
        for i, backup_id in enumerate(ids)
    ]
    found = {item.summary.backup_id: item for item in items}
    rng.shuffle(items)
    assert with_chains(items, found, "in x") == [_walk(item, found, "in x") for item in items]


class _Counting(dict[str, Found]):
    lookups = 0

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.lookups += 1
        return super().get(key, default)


def _chain_lookups(n: int) -> int:
    items = [_found(f"c{i}", f"c{i - 1}" if i else None, end=i) for i in range(n)]
    found = _Counting({item.summary.backup_id: item for item in items})
    listed = with_chains(reversed(items), found)
    assert [s.status for s in listed] == ["available"] * n
    assert listed[0].size == gib(n - 1)
    return found.lookups


def test_a_long_chain_costs_a_step_per_backup() -> None:
    n = 2000
    assert _chain_lookups(n) <= n
    assert _chain_lookups(2 * n) <= 2 * n


def test_a_listed_chain_that_loops(tmp_path: Path) -> None:
    """Through a real root: a full backup, three incrementals, and the full one's parent
    rewritten to the newest (a loop of four) reads as four invalid backups, each naming
    itself."""
    root = tmp_path / "root"
    data = volume_bytes()
    make_backup(root, tmp_path, data)
    parent = FULL
    chain = [FULL]
    for i in range(3):
        parent = make_backup(root, tmp_path, data, f"aa11bb22-i{i}", parent_id=parent).id
        chain.append(parent)
    rewrite(object_path(root, FULL, "_metadata"), lambda m: m.update(parent_id=chain[-1]))
    listed = {s.backup_id: s for s in driver(root).list_backups()}
    assert {b: (listed[b].status, listed[b].problem) for b in chain} == {
        b: ("invalid", f"the parent chain loops back to backup {b}") for b in chain
    }
