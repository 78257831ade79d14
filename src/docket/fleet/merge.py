"""Merging shards: the verdicts of ``audit`` runs over shares of one root, as one run's.

Each shard of ``docket audit --shard I/N --format jsonl`` writes one JSON line per verdict
(:meth:`~docket.fleet.audit.Verdict.to_json`); :func:`merge_shards` reads them back, in the
order given, for a :class:`~docket.fleet.audit.Summary` (which adds verdicts up in any order)
and a report the same as one run over the whole root would give.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import orjson

from docket.core.errors import CommandFailed
from docket.fleet._audit_checks import Verdict

MAX_LINE = 16 * 1024 * 1024
"""The longest line read (a verdict line is a few hundred bytes)."""
STDIN = "-"
"""The path that means standard input."""


def read_shard(path: str, stdin: BinaryIO | None = None) -> Iterator[Verdict]:
    """The verdicts of one ``--format jsonl`` file (``-``: ``stdin``, by default standard
    input); :class:`~docket.core.errors.CommandFailed` at a line that is not one."""
    opened: contextlib.AbstractContextManager[BinaryIO]
    if path == STDIN:
        opened = contextlib.nullcontext(stdin if stdin is not None else sys.stdin.buffer)
    else:
        opened = open(path, "rb")  # noqa: SIM115 - closed by the with below
    with opened as fh:
        for number, line in enumerate(iter(lambda: fh.readline(MAX_LINE + 1), b""), 1):
            if not line.strip():
                continue
            try:
                if len(line) > MAX_LINE:
                    raise ValueError("the line is too long")
                yield Verdict.from_json(orjson.loads(line))
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise CommandFailed(
                    f"{path}:{number}: not a line of `docket audit --format jsonl` ({err})",
                    hint="merge the JSONL files the shards wrote",
                ) from None


def merge_shards(paths: Iterable[str], stdin: BinaryIO | None = None) -> Iterator[Verdict]:
    """The verdicts of every shard's JSONL file in ``paths``, file by file, as they are read."""
    for path in paths:
        yield from read_shard(path, stdin)


__all__ = ["MAX_LINE", "merge_shards", "read_shard"]
