"""Schemas and the metaschema are found from an editable install and from a built wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from docket.core.documents import bundled_metaschema, bundled_schemas

ROOT = Path(__file__).resolve().parents[1]


def test_editable_install_finds_the_checkout_folders() -> None:
    assert bundled_schemas() == ROOT / "schemas"
    assert bundled_metaschema() == ROOT / "metaschema"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("docket-*.whl")
    return found


def test_wheel_ships_schemas_metaschema_and_py_typed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "docket/py.typed" in names
    assert "docket/_data/metaschema/version-document.schema.json" in names
    assert "docket/_data/schemas/backup-metadata/manifest.json" in names
    assert "docket/_data/schemas/backup-metadata/3.json" in names


def test_installed_wheel_loads_its_bundled_registry(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import docket, docket.core.documents as d;"
        "r = docket.load_registry();"
        "print(d.bundled_schemas());"
        "print(r.family('backup-metadata').current)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    where, current = done.stdout.split()
    assert Path(where).is_relative_to(target)
    assert current == "3"
