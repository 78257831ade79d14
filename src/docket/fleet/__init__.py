"""Jobs over many containers or backups: validate many, audit a backup root, shards, merge.

Each entry point is a library call a CI system or an operator's script can make without the
command line (``docket validate`` and ``docket audit`` are options around them): work is cut
into tasks, run here or in worker processes (:mod:`docket.fleet.pool`) with results in input
order, optionally one shard of it (:mod:`docket.fleet.shards`), with progress reported as it
goes. Importing this package imports no submodule: ``docket validate`` loads only what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docket._lazy import lazy_exports

if TYPE_CHECKING:
    from docket.fleet.audit import Summary, Verdict, audit, backup_rows
    from docket.fleet.merge import merge_shards
    from docket.fleet.shards import choose_shard, parse_shard, shard_of
    from docket.fleet.validate import Result, Skipped, validate_many

__getattr__ = lazy_exports(
    __name__,
    {
        "docket.fleet.validate": "Result Skipped validate_many",
        "docket.fleet.audit": "Summary Verdict audit backup_rows",
        "docket.fleet.merge": "merge_shards",
        "docket.fleet.shards": "choose_shard parse_shard shard_of",
    },
)
"""The entry points, imported when first asked for (auditing needs the backup layer,
validating does not)."""


__all__ = [
    "Result",
    "Skipped",
    "Summary",
    "Verdict",
    "audit",
    "backup_rows",
    "choose_shard",
    "merge_shards",
    "parse_shard",
    "shard_of",
    "validate_many",
]
