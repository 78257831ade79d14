"""Cost grows with the input, not faster (issue 24, class 3): the audit's parent chains, the
walks of deep trees, and what those cost in a child process.

Each test doubles its input and compares counts of work (or asserts the run finishes within a
child process's generous bounds); nothing times a single run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from docket.core.registry import load_registry
from docket.fleet import _audit_checks as checks
from docket.fleet.audit import audit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import scaling  # noqa: E402
from benchmarks.audit_bench import build  # noqa: E402

from tests import fuzz_long  # noqa: E402


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, int]:
    calls = {name: 0}
    original: Callable[..., Any] = getattr(checks.Inspector, name)

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(checks.Inspector, name, counted)
    return calls


def test_a_parent_chain_costs_one_step_a_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, each backup walked its whole chain: N²/2 parent look-ups for a chain of N."""
    calls = _count_calls(monkeypatch, "node")
    counts = {}
    for n in (150, 300):
        root = tmp_path / f"root-{n}"
        root.mkdir()
        build(root, n, chain=n)  # one chain through every backup, audited in id order
        calls["node"] = 0
        verdicts = list(audit(root))
        assert len(verdicts) == n and all(v.ok and v.readers for v in verdicts)
        assert sum(1 for v in verdicts if v.parent_id is None) == 1
        counts[n] = calls["node"]
    assert counts[300] / counts[150] < 3, counts
    assert counts[300] <= 2 * 300, counts


# --- the chain's verdict is the walk's, whatever the order ---------------------------------


@settings(max_examples=300, deadline=None)
@given(case=fuzz_long.chain_cases)
def test_each_chain_is_judged_as_walking_it_would_in_any_order(
    case: tuple[dict[str, Any], list[str]],
) -> None:
    fuzz_long.check_chain(case)


# --- deep trees: no recursion, bounded in a child process ------------------------------------


@pytest.fixture
def nest() -> Iterator[Callable[[Path, int], Path]]:
    """:func:`benchmarks.scaling.nest`, each chain removed at the end."""
    made: list[Path] = []

    def make(top: Path, depth: int) -> Path:
        made.append(top)
        return scaling.nest(top, depth)

    yield make
    for top in made:
        scaling.unnest(top)


# ``python -m docket`` that reports its own peak RSS (VmHWM) on stderr as it exits: ru_maxrss
# would carry the pytest worker's high-water mark across exec.
_PEAK = """
import atexit, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                sys.stderr.write("\\nPEAK-KIB " + line.split()[1] + "\\n")
atexit.register(peak)
sys.argv = ["docket", *sys.argv[1:]]
runpy.run_module("docket", run_name="__main__", alter_sys=True)
"""


def _child(*args: str, limit: float = 120) -> tuple[int, str, str, int]:
    """Exit status, stdout, stderr and peak RSS (KiB) of ``python -m docket ARGS``, killed
    after ``limit`` seconds."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *args], capture_output=True, text=True, timeout=limit
    )
    err, _, peak = done.stderr.rpartition("\nPEAK-KIB ")
    return done.returncode, done.stdout, err, int(peak)


@pytest.mark.parametrize("depth", [1200, 1900])
def test_audit_walks_a_tree_deeper_than_the_interpreter_stack(
    tmp_path: Path, depth: int, nest: Callable[[Path, int], Path]
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    # Directories outside the layout, deeper than sys.getrecursionlimit(), with a file at the
    # bottom (a stray tree to report) ...
    (nest(root, depth) / "stray").write_bytes(b"x")
    (root / "ab" / "cd").mkdir(parents=True)
    (nest(root / "ab" / "cd", depth) / "stray").write_bytes(b"x")
    # ... and one as deep holding nothing but directories: empty, so not reported.
    (root / "ab" / "ef").mkdir()
    nest(root / "ab" / "ef", depth)
    code, out, err, _ = _child("audit", str(root), "--format", "jsonl")
    assert "Traceback" not in err and "RecursionError" not in err, err[-2000:]
    assert code == 1, err
    verdicts = [v for v in map(json.loads, out.splitlines()) if "path" in v]
    # d/d is where an old backup of id "d" would be (Cinder's layout of a one-character id):
    # the walk goes in, and the stray tree is reported from the first directory below it.
    assert {v["path"] for v in verdicts} == {"d/d/d", "ab/cd/d"}
    assert all(v["findings"][0]["kind"] == "orphan" for v in verdicts)


def test_audit_walks_the_prefixes_of_a_deep_row_container(
    tmp_path: Path, nest: Callable[[Path, int], Path]
) -> None:
    from docket.fleet.audit import BackupRow, walk

    root = tmp_path / "root"
    root.mkdir()
    deepest = nest(root, 1500)
    (deepest / "x").write_text("stray")
    place = "/".join(["d"] * 1500)
    rows = {"some-backup": place}
    found = list(walk(root, rows))
    assert [(e.path, e.backup_id) for e in found] == [(place, "some-backup")]
    (verdict,) = audit(root, rows=[BackupRow(id="some-backup", container=place)])
    assert verdict.path == place and not verdict.ok


def test_validate_walks_a_tree_deeper_than_the_interpreter_stack(
    tmp_path: Path, nest: Callable[[Path, int], Path]
) -> None:
    family = load_registry().family("backup-metadata")
    container = family.new({"volume-base-metadata": {"id": "v"}}, version=2).data
    deepest = nest(tmp_path, 1500)
    (deepest / "c.json").write_text(json.dumps(container))
    code, out, err, rss = _child("validate", "--format", "json", str(tmp_path / "d"))
    assert "Traceback" not in err, err[-2000:]
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["valid"] and result["file"].endswith("/d/c.json")
    assert 0 < rss < 300 * 1024
