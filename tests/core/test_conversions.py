"""Whether a conversion gives back every value (docket.core.conversions): derived by
``new-version --update``, checked by ``docket check``, and never claimed wrongly."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket.cli.authoring import new_version
from docket.cli.check import check
from docket.core.conversions import int_to_string, string_to_int
from tests.authoring.test_release import grow, run

CANONICAL = "^(0|[1-9][0-9]*)$"


def _set_count(root: Path, version: int, schema: dict[str, Any]) -> None:
    """Give ``count`` in notes ``version`` the schema ``schema``."""
    path = root / "notes" / f"{version}.json"
    doc = json.loads(path.read_text())
    doc["schema"]["properties"]["note"]["properties"]["count"] = schema
    path.write_text(json.dumps(doc, indent=2))


def _family(root: Path, pattern: str | None, *, minimum: int | None = 0) -> Path:
    """notes 1 (an integer ``count``) and 2 (``count`` a string matching ``pattern``)."""
    from tests.authoring.test_release import _write_family

    _write_family(root)
    count: dict[str, Any] = {"type": "integer", "default": 0}
    if minimum is not None:
        count["minimum"] = minimum
    _set_count(root, 1, count)
    assert run(new_version, "notes", schemas=root)[0] == 0
    after: dict[str, Any] = {"type": "string", "maxLength": 30}
    if pattern is not None:
        after["pattern"] = pattern
    _set_count(root, 2, after)
    return root


def _update(root: Path) -> tuple[int, str, dict[str, Any]]:
    code, out, err = run(new_version, "notes", schemas=root, update=True)
    migration = json.loads((root / "notes" / "2.json").read_text())["migration"]
    return code, out + err, migration


def _declare_exact(root: Path) -> None:
    path = root / "notes" / "2.json"
    doc = json.loads(path.read_text())
    doc["migration"]["downgrade"] = {"operations": "inverse", "kind": "exact"}
    path.write_text(json.dumps(doc, indent=2))


def _check(root: Path) -> list[dict[str, str]]:
    out, err = io.StringIO(), io.StringIO()
    check(root, stdout=out, stderr=err, output_format="json")
    found: list[dict[str, str]] = json.loads(out.getvalue())["findings"]
    return found


@pytest.mark.parametrize("pattern", ["^[0-9]+$", None, "^-?(0|[1-9][0-9]*)$"])
def test_update_declares_a_conversion_lossy_when_strings_do_not_all_come_back(
    tmp_path: Path, pattern: str | None
) -> None:
    # '00' (or 'x', or '-0') becomes an integer that converts back to another string.
    root = _family(tmp_path, pattern)
    code, out, migration = _update(root)
    assert migration["upgrade"] == [
        {"op": "convert", "section": "note", "fields": ["count"], "converter": "int-to-string"}
    ]
    assert migration["downgrade"]["kind"] == "lossy", out
    assert migration["downgrade"]["losses"] == ["note.count"]
    assert code == 0 and _check(root) == []


@pytest.mark.parametrize("pattern", ["^[0-9]+$", None, "^-?(0|[1-9][0-9]*)$"])
def test_check_flags_such_a_conversion_declared_exact(tmp_path: Path, pattern: str | None) -> None:
    root = _family(tmp_path, pattern)
    _update(root)
    _declare_exact(root)
    found = _check(root)
    assert [f["check"] for f in found] == ["soundness"]
    assert found[0]["path"] == str(root / "notes" / "2.json")
    message = found[0]["message"]
    assert '$["note"]["count"]' in message and "declared exact" in message
    assert "string-to-int does not give back every value" in message


def test_a_canonical_pattern_makes_the_conversion_exact(tmp_path: Path) -> None:
    root = _family(tmp_path, CANONICAL)
    code, out, migration = _update(root)
    assert code == 0, out
    assert migration["downgrade"] == {"operations": "inverse", "kind": "exact"}
    assert _check(root) == []


def test_a_pattern_docket_cannot_judge_is_derived_lossy_but_not_flagged(tmp_path: Path) -> None:
    # Canonical spellings only, written in a way docket does not recognise.
    root = _family(tmp_path, "^(0|[1-9]+[0-9]*)$")
    _, out, migration = _update(root)
    assert migration["downgrade"]["kind"] == "lossy"
    assert "do not show that the conversions of note.count give back every value" in out
    _declare_exact(root)
    assert _check(root) == []  # the property suite is the judge of it


def test_negative_strings_into_a_non_negative_integer_are_a_loss(tmp_path: Path) -> None:
    root = _family(tmp_path, "^(0|-?[1-9][0-9]*)$", minimum=0)
    _, _, migration = _update(root)
    assert migration["downgrade"]["kind"] == "lossy"
    root2 = _family(tmp_path / "b", "^(0|-?[1-9][0-9]*)$", minimum=None)
    _, _, migration = _update(root2)
    assert migration["downgrade"]["kind"] == "exact"


def test_the_documented_workflow_still_derives_without_a_conversion(tmp_path: Path) -> None:
    from tests.authoring.test_release import _write_family

    root = _write_family(tmp_path / "s")
    grow(root, "pages")
    doc = json.loads((root / "notes" / "2.json").read_text())
    assert doc["migration"]["downgrade"]["kind"] == "lossy"  # pages is dropped


# --- the verdict "exact" is never wrong ----------------------------------------------------

PATTERNS = [
    CANONICAL,
    "^(?:0|[1-9][0-9]*)$",
    "^(0|-?[1-9][0-9]*)$",
    "^[1-9][0-9]{0,3}$",
    "^-?[1-9][0-9]*$",
    "^[0-9]+$",
    "^-?(0|[1-9][0-9]*)$",
    "^[0-9]{1,3}$",
    "^(0|[1-9][0-9]*)",
    "^\\+?[0-9]+$",
]
TARGETS = [
    {"type": "integer"},
    {"type": "integer", "minimum": 0},
    {"type": "integer", "minimum": 1, "maximum": 5000},
    {"type": "integer", "maximum": -1},
]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(PATTERNS),
    st.sampled_from(TARGETS),
    st.one_of(st.none(), st.integers(1, 12)),
    st.data(),
)
def test_an_exact_verdict_holds_for_every_value(
    pattern: str, target: dict[str, Any], longest: int | None, data: st.DataObject
) -> None:
    source: dict[str, Any] = {"type": "string", "pattern": pattern}
    if longest is not None:
        source["maxLength"] = longest
    src = jsonschema_rs.validator_for(source)
    dst = jsonschema_rs.validator_for(target)
    if string_to_int(source, target).gives_back is True:
        # Every string the newer version admits goes down to an integer the older one
        # admits, and comes back up as itself.
        text = data.draw(st.from_regex(pattern, fullmatch=True).filter(src.is_valid))
        number = int(text)
        assert dst.is_valid(number) and str(number) == text
    if int_to_string(target, source).gives_back is True:
        # Every (64-bit) integer the older version admits goes up to a string the newer one
        # admits, and comes back down as itself.
        value = data.draw(st.integers(-(2**63), 2**63 - 1).filter(dst.is_valid))
        assert src.is_valid(str(value)) and int(str(value)) == value


@given(st.sampled_from(PATTERNS), st.sampled_from(TARGETS))
def test_a_lossy_verdict_names_a_value_that_does_not_come_back(
    pattern: str, target: dict[str, Any]
) -> None:
    verdict = string_to_int({"type": "string", "pattern": pattern}, target)
    if verdict.gives_back is False:
        shown = verdict.reason.split(" is allowed", 1)[0]
        text = eval(shown)  # the reason quotes it with repr()
        assert jsonschema_rs.validator_for({"type": "string", "pattern": pattern}).is_valid(text)
        try:
            back = str(int(text))
        except ValueError:
            return
        assert back != text or not jsonschema_rs.validator_for(target).is_valid(int(text))
