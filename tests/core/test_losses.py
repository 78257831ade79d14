"""Loss reports (issue 22): a migration that drops or changes a value the container holds is
refused unless lossy is allowed, in both directions, and the losses are always named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import docket
from docket import load_registry
from docket.cli import commands
from docket.core.explain import migrate_and_explain
from docket.core.family import Migrated
from docket.core.losses import DataLoss, LossKind
from tests._disks_family import write_disks
from tests.cli.test_commands import BM, Run, cinder

INTERNAL_ID = '$["disk"]["internal_id"]'
TIER = '$["disk"]["tier"]'


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_disks(tmp_path_factory.mktemp("schemas"))


@pytest.fixture(scope="module")
def disks(schemas: Path) -> docket.Family:
    return load_registry(schemas).family("disks")


def _file(tmp_path: Path, name: str, data: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _migrate(schemas: Path, path: str, to: str, **kw: Any) -> tuple[int, Run]:
    run = Run()
    code = commands.migrate(path, to=to, family="disks", schemas=schemas, **kw, **run.kw)
    return code, run


C1 = {"version": 1, "disk": {"name": "d", "size_gb": 3, "internal_id": 42}}


# --- the command ---------------------------------------------------------------------------


def test_an_upgrade_that_drops_a_held_value_is_refused_naming_its_path(
    schemas: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    code, run = _migrate(schemas, _file(tmp_path, "c1.json", C1), "3", output=str(out))
    assert code == 1 and not out.exists() and run.out == ""
    assert INTERNAL_ID in run.err and "42" in run.err
    assert "--allow-lossy" in run.err


def test_allowed_losses_are_still_named(schemas: Path, tmp_path: Path) -> None:
    code, run = _migrate(schemas, _file(tmp_path, "c1.json", C1), "3", allow_lossy=True)
    assert code == 0
    assert json.loads(run.out)["disk"] == {"name": "d", "size": 3}
    assert f"warning: lossy: {INTERNAL_ID}" in run.err


def test_losses_in_the_json_output(schemas: Path, tmp_path: Path) -> None:
    path = _file(tmp_path, "c1.json", C1)
    code, run = _migrate(schemas, path, "3", allow_lossy=True, output_format="json")
    assert code == 0
    report = json.loads(run.out)
    assert report["container"]["disk"] == {"name": "d", "size": 3}
    assert report["source"] == 1 and report["target"] == 3 and report["refused"] is False
    [loss] = report["losses"]
    assert loss["path"] == INTERNAL_ID and loss["pointer"] == "/disk/internal_id"
    assert loss["reason"] == "removed" and loss["value"] == 42
    code, run = _migrate(schemas, path, "3", output_format="json")
    assert code == 1
    refused = json.loads(run.out)
    assert refused["refused"] is True and refused["container"] is None
    assert [x["path"] for x in refused["losses"]] == [INTERNAL_ID]


@pytest.mark.parametrize(
    ("data", "to"),
    [
        ({"version": 1, "disk": {"name": "d", "size_gb": 3}}, "3"),  # nothing to drop
        ({"version": 1, "disk": {"name": "d", "internal_id": None}}, "3"),  # given back as is
        ({"version": 3, "disk": {"name": "d", "size": 3}}, "2"),  # v3 cannot hold internal_id
        ({"version": 3, "disk": {"name": "d", "size": 3}}, "1"),
    ],
)
def test_a_container_with_nothing_to_lose_migrates_without_the_flag(
    schemas: Path, tmp_path: Path, data: dict[str, Any], to: str
) -> None:
    code, run = _migrate(schemas, _file(tmp_path, "c.json", data), to)
    assert code == 0, run.err
    assert "lossy" not in run.err


def test_a_downgrade_is_refused_for_the_values_it_drops_only(
    schemas: Path, tmp_path: Path
) -> None:
    data = {"version": 3, "disk": {"name": "d", "size": 3, "tier": "gold"}}
    code, run = _migrate(schemas, _file(tmp_path, "c3.json", data), "2")
    assert code == 1
    assert TIER in run.err and "internal_id" not in run.err


def test_a_declared_loss_counts_where_the_container_holds_a_value(tmp_path: Path) -> None:
    # backup-metadata declares its 2 -> 1 downgrade lossy for encryption_key_id.
    code = commands.migrate(_file(tmp_path, "v2.json", cinder(2)), to="1", **(run := Run()).kw)
    assert code == 1
    assert '$["volume-base-metadata"]["encryption_key_id"]' in run.err
    bare = _file(tmp_path, "bare.json", {"version": 2})
    assert commands.migrate(bare, to="1", **(run := Run()).kw) == 0, run.err
    # Family.downgrade keeps the declared-edge rule (the conformance suite's migrate level).
    with pytest.raises(docket.LossyMigration):
        BM.downgrade(BM.load({"version": 2}, to=2), 1)


def test_a_declared_rename_is_noted_as_a_rename(schemas: Path, tmp_path: Path) -> None:
    data = {"version": 1, "disk": {"name": "d", "size_gb": 3}}
    code, run = _migrate(schemas, _file(tmp_path, "c1.json", data), "3")
    assert code == 0
    assert "also restores" not in run.err and "no longer restores" not in run.err
    assert "disk.size_gb is renamed disk.size" in run.err


# --- the library ---------------------------------------------------------------------------


def test_family_migrate_refuses_with_the_report(disks: docket.Family) -> None:
    container = disks.load(C1, to=1)
    with pytest.raises(docket.LossyMigration) as info:
        disks.migrate(container, 3)
    [loss] = info.value.report
    assert isinstance(loss, DataLoss)
    assert loss.json_path == INTERNAL_ID and loss.segments == ("disk", "internal_id")
    assert loss.reason is LossKind.REMOVED and loss.value == 42
    assert INTERNAL_ID in str(info.value)
    done = disks.migrate(container, 3, allow_lossy=True)
    assert isinstance(done, Migrated)
    assert done.losses == info.value.report
    assert done.container.version == 3 and "internal_id" not in done.container.data["disk"]
    # to current by default; nothing to lose gives an empty report
    plain = disks.migrate(disks.load({"version": 1, "disk": {"name": "d"}}, to=1))
    assert plain.losses == () and plain.container.version == 3


def test_migrate_and_explain_reports_a_refusal_as_an_outcome(disks: docket.Family) -> None:
    """The library call behind `docket migrate`: refused or not, the same losses; the bytes
    and the restore notes only when it went through."""
    container = disks.load(C1, to=1)
    refused = migrate_and_explain(disks, container, 3)
    assert refused.refused and refused.data is None and refused.notes == ()
    assert [loss.json_path for loss in refused.losses] == [INTERNAL_ID]
    allowed = migrate_and_explain(disks, container, 3, allow_lossy=True)
    assert not allowed.refused and allowed.losses == refused.losses
    assert allowed.data is not None
    assert disks.load(allowed.data, to=3).data == disks.migrate(
        container, 3, allow_lossy=True
    ).container.data
    assert any("renamed" in note for note in allowed.notes)


def _disk_values(version: int) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        ("size_gb" if version == 1 else "size"): st.integers(0, 5),
    }
    if version < 3:
        optional["internal_id"] = st.none() | st.integers(-3, 3)
    else:
        optional["tier"] = st.sampled_from(["", "gold"])
    return st.fixed_dictionaries({"name": st.just("d")}, optional=optional)


@st.composite
def _containers(draw: st.DrawFn) -> dict[str, Any]:
    version = draw(st.sampled_from([1, 2, 3]))
    return {"version": version, "disk": draw(_disk_values(version))}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_containers(), to=st.sampled_from([1, 2, 3]))
def test_refused_iff_the_report_names_values_that_do_not_survive(
    disks: docket.Family, data: dict[str, Any], to: int
) -> None:
    container = disks.load(data, to=data["version"])
    report = disks.migrate(container, to, allow_lossy=True).losses
    there = disks.migrate(container, to, allow_lossy=True).container
    back = disks.migrate(there, data["version"], allow_lossy=True).container.data
    lost = {
        ("disk", k)
        for k, v in data["disk"].items()
        if k not in back["disk"] or json.dumps(back["disk"][k]) != json.dumps(v)
    }
    assert {loss.segments for loss in report} == lost
    assert all(loss.value == data["disk"][loss.segments[1]] for loss in report)
    if report:
        with pytest.raises(docket.LossyMigration):
            disks.migrate(container, to)
    else:
        assert disks.migrate(container, to).container == there


def test_operations_name_only_what_their_inverse_cannot_give_back() -> None:
    from docket.core.migrations import BUILTIN_CONVERTERS as C
    from docket.core.migrations import Convert, Map, Move, Rename

    merge = Map("s", "k", (("a", "x"), ("b", "x")))
    assert merge.drops({}, {"k": "a"}, C) == ()  # "x" maps back to "a"
    assert [d[:2] for d in merge.drops({}, {"k": "b"}, C)] == [(("s", "k"), LossKind.CHANGED)]
    to_naive = Convert("s", "t", "aware-utc-to-naive")
    assert to_naive.drops({}, {"t": "2026-01-02T03:04:05.000000Z"}, C) == ()
    [(place, kind, _)] = to_naive.drops({}, {"t": "2026-01-02T03:04:05+01:00"}, C)
    assert (place, kind) == (("s", "t"), LossKind.CONVERSION)
    assert [d[:2] for d in Rename("s", "a", "b").drops({}, {"a": 1, "b": 2}, C)] == [
        (("s", "b"), LossKind.CHANGED)
    ]
    data: dict[str, Any] = {"s": {"a": 1}, "t": {"a": 2}}
    assert [d[:2] for d in Move("s", "a", "t").drops(data, data["s"], C)] == [
        (("t", "a"), LossKind.CHANGED)
    ]
