"""Output formats: how results and reports are written for people and for programs.

``docket validate`` writes through a :class:`Formatter`, one class per ``--format`` value,
found in :data:`FORMATTERS`; a new format is one more class there. Commands that print one
report (inspect, diff, check, restore, the volume commands) hand it to :func:`emit` as data
for ``--format json`` and as text for people.

Everything people read names a location as a ``$``-path (``$["volume-metadata"]["fee"]``);
JSON output carries it as ``path`` beside the RFC 6901 ``pointer``. A problem found in a
file also carries the line and column where it is (see :mod:`docket.core.locate`).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from typing import Any, ClassVar, Protocol, TextIO

import orjson

import docket
from docket._xml import escape, quoteattr
from docket.core.display import display, guard_lines, hidden, json_safe, text_of
from docket.core.errors import Issue, json_path, segments_of
from docket.fleet.validate import Result, Skipped

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
    """A verdict as ``validate --format json`` prints it: ``line`` is the container's line in
    a JSON Lines file (None for a whole file); each error's ``line`` and ``column`` are where
    the problem is in the file (None when it has no place, e.g. a file that cannot be read)."""
    return {
        "file": text_of(result.file),
        "line": result.line,
        "valid": result.valid,
        "family": result.family,
        "version": result.version,
        "errors": [issue_dict(i) | {"line": i.line, "column": i.column} for i in result.errors],
    }


def where(result: Result, issue: Issue) -> str:
    """``FILE:LINE:COLUMN`` of a problem (``FILE[:LINE]`` when it has no place), the file's
    name escaped for display."""
    file = display(result.file)
    if issue.line is not None:
        return f"{file}:{issue.line}:{issue.column or 1}"
    return file if result.line is None else f"{file}:{result.line}"


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

    def skipped(self, skipped: Skipped) -> None:
        """A path below a directory that was not validated (the command also says so on
        standard error); formats with a place for it put it in the report."""

    def end(self, count: int, invalid: int, failure: str | None = None) -> None:
        """After the last result: how many containers there were, and how many invalid.

        ``failure`` says why the run failed as a whole (no container found, a worker process
        died part way): formats with a place for it put it in the report, which is closed
        either way, so that a report of a failed run is still well-formed."""


class TextFormatter:
    """One line per problem: ``FILE:LINE:COLUMN: $-PATH: message``."""

    name: ClassVar[str] = TEXT
    summary: ClassVar[bool] = True

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def begin(self) -> None:
        pass

    def result(self, result: Result) -> None:
        for issue in result.errors:
            # the file is escaped by where(); a message is guarded all the same
            self.out.write(guard_lines(f"{where(result, issue)}: {issue_text(issue)}") + "\n")

    def skipped(self, skipped: Skipped) -> None:
        pass

    def end(self, count: int, invalid: int, failure: str | None = None) -> None:
        pass  # the command says it on standard error


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
        self._item(result_dict(result))

    def skipped(self, skipped: Skipped) -> None:
        # An item of its own, told apart by its "skipped" member (it has no "valid").
        self._item({"file": text_of(skipped.path), "skipped": text_of(skipped.reason)})

    def _item(self, item: dict[str, Any]) -> None:
        separator = "\n  " if self.first else ",\n  "
        self.first = False
        self.out.write(separator + orjson.dumps(item).decode("utf-8"))

    def end(self, count: int, invalid: int, failure: str | None = None) -> None:
        if failure is not None:
            self._item({"error": text_of(failure)})  # an item of its own: no "file"
        self.out.write("]\n" if self.first else "\n]\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_file(path: str) -> str:
    """A file's name as the ``file`` property of a workflow command: the name itself, which
    GitHub matches against the repository's files (``%``, CR, LF, ``:`` and ``,`` escaped as
    the property syntax needs); a name holding other controls, format characters or bytes
    that are not UTF-8 cannot be written so and be inert, and is written as ``display`` shows
    it (the annotation then names the file without being placed on it)."""
    if not (path.isascii() and path.isprintable()) and any(
        c not in "\t\r\n" and hidden(c) for c in path
    ):
        path = display(path)
    return _escape_property(path)


def github_message(text: str) -> str:
    """A message as the data of a workflow command: one line (``%0A`` for a newline), with
    no control or format character raw (no escape sequence, no bidirectional override, no
    line separator a log viewer breaks the line at)."""
    return _escape_data(guard_lines(text))


class GithubFormatter(TextFormatter):
    """GitHub workflow commands (``::error file=...``), shown on the pull request's lines."""

    name: ClassVar[str] = "github"

    def result(self, result: Result) -> None:
        for issue in result.errors:
            props = f"file={github_file(result.file)}"
            line = issue.line if issue.line is not None else result.line
            if line is not None:
                props += f",line={line}"
                if issue.column is not None:
                    props += f",col={issue.column}"
            props += ",title=docket validate"
            self.out.write(f"::error {props}::{github_message(issue_text(issue))}\n")

    def end(self, count: int, invalid: int, failure: str | None = None) -> None:
        if failure is not None:  # an annotation of the run, else the job fails unexplained
            self.out.write(f"::error title=docket validate::{github_message(failure)}\n")


# --- SARIF ---------------------------------------------------------------------------------

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def information_uri() -> str | None:
    """Where SARIF readers learn about docket: the ``Documentation`` (else ``Homepage`` or
    ``Repository``) URL of the installed package's metadata (``[project.urls]``), if any."""
    from importlib import metadata

    try:
        urls = metadata.metadata("docket").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    named = dict(u.split(", ", 1) for u in urls if ", " in u)
    for label in ("Documentation", "Homepage", "Repository", "Source"):
        if label in named:
            return str(named[label])
    return None

RULES: tuple[tuple[str, str, str], ...] = (
    ("parse", "Not acceptable JSON",
     "The text is not one strict JSON object: bad syntax, a duplicate key, NaN, invalid UTF-8, "
     "a byte order mark, or more than the configured limits allow."),
    ("limit", "Line over the container limit",
     "A line of JSON Lines is longer than a container may be; the rest of the input is not "
     "read."),
    ("version", "Missing or unknown version",
     "The version member is missing, malformed, or names no version of the family."),
    ("family", "Unknown or wrong family",
     "The family member names a family docket does not know, or a container without one holds "
     "members of another family than the default (pass --family)."),
    ("schema", "Does not match the version's schema",
     "The container does not match the JSON Schema of its version."),
    ("digest", "Digest does not match", "The digest member does not match the content."),
    ("signature", "Signature missing or wrong",
     "The signature is missing while a key is configured, or does not match the content."),
    ("read", "Cannot be read", "The file could not be read."),
)
"""SARIF rules, one per kind of finding: (id, short description, full description)."""
_RULE_INDEX = {rule[0]: i for i, rule in enumerate(RULES)}


def finding_kind(issue: Issue) -> str:
    """The kind (SARIF rule id) of a problem: a schema keyword is kind ``schema``."""
    return issue.keyword if issue.keyword in _RULE_INDEX else "schema"


def _uri(path: str) -> str:
    """A file's path as a SARIF artifact URI (relative paths stay relative, for code scanning
    to find them in the repository)."""
    if path == "<stdin>":
        return "stdin"
    raw = os.fsencode(path)  # the name's own bytes, UTF-8 or not, percent-encoded
    if path.startswith("/"):
        return "file://" + urllib.parse.quote(raw)
    return urllib.parse.quote(raw.removeprefix(b"./"))


class SarifFormatter:
    """SARIF 2.1.0, as GitHub code scanning uploads it: one result per problem, with the rule
    (kind of finding), the file and the line and column; written as the verdicts come."""

    name: ClassVar[str] = "sarif"
    summary: ClassVar[bool] = False

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.first = True
        self.notes: list[dict[str, Any]] = []

    def begin(self) -> None:
        uri = information_uri()
        rules = [
            {
                "id": rule_id,
                "name": rule_id.title(),
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "defaultConfiguration": {"level": "error"},
            }
            for rule_id, short, full in RULES
        ]
        driver = {"name": "docket", "version": docket.__version__}
        if uri is not None:
            driver["informationUri"] = uri
        # One rule, result or notification a line: readable, and streamed as verdicts come.
        head = ",\n".join(f"          {_dumps(k)}: {_dumps(v)}" for k, v in driver.items())
        listed = ",\n".join(f"            {_dumps(rule)}" for rule in rules)
        self.out.write(
            "{\n"
            f'  "$schema": {_dumps(SARIF_SCHEMA)},\n'
            '  "version": "2.1.0",\n'
            '  "runs": [\n'
            "    {\n"
            '      "tool": {\n'
            '        "driver": {\n'
            f"{head},\n"
            f'          "rules": [\n{listed}\n          ]\n'
            "        }\n"
            "      },\n"
            '      "columnKind": "unicodeCodePoints",\n'
            '      "results": ['
        )

    def result(self, result: Result) -> None:
        for issue in result.errors:
            kind = finding_kind(issue)
            region: dict[str, int] = {}
            line = issue.line if issue.line is not None else result.line
            if line is not None:
                region["startLine"] = line
                if issue.column is not None:
                    region["startColumn"] = issue.column
            location: dict[str, Any] = {"artifactLocation": {"uri": _uri(result.file)}}
            if region:
                location["region"] = region
            item = {
                "ruleId": kind,
                "ruleIndex": _RULE_INDEX[kind],
                "level": "error",
                "message": {"text": text_of(issue_text(issue))},
                "locations": [{"physicalLocation": location}],
                "properties": {"path": issue.json_path, "keyword": issue.keyword},
            }
            separator = "\n        " if self.first else ",\n        "
            self.first = False
            self.out.write(separator + _dumps(item))

    def skipped(self, skipped: Skipped) -> None:
        self.notes.append(
            {
                "level": "note",
                "message": {"text": text_of(f"skipped {skipped.path}: {skipped.reason}")},
                "locations": [
                    {"physicalLocation": {"artifactLocation": {"uri": _uri(skipped.path)}}}
                ],
            }
        )

    def end(self, count: int, invalid: int, failure: str | None = None) -> None:
        if failure is not None:
            self.notes.append({"level": "error", "message": {"text": text_of(failure)}})
        notes = ",\n".join(f"            {_dumps(note)}" for note in self.notes)
        self.out.write(("\n      ]" if not self.first else "]") + ",\n")
        successful = "true" if failure is None else "false"
        self.out.write(
            '      "invocations": [\n        {\n'
            f'          "executionSuccessful": {successful}'
        )
        if notes:
            self.out.write(f',\n          "toolExecutionNotifications": [\n{notes}\n          ]')
        self.out.write("\n        }\n      ]\n    }\n  ]\n}\n")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


# --- JUnit XML ------------------------------------------------------------------------------


class JunitFormatter:
    """JUnit XML as GitLab and Jenkins read test reports: one test case per container (named
    ``FILE`` or ``FILE:LINE``), a ``failure`` per invalid one, a skipped case per path below
    a directory that was not validated. Test cases are kept in a temporary file until the
    counts the ``testsuite`` element opens with are known, so memory stays flat."""

    name: ClassVar[str] = "junit"
    summary: ClassVar[bool] = False

    def __init__(self, out: TextIO) -> None:
        import tempfile  # only JUnit output needs it: not imported at every start

        self.out = out
        # Closed in end(), after the cases are copied out.
        self.cases = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=8 * 1024 * 1024, mode="w+", encoding="utf-8"
        )
        self.skips = 0

    def begin(self) -> None:
        pass

    def result(self, result: Result) -> None:
        # Names as JSON and SARIF carry them: bytes that are not UTF-8 as \xNN.
        file = text_of(result.file)
        name = file if result.line is None else f"{file}:{result.line}"
        attrs = f"classname={quoteattr('docket.validate')} name={quoteattr(name)} " + (
            f"file={quoteattr(file)}"
        )
        if result.line is not None:
            attrs += f' line="{result.line}"'
        if result.valid:
            self.cases.write(f"    <testcase {attrs}/>\n")
            return
        first = result.errors[0]
        body = "\n".join(f"{where(result, i)}: {issue_text(i)}" for i in result.errors)
        self.cases.write(
            f"    <testcase {attrs}>\n"
            f"      <failure message={quoteattr(issue_text(first))} "
            f"type={quoteattr(finding_kind(first))}>{escape(body)}</failure>\n"
            "    </testcase>\n"
        )

    def skipped(self, skipped: Skipped) -> None:
        self.skips += 1
        path = text_of(skipped.path)
        attrs = (
            f"classname={quoteattr('docket.validate')} name={quoteattr(path)} "
            f"file={quoteattr(path)}"
        )
        self.cases.write(
            f"    <testcase {attrs}>\n"
            f"      <skipped message={quoteattr(text_of(skipped.reason))}/>\n"
            "    </testcase>\n"
        )

    def end(self, count: int, invalid: int, failure: str | None = None) -> None:
        errors = 0
        if failure is not None:  # a test case of the run itself, in error
            errors = 1
            self.cases.write(
                f"    <testcase classname={quoteattr('docket.validate')} "
                f"name={quoteattr('docket validate')}>\n"
                f"      <error message={quoteattr(text_of(failure))} type=\"run\"/>\n"
                "    </testcase>\n"
            )
        tests = count + self.skips + errors
        counts = (
            f'tests="{tests}" failures="{invalid}" errors="{errors}" skipped="{self.skips}"'
        )
        self.out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        self.out.write(f'<testsuites name="docket validate" {counts}>\n')
        self.out.write(f'  <testsuite name="docket validate" {counts}>\n')
        self.cases.seek(0)
        while piece := self.cases.read(1024 * 1024):
            self.out.write(piece)
        self.cases.close()
        self.out.write("  </testsuite>\n</testsuites>\n")


FORMATTERS: dict[str, type[Formatter]] = {
    f.name: f
    for f in (TextFormatter, JsonFormatter, GithubFormatter, SarifFormatter, JunitFormatter)
}
"""Every ``--format`` of ``docket validate``, by name."""


def emit(out: TextIO, output_format: str, data: Any, text: str, *, sort_keys: bool = False) -> None:
    """One report: ``data`` as indented JSON for ``--format json``, else ``text`` with no
    line a CI runner would take for a workflow command (names in it: see
    :mod:`docket.core.display`)."""
    if output_format == JSON:
        dumped = json.dumps(json_safe(data), indent=2, ensure_ascii=False, sort_keys=sort_keys)
        out.write(dumped + "\n")
    else:
        out.write(guard_lines(text))
