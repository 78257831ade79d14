"""The layer contract, read from the source: what each package of ``src/docket`` may import.

- ``docket.core`` imports nothing from ``docket.store``, ``docket.backup``, ``docket.cli``,
  ``docket.testing``, ``docket.fleet`` or ``docket.authoring``, none of sqlalchemy, click,
  rich, marshmallow, and no process pools (``concurrent.futures``, ``multiprocessing``);
- ``docket.core`` walks no directories (``os.walk``, ``os.scandir``, ``os.listdir``,
  ``Path.iterdir``/``glob``/``rglob``) except in ``docket.core.documents``, the loader that
  reads schema directories;
- ``docket.fs`` (safe file access, used by every package) imports nothing from docket but
  ``docket.core.errors``, and ``docket.fs_changes`` (several files all or nothing) nothing but
  those two;
- ``docket.store`` and ``docket.backup`` import nothing from ``docket.cli``, ``docket.fleet`` or
  ``docket.authoring``, nor each other: the backup driver reaches the database through its
  ``MetadataAPI`` protocol (``docket.backup.base``), which ``docket.store.BackupMetadataAPI``
  implements;
- ``docket.fleet`` (jobs over many containers or backups) imports nothing from ``docket.cli`` or
  ``docket.authoring``; ``docket.authoring`` (schema-directory workflows) nothing from
  ``docket.cli``, ``docket.store``, ``docket.backup`` or ``docket.fleet``;
- ``docket.testing`` imports nothing from ``docket.cli``;
- ``docket.cinder`` (the integration module that imports Cinder, loaded by ``cinder-backup``)
  builds on ``docket.backup`` and ``docket.store`` and imports nothing from ``docket.cli``,
  ``docket.fleet``, ``docket.authoring``, ``docket.testing`` or ``docket.conformance``; no
  other package imports it (it fails outside a Cinder environment).

Every import counts, wherever it stands (module level, inside a function, under
``TYPE_CHECKING``), and so does ``importlib.import_module("...")`` with a literal name. Also:
``import docket`` loads no database or command-line library, and no source file is over 800
lines.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "docket.core": (
        "docket.store",
        "docket.backup",
        "docket.cli",
        "docket.testing",
        "docket.fleet",
        "docket.authoring",
        "docket.cinder",
        "sqlalchemy",
        "click",
        "rich",
        "marshmallow",
        "concurrent.futures",
        "multiprocessing",
    ),
    "docket.store": (
        "docket.cli",
        "docket.fleet",
        "docket.authoring",
        "docket.backup",
        "docket.cinder",
    ),
    "docket.backup": (
        "docket.cli",
        "docket.fleet",
        "docket.authoring",
        "docket.store",
        "docket.cinder",
    ),
    "docket.fleet": ("docket.cli", "docket.authoring", "docket.cinder"),
    "docket.authoring": (
        "docket.cli",
        "docket.store",
        "docket.backup",
        "docket.fleet",
        "docket.cinder",
    ),
    "docket.testing": ("docket.cli", "docket.cinder"),
    "docket.conformance": (
        "docket.cli",
        "docket.store",
        "docket.backup",
        "docket.cinder",
        "sqlalchemy",
        "click",
    ),
    "docket.cli": ("docket.cinder",),
    "docket.cinder": (
        "docket.cli",
        "docket.fleet",
        "docket.authoring",
        "docket.testing",
        "docket.conformance",
    ),
}
"""For each layer (a package and everything below it), the modules it may not import."""

ONLY_FROM_DOCKET: dict[str, tuple[str, ...]] = {
    "docket.fs": ("docket.core.errors",),
    "docket.fs_changes": ("docket.core.errors", "docket.fs"),
    "docket._lazy": (),
}
"""Bottom layers: of docket, each may import only these modules."""

WALKING_CORE = "docket.core"
WALK_ALLOWED = frozenset({"docket.core.documents"})
"""The one core module that lists directories: the loader of schema directories."""
WALK_FUNCTIONS = frozenset({"walk", "fwalk", "scandir", "listdir"})
"""``os.<name>`` calls (and ``from os import <name>``) that walk or list a directory."""
WALK_METHODS = frozenset({"iterdir", "glob", "rglob"})
"""``Path.<name>()`` (any ``x.<name>()``, and the ``glob`` module) that list a directory."""

HEAVY = ("sqlalchemy", "click", "rich", "marshmallow", "psycopg", "pymysql")
MAX_LINES = 800


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    module: str
    imported: str
    forbidden: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.imported} ({self.forbidden})"


def module_name(path: Path, root: Path) -> str:
    """``docket.core.codec`` for ``root/docket/core/codec.py``; a package for its ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name a ``from`` import refers to (``level`` dots before ``target``)."""
    if level == 0:
        return target or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _import_module_call(node: ast.Call) -> str | None:
    """The literal module name of ``importlib.import_module("x")``, ``import_module("x")`` or
    ``__import__("x")``; None for any other call, or a name that is not a literal."""
    func = node.func
    called = (
        func.attr
        if isinstance(func, ast.Attribute)
        else func.id
        if isinstance(func, ast.Name)
        else None
    )
    if called not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def imports_of(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in the file, at any depth.

    ``from a import b`` yields both ``a`` and ``a.b``: ``b`` may be a submodule.
    """
    module = module_name(path, root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call):
            named = _import_module_call(node)
            if named is not None:
                yield node.lineno, named


def violations(
    root: Path,
    rules: dict[str, tuple[str, ...]] = FORBIDDEN,
    only: dict[str, tuple[str, ...]] = ONLY_FROM_DOCKET,
) -> list[Violation]:
    """Every import under ``root`` that breaks ``rules`` (one per line and forbidden module),
    or imports from docket what ``only`` does not allow its layer (reported as ``docket``)."""
    found: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        banned = [b for layer, bans in rules.items() if _is_within(module, layer) for b in bans]
        allowed = [a for layer, oks in only.items() if _is_within(module, layer) for a in oks]
        bottom = any(_is_within(module, layer) for layer in only)
        seen: set[tuple[int, str]] = set()
        for line, imported in imports_of(path, root):
            for forbidden in banned:
                if _is_within(imported, forbidden) and (line, forbidden) not in seen:
                    seen.add((line, forbidden))
                    found.append(Violation(path, line, module, imported, forbidden))
            if (
                bottom
                and _is_within(imported, "docket")
                and not any(_is_within(imported, a) for a in allowed)
                and (line, "docket") not in seen
            ):
                seen.add((line, "docket"))
                found.append(Violation(path, line, module, imported, "docket"))
    return found


def walks_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, what) for every directory listing in the file: ``os.walk(...)`` and its kin,
    ``x.iterdir()`` / ``x.glob(...)`` / ``x.rglob(...)``, and importing any of them."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, node.func.value
            if name in WALK_FUNCTIONS and isinstance(owner, ast.Name) and owner.id == "os":
                yield node.lineno, f"os.{name}"
            elif name in WALK_METHODS:
                yield node.lineno, f".{name}()"
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in WALK_FUNCTIONS:
                    yield node.lineno, f"os.{alias.name}"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            if "glob" in names:
                yield node.lineno, "glob"


def walk_violations(root: Path) -> list[Violation]:
    """Every directory listing in ``docket.core`` outside the schema-directory loader."""
    found: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if not _is_within(module, WALKING_CORE) or module in WALK_ALLOWED:
            continue
        for line, what in walks_of(path):
            found.append(Violation(path, line, module, what, "directory walks"))
    return found


# --- the real tree ----------------------------------------------------------------------------


def test_every_layer_keeps_to_its_imports() -> None:
    found = violations(SRC)
    assert not found, "layer contract broken:\n" + "\n".join(map(str, found))


def test_core_walks_no_directories_outside_the_schema_loader() -> None:
    found = walk_violations(SRC)
    assert not found, "core lists directories:\n" + "\n".join(map(str, found))


def test_the_scan_sees_every_package() -> None:
    # A contract over no files would pass forever: make sure each layer has modules scanned.
    modules = {module_name(p, SRC) for p in SRC.rglob("*.py")}
    for layer in [*FORBIDDEN, *ONLY_FROM_DOCKET, *WALK_ALLOWED]:
        assert any(_is_within(m, layer) for m in modules), layer
    assert len(modules) > 30


@pytest.mark.parametrize("statement", ["import docket", "import docket.errors"])
def test_importing_docket_loads_no_database_or_cli_library(statement: str) -> None:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert "docket" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("root", [SRC, TESTS], ids=["src", "tests"])
def test_no_file_is_over_800_lines(root: Path) -> None:
    long = {
        str(p.relative_to(root)): n
        for p in root.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_the_tests_mirror_the_packages() -> None:
    """Every folder of tests (but the data and the Cinder interop runs) names a package of
    docket, and holds test files: a newcomer finds a package's tests under its name."""
    packages = {p.name for p in (SRC / "docket").iterdir() if (p / "__init__.py").is_file()}
    data = {"data", "families", "fixtures", "hostile", "interop", "__pycache__"}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name not in data}
    assert folders <= packages, folders - packages
    for folder in folders:
        assert list((TESTS / folder).glob("test_*.py")), folder
    assert not list(TESTS.glob("test_*.py")) or {p.stem for p in TESTS.glob("test_*.py")} == {
        "test_layers",
        "test_public_api",
        "test_packaging",
        "test_benchmarks_smoke",
    }


# --- the checker itself, on synthetic modules ---------------------------------------------------


def _planted(name: str) -> list[dict[str, object]]:
    """Planted violations, one a row, from ``tests/data/<name>``."""
    rows: list[dict[str, object]] = json.loads((Path(__file__).parent / "data" / name).read_text())
    return rows


def write(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small docket-shaped tree whose modules keep to the contract."""
    for package in (
        "docket",
        "docket/core",
        "docket/store",
        "docket/backup",
        "docket/cli",
        "docket/testing",
    ):
        write(tmp_path, f"{package}/__init__.py", "")
    write(
        tmp_path,
        "docket/core/codec.py",
        """
        import json
        from docket.core import errors
        from . import versions
        """,
    )
    write(tmp_path, "docket/store/api.py", "import sqlalchemy\nfrom docket.core import codec\n")
    write(tmp_path, "docket/cli/app.py", "import click\nfrom docket.store import api\n")
    write(tmp_path, "docket/fs.py", "import os\nfrom docket.core.errors import UnsafeFile\n")
    write(
        tmp_path,
        "docket/backup/base.py",
        "from typing import Protocol\nfrom docket import fs\nclass MetadataAPI(Protocol): ...\n",
    )
    write(
        tmp_path,
        "docket/core/documents.py",
        "import os\ndef read(p):\n    return sorted(p.iterdir()) + os.listdir(p)\n",
    )
    return tmp_path


def test_a_clean_tree_has_no_violations(tree: Path) -> None:
    assert violations(tree) == []
    assert walk_violations(tree) == []


@pytest.mark.parametrize(
    ("relative", "source", "line", "forbidden"),
    [tuple(row.values()) for row in _planted("planted_imports.json")],
)
def test_a_forbidden_import_is_reported_with_file_and_line(
    tree: Path, relative: str, source: str, line: int, forbidden: str
) -> None:
    bad = write(tree, relative, source)
    found = violations(tree)
    assert [(v.path, v.line, v.forbidden) for v in found] == [(bad, line, forbidden)]
    assert str(found[0]).startswith(f"{bad}:{line}: ")


@pytest.mark.parametrize(
    ("source", "line", "what"),
    [
        ("import os\nnames = os.listdir('.')\n", 2, "os.listdir"),
        ("import os\nfor top, dirs, files in os.walk('.'):\n    pass\n", 2, "os.walk"),
        (
            "import os\n\ndef f():\n    with os.scandir('.') as it:\n        return it\n",
            4,
            "os.scandir",
        ),
        ("from os import scandir\n", 1, "os.scandir"),
        ("from pathlib import Path\nfound = list(Path('.').iterdir())\n", 2, ".iterdir()"),
        ("def f(p):\n    return sorted(p.rglob('*.json'))\n", 2, ".rglob()"),
        ("def f(p):\n    return p.glob('*')\n", 2, ".glob()"),
        ("import glob\n", 1, "glob"),
    ],
)
def test_a_directory_walk_in_core_is_reported(
    tree: Path, source: str, line: int, what: str
) -> None:
    bad = write(tree, "docket/core/bad.py", source)
    found = walk_violations(tree)
    assert [(v.path, v.line, v.imported) for v in found] == [(bad, line, what)]
    # The same listing in the schema loader, or outside core, is not reported.
    write(tree, "docket/core/documents.py", source)
    write(tree, "docket/backup/walks.py", source)
    assert [(v.path, v.line) for v in walk_violations(tree)] == [(bad, line)]


def test_allowed_imports_are_not_reported(tree: Path) -> None:
    # The store may use SQLAlchemy and the core; the CLI may use anything; names that only
    # start like a forbidden module are other modules.
    write(tree, "docket/store/ok.py", "import sqlalchemy.orm\nfrom docket.core import family\n")
    write(tree, "docket/cli/ok.py", "import rich\nfrom docket.testing import golden\n")
    write(tree, "docket/core/ok.py", "import clickhouse\nimport richtext\nimport docket.corex\n")
    write(tree, "docket/core/dynamic.py", "import importlib\nimportlib.import_module(name)\n")
    # Every package may use the safe-file module; the core may too (reading schema files).
    write(tree, "docket/core/reads.py", "from docket import fs\nfrom docket.fs import open_file\n")
    write(tree, "docket/store/reads.py", "from docket.fs import write_atomic\n")
    write(tree, "docket/core/threads.py", "import threading\nimport concurrently\n")
    assert violations(tree) == []


def unmapped_modules(src: Path, design: str) -> list[str]:
    """The modules under ``src/docket`` that ``design`` (docs/design.md) does not name: a
    module by its file's stem, a package by its directory's name, as whole words."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", design))
    missing = []
    for path in sorted((src / "docket").rglob("*.py")):
        stem = path.parent.name if path.stem in ("__init__", "__main__") else path.stem
        if stem not in words:
            missing.append(path.relative_to(src).as_posix())
    return missing


def test_design_md_maps_every_module() -> None:
    """docs/design.md is the map of the packages: a module it does not name is a gap in it."""
    design = (SRC.parent / "docs" / "design.md").read_text(encoding="utf-8")
    assert unmapped_modules(SRC, design) == [], "name these modules in docs/design.md"


def test_an_unmapped_module_is_reported(tmp_path: Path) -> None:
    for module in ("__init__", "_layout", "_walk"):
        write(tmp_path, f"docket/backup/{module}.py", "")
    assert unmapped_modules(tmp_path, "backup: _layout, _catalog") == ["docket/backup/_walk.py"]
    assert unmapped_modules(tmp_path, "backup: _layout, _walk") == []
    # A stem inside a longer word is not a mention.
    assert unmapped_modules(tmp_path, "backup: _layout, _walker") == ["docket/backup/_walk.py"]
