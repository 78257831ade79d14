"""Schema-directory workflows a script or the command line runs: releasing a version."""

from docket.authoring.release import ReleasePlan, ReleaseRefused, plan_release, release_version

__all__ = ["ReleasePlan", "ReleaseRefused", "plan_release", "release_version"]
