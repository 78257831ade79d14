"""docket.testing's generator on schemas a family author writes: patterns read as the deciding
validator (jsonschema-rs, ECMA-262) reads them, and schemas no value satisfies refused with
the $-path of that value instead of hypothesis's placeless ``Unsatisfiable``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import docket
from docket import Container, load_registry
from docket.testing import containers
from tests._families import version_document, write_family

FEW = settings(max_examples=25, database=None, suppress_health_check=list(HealthCheck))


def _family(tmp_path: Path, fields: dict[str, Any]) -> docket.Family:
    entry = {
        "type": "object",
        "required": list(fields),
        "additionalProperties": False,
        "properties": fields,
    }
    write_family(tmp_path, "f", {1: version_document("f", 1, {"entry": entry})})
    return load_registry(tmp_path).family("f")


def test_pattern_classes_are_ascii_as_the_validator_reads_them(tmp_path: Path) -> None:
    # Python's \w and \d take any Unicode letter or digit; ECMA-262's only ASCII ones.
    fam = _family(
        tmp_path,
        {
            "word": {"type": "string", "pattern": "^\\w{3,8}$"},
            "code": {"type": "string", "pattern": "^(?=.*[A-Z])(?=.*\\d)[A-Za-z\\d]{8,}$"},
            "line": {"type": "string", "pattern": "^.{1,4}$"},
        },
    )

    @FEW
    @given(containers(fam, 1))
    def valid(container: Container) -> None:
        assert fam.validate(container.data) == []

    valid()


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ({"type": "string", "minLength": 5, "maxLength": 2}, "minLength 5 is greater than"),
        ({"type": "integer", "minimum": 5, "maximum": 2}, "no integer lies between minimum 5"),
        ({"type": "number", "minimum": 5, "maximum": 2}, "minimum 5.0 is greater than maximum 2.0"),
        ({"type": "string", "enum": ["b"], "pattern": "^a$"}, "no value of its enum"),
        ({"type": "integer", "enum": ["a"]}, "no value of its enum"),
        ({"const": 3, "maximum": 2}, "no value of its const"),
    ],
)
def test_a_required_value_nothing_satisfies_is_refused_where_it_is(
    tmp_path: Path, field: dict[str, Any], reason: str
) -> None:
    fam = _family(tmp_path, {"x": field})
    with pytest.raises(docket.SchemaDocumentError, match=reason) as err:
        containers(fam, 1)
    assert err.value.path == '$["entry"]["x"]'


def test_a_required_member_the_object_does_not_declare_is_refused(tmp_path: Path) -> None:
    fam = _family(
        tmp_path, {"x": {"type": "object", "required": ["zz"], "additionalProperties": False}}
    )
    with pytest.raises(docket.SchemaDocumentError, match="not declared") as err:
        containers(fam, 1)
    assert err.value.path == '$["entry"]["x"]["zz"]'


def test_an_optional_or_alternative_value_nothing_satisfies_is_left_out(tmp_path: Path) -> None:
    fam = _family(
        tmp_path,
        {
            "maybe": {"type": ["string", "null"], "minLength": 5, "maxLength": 2},
            "opt": {"type": "object", "properties": {"never": {"type": "integer", "enum": ["a"]}}},
            "items": {"type": "array", "items": {"type": "integer", "minimum": 3, "maximum": 1}},
        },
    )

    @FEW
    @given(containers(fam, 1))
    def valid(container: Container) -> None:
        entry = container.data["entry"]
        assert entry["maybe"] is None and "never" not in entry["opt"] and entry["items"] == []
        assert fam.validate(container.data) == []

    valid()
