"""The registry is an immutable value; its version graph is checked as it is built."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import docket
import docket.core.documents
import docket.errors
from docket.core.migrations import Migration
from tests._child import run_python
from tests._families import chain_family

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schemas"


def _identity(data: dict[str, Any]) -> dict[str, Any]:
    return data


def _family_dir(tmp_path: Path, versions: list[int], current: int, migrations: bool) -> Path:
    """A family ``t`` with the given versions; each document migrates from the previous one."""
    return chain_family(tmp_path / "schemas", "t", versions, current, migrations=migrations)


def test_families_and_versions() -> None:
    reg = docket.load_registry(FIXTURES)
    assert reg.families() == ["chunky", "notes"]
    assert reg.versions("notes") == (1, 2)
    assert reg.current("chunky") == "1.1.0"
    assert "notes" in reg
    with pytest.raises(docket.errors.UnknownFamily) as info:
        reg.family("nope")
    assert "chunky, notes" in str(info.value)


def test_bundled_registry_has_backup_metadata() -> None:
    reg = docket.load_registry()
    fam = reg.family("backup-metadata")
    assert fam.versions == (1, 2, 3)
    assert fam.current == 3


def test_adding_returns_a_new_registry(tmp_path: Path) -> None:
    root = _family_dir(tmp_path, [1, 2], 2, migrations=False)
    with pytest.raises(docket.errors.UnreachableVersion):
        docket.load_registry(root)
    edge = Migration("t", 1, 2, _identity, _identity, exact=True)
    reg = docket.load_registry(root, migrations=[edge])
    more = reg.with_rule("noop", lambda ctx: None)
    assert "noop" in more.rules and "noop" not in reg.rules
    assert more is not reg
    with pytest.raises(AttributeError):
        reg.signing_key = b"k"  # type: ignore[misc]


def test_path_between_versions() -> None:
    reg = docket.load_registry(FIXTURES)
    up = reg.path("notes", 1, 2)
    assert [(m.source, m.target, is_up) for m, is_up in up] == [(1, 2, True)]
    down = reg.path("notes", 2, 1)
    assert [(m.source, m.target, is_up) for m, is_up in down] == [(1, 2, False)]
    assert reg.path("notes", 2, 2) == []


def test_duplicate_edge(tmp_path: Path) -> None:
    root = _family_dir(tmp_path, [1, 2], 2, migrations=True)
    with pytest.raises(docket.errors.DuplicateEdge):
        docket.load_registry(root, migrations=[Migration("t", 1, 2, _identity)])


def test_dangling_edge(tmp_path: Path) -> None:
    root = _family_dir(tmp_path, [1, 2], 2, migrations=True)
    with pytest.raises(docket.errors.DanglingEdge) as info:
        docket.load_registry(root, migrations=[Migration("t", 2, 7, _identity)])
    assert "7" in str(info.value)


def test_backward_edge_is_a_cycle(tmp_path: Path) -> None:
    root = _family_dir(tmp_path, [1, 2, 3], 3, migrations=False)
    edges = [
        Migration("t", 1, 2, _identity),
        Migration("t", 2, 3, _identity),
        Migration("t", 3, 2, _identity),
    ]
    with pytest.raises(docket.errors.CycleDetected):
        docket.load_registry(root, migrations=edges)


def test_skipping_edge(tmp_path: Path) -> None:
    root = _family_dir(tmp_path, [1, 2, 3], 3, migrations=False)
    with pytest.raises(docket.errors.GraphError, match="skips"):
        docket.load_registry(
            root, migrations=[Migration("t", 1, 3, _identity), Migration("t", 2, 3, _identity)]
        )


def test_unreachable_version(tmp_path: Path) -> None:
    root = _family_dir(tmp_path, [1, 2, 3], 3, migrations=False)
    with pytest.raises(docket.errors.UnreachableVersion) as info:
        docket.load_registry(root, migrations=[Migration("t", 2, 3, _identity)])
    assert "no upgrade from 1" in str(info.value)


def test_two_heads_when_current_is_not_newest(tmp_path: Path) -> None:
    root = _family_dir(tmp_path, [1, 2, 3], 2, migrations=True)
    with pytest.raises(docket.errors.MultipleHeads):
        docket.load_registry(root)


def test_with_schemas_adds_families() -> None:
    reg = docket.load_registry().with_schemas(FIXTURES)
    assert {"backup-metadata", "notes", "chunky"} <= set(reg.families())


def test_user_converter_and_rule(tmp_path: Path) -> None:
    src = tmp_path / "schemas"
    shutil.copytree(FIXTURES / "notes", src / "notes")
    doc = json.loads((src / "notes" / "2.json").read_text())
    doc["migration"]["upgrade"].append(
        {"op": "convert", "section": "note", "fields": ["title"], "converter": "shout"}
    )
    doc["migration"]["downgrade"] = {"operations": "inverse", "kind": "lossy"}
    (src / "notes" / "2.json").write_text(json.dumps(doc))
    with pytest.raises(docket.SchemaDocumentError, match="shout"):
        docket.load_registry(src)
    conv = docket.Converter("shout", str.upper, "whisper")
    back = docket.Converter("whisper", str.lower, "shout")
    fam = docket.load_registry(src, converters=[conv, back]).family("notes")
    c = fam.load({"version": 1, "note": {"title": "hi"}})
    assert c.data["note"]["title"] == "HI"
    assert fam.dump(c, version=1, allow_lossy=True) == b'{"note":{"title":"hi"},"version":1}'


BUNDLED_V2 = docket.core.documents.bundled_schemas() / "backup-metadata" / "golden" / "2"


def test_a_bundled_familys_edges_compile_when_first_used() -> None:
    """A registry that checks no migration loads no operations for the bundled families
    (``docket validate``'s); an upgrade compiles its edge then, and gives what the edge
    compiled as the registry was built gives."""
    golden = sorted(BUNDLED_V2.glob("*.json"))
    assert golden
    code = (
        "import sys, json, docket\n"
        "lazy = docket.load_registry(check_soundness=False).family('backup-metadata')\n"
        "print(sorted(m for m in ('docket.core.operations', 'docket.core.migrations')"
        " if m in sys.modules))\n"
        "out = [lazy.load(open(p, 'rb').read()).data for p in sys.argv[1:]]\n"
        "print('docket.core.operations' in sys.modules, lazy.migration(2) is lazy.migration(2))\n"
        "print(json.dumps(out, sort_keys=True))\n"
    )
    done = run_python(code, *map(str, golden))
    assert done.returncode == 0, done.stderr
    before, after, loaded = done.stdout.splitlines()
    assert before == "[]"
    assert after == "True True"
    eager = docket.load_registry().family("backup-metadata")
    expected = [eager.load(p.read_bytes()).data for p in golden]
    assert json.loads(loaded) == json.loads(json.dumps(expected, sort_keys=True))


def test_a_bad_migration_of_a_schema_directory_is_refused_as_the_registry_is_built(
    tmp_path: Path,
) -> None:
    """Only the bundled families' edges wait: a schema directory's own are compiled as the
    registry is built, with or without the soundness check."""
    root = tmp_path / "schemas"
    shutil.copytree(
        docket.core.documents.bundled_schemas() / "backup-metadata", root / "backup-metadata"
    )
    doc_path = root / "backup-metadata" / "3.json"
    doc = json.loads(doc_path.read_text())
    doc["migration"]["upgrade"][1]["converter"] = "no-such"
    doc_path.write_text(json.dumps(doc))
    for check in (True, False):
        with pytest.raises(docket.errors.SchemaDocumentError, match="no-such"):
            docket.load_registry(root, check_soundness=check)
    # So are the bundled families' with converters of the caller's (this one has no inverse).
    registry = docket.load_registry(check_soundness=False)
    with pytest.raises(docket.errors.SchemaDocumentError, match="has no inverse"):
        registry.with_converter("naive-utc-to-aware", str)
