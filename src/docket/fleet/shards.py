"""Shards: one share of a job over many containers or backups, for a CI matrix or a batch array.

``--shard I/N`` is read once, here (:func:`choose_shard`), for ``docket validate`` and
``docket audit`` alike. ``validate_many`` keeps the containers ``k`` (counting files and lines
in input order) with ``k mod N == I - 1``; ``audit`` keeps the backups whose id hashes to share
I (:func:`shard_of`), so a backup stays in its shard as others are added.
"""

from __future__ import annotations

import re

from docket.core.errors import UsageError, show

Shard = tuple[int, int]
"""``(I, N)``: share I (from 1) of N."""


MAX_SHARDS = 1_000_000
"""The most shares a job is split into (a shard file's header holds N as a JSON integer that
every reader takes, and a merge names the missing ones)."""

_SHARD = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*")


def parse_shard(text: str) -> Shard:
    """``"I/N"`` (``1 <= I <= N <=`` :data:`MAX_SHARDS`, ASCII digits) as ``(I, N)``;
    :class:`ValueError` for anything else."""
    match = _SHARD.fullmatch(text)
    if match is None:
        raise ValueError(f"{show(text)} is not I/N")
    i, n = int(match[1]), int(match[2])
    if not 1 <= i <= n:
        raise ValueError(f"{show(text)}: I must be between 1 and N")
    if n > MAX_SHARDS:
        raise ValueError(f"{show(text)}: N must be at most {MAX_SHARDS:,}")
    return i, n


def choose_shard(text: str | None, option: str = "--shard") -> Shard | None:
    """The shard an option gives (None: the whole job); :class:`UsageError` of ``option``
    for text that is not ``I/N``."""
    if text is None:
        return None
    try:
        return parse_shard(text)
    except ValueError as err:
        raise UsageError(option, str(err), f"for example {option} 2/4") from None


def check_shard(shard: Shard | None) -> None:
    """A :class:`UsageError` (a ``ValueError``) unless ``shard`` is None or ``(I, N)`` with
    ``1 <= I <= N <=`` :data:`MAX_SHARDS`."""
    if shard is not None and not 1 <= shard[0] <= shard[1]:
        raise UsageError("shard", f"{show(shard)}: I must be between 1 and N")
    if shard is not None and shard[1] > MAX_SHARDS:
        raise UsageError("shard", f"{show(shard)}: N must be at most {MAX_SHARDS:,}")


def shard_of(key: str, count: int) -> int:
    """The shard (1 to ``count``) a backup id belongs to: a hash, so shards are stable as
    backups are added."""
    import hashlib  # not on `docket validate`'s path, which shares this module

    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


__all__ = ["MAX_SHARDS", "Shard", "check_shard", "choose_shard", "parse_shard", "shard_of"]
