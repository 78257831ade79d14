"""The pytest plugin's fixtures, misused: each mistake is reported as what it is, without a
traceback into docket (fast runs, unlike the property meta-tests of test_testing_plugin.py)."""

from __future__ import annotations

import pytest

from tests._toy_family import write_toy

pytest_plugins = ["pytester"]


def test_a_marker_naming_an_unknown_family_says_which(pytester: pytest.Pytester) -> None:
    write_toy(pytester.path / "schemas")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.docket_family("nope")
        def test_one(docket_family):
            pass
        """
    )
    result = pytester.runpytest("--docket-schemas=schemas", "-k", "test_one")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.docket_family('nope'): no such family (found: toy)*"]
    )
    result.stdout.no_fnmatch_line("*registry.py*")


def test_a_fixture_user_with_a_missing_schema_directory_gets_the_reason(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_each(docket_family):\n    pass\n")
    result = pytester.runpytest("--docket-schemas=nodir", "-k", "test_each")
    result.stdout.fnmatch_lines(["*docket_family: nodir: $: not a directory*"])
    result.stdout.no_fnmatch_line("*documents.py*")
