"""The audit's per-backup checks: one backup directory in, one :class:`Verdict` out.

:class:`Inspector` reads a backup directory the way a restore would (the metadata object, the
``volume_meta`` container inside it, the stored object list) and, for the backup being
audited, also the SHA-256 object, every object's checksum (``deep``), the parent chain and the
database row. Everything it reads is untrusted: a file it cannot read safely, a bad document
or a broken chain is a :class:`Finding`, never an exception. Parents are looked up directly at
their place under the root, through a bounded cache, so a verdict depends only on what is
stored and never on which other backups were audited before it (shards agree with one run).
"""

from __future__ import annotations

import collections
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from docket.backup._layout import (
    METADATA_SUFFIX,
    SHA256_SUFFIX,
    BackupRoot,
    Backups,
    LoadedBackup,
    StoredBackup,
    _entries,
    backup_dir_for,
    check_id,
)
from docket.backup._verify import OVERLAP, _Checked, _Verifier, overlapping
from docket.backup.posix import PosixStore
from docket.core.codec import Limits
from docket.core.errors import DocketError, UnsafeFile, show
from docket.core.family import Family
from docket.core.registry import Registry
from docket.core.versions import Version
from docket.fleet._verdicts import BackupRow as BackupRow
from docket.fleet._verdicts import Finding as Finding
from docket.fleet._verdicts import Verdict as Verdict
from docket.fs import TEMP_PREFIX, Entry, open_beneath, read_bounded, scan_dir

METADATA_FAMILY = "chunked-backup"
SHA256_FAMILY = "chunked-sha256"
CONTAINER_FAMILY = "backup-metadata"
RESTORE_FAMILIES = (METADATA_FAMILY, CONTAINER_FAMILY)
"""What a restore reads: the metadata object and the container inside it (not the SHA-256
object, which incremental backups and verify read)."""

FINDINGS: dict[str, tuple[bool, str]] = {
    "partial": (True, "the metadata object is missing: the backup did not finish"),
    "unreadable": (
        True,
        "a file or directory cannot be read safely (link, not a regular file, "
        "too large, no permission)",
    ),
    "metadata": (
        True,
        "the metadata object does not parse, has an unknown version, fails its "
        "schema or names another backup",
    ),
    "container": (True, "volume_meta is not a valid backup-metadata container"),
    "sha256": (
        False,
        "the SHA-256 object is missing or invalid, or disagrees with the metadata "
        "object or the data",
    ),
    "missing": (True, "an object in the metadata's list is not stored"),
    "unexpected": (True, "a stored object is not in the metadata's list"),
    "truncated": (True, "an object holds fewer bytes than its length (--deep)"),
    "altered": (True, "an object's bytes do not match its MD5 or do not decompress (--deep)"),
    "missing-parent": (True, "the parent backup is not under the root"),
    "parent-loop": (True, "the parent chain loops"),
    "foreign-parent": (True, "the parent backup is of another volume"),
    "broken-parent": (True, "a backup the chain builds on cannot be restored"),
    "orphan": (False, "files under the root that belong to no backup"),
    "no-files": (True, "a database row whose backup has no files"),
    "no-row": (False, "a backup with files but no database row"),
    "row-mismatch": (False, "the database row and the metadata object disagree"),
    "unrestorable": (False, "a reader given with --require cannot restore the backup"),
}
"""Every finding kind: whether it stops a restore, and what it means."""

INTEGRITY_KINDS = frozenset(
    {
        "partial",
        "unreadable",
        "metadata",
        "container",
        "sha256",
        "missing",
        "unexpected",
        "truncated",
        "altered",
    }
)
DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024
"""The largest metadata or SHA-256 object read (a SHA-256 object holds ~2.3 MiB per GiB)."""
_CACHE = 50_000


def blocking(kind: str) -> bool:
    return FINDINGS[kind][0]


class Unreadable(Exception):
    """A file that cannot be read safely (the message says why)."""


Read = Callable[..., bytes]
"""``read(name, what=...)``: a whole object of a backup, at most the inspector's limit of
bytes; :class:`Unreadable` when it cannot be read safely."""


def read_object(name: str, *, dir_fd: int, limit: int, what: str) -> bytes:
    """A whole regular file of at most ``limit`` bytes in the directory ``dir_fd``, never
    following a link or blocking on a FIFO or device; :class:`Unreadable` otherwise."""
    try:
        return read_bounded(name, limit, what=what, dir_fd=dir_fd)
    except UnsafeFile as err:
        raise Unreadable(f"{name} is {err.found}") from None
    except FileNotFoundError:
        raise Unreadable(f"{name} is missing") from None
    except OSError as err:
        raise Unreadable(f"{name} cannot be read: {err.strerror or err}") from None


def iso_time(text: Any) -> str | None:
    """A metadata object's ``created_at`` (Python's ``str()`` of a datetime) as ISO 8601 UTC."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Cinder's times are UTC
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _peek_version(raw: bytes | str) -> Version | None:
    """The ``version`` member of a JSON object as written, for the report: a quick look that
    decides nothing (the family's strict load does)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(obj, dict):
        v = obj.get("version")
        if isinstance(v, int | str) and not isinstance(v, bool):
            return v
    return None


@dataclass(frozen=True)
class _Node:
    """A backup as a restore of it (or of a child) sees it; kept in the parent cache."""

    found: bool
    """Whether the directory holds files of this backup."""
    volume_id: str | None = None
    parent_id: str | None = None
    created_at: str | None = None
    formats: Mapping[str, Version | None] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    readers: frozenset[str] = frozenset()

    @property
    def restorable(self) -> bool:
        return not any(blocking(f.kind) for f in self.findings)


@dataclass(frozen=True)
class _Look:
    """What :meth:`Inspector.inspect` read of one backup directory."""

    node: _Node
    loaded: LoadedBackup | None = None
    sha256: tuple[Finding, ...] = ()
    shas: tuple[list[str], int] | None = None
    stray: tuple[str, ...] = ()
    """Files in the directory that belong to no backup (when nothing of the backup is)."""


@dataclass(frozen=True)
class _Break:
    """The first link of a parent chain that stops a restore: ``child_id`` → ``parent_id``."""

    kind: str
    child_id: str
    parent_id: str
    message: str = ""

    def finding(self, backup_id: str) -> Finding:
        """The finding as the audit of ``backup_id`` (at the chain's foot) words it."""
        if self.kind == "parent-loop":
            return Finding(self.kind, f"the parent chain loops back to {self.parent_id}")
        if self.kind == "missing-parent":
            where = "" if self.child_id == backup_id else f" (the parent of {self.child_id})"
            message = f"parent backup {self.parent_id}{where} is not under the root"
            return Finding(self.kind, message)
        return Finding(self.kind, self.message)


@dataclass(frozen=True)
class _Up:
    """A backup's parent chain: its first break, else who can read every backup of it."""

    broken: _Break | None
    readers: frozenset[str]


def _unreadable(message: str, obj: str | None = None) -> _Look:
    return _Look(_Node(True, findings=(Finding("unreadable", message, obj),)))


class Inspector:
    """Checks backups under ``root``; one per process, reused for every backup it is given."""

    def __init__(
        self,
        root: Path,
        registry: Registry,
        *,
        deep: bool = False,
        require: tuple[str, ...] = (),
        containers: Mapping[str, str] | None = None,
        with_rows: bool = False,
        max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
    ) -> None:
        self.root = root
        self.deep = deep
        self.require = require
        self.containers = dict(containers or {})
        self.with_rows = with_rows
        self.limit = max_object_bytes
        limits = Limits(
            max_bytes=max_object_bytes,
            max_depth=32,
            max_string_length=max_object_bytes,
            max_keys=1_000_000,
        )
        self.families: dict[str, Family] = {
            name: registry.family(name).with_limits(limits).with_signing_key(None)
            for name in (METADATA_FAMILY, SHA256_FAMILY, CONTAINER_FAMILY)
        }
        self.reader_names = sorted({r for f in self.families.values() for r in f.readers})
        # Deep checks read data objects through the store, as verify does.
        self._backups: Backups = self._open_backups()
        self._cache: collections.OrderedDict[str, _Node] = collections.OrderedDict()
        self._ups: collections.OrderedDict[str, _Up] = collections.OrderedDict()

    def _open_backups(self) -> Backups:
        return BackupRoot(self.root, PosixStore(self.root), self.families.__getitem__)

    def place_of(self, backup_id: str, volume: str | None = None) -> str | None:
        """Where a backup's objects are, relative to the root: its row's ``container``, else
        Cinder's layout (``volume``, of the backup that names it as a parent, is for stores
        that look for it by volume)."""
        return self.containers.get(backup_id) or backup_dir_for(backup_id)

    # --- readers ----------------------------------------------------------------------------

    def readers_of(self, formats: Mapping[str, Version | None]) -> frozenset[str]:
        """The readers that read every object a restore reads, at the versions found."""
        out = set(self.reader_names)
        for name in RESTORE_FAMILIES:
            if name not in formats:
                continue
            declared = self.families[name].readers
            if not declared:
                continue  # a family that names no readers limits none
            version = formats[name]
            out = {r for r in out if _accepts(declared.get(r, ()), version)}
        return frozenset(out)

    # --- one backup, as a restore sees it ---------------------------------------------------

    def node(self, backup_id: str, volume: str | None = None) -> _Node:
        """A backup looked up as a parent (of a backup of ``volume``), cached."""
        key = self._key(backup_id, volume)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        try:
            place = self.place_of(check_id(backup_id), volume)
        except DocketError:
            place = None
        node = _Node(False) if place is None else self.inspect(backup_id, place).node
        self._remember(key, node)
        return node

    def _key(self, backup_id: str, volume: str | None) -> str:
        """What a parent looked up is cached under (its place may depend on the volume)."""
        return backup_id

    def _remember(self, key: str, node: _Node) -> None:
        self._cache[key] = node
        if len(self._cache) > _CACHE:
            self._cache.popitem(last=False)

    def inspect(
        self,
        backup_id: str,
        place: str,
        prefix: str | None = None,
        *,
        full: bool = False,
        names: tuple[str, ...] | None = None,
    ) -> _Look:
        """What a restore would find of the backup at ``place`` (relative to the root); with
        ``full``, its SHA-256 object too. The directory is reached without following links."""
        try:
            with open_beneath(
                self.root, place, what="backup directory", backup_id=backup_id
            ) as dir_fd:
                listing = {e.name: e for e in scan_dir(dir_fd)}
                read = functools.partial(read_object, dir_fd=dir_fd, limit=self.limit)
                return self._look(backup_id, read, place, prefix, listing, full)
        except FileNotFoundError:
            return _Look(_Node(False))
        except UnsafeFile as err:
            return _unreadable(f"the backup directory is {err.found}")
        except OSError as err:
            return _unreadable(f"the backup directory cannot be read: {err.strerror or err}")

    def _look(
        self,
        backup_id: str,
        read: Read,
        place: str,
        prefix: str | None,
        listing: Mapping[str, Entry],
        full: bool,
    ) -> _Look:
        mark = f"_backup_{backup_id}"
        own = [n for n in listing if mark in n and n.startswith(("volume_", TEMP_PREFIX))]
        if not own:
            return _Look(_Node(False), stray=tuple(sorted(listing)))
        if prefix is None:
            tail = mark + METADATA_SUFFIX
            metas = sorted(n for n in listing if n.startswith("volume_") and n.endswith(tail))
            if len(metas) > 1:
                message = "the backup directory holds several metadata objects: "
                return _Look(_Node(True, findings=(Finding("metadata", message + _names(metas)),)))
            if metas:
                prefix = metas[0][: -len(METADATA_SUFFIX)]
        if prefix is None or prefix + METADATA_SUFFIX not in listing:
            partial = Finding("partial", "no metadata object: the backup did not finish")
            volume = self._partial_volume(backup_id, place, listing)
            return _Look(_Node(True, volume_id=volume, findings=(partial,)))
        stored = StoredBackup(backup_id, self._container_of(place), prefix, True, self._backups)
        look = self._metadata(backup_id, read, stored, listing)
        if full and look.loaded is not None:
            formats = dict(look.node.formats)
            sha256, shas = self._sha256(look.loaded, read, formats)
            node = replace(look.node, formats=formats)
            return replace(look, node=node, sha256=tuple(sha256), shas=shas)
        return look

    def _container_of(self, place: str) -> str:
        """The container a backup at ``place`` is in, as the store names it."""
        return place

    def _partial_volume(self, backup_id: str, place: str, listing: Mapping[str, Any]) -> str | None:
        """The volume of a backup without a metadata object, from its objects' names."""
        pattern = re.compile(
            rf"^volume_(.+)_[0-9]{{14}}_backup_{re.escape(backup_id)}(-[0-9]+|{SHA256_SUFFIX})$"
        )
        volumes = sorted({m.group(1) for n in listing if (m := pattern.match(n))})
        return volumes[0] if len(volumes) == 1 else None

    def _metadata(
        self, backup_id: str, read: Read, stored: StoredBackup, listing: Mapping[str, Entry]
    ) -> _Look:
        name = stored.metadata_name
        formats: dict[str, Version | None] = {}
        try:
            raw = read(name, what="metadata object")
            formats[METADATA_FAMILY] = _peek_version(raw)
            metadata = self._backups.decode(METADATA_FAMILY, raw)
            if metadata["backup_id"] != backup_id:
                raise _Bad(f"the metadata object belongs to backup {show(metadata['backup_id'])}")
            entries = _entries(metadata, backup_id, self._backups.object_name_ok)
            loaded = LoadedBackup(stored, metadata, entries)
        except Unreadable as err:
            return _unreadable(str(err), name)
        except (DocketError, _Bad) as err:
            bad = Finding("metadata", str(err), name)
            return _Look(_Node(True, formats=formats, findings=(bad,)))
        findings: list[Finding] = []
        meta = metadata.get("volume_meta")
        if isinstance(meta, str):
            findings += self._container(meta, formats, name)
        findings += _listing(loaded, listing)
        parent = metadata.get("parent_id")
        node = _Node(
            True,
            volume_id=metadata["volume_id"],
            parent_id=parent if isinstance(parent, str) else None,
            created_at=iso_time(metadata.get("created_at")),
            formats=formats,
            findings=tuple(findings),
        )
        readers = self.readers_of(formats) if node.restorable else frozenset()
        return _Look(replace(node, readers=readers), loaded)

    def _container(self, text: str, formats: dict[str, Version | None], name: str) -> list[Finding]:
        family = self.families[CONTAINER_FAMILY]
        formats[CONTAINER_FAMILY] = _peek_version(text)
        issues = family.validate(text)
        if not issues:
            return []
        if issues[0].keyword == "parse":
            return [Finding("container", f"volume_meta does not parse: {issues[0].message}", name)]
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        return [
            Finding("container", f"volume_meta: {first.json_path}: {first.message}{more}", name)
        ]

    def _sha256(
        self, loaded: LoadedBackup, read: Read, formats: dict[str, Version | None]
    ) -> tuple[list[Finding], tuple[list[str], int] | None]:
        name = loaded.stored.sha256_name
        try:
            raw = read(name, what="SHA-256 object")
            formats[SHA256_FAMILY] = _peek_version(raw)
            sha = self._backups.decode(SHA256_FAMILY, raw)
        except (Unreadable, DocketError) as err:
            return [Finding("sha256", str(err), name)], None
        meta = loaded.metadata
        differ = [
            k
            for k in ("backup_id", "volume_id", "backup_name", "backup_description", "created_at")
            if sha.get(k) != meta.get(k)
        ]
        if differ:
            message = "the SHA-256 object and the metadata object disagree on "
            return [Finding("sha256", message + ", ".join(differ), name)], None
        shas: list[str] = sha["sha256s"]
        size: int = sha["chunk_size"]
        blocks = -(-loaded.end() // size)
        short = len(shas) < blocks
        if short or (loaded.parent_id is None and len(shas) != blocks):
            message = f"the SHA-256 object lists {len(shas)} blocks; the objects hold {blocks}"
            return [Finding("sha256", message, name)], (shas, size)
        return [], (shas, size)

    # --- the backup being audited -----------------------------------------------------------

    def verdict(
        self,
        backup_id: str,
        place: str,
        row: BackupRow | None,
        names: tuple[str, ...] | None = None,
    ) -> Verdict | None:
        """The verdict on the backup at ``place`` (whose objects are ``names``, when the walk
        listed them); None when nothing is there."""
        prefix = None
        if row is not None and _plain_prefix(row.service_metadata):
            prefix = row.service_metadata
        look = self.inspect(backup_id, place, prefix, full=True, names=names)
        node = look.node
        if not node.found:
            if row is not None:
                return self.no_files(row, place, look.stray)
            if look.stray:
                message = f"a backup directory holding no object of backup {backup_id}: "
                return orphan(place, message + _names(look.stray))
            return None
        self._remember(self._key(backup_id, node.volume_id), node)
        findings = [*node.findings, *look.sha256]
        if self.deep and node.restorable and look.loaded is not None:
            findings += self._deep(look.loaded, look.shas)
        elif look.loaded is not None and (overlap := overlapping(look.loaded)) is not None:
            # Restore refuses it (--deep's verify finds it among the objects' checks); found
            # here, not among the node's, so --deep still reads the objects.
            findings.append(Finding("metadata", OVERLAP, overlap))
        chain, readers = self._chain(backup_id, node)
        findings += chain
        if any(blocking(f.kind) for f in findings):
            readers = frozenset()
        if row is not None:
            findings += _row_findings(row, node)
        elif self.with_rows:
            findings.append(Finding("no-row", "the backup has files but no row in the database"))
        findings += self._required(readers, node.formats, findings)
        damaged = any(f.kind in INTEGRITY_KINDS for f in findings)
        return Verdict(
            backup_id=backup_id,
            path=place,
            volume_id=node.volume_id,
            parent_id=node.parent_id,
            created_at=node.created_at,
            formats=node.formats,
            integrity="damaged" if damaged else "ok",
            deep=self.deep,
            readers=tuple(sorted(readers)),
            findings=_unique(findings),
            row=None if row is None else row.status,
        )

    def no_files(self, row: BackupRow, place: str | None, stray: tuple[str, ...] = ()) -> Verdict:
        """A database row whose backup has no files under the root."""
        # No place: the row's id is not one path-safe name, so no directory can be its.
        where = f" (looked in {place})" if place else " (its id is not one path-safe name)"
        findings = [
            Finding("no-files", f"the database row ({row.status}) has no backup files{where}")
        ]
        if stray:
            findings.append(Finding("orphan", "files that belong to no backup: " + _names(stray)))
        findings += self._required(frozenset(), {}, findings)
        return Verdict(
            backup_id=row.id,
            path=place,
            volume_id=row.volume_id,
            parent_id=row.parent_id,
            deep=self.deep,
            findings=tuple(findings),
            row=row.status,
        )

    def _deep(self, loaded: LoadedBackup, shas: tuple[list[str], int] | None) -> list[Finding]:
        """Every object's length and MD5 and every block's SHA-256, as ``verify`` checks them."""
        total = sum(e["length"] for _, e in loaded.objects)
        checked = _Checked(loaded) if shas is None else _Checked(loaded, shas[0], shas[1])
        parent = self._parent_shas(loaded) if shas is not None else None
        check = _Verifier(total, None)
        check.backup(checked, parent)
        return [Finding(p.kind, p.message, p.object) for p in check.problems]

    def _parent_shas(self, loaded: LoadedBackup) -> _Checked | None:
        """The parent with its SHA-256 list, for the check of blocks an incremental skipped."""
        parent_id = loaded.parent_id
        volume = loaded.metadata.get("volume_id")
        if parent_id is None or not self.node(parent_id, volume).restorable:
            return None
        place = self.place_of(parent_id, volume)
        look = self.inspect(parent_id, place, full=True) if place is not None else None
        if look is None or look.loaded is None or look.shas is None:
            return None
        return _Checked(look.loaded, look.shas[0], look.shas[1])

    def _chain(self, backup_id: str, node: _Node) -> tuple[list[Finding], frozenset[str]]:
        """The first problem of the parent chain, and who can read every backup of it."""
        up = self._up(backup_id, node)
        if up.broken is None:
            return [], up.readers
        return [up.broken.finding(backup_id)], frozenset()

    def _up(self, backup_id: str, node: _Node) -> _Up:
        """The chain above ``backup_id``, worked out once per backup and remembered (bounded,
        as the parent cache): a chain of N backups costs N steps in all, not N², whatever
        the order the backups are audited in, and gives the same verdicts in any order."""
        known = self._ups.get(backup_id)
        if known is not None:
            return known
        # Follow the parent ids (past failing links too) until a backup whose chain is
        # known, the chain's end, or a backup seen before on this walk (a loop).
        path: list[tuple[str, _Node]] = []
        at: dict[str, int] = {}
        here_id, here = backup_id, node
        below = _Up(None, frozenset())
        end = None
        while True:
            at[here_id] = len(path)
            path.append((here_id, here))
            parent_id = here.parent_id
            if parent_id is None:
                break
            if parent_id in at:
                end = at[parent_id]
                break
            if parent_id in self._ups:
                below = self._ups[parent_id]
                break
            parent = self.node(parent_id, here.volume_id)
            if not parent.found:
                break
            here_id, here = parent_id, parent
        ups = [below] * len(path)
        if end is not None:
            ups[end:] = self._loop(path[end:])
            below = ups[end]
        for i in reversed(range(len(path) if end is None else end)):
            child_id, child = path[i]
            if child.parent_id is None:
                below = _Up(None, child.readers)
            else:
                broken = self._link(child_id, child, child.parent_id)
                if broken is not None:
                    below = _Up(broken, frozenset())
                else:
                    below = _Up(below.broken, below.readers & child.readers)
            ups[i] = below
        for (some_id, _), up in zip(path, ups, strict=True):
            self._ups[some_id] = up
        while len(self._ups) > _CACHE:
            self._ups.popitem(last=False)
        return ups[0]

    def _loop(self, cycle: list[tuple[str, _Node]]) -> list[_Up]:
        """The chains of the backups of one loop: from each, the first failing link on the
        way round (the link back into it is not followed), else the loop itself."""
        size = len(cycle)
        links = [self._link(*cycle[i], cycle[(i + 1) % size][0]) for i in range(size)]
        failing: list[int | None] = [None] * size
        nearest = None
        for k in reversed(range(2 * size)):  # twice round: the nearest failing link ahead
            if links[k % size] is not None:
                nearest = k % size
            if k < size:
                failing[k] = nearest
        out = []
        for i, (some_id, _) in enumerate(cycle):
            j = failing[i]
            broken = links[j] if j is not None and (j - i) % size <= size - 2 else None
            out.append(_Up(broken or _Break("parent-loop", some_id, some_id), frozenset()))
        return out

    def _link(self, child_id: str, child: _Node, parent_id: str) -> _Break | None:
        """What stops a restore of ``child`` at its parent, if anything."""
        parent = self.node(parent_id, child.volume_id)
        if not parent.found:
            return _Break("missing-parent", child_id, parent_id)
        if None not in (parent.volume_id, child.volume_id) and (
            parent.volume_id != child.volume_id
        ):
            message = (
                f"parent backup {parent_id} is of volume {parent.volume_id}, "
                f"backup {child_id} of volume {child.volume_id}"
            )
            return _Break("foreign-parent", child_id, parent_id, message)
        if not parent.restorable:
            first = next(f for f in parent.findings if blocking(f.kind))
            message = (
                f"backup {parent_id}, which it builds on, cannot be restored "
                f"({first.kind}: {first.message})"
            )
            return _Break("broken-parent", child_id, parent_id, message)
        return None

    def _required(
        self,
        readers: frozenset[str],
        formats: Mapping[str, Version | None],
        findings: list[Finding],
    ) -> list[Finding]:
        out = []
        for reader in self.require:
            if reader in readers:
                continue
            why = next((f"{f.kind}: {f.message}" for f in findings if blocking(f.kind)), None)
            if why is None:
                unread = [
                    f"{name} {formats[name]}"
                    for name in RESTORE_FAMILIES
                    if name in formats and reader not in self.readers_of({name: formats[name]})
                ]
                why = (
                    "it does not read " + ", ".join(unread)
                    if unread
                    else "a backup the chain builds on uses a version it does not read"
                )
            out.append(Finding("unrestorable", f"{reader} cannot restore it ({why})"))
        return out


def _accepts(accepted: tuple[Version, ...], version: Version | None) -> bool:
    return version is not None and any(v == version and type(v) is type(version) for v in accepted)


class _Bad(Exception):
    pass


def orphan(path: str, message: str) -> Verdict:
    """Files under the root that belong to no backup."""
    return Verdict(backup_id=None, path=path, findings=(Finding("orphan", message),))


def _listing(loaded: LoadedBackup, listing: Mapping[str, Entry]) -> list[Finding]:
    stored = loaded.stored
    skip = {stored.metadata_name, stored.sha256_name}
    present = {n for n in listing if n.startswith(stored.prefix) and n not in skip}
    listed = [name for name, _ in loaded.objects]
    out = [
        Finding("missing", "listed in the metadata but not stored", n)
        for n in listed
        if n not in present
    ]
    out += [
        Finding("unexpected", "stored but not in the metadata's object list", n)
        for n in sorted(present - set(listed))
    ]
    out += [
        Finding("unreadable", f"{n} is {listing[n].kind}", n)
        for n in listed
        if n in present and not listing[n].regular
    ]
    return out


def _row_findings(row: BackupRow, node: _Node) -> list[Finding]:
    differ = []
    if node.volume_id is not None and row.volume_id != node.volume_id:
        differ.append(f"volume {row.volume_id} (row) / {node.volume_id} (files)")
    if node.volume_id is not None and row.parent_id != node.parent_id:
        differ.append(f"parent {row.parent_id} (row) / {node.parent_id} (files)")
    if not differ:
        return []
    return [
        Finding(
            "row-mismatch",
            "the database row and the metadata object disagree: " + "; ".join(differ),
        )
    ]


def _plain_prefix(prefix: str | None) -> bool:
    return bool(prefix) and "/" not in str(prefix) and not str(prefix).startswith(TEMP_PREFIX)


def _names(names: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


MAX_PER_KIND = 100
"""The most findings of one kind a verdict lists; the rest are counted in one more. A tenant
can store any number of objects in a backup directory, each ``unexpected``: listed whole, one
verdict's JSON line outgrew what ``audit merge`` reads (16 MiB) and the shard set could not be
merged."""


def _unique(findings: list[Finding]) -> tuple[Finding, ...]:
    """Findings in order, without a second one of a kind for the same object (the deep
    check finds the listing problems again), at most :data:`MAX_PER_KIND` of each kind and
    then one that counts the others."""
    seen: set[tuple[str, str | None]] = set()
    kept: collections.Counter[str] = collections.Counter()
    out = []
    for f in findings:
        key = (f.kind, f.object)
        if f.object is not None and key in seen:
            continue
        seen.add(key)
        kept[f.kind] += 1
        if kept[f.kind] <= MAX_PER_KIND:
            out.append(f)
    for kind, count in kept.items():
        if count > MAX_PER_KIND:
            out.append(Finding(kind, f"and {count - MAX_PER_KIND:,} more {kind} findings"))
    return tuple(out)
