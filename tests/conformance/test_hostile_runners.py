"""A peer process cannot hang or flood docket (issue 24, class 4).

``docket conformance run -- RUNNER`` talks to a program it does not trust. Each runner here
misbehaves one way: it never reads its input, never answers, answers with an endless line, a
flood of lines or of standard error, or a hello that is not one. Every run ends within a few
timeouts, in memory bounded by one answer's limit (peak RSS measured in a child process),
and never passes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from docket.cli import cli
from docket.conformance import run
from docket.conformance.compare import MAX_MESSAGE, judge
from docket.conformance.runner import MAX_ANSWER
from docket.conformance.suite import LEVELS, PROTOCOL, SUITE, Suite
from tests._rss import PEAK_RSS_SOURCE

ROOT = Path(__file__).resolve().parents[2]
SUITE_DIR = ROOT / "conformance"
HELLO = json.dumps(
    {
        "ready": True,
        "suite": SUITE,
        "protocol": PROTOCOL,
        "implementation": {"name": "hostile"},
        "levels": list(LEVELS),
    }
)

RUNNERS = {
    # answers the hello, then floods answers and never reads again: docket's writes fill the
    # pipe and would block forever
    "never-reads": f"import sys\nsys.stdin.readline()\nprint({HELLO!r}, flush=True)\n"
    "while True:\n    sys.stdout.write('{}\\n' * 1000); sys.stdout.flush()\n",
    # reads everything, says nothing
    "silent": "import sys\nfor _ in sys.stdin: pass\n",
    # one endless line
    "endless-line": f"import sys\nsys.stdin.readline()\nprint({HELLO!r}, flush=True)\n"
    "while True:\n    sys.stdout.write('x' * 65536)\n",
    # blank lines forever: no answer ever completes
    "blank-flood": f"import sys\nsys.stdin.readline()\nprint({HELLO!r}, flush=True)\n"
    "while True:\n    sys.stdout.write('\\n' * 65536)\n",
    # standard error without end, then silence
    "stderr-flood": "import sys\nwhile True:\n    sys.stderr.write('e' * 65536)\n",
}

HELLOS = {
    "not json": "hello",
    "a list": "[]",
    "ready a string": json.dumps({"ready": "yes", "levels": ["validate"]}),
    "levels a number": json.dumps({"ready": True, "levels": 5}),
    "levels of numbers": json.dumps({"ready": True, "levels": [1]}),
    "implementation a string": json.dumps(
        {"ready": True, "levels": ["validate"], "implementation": "x"}
    ),
    "an error": json.dumps({"error": "::error::no"}),
}


@pytest.fixture(scope="module")
def suite() -> Suite:
    return Suite.load(SUITE_DIR)


def _script(tmp_path: Path, name: str, code: str) -> list[str]:
    path = tmp_path / f"{name}.py"
    path.write_text(code)
    return [sys.executable, str(path)]


@pytest.mark.parametrize("name", sorted(HELLOS))
def test_a_malformed_hello_fails_the_run(name: str, suite: Suite, tmp_path: Path) -> None:
    code = f"import sys\nsys.stdin.readline()\nprint({HELLOS[name]!r}, flush=True)\n"
    report = run(_script(tmp_path, "hello", code), suite, families=("chunked-sha256",))
    assert not report.passed
    assert report.problems and "did not start" in report.problems[0]
    assert all(o.status == "error" for o in report.outcomes)


CHILD = (
    PEAK_RSS_SOURCE
    + """
import json, sys
from docket.conformance import run
from docket.conformance.compare import MAX_MESSAGE, judge
from docket.conformance.suite import Suite
report = run(json.loads(sys.argv[1]), Suite.load(sys.argv[2]), timeout=float(sys.argv[3]))
print(json.dumps({"passed": report.passed, "problems": list(report.problems),
                  "messages": sorted({o.message for o in report.outcomes
                                      if "was asked" not in o.message})[:20],
                  "peak": PEAK_RSS_KIB()}))
"""
)


def _in_child(command: list[str], timeout: float = 1.0) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(command), str(SUITE_DIR), str(timeout)],
        capture_output=True,
        text=True,
        timeout=180,  # a hang fails here instead of blocking the test run
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def baseline() -> int:
    """Peak RSS (KiB) of the same child against a runner that exits at once (the suite is
    loaded all the same)."""
    peak = _in_child([sys.executable, "-c", "pass"])["peak"]
    assert isinstance(peak, int)
    return peak


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_a_hostile_runner_neither_hangs_nor_floods(
    name: str, baseline: int, tmp_path: Path
) -> None:
    result = _in_child(_script(tmp_path, name, RUNNERS[name]))
    assert result["passed"] is False
    peak = result["peak"]
    assert isinstance(peak, int) and peak - baseline < 3 * MAX_ANSWER // 1024
    said = " ".join(map(str, [*result["problems"], *result["messages"]]))  # type: ignore[misc]
    expected = {
        "never-reads": "did not read its input",
        "silent": "no answer within",
        "endless-line": "longer than",
        "blank-flood": "no answer within",
        "stderr-flood": "did not start",
    }[name]
    assert expected in said, said
    if name == "stderr-flood":
        (tail,) = [p for p in result["problems"] if "standard error" in p]  # type: ignore[attr-defined]
        assert len(tail) < 2100 and tail.endswith("eeee")


@pytest.mark.parametrize("kind", ["fifo", "link", "dangling link"])
def test_the_report_output_refuses_links_and_fifos_before_running(
    kind: str, tmp_path: Path
) -> None:
    target = tmp_path / "real.xml"
    target.write_text("kept")
    out = tmp_path / "report.xml"
    if kind == "fifo":
        os.mkfifo(out)
    else:
        out.symlink_to(target if kind == "link" else tmp_path / "nowhere")
    started = tmp_path / "started"
    runner = _script(tmp_path, "runner", f"open({str(started)!r}, 'w').close()\n")
    argv = ["conformance", "run", "--suite", str(SUITE_DIR), "-o", str(out), "--", *runner]
    result = CliRunner().invoke(cli, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert "report.xml" in result.stderr and ("FIFO" in result.stderr or "link" in result.stderr)
    assert not started.exists()  # refused before the runner was started
    assert target.read_text() == "kept" and not (tmp_path / "nowhere").exists()


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("where", ["hello", "answer"])
def test_an_answer_nested_too_deeply_is_an_error_not_a_crash(
    where: str, suite: Suite, tmp_path: Path
) -> None:
    """``[[[[...]]]]`` deeper than the interpreter's stack (well inside the line limit) was a
    RecursionError out of ``run``, a traceback from the command."""
    answer = json.dumps({"id": "x", "result": "DEEP"}).replace('"DEEP"', DEEP)
    # The first case gets the deep answer; the others a short one of no case (an error too).
    later = json.dumps({"id": "x", "result": []})
    code = (
        f"import sys\nsys.stdin.readline()\nprint({DEEP if where == 'hello' else HELLO!r},"
        f" flush=True)\nfor i, _ in enumerate(sys.stdin):\n"
        f"    print({answer!r} if i == 0 else {later!r}, flush=True)\n"
    )
    report = run(_script(tmp_path, where, code), suite, families=("chunked-sha256",))
    assert not report.passed
    said = " ".join([*report.problems, *(o.message for o in report.outcomes)])
    assert "nested too deeply" in said
    if where == "answer":
        assert report.outcomes and all(o.status == "error" for o in report.outcomes)
        assert "nested too deeply" in report.outcomes[0].message


def test_a_process_left_holding_the_pipes_does_not_hold_the_run(tmp_path: Path) -> None:
    """A runner that starts a process (inheriting its standard output and error) and exits:
    the run ended only when that process did, as the standard error drain held the stream."""
    pid_file = tmp_path / "pid"
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "sys.stdin.readline()\n"
        f"print({HELLO!r}, flush=True)\n"
    )
    command = _script(tmp_path, "leaves", code)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(command), str(SUITE_DIR), "2"],
            capture_output=True,
            text=True,
            timeout=120,  # the process left behind sleeps 300 s: a hang fails here
            check=False,
        )
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["passed"] is False
    assert "no answer within 2 s" in " ".join(result["messages"])


def test_an_implementations_words_are_kept_bounded_for_every_case(
    suite: Suite, tmp_path: Path
) -> None:
    """A runner that skips every case with a long reason (inside the line limit): every
    reason was kept whole, one per case (with 15 MiB reasons, 2.2 GB of memory and a 739 MB
    JSON report for the 48 cases of one family); each message is cut now."""
    code = (
        "import json, sys\n"
        "sys.stdin.readline()\n"
        f"print({HELLO!r}, flush=True)\n"
        "big = 'x' * (1024 * 1024)\n"
        "for line in sys.stdin:\n"
        "    case = json.loads(line).get('case')\n"
        "    if case is None:\n"
        "        break\n"
        "    print(json.dumps({'id': case['id'], 'skipped': big}), flush=True)\n"
    )
    report = run(_script(tmp_path, "big-words", code), suite, families=("chunked-sha256",))
    assert report.outcomes and all(o.status == "skipped" for o in report.outcomes)
    assert all(len(o.message) <= MAX_MESSAGE + 40 for o in report.outcomes)
    assert all(o.message.endswith(f"({1024 * 1024:,} characters)") for o in report.outcomes)


@given(
    key=st.sampled_from(["skipped", "error"]),
    words=st.text(max_size=3 * MAX_MESSAGE)
    | st.tuples(st.text(min_size=1, max_size=5), st.integers(0, 3 * MAX_MESSAGE)).map(
        lambda t: t[0] * t[1]
    )
    | st.integers()
    | st.lists(st.text(), max_size=400),
)
def test_an_outcome_message_is_bounded_whatever_the_answer(key: str, words: object) -> None:
    case = {"id": "f/1/validate/x", "level": "validate", "family": "f", "expect": {}}
    outcome = judge(case, {"id": case["id"], key: words})
    shown = str(words)
    assert len(outcome.message) <= MAX_MESSAGE + 40
    assert outcome.message.startswith(shown[:MAX_MESSAGE])
    assert (outcome.message == shown) == (len(shown) <= MAX_MESSAGE)


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "0", "-1"])
def test_a_timeout_that_is_no_time_is_a_usage_error(value: str, suite: Suite) -> None:
    """``--timeout nan``, ``inf`` or ``1e308`` passed the range check and ended in a
    ValueError or OverflowError traceback from the first wait."""
    argv = ["conformance", "run", "--suite", str(SUITE_DIR), "--timeout", value, "--", "true"]
    result = CliRunner().invoke(cli, argv)
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.output
    assert "--timeout" in result.output and "Traceback" not in result.output
    with pytest.raises(ValueError, match="timeout"):
        run(["true"], suite, timeout=float(value))
