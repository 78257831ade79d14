"""What errors say about the input: true sizes, the member a problem is in, JSON Lines read as
one document, and values spelt as JSON spells them."""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import docket.errors as E
from docket import load_registry
from docket.cli.common import ContainerProblems, read_input
from docket.core.codec import Limits, check_limits, parse
from docket.errors import DocketError, InvalidJSON, LimitExceeded, json_path, segments_of
from docket.fleet.validate import validate_many

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
    with pytest.raises(ContainerProblems) as info:
        read_input(str(path), None, limits)
    cause = info.value.cause
    assert isinstance(cause, LimitExceeded)
    assert cause.value == 5000 and "5000 bytes" in str(cause)
    with pytest.raises(ContainerProblems) as info:
        read_input("-", io.BytesIO(_padded(5000)), limits)
    cause = info.value.cause
    assert isinstance(cause, LimitExceeded)
    assert cause.value is None and "more than 1000 bytes" in str(cause)


def test_inspect_names_an_oversized_file_at_its_place_as_validate_does(tmp_path: Path) -> None:
    from docket.cli import commands
    from tests.cli.test_commands import Run

    path = tmp_path / "big.json"
    path.write_bytes(_padded(20 << 20))  # over the default max_bytes (16 MiB)
    checked = Run()
    assert commands.validate([str(path)], **checked.kw) == 1
    (line,) = checked.out.splitlines()
    for command in (commands.inspect, commands.migrate):
        run = Run()
        kw = {"to": "3"} if command is commands.migrate else {}
        assert command(str(path), **kw, **run.kw) == 1
        assert run.err.splitlines() == [f"error: {line}"], run.err
    assert line.startswith(f"{path}:1:{(16 << 20) + 1}: $: ") and "max_bytes" in line


def test_a_missing_file_is_worded_as_validate_words_it_with_a_hint(tmp_path: Path) -> None:
    """inspect and migrate said "error: No such file or directory: PATH", no hint."""
    from docket.cli import commands
    from tests.cli.test_commands import Run

    path = tmp_path / "nope.json"
    checked = Run()
    assert commands.validate([str(path)], **checked.kw) == 1
    assert f"{path}: $: cannot read: No such file or directory" in checked.out
    for command in (commands.inspect, commands.migrate):
        run = Run()
        kw = {"to": "3"} if command is commands.migrate else {}
        assert command(str(path), **kw, **run.kw) == 1
        expected = f"error: {path}: cannot read: No such file or directory (hint: check the path)"
        assert run.err.splitlines() == [expected], run.err


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
    from tests.cli.test_commands import Run

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


# --- values are spelt as JSON spells them -------------------------------------------------------

# Strings without a quote mark or a capital letter: a `'` or a `None`/`True`/`False` in a
# message can then only be Python's spelling of a value.
_TEXT = st.text(
    st.characters(exclude_characters="'\\", exclude_categories=("Lu", "Cs", "Cc")), max_size=8
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
PYTHON = re.compile(r"\b(None|True|False)\b|'")


def _messages(value: Any) -> list[str]:
    """What docket says of ``value`` where a container holds it."""
    out: list[str] = []
    for family in ("backup-metadata", "chunked-backup"):
        data = json.dumps({"version": value}).encode()
        out += [i.message for i in REGISTRY.family(family).validate(data)]
        try:
            REGISTRY.family(family).load(data)
        except DocketError as err:
            out.append(str(err))
    named = json.dumps({"family": value, "version": 2})
    for result in validate_many(["-"], stdin=io.BytesIO(named.encode())):
        out += [i.message for i in result.errors]
    signed = REGISTRY.family("backup-metadata").new({}, version=3).data
    out += [i.message for i in FAMILY.validate({**signed, "digest": value})]
    out.append(str(E.MigrationError("f", value, value, "no")))
    out.append(str(E.KeyConflict(("a",), [value, value], "MySQL")))
    out.append(str(E.UnknownFamily(value, ["a"])))
    out.append(str(E.UnknownRule(value, ["a"])))
    for key in (value, None, True, 1):
        try:
            check_limits({"k": [{key: 1}]} if isinstance(key, Hashable) else {"k": key})
        except DocketError as err:
            out.append(str(err))
    if isinstance(value, str):
        key = json.dumps(value)
        text = f'{{"version": 2, {key}: 1, {key}: 2}}'
        out += [i.message for i in FAMILY.validate(text)]
    return out


@given(JSON_VALUES)
def test_errors_spell_values_as_json(value: Any) -> None:
    for message in _messages(value):
        assert not PYTHON.search(message), message


def test_python_spellings_are_gone_from_the_examples_of_the_issue() -> None:
    [issue] = FAMILY.validate(b'{"version": true}')
    assert "version true is not" in issue.message
    assert "version null is not" in str(FAMILY.validate(b'{"version": null}')[0])
    dup = FAMILY.validate(b'{"version": 2, "a": 1, "a": 2}')[0]
    assert 'duplicate key "a"' in dup.message
    with pytest.raises(E.NonFiniteNumber) as info:
        check_limits({"k": math.nan})
    assert "NaN" in str(info.value) and "nan" not in str(info.value)


# --- validate, inspect and migrate say the same about the same bad file --------------------------

GOOD = '{"version": 2, "volume-base-metadata": {"display_name": "x"}}'
BAD_FILES = {
    "empty": b"",
    "whitespace": b"  \n\t\n",
    "bom": b"\xef\xbb\xbf" + GOOD.encode(),
    "utf-16": GOOD.encode("utf-16"),
    "latin-1": GOOD.replace('"x"', '"caf\xe9"').encode("latin-1"),
    "nul": GOOD.replace('"x"', '"x\x00"').encode(),
    "crlf-nan": GOOD.replace(", ", ",\r\n").replace('"x"', "NaN").encode(),
    "crlf-schema": GOOD.replace(", ", ",\r\n").replace('"x"', "5").encode(),
    "duplicate-in-section": GOOD.replace('"x"', '"x", "display_name": "y"').encode(),
    "1e400": GOOD.replace('"x"', "1e400").encode(),
    "two-objects": (GOOD + GOOD).encode(),
    "version-missing": GOOD.replace('"version": 2, ', "").encode(),
    "version-string": GOOD.replace("2", '"2"', 1).encode(),
    "version-too-new": GOOD.replace("2", str(10**30), 1).encode(),
    "escape-in-key": GOOD.replace("}}", '}, "volume-metadata": {"\\u001b[31m": 5}}').encode(),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_validate_inspect_and_migrate_agree(tmp_path: Path, name: str) -> None:
    from docket.cli import commands
    from tests.cli.test_commands import Run

    path = tmp_path / f"{name}.json"
    path.write_bytes(BAD_FILES[name])
    checked = Run()
    assert commands.validate([str(path)], **checked.kw) == 1
    said = checked.out.splitlines()
    assert said and all(line.startswith(f"{path}:") for line in said), said
    for command in (commands.inspect, commands.migrate):
        run = Run()
        kw = {"to": "3"} if command is commands.migrate else {}
        assert command(str(path), **kw, **run.kw) == 1
        lines = run.err.splitlines()
        # A schema's problems come under a heading, indented; anything else is one line.
        placed = [line.strip() for line in lines[1:]] if len(lines) > 1 else lines
        assert [line.removeprefix("error: ") for line in placed] == said, (command, run.err)
        assert "(hint: " in run.err or "problem(s)" in run.err
