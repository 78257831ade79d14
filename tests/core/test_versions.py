"""Version detection: every wrong ``version`` gets a typed error naming what was found."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import docket
import docket.errors
from docket.core.versions import VersionScheme


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


@pytest.mark.parametrize(
    ("version", "error"),
    [
        ("9" * 5000, docket.errors.VersionTooNew),
        ("1." + "9" * 5000, docket.errors.VersionTooNew),
        ("0." + "9" * 5000, docket.errors.UnknownVersion),
        ("1.0." + "1" * 4301, docket.errors.UnknownVersion),
    ],
)
def test_a_dotted_version_with_a_huge_part_is_a_typed_error(version: str, error: type) -> None:
    """A part of more than 4,300 digits is well formed, and was a bare ValueError from int()
    (Python's limit on converting digits) out of ``load``: a tenant's ``_metadata`` with
    such a version was a traceback from ``docket audit`` and from restore."""
    chunky = docket.load_registry("tests/fixtures/schemas").family("chunky")
    with pytest.raises(error):
        chunky.load({"version": version, "head": {}})


@given(st.lists(st.integers(min_value=0, max_value=10**30), min_size=1, max_size=4), st.data())
def test_dotted_order_is_numeric_order(parts: list[int], data: st.DataObject) -> None:
    from docket.core.versions import VersionScheme

    other = data.draw(st.lists(st.integers(min_value=0, max_value=10**30), min_size=1, max_size=4))
    key = VersionScheme.DOTTED.key
    a, b = ".".join(map(str, parts)), ".".join(map(str, other))
    assert (key(a) < key(b)) == (parts < other)
    assert (key(a) == key(b)) == (parts == other)


@pytest.mark.parametrize("typed", ["\u0661", "\u00b2", "3\u0663", "v\u0663"])
def test_a_version_typed_in_other_digits_is_not_read_as_a_number(typed: str) -> None:
    """int() reads Arabic-Indic digits ("\\u0661" is 1): a version typed on the command line is
    ASCII digits only, as --shard's numbers are."""
    with pytest.raises(ValueError, match="not an integer version"):
        VersionScheme.INTEGER.parse_text(typed)
    assert VersionScheme.INTEGER.parse_text(" v3 ") == 3


@pytest.mark.parametrize(
    ("scheme", "typed", "meant"),
    [
        (VersionScheme.INTEGER, " 3", "3"),
        (VersionScheme.INTEGER, "03", "3"),
        (VersionScheme.INTEGER, "+3", "3"),
        (VersionScheme.INTEGER, "v3", "3"),
        (VersionScheme.INTEGER, "\u0663", "3"),
        (VersionScheme.INTEGER, "3.0", None),
        (VersionScheme.INTEGER, "-3", None),
        (VersionScheme.INTEGER, "", None),
        (VersionScheme.DOTTED, "1.01.0", "1.1.0"),
        (VersionScheme.DOTTED, " 1.0.0", "1.0.0"),
        (VersionScheme.DOTTED, "1..0", None),
    ],
)
def test_only_the_canonical_text_is_a_version_and_the_meant_one_is_named(
    scheme: VersionScheme, typed: str, meant: str | None
) -> None:
    """parse_exact, the reading of every version a command line names, takes the text docket
    writes and nothing else; spelling() says which version a near miss meant."""
    with pytest.raises(ValueError, match="is not written as"):
        scheme.parse_exact(typed)
    assert scheme.spelling(typed) == meant
    if meant is not None:
        assert str(scheme.parse_exact(meant)) == meant
