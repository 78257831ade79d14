"""One error model: a location is kept as segments; the $-path and the pointer derive from it."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

import docket
import docket.errors as E
from docket.core.errors import show

SEGMENTS = ("a", 0, 'say "hi"', "back\\slash", "til~de", "sl/ash", "")


def test_segments_render_as_a_dollar_path_and_a_pointer() -> None:
    assert E.json_path(SEGMENTS) == (
        '$["a"][0]["say \\"hi\\""]["back\\\\slash"]["til~de"]["sl/ash"][""]'
    )
    assert E.json_pointer(SEGMENTS) == '/a/0/say "hi"/back\\slash/til~0de/sl~1ash/'
    assert E.json_path(()) == "$" and E.json_pointer(()) == ""


def test_both_renderings_read_back_into_segments() -> None:
    assert E.segments_of(E.json_path(SEGMENTS)) == SEGMENTS
    # A pointer does not say whether "0" is an index or a key: read back, it is a key.
    assert E.segments_of(E.json_pointer(SEGMENTS)) == ("a", "0", *SEGMENTS[2:])
    assert E.segments_of("$") == () and E.segments_of("") == ()
    assert E.segments_of(["a", 1]) == ("a", 1)
    for bad in ("$.a", '$["a"', "$[01]", "a/b", '$["a"]x'):
        with pytest.raises(ValueError):
            E.segments_of(bad)


@given(st.lists(st.text() | st.integers(min_value=0), max_size=6))
def test_a_dollar_path_reads_back_exactly(segments: list[str | int]) -> None:
    assert E.segments_of(E.json_path(segments)) == tuple(segments)


HIDDEN = ("Cc", "Cf", "Cs", "Zl", "Zp")


@given(st.lists(st.text() | st.integers(min_value=0), max_size=4), st.text())
def test_paths_and_values_in_messages_are_one_inert_line(
    segments: list[str | int], value: str
) -> None:
    # A key or value from a container (ESC, C1 controls, bidi overrides, line separators)
    # must not reach a terminal raw: json_path and show write them as JSON escapes.
    for text in (E.json_path(segments), show(value), show({value: [value]})):
        assert not [c for c in text if unicodedata.category(c) in HIDDEN], text
    assert json.loads(show(value)) == value  # show is still JSON


def test_hidden_characters_in_a_key_are_escaped_and_read_back() -> None:
    segments = ("e\x1b[2J\n", "c\x9b", "b\u202e", "t\U000e0041", "l\u2028", "\\u001b")
    path = E.json_path(segments)
    assert path == (
        '$["e\\u001b[2J\\u000a"]["c\\u009b"]["b\\u202e"]["t\\udb40\\udc41"]["l\\u2028"]'
        '["\\\\u001b"]'
    )
    assert E.segments_of(path) == segments


def test_an_issue_keeps_segments_and_prints_the_dollar_path() -> None:
    issue = E.Issue(("volume-metadata", "k/1"), "is not a string", "type")
    assert issue.segments == ("volume-metadata", "k/1")
    assert issue.json_path == '$["volume-metadata"]["k/1"]'
    assert issue.pointer == "/volume-metadata/k~11"
    assert issue.path == issue.json_path  # .path is a $-path here as on every LocatedError
    assert str(issue) == '$["volume-metadata"]["k/1"]: is not a string'
    # The form of earlier releases: a rendered pointer first, segments last (they win).
    assert E.Issue("/family", "unknown", "family") == E.Issue(("family",), "unknown", "family")
    assert E.Issue("/x/0", "m", "k", ("x", 0)).segments == ("x", 0)
    assert E.Issue((), "whole", "parse").pointer == ""


def test_every_located_error_keeps_segments_and_renders_them() -> None:
    errors: list[E.LocatedError] = [
        E.LimitExceeded("max_depth", 9, 8, path=("a", 0)),
        E.IntegrityError("bad", path=("a", 0)),
        E.SchemaDocumentError("doc.json", "bad", path=("a", 0)),
        E.RestoreRefused("bad", path=("a", 0)),
        E.ValueTooLong(("a", 0), 300, 255, "characters", "volumes.display_name"),
        E.KeyConflict(("a", 0), ["K", "k"], "MariaDB"),
        E.BackupError("bad", backup_id="b1", path=("a", 0)),
        E.InvalidBackup("bad", path='$["a"][0]'),  # a rendered $-path is read back
    ]
    for err in errors:
        assert isinstance(err, docket.DocketError)
        assert err.segments == ("a", 0), type(err)
        assert err.path == err.json_path == '$["a"][0]'
        assert err.pointer == "/a/0"
        assert '$["a"][0]' in str(err) and "/a/0" not in str(err)
    assert E.MissingRecordFields(["size", "id"]).segments == ("size",)
    assert E.DigestMismatch("sha256:a", "sha256:b").path == '$["digest"]'


def test_the_whole_document_is_not_printed_as_a_location() -> None:
    assert str(E.RestoreRefused("refused")) == "refused"
    assert E.RestoreRefused("refused").path == "$"
    assert str(E.BackupNotFound("gone", backup_id="b1")) == "backup b1: gone"
    assert str(E.LimitExceeded("max_bytes", 9, 8)).startswith("cannot parse container: ")
    assert "the limit of 8 (max_bytes) (hint" in str(E.LimitExceeded("max_bytes", 9, 8))
    deep = E.LimitExceeded("max_depth", 9, 8, path=("a",))
    assert str(deep).startswith(
        'cannot parse container: max_depth 9 exceeds the limit of 8 at $["a"]'
    )
    assert "at $" not in str(E.LimitExceeded("max_depth", 9, 8))
