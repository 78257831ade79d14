"""docs/defining-a-family.md: its files and its example run exactly as the page shows them,
and its step-by-step workflow runs from an empty folder to a released version 2."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "defining-a-family.md"
BLOCK = re.compile(
    r"<!-- (file: (?P<path>\S+)|(?P<kind>run|shell|edit)) -->\n```(?P<lang>\w+)\n(?P<body>.*?)```",
    re.S,
)


def _blocks() -> list[re.Match[str]]:
    return list(BLOCK.finditer(DOC.read_text()))


def _write_files(root: Path, blocks: list[re.Match[str]]) -> None:
    for block in blocks:
        if block["path"]:
            target = root / block["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block["body"])


def test_the_page_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks()
    files = [b for b in blocks if b["path"]]
    runs = [b for b in blocks if b["kind"] == "run"]
    assert len(files) == 5 and len(runs) == 2
    _write_files(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    for run in runs:
        exec(compile(run["body"], str(DOC), "exec"), {})


def _command(line: str) -> list[str]:
    args = shlex.split(line.removeprefix("$ "))
    if args[0] == "docket":
        return [sys.executable, "-c", "from docket.cli.app import main; main()", *args[1:]]
    assert args[0] == "pytest", line
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *args[1:]]


def test_the_workflow_runs_from_an_empty_folder_to_a_released_version(tmp_path: Path) -> None:
    blocks = _blocks()
    # Only the notes family: the workflow starts from its first version alone.
    _write_files(tmp_path, [b for b in blocks if b["path"] and "/notes/" in b["path"]])
    env = {**os.environ, "DOCKET_SCHEMAS": ""}
    env.pop("DOCKET_SCHEMAS")
    # Hypothesis keeps its caches (the Unicode tables: ~2 s of CPU to build) in .hypothesis
    # of the working directory: the commands (two releases and a pytest) use this process's,
    # as a user's commands share their folder's, instead of each building its own.
    env.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path.cwd() / ".hypothesis"))
    steps = [b for b in blocks if b["kind"] in ("shell", "edit")]
    assert [b["kind"] for b in steps] == ["shell", "edit", "shell", "shell"]
    for block in steps:
        if block["kind"] == "edit":
            cwd = os.getcwd()
            os.chdir(tmp_path)
            try:
                exec(compile(block["body"], str(DOC), "exec"), {})
            finally:
                os.chdir(cwd)
            continue
        for line in block["body"].strip().splitlines():
            proc = subprocess.run(
                _command(line), cwd=tmp_path, env=env, capture_output=True, text=True
            )
            assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
    folder = tmp_path / "myschemas" / "notes"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["versions"] == [1, 2] and manifest["current"] == 2
    assert list(manifest["released"]) == ["1", "2"]
    assert list((folder / "golden" / "2").glob("*.json"))
    # Releasing 2 pinned what each golden container of 1 becomes at 2.
    ones = sorted(p.name for p in (folder / "golden" / "1").glob("*.json"))
    pinned = sorted(p.name for p in (folder / "golden" / "1" / "upgraded" / "2").glob("*.json"))
    assert ones and pinned == ones
    # The migration the page shows is the one --update wrote.
    shown = re.search(
        r"It wrote this migration into `2.json`:\n\n```json\n(.*?)```", DOC.read_text(), re.S
    )
    assert shown is not None
    written = json.loads((folder / "2.json").read_text())["migration"]
    assert written == json.loads(shown.group(1))
