"""Fuzz targets of the audit's parent chains and odd rows, and of ``locate``, for
``tests/fuzz_long.py`` (which runs them with the others)."""

from __future__ import annotations

import json
import tempfile
from typing import Any

from hypothesis import strategies as st

# --- the audit: parent chains and odd rows; locate -----------------------------------------


@st.composite
def parent_graphs(draw: st.DrawFn) -> dict[str, Any]:
    """Backups as the audit sees them (``_Node``): parents anywhere, loops, missing parents,
    other volumes, unrestorable ones and readers of each."""
    from docket.fleet import _audit_checks as checks

    size = draw(st.integers(1, 12))
    ids = [f"b{i}" for i in range(size)]
    blocked = checks.Finding("partial", "no metadata object")
    return {
        backup_id: checks._Node(
            True,
            volume_id=draw(st.sampled_from(["v1", "v1", "v1", "v2", None])),
            parent_id=draw(st.one_of(st.none(), st.sampled_from([*ids, "gone"]))),
            findings=(blocked,) if draw(st.integers(0, 6)) == 0 else (),
            readers=frozenset(draw(st.sets(st.sampled_from(["cinder", "docket"])))),
        )
        for backup_id in ids
    }


def reference_chain(nodes: dict[str, Any], start: str) -> tuple[list[str], frozenset[str]]:
    """A backup's chain walked one step at a time from ``start`` (what the audit did before
    it remembered chains): the first problem, else who reads every backup of it."""
    from docket.fleet import _audit_checks as checks

    node = nodes[start]
    readers = set(node.readers)
    seen = {start}
    child_id, child = start, node
    while child.parent_id is not None:
        parent_id = child.parent_id
        if parent_id in seen:
            return [f"parent-loop:{parent_id}"], frozenset()
        seen.add(parent_id)
        parent = nodes.get(parent_id, checks._Node(False))
        if not parent.found:
            where = "" if child_id == start else child_id
            return [f"missing-parent:{parent_id}:{where}"], frozenset()
        if None not in (parent.volume_id, child.volume_id) and (
            parent.volume_id != child.volume_id
        ):
            return [f"foreign-parent:{parent_id}:{child_id}"], frozenset()
        if not parent.restorable:
            return [f"broken-parent:{parent_id}"], frozenset()
        readers &= parent.readers
        child_id, child = parent_id, parent
    return [], frozenset(readers)


def chain_finding(finding: Any) -> str:
    """A chain finding in :func:`reference_chain`'s terms."""
    words = finding.message.split()
    if finding.kind == "parent-loop":
        return f"parent-loop:{words[-1]}"
    if finding.kind == "missing-parent":
        where = finding.message.split("(the parent of ")[1].split(")")[0] if "(" in words[3] else ""
        return f"missing-parent:{words[2]}:{where}"
    if finding.kind == "foreign-parent":
        return f"foreign-parent:{words[2]}:{words[8]}"
    return f"broken-parent:{words[1].rstrip(',')}"


def check_chain(case: tuple[dict[str, Any], list[str]]) -> str:
    """Every backup's chain, judged in the order given, is what walking it gives."""
    import collections

    from docket.fleet import _audit_checks as checks

    nodes, order = case
    inspector = object.__new__(checks.Inspector)
    inspector.reader_names = ["cinder", "docket"]
    inspector._ups = collections.OrderedDict()
    inspector.node = lambda backup_id, volume=None: nodes.get(  # type: ignore[method-assign]
        backup_id, checks._Node(False)
    )
    kinds = set()
    for start in order:
        findings, readers = inspector._chain(start, nodes[start])
        expected, expected_readers = reference_chain(nodes, start)
        assert [chain_finding(f) for f in findings] == expected, start
        assert readers == expected_readers, start
        kinds.update(f.kind for f in findings)
    return ",".join(sorted(kinds)) or "ok"


chain_cases = parent_graphs().flatmap(
    lambda nodes: st.tuples(st.just(nodes), st.permutations(list(nodes)))
)

_EMPTY_ROOT = tempfile.TemporaryDirectory(prefix="docket-fuzz-root-")


def check_rows(ids: list[str]) -> str:
    """Rows of any id against an empty root: each is reported (no files), none aborts."""
    from docket.fleet.audit import BackupRow, audit

    rows = [BackupRow(id=i, status="available") for i in ids]
    verdicts = list(audit(_EMPTY_ROOT.name, rows=rows))
    assert {v.backup_id for v in verdicts} == set(ids)
    assert all([f.kind for f in v.findings] == ["no-files"] for v in verdicts)
    return "ok"


locate_keys = st.text(alphabet='ab"\\/é\n\t\u2028 ', max_size=4)
locate_values = st.recursive(
    st.none() | st.booleans() | st.integers() | locate_keys,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(locate_keys, children, max_size=6)
    ),
    max_leaves=40,
)


def check_locate(case: tuple[Any, int | None, int]) -> str:
    """Every place of a document, padded or not: where the one-pass walk finds it is where
    the token scan does, and its line and column are those of its offset."""
    from docket.core.locate import _scan, locate, position

    value, indent, pad = case
    text = json.dumps({"root": value}, indent=indent).replace("\n", " " * pad + "\n")
    wanted: set[tuple[Any, ...]] = set()
    todo: list[tuple[tuple[Any, ...], Any]] = [((), {"root": value})]
    while todo:
        here, item = todo.pop()
        wanted.add(here)
        if isinstance(item, dict):
            todo += [((*here, k), v) for k, v in item.items()]
        elif isinstance(item, list):
            todo += [((*here, i), v) for i, v in enumerate(item)]
    expected = {p: position(text, at) for p, at in _scan(text, wanted).items()}
    for unique in (False, True):
        assert locate(text, wanted, unique_keys=unique) == expected
    return "ok"


locate_cases = st.tuples(locate_values, st.sampled_from([None, 0, 2]), st.integers(0, 40))


