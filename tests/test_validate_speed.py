"""What keeps `docket validate` fast stays true: a lean start-up, one parse per container,
and JSON Lines read in blocks exactly as line by line."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

import docket
from docket.core import bulk

HEAVY = (
    "docket.backup",
    "docket.store",
    "docket.cli.database",
    "docket.cli.audit",
    "docket.cli.conformance",
    "sqlalchemy",
    "rich",
    "marshmallow",
    "multiprocessing",
    "xml.sax.saxutils",
)


def test_validate_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"version": 99}')
    code = (
        "import sys\nfrom docket.cli import main\n"
        f"try:\n    main(['validate', {str(path)!r}])\nexcept SystemExit as e:\n"
        "    print(e.code, sorted(m for m in sys.modules if m.startswith("
        f"{HEAVY!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "1 []", done.stdout + done.stderr


@pytest.mark.parametrize(
    "block",
    [
        b"",
        b"\n",
        b"a\nb\n",
        b"a\r\n\r\nb",
        b"x" * 10 + b"\n" + b"y" * 11 + b"\nz\n" + b"w" * 11,
        b"\n\n" + b"q" * 10,
    ],
)
def test_blocks_split_as_lines_are_read(block: bytes) -> None:
    expected = list(bulk._lines(io.BytesIO(block), 10))
    assert list(bulk._split(block, 10)) == expected


def test_validate_parsed_agrees_with_validate() -> None:
    family = docket.load_registry().family("backup-metadata")
    for raw in (
        b'{"version": 7}',
        b'{"version": true}',
        b'{"version": "2"}',
        b"{}",
        b'{"version": 2}',
    ):
        obj = docket.core.codec.parse(raw)
        assert family.validate_parsed(obj) == family.validate(raw)
