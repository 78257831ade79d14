"""Shared fixtures and hypothesis profiles (``HYPOTHESIS_PROFILE=thorough`` for long runs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Database fixtures (db_backend, db_url, db_engine, scratch_db) for every test module.
pytest_plugins = ["tests.conftest_db"]

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck)
)
# The default run takes the same examples everywhere (CI too), so its time on a CI machine is
# the README's; .ci/run's long group runs the property suites again under "ci".
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# Long runs the default `pytest` leaves out (marked `slow` here so their files need no
# edit); `.ci/run` runs them with `-m "slow or interop"`. A path names a whole module, a node
# id one test (all its parameters).
SLOW = (
    "tests/store/test_concurrency.py",  # eight processes restoring at once, per server
    "tests/test_benchmarks_smoke.py",  # runs the harness on tiny sizes
    "tests/testing/test_testing_plugin.py",  # property meta-tests: pytest runs of broken families
    "tests/testing/test_testing.py::test_containers_shrink_to_a_minimal_example",
    "tests/testing/test_testing.py::test_check_round_trip_groups_several_failures",
    "tests/testing/test_testing.py::test_check_round_trip_raises_the_one_failure",
    "tests/testing/test_testing.py::test_a_signed_family_also_gets_bad_signatures",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test = item.nodeid.split("[", 1)[0]
        if test in SLOW or test.split("::", 1)[0] in SLOW:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
