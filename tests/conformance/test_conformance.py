"""The conformance suite (conformance/): its cases, the driver, docket and the Node.js runner."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from docket.cli import cli
from docket.conformance import DOCKET_COMMAND, run
from docket.conformance.compare import FAIL, PASS, UNCLAIMED, differences
from docket.conformance.report import render_json, render_junit, render_text
from docket.conformance.suite import LEVELS, Suite, SuiteError
from docket.core.codec import canonical

ROOT = Path(__file__).resolve().parents[2]
SUITE_DIR = ROOT / "conformance"
NODE_DIR = SUITE_DIR / "runners" / "node"
FAKE = Path(__file__).resolve().parent / "conformance_fake.py"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module")
def suite() -> Suite:
    return Suite.load(SUITE_DIR)


def fake(mode: str) -> list[str]:
    return [sys.executable, str(FAKE), mode]


def node_command() -> list[str]:
    """The Node runner's command, or a skip (a failure in CI) saying what is missing."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    elif not (NODE_DIR / "node_modules" / "ajv").is_dir():
        missing = f"run `npm ci` in {NODE_DIR.relative_to(ROOT)} first"
    if missing is not None:
        if IN_CI:
            pytest.fail(f"the Node.js conformance runner cannot run in CI: {missing}")
        pytest.skip(f"the Node.js conformance runner cannot run: {missing}")
    assert node is not None
    return [node, str(NODE_DIR / "runner.js")]


# --- the cases --------------------------------------------------------------------------------


def test_suite_has_every_family_version_and_level(suite: Suite) -> None:
    import docket

    registry = docket.load_registry()
    files = {(cf.family, cf.version) for cf in suite.files}
    assert files == {(f, v) for f in registry.families() for v in registry.versions(f)}
    cases = list(suite.cases())
    assert len(cases) >= 400
    assert len(cases) == suite.manifest["total"]
    for level in LEVELS:
        assert sum(c["level"] == level for c in cases) >= 20, level
    ids = [c["id"] for c in cases]
    assert len(set(ids)) == len(ids)
    for case in cases:
        assert case["level"] in LEVELS
        description = case["description"]
        assert description and "\n" not in description and len(description) < 200, case["id"]
        assert case["id"].startswith(f"{case['family']}/")
        assert "expect" in case
        if "input" in case:
            assert set(case["input"]) in ({"text"}, {"base64"}), case["id"]


def test_every_family_version_has_validate_and_each_kind_is_covered(suite: Suite) -> None:
    kinds = {c["expect"].get("kind") for c in suite.cases(levels=("validate",))}
    assert {
        "parse",
        "duplicate-key",
        "non-finite-number",
        "not-an-object",
        "limit",
        "version-missing",
        "version-malformed",
        "version-unknown",
        "version-too-new",
        "schema",
        "digest",
    } <= kinds
    for cf in suite.files:
        levels = {c["level"] for c in suite.read(cf)}
        assert {"validate", "restore", "integrity"} <= levels, (cf.family, cf.version)
    assert any("base64" in c["input"] for c in suite.cases(levels=("validate",)))


def test_released_case_files_match_their_pinned_digests(suite: Suite) -> None:
    assert all(cf.released and cf.digest for cf in suite.files)
    assert suite.check_pins() == []


def test_a_changed_released_case_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "conformance"
    shutil.copytree(SUITE_DIR, copy, ignore=shutil.ignore_patterns("node_modules", "runners"))
    path = copy / "cases" / "chunked-sha256" / "1.0.0.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["cases"][0]["expect"] = {"valid": False, "kind": "schema", "pointers": [""]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    changed = Suite.load(copy)
    assert [p for p in changed.check_pins() if "chunked-sha256" in p]
    report = run(DOCKET_COMMAND, changed, levels=("integrity",), families=("chunked-sha256",))
    assert not report.passed
    assert any("released cases of chunked-sha256" in p for p in report.problems)


def test_regenerating_the_suite_changes_nothing() -> None:
    """Every expectation recomputed by docket and every hand-written case rebuilt, from the
    committed inputs: any difference from the committed files fails (released files are
    frozen; a change needs a new format version)."""
    proc = subprocess.run(
        [sys.executable, str(SUITE_DIR / "generate.py"), "--check", "--reuse-inputs"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def _regenerate_check(suite_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SUITE_DIR / "generate.py"), "--check", "--reuse-inputs",
         "--out", str(suite_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_regeneration_does_not_depend_on_the_installed_hypothesis(tmp_path: Path) -> None:
    """Reused inputs keep the release that drew them: another hypothesis changes nothing."""
    copy = tmp_path / "conformance"
    shutil.copytree(SUITE_DIR, copy, ignore=shutil.ignore_patterns("node_modules", "runners"))
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["generator"]["hypothesis"] = "6.0.0"
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    proc = _regenerate_check(copy)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_regeneration_catches_a_changed_expectation(tmp_path: Path) -> None:
    copy = tmp_path / "conformance"
    shutil.copytree(SUITE_DIR, copy, ignore=shutil.ignore_patterns("node_modules", "runners"))
    path = copy / "cases" / "backup-metadata" / "3.json"
    text = path.read_text(encoding="utf-8")
    valid_at = '"valid": true,\n        "version": '
    edited = text.replace(valid_at + "3", valid_at + "2", 1)
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    proc = _regenerate_check(copy)
    assert proc.returncode == 1
    assert "would change: cases/backup-metadata/3.json" in proc.stderr


def test_a_suite_directory_without_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no conformance manifest"):
        Suite.load(tmp_path)


# --- docket and the Node runner ------------------------------------------------------------


def test_docket_passes_every_level(suite: Suite) -> None:
    report = run(DOCKET_COMMAND, suite)
    assert report.problems == ()
    assert report.claimed == LEVELS
    failures = [f"{o.id}: {o.message}" for o in report.failures()]
    assert failures == []
    assert report.passed
    assert all(o.status == PASS for o in report.outcomes)


def test_node_runner_passes_the_levels_it_claims(suite: Suite) -> None:
    report = run(node_command(), suite)
    assert report.claimed == ("validate", "migrate")
    failures = [f"{o.id}: {o.message}" for o in report.failures()]
    assert failures == []
    assert report.passed
    unclaimed = {o.level for o in report.outcomes if o.status == UNCLAIMED}
    assert unclaimed == {"restore", "integrity"}


def test_node_writes_doubles_as_docket_does() -> None:
    """Canonical JSON's number form, over doubles from every binade."""
    command = node_command()
    rng = __import__("random").Random(5)
    values = [
        struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(3000)
    ]
    values = [v for v in values if v == v and abs(v) != float("inf")]
    values += [1e16, 1e15, 1e-5, 1e-6, 9.999999999999999e15, 123.0, -0.0, 0.1, 5e-324]
    script = (
        "const {formatFloat}=require('./json');"
        "const xs=JSON.parse(require('fs').readFileSync(0,'utf8'));"
        "process.stdout.write(JSON.stringify(xs.map(formatFloat)));"
    )
    proc = subprocess.run(
        [command[0], "-e", script],
        input=json.dumps([repr(v) for v in values]).replace('"', ""),
        capture_output=True,
        text=True,
        cwd=NODE_DIR,
        check=True,
    )
    node = json.loads(proc.stdout)
    assert node == [canonical(v).decode() for v in values]


# --- the driver can fail ------------------------------------------------------------------


def test_driver_fails_a_wrong_verdict(suite: Suite) -> None:
    report = run(fake("verdict"), suite, levels=("validate",), families=("chunked-sha256",))
    assert not report.passed
    failed = [o for o in report.outcomes if o.status == FAIL]
    assert len(failed) == 1
    assert "verdict: expected invalid" in failed[0].message
    assert "FAIL" in render_text(report)


def test_driver_fails_a_wrong_pointer(suite: Suite) -> None:
    report = run(fake("pointer"), suite, levels=("validate",), families=("backup-record",))
    assert not report.passed
    failed = [o for o in report.outcomes if o.status == FAIL]
    assert failed and all(o.message.startswith("pointers: expected") for o in failed)


def test_driver_fails_a_wrong_upgrade(suite: Suite) -> None:
    report = run(fake("upgrade"), suite, levels=("migrate",), families=("backup-record",))
    assert not report.passed
    failed = [o for o in report.outcomes if o.status == FAIL]
    assert failed and all(o.message.startswith("output: ") for o in failed)
    assert not report.level_passed("migrate")


def test_unclaimed_levels_are_not_run_and_do_not_fail(suite: Suite) -> None:
    report = run(fake("claim-validate"), suite, families=("chunked-backup",))
    assert report.passed
    assert report.claimed == ("validate",)
    statuses = {o.level: o.status for o in report.outcomes if o.level != "validate"}
    assert set(statuses.values()) == {UNCLAIMED}


def test_an_implementation_that_claims_nothing_fails(suite: Suite) -> None:
    """A runner that claims no level (or none of those --level asked for) was sent no case:
    it passed vacuously, so a CI job whose runner lost its levels stayed green."""
    report = run(fake("claim-none"), suite, families=("chunked-sha256",))
    assert not report.passed and report.claimed == ()
    assert any("claims none of the levels run" in p for p in report.problems)
    assert "nothing was checked" in render_text(report)
    assert json.loads(render_json(report))["passed"] is False
    asked = run(fake("claim-validate"), suite, levels=("migrate",), families=("chunked-sha256",))
    assert not asked.passed
    assert any("claims none of the levels run (migrate)" in p for p in asked.problems)


def test_a_level_whose_every_case_was_skipped_does_not_pass(suite: Suite) -> None:
    report = run(fake("skip-validate"), suite, levels=("validate",), families=("chunked-sha256",))
    assert not report.passed and not report.level_passed("validate")
    statuses = {o.status for o in report.outcomes}
    assert statuses == {"skipped"}
    line = next(x for x in render_text(report).splitlines() if x.split()[:1] == ["validate"])
    assert "FAIL" in line and "every case skipped, nothing checked" in line


def test_an_implementation_that_dies_fails_the_run(suite: Suite) -> None:
    report = run(fake("crash"), suite, levels=("validate",), families=("chunked-sha256",))
    assert not report.passed
    assert any("exited" in p for p in report.problems)
    assert any("crashing on purpose" in p for p in report.problems)


def test_a_command_that_cannot_start_fails(suite: Suite) -> None:
    report = run(["/nonexistent/implementation"], suite, families=("chunked-sha256",))
    assert not report.passed
    assert "cannot start" in report.problems[0]


def test_compare_ignores_messages_and_pointer_order() -> None:
    case = {
        "level": "validate",
        "expect": {"valid": False, "kind": "schema", "pointers": ["/a", "/b"]},
    }
    got = {"valid": False, "kind": "schema", "pointers": ["/b", "/a", "/a"], "message": "x"}
    assert differences(case, got) == []
    assert differences(case, {**got, "kind": "parse"}) == ['kind: expected "schema", got "parse"']
    restore = {
        "level": "restore",
        "expect": {"writes": {}, "state": {"s": {"n": 1}}, "dropped": []},
    }
    assert differences(restore, {"writes": {}, "state": {"s": {"n": 1.0}}, "dropped": []})


# --- reports and the command ----------------------------------------------------------------


def test_reports_in_json_and_junit(suite: Suite) -> None:
    report = run(fake("verdict"), suite, levels=("validate",), families=("chunked-sha256",))
    doc = json.loads(render_json(report))
    assert doc["passed"] is False
    assert doc["levels"]["validate"]["fail"] == 1
    assert doc["levels"]["migrate"]["claimed"] is True
    root = ET.fromstring(render_junit(report).split("?>", 1)[1])
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == set(LEVELS)
    assert suites["validate"].get("failures") == "1"
    assert len(list(suites["validate"].iter("failure"))) == 1


def test_cli_runs_docket_and_a_command(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "report.xml"
    ok = runner.invoke(
        cli,
        [
            "conformance",
            "run",
            "--suite",
            str(SUITE_DIR),
            "--level",
            "integrity",
            "--format",
            "junit",
            "--output",
            str(out),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert ET.parse(out).getroot().tag == "testsuites"
    bad = runner.invoke(
        cli,
        [
            "conformance",
            "run",
            "--suite",
            str(SUITE_DIR),
            "--family",
            "chunked-sha256",
            "--level",
            "validate",
            "--format",
            "json",
            "--",
            *fake("verdict"),
        ],
    )
    assert bad.exit_code == 1, bad.output
    assert json.loads(bad.output)["passed"] is False
    missing = runner.invoke(cli, ["conformance", "run", "--suite", str(tmp_path)])
    assert missing.exit_code == 2
    assert "no conformance manifest" in missing.output


def test_levels_left_out_by_level_are_not_run_nor_passed(suite: Suite) -> None:
    report = run(fake("verdict"), suite, levels=("validate",), families=("backup-metadata",))
    assert report.selected == ("validate",)
    text = render_text(report)
    for level in LEVELS[1:]:
        line = next(x for x in text.splitlines() if x.split()[:1] == [level])
        assert line.split()[1:] == ["not", "run"], line
        assert not report.level_passed(level)
    doc = json.loads(render_json(report))
    for level in LEVELS[1:]:
        assert doc["levels"][level]["run"] is False
        assert doc["levels"][level]["passed"] is None
    assert doc["levels"]["validate"]["run"] is True
    root = ET.fromstring(render_junit(report).split("?>", 1)[1])
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    for level in LEVELS[1:]:
        skipped = [s.get("message") for s in suites[level].iter("skipped")]
        assert skipped == ["not run"]
        assert suites[level].get("skipped") == suites[level].get("tests") == "1"


def test_outside_a_checkout_the_missing_suite_hints_at_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    missing = runner.invoke(cli, ["conformance", "run"])
    assert missing.exit_code == 2
    assert "no conformance manifest" in missing.output
    assert "--suite" in missing.output
    given = runner.invoke(cli, ["conformance", "run", "--suite", str(tmp_path)])
    assert given.exit_code == 2
    assert "hint: give --suite the directory holding manifest.json" in given.output
