"""The pytest plugin, run with pytester against small families in temporary folders."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from tests._toy_family import write_toy

pytest_plugins = ["pytester"]

# The inner runs stand for a user's project with a quick profile of its own. They share this
# process's hypothesis settings, so the outer profile is put back after each test.
INNER_PROFILE = "docket-pytester"
settings.register_profile(
    INNER_PROFILE,
    settings.get_profile(settings.get_current_profile_name()),
    max_examples=25,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


@pytest.fixture(autouse=True)
def _restore_profile() -> Iterator[None]:
    outer = settings.get_current_profile_name()
    yield
    settings.load_profile(outer)


TESTS = Path(__file__).resolve().parents[1]
DOC = TESTS.parent / "docs" / "testing.md"
INNER = ("-p", "no:cacheprovider", f"--hypothesis-profile={INNER_PROFILE}")
PROPERTY_NAMES = [
    "dump-load",
    "canonical-stable",
    "upgrade-valid",
    "downgrade-inverse",
    "upgrade-deterministic",
    "restore-allowlist",
    "invalid-refused",
]


def _hook_conftest(pytester: pytest.Pytester, variant: str) -> None:
    # The toy family's Python parts (a migration, a rule) come in through the plugin's hook.
    pytester.makeconftest(
        f"""
        from tests._toy_family import toy_registry

        def pytest_docket_registry(config, path):
            return None if path is None else toy_registry(path, {variant!r})
        """
    )


def _run(pytester: pytest.Pytester, variant: str, *args: str) -> pytest.RunResult:
    write_toy(pytester.path / "schemas", variant)
    _hook_conftest(pytester, variant)
    return pytester.runpytest("--docket-schemas=schemas", "-v", *INNER, *args)


def test_a_correct_family_passes_every_property(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "correct")
    result.assert_outcomes(passed=len(PROPERTY_NAMES))
    result.stdout.fnmatch_lines([f"schemas/toy::{name} PASSED*" for name in PROPERTY_NAMES])


@pytest.mark.parametrize(
    ("variant", "prop", "says"),
    [
        (
            "drops-field",
            "upgrade-valid",
            "*upgrade to 2 raised MigrationError*size? is a required*",
        ),
        ("non-deterministic", "upgrade-deterministic", "*two different results: /item/color*"),
        ("lossy-exact", "downgrade-inverse", "*the edge 1 -> 2 is declared exact*"),
        ("leaky-policy", "restore-allowlist", "*the restore * writes item.secret = *allowlist*"),
    ],
)
def test_a_broken_family_fails_the_property_that_guards_it(
    pytester: pytest.Pytester, variant: str, prop: str, says: str
) -> None:
    result = _run(pytester, variant)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1
    assert outcomes.get("passed", 0) + outcomes["failed"] == len(PROPERTY_NAMES)
    result.stdout.fnmatch_lines(
        [
            f"schemas/toy::{prop} FAILED*",
            f'*property "{prop}" failed for family "toy"{says}',
        ]
    )
    # Hypothesis shows the shrunk container (its wording changed across versions).
    out = result.stdout.str()
    assert "Failing test case" in out or "Falsifying example" in out
    # The failure reads as a message, not as a traceback through docket's internals.
    assert "raise PropertyFailure" not in result.stdout.str()


def test_only_the_guarding_property_fails_for_a_precise_breakage(
    pytester: pytest.Pytester,
) -> None:
    for variant, prop in (
        ("lossy-exact", "downgrade-inverse"),
        ("leaky-policy", "restore-allowlist"),
    ):
        root = pytester.path / variant
        root.mkdir()
        write_toy(root / "schemas", variant)
        _hook_conftest(pytester, variant)
        result = pytester.runpytest(f"--docket-schemas={root / 'schemas'}", "-q", *INNER)
        result.assert_outcomes(passed=len(PROPERTY_NAMES) - 1, failed=1)
        result.stdout.fnmatch_lines([f"FAILED *::{prop}*"])


def test_keyword_selection_and_family_filter(pytester: pytest.Pytester) -> None:
    shutil.copytree(TESTS / "families", pytester.path / "schemas")
    result = pytester.runpytest(
        "--docket-schemas=schemas",
        "--docket-family=catalog",
        "-k",
        "upgrade",
        "-v",
        *INNER,
    )
    result.assert_outcomes(passed=2, deselected=len(PROPERTY_NAMES) - 2)
    result.stdout.fnmatch_lines(
        ["schemas/catalog::upgrade-valid PASSED*", "schemas/catalog::upgrade-deterministic PASSED*"]
    )


def test_a_family_with_golden_files_gets_a_golden_item(pytester: pytest.Pytester) -> None:
    shutil.copytree(TESTS / "families", pytester.path / "schemas")
    result = pytester.runpytest(
        "--docket-schemas=schemas", "--docket-family=ledger", "-k", "golden", "-v", *INNER
    )
    result.assert_outcomes(passed=1, deselected=len(PROPERTY_NAMES))
    golden = next((pytester.path / "schemas/ledger/golden/1").glob("*.json"))
    golden.write_bytes(b'{"entry":{"id":"x","title":""},"version":1}')
    result = pytester.runpytest(
        "--docket-schemas=schemas", "--docket-family=ledger", "-k", "golden"
    )
    result.assert_outcomes(failed=1, deselected=len(PROPERTY_NAMES))
    result.stdout.fnmatch_lines(
        ["*ledger: 1 golden problem(s)*", f"*{golden.name}: no longer valid*"]
    )


def test_an_unknown_family_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_toy(pytester.path / "schemas")
    result = pytester.runpytest("--docket-schemas=schemas", "--docket-family=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--docket-family nope: no such family under schemas (found: toy)*"]
    )


def test_an_unreadable_schema_directory_is_reported(pytester: pytest.Pytester) -> None:
    write_toy(pytester.path / "schemas")
    (pytester.path / "schemas" / "toy" / "manifest.json").write_text('{"family": "toy"}')
    result = pytester.runpytest("--docket-schemas=schemas", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["schemas::load FAILED*", "SchemaDocumentError:*manifest.json*"])


def test_fixtures_run_a_test_once_per_family(pytester: pytest.Pytester) -> None:
    shutil.copytree(TESTS / "families", pytester.path / "schemas")
    pytester.makepyfile(
        """
        import pytest

        def test_each(docket_family, docket_registry):
            assert docket_registry.family(docket_family.name) is docket_family

        @pytest.mark.docket_family("ledger")
        def test_one(docket_family):
            assert docket_family.current == 3
        """
    )
    result = pytester.runpytest("--docket-schemas=schemas", "-k", "test_", "-v")
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 3 and "failed" not in outcomes
    result.stdout.fnmatch_lines(
        [
            "*test_each[[]catalog[]] PASSED*",
            "*test_each[[]ledger[]] PASSED*",
            "*test_one[[]ledger[]]*",
        ]
    )


def test_without_the_option_the_fixtures_use_the_bundled_families(
    pytester: pytest.Pytester,
) -> None:
    from docket import load_registry

    bundled = load_registry().families()
    pytester.makepyfile(
        """
        from docket import load_registry

        def test_bundled(docket_family, docket_registry):
            assert docket_registry.families() == load_registry().families()
            assert docket_family is docket_registry.family(docket_family.name)
        """
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=len(bundled))
    result.stdout.fnmatch_lines(["*test_bundled[[]backup-metadata[]] PASSED*"])


def test_the_properties_use_the_users_hypothesis_profile(pytester: pytest.Pytester) -> None:
    # A counting migration shows how many examples ran; the profile asks for very few.
    write_toy(pytester.path / "schemas", "non-deterministic")
    pytester.makeconftest(
        """
        from pathlib import Path
        from hypothesis import settings
        from docket import Migration, load_registry

        settings.register_profile("tiny", max_examples=4, database=None)
        settings.register_profile("many", max_examples=40, database=None)
        CALLS = []

        def count(data):
            CALLS.append(1)
            data["item"]["color"] = "red"
            return data

        def uncount(data):
            data["item"].pop("color")
            return data

        def pytest_docket_registry(config, path):
            migrations = [Migration("toy", 1, 2, count, uncount, exact=True)]
            return load_registry(path, migrations=migrations)

        def pytest_sessionfinish(session):
            Path("calls.txt").write_text(str(len(CALLS)))
        """
    )
    args = ["--docket-schemas=schemas", "-k", "upgrade-valid", "-p", "no:cacheprovider"]
    result = pytester.runpytest(*args, "--hypothesis-profile=tiny")
    result.assert_outcomes(passed=1, deselected=len(PROPERTY_NAMES) - 1)
    few = int((pytester.path / "calls.txt").read_text())
    pytester.runpytest(*args, "--hypothesis-profile=many").assert_outcomes(passed=1, deselected=6)
    many = int((pytester.path / "calls.txt").read_text())
    assert 1 <= few <= 2 * 4 < many


# --- the docs page ---------------------------------------------------------------------------


def _doc_example() -> str:
    blocks = re.findall(r"<!-- run: (\S+) -->\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, "docs/testing.md has one example the tests run"
    name, body = blocks[0]
    assert name == "test_ledger.py"
    return str(body)


def test_the_docs_example_has_five_lines() -> None:
    assert len(_doc_example().strip().splitlines()) == 5


def test_the_docs_example_runs(pytester: pytest.Pytester) -> None:
    shutil.copytree(TESTS / "families" / "ledger", pytester.path / "schemas" / "ledger")
    pytester.makepyfile(test_ledger=_doc_example())
    pytester.runpytest(*INNER).assert_outcomes(passed=1)


def test_the_docs_example_fails_for_a_broken_family(pytester: pytest.Pytester) -> None:
    ledger = pytester.path / "schemas" / "ledger"
    shutil.copytree(TESTS / "families" / "ledger", ledger)
    # The 1 -> 2 upgrade now drops entry.secret, which the edge's losses do not mention:
    # the registry refuses the family as it is built, naming the edge and the operation.
    doc = json.loads((ledger / "2.json").read_text())
    doc["migration"]["upgrade"].append({"op": "remove", "section": "entry", "field": "secret"})
    (ledger / "2.json").write_text(json.dumps(doc))
    pytester.makepyfile(test_ledger=_doc_example())
    result = pytester.runpytest(*INNER)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*UnsoundMigration: ledger: 1 -> 2: upgrade operation 4: remove entry.secret: "
            '$[[]"entry"[]][[]"secret"[]]: entry.secret is dropped, and the downgrade\'s '
            'losses do not name "entry.secret"*',
        ]
    )


def test_a_statically_unsound_family_fails_at_load_naming_the_edge(
    pytester: pytest.Pytester,
) -> None:
    # The 1 -> 2 upgrade drops entry.secret, which the declared losses do not mention: the
    # registry refuses the family before any container is drawn.
    ledger = pytester.path / "schemas" / "ledger"
    shutil.copytree(TESTS / "families" / "ledger", ledger)
    doc = json.loads((ledger / "2.json").read_text())
    doc["migration"]["upgrade"].append({"op": "remove", "section": "entry", "field": "secret"})
    (ledger / "2.json").write_text(json.dumps(doc))
    result = pytester.runpytest("--docket-schemas=schemas", "-v", *INNER)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "schemas::load FAILED*",
            "UnsoundMigration: ledger: 1 -> 2: upgrade operation 4: remove entry.secret: "
            '$[[]"entry"[]][[]"secret"[]]: entry.secret is dropped*',
        ]
    )


def test_collected_counts_the_property_items(pytester: pytest.Pytester) -> None:
    write_toy(pytester.path / "schemas")
    _hook_conftest(pytester, "correct")
    result = pytester.runpytest("--docket-schemas=schemas", *INNER, "-k", "upgrade")
    result.stdout.fnmatch_lines(["collected 7 items / 5 deselected / 2 selected"])
    result.assert_outcomes(passed=2, deselected=5)
