"""Migrations as typed operations, Python migrations built from them, and the graph's errors."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import docket
import docket.errors
from docket import authoring
from docket.core.migrations import (
    BUILTIN_CONVERTERS,
    OPERATIONS,
    Add,
    Convert,
    Converter,
    Map,
    Migration,
    Move,
    Operation,
    Remove,
    Rename,
    build_migration,
    compile_operations,
    inverse_operations,
    migration_from_document,
    parse_operations,
)
from tests._families import chain_family, version_document, write_family

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schemas"


def applied(op: Operation, data: dict[str, Any]) -> dict[str, Any]:
    op.apply(data)
    return data


# --- each operation ----------------------------------------------------------------------------


def test_add_fills_only_an_absent_field_and_its_inverse_drops_it() -> None:
    op = Add("s", "f", {"deep": [1]})
    out = applied(op, {"s": {}})
    assert out == {"s": {"f": {"deep": [1]}}}
    out["s"]["f"]["deep"].append(2)
    assert op.default == {"deep": [1]}  # each container gets its own copy
    assert applied(op, {"s": {"f": 5}}) == {"s": {"f": 5}}
    assert applied(op, {"other": 1}) == {"other": 1}  # no section: nothing to add to
    assert applied(Add(None, "family", "x"), {}) == {"family": "x"}
    assert op.inverse() == Remove("s", "f", {"deep": [1]})
    assert op.moves() == {}
    assert op.losses() == ("s.f is dropped",)
    assert Add(None, "family", "x").losses() == ("family is dropped",)


def test_remove_and_its_inverse_adding_the_default_back() -> None:
    op = Remove("s", "f", 0)
    assert applied(op, {"s": {"f": 1, "g": 2}}) == {"s": {"g": 2}}
    assert applied(op, {"s": {"g": 2}}) == {"s": {"g": 2}}
    assert op.inverse() == Add("s", "f", 0)
    assert applied(op.inverse(), {"s": {}}) == {"s": {"f": 0}}
    assert op.moves() == {} and op.losses() == ()


def test_rename_carries_the_field_and_its_inverse_renames_back() -> None:
    op = Rename("s", "old", "new")
    assert applied(op, {"s": {"old": 1}}) == {"s": {"new": 1}}
    assert applied(op, {"s": {"x": 1}}) == {"s": {"x": 1}}
    assert op.inverse() == Rename("s", "new", "old")
    assert op.moves() == {("s", "old"): ("s", "new")}
    assert op.inverse().moves() == {("s", "new"): ("s", "old")}
    assert op.losses() == ()


def test_move_goes_to_another_section_creating_it() -> None:
    op = Move("a", "f", "b")
    assert op.to_field == "f"  # the same name when not given
    assert applied(op, {"a": {"f": 1}}) == {"a": {}, "b": {"f": 1}}
    assert applied(Move("a", "f", None, "g"), {"a": {"f": 1}}) == {"a": {}, "g": 1}
    assert op.moves() == {("a", "f"): ("b", "f")}
    assert Move("a", "f", "b", "g").inverse() == Move("b", "g", "a", "f")
    assert op.inverse().inverse() == op
    back = applied(op.inverse(), applied(op, {"a": {"f": [1, 2]}}))
    assert back == {"a": {"f": [1, 2]}, "b": {}}


def test_map_replaces_values_of_the_same_type_only() -> None:
    op = Map("s", "status", [["void", "cancelled"], [1, "one"]])
    assert op.values == (("void", "cancelled"), (1, "one"))
    assert applied(op, {"s": {"status": "void"}}) == {"s": {"status": "cancelled"}}
    assert applied(op, {"s": {"status": True}}) == {"s": {"status": True}}  # True == 1, a bool
    assert applied(op, {"s": {"status": 1}}) == {"s": {"status": "one"}}
    assert op.inverse() == Map("s", "status", (("cancelled", "void"), ("one", 1)))
    assert op.losses() == ()
    merging = Map("s", "k", [["a", "x"], ["b", "x"], ["c", "y"]])
    assert merging.losses() == ('s.k: "a" is given back for each of "a", "b"',)
    assert applied(merging.inverse(), {"s": {"k": "x"}}) == {"s": {"k": "a"}}


@given(
    st.datetimes().map(lambda d: d.isoformat(timespec="seconds")),
    st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=6)),
)
def test_a_naive_timestamp_becomes_the_aware_one_of_six_fraction_digits(
    moment: str, fraction: str | None
) -> None:
    # Whatever the digits given (Cinder writes six: that text is kept with a Z), the result
    # is the moment with its fraction padded to six digits.
    text = moment if fraction is None else f"{moment}.{fraction}"
    converted = BUILTIN_CONVERTERS["naive-utc-to-aware"].forward(text)
    assert converted == f"{moment}.{(fraction or '').ljust(6, '0')}Z"


_NAIVE_REFERENCE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?")


@given(
    st.datetimes().map(lambda d: d.isoformat(timespec="microseconds")),
    st.lists(
        st.tuples(st.integers(0, 25), st.sampled_from([*"0189-T:. Z+,W", "\u0663", "\uff11"])),
        max_size=3,
    ),
)
@example("2026-02-30T03:04:05.123456", [])
@example("2026-W01-2T03:04:05.123456", [])
@example("2026-01-02T03:04:05.1+0100", [])
@example("2026-01-02T03:04:05.12345Z", [])
@example("2026-01-02 03:04:05.123456", [])
@example("2026-01-02T24:00:00.000000", [])
@example("2026-01-02T23:59:60.000000", [])
@example("0000-01-02T03:04:05.123456", [])
def test_naive_timestamps_of_cinder_s_length_are_judged_as_the_pattern_judges_them(
    moment: str, changes: list[tuple[int, str]]
) -> None:
    # Texts of 26 characters, Cinder's form and near it (a character replaced: another
    # digit, a separator, a non-ASCII digit): accepted, with a Z, exactly when they match
    # the older version's pattern and name a real moment; refused otherwise.
    chars = list(moment)
    for at, ch in changes:
        chars[at] = ch
    text = "".join(chars)
    try:
        real = _NAIVE_REFERENCE.fullmatch(text) is not None and bool(
            datetime.fromisoformat(text[:19])
        )
    except ValueError:
        real = False
    convert = BUILTIN_CONVERTERS["naive-utc-to-aware"].forward
    if real:
        assert convert(text) == text + "Z"
    else:
        with pytest.raises(ValueError):
            convert(text)


def test_convert_uses_the_named_converter_and_its_inverse() -> None:
    op = Convert("s", "at", "naive-utc-to-aware")
    assert applied(op, {"s": {"at": "2026-01-02T03:04:05"}}) == {
        "s": {"at": "2026-01-02T03:04:05.000000Z"}
    }
    assert op.inverse() == Convert("s", "at", "aware-utc-to-naive")
    with pytest.raises(ValueError, match=r"s\.at"):
        op.apply({"s": {"at": "yesterday"}})
    one_way = {**BUILTIN_CONVERTERS, "up": Converter("up", str.upper)}
    with pytest.raises(docket.errors.SchemaDocumentError, match="no inverse") as info:
        Convert("s", "f", "up").inverse(one_way)
    assert info.value.segments == ("migration", "downgrade")
    with pytest.raises(docket.errors.SchemaDocumentError, match="unknown converter"):
        compile_operations([Convert("s", "f", "nope")], BUILTIN_CONVERTERS)


def test_the_inverse_of_a_list_undoes_it_in_reverse_order() -> None:
    ops = [Rename("s", "a", "b"), Add("s", "a", 0)]
    assert inverse_operations(ops) == [Remove("s", "a", 0), Rename("s", "b", "a")]
    run_up = compile_operations(ops, BUILTIN_CONVERTERS)
    run_down = compile_operations(inverse_operations(ops), BUILTIN_CONVERTERS)
    assert run_down(run_up({"s": {"a": 5}})) == {"s": {"a": 5}}


# --- parsing through the table -----------------------------------------------------------------


def test_documents_are_read_through_one_table() -> None:
    assert dict(OPERATIONS) == {
        "add": Add,
        "remove": Remove,
        "rename": Rename,
        "move": Move,
        "map": Map,
        "convert": Convert,
    }
    ops = parse_operations(
        [
            {"op": "add", "section": None, "field": "family", "default": "x"},
            {"op": "remove", "section": "s", "field": "gone"},
            {"op": "rename", "section": "s", "field": "a", "to": "b"},
            {"op": "move", "section": "s", "field": "b", "to_section": "t"},
            {"op": "map", "section": "t", "field": "b", "values": [[1, 2]]},
            {"op": "convert", "section": "s", "fields": ["x", "y"], "converter": "int-to-string"},
        ]
    )
    assert ops == [
        Add(None, "family", "x"),
        Remove("s", "gone", None),
        Rename("s", "a", "b"),
        Move("s", "b", "t", "b"),
        Map("t", "b", ((1, 2),)),
        Convert("s", "x", "int-to-string"),
        Convert("s", "y", "int-to-string"),
    ]


def test_an_unknown_operation_is_a_schema_document_error_with_its_path() -> None:
    specs = [{"op": "add", "field": "f", "default": 1}, {"op": "explode", "field": "f"}]
    with pytest.raises(docket.errors.SchemaDocumentError) as info:
        parse_operations(specs, ("migration", "upgrade"))
    assert info.value.path == '$["migration"]["upgrade"][1]["op"]'
    assert info.value.pointer == "/migration/upgrade/1/op"
    assert 'unknown operation "explode"' in str(info.value)
    assert "hint: operations: add, remove, rename, move, map, convert" in str(info.value)
    with pytest.raises(docket.errors.SchemaDocumentError, match='needs a "to" member') as bad:
        parse_operations([{"op": "rename", "field": "f"}], ("m",))
    assert bad.value.segments == ("m", 0)


def test_a_document_migration_keeps_its_operations() -> None:
    spec = json.loads((FIXTURES / "notes" / "2.json").read_text())["migration"]
    edge = migration_from_document("notes", 1, 2, spec, BUILTIN_CONVERTERS)
    assert [type(op) for op in edge.upgrade_operations] == [Add, Rename, Add, Convert]
    assert edge.downgrade_operations == tuple(inverse_operations(edge.upgrade_operations))
    assert edge.moves == {("note", "body"): ("note", "text")}
    assert edge.losses == ("note.priority is dropped",)  # as declared
    spec["downgrade"].pop("losses")
    computed = migration_from_document("notes", 1, 2, spec, BUILTIN_CONVERTERS)
    assert computed.losses == ("note.priority is dropped", "family is dropped")


# --- Python migrations written with operations -------------------------------------------------


def contacts(tmp_path: Path) -> Path:
    """A family ``contacts`` of two versions and no migration in its documents."""
    fields = {1: ["name", "phone"], 2: ["name", "mobile", "email"]}
    documents = {
        v: version_document(
            "contacts",
            v,
            {
                "person": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {n: {"type": ["string", "null"]} for n in names},
                }
            },
            policy={"sections": {"person": {"restore": True, "fields": names[:2]}}},
        )
        for v, names in fields.items()
    }
    return write_family(tmp_path / "schemas", "contacts", documents, indent=None)


UPGRADE = [Rename("person", "phone", "mobile"), Add("person", "email", None)]


def test_a_python_migration_of_operations_gets_inverse_moves_and_losses(tmp_path: Path) -> None:
    root = contacts(tmp_path)
    with pytest.raises(docket.errors.UnreachableVersion) as stuck:
        docket.load_registry(root)
    # The hint says where the edge goes, and how to check a family whose edge is Python
    # (`docket check` cannot load it: it said only "add the missing migration(s)").
    assert "load_registry(path, migrations=[...])" in stuck.value.hint
    assert "docket.authoring.check(path, registry)" in stuck.value.hint
    # The edge is added before the family, which needs it to build.
    registry = docket.load_registry().with_migration("contacts", 1, 2, UPGRADE, "inverse")
    family = registry.with_schemas(root).family("contacts")
    assert authoring.check(root, registry.with_schemas(root)).ok
    edge = family.migration(1)
    assert edge.moves == {("person", "phone"): ("person", "mobile")}
    assert edge.losses == ("person.email is dropped",)
    assert edge.downgrade_operations == (
        Remove("person", "email", None),
        Rename("person", "mobile", "phone"),
    )
    entry = family.load({"version": 1, "person": {"name": "Ada", "phone": "555"}})
    assert entry.data["person"] == {"name": "Ada", "mobile": "555", "email": None}
    assert family.restore_policy(entry).filter(entry) == {
        "person": {"name": "Ada", "mobile": "555"}
    }
    with pytest.raises(docket.LossyMigration) as info:
        family.dump(entry, version=1)
    assert info.value.losses == ("person.email is dropped",)
    back = family.load(family.dump(entry, version=1, allow_lossy=True), to=1)
    assert back.data == {"version": 1, "person": {"name": "Ada", "phone": "555"}}


def test_load_registry_takes_edges_built_from_operations(tmp_path: Path) -> None:
    root = contacts(tmp_path)
    exact = build_migration("contacts", 1, 2, UPGRADE, "inverse", exact=True)
    # Declared exact although it drops email: the static checks would refuse the family.
    family = docket.load_registry(root, migrations=[exact], check_soundness=False).family(
        "contacts"
    )
    entry = family.load({"version": 1, "person": {"name": "A"}})
    assert family.losses(2, 1) == []  # declared exact: nothing is refused
    assert family.dump(entry, version=1) == b'{"person":{"name":"A"},"version":1}'
    said = build_migration(
        "contacts", 1, 2, UPGRADE, [Rename("person", "mobile", "phone")], losses=["email"]
    )
    assert said.losses == ("email",)
    bare = build_migration("contacts", 1, 2, UPGRADE, [Rename("person", "mobile", "phone")])
    assert bare.losses == ("the downgrade is declared lossy",)
    assert bare.moves == {("person", "phone"): ("person", "mobile")}


def test_inverse_needs_operations() -> None:
    def upgrade(data: dict[str, Any]) -> dict[str, Any]:
        return data

    registry = docket.load_registry()
    with pytest.raises(docket.MigrationError, match="inverse"):
        registry.with_migration("contacts", 1, 2, upgrade, "inverse")
    with pytest.raises(docket.MigrationError, match='"reverse"'):
        registry.with_migration("contacts", 1, 2, UPGRADE, "reverse")  # type: ignore[arg-type]


# --- graph errors ------------------------------------------------------------------------------


def _identity(data: dict[str, Any]) -> dict[str, Any]:
    return data


def chain(tmp_path: Path, versions: list[int], current: int, documents: bool) -> Path:
    return chain_family(tmp_path / "schemas", "t", versions, current, migrations=documents)


def edges(*pairs: tuple[int, int]) -> list[Migration]:
    return [Migration("t", a, b, _identity) for a, b in pairs]


def graph_error(root: Path, migrations: list[Migration]) -> docket.errors.GraphError:
    with pytest.raises(docket.errors.GraphError) as info:
        docket.load_registry(root, migrations=migrations)
    err = info.value
    assert err.family == "t"
    assert str(err).endswith(f"(hint: {err.hint})") and err.hint
    return err


def test_a_backward_edge_is_named_and_carries_its_edge(tmp_path: Path) -> None:
    err = graph_error(chain(tmp_path, [1, 2, 3], 3, False), edges((1, 2), (2, 3), (3, 2)))
    assert type(err) is docket.errors.BackwardEdge
    assert isinstance(err, docket.errors.CycleDetected)  # old except clauses still catch it
    assert err.edge == (3, 2)


def test_versions_after_current_are_named_and_listed(tmp_path: Path) -> None:
    err = graph_error(chain(tmp_path, [1, 2, 3, 4], 2, True), [])
    assert type(err) is docket.errors.VersionAfterCurrent
    assert isinstance(err, docket.errors.MultipleHeads)
    assert err.versions == (3, 4)
    assert "versions newer than current 2: 3, 4" in str(err)


def test_a_skipping_edge_carries_the_versions_it_skips(tmp_path: Path) -> None:
    err = graph_error(chain(tmp_path, [1, 2, 3, 4], 4, False), edges((1, 4)))
    assert type(err) is docket.errors.NonAdjacentEdge
    assert err.edge == (1, 4) and err.versions == (2, 3)


def test_duplicate_dangling_and_unreachable_carry_what_they_found(tmp_path: Path) -> None:
    duplicate = graph_error(chain(tmp_path / "d", [1, 2], 2, True), edges((1, 2)))
    assert type(duplicate) is docket.errors.DuplicateEdge and duplicate.edge == (1, 2)
    dangling = graph_error(chain(tmp_path / "g", [1, 2], 2, True), edges((2, 7)))
    assert type(dangling) is docket.errors.DanglingEdge
    assert dangling.edge == (2, 7) and dangling.versions == (7,)
    stuck = graph_error(chain(tmp_path / "u", [1, 2, 3], 3, False), edges((2, 3)))
    assert type(stuck) is docket.errors.UnreachableVersion
    assert stuck.versions == (1,) and stuck.edge is None
