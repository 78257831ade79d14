"""The errors a command reports as usage (exit 2) or as a command that could not finish.

Defined in :mod:`docket.core.errors` so that the library functions behind the commands
(:mod:`docket.authoring`, :mod:`docket.fleet`) raise them without importing the command line;
kept importable from here.
"""

from docket.core.errors import CommandFailed, UsageError

__all__ = ["CommandFailed", "UsageError"]
