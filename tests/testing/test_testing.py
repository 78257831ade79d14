"""docket.testing: strategies derived from schemas, invalid containers, properties, golden files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import docket
import docket.errors
import docket.testing
from docket import Family, load_registry
from docket.core.codec import canonical
from docket.core.migrations import BUILTIN_CONVERTERS
from docket.testing import (
    GoldenMismatch,
    PropertyFailure,
    check_golden,
    containers,
    record_golden,
)
from docket.testing._generate import HANDLED_KEYWORDS, from_schema
from tests._examples import lighter
from tests._no_hypothesis import WITHOUT_HYPOTHESIS
from tests._toy_family import toy_registry, write_toy

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = Path(__file__).resolve().parents[1] / "families"
METASCHEMA = ROOT / "metaschema" / "version-document.schema.json"

REGISTRIES = {"bundled": load_registry(), "tests": load_registry(FAMILIES)}
FAMILY_NAMES = [("bundled", "backup-metadata"), ("tests", "ledger"), ("tests", "catalog")]


def family_of(where: str, name: str) -> Family:
    return REGISTRIES[where].family(name)


def _versions() -> Iterator[Any]:
    for where, name in FAMILY_NAMES:
        for v in family_of(where, name).versions:
            yield pytest.param(where, name, v, id=f"{name}-{v}")


VERSIONS = list(_versions())

# Containers of the tested families take tens of milliseconds each to draw: the default run
# draws 20 per property here, .ci/run's `HYPOTHESIS_PROFILE=ci` pass the profile's 100.
LIGHT = lighter(20)


# --- the keyword set ---------------------------------------------------------------------------


def _subschema_keywords() -> set[str]:
    meta = json.loads(METASCHEMA.read_text())
    return set(meta["$defs"]["subschema"]["properties"])


def test_the_generator_handles_exactly_the_metaschema_keywords() -> None:
    assert _subschema_keywords() == set(HANDLED_KEYWORDS)


def _used_keywords(schema: Any, out: set[str]) -> None:
    if not isinstance(schema, dict):
        return
    out.update(schema)
    for name in ("properties",):
        for sub in schema.get(name, {}).values():
            _used_keywords(sub, out)
    for name in ("additionalProperties", "propertyNames", "items"):
        _used_keywords(schema.get(name), out)


def test_the_tested_families_use_every_keyword() -> None:
    # Every keyword is exercised by the validity tests below only if some family uses it.
    used: set[str] = set()
    for where, name in FAMILY_NAMES:
        fam = family_of(where, name)
        for v in fam.versions:
            _used_keywords(dict(fam.schema(v)), used)
    assert _subschema_keywords() - used == set()


def test_an_unsupported_keyword_is_refused_with_its_path() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "oneOf": []}}}
    with pytest.raises(docket.SchemaDocumentError) as err:
        from_schema(schema).example()
    assert '"oneOf"' in str(err.value)
    assert err.value.path == '$["a"]'


# --- valid containers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("where", "name", "version"), VERSIONS)
def test_generated_containers_are_valid(where: str, name: str, version: Any) -> None:
    fam = family_of(where, name)

    @LIGHT
    @given(containers(fam, version))
    def check(c: docket.Container) -> None:
        assert c.version == version and c.written_version == version
        assert fam.spec(version).issues(c.data) == []
        assert fam.validate(canonical(c.data)) == []

    check()


@pytest.mark.parametrize(("where", "name"), FAMILY_NAMES, ids=[n for _, n in FAMILY_NAMES])
def test_sections_are_valid_against_their_schema(where: str, name: str) -> None:
    import jsonschema

    fam = family_of(where, name)
    cls = jsonschema.Draft202012Validator
    cases = {}
    for v in fam.versions:
        for section, schema in fam.schema(v)["properties"].items():
            if schema.get("type") == "object":
                validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
                cases[(v, section)] = (validator, docket.testing.sections(fam, v, section))
    assert len(cases) >= 2 * len(fam.versions)
    keys = sorted(cases, key=str)

    @LIGHT
    @given(st.sampled_from(keys).flatmap(lambda k: st.tuples(st.just(k), cases[k][1])))
    def check(pair: tuple[tuple[Any, str], Any]) -> None:
        key, value = pair
        assert list(cases[key][0].iter_errors(value)) == []

    check()


def test_a_container_strategy_defines_a_composite_per_object_not_per_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Defining a composite costs hypothesis milliseconds (it compiles a signature): each
    # property builds the strategies of every version of a family, so a composite for each
    # weighted choice of each value (hundreds in backup-metadata) cost ~0.1 s a version.
    fam = family_of("bundled", "backup-metadata")
    defined: list[str] = []
    real = st.composite

    def counting(fn: Any) -> Any:
        defined.append(fn.__qualname__)
        return real(fn)

    monkeypatch.setattr(st, "composite", counting)
    objects: list[Any] = []

    def walk(schema: Any) -> None:
        if isinstance(schema, dict):
            if schema.get("type") == "object" or "properties" in schema:
                objects.append(schema)
            for sub in (*schema.get("properties", {}).values(), schema.get("items")):
                walk(sub)
            walk(schema.get("additionalProperties"))

    for v in fam.versions:
        defined.clear()
        objects.clear()
        containers(fam, v)
        walk(dict(fam.schema(v)))
        assert 0 < len(defined) <= len(objects), (v, Counter(defined))


def test_sections_refuses_an_unknown_section() -> None:
    fam = family_of("bundled", "backup-metadata")
    with pytest.raises(LookupError, match='no section "volumes"') as err:
        docket.testing.sections(fam, 3, "volumes")
    assert isinstance(err.value, docket.DocketError)
    assert "volume-metadata" in str(err.value)


def test_containers_refuses_an_unknown_version() -> None:
    with pytest.raises(docket.errors.UnknownVersion):
        containers(family_of("tests", "ledger"), 9)


def test_containers_of_a_signed_family_carry_a_valid_signature() -> None:
    fam = load_registry(signing_key=b"k" * 32).family("backup-metadata")

    @LIGHT
    @given(containers(fam, 3))
    def check(c: docket.Container) -> None:
        assert c.data["signature"].startswith("hmac-sha256:")
        assert c.signature == "verified"
        assert fam.validate(canonical(c.data)) == []

    check()


def _collect(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    out: list[Any] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None)
    @given(strategy)
    def gather(x: Any) -> None:
        out.append(x)

    gather()
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.mark.slow  # statistics of 150 rich draws (7 s): a meta-test of the long group
def test_examples_are_rich() -> None:
    fam = family_of("bundled", "backup-metadata")
    examples = [c.data for c in _collect(containers(fam, 3), 150)]
    schema = fam.schema(3)["properties"]
    base_fields = set(schema["volume-base-metadata"]["properties"])

    bases = [d["volume-base-metadata"] for d in examples if "volume-base-metadata" in d]
    assert len(bases) > 0.75 * len(examples)
    present = sum(len(base_fields & set(b)) for b in bases) / (len(bases) * len(base_fields))
    assert present > 0.75, "optional fields should be present most of the time"

    maps = [d["volume-metadata"] for d in examples if "volume-metadata" in d]
    # Most, with room for the run-to-run variation of a loaded machine (0.66-0.79 measured).
    assert sum(1 for m in maps if m) > 0.5 * len(maps), "maps should usually be non-empty"

    strings = [s for d in examples for s in _strings(d)]
    assert "" in strings
    assert any(len(s) == 255 for s in strings), "strings up to maxLength"
    assert any(len(s) == 36 for s in strings)
    assert any(any(ord(ch) > 0xFFFF for ch in s) for s in strings), "non-BMP unicode"
    assert any(s.startswith("0001-01-01T") for s in strings), "earliest timestamp"
    assert any(s.startswith("9999-12-31T") for s in strings), "latest timestamp"
    values = [v for b in bases for v in b.values()]
    assert None in values
    assert {2**63 - 1, -(2**63), 2**64} & {v for v in values if type(v) is int}
    extra = [k for b in bases for k in b if k not in base_fields]
    assert extra, "undeclared columns of other releases appear now and then"


def test_containers_shrink_to_a_minimal_example() -> None:
    ledger = family_of("tests", "ledger")

    def has_long_label(c: docket.Container) -> bool:
        return any(len(v) >= 3 for v in c.data.get("labels", {}).values())

    smallest = find(
        containers(ledger, 1),
        has_long_label,
        settings=settings(
            database=None, max_examples=1000, suppress_health_check=list(HealthCheck)
        ),
    )
    assert set(smallest.data) == {"version", "entry", "labels"}
    assert set(smallest.data["entry"]) == {"id", "title"}, "optional fields shrink away"
    assert smallest.data["entry"]["title"] == "0"
    # Hypothesis does not promise the global minimum ({"a": "000"}), only a small example.
    labels = smallest.data["labels"]
    assert "000" in labels.values() and len(labels) <= 2
    assert all(v in ("", "000") and len(k) == 1 for k, v in labels.items())


# --- invalid containers --------------------------------------------------------------------------


def test_invalid_containers_cover_each_kind_of_problem() -> None:
    # That each is reported at its pointer is the invalid-refused property, run below.
    ledger = family_of("tests", "ledger")
    found = _collect(docket.testing.invalid_containers(ledger, 3), 150)
    for bad in found[:10]:
        assert {i.pointer for i in ledger.validate(canonical(bad.data))} == {bad.pointer}
    kinds = Counter(bad.reason for bad in found)
    expected = {
        "bad version",
        "bad digest",
        "wrong type",
        "missing required",
        "undeclared member",
        "out of range",
    }
    assert expected <= set(kinds), kinds


def test_a_signed_family_also_gets_bad_signatures() -> None:
    fam = load_registry(signing_key=b"k" * 32).family("backup-metadata")
    found = _collect(docket.testing.invalid_containers(fam, 3), 150)
    bad = [b for b in found if b.reason == "bad signature"]
    assert bad and all(b.pointer == "/signature" for b in bad)
    for b in bad:
        with pytest.raises(docket.errors.SignatureError):
            fam.load(canonical(b.data))


# --- the properties ----------------------------------------------------------------------------


@pytest.mark.parametrize("prop", list(docket.testing.PROPERTIES))
@pytest.mark.parametrize(("where", "name"), FAMILY_NAMES, ids=[n for _, n in FAMILY_NAMES])
def test_each_property_holds_for_the_tested_families(where: str, name: str, prop: str) -> None:
    docket.testing.PROPERTIES[prop](family_of(where, name), settings=LIGHT)


@pytest.mark.parametrize(
    "name", [n for n in REGISTRIES["bundled"].families() if n != "backup-metadata"]
)
def test_every_bundled_family_keeps_the_properties(name: str) -> None:
    # backup-metadata gets the full profile above; this keeps the other bundled families honest.
    docket.testing.check_round_trip(
        family_of("bundled", name), settings=settings(max_examples=15, database=None)
    )


def test_check_round_trip_passes_a_correct_family(tmp_path: Path) -> None:
    family = toy_registry(write_toy(tmp_path)).family("toy")
    docket.testing.check_round_trip(family, settings=LIGHT)


def _failure(check: Any, family: Family) -> PropertyFailure:
    with pytest.raises(PropertyFailure) as err:
        check(family, settings=settings(database=None))
    return err.value


def test_a_dropped_field_fails_upgrade_valid(tmp_path: Path) -> None:
    fam = toy_registry(write_toy(tmp_path, "drops-field"), "drops-field").family("toy")
    failure = _failure(docket.testing.check_upgrade_valid, fam)
    assert failure.property == "upgrade-valid"
    assert re.search(r"""["']size["'] is a required property""", str(failure))
    assert str(failure).startswith('property "upgrade-valid" failed for family "toy"')


@pytest.mark.parametrize(
    ("variant", "check", "says"),
    [
        (
            "non-deterministic",
            docket.testing.check_upgrade_deterministic,
            ["two different results", "/item/color"],
        ),
        (
            "lossy-exact",
            docket.testing.check_downgrade_inverse,
            ["declared exact", "/item/note", "declare the edge lossy"],
        ),
        ("leaky-policy", docket.testing.check_restore_allowlist, ["item.secret", "allowlist"]),
    ],
)
def test_a_broken_family_is_caught_by_the_property_that_guards_it(
    tmp_path: Path, variant: str, check: Any, says: list[str]
) -> None:
    fam = toy_registry(write_toy(tmp_path, variant), variant).family("toy")
    failure = _failure(check, fam)
    for text in says:
        assert text in str(failure)


def test_check_round_trip_raises_the_one_failure(tmp_path: Path) -> None:
    fam = toy_registry(write_toy(tmp_path, "lossy-exact"), "lossy-exact").family("toy")
    with pytest.raises(PropertyFailure) as err:
        docket.testing.check_round_trip(fam, settings=settings(database=None))
    assert err.value.property == "downgrade-inverse"  # and the six others held


def test_check_round_trip_groups_several_failures(tmp_path: Path) -> None:
    fam = toy_registry(write_toy(tmp_path, "drops-field"), "drops-field").family("toy")
    with pytest.raises(ExceptionGroup) as err:
        docket.testing.check_round_trip(fam, settings=settings(database=None, max_examples=10))
    failed = {e.property for e in err.value.exceptions if isinstance(e, PropertyFailure)}
    assert {"upgrade-valid", "dump-load"} <= failed
    assert "invalid-refused" not in failed
    assert 'docket properties failed for family "toy"' in str(err.value)


def test_a_migration_that_changes_its_input_is_caught(tmp_path: Path) -> None:
    write_toy(tmp_path)

    def in_place(data: dict[str, Any]) -> dict[str, Any]:
        data["item"]["color"] = "red"
        return data

    # A Python migration that returns its argument: the family copies it before calling, so
    # the caller's container is safe; the property proves that.
    doc = json.loads((tmp_path / "toy" / "2.json").read_text())
    del doc["migration"]
    (tmp_path / "toy" / "2.json").write_text(json.dumps(doc))
    reg = load_registry(tmp_path, migrations=[docket.Migration("toy", 1, 2, in_place)])
    docket.testing.check_upgrade_deterministic(reg.family("toy"))


# --- golden files --------------------------------------------------------------------------------


def test_the_committed_golden_files_still_hold() -> None:
    ledger = family_of("tests", "ledger")
    assert ledger.released() == (1,)
    checked = check_golden(ledger)
    assert len(checked) >= 8
    assert all(p.parent.name == "1" for p in checked)


def test_record_then_check(tmp_path: Path) -> None:
    ledger = family_of("tests", "ledger")
    files = record_golden(ledger, 1, tmp_path, count=5)
    assert len(files) == 5
    assert {p.name for p in files} == {
        p.name for p in (tmp_path / "1" / "upgraded" / "3").iterdir()
    }
    for path in files:
        assert ledger.validate(path.read_bytes()) == []
        assert path.read_bytes() == canonical(json.loads(path.read_bytes()))
    assert sorted(check_golden(ledger, tmp_path)) == files
    # Recording is deterministic: the same family records the same files.
    assert record_golden(ledger, 1, tmp_path, count=5) == files


def test_a_changed_golden_file_is_reported(tmp_path: Path) -> None:
    ledger = family_of("tests", "ledger")
    files = record_golden(ledger, 1, tmp_path, count=3)
    data = json.loads(files[0].read_bytes())
    data["entry"]["title"] = 7
    files[0].write_bytes(canonical(data))
    with pytest.raises(GoldenMismatch) as err:
        check_golden(ledger, tmp_path)
    assert str(files[0]) in str(err.value)
    assert "no longer valid" in str(err.value)
    assert "DOCKET_REGENERATE_GOLDEN=1" in str(err.value)


def test_a_changed_migration_is_reported(tmp_path: Path) -> None:
    ledger = family_of("tests", "ledger")
    record_golden(ledger, 1, tmp_path, count=3)
    for path in (tmp_path / "1" / "upgraded" / "2").iterdir():
        data = json.loads(path.read_bytes())
        data["entry"]["currency"] = "USD"  # as if v2's migration used to add USD
        path.write_bytes(canonical(data))
    with pytest.raises(GoldenMismatch) as err:
        check_golden(ledger, tmp_path)
    assert "the upgrade to 2 changed" in str(err.value)
    assert len(err.value.problems) == 3


def test_the_environment_variable_regenerates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = family_of("tests", "ledger")
    files = record_golden(ledger, 1, tmp_path, count=3)
    files[0].write_bytes(b'{"version": 1}')
    (tmp_path / "1" / "stale.json").write_bytes(b"{}")
    monkeypatch.setenv("DOCKET_REGENERATE_GOLDEN", "1")
    rewritten = check_golden(ledger, tmp_path, versions=[1])
    assert not (tmp_path / "1" / "stale.json").exists()
    monkeypatch.delenv("DOCKET_REGENERATE_GOLDEN")
    assert sorted(check_golden(ledger, tmp_path)) == sorted(rewritten)


def test_a_released_version_without_golden_files_is_reported(tmp_path: Path) -> None:
    with pytest.raises(GoldenMismatch, match="version 1: no golden containers"):
        check_golden(family_of("tests", "ledger"), tmp_path)


# --- packaging of the module -------------------------------------------------------------------


def test_the_public_names_resolve_and_no_others() -> None:
    # ``__all__`` itself is pinned with the other public surfaces, in tests/test_public_api.py.
    for name in docket.testing.__all__:
        assert getattr(docket.testing, name) is not None
    assert issubclass(PropertyFailure, docket.DocketError)
    assert issubclass(PropertyFailure, AssertionError)
    with pytest.raises(AttributeError):
        docket.testing.no_such_name  # noqa: B018


_NO_HYPOTHESIS = WITHOUT_HYPOTHESIS


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )


def test_without_hypothesis_the_module_says_how_to_install_it() -> None:
    code = _NO_HYPOTHESIS + (
        "import docket.testing.plugin\n"
        "try:\n"
        "    from docket.testing import containers\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    # docket is not on PyPI: the hint installs the extra from where docket comes from.
    assert "pip install 'docket[testing] @ git+https://" in done.stdout
    assert "pip install -c constraints.txt -e '.[testing]'" in done.stdout
    assert "pip install 'docket[testing]'" not in done.stdout


def test_the_plugin_does_not_import_hypothesis() -> None:
    done = _python("import sys, docket.testing.plugin; print('hypothesis' in sys.modules)")
    assert done.stdout.strip() == "False", done.stderr


def test_pytest_runs_without_hypothesis(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "def test_uses_registry(docket_registry):\n"
        "    assert 'backup-metadata' in docket_registry\n"
    )
    args = ["-q", "-p", "no:hypothesispytest", "-p", "no:cacheprovider", str(tmp_path)]
    code = _NO_HYPOTHESIS + f"import pytest\nraise SystemExit(pytest.main({args!r}))\n"
    done = _python(code)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


# --- the core fix the properties found ---------------------------------------------------------


def test_aware_to_naive_keeps_four_digit_years() -> None:
    # Found by downgrade-inverse on backup-metadata: strftime dropped the zero padding.
    convert = BUILTIN_CONVERTERS["aware-utc-to-naive"].forward
    assert convert("0999-01-02T03:04:05.000006Z") == "0999-01-02T03:04:05.000006"
    assert convert("0001-01-01T00:00:00.000000Z") == "0001-01-01T00:00:00.000000"
