"""docket.cli: the ``docket`` command line (click) over plain command functions.

:mod:`~docket.cli.app` is the ``docket`` group; each command group has its module
(:mod:`~docket.cli.validate`, :mod:`~docket.cli.versions` for migrate, inspect, diff and
schema, :mod:`~docket.cli.check`, :mod:`~docket.cli.database` for db init, backup and
restore, :mod:`~docket.cli.demo`, :mod:`~docket.cli.volume`), sharing exit codes and error
handling (:mod:`~docket.cli.common`), click options (:mod:`~docket.cli.options`) and output
formats (:mod:`~docket.cli.output`). :mod:`~docket.cli.commands` gathers the plain functions.
"""

from docket.cli.app import cli, main

__all__ = ["cli", "main"]
