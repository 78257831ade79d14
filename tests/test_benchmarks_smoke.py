"""The benchmark harness runs end to end at tiny sizes and reports every case; no timings."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.report import Row, Target, markdown_table  # noqa: E402

TINY = [
    "--volumes", "40", "--get-ops", "10", "--load-ops", "20", "--validate", "400",
    "--validate-sample", "80", "--rss-lines", "800", "--posix-mb", "4", "--repeat", "1",
    "--heavy-repeat", "1", "--warmup", "0", "--no-postgres", "--no-profile",
    # The volume group runs Cinder in its own virtualenv: test_volume_group_beside_cinder.
    "--cases", "get,backup,restore,load,validate,rss,posix,gate",
]


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "performance.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *TINY, "--output", str(out), "--workdir", str(tmp)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, out.read_text()


def _row(markdown: str, case: str) -> list[str]:
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if len(cells) == 10 and cells[1].startswith(case):
            return cells
    raise AssertionError(f"no row for {case!r} in:\n{markdown}")


def test_every_case_has_a_row(report: tuple[str, str]) -> None:
    stdout, markdown = report
    cases = [
        "get() of one volume",
        "backup: get_many()",
        "restore: put_many()",
        "Family.load() of one container (v2",
        "Family.load() of one container (v3)",
        "Family.load() of one small container (v2",
        "Family.load() of one small container (v3)",
        "validate: API Family.validate()",
        "validate: API spec.is_valid()",
        "validate: CLI",
        "`docket validate` peak RSS",
        "posix driver backup",
        "gate: `docket validate` one invalid file",
        "gate: Family.validate()",
        "gate: `docket validate` JSONL",
        "gate: `docket validate DIR` vs",
        "gate: `docket validate DIR` of indented Cinder files",
    ]
    for case in cases:
        cells = _row(markdown, case)
        assert cells[7] in {"met", "NOT MET", "NOT MET (check failed)", "not run"}, cells
        assert case in stdout
    assert "## Machine and versions" in markdown
    assert "| cores |" in markdown


def test_cases_run_when_docket_has_their_parts(report: tuple[str, str]) -> None:
    _, markdown = report
    ran = ["Family.load() of one container (v2", "Family.load() of one small container (v2",
           "validate: API Family.validate()",
           "posix driver backup", "gate: Family.validate()"]
    if _has("docket.store"):
        ran += ["get() of one volume", "backup: get_many()", "restore: put_many()"]
    if _has("docket.cli"):
        ran += ["validate: CLI", "`docket validate` peak RSS",
                "gate: `docket validate` one invalid file", "gate: `docket validate` JSONL"]
    for case in ran:
        cells = _row(markdown, case)
        assert cells[7] != "not run", cells
        assert cells[3] != "-", cells


def test_docket_agrees_with_the_baseline_and_the_reference(report: tuple[str, str]) -> None:
    # The harness checks outputs before timing: equal containers, equal restored databases,
    # identical validation verdicts. A failure here is a correctness bug, not a slow case.
    _, markdown = report
    checks = markdown.split("## Correctness checks", 1)[1].split("\n## ", 1)[0]
    assert "- ok:" in checks
    assert "FAILED" not in checks, checks


def test_a_missed_target_is_reported_as_not_met() -> None:
    rows = [
        Row("SQLite", "slow", "1", Target("<=", 0.25), docket=2.0, baseline=4.0),
        Row("SQLite", "fast", "1", Target("<=", 0.25), docket=1.0, baseline=4.0),
        Row("-", "wrong", "1", Target("<=", 0.25), docket=0.1, baseline=4.0, checks_ok=False),
        Row("-", "rss", "1", Target("<", 150, "MiB"), docket=151.0, unit="MiB"),
        Row("-", "posix", "1", Target(">=", 0.7), docket=600.0, baseline=1000.0, unit="MiB/s"),
        Row("-", "absent", "-", Target("<=", 1.0)),
    ]
    verdicts = [r.cells()[7] for r in rows]
    assert verdicts == ["NOT MET", "met", "NOT MET (check failed)", "NOT MET", "NOT MET",
                        "not run"]
    assert rows[0].ratio == 0.5
    assert "0.600x" in markdown_table(rows)


@pytest.mark.interop
@pytest.mark.slow
def test_volume_group_beside_cinder(tmp_path: Path) -> None:
    """The volume group at a tiny size: every case of both sides and the CLI has a line, the
    floors are measured, and every restore equals its volume byte for byte. bz2 and the CLI
    side run one round by default (the group stays under 5 minutes), the others every round."""
    from tests.interop._cinder import cinder_python

    cinder_python()  # builds the virtualenv, or skips (fails under CI) when it cannot
    raw = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.volume", "--size", "8", "--rounds", "2",
         "--compressions", "zlib,bz2", "--no-write", "--workdir", str(tmp_path),
         "--json", str(raw)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(8 MiB, 2 rounds; bz2 1, CLI 1)" in done.stdout
    results = json.loads(raw.read_text())["results"]
    runs = {(c, side): len(cases["full backup"])
            for c, sides in results.items() for side, cases in sides.items()}
    assert runs == {("zlib", "cinder"): 2, ("zlib", "docket"): 2, ("zlib", "cli"): 1,
                    ("bz2", "cinder"): 1, ("bz2", "docket"): 1, ("bz2", "cli"): 1}
    for compression in ("zlib", "bz2"):
        for case in ("full backup", "incremental", "restore full", "restore chain"):
            assert f"| {compression} | {case} | docket |" in done.stdout
            assert f"| {compression} | {case} | cinder |" in done.stdout
            assert f"| {compression} | {case} | cli |" in done.stdout
    for floor in ("cat", "cp + sync", "sha256sum", "Python zlib"):
        assert f"| {floor}" in done.stdout
    assert "Restores compared byte for byte with their volume: 12, all equal." in done.stdout


@pytest.mark.interop
@pytest.mark.slow
def test_objects_group_beside_cinder(tmp_path: Path) -> None:
    """The objects group at a tiny size: both stores, both sides, both cases, the floor, and
    every restore equal to its volume byte for byte."""
    from tests._swift import ensure_saio
    from tests.interop._cinder import cinder_python

    cinder_python()  # builds the virtualenv, or skips (fails under CI) when it cannot
    ensure_saio()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.objects", "--size", "8", "--rounds", "1",
         "--no-write", "--workdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for store in ("swift", "s3"):
        for case in ("backup", "restore"):
            assert f"| {store} zlib | {case} | docket |" in done.stdout
            assert f"| {store} zlib | {case} | cinder |" in done.stdout
    assert "Restores compared byte for byte with their volume: 4, all equal." in done.stdout


def test_a_run_keeps_the_marked_sections_it_does_not_write(tmp_path: Path) -> None:
    """A full run wrote the volume and objects sections without their markers and dropped
    the peak-RSS section kept by hand; `python -m benchmarks.volume` then found no section
    to rewrite."""
    from benchmarks.performance_page import kept_sections

    page = tmp_path / "performance.md"
    volume_old = "<!-- volume:start -->\n## old volume\n<!-- volume:end -->"
    rss = "<!-- rss:start -->\n### Peak RSS\n| a |\n<!-- rss:end -->"
    page.write_text(f"# Performance\n\n{volume_old}\n\ntext\n\n{rss}\n\n## Ranges\n")
    written = ["<!-- volume:start -->\n## new volume\n<!-- volume:end -->"]
    assert kept_sections(page, written) == [rss, ""]
    assert kept_sections(page, []) == [volume_old, "", rss, ""]
    assert kept_sections(tmp_path / "none.md", written) == []
