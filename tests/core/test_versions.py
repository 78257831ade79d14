"""Version detection: every wrong ``version`` gets a typed error naming what was found."""

from __future__ import annotations

from typing import Any

import pytest

import docket
import docket.errors


@pytest.fixture(scope="module")
def family() -> docket.Family:
    return docket.load_registry().family("backup-metadata")


@pytest.mark.parametrize(
    ("container", "error", "found"),
    [
        ({}, docket.errors.MissingVersion, None),
        ({"version": True}, docket.errors.MalformedVersion, True),
        ({"version": "2"}, docket.errors.MalformedVersion, "2"),
        ({"version": 2.0}, docket.errors.MalformedVersion, 2.0),
        ({"version": -1}, docket.errors.MalformedVersion, -1),
        ({"version": None}, docket.errors.MalformedVersion, None),
        ({"version": [2]}, docket.errors.MalformedVersion, [2]),
        ({"version": 0}, docket.errors.UnknownVersion, 0),
        ({"version": 99}, docket.errors.VersionTooNew, 99),
    ],
)
def test_bad_versions(
    family: docket.Family, container: dict[str, Any], error: type, found: Any
) -> None:
    with pytest.raises(error) as info:
        family.load(container)
    err = info.value
    assert isinstance(err, docket.VersionError)
    assert err.found == found
    assert err.supported == (1, 2, 3)
    assert "1, 2, 3" in str(err)


def test_too_new_says_to_upgrade(family: docket.Family) -> None:
    with pytest.raises(docket.errors.VersionTooNew) as info:
        family.load(b'{"version": 4, "volume-base-metadata": {}}')
    assert "newer" in str(info.value)
    assert "upgrade docket" in str(info.value)


def test_too_new_is_an_unknown_version_and_a_value_error(family: docket.Family) -> None:
    with pytest.raises(docket.errors.UnknownVersion):
        family.load({"version": 4})
    with pytest.raises(ValueError):
        family.load({"version": 4})


def test_dotted_family_refuses_integers_and_unknown_strings() -> None:
    reg = docket.load_registry("tests/fixtures/schemas")
    chunky = reg.family("chunky")
    with pytest.raises(docket.errors.MalformedVersion):
        chunky.load({"version": 1, "head": {}})
    with pytest.raises(docket.errors.UnknownVersion):
        chunky.load({"version": "1.0.5", "head": {}})
    with pytest.raises(docket.errors.VersionTooNew):
        chunky.load({"version": "2.0.0", "head": {}})
    assert chunky.load({"version": "1.0.0", "head": {"size": 1}}).written_version == "1.0.0"


def test_dotted_versions_order_numerically() -> None:
    from docket.core.versions import VersionScheme

    scheme = VersionScheme.DOTTED
    assert sorted(["1.10.0", "1.2.0", "1.9.1"], key=scheme.key) == ["1.2.0", "1.9.1", "1.10.0"]
