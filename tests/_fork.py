"""A forked child that reports through a pipe, for tests that must kill or race processes."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable


def fork_reporting(body: Callable[[int], None]) -> tuple[int, int]:
    """Fork a child that runs ``body(fd)``, ``fd`` the write end of a pipe, then exits: 0 when
    ``body`` returned, 70 when it raised (the traceback on stderr). The child never returns into
    pytest. Returns the child's pid and the read end of the pipe, for the parent."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.close(read)
            body(write)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write)
    return pid, read
