"""Migrations that are what they claim: static checks (docket.core.soundness), the two-sided
property, restore policies of downgraded containers, fast failures, and the smaller items of
issue 14."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings

import docket
from docket import load_registry, store
from docket.authoring import derive_operations
from docket.cli.check import check
from docket.cli.versions import diff
from docket.core.compat import diff_versions
from docket.core.migrations import Add, Convert, Remove, Rename
from docket.core.soundness import Unsoundness, check_family, mentions
from docket.errors import GraphError, UnsoundMigration
from docket.testing import (
    PropertyFailure,
    check_downgrade_inverse,
    check_round_trip,
    check_upgrade_valid,
    containers,
)
from tests import _volumes as vols
from tests._volumes_family import write_volumes

ROOT = Path(__file__).resolve().parents[2]
# Derandomized: the mistakes planted here must be found on every run, not on most.
FAST = settings(database=None, max_examples=60, deadline=None, derandomize=True)


def _family(tmp_path: Path, mistake: str) -> docket.Family:
    return load_registry(write_volumes(tmp_path, mistake), check_soundness=False).family("volumes")


def _only(findings: list[Unsoundness], kind: str) -> list[Unsoundness]:
    return [f for f in findings if f.kind == kind]


# --- static checks ---------------------------------------------------------------------------


def test_the_correct_family_is_sound_and_keeps_every_property(tmp_path: Path) -> None:
    family = load_registry(write_volumes(tmp_path)).family("volumes")
    assert check_family(family) == []
    check_round_trip(family, settings=FAST)


def test_an_exact_downgrade_that_drops_a_section_is_refused(tmp_path: Path) -> None:
    found = check_family(_family(tmp_path, "exact-but-lossy"))
    (lossy,) = _only(found, "exact-but-lossy")
    assert (lossy.source, lossy.target, lossy.edge) == (3, 2, "3 -> 2")
    assert lossy.json_path == '$["retention"]'
    assert lossy.operation == "downgrade operation 1: remove retention"
    assert "keep_days, legal_hold" in lossy.reason and "declare the downgrade lossy" in lossy.hint
    with pytest.raises(UnsoundMigration) as err:
        load_registry(tmp_path)
    assert isinstance(err.value, GraphError) and err.value.edge == (3, 2)
    assert str(err.value).startswith(
        'volumes: 3 -> 2: downgrade operation 1: remove retention: $["retention"]: '
        'the edge is declared exact, but the section "retention" is dropped'
    )


def test_a_rename_of_a_field_the_source_lacks_is_named_at_its_edge(tmp_path: Path) -> None:
    found = check_family(_family(tmp_path, "rename-nonexistent"))
    missing = _only(found, "missing-source")
    assert [(f.edge, f.json_path) for f in missing] == [("1 -> 2", '$["disk"]["sizegb"]')]
    assert missing[0].operation == "upgrade operation 1: rename disk.sizegb to size"
    assert "size_gb" in missing[0].hint  # the fields that are there
    # Its inverse renames to a field version 1 does not define.
    assert [(f.edge, f.json_path) for f in _only(found, "missing-result")] == [
        ("2 -> 1", '$["disk"]["sizegb"]')
    ]


def test_an_add_default_the_target_refuses_is_found_where_it_is_wrong(tmp_path: Path) -> None:
    found = check_family(_family(tmp_path, "bad-default"))
    (bad,) = found
    assert (bad.kind, bad.edge, bad.json_path) == (
        "invalid-value",
        "2 -> 3",
        '$["retention"]["keep_days"]',
    )
    assert "minimum of 0" in bad.reason and bad.operation == "upgrade operation 1: add retention"


def test_declared_losses_must_be_what_the_downgrade_loses(tmp_path: Path) -> None:
    found = check_family(_family(tmp_path, "mismatched-losses"))
    (undeclared,) = _only(found, "undeclared-loss")
    assert (undeclared.edge, undeclared.json_path) == ("3 -> 2", '$["retention"]')
    (stray,) = _only(found, "loss-not-found")
    assert stray.edge == "3 -> 2" and '"disk.name"' in stray.reason
    assert stray.json_path == '$["migration"]["downgrade"]["losses"][0]'


def test_a_lossy_edge_that_loses_nothing_is_told_to_be_exact(tmp_path: Path) -> None:
    root = write_volumes(tmp_path)
    doc = json.loads((root / "volumes" / "2.json").read_text())
    doc["migration"]["downgrade"] = {"operations": "inverse", "kind": "lossy", "losses": []}
    (root / "volumes" / "2.json").write_text(json.dumps(doc))
    found = check_family(load_registry(root, check_soundness=False).family("volumes"))
    assert [(f.kind, f.edge) for f in found] == [("loses-nothing", "2 -> 1")]


def test_a_merging_map_is_a_loss(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    shutil.copytree(ROOT / "tests" / "families" / "ledger", ledger)
    doc = json.loads((ledger / "3.json").read_text())
    doc["schema"]["properties"]["entry"]["properties"]["status"]["enum"].append("void")
    (ledger / "3.json").write_text(json.dumps(doc))
    found = check_family(load_registry(tmp_path, check_soundness=False).family("ledger"))
    merges = [f for f in found if "values merge" in f.reason]
    assert merges and merges[0].edge == "3 -> 2" and merges[0].json_path == '$["entry"]["status"]'


def test_declared_losses_name_places_by_dotted_or_leading_names() -> None:
    assert mentions("retention", "retention.keep_days")
    assert mentions("person.email is dropped", "person.email")
    assert mentions(
        "volume-base-metadata.encryption_key_id is no longer restored",
        "volume-base-metadata.encryption_key_id",
    )
    assert not mentions("the downgrade is declared lossy", "retention")


def test_the_bundled_and_test_families_are_sound() -> None:
    for registry in (load_registry(), load_registry(ROOT / "tests" / "families")):
        for name in registry.families():
            assert check_family(registry.family(name)) == [], name


def test_docket_check_lists_each_finding_with_its_edge(tmp_path: Path) -> None:
    write_volumes(tmp_path, "mismatched-losses")
    out, err = io.StringIO(), io.StringIO()
    assert check(tmp_path, stdout=out, stderr=err) == 1
    text = out.getvalue()
    assert "volumes: soundness: " in text
    assert 'volumes: 3 -> 2: downgrade operation 1: remove retention: $["retention"]' in text
    assert "3.json" in text
    assert "1 family, 3 version(s), 0 golden container(s): 2 finding(s)" in text


def test_a_json_typo_is_a_document_error_with_line_and_column(tmp_path: Path) -> None:
    root = write_volumes(tmp_path)
    path = root / "volumes" / "2.json"
    path.write_text(path.read_text().replace('"version": 2,', '"version": 2', 1))
    out = io.StringIO()
    assert check(tmp_path, stdout=out, stderr=io.StringIO()) == 1
    text = out.getvalue()
    assert "volumes: document: " in text
    assert "invalid JSON at line 4, column 3: Expecting ',' delimiter" in text
    assert "cannot parse container" not in text
    assert "3 version(s)" in text and "0 version(s)" not in text
    with pytest.raises(docket.SchemaDocumentError) as caught:
        load_registry(tmp_path)
    assert "line 4, column 3" in str(caught.value)


# --- the two-sided property ------------------------------------------------------------------


def test_the_two_sided_property_catches_the_exact_but_lossy_downgrade(tmp_path: Path) -> None:
    family = _family(tmp_path, "exact-but-lossy")
    with pytest.raises(PropertyFailure) as err:
        check_downgrade_inverse(family, settings=FAST)
    text = str(err.value)
    assert "the edge 3 -> 2 is declared exact, but upgrade(downgrade(y)) differs" in text
    assert "/retention/" in text and "1 -> 3" not in text


def test_on_a_lossy_edge_only_the_declared_losses_may_differ(tmp_path: Path) -> None:
    family = _family(tmp_path, "mismatched-losses")
    with pytest.raises(PropertyFailure) as err:
        check_downgrade_inverse(family, settings=FAST)
    assert "the edge 3 -> 2 loses retention" in str(err.value)
    assert "which its declared losses do not name" in str(err.value)


# --- restore policies of downgraded containers -------------------------------------------------

BM = load_registry().family("backup-metadata")
KEY_ID = "6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"


def _v3(**base: Any) -> docket.Container:
    section = {"display_name": "vol", "encryption_key_id": KEY_ID, "volume_type_id": vols.TYPE_GOLD}
    return BM.new({"volume-base-metadata": {**section, **base}})


def test_restore_policy_of_a_downgraded_container_is_the_intersection() -> None:
    down = BM.downgrade(_v3(), 1, allow_lossy=True)
    assert (down.version, down.written_version, down.floor) == (1, 3, 1)
    policy = BM.restore_policy(down)  # no longer raises
    assert policy.restorable()["volume-base-metadata"] == ("display_name", "display_description")
    assert BM.restore_policy(down).filter(down)["volume-base-metadata"] == {"display_name": "vol"}
    # Upgraded back, it still restores only what version 1 would.
    again = BM.upgrade(down)
    assert again.floor == 1
    assert "encryption_key_id" not in BM.restore_policy(again).filter(again)["volume-base-metadata"]


def test_a_policy_is_carried_back_across_a_rename(tmp_path: Path) -> None:
    family = load_registry(write_volumes(tmp_path)).family("volumes")
    c = family.new(
        {
            "disk": {"name": "a", "size": 3, "secret": "s"},
            "retention": {"legal_hold": True, "keep_days": 1},
        },
        version=3,
    )
    down = family.downgrade(c, 1, allow_lossy=True)
    assert family.restore_policy(down).filter(down) == {"disk": {"name": "a", "size_gb": 3}}


def test_put_of_a_downgraded_container_restores_no_field_the_older_policy_leaves_out(
    db_engine: sa.Engine,
) -> None:
    down = BM.downgrade(_v3(), 2, allow_lossy=True)
    older = BM.downgrade(_v3(), 1, allow_lossy=True)
    vols.types(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    dst = "8a7b6c5d-4e3f-4a2b-9c1d-0e1f2a3b4c5d"
    vols.volume(db_engine, dst, name=f"restore_backup_{dst}", type_id=None)
    result = api.put(dst, older)
    row = vols.row(db_engine, dst)
    assert row["encryption_key_id"] is None and row["display_name"] == "vol"
    assert any(d.field == "encryption_key_id" for d in result.dropped)
    vols.clear_volume(db_engine, dst)
    # Version 2's policy restores the key: a container only downgraded to 2 keeps it.
    vols.volume(db_engine, dst, name=f"restore_backup_{dst}", type_id=None)
    api.put(dst, down)
    assert vols.row(db_engine, dst)["encryption_key_id"] == KEY_ID


# --- containers, strategies, diff --------------------------------------------------------------


def test_the_library_s_own_container_is_accepted_where_data_is() -> None:
    c = _v3()
    assert BM.validate(c) == []
    assert BM.detect(c) == 3
    down = BM.downgrade(c, 2)
    loaded = BM.load(down)  # checked again and upgraded; the written version is kept
    assert loaded.version == 3 and loaded.written_version == 3
    assert down.version == 2  # the caller's container is left alone

    @settings(max_examples=5, database=None)
    @given(containers(BM, 2))
    def each(x: docket.Container) -> None:
        assert BM.validate(x) == []

    each()


# A statistic of the strategy over 120 draws a version (11 s of CPU): a meta-test, in the long
# group with the others (.ci/run), not in the default run.
@pytest.mark.slow
@pytest.mark.parametrize("version", [1, 2, 3])
def test_map_sections_are_non_empty_in_most_examples(version: int) -> None:
    seen: list[docket.Container] = []

    @settings(
        max_examples=120,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(containers(BM, version))
    def collect(c: docket.Container) -> None:
        seen.append(c)

    collect()
    for section in ("volume-metadata", "volume-glance-metadata"):
        full = sum(1 for c in seen if c.data.get(section))
        assert full > 0.7 * len(seen), (section, full, len(seen))


def test_diff_shows_the_declared_downgrade_and_a_new_section_s_policy(tmp_path: Path) -> None:
    family = load_registry(write_volumes(tmp_path)).family("volumes")
    result = diff_versions(family, 2, 3)
    assert result.migration == ("2 -> 3: upgrade", "3 -> 2: lossy downgrade: retention (declared)")
    out = io.StringIO()
    assert diff("volumes", "2", "3", stdout=out, stderr=io.StringIO(), schemas=tmp_path) == 0
    assert (
        "retention: no policy (not restored) -> restores every field (mode update, unknown "
        "fields drop)" in out.getvalue()
    )


def test_update_derives_operations_from_the_schema_difference() -> None:
    old = {
        "type": "object",
        "properties": {
            "version": {"const": 1},
            "disk": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "size_gb": {"type": "integer"},
                    "sku": {"type": "integer"},
                    "old": {"type": "string"},
                },
            },
        },
    }
    new = json.loads(json.dumps(old))
    disk = new["properties"]["disk"]["properties"]
    disk["size"] = disk.pop("size_gb")
    disk["sku"] = {"type": "string"}
    del disk["old"]
    disk["tier"] = {"type": "string", "default": "gold"}
    new["properties"]["disk"]["required"] = ["name", "tier"]
    up, down = derive_operations(old, new, [("disk.size_gb", "disk.size")], frozenset({"version"}))
    assert up == [
        Rename("disk", "size_gb", "size"),
        Convert("disk", "sku", "int-to-string"),
        Add("disk", "tier", "gold"),
        Remove("disk", "old", None),
    ]
    assert down[0] == Remove("disk", "tier", "gold") and down[-1] == Rename(
        "disk", "size", "size_gb"
    )


# --- fast failures -------------------------------------------------------------------------

FAILING_CALL_SECONDS = 0.2
"""How long a failing call of the slow migrations below sleeps."""


def most_failing_calls(bound: float, each: float) -> int:
    """The failing calls a property may make when each takes at least ``each`` seconds and
    shrinking stops ``bound`` seconds after the first failure: the first, those that fit in
    the bound, and the one under way when it passes. Without the bound, hypothesis shrinks
    on (minutes of such calls)."""
    return 1 + int(bound / each) + 1


SLOW_CONFTEST = """
import time
from pathlib import Path
from docket import Migration, load_registry
from docket.core.codec import canonical

def slow_and_broken(data):
    if len(canonical(data)) > 60:
        with open(Path(__file__).with_name("failed.log"), "a") as log:
            log.write("failed\\n")  # counted by the test
        time.sleep(2.0)  # every failing example is slow: shrinking would take minutes
        raise ValueError("this upgrade breaks on anything but tiny containers")
    data["item"]["color"] = "red"
    return data

def back(data):
    data["item"].pop("color", None)
    return data

def pytest_docket_registry(config, path):
    return load_registry(path, migrations=[Migration("toy", 1, 2, slow_and_broken, back)])
"""


def test_shrinking_stops_at_the_bound_and_reports_the_smallest_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from tests._toy_family import write_toy

    failed = 0

    def slow_and_broken(data: dict[str, Any]) -> dict[str, Any]:
        nonlocal failed
        if len(json.dumps(data)) > 60:
            failed += 1
            time.sleep(FAILING_CALL_SECONDS)
            raise ValueError("breaks on anything but tiny containers")
        data["item"]["color"] = "red"
        return data

    write_toy(tmp_path, "non-deterministic")
    family = load_registry(
        tmp_path, migrations=[docket.Migration("toy", 1, 2, slow_and_broken)]
    ).family("toy")
    monkeypatch.setenv("DOCKET_SHRINK_SECONDS", "1")
    with pytest.raises(PropertyFailure) as err:
        check_upgrade_valid(family, settings=settings(database=None, deadline=None))
    # Counted, not timed: each failing call sleeps its time at least, so within the bound
    # after the first failure only so many can start (a loaded machine makes fewer).
    assert 1 <= failed <= most_failing_calls(1, FAILING_CALL_SECONDS), failed
    notes = "\n".join(getattr(err.value, "__notes__", ()))
    assert "shrinking stopped after 1 s" in notes
    assert "Container(family='toy', version=1" in notes


@pytest.mark.slow
def test_a_broken_family_reports_its_first_failing_property_fast(tmp_path: Path) -> None:
    # Measured in a child process: a user's `pytest --docket-schemas=... -x`, default settings.
    sys.path.insert(0, str(ROOT / "tests"))
    from tests._toy_family import write_toy

    write_toy(tmp_path / "schemas", "non-deterministic")  # its v2 document has no migration
    (tmp_path / "conftest.py").write_text(textwrap.dedent(SLOW_CONFTEST))
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKET_SHRINK_SECONDS",)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--docket-schemas=schemas",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert 'property "dump-load" failed for family "toy"' in out
    assert "shrinking stopped after 10 s" in out, out[-3000:]
    # Counted, not timed: the first failing property stops the run (-x), and its shrinking
    # stops at the default bound of 10 s.
    failed = (tmp_path / "failed.log").read_text().count("failed")
    assert 1 <= failed <= most_failing_calls(10, 2.0), failed
