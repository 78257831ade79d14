"""Output formats: how results and reports are written for people and for programs.

``docket validate`` writes through a :class:`Formatter`, one class per ``--format`` value,
found in :data:`FORMATTERS`; a new format is one more class there. Commands that print one
report (inspect, diff, check, restore, the volume commands) hand it to :func:`emit` as data
for ``--format json`` and as text for people.

Everything people read names a location as a ``$``-path (``$["volume-metadata"]["fee"]``);
JSON output carries it as ``path`` beside the RFC 6901 ``pointer``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Protocol, TextIO

import orjson

from docket.core.bulk import Result
from docket.core.errors import Issue, json_path, segments_of

TEXT = "text"
JSON = "json"
DOCUMENT_FORMATS = (TEXT, JSON)
"""The formats of commands that print one report."""


def issue_dict(issue: Issue) -> dict[str, Any]:
    """One problem as JSON output carries it."""
    return {
        "pointer": issue.pointer,
        "path": issue.json_path,
        "message": issue.message,
        "keyword": issue.keyword,
    }


def issue_text(issue: Issue) -> str:
    """One problem as people read it: ``$["a"]["b"]: message``."""
    return f"{issue.json_path}: {issue.message}"


def pointer_path(pointer: str) -> str:
    """A JSON Pointer (``#/a/b`` into a schema, or ``/a/b``) as a ``$``-path: ``$["a"]["b"]``.

    Every segment is read as a key: a pointer does not say whether ``0`` indexes an array.
    """
    return json_path(segments_of(pointer.removeprefix("#")))


def result_dict(result: Result) -> dict[str, Any]:
    """A verdict as ``validate --format json`` prints it."""
    return {
        "file": result.file,
        "line": result.line,
        "valid": result.valid,
        "family": result.family,
        "version": result.version,
        "errors": [issue_dict(i) for i in result.errors],
    }


class Formatter(Protocol):
    """Writes ``docket validate``'s verdicts, as they come, in one output format."""

    name: ClassVar[str]
    """The ``--format`` value."""
    summary: ClassVar[bool]
    """Whether a clean run also says ``N container(s) valid`` on standard error."""

    def __init__(self, out: TextIO) -> None: ...

    def begin(self) -> None:
        """Before the first result."""

    def result(self, result: Result) -> None:
        """One container's verdict (valid or not)."""

    def end(self, count: int, invalid: int) -> None:
        """After the last result: how many containers there were, and how many invalid."""


class TextFormatter:
    """One line per problem: ``FILE[:LINE]: $-PATH: message``."""

    name: ClassVar[str] = TEXT
    summary: ClassVar[bool] = True

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def begin(self) -> None:
        pass

    def result(self, result: Result) -> None:
        where = result.file if result.line is None else f"{result.file}:{result.line}"
        for issue in result.errors:
            self.out.write(f"{where}: {issue_text(issue)}\n")

    def end(self, count: int, invalid: int) -> None:
        pass


class JsonFormatter:
    """A JSON list, one object per container, written as the verdicts come (streamed)."""

    name: ClassVar[str] = JSON
    summary: ClassVar[bool] = False

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.first = True

    def begin(self) -> None:
        self.out.write("[")

    def result(self, result: Result) -> None:
        separator = "\n  " if self.first else ",\n  "
        self.first = False
        self.out.write(separator + orjson.dumps(result_dict(result)).decode("utf-8"))

    def end(self, count: int, invalid: int) -> None:
        self.out.write("]\n" if self.first else "\n]\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class GithubFormatter(TextFormatter):
    """GitHub workflow commands (``::error file=...``), shown on the pull request's lines."""

    name: ClassVar[str] = "github"

    def result(self, result: Result) -> None:
        props = f"file={_escape_property(result.file)}"
        if result.line is not None:
            props += f",line={result.line}"
        props += ",title=docket validate"
        for issue in result.errors:
            self.out.write(f"::error {props}::{_escape_data(issue_text(issue))}\n")


FORMATTERS: dict[str, type[Formatter]] = {
    f.name: f for f in (TextFormatter, JsonFormatter, GithubFormatter)
}
"""Every ``--format`` of ``docket validate``, by name."""


def emit(out: TextIO, output_format: str, data: Any, text: str, *, sort_keys: bool = False) -> None:
    """One report: ``data`` as indented JSON for ``--format json``, else ``text`` as it is."""
    if output_format == JSON:
        out.write(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=sort_keys) + "\n")
    else:
        out.write(text)
