"""Audit a backup root: every backup's formats, integrity, parent chain and who can restore it.

:func:`audit` walks a root in Cinder's POSIX layout (``<id[0:2]>/<id[2:4]>/<id>/``) and yields
one :class:`Verdict` per backup, as it goes: its id, volume and parent, the version of each of
its metadata objects and of the container inside (``formats``), its integrity (with
``deep=True``, every object's checksum, as ``verify``), its parent chain's health, and the
readers that can restore it (from the ``readers`` that family manifests declare). Given the
rows of Cinder's ``backups`` table (:func:`backup_rows`), rows without files and files
without rows are findings too. Files under the root that belong to no backup are verdicts
without a backup id (``orphan``). A root ``swift://CONTAINER`` or ``s3://BUCKET`` is audited
the same way over the store's paged listing (:mod:`docket.fleet._audit_objects`).

Memory stays flat: the walk holds one directory listing per level, parents are looked up at
their place through a bounded cache, and verdicts are yielded, not kept. A verdict depends only
on what is stored, so ``shard=(I, N)`` (a share by a hash of the backup id, stable as backups
are added) and ``jobs`` worker processes give the same verdicts as one run, and
:class:`Summary` adds them up in any order.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from docket.backup._layout import backup_dir_for, own_objects, safe_id
from docket.backup._walk import legacy_dir
from docket.backup.objects import DEFAULT_CONTAINER
from docket.backup.store import DEFAULT_PAGE
from docket.core.display import json_safe
from docket.core.errors import DriverOptionError, UsageError, show
from docket.core.registry import Registry, load_registry
from docket.fleet._audit_checks import (
    DEFAULT_MAX_OBJECT_BYTES,
    FINDINGS,
    MAX_PER_KIND,
    BackupRow,
    Finding,
    Inspector,
    Verdict,
    orphan,
)
from docket.fleet._audit_objects import (
    ObjectInspector,
    is_object_root,
    open_object_root,
    walk_objects,
)
from docket.fleet._verdicts import Place
from docket.fleet.merge import ShardEnd, ShardHeader
from docket.fleet.pool import in_order, workers
from docket.fleet.shards import check_shard, shard_of

POSIX_SERVICES = (
    "cinder.backup.drivers.posix.PosixBackupDriver",
    "cinder.backup.drivers.nfs.NFSBackupDriver",
    "docket.backup.posix.PosixBackupDriver",
)
"""Rows of these services (or with no service) are backups in the POSIX layout; the rows of
other drivers (Swift, Ceph, ...) are not audited."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PER_TASK = 64
_IGNORED = frozenset({"lost+found"})

Progress = Callable[[int, int], None]
"""``progress(done, total)``: backup directories audited so far, of those found."""


def backup_rows(engine: Any) -> Iterator[BackupRow]:
    """The live rows of Cinder's ``backups`` table (an engine or a URL), read as they come.

    The table is reflected, so columns docket does not use are tolerated and columns it does
    use may be missing; soft-deleted rows (``deleted`` true) are left out. A URL is opened
    and the table looked for now, not at the first row: a URL docket cannot use, a server it
    cannot reach and a missing table are :class:`~docket.core.errors.StoreError` subclasses.
    """
    import sqlalchemy as sa

    from docket.store.engines import open_engine
    from docket.store.errors import MissingTable

    owned = isinstance(engine, (str, sa.URL))
    bind = open_engine(engine) if owned else engine
    try:
        table = sa.Table("backups", sa.MetaData(), autoload_with=bind)
    except BaseException as err:
        if owned:
            bind.dispose()
        if isinstance(err, sa.exc.NoSuchTableError):
            raise MissingTable("backups") from None
        raise
    return _backup_rows(bind, table, owned)


def _backup_rows(bind: Any, table: Any, owned: bool) -> Iterator[BackupRow]:
    import sqlalchemy as sa

    names = ("id", "volume_id", "parent_id", "status", "container", "service_metadata", "service")
    try:
        columns = [table.c[n] for n in names if n in table.c]
        query = sa.select(*columns)
        if "deleted" in table.c:
            query = query.where(sa.or_(table.c.deleted.is_(None), table.c.deleted == sa.false()))
        with bind.connect() as conn:
            result = conn.execution_options(yield_per=2000).execute(query)
            for row in result.mappings():
                values = {n: (None if row.get(n) is None else str(row[n])) for n in names}
                if values["id"] is None:
                    continue
                yield BackupRow(**{k: v for k, v in values.items() if k != "id"}, id=values["id"])
    finally:
        if owned:
            bind.dispose()


# --- the walk ---------------------------------------------------------------------------------


_Entry = Place


def _scan(fd: int) -> list[os.DirEntry[str]] | str:
    """The entries of the directory ``fd``, by name; their kinds come with the listing
    (``d_type``), so nothing is followed and no entry costs a ``stat``."""
    try:
        with os.scandir(fd) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as err:
        return f"cannot be listed: {err.strerror}"


def _open_dir(parent: int, name: str) -> int | None:
    """The directory ``name`` in ``parent``, never through a link (None: it is not a
    directory now, e.g. swapped for a symbolic link since it was listed)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError:
        return None


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _what(entry: os.DirEntry[str]) -> str:
    try:
        if entry.is_symlink():
            return "a symbolic link (not followed)"
        if entry.is_dir(follow_symlinks=False):
            return "a directory"
        if entry.is_file(follow_symlinks=False):
            return "a file"
    except OSError:
        pass
    return "not a regular file"


def walk(root: Path, containers: Mapping[str, str] | None = None) -> Iterator[_Entry]:
    """Every backup directory under ``root`` and every place outside the layout, in name order.

    ``containers`` maps backup ids to directories their database rows name outside the
    default layout. Hidden names and ``lost+found`` at the top are skipped (snapshots, file
    system housekeeping); empty directories are not reported (Cinder leaves them behind).
    The walk goes from directory descriptor to directory descriptor and never follows a
    symbolic link, even one put in a directory's place while it runs: nothing outside the
    root is listed or reported.
    """
    # A row's container of ``b1/b1`` is the layout's own place of an old backup of a one- or
    # two-character id (Cinder's os.path.join drops the empty middle): walked as the layout,
    # since the directory is also the way to the backups whose ids start ``b1b1``.
    places = {
        path: backup_id
        for backup_id, path in (containers or {}).items()
        if not (legacy_dir(PurePosixPath(path)) and path.split("/")[0] == backup_id)
    }
    found_legacy: set[str] = set()
    prefixes = {"/".join(p.split("/")[:i]) for p in places for i in range(1, p.count("/") + 1)}
    try:
        top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the root may be a link
    except OSError as err:
        yield _Entry(".", problem=f"the directory cannot be listed: {err.strerror}")
        return
    # Depth first, in name order, without recursion: each level open is a descriptor and what
    # is left of its listing, so a tree nested any deep costs a list, not the interpreter's stack.
    stack: list[tuple[int, str, int, Iterator[os.DirEntry[str]]]] = []

    def enter(fd: int, rel: str, depth: int) -> _Entry | None:
        listing = _scan(fd)
        if isinstance(listing, str):
            os.close(fd)
            return _Entry(rel or ".", problem=f"the directory {listing}")
        stack.append((fd, rel, depth, iter(listing)))
        return None

    try:
        problem = enter(top, "", 0)
        if problem is not None:
            yield problem
        while stack:
            fd, rel, depth, listing = stack[-1]
            entry = next(listing, None)
            if entry is None:
                stack.pop()
                os.close(fd)
                continue
            found = _place(fd, rel, depth, entry, places, prefixes, found_legacy)
            if found == "enter":
                child = _open_dir(fd, entry.name)
                path = f"{rel}/{entry.name}" if rel else entry.name
                if child is None:
                    yield _Entry(path, problem="no longer a directory (not followed)")
                    continue
                problem = enter(child, path, depth + 1)
                if problem is not None:
                    yield problem
            elif isinstance(found, _Entry):
                yield found
    finally:
        for fd, *_ in stack:
            os.close(fd)


def _place(
    fd: int,
    rel: str,
    depth: int,
    entry: os.DirEntry[str],
    places: Mapping[str, str],
    prefixes: set[str],
    found_legacy: set[str],
) -> _Entry | str | None:
    """What one name in a listed directory is: a backup directory or a stray place (an
    ``_Entry``), a directory of the layout to go into (``"enter"``), or nothing to report.
    In ``b1/b1``, the directory of an old backup of a one- or two-character id and the way to
    the backups whose ids start ``b1b1``, the first of ``b1``'s own files names the backup
    (``found_legacy`` keeps it from being named twice); other files there are stray."""
    name = entry.name
    if name.startswith(".") or (depth == 0 and name in _IGNORED):
        return None
    path = f"{rel}/{name}" if rel else name
    if path in places:
        return _Entry(path, places[path])
    what = _what(entry)
    if depth == 2 and what == "a file" and legacy_dir(PurePosixPath(rel)):
        backup_id = rel.split("/")[0]
        if own_objects(backup_id).match(name):
            if backup_id in found_legacy:
                return None
            found_legacy.add(backup_id)
            return _Entry(rel, backup_id)
    if what != "a directory":
        return _Entry(path, problem=f"{what} outside any backup directory")
    if (depth < 2 and len(name) == 2) or path in prefixes:
        return "enter"
    if (depth == 0 and len(name) == 1 and legacy_dir(PurePosixPath(name, name))) or (
        depth == 1 and legacy_dir(PurePosixPath(path))
    ):
        return "enter"  # c/c: the directory of an old backup of a one-character id
    parts = rel.split("/") if rel else []
    if depth == 2 and safe_id(name) and name[0:2] == parts[0] and name[2:4] == parts[1]:
        return _Entry(path, name)
    if _empty(fd, name):
        return None
    return _Entry(path, problem="a directory outside Cinder's layout")


def _empty(parent: int, name: str) -> bool:
    """Whether the directory ``name`` in ``parent`` holds nothing but directories that hold
    nothing (links not followed). Iterative, and a descriptor is kept open only for a
    directory with children still to visit: a chain of any depth costs neither stack nor
    descriptors."""
    stack: list[tuple[int, list[str]]] = []  # (descriptor, child directories still to visit)
    current = _open_dir(parent, name)
    try:
        while current is not None:
            listing = _scan(current)
            if isinstance(listing, str) or not all(_is_dir(e) for e in listing):
                return False
            stack.append((current, [e.name for e in listing]))
            current = None
            while stack and current is None:
                top, todo = stack[-1]
                if todo:
                    current = _open_dir(top, todo.pop())
                    if current is None:
                        return False  # swapped for something else meanwhile
                if not todo:
                    stack.pop()
                    os.close(top)
        return not stack and current is None
    finally:
        if current is not None:
            os.close(current)
        for top, _ in stack:
            os.close(top)


# --- auditing places --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Setup:
    """What a worker process needs to audit places: picklable."""

    root: Path
    schemas: Path | None
    """Where the worker loads its registry from (None: the bundled families)."""
    deep: bool
    """Read every object and check its checksums."""
    require: tuple[str, ...]
    """The readers every backup must be restorable by."""
    containers: Mapping[str, str]
    with_rows: bool
    max_object_bytes: int
    url: str | None = None
    """An object store's root (``swift://C``, ``s3://B``); None for the directory ``root``."""
    cinder_config: Path | None = None
    max_listed: int | None = None
    """The most names one listing of the store may hold (None: the store's cap)."""
    page: int = DEFAULT_PAGE
    """Names asked for per listing page."""

    def inspector(self, registry: Registry | None = None) -> Inspector:
        if registry is None:
            registry = load_registry()
            if self.schemas is not None:
                registry = registry.with_schemas(self.schemas)
        if self.url is not None:
            return ObjectInspector(
                self.url,
                registry,
                cinder_config=self.cinder_config,
                deep=self.deep,
                require=self.require,
                with_rows=self.with_rows,
                max_object_bytes=self.max_object_bytes,
                max_listed=self.max_listed,
                page=self.page,
            )
        return Inspector(
            self.root,
            registry,
            deep=self.deep,
            require=self.require,
            containers=self.containers,
            with_rows=self.with_rows,
            max_object_bytes=self.max_object_bytes,
        )


_Task = tuple[tuple[_Entry, BackupRow | None], ...]


def _audit_task(inspector: Inspector, task: _Task) -> list[Verdict]:
    out = []
    for entry, row in task:
        if entry.backup_id is None:
            out.append(orphan(entry.path, entry.problem))
            continue
        verdict = inspector.verdict(entry.backup_id, entry.path, row, entry.names)
        if verdict is not None:
            out.append(verdict)
    return out


_WORKER: Inspector | None = None


def _init_worker(setup: _Setup) -> None:
    global _WORKER
    _WORKER = setup.inspector()


def _work(task: _Task) -> list[Verdict]:
    assert _WORKER is not None, "worker not initialised"
    return _audit_task(_WORKER, task)


class AuditRun(Iterator[Verdict]):
    """The verdicts of :func:`audit`, as they are made. ``header`` says which share of which
    audit this is (what a shard file opens with). Once the last verdict is read, ``backups``
    counts the backup directories the walk found under the root and ``rows`` the database
    rows of the audited services (None without rows), in every shard: what an empty shard's
    report says it had to choose from; ``end`` is what a shard file ends with."""

    def __init__(self, header: ShardHeader) -> None:
        self.header = header
        self.backups = 0
        self.rows: int | None = None
        self.records = 0
        self._verdicts: Iterator[Verdict] = iter(())

    def __next__(self) -> Verdict:
        verdict = next(self._verdicts)
        self.records += 1
        return verdict

    @property
    def end(self) -> ShardEnd:
        return ShardEnd(self.records)

    def jsonl(self) -> Iterator[bytes]:
        """The run as a shard file (what ``--format jsonl`` writes and
        :func:`~docket.fleet.merge.merge_shards` reads): the header, a line per verdict, the
        end line."""
        yield orjson.dumps(self.header.to_json()) + b"\n"
        for verdict in self:
            yield orjson.dumps(json_safe(verdict.to_json())) + b"\n"
        yield orjson.dumps(self.end.to_json()) + b"\n"


def database_identity(url: str) -> str:
    """A database URL as a shard file records it: without its password (in the userinfo or
    the query, ``?password=``)."""
    import sqlalchemy as sa

    from docket.store.engines import at_in_host, hide_query_secrets, redact

    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return redact(url)  # what looks like a password hidden
    if at_in_host(parsed):  # a password with an unencoded '@': what redact() hides of it
        return redact(url)
    # URL.set(password=None) leaves the password as it is (None means "unchanged").
    bare = sa.engine.URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return hide_query_secrets(bare.render_as_string(hide_password=False))


def audit(
    root: str | os.PathLike[str],
    *,
    rows: Iterable[BackupRow] | None = None,
    registry: Registry | None = None,
    schemas: str | os.PathLike[str] | None = None,
    deep: bool = False,
    require: Sequence[str] = (),
    jobs: int = 1,
    shard: tuple[int, int] | None = None,
    progress: Progress | None = None,
    services: Sequence[str | None] | None = None,
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
    database: str | None = None,
    cinder_config: str | os.PathLike[str] | None = None,
    max_listed: int | None = None,
    page: int = DEFAULT_PAGE,
) -> AuditRun:
    """One :class:`Verdict` per backup (and per orphan) under ``root``, as they are made
    (an :class:`AuditRun`, which counts what was found in every shard).

    ``rows`` are the database's backups (:func:`backup_rows`); with them, a row without files
    and files without a row are findings. ``require`` names readers that must be able to
    restore every backup (an ``unrestorable`` finding otherwise); an unknown name is a
    :class:`ValueError`. ``jobs`` worker processes (0: one per CPU) audit; they build the
    bundled registry, plus ``schemas``, themselves (``registry`` serves ``jobs=1`` only).
    ``shard=(I, N)`` keeps the backups whose id hashes to share I of N. ``database`` names
    the database ``rows`` come from (:func:`database_identity`) in the run's ``header``.

    ``root`` may be ``swift://CONTAINER`` or ``s3://BUCKET`` (credentials from the
    environment or ``cinder_config``, as ``docket volume`` takes them): the container's
    listing is read ``page`` names at a time, refused past ``max_listed`` names
    (:class:`~docket.backup.errors.ListingTooLong`), and the rows audited are those of the
    store's services (Cinder's driver and docket's) in that container. ``services`` are the
    rows' services audited (default: the POSIX drivers', and rows with none, for a directory).
    """
    url = os.fspath(root) if is_object_root(root) else None
    base = Path(".") if url is not None else Path(root)
    if url is None and not base.is_dir():
        raise DriverOptionError(f"{base} is not a directory", hint="give the backup root")
    count = workers(jobs)
    check_shard(shard)
    if registry is not None and count > 1:
        raise UsageError(
            "registry", "a registry cannot be sent to worker processes: pass schemas=, or jobs=1"
        )

    def mine(key: str) -> bool:
        return shard is None or shard_of(key, shard[1]) == shard[0]

    index, total = shard or (1, 1)
    objects = None if url is None else open_object_root(url, cinder_config)
    where = str(base.resolve()) if objects is None else objects.url
    run = AuditRun(ShardHeader(index, total, where, database))
    by_id: dict[str, BackupRow] = {}
    containers: dict[str, str] = {}
    if rows is not None:
        if services is None:
            services = (None, *POSIX_SERVICES) if objects is None else objects.service_names
        wanted = set(services)
        run.rows = 0
        for row in rows:
            if row.service not in wanted or (
                objects is not None and not _in(row, objects.container)
            ):
                continue
            run.rows += 1
            if objects is None and _elsewhere(row):
                containers[row.id] = str(row.container).strip("/")
            if mine(row.id):
                by_id[row.id] = row
    setup = _Setup(
        base,
        Path(schemas) if schemas is not None else None,
        deep,
        tuple(require),
        containers,
        rows is not None,
        max_object_bytes,
        url,
        Path(cinder_config) if cinder_config is not None else None,
        max_listed,
        page,
    )
    inspector = setup.inspector(registry) if count == 1 else setup.inspector()
    unknown = sorted(set(require) - set(inspector.reader_names))
    if unknown:
        raise UsageError(
            "require",
            f"unknown reader {show(unknown[0])}; known: " + ", ".join(inspector.reader_names),
        )
    run._verdicts = _run(base, setup, inspector, by_id, mine, count, progress, run)
    return run


def _in(row: BackupRow, container: str) -> bool:
    """Whether a row's backup is in an object store's ``container`` (Cinder's default when
    the row names none)."""
    return row.container == container or (not row.container and container == DEFAULT_CONTAINER)


def _elsewhere(row: BackupRow) -> bool:
    """Whether a row names a directory inside the root other than the layout's."""
    container = row.container
    if not container or not safe_id(row.id) or container == backup_dir_for(row.id):
        return False
    parts = container.strip("/").split("/")
    return not container.startswith("/") and ".." not in parts and "" not in parts


def _run(
    base: Path,
    setup: _Setup,
    inspector: Inspector,
    by_id: dict[str, BackupRow],
    mine: Callable[[str], bool],
    count: int,
    progress: Progress | None,
    run: AuditRun,
) -> Iterator[Verdict]:
    def places() -> Iterator[Place]:
        if isinstance(inspector, ObjectInspector):
            return walk_objects(inspector)
        return walk(base, setup.containers)

    total = sum(1 for e in places() if mine(e.key)) if progress else 0

    def tasks() -> Iterator[_Task]:
        batch: list[tuple[_Entry, BackupRow | None]] = []
        for entry in places():
            if entry.backup_id is not None:
                run.backups += 1
            if not mine(entry.key):
                continue
            row = by_id.get(entry.backup_id) if entry.backup_id else None
            if row is not None and setup.url and row.service_metadata not in ("", None, entry.path):
                row = None  # the row's backup is another of this id (its prefix is elsewhere)
            if row is not None:
                del by_id[row.id]
            batch.append((entry, row))
            if len(batch) >= _PER_TASK:
                yield tuple(batch)
                batch = []
        if batch:
            yield tuple(batch)

    done = 0
    if progress is not None:
        progress(done, total)
    finished: Iterable[list[Verdict]]
    if count == 1:
        finished = (_audit_task(inspector, task) for task in tasks())
    else:
        finished = (v for _, v in in_order(tasks(), count, _work, _init_worker, (setup,)))
    for verdicts in finished:
        yield from verdicts
        done += len(verdicts)
        if progress is not None:
            progress(min(done, total), total)
    # Rows whose directory the walk never reached: no files at all.
    for backup_id in sorted(by_id):
        row = by_id[backup_id]
        if setup.url is not None:
            path = row.service_metadata or None
        else:
            path = setup.containers.get(backup_id) or (
                backup_dir_for(backup_id) if safe_id(backup_id) else None
            )
        yield inspector.no_files(row, path)


# --- adding verdicts up -----------------------------------------------------------------------

_EXAMPLES = 5


def _month(created_at: str | None) -> str:
    return created_at[:7] if created_at else "unknown"


class Summary:
    """Counts over verdicts, in any order: one run, or the shards of one (``merge``)."""

    def __init__(self) -> None:
        self.records = 0
        self.backups = 0
        self.with_findings = 0
        self.restorable = 0
        self.integrity: collections.Counter[str] = collections.Counter()
        self.readers: collections.Counter[str] = collections.Counter()
        self.findings: collections.Counter[str] = collections.Counter()
        self.examples: dict[str, list[str]] = {}
        self.formats: dict[str, dict[str, dict[str, Any]]] = {}
        self.ages: dict[str, collections.Counter[str]] = {}
        self.deep = False

    def add(self, verdict: Verdict) -> None:
        self.records += 1
        self.deep = self.deep or verdict.deep
        key = verdict.backup_id or verdict.path or ""
        if verdict.findings:
            self.with_findings += 1
        for kind in sorted({f.kind for f in verdict.findings}):
            self.findings[kind] += 1
            examples = self.examples.setdefault(kind, [])
            if key not in examples:
                examples.append(key)
                examples.sort()
                del examples[_EXAMPLES:]
        if verdict.backup_id is None or verdict.integrity is None:
            return
        self.backups += 1
        self.integrity[verdict.integrity] += 1
        if verdict.readers:
            self.restorable += 1
        for reader in verdict.readers:
            self.readers[reader] += 1
        month: collections.Counter[str] = collections.Counter()
        for family, version in verdict.formats.items():
            label = "unknown" if version is None else str(version)
            month[f"{family} {label}"] += 1
            cell = self.formats.setdefault(family, {}).setdefault(
                label, {"count": 0, "oldest": None, "newest": None}
            )
            cell["count"] += 1
            if verdict.created_at is not None:
                stamp = (verdict.created_at, verdict.backup_id)
                if cell["oldest"] is None or stamp < tuple(cell["oldest"]):
                    cell["oldest"] = list(stamp)
                if cell["newest"] is None or stamp > tuple(cell["newest"]):
                    cell["newest"] = list(stamp)
        if month:  # a backup with no object adds no (empty) bucket to ``ages``
            self.ages.setdefault(_month(verdict.created_at), collections.Counter()).update(month)

    @property
    def failed(self) -> bool:
        return self.with_findings > 0

    def to_json(self) -> dict[str, Any]:
        """The summary as ``docket audit --format json`` prints it (keys in a fixed order)."""

        def moment(stamp: list[str] | None) -> dict[str, str] | None:
            return None if stamp is None else {"created_at": stamp[0], "backup_id": stamp[1]}

        return {
            "records": self.records,
            "backups": self.backups,
            "with_findings": self.with_findings,
            "restorable": self.restorable,
            "deep": self.deep,
            "integrity": dict(sorted(self.integrity.items())),
            "readers": dict(sorted(self.readers.items())),
            "findings": dict(sorted(self.findings.items())),
            "examples": {k: list(v) for k, v in sorted(self.examples.items())},
            "formats": {
                family: {
                    version: {
                        "count": cell["count"],
                        "oldest": moment(cell["oldest"]),
                        "newest": moment(cell["newest"]),
                    }
                    for version, cell in sorted(versions.items())
                }
                for family, versions in sorted(self.formats.items())
            },
            "ages": {m: dict(sorted(c.items())) for m, c in sorted(self.ages.items())},
        }


__all__ = [
    "FINDINGS",
    "MAX_PER_KIND",
    "POSIX_SERVICES",
    "AuditRun",
    "BackupRow",
    "Finding",
    "Summary",
    "Verdict",
    "audit",
    "backup_rows",
    "database_identity",
    "is_object_root",
    "shard_of",
    "walk",
]
