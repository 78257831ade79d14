"""Schema-directory workflows a script or the command line runs: checking a schema directory,
starting a family's next version and deriving its migration, and releasing a version.

Each call takes paths and returns what it found or wrote; none prints. Golden containers are
recorded by :func:`docket.testing.record_golden` (it needs hypothesis).
"""

from docket.authoring.checks import Finding, Report, check, run_checks
from docket.authoring.derive import derive_operations
from docket.authoring.release import (
    ReleasePlan,
    ReleaseRefused,
    plan_release,
    release,
    release_version,
)
from docket.authoring.versions import (
    NewVersion,
    VersionUpdate,
    next_version,
    start_version,
    update_version,
)

__all__ = [
    "Finding",
    "NewVersion",
    "ReleasePlan",
    "ReleaseRefused",
    "Report",
    "VersionUpdate",
    "check",
    "derive_operations",
    "next_version",
    "plan_release",
    "release",
    "release_version",
    "run_checks",
    "start_version",
    "update_version",
]
