"""What a second implementation's author meets running the suite for the first time: a
runner that logs on standard output, speaks another protocol, misnames a level, answers out
of order or crashes is told which message was wrong and what was expected; the protocol's
messages have a JSON Schema; one case (or a group) can be listed and run alone."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from docket.cli import cli
from docket.conformance import run
from docket.conformance.adapter import serve
from docket.conformance.compare import ERROR, NOT_STARTED, SKIPPED, differences, judge
from docket.conformance.report import render_text
from docket.conformance.suite import PROTOCOL, SUITE, Suite

ROOT = Path(__file__).resolve().parents[2]
SUITE_DIR = ROOT / "conformance"
FAKE = Path(__file__).resolve().parent / "conformance_fake.py"
FAMILY = ("chunked-sha256",)

# A runner that answers as docket does, with a hello of its own (HELLO_EXTRA merged in), and
# records every line it reads and writes to the file named by its first argument.
RECORDER = """
import json, sys
from docket.conformance.adapter import serve
log = open(sys.argv[1], "w")
extra = json.loads(sys.argv[2])
prefix = sys.argv[3]
class In:
    def __iter__(self):
        for line in sys.stdin:
            log.write("> " + line); log.flush()
            yield line
class Out:
    def write(self, text):
        if text.strip():
            log.write("< " + text); log.flush()
            reply = json.loads(text)
            if reply.get("ready"):
                text = json.dumps({**reply, **extra}) + "\\n"
        sys.stdout.write(text)
    def flush(self):
        sys.stdout.flush()
sys.stdout.write(prefix)
serve(In(), Out())
"""


@pytest.fixture(scope="module")
def suite() -> Suite:
    return Suite.load(SUITE_DIR)


def recorder(tmp_path: Path, extra: object = None, prefix: str = "") -> list[str]:
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    log = tmp_path / "log.txt"
    return [sys.executable, str(script), str(log), json.dumps(extra or {}), prefix]


CASE = {"id": "f/1/validate/a", "level": "validate", "family": "f", "expect": {"valid": True}}


def test_a_skip_or_an_error_for_another_case_is_an_answer_out_of_order() -> None:
    for reply in ({"id": "f/1/validate/b", "skipped": "later"}, {"id": "x", "error": "boom"}):
        outcome = judge(CASE, reply)
        assert outcome.status == ERROR
        assert "where" in outcome.message and "in the order sent" in outcome.message
    assert judge(CASE, {"id": CASE["id"], "skipped": "later"}).status == SKIPPED
    assert judge(CASE, {"error": "could not read the case"}).message == "could not read the case"


def test_a_missing_member_is_named_and_a_long_text_is_shown_where_it_differs() -> None:
    case = {"level": "integrity", "op": "canonical", "expect": {"canonical": "{}"}}
    said = differences(case, {"canonical_json": "{}"})
    assert 'the result has no "canonical" member' in said[0]
    assert "canonical_json" in said[1]
    expected = '{"a":"' + "x" * 300 + '","b":1.0}'
    got = expected.replace("1.0", "1")
    (said,) = differences({"level": "migrate", "expect": {"output": expected}}, {"output": got})
    assert f"differs at character {expected.index('1.0') + 1}" in said
    assert '1.0}"' in said and '1}"' in said  # the difference itself is shown


def test_a_hello_in_another_protocol_fails_the_run(suite: Suite, tmp_path: Path) -> None:
    report = run(recorder(tmp_path, {"protocol": 2}), suite, families=FAMILY)
    assert not report.passed
    assert "speaks protocol 2; this driver speaks protocol 1" in report.problems[0]


def test_docket_refuses_a_start_in_another_protocol() -> None:
    out = io.StringIO()
    serve(io.StringIO(json.dumps({"cmd": "start", "suite": SUITE, "protocol": 2}) + "\n"), out)
    assert "protocol 2 is not spoken here" in json.loads(out.getvalue())["error"]


def test_a_log_line_before_the_hello_is_quoted_once_with_a_hint(
    suite: Suite, tmp_path: Path
) -> None:
    report = run(recorder(tmp_path, prefix="starting up...\n"), suite, families=FAMILY)
    assert report.problems[0] == (
        'the implementation did not start: the answer is not JSON: "starting up..." (one JSON '
        "object per line on standard output; logs go to standard error)"
    )
    lines = render_text(report).splitlines()
    problem = next(i for i, line in enumerate(lines) if line.startswith("PROBLEM"))
    errors = [i for i, line in enumerate(lines) if line.startswith("ERROR")]
    # why first, then one line for the cases not run, not one per case
    assert errors and problem < errors[0] and len(errors) == 1
    assert lines[errors[0]] == f"ERROR {len(report.outcomes)} cases: {NOT_STARTED}"


def test_a_misnamed_level_is_named(suite: Suite, tmp_path: Path) -> None:
    report = run(recorder(tmp_path, {"levels": ["Validate"]}), suite, families=FAMILY)
    assert not report.passed
    assert '["Validate"], which are not levels of the suite' in report.problems[0]


def test_a_crash_reports_its_exit_status(suite: Suite) -> None:
    report = run(
        [sys.executable, str(FAKE), "crash"], suite, levels=("validate",), families=FAMILY
    )
    assert "it exited with status 3" in report.problems


def test_the_start_message_names_the_schema_directory(suite: Suite, tmp_path: Path) -> None:
    run(recorder(tmp_path), suite, families=FAMILY, levels=("integrity",))
    start = json.loads((tmp_path / "log.txt").read_text().splitlines()[0][2:])
    assert start["schemas"] == str((ROOT / "schemas").resolve())
    assert Path(start["schemas"], "chunked-sha256", "manifest.json").is_file()


def test_every_message_matches_the_protocol_schema(suite: Suite, tmp_path: Path) -> None:
    schema = json.loads((SUITE_DIR / "protocol.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)

    def check(kind: str, message: object) -> None:
        jsonschema.validate(message, {**schema, "$ref": f"#/$defs/{kind}"})

    report = run(recorder(tmp_path), suite, families=("backup-metadata",))
    assert report.passed
    for line in (tmp_path / "log.txt").read_text().splitlines():
        check("driver" if line.startswith(">") else "implementation", json.loads(line[2:]))
    check("implementation", {"error": "protocol 2 is not spoken here"})
    check("implementation", {"id": "a/1/validate/x", "skipped": "not yet"})
    with pytest.raises(jsonschema.ValidationError):
        check("implementation", {"ready": True, "levels": ["Validate"]})
    with pytest.raises(jsonschema.ValidationError):
        check("driver", {"cmd": "start", "suite": SUITE, "protocol": PROTOCOL + 1})


def test_one_case_or_a_group_is_listed_and_run_alone() -> None:
    runner = CliRunner()
    one = "chunked-sha256/1.0.0/integrity/canonical-generated-01"
    listed = runner.invoke(
        cli, ["conformance", "list", "--suite", str(SUITE_DIR), "--case", "chunked-sha256/"]
    )
    assert listed.exit_code == 0, listed.output
    ids = [line.split()[0] for line in listed.output.splitlines()]
    assert one in ids and all(i.startswith("chunked-sha256/") for i in ids)
    ran = runner.invoke(
        cli, ["conformance", "run", "--suite", str(SUITE_DIR), "--case", one, "--format", "json"]
    )
    assert ran.exit_code == 0, ran.output
    assert [c["id"] for c in json.loads(ran.output)["cases"]] == [one]
    wrong = runner.invoke(
        cli, ["conformance", "run", "--suite", str(SUITE_DIR), "--case", "chunked-sha256"]
    )
    assert wrong.exit_code == 2
    assert 'no case "chunked-sha256"' in wrong.output and "ending in /" in wrong.output
