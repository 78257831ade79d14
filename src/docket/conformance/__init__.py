"""The conformance suite's library part: reading the suite, running an implementation under
test over it (:mod:`~docket.conformance.runner`), judging answers, reporting, and docket's own
answers to the protocol (``docs/conformance.md``).

Imports the core, never the command line (``docket conformance run`` parses options and
renders the report).
"""

from docket.conformance.compare import Outcome, differences, judge
from docket.conformance.report import Report, render_json, render_junit, render_text
from docket.conformance.runner import DOCKET_COMMAND, run
from docket.conformance.suite import LEVELS, Suite, SuiteError

__all__ = [
    "DOCKET_COMMAND",
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
    "run",
]
