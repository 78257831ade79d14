"""What restoring a container writes, explained (docket.core.explain, behind ``docket inspect``)."""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket import load_registry
from docket.core.errors import ValidationError, VersionError
from docket.core.explain import explain_restore, restore_changes
from docket.core.family import Container
from docket.core.policy import Mode
from docket.testing import containers
from tests.cli.test_commands import cinder

REGISTRY = load_registry()
BM = REGISTRY.family("backup-metadata")


# One strategy per version, built once (when first drawn from, not as the module is collected):
# building one costs more than drawing from it.
@functools.cache
def bm_containers(version: int) -> st.SearchStrategy[Container]:
    return containers(BM, version)


def test_a_container_is_explained_at_the_version_it_was_written_at() -> None:
    data = json.dumps(cinder(1)).encode()
    found = explain_restore(BM, data)
    container = BM.load(data, to=1)
    plan = BM.restore_policy(container).plan(container)
    assert (found.family, found.version, found.current) == ("backup-metadata", 1, BM.current)
    assert found.policy_version == 1 and found.ok and found.refused is None
    assert found.sections == {name: len(v) for name, v in container.sections().items()}
    assert {w.section: set(w.fields) for w in found.writes} == {
        name: set(w.values) for name, w in plan.sections.items()
    }
    assert {w.section: w.mode for w in found.writes}["volume-metadata"] is Mode.REPLACE
    base = {w.section: w for w in found.writes}["volume-base-metadata"]
    assert "bootable" in base.set_by_rules  # a rule's value, not the backed-up one
    left = {(d.section, d.field) for d in found.left_out}
    assert ("volume-base-metadata", "encryption_key_id") in left
    assert ("volume-base-metadata", "bootable") not in left
    assert (found.digest, found.signature) == ("none", "none")


def test_a_broken_digest_is_explained_and_an_invalid_container_raises() -> None:
    sealed = json.loads(BM.dump(BM.load(json.dumps(cinder(2)))))
    sealed["volume-metadata"]["fee"] = "changed"
    found = explain_restore(BM, sealed)
    assert found.digest == "mismatch" and not found.ok
    assert [i.keyword for i in found.problems] == ["digest"]
    with pytest.raises(ValidationError):
        explain_restore(BM, cinder(2, size="big"))
    with pytest.raises(VersionError):
        explain_restore(BM, {**cinder(2), "version": 9})


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_what_is_written_and_what_is_left_out_never_overlap(data: st.DataObject) -> None:
    version = data.draw(st.sampled_from(BM.versions))
    container: Container = data.draw(bm_containers(version))
    found = explain_restore(BM, container.data)
    assert found.version == version
    written = {(w.section, f) for w in found.writes for f in w.fields}
    assert not written & {(d.section, d.field) for d in found.left_out}
    for write in found.writes:
        assert set(write.set_by_rules) <= set(write.fields)


def test_a_migration_names_what_its_restore_writes_differently() -> None:
    v1 = BM.load(json.dumps(cinder(1)), to=1)
    v2 = BM.load(BM.dump(BM.upgrade(v1, 2), version=2), to=2)  # as written at version 2
    [wider] = restore_changes(BM, v1, v2)
    assert "also restores" in wider and "encryption_key_id" in wider
    assert restore_changes(BM, v1, v1) == []
