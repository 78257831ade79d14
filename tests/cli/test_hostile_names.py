"""Any name a file system allows, in every command and output format (issue 24, class 1).

A name may be invalid UTF-8, hold newlines, control characters and terminal escapes, or read
as a CI workflow command (``::error ...``, ``::add-mask::``). No command crashes on one; JSON
stays JSON, XML stays XML 1.0, text shows the name escaped, and no line on standard output or
error opens a workflow command (save the ``github`` format's own ``::error`` lines).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docket.cli.audit_report import render
from docket.core.display import display, guard_lines, json_safe, text_of
from docket.fleet.audit import Summary

HOSTILE = (
    b"\xff\xfe-not-utf8",
    b"line\nbreak",
    b"carriage\rreturn",
    b"esc\x1b[31mred\x1b[0m",
    b"::error title=pwned::boom",
    b"  ::add-mask::secret",
    b"bidi\xe2\x80\xaeevil",
    b"back\\slash",
    b"tab\there",
)
"""File names that have broken outputs before, as bytes (the file system's own form)."""

WORKFLOW = re.compile(r"^\s*::")


def _make(directory: Path, suffix: bytes, content: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in HOSTILE:
        with open(os.path.join(os.fsencode(directory), name + suffix), "wb") as fh:
            fh.write(content)


def _docket(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "docket", *argv], capture_output=True, timeout=120, check=False
    )


def _no_workflow_lines(data: bytes, *, allowed: str = "") -> None:
    for line in data.decode("utf-8").splitlines():
        if WORKFLOW.match(line):
            assert allowed and line.startswith(allowed), line


# --- the one escaping place -------------------------------------------------------------------


def test_display_escapes_what_is_not_printable() -> None:
    assert display(os.fsdecode(b"a\xffb")) == "a\\xffb"
    assert display("a\nb\x1b[0m") == "a\\nb\\x1b[0m"
    assert display("::error x::y") == "\\x3a:error x::y"
    assert display("  ::add-mask::s") == "  \\x3a:add-mask::s"
    assert display("a::b") == "a::b"  # only a line's start is a command
    assert display("back\\slash") == "back\\\\slash"
    assert display("r\u202eevil") == "r\\u202eevil"
    assert display("plain/name.json") == "plain/name.json"
    assert text_of(os.fsdecode(b"x\xff")) == "x\\xff" and text_of("a\nb") == "a\nb"
    assert guard_lines("ok\n ::warning::x\n:single") == "ok\n \\x3a:warning::x\n:single"
    assert json_safe({os.fsdecode(b"\xfe"): [os.fsdecode(b"\xff"), 1]}) == {"\\xfe": ["\\xff", 1]}


@given(st.one_of(st.text(), st.binary().map(os.fsdecode)))
def test_a_displayed_name_is_one_inert_line(name: str) -> None:
    shown = display(name)
    assert "\n" not in shown and "\r" not in shown
    assert not WORKFLOW.match(shown)
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in shown), shown
    shown.encode("utf-8")  # any output encodes it


@given(st.text(), st.text())
def test_display_tells_names_apart(a: str, b: str) -> None:
    assert (display(a) == display(b)) == (a == b)


# --- audit ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("names") / "root"
    _make(root, b"", b"x")
    _make(root / "ab", b"", b"x")
    os.mkdir(os.path.join(os.fsencode(root), b"\xffdir"))
    _make(Path(os.fsdecode(os.path.join(os.fsencode(root), b"\xffdir"))), b"", b"x")
    return root


ORPHANS = 2 * len(HOSTILE) + 1
"""Each name at the top and in ``ab/``, and the directory ``\xffdir`` (outside the layout)."""


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "html"])
def test_audit_over_hostile_names_reports_each_and_stays_valid(
    hostile_root: Path, fmt: str, tmp_path: Path
) -> None:
    done = _docket("audit", str(hostile_root), "--format", fmt)
    assert done.returncode == 1, done.stderr  # findings: the orphans, not a crash
    assert b"Traceback" not in done.stderr
    _no_workflow_lines(done.stdout)
    _no_workflow_lines(done.stderr)
    text = done.stdout.decode("utf-8")  # strict: valid UTF-8
    if fmt == "json":
        assert json.loads(text)["findings"]["orphan"] == ORPHANS
    elif fmt == "jsonl":
        lines = [json.loads(line) for line in text.splitlines()]
        paths = {line.get("path") for line in lines}
        assert "\\xff\\xfe-not-utf8" in paths and "line\nbreak" in paths
        assert lines[-1] == {"end": {"records": ORPHANS}}
    elif fmt == "text":
        assert "\\xff\\xfe-not-utf8: orphan" in text and "line\\nbreak: orphan" in text
        assert "\x1b" not in text and "\r" not in text
    out = tmp_path / f"report.{fmt}"
    again = _docket("audit", str(hostile_root), "--format", fmt, "-o", str(out))
    assert again.returncode == 1 and out.read_bytes() == done.stdout


def test_the_html_data_block_cannot_be_closed_or_hidden() -> None:
    summary = Summary().to_json()
    for attack in ("</script><script>alert(1)</script>", "<!--<script>", "]]>&amp;<"):
        summary["examples"] = {"orphan": [attack]}
        page = render(summary, title="docket audit")
        start = page.index('<script type="application/json" id="audit-summary">')
        block = page[start : page.index("</script>", start)]
        body = block.split(">", 1)[1]
        assert "<" not in body and ">" not in body and "&" not in body
        assert json.loads(body)["examples"]["orphan"] == [attack]
        assert page.count("<script") == 2  # the data block and the page's own script


# --- validate ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("validate") / "tree"
    _make(tree, b".json", b"{}")
    with open(os.path.join(os.fsencode(tree), b"::error::skip\xff.json"), "wb") as fh:
        fh.write(b"{}")
    return tree


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif", "junit"])
def test_validate_over_hostile_names_stays_valid(hostile_files: Path, fmt: str) -> None:
    done = _docket("validate", str(hostile_files), "--format", fmt)
    assert done.returncode == 1, done.stderr  # every container is invalid ({} has no version)
    assert b"Traceback" not in done.stderr
    _no_workflow_lines(done.stdout, allowed="::error file=" if fmt == "github" else "")
    _no_workflow_lines(done.stderr)
    text = done.stdout.decode("utf-8")
    if fmt in ("json", "sarif"):
        json.loads(text)
    elif fmt == "junit":
        ET.fromstring(done.stdout)
    if fmt in ("text", "github"):
        assert "\x1b" not in text and "add-mask" in text
        assert text.count("\n") == len(HOSTILE) + 1  # one line per file: no name breaks one


def test_a_skipped_path_is_shown_escaped(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    link = os.path.join(os.fsencode(tree), b"\n::error::x\xff.json")
    os.symlink("/nonexistent", link)
    os.mkfifo(os.path.join(os.fsencode(tree), b"::add-mask::fifo.json"))
    done = _docket("validate", str(tree), "--format", "sarif")
    _no_workflow_lines(done.stderr)
    _no_workflow_lines(done.stdout)
    json.loads(done.stdout)
    assert b"Traceback" not in done.stderr


def test_an_error_naming_a_hostile_path_is_one_inert_line(tmp_path: Path) -> None:
    fifo = os.path.join(os.fsencode(tmp_path), b"x\n::error::pwned\xff")
    os.mkfifo(fifo)
    done = _docket("migrate", os.fsdecode(fifo), "--to", "3")
    assert done.returncode == 1
    lines = done.stderr.decode("utf-8").splitlines()
    assert len(lines) == 1 and "x\\n::error::pwned\\xff" in lines[0]


# --- conformance ------------------------------------------------------------------------------


def test_conformance_junit_of_the_bundled_suite_is_xml() -> None:
    done = _docket("conformance", "run", "--format", "junit")
    assert done.returncode == 0, done.stderr
    root = ET.fromstring(done.stdout)
    assert root.tag == "testsuites" and len(root.findall(".//testcase")) > 100


def test_a_one_report_command_guards_its_text(tmp_path: Path) -> None:
    root = tmp_path / "root\n::error::r"
    root.mkdir()
    done = _docket("volume", "list", "--root", str(root), "--volume-id", "v\n::add-mask::x")
    assert done.returncode == 0, done.stderr
    _no_workflow_lines(done.stdout)
    text = done.stdout.decode()
    assert "root\\n::error::r" in text and "v\\n::add-mask::x" in text


# --- inspect, restore, migrate: names from a container -----------------------------------------

NAMES = (
    "esc\x1b]0;title\x07",
    "line\nbreak",
    "::error::pwned",
    "csi\x9b31m",
    "del\x7f",
    "bidi\u202eevil",
    "sep\u2028arator",
    "tag\U000e0041",
)
"""Member names a container can hold that a terminal or a CI log would act on."""


def _inert(text: str) -> None:
    """Every line of ``text`` is one line no terminal or CI runner interprets."""
    for line in text.splitlines():
        assert not WORKFLOW.match(line), line
        hidden = [c for c in line if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
        assert not hidden, (hidden, line)


def _hostile_container(tmp_path: Path) -> Path:
    from docket.cli import commands
    from tests.cli.test_commands import Run, cinder

    data = cinder(2, encryption_key_id=None)
    data["volume-metadata"] = {name: "v" for name in NAMES}
    data["volume-glance-metadata"] = {name: 1 for name in NAMES}
    for name in NAMES:
        data[name] = {name: name}
    source = tmp_path / "hostile-v2.json"
    source.write_text(json.dumps(data))
    path = tmp_path / "hostile.json"
    run = Run()
    assert commands.migrate(str(source), to="3", output=str(path), **run.kw) == 0, run.err
    return path


def test_inspect_shows_a_containers_names_escaped(tmp_path: Path) -> None:
    from docket.cli import commands
    from tests.cli.test_commands import Run

    run = Run()
    assert commands.inspect(str(_hostile_container(tmp_path)), **run.kw) == 0, run.err
    _inert(run.out)
    for name in NAMES:  # every name is there, as display() shows it
        assert display(name) in run.out, name


def test_restore_reports_a_containers_names_escaped(tmp_path: Path) -> None:
    from docket import store
    from docket.cli import commands
    from tests.cli.test_commands import Run

    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    assert commands.db_init(url, **Run().kw) == 0
    engine = store.make_engine(url)
    try:
        store.create_volume(engine, volume_id="vol", metadata={"old\x1b[2J": "x"})
    finally:
        engine.dispose()
    run = Run()
    assert commands.restore(url, "vol", str(_hostile_container(tmp_path)), **run.kw) == 0, run.err
    _inert(run.out)
    assert display(NAMES[0]) in run.out and "removed  volume-metadata: old\\x1b[2J" in run.out


def test_errors_about_a_containers_names_are_inert(tmp_path: Path) -> None:
    from docket.cli import commands
    from tests.cli.test_commands import Run, cinder

    data = cinder(2)
    data["volume-metadata"] = {name: 5 for name in NAMES}  # not strings: one issue each
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    for call in (
        lambda run: commands.inspect(str(path), **run.kw),
        lambda run: commands.migrate(str(path), to="3", **run.kw),
        lambda run: commands.validate([str(path)], **run.kw),
    ):
        run = Run()
        assert call(run) == 1
        _inert(run.out + run.err)
        assert '["esc\\u001b]0;title\\u0007"]' in run.out + run.err, run.out + run.err


def test_check_shows_a_family_folders_name_escaped(tmp_path: Path) -> None:
    from docket.cli import commands
    from tests.cli.test_commands import Run

    schemas = tmp_path / "schemas\x1b[2J"
    shutil.copytree(Path(__file__).parents[1] / "families" / "catalog", schemas / NAMES[0])
    run = Run()
    assert commands.check(str(schemas), **run.kw) == 1
    _inert(run.out + run.err)
    assert display(NAMES[0]) in run.out and "schemas\\x1b[2J" in run.out, run.out
    run = Run()
    assert commands.diff(NAMES[0], "1.0.0", "1.1.0", schemas=str(schemas), **run.kw) == 1
    _inert(run.err)
    assert display(NAMES[0]) in run.err, run.err


@given(st.text())
def test_guarded_text_holds_no_control_character_but_newlines_and_tabs(text: str) -> None:
    # The net under every text report and error: whatever reached the text unescaped.
    guarded = guard_lines(text)
    for line in guarded.split("\n"):
        assert not WORKFLOW.match(line), line
        assert not [c for c in line if c != "\t" and unicodedata.category(c) == "Cc"], line
    assert guarded.count("\n") == text.count("\n")


def test_paths_a_command_names_are_shown_escaped(tmp_path: Path) -> None:
    from docket.cli import authoring, commands
    from tests.cli.test_commands import Run, cinder

    source = tmp_path / "v2.json"
    source.write_text(json.dumps(cinder(2)))
    out = tmp_path / "out\x1b]0;x\x07.json"
    run = Run()
    assert commands.migrate(str(source), to="3", output=str(out), **run.kw) == 0
    _inert(run.err)
    assert "out\\x1b]0;x\\x07.json" in run.err and out.exists()
    run = Run()
    assert authoring.new_version(NAMES[0], schemas=str(tmp_path), **run.kw) == 2
    _inert(run.err)
    assert display(NAMES[0]) in run.err or "\\u001b]0;title" in run.err, run.err
