"""``python -m docket.cli``: print the command line reference (docs/cli.md)."""

import sys

from docket.cli.app import reference

sys.stdout.write(reference())
