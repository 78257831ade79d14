"""docs/defining-a-family.md: its files and its example run exactly as the page shows them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "defining-a-family.md"
BLOCK = re.compile(r"<!-- (file: (?P<path>\S+)|run) -->\n```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)


def test_the_page_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = list(BLOCK.finditer(DOC.read_text()))
    files = [b for b in blocks if b["path"]]
    runs = [b for b in blocks if not b["path"]]
    assert len(files) == 3 and len(runs) == 1
    for block in files:
        target = tmp_path / block["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block["body"])
    monkeypatch.chdir(tmp_path)
    exec(compile(runs[0]["body"], str(DOC), "exec"), {})
