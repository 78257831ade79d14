"""``docket validate`` as a CI gate (issue 15): one validator decides and explains, every
finding has a line and column, SARIF and JUnit output, no silent pass, bounded streams."""

from __future__ import annotations

import functools
import json
import os
import re
import stat
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket import load_registry
from docket.cli import commands
from docket.core import locate
from docket.core.codec import Limits
from docket.errors import UnsafeFile, ValidationError
from docket.fleet import validate as bulk
from docket.fs import read_prefix
from docket.testing import containers, invalid_containers
from tests._child import run_python
from tests.cli.test_commands import BM, SIZE, Run, cinder

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_registry()
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
SPECS = [(name, v) for name in REGISTRY.families() for v in REGISTRY.family(name).versions]


# --- one validator decides and explains ------------------------------------------------------


def _ecma_pattern(pattern: str) -> str:
    """``pattern`` with ``$`` (outside a class, unescaped) as ``\\Z``: ECMA-262's ``$``
    without the multiline flag matches only at the very end, Python's also before a final
    newline."""
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append(r"\Z")
            continue
        out.append(char)
    return "".join(out)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if isinstance(instance, str) and not re.search(_ecma_pattern(pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_BASE = jsonschema.Draft202012Validator
Reference = jsonschema.validators.extend(_BASE, {"pattern": _pattern})
"""jsonschema, the independent reference: Draft 2020-12 with its format checker
(rfc3339-validator checks date-time) and ECMA-262's ``$`` in patterns."""


@functools.cache
def reference(family: str, version: Any) -> Any:
    schema = dict(REGISTRY.family(family).schema(version))
    return Reference(schema, format_checker=_BASE.FORMAT_CHECKER)


# One strategy per version and kind, built once: building one costs more than drawing from it.
@functools.cache
def generated(name: str, version: Any, valid: bool) -> st.SearchStrategy[Any]:
    family = REGISTRY.family(name)
    if valid:
        return containers(family, version).map(lambda c: c.data)
    return invalid_containers(family, version).map(lambda c: c.data)


def test_the_reference_checks_date_time_and_end_anchors() -> None:
    # Without rfc3339-validator jsonschema skips date-time silently: the reference must not.
    checker = _BASE.FORMAT_CHECKER
    assert not checker.conforms("2026-13-01T00:00:00Z", "date-time")
    assert checker.conforms("2026-12-01T00:00:00Z", "date-time")
    validator = Reference({"pattern": "^x$"})
    assert validator.is_valid("x")
    assert not validator.is_valid("x\n")


@pytest.mark.parametrize(("name", "version"), SPECS)
def test_golden_containers_get_the_same_verdict_from_both(name: str, version: Any) -> None:
    family = REGISTRY.family(name)
    ref = reference(name, version)
    golden = family.golden().get(version, ())
    for path in golden:
        data = json.loads(Path(path).read_text())
        assert family.spec(version).is_valid(data) is ref.is_valid(data), path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_generated_containers_get_the_same_verdict_from_both(data: st.DataObject) -> None:
    name, version = data.draw(st.sampled_from(SPECS))
    family = REGISTRY.family(name)
    spec = family.spec(version)
    ref = reference(name, version)
    obj: dict[str, Any] = data.draw(generated(name, version, data.draw(st.booleans())))
    verdict = spec.is_valid(obj)
    assert verdict is ref.is_valid(obj), (name, version, obj)
    # The explanation comes from the validator that decided: never empty when invalid.
    assert bool(spec.issues(obj)) is not verdict


def test_a_trailing_newline_never_passes_an_anchored_pattern() -> None:
    # "x\n" matches "^x$" for Python's re; JSON Schema's patterns are ECMA-262, where it does
    # not. The compiled validator decides, and its refusal is explained, never dropped.
    data = cinder(2, created_at=cinder(2)["volume-base-metadata"]["created_at"] + "\n")
    raw = json.dumps(data)
    (issue,) = BM.validate(raw)
    assert issue.keyword == "pattern"
    assert issue.segments == ("volume-base-metadata", "created_at")
    with pytest.raises(ValidationError):
        BM.load(raw)
    signed = json.loads(BM.dump(BM.load(json.dumps(cinder(2)))))
    signed["digest"] += "\n"
    assert [i.keyword for i in BM.validate(json.dumps(signed))] == ["pattern"]
    with pytest.raises(ValidationError):
        BM.load(json.dumps(signed))


# What `docket validate` never needs: the reference validator (and what its format extra
# pulled in), the migration checks and the migrations themselves (no verdict of validate
# involves a migration: the bundled families' edges compile when first used), restore
# policies, hashing (v1/v2 carry no digest), importlib's resource readers, temporary files
# (only for -o and JUnit), XML (JUnit only) and every heavier layer.
NOT_ON_VALIDATES_PATH = (
    "jsonschema",
    "rfc3987_syntax",
    "lark",
    "docket.core.operations",
    "docket.core.migrations",
    "docket.core.narrowing",
    "docket.core.policy",
    "docket.core.explain",
    "docket.core.golden",
    "docket.core.soundness",
    "docket.core.compat",
    "docket.core.changes",
    "docket.core.schema_diff",
    "docket.core.shape",
    "docket.core._direction",
    "docket.core.losses",
    "hashlib",
    "importlib.resources",
    "tempfile",
    "docket.store",
    "docket.backup",
    "sqlalchemy",
    "rich",
    "marshmallow",
    "xml",
    "concurrent",
    "multiprocessing",
    "docket.cli.versions",
    "docket.cli.database",
    "docket.cli.audit",
    "docket.fleet.audit",
)
NOT_FOR_VALID_INPUT = ("docket.core.locate",)
"""Only invalid input needs to find where its problems are."""


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_validate_starts_without_what_it_does_not_need(tmp_path: Path, valid: bool) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cinder(2) if valid else cinder(2, size="big")))
    code = (
        "import sys\n"
        "from docket.cli import main\n"
        f"try:\n    main(['validate', {str(path)!r}])\nexcept SystemExit as e:\n    code = e.code\n"
        f"assert code == {0 if valid else 1}, code\n"
        f"names = {NOT_ON_VALIDATES_PATH + (NOT_FOR_VALID_INPUT if valid else ())!r}\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] in names or m in names\n"
        "             or any(m.startswith(n + '.') for n in names)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_command_process_freezes_what_importing_made(tmp_path: Path) -> None:
    """The console script freezes the import-time objects (the collector skips them); a
    caller passing ``argv`` in its own process is left as it was."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cinder(2)))
    code = (
        "import atexit, gc, sys\n"
        "from docket.cli.app import main\n"
        "before = gc.get_freeze_count()\n"
        "try:\n    main(['validate', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
        "assert gc.get_freeze_count() == before, 'main(argv) froze its caller'\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count()))\n"
        "sys.argv = ['docket', 'validate', sys.argv[1]]\n"
        "main()\n"
    )
    done = run_python(code, str(path))
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 10_000


def test_validate_judges_containers_of_a_family_whose_migrations_are_unsound(
    tmp_path: Path,
) -> None:
    from tests._volumes_family import write_volumes

    root = write_volumes(tmp_path / "schemas", "exact-but-lossy")
    good = tmp_path / "v.json"
    good.write_text(json.dumps({"version": 1, "disk": {"name": "d", "size_gb": 1}}))
    bad = tmp_path / "w.json"
    bad.write_text(json.dumps({"version": 1, "disk": {"name": "", "size_gb": 1}}))
    code, _run = _validate([str(good)], schemas=root, family="volumes")
    assert code == 0
    [error] = _errors([str(bad)], schemas=root, family="volumes")
    assert error["path"] == '$["disk"]["name"]'
    # `docket check` is where the unsound edge is reported.
    run = Run()
    assert commands.check(root, **run.kw) == 1
    assert "exact" in run.out + run.err


def test_a_metaschema_violation_is_explained_by_the_same_validator(tmp_path: Path) -> None:
    import shutil

    import docket

    shutil.copytree(ROOT / "tests" / "fixtures" / "schemas" / "notes", tmp_path / "notes")
    doc = json.loads((tmp_path / "notes" / "1.json").read_text())
    doc["policy"]["sections"]["note"]["mode"] = "upsert"
    (tmp_path / "notes" / "1.json").write_text(json.dumps(doc))
    with pytest.raises(docket.SchemaDocumentError) as info:
        docket.load_registry(tmp_path)
    assert "upsert" in str(info.value)
    assert '$["policy"]["sections"]["note"]["mode"]' in str(info.value)


# --- lines and columns --------------------------------------------------------------------


def _validate(paths: list[str], **kw: Any) -> tuple[int, Run]:
    run = Run(kw.pop("stdin", b""))
    code = commands.validate(paths, stdin=run.stdin, **run.kw, **kw)
    return code, run


def _errors(paths: list[str], **kw: Any) -> list[dict[str, Any]]:
    code, run = _validate(paths, output_format="json", **kw)
    assert code == 1
    return [e for r in run.json() if "errors" in r for e in r["errors"]]


def test_a_parse_error_has_the_line_and_column_of_the_bad_text(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    text = json.dumps(cinder(2), indent=2).replace('"size": 1,', '"size": 1 2,')
    path.write_text(text)
    (error,) = _errors([str(path)])
    lines = text.splitlines()
    row = next(i for i, ln in enumerate(lines) if '"size": 1 2' in ln)
    assert (error["line"], error["column"]) == (row + 1, lines[row].index("2,") + 1)
    _code, run = _validate([str(path)])
    assert run.out.startswith(f"{path}:{row + 1}:{lines[row].index('2,') + 1}: $: cannot parse")


def test_a_duplicate_key_is_placed_at_its_second_occurrence(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    text = (
        '{\n  "version": 2,\n  "volume-base-metadata": {"id": "a",\n'
        '    "size": 1,\n    "id": "b"}\n}\n'
    )
    path.write_text(text)
    (error,) = _errors([str(path)])
    assert 'duplicate key "id"' in error["message"]
    assert (error["line"], error["column"]) == (5, 5)


def test_a_limit_is_placed_where_the_value_is(tmp_path: Path) -> None:
    path = tmp_path / "long.json"
    data = cinder(2, display_name="x" * 3000)
    path.write_text(json.dumps(data, indent=1))
    registry = REGISTRY.with_limits(Limits(max_string_length=1000))
    (result,) = bulk.validate_many([path], registry=registry)
    (issue,) = result.errors
    assert "max_string_length" in issue.message
    lines = path.read_text().splitlines()
    row = next(i for i, ln in enumerate(lines) if '"display_name"' in ln)
    assert (issue.line, issue.column) == (row + 1, lines[row].index('"display_name"') + 1)


def test_schema_errors_are_placed_at_their_members(tmp_path: Path) -> None:
    data = cinder(2, size=-1, display_name=7)
    del data["volume-base-metadata"]["id"]  # optional in version 2
    text = json.dumps(data, indent=2)
    path = tmp_path / "bad.json"
    path.write_text(text)
    lines = text.splitlines()

    def at(key: str) -> tuple[int, int]:
        row = next(i for i, ln in enumerate(lines) if f'"{key}"' in ln)
        return row + 1, lines[row].index(f'"{key}"') + 1

    found = {e["pointer"]: (e["line"], e["column"]) for e in _errors([str(path)])}
    assert found["/volume-base-metadata/size"] == at("size")
    assert found["/volume-base-metadata/display_name"] == at("display_name")
    assert len(found) == 2
    # A path that is not in the text (a missing member) is placed on what holds it.
    from docket.core.errors import Issue

    (placed,) = locate.place(text, [Issue(("volume-base-metadata", "id"), "required")])
    assert (placed.line, placed.column) == at("volume-base-metadata")


def test_jsonl_findings_carry_their_file_line_and_column(tmp_path: Path) -> None:
    good = json.dumps(cinder(2))
    bad = json.dumps(cinder(2, size="big"))
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join([good, "", bad, '{"version": 2, "version": 2}']) + "\n")
    _code, run = _validate([str(path)], output_format="json")
    results = run.json()
    assert [(r["line"], r["valid"]) for r in results] == [(1, True), (3, False), (4, False)]
    column = bad.index('"size"') + 1
    assert [(e["line"], e["column"]) for e in results[1]["errors"]] == [(3, column)]
    assert [(e["line"], e["column"]) for e in results[2]["errors"]] == [(4, 16)]


def test_locate_finds_members_elements_and_escaped_keys() -> None:
    text = '{\n "a": [1, {"b\\"c": [true, null]}],\n "d": {}\n}'
    found = locate.locate(text, [(), ("a",), ("a", 1, 'b"c', 1), ("d",), ("x",)])
    assert found == {(): (1, 1), ("a",): (2, 2), ("a", 1, 'b"c', 1): (2, 27), ("d",): (3, 2)}
    assert locate.nearest(text, ("d", "missing")) == (3, 2)


# --- SARIF and JUnit ------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory with a valid, an invalid and a JSON Lines container file, a FIFO and a
    dangling link (skipped) and a text file."""
    root = tmp_path / "backups"
    (root / "sub").mkdir(parents=True)
    (root / "ok.json").write_text(json.dumps(cinder(2)))
    (root / "sub" / "bad.json").write_text(json.dumps(cinder(2, size="big"), indent=2))
    lines = [json.dumps(cinder(1)), json.dumps({**cinder(2), "version": 9})]
    (root / "export.jsonl").write_text("\n".join(lines) + "\n")
    os.mkfifo(root / "pipe.json")
    (root / "gone.json").symlink_to(tmp_path / "nowhere")
    (root / "README.txt").write_text("not a container")
    return root


def test_sarif_output_is_valid_sarif_2_1_0(tree: Path) -> None:
    code, run = _validate([str(tree)], output_format="sarif")
    assert code == 1
    log = json.loads(run.out)
    Draft4 = jsonschema.validators.validator_for(SARIF_SCHEMA)
    Draft4(SARIF_SCHEMA).validate(log)
    (sarif_run,) = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "docket" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(set(rule_ids)) == len(rule_ids) and {"schema", "version"} <= set(rule_ids)
    found = {}
    for result in sarif_run["results"]:
        assert result["level"] == "error"
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        region = physical["region"]
        found[physical["artifactLocation"]["uri"]] = (
            result["ruleId"],
            region["startLine"],
            region["startColumn"],
        )
    bad = (tree / "sub" / "bad.json").read_text().splitlines()
    row = next(i for i, ln in enumerate(bad) if '"size"' in ln)
    assert found == {
        f"{tree}/sub/bad.json".replace(str(tree), "file://" + str(tree)): (
            "schema",
            row + 1,
            bad[row].index('"size"') + 1,
        ),
        f"file://{tree}/export.jsonl": ("version", 2, 2),
    }
    notes = sarif_run["invocations"][0]["toolExecutionNotifications"]
    skipped = {n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes}
    assert skipped == {f"file://{tree}/pipe.json", f"file://{tree}/gone.json"}


def test_sarif_uris_are_relative_for_relative_paths(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree.parent)
    (tree / "sub" / "a b.json").write_text("{")
    _code, run = _validate(["backups/sub"], output_format="sarif")
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads(run.out)["runs"][0]["results"]
    ]
    assert uris == ["backups/sub/a%20b.json", "backups/sub/bad.json"]


def test_junit_has_one_test_case_per_container(tree: Path) -> None:
    code, run = _validate([str(tree)], output_format="junit")
    assert code == 1
    suites = ET.fromstring(run.out)
    assert suites.tag == "testsuites"
    (suite,) = suites.findall("testsuite")
    cases = suite.findall("testcase")
    names = [c.get("name") for c in cases]
    containers_ = [n for n in names if n and not n.endswith(("pipe.json", "gone.json"))]
    assert sorted(containers_) == sorted(
        [
            f"{tree}/ok.json",
            f"{tree}/sub/bad.json",
            f"{tree}/export.jsonl:1",
            f"{tree}/export.jsonl:2",
        ]
    )
    failures = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failures) == {f"{tree}/sub/bad.json", f"{tree}/export.jsonl:2"}
    bad = failures[f"{tree}/sub/bad.json"]
    assert bad is not None and bad.get("type") == "schema"
    assert SIZE in (bad.get("message") or "")
    assert (bad.text or "").startswith(f"{tree}/sub/bad.json:")
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert len(skipped) == 2
    for element in (suites, suite):
        assert element.get("tests") == str(len(cases))
        assert element.get("failures") == "2"
        assert element.get("skipped") == "2"
        assert element.get("errors") == "0"
    assert all(c.get("classname") and c.get("file") for c in cases)


# --- no silent pass -------------------------------------------------------------------------


def test_an_empty_run_fails_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no containers here")
    code, run = _validate([str(tmp_path)])
    assert code == 1
    assert "no containers found" in run.err and "--allow-empty" in run.err
    assert "skipped 1 file(s) not named *.json or *.jsonl" in run.err
    code, run = _validate([str(tmp_path)], allow_empty=True)
    assert code == 0
    code, run = _validate([str(tmp_path)], output_format="sarif")
    assert code == 1
    Draft4 = jsonschema.validators.validator_for(SARIF_SCHEMA)
    Draft4(SARIF_SCHEMA).validate(json.loads(run.out))


def test_directories_include_jsonl_and_report_what_they_skip(tree: Path) -> None:
    (tree / "linked").symlink_to(tree / "sub", target_is_directory=True)
    _code, run = _validate([str(tree)], output_format="json")
    items = run.json()
    validated = [(Path(r["file"]).name, r["line"]) for r in items if "valid" in r]
    assert validated == [
        ("export.jsonl", 1),
        ("export.jsonl", 2),
        ("ok.json", None),
        ("bad.json", None),
    ]
    skipped = {Path(r["file"]).name: r["skipped"] for r in items if "skipped" in r}
    assert skipped == {
        "gone.json": "a dangling symbolic link",
        "pipe.json": "a FIFO, not a regular file",
        "linked": "a symbolic link to a directory (not followed)",
    }
    for name, reason in skipped.items():
        assert f"skipped {tree / name}: {reason}" in run.err
    text_code, text = _validate([str(tree)])
    assert text_code == 1
    assert "skipped 1 file(s) not named *.json or *.jsonl" in text.err


def test_an_unreadable_directory_is_reported(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.scandir
    locked = str(tree / "sub")

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    _code, run = _validate([str(tree)])
    assert f"skipped {locked}: cannot read the directory: Permission denied" in run.err


def test_a_regular_file_swapped_for_a_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "swapped.json"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(UnsafeFile) as info:
        read_prefix(str(fifo), 100, what="container", follow=True)
    assert info.value.found == "a FIFO"


def _bounded(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run docket in a child process with at most 1 GiB of address space."""

    def cap() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [sys.executable, "-m", "docket", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
        check=False,
    )


def test_an_endless_line_from_dev_zero_ends_the_run() -> None:
    done = _bounded(["validate", "--jsonl", "/dev/zero"])
    assert done.returncode == 1, done.stderr
    assert "longer than the container limit" in done.stdout
    assert "the rest of /dev/zero is not read" in done.stdout
    assert done.stdout.startswith("/dev/zero:1:1: ")


def test_an_endless_line_from_a_fifo_ends_the_run(tmp_path: Path) -> None:
    fifo = tmp_path / "stream.jsonl"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer() -> None:
        try:
            with open(fifo, "wb") as out:
                out.write(json.dumps(cinder(2)).encode() + b"\n")
                chunk = b"x" * 65536
                while not stop.is_set():
                    out.write(chunk)
        except (BrokenPipeError, OSError):
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        done = _bounded(["validate", str(fifo)])
    finally:
        stop.set()
    thread.join(10)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(f"{fifo}:2:1: $: the line is longer than the container limit")
    assert "1 of 2 container(s) invalid" in done.stderr


def test_a_fifo_given_as_a_path_is_read_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "export.jsonl"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as out:
            out.write(json.dumps(cinder(2)).encode() + b"\n" + json.dumps(cinder(1)).encode())

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    done = _bounded(["validate", str(fifo), "--format", "json"])
    thread.join(10)
    assert done.returncode == 0, done.stderr
    assert [(r["line"], r["valid"]) for r in json.loads(done.stdout)] == [(1, True), (2, True)]


@given(
    key=st.text(
        alphabet=st.characters(codec="utf-8", categories=("Cc", "Co", "Cs", "Ll", "Zs")),
        min_size=1,
        max_size=6,
    )
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_junit_stays_xml_whatever_a_key_holds(tmp_path: Path, key: str) -> None:
    """A key with characters XML 1.0 cannot hold (a control character such as U+000B) is
    named in the failure message: the report must still parse."""
    data = cinder(2)
    data["volume-metadata"] = {key: 1}  # not a string: a schema error naming the key
    path = tmp_path / "odd.json"
    path.write_bytes(json.dumps(data, ensure_ascii=True).encode())
    code, run = _validate([str(path)], output_format="junit")
    assert code == 1
    suites = ET.fromstring(run.out)
    assert suites.find("testsuite/testcase/failure") is not None
