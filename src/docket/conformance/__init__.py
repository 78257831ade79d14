"""The conformance suite's library part: reading the suite, judging answers, reporting, and
docket's own answers to the protocol (``docs/conformance.md``).

Pure apart from reading the suite's files: running an implementation under test is the
command line's job (:mod:`docket.cli.conformance`). Imports the core, never the command line.
"""

from docket.conformance.compare import Outcome, differences, judge
from docket.conformance.report import Report, render_json, render_junit, render_text
from docket.conformance.suite import LEVELS, Suite, SuiteError

__all__ = [
    "LEVELS",
    "Outcome",
    "Report",
    "Suite",
    "SuiteError",
    "differences",
    "judge",
    "render_json",
    "render_junit",
    "render_text",
]
