"""Restore policies and rules, without a database: what a restore would write."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import docket
import docket.errors
from tests.strategies import backup_metadata_v1v2

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schemas"
BM = docket.load_registry().family("backup-metadata")
NOTES = docket.load_registry(FIXTURES).family("notes")
TYPE_A = "11111111-1111-1111-1111-111111111111"
TYPE_B = "22222222-2222-2222-2222-222222222222"
KEY = "33333333-3333-3333-3333-333333333333"


@dataclass
class FakeTarget:
    row: Mapping[str, Any]
    types: set[str] = field(default_factory=set)

    def exists(self, kind: str, key: Any) -> bool:
        return kind == "volume_types" and key in self.types


def restore(container: dict[str, Any], target: FakeTarget | None = None) -> dict[str, Any]:
    c = BM.load(container)
    return BM.restore_policy(c).filter(c, target)


def base(**fields: Any) -> dict[str, Any]:
    return {"id": "vol", **fields}


def test_v1_restores_name_and_description_only() -> None:
    out = restore(
        {
            "version": 1,
            "volume-base-metadata": base(
                display_name="n",
                display_description="d",
                encryption_key_id=KEY,
                status="error",
                host="evil",
                project_id="p",
                volume_type_id=TYPE_A,
            ),
        }
    )
    assert out == {"volume-base-metadata": {"display_name": "n", "display_description": "d"}}


def test_v1_never_restores_encryption_key_even_after_upgrade() -> None:
    c = BM.load(
        {"version": 1, "volume-base-metadata": base(encryption_key_id=KEY, volume_type_id=TYPE_A)}
    )
    assert c.version == 3
    assert "encryption_key_id" not in BM.restore_policy(c).filter(c)["volume-base-metadata"]
    assert "encryption_key_id" in BM.policy(3).filter(c)["volume-base-metadata"]


def test_v2_restores_the_encryption_key() -> None:
    out = restore(
        {
            "version": 2,
            "volume-base-metadata": base(
                display_name="n", encryption_key_id=KEY, volume_type_id=TYPE_A
            ),
        }
    )
    assert out["volume-base-metadata"] == {"display_name": "n", "encryption_key_id": KEY}


@pytest.mark.parametrize(
    ("target_name", "restored"),
    [(None, True), ("", True), ("restore_backup_123", True), ("my volume", False)],
)
def test_display_name_rule_and_target_name(target_name: str | None, restored: bool) -> None:
    out = restore(
        {"version": 2, "volume-base-metadata": base(display_name="n", display_description="d")},
        FakeTarget({"display_name": target_name}),
    )
    expected = {"display_name": "n", "display_description": "d"} if restored else {}
    assert out["volume-base-metadata"] == expected


@pytest.mark.parametrize("name", [None, ""])
def test_empty_backed_up_name_restores_neither(name: str | None) -> None:
    out = restore(
        {"version": 2, "volume-base-metadata": base(display_name=name, display_description="d")}
    )
    assert out["volume-base-metadata"] == {}


def test_section_without_display_name_restores_the_description() -> None:
    out = restore(
        {"version": 2, "volume-base-metadata": base(display_description="d")},
        FakeTarget({"display_name": "mine"}),
    )
    assert out["volume-base-metadata"] == {"display_description": "d"}


def test_volume_type_rule_same_type() -> None:
    out = restore(
        {"version": 2, "volume-base-metadata": base(encryption_key_id=KEY, volume_type_id=TYPE_A)},
        FakeTarget({"volume_type_id": TYPE_A}),
    )
    assert out["volume-base-metadata"] == {"encryption_key_id": KEY}


def test_volume_type_rule_target_without_type_takes_the_source_type() -> None:
    out = restore(
        {"version": 2, "volume-base-metadata": base(encryption_key_id=KEY, volume_type_id=TYPE_A)},
        FakeTarget({"volume_type_id": None}, {TYPE_A}),
    )
    assert out["volume-base-metadata"] == {"encryption_key_id": KEY, "volume_type_id": TYPE_A}


def test_volume_type_rule_source_type_gone() -> None:
    with pytest.raises(docket.RestoreRefused, match="no longer exists"):
        restore(
            {
                "version": 2,
                "volume-base-metadata": base(encryption_key_id=KEY, volume_type_id=TYPE_A),
            },
            FakeTarget({"volume_type_id": None}),
        )


def test_volume_type_rule_different_type_is_refused() -> None:
    with pytest.raises(docket.RestoreRefused) as info:
        restore(
            {
                "version": 2,
                "volume-base-metadata": base(encryption_key_id=KEY, volume_type_id=TYPE_A),
            },
            FakeTarget({"volume_type_id": TYPE_B}),
        )
    assert info.value.path == '$["volume-base-metadata"]["volume_type_id"]'


def test_volume_type_rule_needs_the_source_type() -> None:
    with pytest.raises(docket.RestoreRefused, match="no volume_type_id"):
        restore({"version": 2, "volume-base-metadata": base(encryption_key_id=KEY)})


def test_null_key_skips_the_volume_type_rule() -> None:
    out = restore(
        {"version": 2, "volume-base-metadata": base(encryption_key_id=None)},
        FakeTarget({"volume_type_id": TYPE_B}),
    )
    assert out["volume-base-metadata"] == {"encryption_key_id": None}


def test_glance_section_replaces_and_sets_bootable_even_when_empty() -> None:
    c = BM.load({"version": 2, "volume-base-metadata": base(), "volume-glance-metadata": {}})
    plan = BM.restore_policy(c).plan(c)
    assert plan.sections["volume-glance-metadata"].mode is docket.Mode.REPLACE
    assert plan.sections["volume-glance-metadata"].values == {}
    assert plan.sections["volume-base-metadata"].values == {"bootable": True}


def test_no_glance_section_leaves_bootable_alone() -> None:
    out = restore({"version": 2, "volume-base-metadata": base(bootable=True)})
    assert "bootable" not in out["volume-base-metadata"]


def test_volume_metadata_replaces() -> None:
    c = BM.load({"version": 1, "volume-base-metadata": base(), "volume-metadata": {"a": "1"}})
    plan = BM.restore_policy(c).plan(c)
    assert plan.sections["volume-metadata"].mode is docket.Mode.REPLACE
    assert plan.sections["volume-metadata"].values == {"a": "1"}


def test_dropped_fields_are_reported_with_reasons() -> None:
    c = BM.load({"version": 2, "volume-base-metadata": base(display_name="", status="x")})
    plan = BM.restore_policy(c).plan(c)
    reasons = {d.field: d.reason for d in plan.dropped}
    assert reasons["status"] == "not in the restore allowlist"
    assert reasons["display_name"] == "the backed-up name is empty"
    assert plan.dropped[0].path.startswith('$["volume-base-metadata"]')


def test_unknown_field_reject_and_rename_carry_the_allowlist() -> None:
    c = NOTES.load({"version": 1, "note": {"title": "t", "body": "b", "author": "a"}})
    out = NOTES.restore_policy(c).filter(c)
    assert out["note"] == {"title": "t", "text": "b"}


def test_unknown_field_reject_refuses() -> None:
    c = NOTES.load({"version": 2, "family": "notes", "note": {"title": "t", "priority": 1}})
    odd = docket.Container("notes", 2, {**c.data, "note": {**c.data["note"], "x": 1}}, 2)
    with pytest.raises(docket.errors.UnknownField) as info:
        NOTES.policy(2).filter(odd)
    assert info.value.path == '$["note"]["x"]'


@given(backup_metadata_v1v2(), st.sampled_from([None, "", "named", "restore_backup_x"]))
def test_filter_only_yields_writable_fields(obj: dict[str, Any], target_name: str | None) -> None:
    c = BM.load(obj)
    policy = BM.restore_policy(c)
    row = {
        "display_name": target_name,
        "volume_type_id": obj["volume-base-metadata"].get("volume_type_id"),
    }
    source = obj["volume-base-metadata"]
    if obj["version"] == 2 and source.get("encryption_key_id") and "volume_type_id" not in source:
        with pytest.raises(docket.RestoreRefused):
            policy.filter(c, FakeTarget(row))
        return
    out = policy.filter(c, FakeTarget(row))
    allowed = {"display_name", "display_description", "bootable", "volume_type_id"}
    if obj["version"] == 2:
        allowed.add("encryption_key_id")
    assert set(out.get("volume-base-metadata", {})) <= allowed
    assert set(out) <= {"volume-base-metadata", "volume-metadata", "volume-glance-metadata"}
    writable = policy.writable()
    assert writable is None  # the metadata sections restore every key


def test_writable_lists_allowlist_and_rule_writes() -> None:
    policy = NOTES.policy(1)
    assert policy.writable() is None
    assert policy.restorable() == {"note": ("title", "body"), "tags": None}


@given(backup_metadata_v1v2())
def test_a_field_a_rule_writes_is_not_also_left_out(data: dict[str, Any]) -> None:
    c = BM.load(data, to=data["version"])
    try:
        plan = BM.restore_policy(c).plan(c)
    except docket.RestoreRefused:
        return
    written = {(name, key) for name, w in plan.sections.items() for key in w.values}
    assert not {(d.section, d.field) for d in plan.left_out} & written
    # what the filter left out, rules aside, stays as the conformance suite's restore level
    # defines ``dropped``; left_out is it without what the plan writes
    assert plan.left_out == [d for d in plan.dropped if (d.section, d.field) not in written]


def test_bootable_set_by_a_rule_is_not_listed_as_left_out() -> None:
    glance = {"disk_format": "bare"}  # a volume made from an image: the rule sets bootable
    data = {"version": 1, "volume-base-metadata": base(bootable=False)}
    c = BM.load({**data, "volume-glance-metadata": glance}, to=1)
    plan = BM.restore_policy(c).plan(c)
    assert plan.sections["volume-base-metadata"].values["bootable"] is True
    assert "bootable" not in {d.field for d in plan.left_out}
