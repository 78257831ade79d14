"""Moving a Cinder deployment's backups between Cinder's POSIX driver and docket's.

Cinder's backup manager acts on a backup only when its configured ``backup_driver`` starts with
the backup's ``service``, so changing ``backup_driver`` strands every backup made before.
:func:`relabel` moves them: it checks that the new driver can read each backup, then changes
``service`` in Cinder's ``backups`` table for those it could check, in one transaction.

A backup is moved only when all of these hold, and left as it is (and reported) otherwise:

- it is ``available`` (a backup being made, restored or deleted is the old driver's to finish);
- its stored objects verify (:meth:`~docket.backup.engine.ChunkedBackupDriver.verify`: the
  object list, every object's length and MD5, the SHA-256 blocks, the chain to its full
  backup), and its metadata names the row's volume;
- the new driver can read its volume metadata containers: Cinder's reads versions 1 and 2
  only (a signed version 3 container stays with docket); docket's loads each one (and, with a
  signing key, accepts only signed ones);
- the backup it builds on is moved too, or already the new driver's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docket.backup._model import Backup
from docket.backup.posix import PosixBackupDriver
from docket.core.errors import DocketError, StoreError, UsageError, show
from docket.core.registry import Registry, load_registry
from docket.fleet.audit import BackupRow, backup_rows

SERVICES = {
    "docket": "docket.cinder.PosixBackupDriver",
    "cinder": "cinder.backup.drivers.posix.PosixBackupDriver",
}
"""The ``backup_driver`` of each side: what a moved backup's ``service`` becomes."""
CINDER_VERSIONS = (1, 2)
"""The container versions Cinder's ``BackupMetadataAPI`` restores."""

MOVE, KEEP, REFUSE, SKIP = "move", "keep", "refuse", "skip"


@dataclass(frozen=True)
class Move:
    """One backup's verdict: ``move`` (re-labelled, or would be in a dry run), ``keep`` (the
    new driver's already), ``refuse`` (the new driver could not be shown to read it) or
    ``skip`` (not ``available``)."""

    backup_id: str
    volume_id: str | None
    service: str | None
    verdict: str
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "backup_id": self.backup_id,
            "volume_id": self.volume_id,
            "service": self.service,
            "verdict": self.verdict,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RelabelReport:
    """What :func:`relabel` found and did: ``changed`` rows were re-labelled to ``service``."""

    service: str
    dry_run: bool
    moves: tuple[Move, ...]
    changed: int

    def of(self, verdict: str) -> list[Move]:
        return [m for m in self.moves if m.verdict == verdict]

    @property
    def ok(self) -> bool:
        """Every backup of the old driver moved (skipped ones are reported, not failures)."""
        return not self.of(REFUSE)

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "counts": {v: len(self.of(v)) for v in (MOVE, KEEP, REFUSE, SKIP)},
            "backups": [m.to_json() for m in self.moves],
        }


def target_service(to: str) -> str:
    if to not in SERVICES:
        raise UsageError(
            "--to",
            f"{show(to)} is not a driver docket moves backups to",
            hint="use --to docket or --to cinder",
        )
    return SERVICES[to]


def _ours(service: str | None, driver: str) -> bool:
    """Whether Cinder's manager running ``driver`` acts on a backup of ``service``."""
    return not service or driver.startswith(service)


def relabel(
    db: Any,
    root: str | os.PathLike[str],
    *,
    to: str,
    dry_run: bool = False,
    registry: Registry | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RelabelReport:
    """Re-label the backups of the other POSIX driver in the ``backups`` table of ``db`` (a
    URL or an engine) as ``to``'s (``docket`` or ``cinder``), after checking each in ``root``
    (the shared ``backup_posix_path``). ``dry_run`` checks and reports, and writes nothing."""
    service = target_service(to)
    if not Path(root).is_dir():
        raise UsageError(
            "--root", f"{root} is not a directory", hint="give the backup_posix_path both use"
        )
    source = SERVICES["cinder" if to == "docket" else "docket"]
    registry = registry if registry is not None else load_registry()
    import sqlalchemy as sa

    from docket.store.engines import open_engine

    owned = isinstance(db, str | sa.URL)
    engine = open_engine(db) if owned else db
    try:
        rows = [
            r for r in backup_rows(engine) if _ours(r.service, source) and r.service is not None
        ]
        moves = _judge(rows, PosixBackupDriver(root, registry=registry), to, service, progress)
        chosen = [m for m in moves if m.verdict == MOVE]
        changed = 0 if dry_run or not chosen else _write(engine, chosen, service)
    finally:
        if owned:
            engine.dispose()
    return RelabelReport(service, dry_run, tuple(moves), changed)


def _judge(
    rows: list[BackupRow],
    driver: PosixBackupDriver,
    to: str,
    service: str,
    progress: Callable[[int, int], None] | None,
) -> list[Move]:
    moves: dict[str, Move] = {}
    for done, row in enumerate(rows, 1):
        moves[row.id] = _check(row, driver, to, service)
        if progress is not None:
            progress(done, len(rows))
    # A backup moves only with the backup it builds on (unless that one is the new driver's
    # already, or not in the table): settle the chains until nothing changes.
    changed = True
    while changed:
        changed = False
        for row in rows:
            move = moves[row.id]
            parent = moves.get(row.parent_id or "")
            if move.verdict == MOVE and parent is not None and parent.verdict in (REFUSE, SKIP):
                moves[row.id] = Move(
                    row.id,
                    row.volume_id,
                    row.service,
                    REFUSE,
                    f"the backup it builds on, {parent.backup_id}, is not moved",
                )
                changed = True
    return [moves[r.id] for r in rows]


def _check(row: BackupRow, driver: PosixBackupDriver, to: str, service: str) -> Move:
    def verdict(kind: str, reason: str = "") -> Move:
        return Move(row.id, row.volume_id, row.service, kind, reason)

    if _ours(row.service, service):
        return verdict(KEEP)
    if row.status != "available":
        return verdict(SKIP, f"it is {row.status}: only available backups are moved")
    backup = Backup(id=row.id, container=row.container)
    try:
        report = driver.verify(backup)
        if not report.ok:
            return verdict(REFUSE, f"it does not verify: {report.problems[0]}")
        chain = driver._chain(backup)
    except DocketError as err:
        return verdict(REFUSE, str(err))
    if chain[0].metadata.get("volume_id") != row.volume_id:
        return verdict(
            REFUSE, f"its stored metadata names volume {chain[0].metadata.get('volume_id')}"
        )
    metas = [(c.backup_id, c.metadata.get("volume_meta")) for c in chain]
    problem = _unreadable(metas, driver.registry, to)
    return verdict(REFUSE, problem) if problem else verdict(MOVE)


def _unreadable(metas: Iterable[tuple[str, Any]], registry: Registry, to: str) -> str:
    """Why the new driver could not restore one of the chain's volume metadata containers
    ('' when it can restore each)."""
    family = registry.family("backup-metadata")
    for backup_id, text in metas:
        if not text:
            continue
        try:
            container = family.load(text)
        except DocketError as err:
            return f"the volume metadata of {backup_id} is refused: {err}"
        if to == "cinder" and container.written_version not in CINDER_VERSIONS:
            return (
                f"the volume metadata of {backup_id} is at version {container.written_version}; "
                "Cinder restores versions 1 and 2"
            )
    return ""


def _write(engine: Any, moves: list[Move], service: str) -> int:
    """Re-label ``moves`` in one transaction; each row only if it is still as it was checked
    (the same service, available, not deleted). Anything else rolls the whole change back."""
    import sqlalchemy as sa

    table = sa.Table("backups", sa.MetaData(), autoload_with=engine)
    changed = 0
    with engine.begin() as conn:
        for move in moves:
            query = (
                sa.update(table)
                .where(table.c.id == move.backup_id)
                .where(table.c.service == move.service)
                .where(table.c.status == "available")
                .values(service=service)
            )
            if "deleted" in table.c:
                query = query.where(
                    sa.or_(table.c.deleted.is_(None), table.c.deleted == sa.false())
                )
            changed += conn.execute(query).rowcount
        if changed != len(moves):
            raise StoreError(
                f"{len(moves) - changed} backup(s) changed while they were checked; "
                "nothing was re-labelled",
                hint="stop cinder-backup while backups are moved, then run the command again",
            )
    return changed
