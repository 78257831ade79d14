"""Every ``docket`` command as a plain function: arguments and streams in, an exit code out.

One import for callers and tests (``commands.validate(paths, stdout=..., stderr=...)``); the
functions live in their command group's module.
"""

from docket.cli.check import check
from docket.cli.cinder import relabel
from docket.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, build_registry, read_key, run
from docket.cli.database import backup, db_init, restore
from docket.cli.demo import demo
from docket.cli.validate import validate
from docket.cli.versions import diff, inspect, migrate, schema

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "backup",
    "build_registry",
    "check",
    "db_init",
    "demo",
    "diff",
    "inspect",
    "migrate",
    "read_key",
    "relabel",
    "restore",
    "run",
    "schema",
    "validate",
]
