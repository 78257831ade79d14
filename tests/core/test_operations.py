"""Operations know themselves: description, document form, effect on a schema's shape and
compiled form live on each class, so a new operation is one class (issue 23, section 4)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket import load_registry
from docket.core.migrations import BUILTIN_CONVERTERS, Converter, build_migration
from docket.core.operations import (
    OPERATIONS,
    Add,
    Convert,
    JSONObject,
    Map,
    Move,
    Operation,
    Remove,
    Rename,
    Shape,
    compile_operations,
    parse_operations,
)
from docket.core.soundness import check_edge
from tests._volumes_family import write_volumes
from tests.strategies import operations

_NAMES = st.sampled_from(["a", "b", "disk", "size_gb"])
_SECTIONS = st.one_of(st.none(), _NAMES)
_VALUES = st.one_of(st.none(), st.integers(-2, 2), st.text(max_size=3), st.lists(st.booleans()))
_OPS = operations(_SECTIONS, _NAMES, _VALUES)


@settings(max_examples=200, deadline=None)
@given(_OPS)
def test_an_operation_reads_back_from_its_document_form(op: Operation) -> None:
    spec = op.spec()
    assert spec["op"] == op.name and OPERATIONS[op.name] is type(op)
    assert parse_operations([spec]) == [op]


@pytest.mark.parametrize(
    ("op", "spec"),
    [
        (
            Add(None, "retention", {}),
            {"op": "add", "section": None, "field": "retention", "default": {}},
        ),
        (Remove("disk", "secret"), {"op": "remove", "section": "disk", "field": "secret"}),
        (
            Rename("disk", "size_gb", "size"),
            {"op": "rename", "section": "disk", "field": "size_gb", "to": "size"},
        ),
        (
            Move("disk", "size", "meta", "bytes"),
            {
                "op": "move",
                "section": "disk",
                "field": "size",
                "to_section": "meta",
                "to_field": "bytes",
            },
        ),
        (
            Convert("disk", "count", "int-to-string"),
            {"op": "convert", "section": "disk", "fields": ["count"], "converter": "int-to-string"},
        ),
    ],
)
def test_the_document_form_is_what_derive_writes(op: Operation, spec: dict[str, Any]) -> None:
    # `docket new-version --update` writes these dicts into version documents, in this order.
    assert list(op.spec().items()) == list(spec.items())


@pytest.mark.parametrize(
    ("op", "text"),
    [
        (Add(None, "retention", {}), "add retention"),
        (Remove("disk", "secret"), "remove disk.secret"),
        (Rename("disk", "size_gb", "size"), "rename disk.size_gb to size"),
        (Move("disk", "name", None, "title"), "move disk.name to title"),
        (Map("disk", "name", (("a", "b"),)), "map disk.name"),
        (Convert("disk", "size", "int-to-string"), "convert disk.size (int-to-string)"),
    ],
)
def test_an_operation_describes_itself(op: Operation, text: str) -> None:
    assert op.describe() == text


# --- a new operation is one class ------------------------------------------------------------


@dataclass(frozen=True)
class Relabel(Operation):
    """A rename of our own: the field is carried to ``to`` in its section."""

    members: ClassVar[tuple[str, ...]] = ("to",)
    name: ClassVar[str] = "relabel"
    to: str

    def _apply(
        self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
    ) -> None:
        moved = {self.to: holder.pop(self.field)} if self.field in holder else {}
        holder.update(moved)

    def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
        return type(self)(section=self.section, field=self.to, to=self.field)

    def describe(self) -> str:
        return f"relabel {self.where} as {self.to}"

    def result(self) -> tuple[str | None, str] | None:
        return (self.section, self.to)

    def reshape(self, shape: Shape) -> None:
        shape.carry(self.place, (self.section, self.to))


def _edge(tmp_path: Path, op: Operation) -> list[tuple[str, str, str]]:
    family = load_registry(write_volumes(tmp_path)).family("volumes")
    migration = build_migration("volumes", 1, 2, [op], "inverse", exact=True)
    report = check_edge(family, migration)
    return [(f.kind, f.operation, f.json_path) for f in report.findings]


def test_a_new_operation_is_checked_on_the_schemas_through_its_own_methods(
    tmp_path: Path,
) -> None:
    assert _edge(tmp_path, Relabel("disk", "size_gb", "size")) == []
    found = _edge(tmp_path, Relabel("disk", "size_gb", "sizes"))
    assert (
        "missing-result",
        "upgrade operation 1: relabel disk.size_gb as sizes",
        '$["disk"]["sizes"]',
    ) in found
    assert ("no-place", "downgrade", '$["disk"]["size"]') in found


def test_a_new_operation_compiles_writes_and_describes_itself() -> None:
    op = Relabel("disk", "size_gb", "size")
    assert op.spec() == {"op": "relabel", "section": "disk", "field": "size_gb", "to": "size"}
    data = {"disk": {"size_gb": 3, "name": "a"}}
    applied = copy.deepcopy(data)
    op.apply(applied)
    assert compile_operations([op, op.inverse()], BUILTIN_CONVERTERS)(copy.deepcopy(data)) == data
    assert compile_operations([op], BUILTIN_CONVERTERS)(copy.deepcopy(data)) == applied
    assert applied == {"disk": {"size": 3, "name": "a"}}


def test_an_operation_without_its_effect_on_the_shape_is_refused_by_name() -> None:
    @dataclass(frozen=True)
    class Half(Operation):
        name: ClassVar[str] = "half"

        def _apply(
            self, data: JSONObject, holder: JSONObject, converters: Mapping[str, Converter]
        ) -> None:
            holder[self.field] //= 2

        def inverse(self, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS) -> Operation:
            return self

    with pytest.raises(TypeError, match="reshape"):
        Half("disk", "size")  # type: ignore[abstract]


def test_a_compiled_step_binds_its_own_values() -> None:
    step = Add("s", "a", [1]).compile(BUILTIN_CONVERTERS)
    assert step.names == {"_d": [1]}
    assert any("_deepcopy(_d{i})" in line for line in step.lines)
    data: dict[str, Any] = {"s": {}}
    out = compile_operations([Add("s", "a", [1]), Add("s", "b", [1])], BUILTIN_CONVERTERS)(data)
    assert out == {"s": {"a": [1], "b": [1]}} and out["s"]["a"] is not out["s"]["b"]
