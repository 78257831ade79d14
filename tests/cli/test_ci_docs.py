"""docs/ci.md shows real output: each block after ``<!-- output of: docket ... -->`` is what
that command prints for the example files, checked here (``DOCKET_REGENERATE_DOCS=1``
rewrites the blocks)."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from docket.cli import commands
from tests.cli.test_commands import Run, cinder

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "ci.md"
BLOCK = re.compile(
    r"(<!-- output of: (?P<command>[^>]*?) -->\n```(?P<lang>\w*)\n)(?P<body>.*?)```", re.S
)


def example(root: Path) -> None:
    """The files the page's examples run on."""
    (root / "backups").mkdir()
    (root / "backups" / "vol-1.json").write_text(json.dumps(cinder(2, size="big"), indent=2) + "\n")
    lines = [json.dumps(cinder(1)), json.dumps({**cinder(2), "version": 9})]
    (root / "backups" / "export.jsonl").write_text("\n".join(lines) + "\n")


def output(command: str) -> str:
    argv = shlex.split(command)
    assert argv[:2] == ["docket", "validate"], command
    fmt = "text"
    if "--format" in argv:
        at = argv.index("--format")
        fmt = argv[at + 1]
        del argv[at : at + 2]
    run = Run()
    commands.validate(argv[2:], output_format=fmt, **run.kw)
    return run.out


def test_the_outputs_shown_in_ci_md_are_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example(tmp_path)
    monkeypatch.chdir(tmp_path)
    page = PAGE.read_text()
    blocks = list(BLOCK.finditer(page))
    assert {m["command"].split("--format ")[-1] for m in blocks} >= {"github", "sarif", "junit"}
    expected = BLOCK.sub(lambda m: m.group(1) + output(m["command"]) + "```", page)
    if os.environ.get("DOCKET_REGENERATE_DOCS") == "1":
        PAGE.write_text(expected)
    assert page == expected, "docs/ci.md shows output docket does not print: regenerate it"
