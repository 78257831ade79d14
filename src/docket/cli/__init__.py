"""docket.cli: the ``docket`` command line (click) over plain command functions.

:mod:`~docket.cli.app` holds the click layer, :mod:`~docket.cli.commands` the command
functions with injectable streams, :mod:`~docket.cli.volume` the ``docket volume`` group.
"""

from docket.cli.app import cli, main

__all__ = ["cli", "main"]
