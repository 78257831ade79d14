"""``docket validate``'s machine outputs as CI systems read them: GitHub workflow commands
placed on the real file, one inert line per finding; a report closed and telling why when the
run fails as a whole (no container found, a worker process died part way); JUnit names as
the other formats write them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

import docket
from docket.cli import commands
from tests.cli.test_commands import Run, cinder

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


def _validate(paths: list[str], fmt: str) -> tuple[int, Run]:
    run = Run()
    code = commands.validate(paths, output_format=fmt, **run.kw)
    return code, run


def _sarif_valid(text: str) -> dict[str, object]:
    log = json.loads(text)
    jsonschema.validators.validator_for(SARIF_SCHEMA)(SARIF_SCHEMA).validate(log)
    assert isinstance(log, dict)
    return log


def _unescape_property(value: str) -> str:
    """What GitHub's runner reads from a workflow command's property."""
    for coded, char in (("%2C", ","), ("%3A", ":"), ("%0A", "\n"), ("%0D", "\r"), ("%25", "%")):
        value = value.replace(coded, char)
    return value


# --- GitHub annotations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["new\nline.json", "back\\slash.json", "tab\there.json", "per%cent,co::lon.json"]
)
def test_a_github_annotation_names_the_file_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """GitHub places an annotation on the file its ``file`` property names once unescaped:
    a name shown escaped for people (``new\\nline.json``) names no file of the repository."""
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(json.dumps(cinder(2, size="big")))
    code, run = _validate([name], "github")
    assert code == 1
    (line,) = run.out.splitlines()
    props = line.removeprefix("::error ").split("::", 1)[0]
    file = dict(p.split("=", 1) for p in props.split(","))["file"]
    assert _unescape_property(file) == name


def test_a_github_annotation_of_a_name_with_an_escape_sequence_stays_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("esc\x1b[31mred\u202e.json").write_text(json.dumps(cinder(2, size="big")))
    _code, run = _validate(["."], "github")
    assert "\x1b" not in run.out and "\u202e" not in run.out
    assert "file=./esc\\x1b[31mred\\u202e.json," in run.out


def test_a_github_message_holds_no_raw_control_or_line_separator(tmp_path: Path) -> None:
    """A value quoted in a message may hold what a log viewer acts on or breaks a line at:
    the text format escapes it, and so must the annotation."""
    hostile = "\x1b[31mred\u2028two\x85three\u202eevil\rback"
    path = tmp_path / "v.json"
    path.write_text(json.dumps(cinder(2, size=hostile)))
    _code, text = _validate([str(path)], "text")
    _code, run = _validate([str(path)], "github")
    (line,) = run.out.splitlines()  # str.splitlines breaks at U+2028 and NEL too
    assert line.startswith("::error file=")
    for char in "\x1b\u2028\x85\u202e\r":
        assert char not in run.out and char not in text.out
    message = line.split("::", 2)[2]
    assert message == text.out.rstrip("\n").split(": ", 1)[1]


# --- a run that fails as a whole ---------------------------------------------------------------


def test_an_empty_run_says_so_in_every_report(tmp_path: Path) -> None:
    """The run fails (exit 1); a report that only showed no finding would read as a pass."""
    code, run = _validate([str(tmp_path)], "github")
    assert code == 1
    assert run.out.startswith("::error title=docket validate::no containers found (hint: ")
    code, run = _validate([str(tmp_path)], "sarif")
    assert code == 1
    (invocation,) = _sarif_valid(run.out)["runs"][0]["invocations"]  # type: ignore[index]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "no containers found" in note["message"]["text"]
    code, run = _validate([str(tmp_path)], "junit")
    suites = ET.fromstring(run.out)
    assert suites.get("errors") == "1" and suites.get("tests") == "1"
    error = suites.find("./testsuite/testcase/error")
    assert error is not None and "no containers found" in (error.get("message") or "")
    code, run = _validate([str(tmp_path)], "json")
    assert json.loads(run.out) == [{"error": run.err.strip().removeprefix("docket validate: ")}]
    run = Run()
    code = commands.validate([str(tmp_path)], output_format="sarif", allow_empty=True, **run.kw)
    assert code == 0
    (invocation,) = _sarif_valid(run.out)["runs"][0]["invocations"]  # type: ignore[index]
    assert invocation == {"executionSuccessful": True}


def _workers(parent: int) -> list[int]:
    """The worker processes of ``parent`` (its children started by multiprocessing)."""
    found = []
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for pid in children:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline or b"forkserver" in cmdline:
            found.append(int(pid))
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("fmt", ["sarif", "junit", "json", "github"])
def test_a_report_stays_well_formed_when_a_worker_dies(tmp_path: Path, fmt: str) -> None:
    """A worker killed part way stops the run (exit 1); the report written so far is closed
    and names the failure, so that an upload step running ``if: always()`` shows it instead
    of refusing a truncated file."""
    fifo = tmp_path / "stream.jsonl"
    os.mkfifo(fifo)
    line = (json.dumps(cinder(2)) + "\n").encode()
    piece = line * (5 * 1024 * 1024 // len(line) + 1)  # more than one 4 MiB task
    env = {**os.environ, "PYTHONPATH": str(Path(docket.__file__).parents[1])}
    with (tmp_path / "out").open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "docket", "validate", str(fifo), "--jobs", "2",
             "--format", fmt, "--no-progress"],
            stdout=out, stderr=subprocess.PIPE, env=env,
        )
        try:
            with fifo.open("wb") as writer:
                writer.write(piece)
                writer.flush()
                deadline = time.monotonic() + 120
                while not (workers := _workers(child.pid)):
                    assert time.monotonic() < deadline, "no worker process started"
                    time.sleep(0.05)
                for pid in workers:
                    os.kill(pid, signal.SIGKILL)
                try:
                    for _ in range(4):
                        writer.write(piece)
                except BrokenPipeError:
                    pass  # the run stopped before reading it all
        except BrokenPipeError:
            pass
        finally:
            _out, err = child.communicate(timeout=120)
    assert child.returncode == 1
    assert b"a worker process died" in err and b"Traceback" not in err
    text = (tmp_path / "out").read_text()
    if fmt == "sarif":
        (invocation,) = _sarif_valid(text)["runs"][0]["invocations"]  # type: ignore[index]
        assert invocation["executionSuccessful"] is False
        assert "a worker process died" in invocation["toolExecutionNotifications"][-1][
            "message"]["text"]
    elif fmt == "junit":
        suites = ET.fromstring(text)
        assert suites.get("errors") == "1"
        assert suites.find("./testsuite/testcase/error[@type='run']") is not None
    elif fmt == "json":
        assert "a worker process died" in json.loads(text)[-1]["error"]
    else:
        last = text.splitlines()[-1]
        assert last.startswith("::error title=docket validate::a worker process died")


# --- JUnit ------------------------------------------------------------------------------------


def test_junit_names_a_file_that_is_not_utf8_as_json_does(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"bad\xffbyte.json")
    with open(raw, "wb") as fh:
        fh.write(json.dumps(cinder(2, size="big")).encode())
    _code, junit = _validate([str(tmp_path)], "junit")
    _code, as_json = _validate([str(tmp_path)], "json")
    (item,) = json.loads(as_json.out)
    assert item["file"].endswith("bad\\xffbyte.json")
    (case,) = ET.fromstring(junit.out).iter("testcase")
    assert case.get("name") == case.get("file") == item["file"]
