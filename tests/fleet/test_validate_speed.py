"""What keeps `docket validate` fast stays true: a lean start-up, one parse per container,
and JSON Lines read in blocks exactly as line by line."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import docket
from docket.fleet._input import read_lines, split_lines

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
    assert _split_once(block, 10, 4) == list(read_lines(io.BytesIO(block), 10))


def _split_once(data: bytes, limit: int, chunk: int) -> list[tuple[int, bytes | None]]:
    """What the in-process path checks, line by line, as the reference reader gives it."""
    out: list[tuple[int, bytes | None]] = []
    total = 0
    for first, lines, size in split_lines(io.BytesIO(data), chunk, limit):
        total += size
        for offset, line in enumerate(lines):
            too_long = line is None or len(line) > limit
            kept = None if line is None or too_long else line.rstrip(b"\r")
            out.append((first - 1 + offset, kept))
    assert total == len(data)  # progress counts every byte read
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.binary(max_size=30), st.sampled_from([b"", b"\r", b"x" * 25])), max_size=12
    ),
    st.integers(1, 12),
    st.integers(1, 40),
    st.booleans(),
)
def test_reading_once_gives_the_lines_the_reference_reader_gives(
    pieces: list[bytes], limit: int, chunk: int, newline_at_end: bool
) -> None:
    """split_lines (one read, any block size) agrees with _lines (readline, bounded) on
    every line, over-long ones included, whatever the block boundaries cut."""
    data = b"\n".join(p.replace(b"\n", b"") for p in pieces) + (b"\n" if newline_at_end else b"")
    assert _split_once(data, limit, chunk) == list(read_lines(io.BytesIO(data), limit))


def test_an_over_long_line_is_never_held_whole() -> None:
    """Past ``limit`` bytes the rest of a line is dropped as it is read: no line handed on
    is longer than ``limit``, and the line after it keeps its number."""
    data = b'{"a": 1}\n' + b"x" * 10_000 + b"\n" + b'{"b": 2}\n'
    held = []
    for _first, lines, _size in split_lines(io.BytesIO(data), 64, 100):
        held.extend(len(x) for x in lines if x is not None)
    assert max(held) <= 100
    got = _split_once(data, 100, 64)
    assert got == [(0, b'{"a": 1}'), (1, None), (2, b'{"b": 2}')]


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
