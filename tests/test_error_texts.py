"""What errors say about the input: true sizes, the member a problem is in, JSON Lines read as
one document, and values spelt as JSON spells them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from docket import load_registry
from docket.cli.common import read_input
from docket.core.bulk import validate_many
from docket.core.codec import Limits, parse
from docket.errors import InvalidJSON, LimitExceeded, json_path, segments_of

REGISTRY = load_registry()
SMALL = REGISTRY.with_limits(Limits(max_bytes=1000))
FAMILY = REGISTRY.family("backup-metadata")


def _padded(size: int) -> bytes:
    """A container of exactly ``size`` bytes."""
    head = b'{"version": 2, "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


# --- max_bytes: the size of the input, or what is known of it ----------------------------------


def test_a_file_over_max_bytes_is_reported_at_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(_padded(5000))
    (result,) = validate_many([path], registry=SMALL)
    (issue,) = result.errors
    assert "5000 bytes" in issue.message and "1001" not in issue.message, issue.message
    assert "max_bytes" in issue.message and "1000" in issue.message


def test_a_stream_over_max_bytes_is_more_than_the_limit() -> None:
    (result,) = validate_many(["-"], registry=SMALL, stdin=io.BytesIO(_padded(5000)))
    (issue,) = result.errors
    assert "more than 1000 bytes" in issue.message and "1001" not in issue.message, issue.message


def test_read_input_reports_the_size_it_knows(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(_padded(5000))
    limits = Limits(max_bytes=1000)
    with pytest.raises(LimitExceeded) as info:
        read_input(str(path), None, limits)
    assert info.value.value == 5000 and "5000 bytes" in str(info.value)
    with pytest.raises(LimitExceeded) as info:
        read_input("-", io.BytesIO(_padded(5000)), limits)
    assert info.value.value is None and "more than 1000 bytes" in str(info.value)


def test_parse_reports_the_size_of_what_it_was_given() -> None:
    with pytest.raises(LimitExceeded) as info:
        parse(_padded(2000), Limits(max_bytes=1000))
    assert info.value.value == 2000
    assert "2000 bytes" in str(info.value) and "1000" in str(info.value)


# --- lone surrogates: at the member they are in -------------------------------------------------

KEY = '{\n  "version": 2,\n  "volume-metadata": {\n    "na\\ud800me": "x"\n  }\n}\n'
VALUE = '{\n  "version": 2,\n  "volume-metadata": {\n    "name": "a\\udc00b"\n  }\n}\n'


@pytest.mark.parametrize(
    ("text", "segments"),
    [(KEY, ("volume-metadata", "na\ud800me")), (VALUE, ("volume-metadata", "name"))],
    ids=["key", "value"],
)
def test_a_lone_surrogate_is_located_at_its_member(text: str, segments: tuple[str, ...]) -> None:
    for data in (text, text.encode()):
        with pytest.raises(InvalidJSON) as info:
            FAMILY.load(data)
        assert info.value.segments == segments
        (issue,) = FAMILY.validate(data)
        assert issue.segments == segments
        assert (issue.line, issue.column) == (4, 5)
        # The $-path spells the surrogate as an escape, so it can be printed and read back.
        assert issue.json_path.isascii()
        assert ("\\u" in issue.json_path) is (segments[1] != "name")
        assert segments_of(issue.json_path) == segments
        json.dumps(issue.message).encode("utf-8")
        issue.pointer.encode("utf-8")  # printable


def test_validate_prints_a_surrogate_key_in_every_format(tmp_path: Path) -> None:
    from docket.cli import commands
    from tests.test_commands import Run

    path = tmp_path / "sur.json"
    path.write_text(KEY)
    for output_format in ("text", "json", "github", "sarif", "junit"):
        run = Run()
        assert commands.validate([str(path)], output_format=output_format, **run.kw) == 1
        out = run.out
        out.encode("utf-8")
        assert "na\\\\ud800me" in out or "na\\ud800me" in out, (output_format, out)
    run = Run()
    commands.validate([str(path)], **run.kw)
    assert f'{path}:4:5: $["volume-metadata"]["na\\ud800me"]: ' in run.out


def test_a_surrogate_segment_reads_back_from_its_dollar_path() -> None:
    segments = ("a\ud800", "\udfff\\u0041", 3)
    assert segments_of(json_path(segments)) == segments


# --- JSON Lines given as one document -----------------------------------------------------------

LINES = b'{"version": 2}\n{"version": 2}\n'


def test_json_lines_read_as_one_document_hint_at_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(LINES)
    (from_file,) = validate_many([path])
    (from_stdin,) = validate_many(["-"], stdin=io.BytesIO(LINES))
    for result in (from_file, from_stdin):
        (issue,) = result.errors
        assert "this looks like JSON Lines: pass --jsonl" in issue.message, issue.message
    assert [r.valid for r in validate_many([path], jsonl=True)] == [True, True]


def test_trailing_data_on_the_same_line_is_not_called_json_lines() -> None:
    (result,) = validate_many(["-"], stdin=io.BytesIO(b'{"version": 2} {"version": 2}\n'))
    (issue,) = result.errors
    assert "JSON Lines" not in issue.message
