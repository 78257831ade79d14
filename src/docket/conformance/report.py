"""Reports of a conformance run per level: text, JSON and JUnit XML. Pure: no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from docket._xml import xml_safe
from docket.conformance.compare import (
    ERROR,
    FAIL,
    NOT_STARTED,
    PASS,
    SKIPPED,
    STATUSES,
    UNCLAIMED,
    Outcome,
)
from docket.conformance.suite import LEVELS
from docket.core.display import display, json_safe


@dataclass(frozen=True)
class Report:
    implementation: Mapping[str, Any]
    claimed: tuple[str, ...]
    outcomes: tuple[Outcome, ...]
    problems: tuple[str, ...] = field(default=())
    """Problems with the run itself (the implementation died, the suite's pins broke)."""
    selected: tuple[str, ...] = LEVELS
    """The levels the run was asked for (``--level``); the others were not run, and neither
    pass nor fail."""

    def levels(self) -> dict[str, dict[str, int]]:
        """Per level: how many cases ended in each status."""
        out: dict[str, dict[str, int]] = {lv: dict.fromkeys(STATUSES, 0) for lv in LEVELS}
        for o in self.outcomes:
            out.setdefault(o.level, dict.fromkeys(STATUSES, 0))[o.status] += 1
        return out

    def level_run(self, level: str) -> bool:
        """Whether the run was asked for ``level`` (a level left out is not run)."""
        return level in self.selected

    def level_passed(self, level: str) -> bool:
        """Whether ``level`` was run, is claimed, no case of it failed or errored, and it was
        checked: a level whose every case the implementation skipped proves nothing."""
        counts = self.levels().get(level, {})
        return (
            self.level_run(level)
            and level in self.claimed
            and not counts.get(FAIL)
            and not counts.get(ERROR)
            and not self.all_skipped(level)
        )

    def all_skipped(self, level: str) -> bool:
        """Whether the implementation skipped every case of ``level`` it was sent (at least
        one)."""
        counts = self.levels().get(level, {})
        return bool(counts.get(SKIPPED)) and not counts.get(PASS)

    @property
    def checked(self) -> bool:
        """Whether the run sent the implementation a case of a level it claims."""
        return any(self.level_run(lv) for lv in self.claimed)

    @property
    def passed(self) -> bool:
        """Some level was checked, every claimed level that was run passed, and the run itself
        had no problem."""
        return (
            not self.problems
            and self.checked
            and all(self.level_passed(lv) for lv in self.claimed if self.level_run(lv))
        )

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in (FAIL, ERROR)]


def _name(report: Report) -> str:
    """The implementation's name and version as it said them (a peer's words: escaped)."""
    impl = report.implementation
    return display(f"{impl.get('name', '?')} {impl.get('version', '')}".strip())


def render_text(report: Report, *, max_failures: int = 50) -> str:
    language = display(str(report.implementation.get("language", "?")))
    lines = [f"conformance of {_name(report)} ({language})"]
    for level, counts in report.levels().items():
        total = sum(counts.values())
        if not report.level_run(level):
            lines.append(f"  {level:<10} not run")
            continue
        if level not in report.claimed:
            lines.append(f"  {level:<10} not claimed ({total} cases)")
            continue
        verdict = "PASS" if report.level_passed(level) else "FAIL"
        detail = ", ".join(f"{counts[s]} {s}" for s in (PASS, FAIL, ERROR, SKIPPED) if counts[s])
        if report.all_skipped(level):
            detail += ": every case skipped, nothing checked"
        lines.append(f"  {level:<10} {verdict}  {detail or 'no cases'}")
    # The run's problems first: when the implementation did not start, they say why, and
    # each case says only that it was not run (counted, not listed).
    if report.problems:
        lines.append("")
    lines.extend(f"PROBLEM {display(p)}" for p in report.problems)
    failures = [o for o in report.failures() if o.message != NOT_STARTED]
    unstarted = len(report.failures()) - len(failures)
    shown = failures[:max_failures]
    if shown or unstarted:
        lines.append("")
    lines.extend(f"{o.status.upper()} {display(o.id)}: {display(o.message)}" for o in shown)
    if len(failures) > len(shown):
        lines.append(f"... and {len(failures) - len(shown)} more")
    if unstarted:
        lines.append(f"ERROR {unstarted} cases: {NOT_STARTED}")
    lines.append("")
    lines.append("conformance: " + ("passed" if report.passed else "FAILED"))
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    doc = {
        "implementation": dict(report.implementation),
        "claimed": list(report.claimed),
        "passed": report.passed,
        "levels": {
            lv: {
                "claimed": lv in report.claimed,
                "run": report.level_run(lv),
                # A level that was not run neither passed nor failed.
                "passed": report.level_passed(lv) if report.level_run(lv) else None,
                **counts,
            }
            for lv, counts in report.levels().items()
        },
        "problems": list(report.problems),
        "cases": [
            {"id": o.id, "level": o.level, "family": o.family, "status": o.status}
            | ({"message": o.message} if o.message else {})
            for o in report.outcomes
        ],
    }
    return json.dumps(json_safe(doc), indent=2, ensure_ascii=False) + "\n"


def render_junit(report: Report) -> str:
    """One test suite per level, one test case per case; unclaimed cases are skipped, and a
    level that was not run is one skipped test case ("not run")."""
    root = ET.Element("testsuites", name=f"docket conformance: {_name(report)}")
    by_level: dict[str, list[Outcome]] = {lv: [] for lv in LEVELS}
    for o in report.outcomes:
        by_level.setdefault(o.level, []).append(o)
    for level, outcomes in by_level.items():
        if not report.level_run(level) and not outcomes:
            suite = ET.SubElement(root, "testsuite", name=level, tests="1", skipped="1")
            case = ET.SubElement(suite, "testcase", classname=level, name=level)
            ET.SubElement(case, "skipped", message="not run")
            continue
        counts = dict.fromkeys(STATUSES, 0)
        for o in outcomes:
            counts[o.status] += 1
        suite = ET.SubElement(
            root,
            "testsuite",
            name=level,
            tests=str(len(outcomes)),
            failures=str(counts[FAIL]),
            errors=str(counts[ERROR]),
            skipped=str(counts[SKIPPED] + counts[UNCLAIMED]),
            time=f"{sum(o.seconds for o in outcomes):.3f}",
        )
        _cases(suite, level, outcomes)
    if report.problems:
        suite = ET.SubElement(root, "testsuite", name="run", tests="1", errors="1")
        case = ET.SubElement(suite, "testcase", classname="run", name="run")
        ET.SubElement(case, "error", message=xml_safe("; ".join(report.problems)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _cases(suite: ET.Element, level: str, outcomes: Sequence[Outcome]) -> None:
    for o in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{level}.{o.family}",
            name=xml_safe(o.id),
            time=f"{o.seconds:.4f}",
        )
        if o.description:
            ET.SubElement(case, "system-out").text = xml_safe(o.description)
        if o.status == FAIL:
            ET.SubElement(case, "failure", message=xml_safe(o.message))
        elif o.status == ERROR:
            ET.SubElement(case, "error", message=xml_safe(o.message))
        elif o.status in (SKIPPED, UNCLAIMED):
            ET.SubElement(case, "skipped", message=xml_safe(o.message) or "level not claimed")


RENDERERS = {"text": render_text, "json": render_json, "junit": render_junit}
