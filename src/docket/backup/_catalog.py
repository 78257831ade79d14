"""Listing the backups under a root, and deleting one of them without trusting the storage.

Listing walks the default layout (``<id[0:2]>/<id[2:4]>/<id>``, real directories only), reads
each backup's metadata object once and works out the chain sizes in memory. Deleting

1. opens the backup's directory and its parent without following a link, and reads what the
   directory holds: only regular files named as this backup's objects may be there (a
   shared directory may also hold other backups' objects); anything else is refused with
   :class:`~docket.core.errors.UnsafeFile` before anything changes;
2. refuses (:class:`~docket.backup.errors.BackupInUse`) while another backup names it as its
   parent, unless forced;
3. renames the directory aside, in the same parent, to ``.deleting.<id>.<hex>`` (one atomic
   step), removes its files there (the metadata object first) and the directory, then each
   directory above it left empty, up to the root. A crash leaves the backup whole or that
   leftover, which listing reports (status ``deleting``) and the next delete of the id
   finishes. A directory shared with other backups cannot be renamed: there only this
   backup's files are removed, the metadata object first.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from docket import fs
from docket.backup._layout import (
    ANY_OBJECT,
    METADATA_SUFFIX,
    BackupRoot,
    LoadedBackup,
    _check_listing,
    backup_dir_for,
    check_prefix,
    gib,
    own_objects,
    record_time,
    remove_empty_dirs,
    safe_id,
    volume_of_prefix,
)
from docket.backup._model import Backup, BackupSummary, DeleteReport, OnSkip, SkippedPath
from docket.backup._walk import layout_dirs, legacy_dir
from docket.backup.errors import BackupInUse, BackupNotFound
from docket.core.errors import BackupError, DocketError, UnsafeFile

DELETING_PREFIX = ".deleting."
"""What a backup's directory is renamed to while it is deleted: ``.deleting.<id>.<hex>``."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LIST_HINT = "`docket volume list --root DIR` lists the backups there"


def check_root(root: Path) -> None:
    """A :class:`BackupError` unless ``root`` is a directory (links to one are fine: the
    operator chose the root)."""
    try:
        info = os.stat(root)
    except FileNotFoundError:
        raise BackupError(f"the backup root {root} does not exist", hint="check --root") from None
    if not stat.S_ISDIR(info.st_mode):
        raise BackupError(
            f"the backup root {root} is not a directory ({fs.kind_of(info.st_mode)})",
            hint="--root is the directory the backups are under",
        )


def _default_dir(backup_id: str) -> str:
    """:func:`backup_dir_for` as a path spells it: ``b1/b1`` for ``b1`` (Cinder's
    ``os.path.join`` drops the empty ``id[2:4]``)."""
    return PurePosixPath(backup_dir_for(backup_id)).as_posix()


def leftover_id(name: str) -> str | None:
    """The backup id in the name of what an interrupted delete left, else None."""
    if not name.startswith(DELETING_PREFIX):
        return None
    backup_id, _, token = name[len(DELETING_PREFIX) :].rpartition(".")
    if not safe_id(backup_id) or not token or any(c not in "0123456789abcdef" for c in token):
        return None
    return backup_id


# --- list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    summary: BackupSummary
    end: int = 0
    """Where its objects end in the volume (available backups)."""


def list_backups(
    backups: BackupRoot, volume_id: str | None = None, *, on_skip: OnSkip | None = None
) -> list[BackupSummary]:
    """Every backup under the root (of ``volume_id`` only, when given), sorted by volume,
    time and id. Nothing is written and no link is followed. See :class:`BackupSummary` for
    what each says.

    A symbolic link at a backup's own directory makes that backup ``invalid`` (its problem
    names the link, as verify and delete do); any other link in the layout (``ab``,
    ``ab/cd``, or a name in ``ab/cd`` that is no backup's) is told to ``on_skip``, with
    its path relative to the root: what it holds is not listed.
    """
    root = backups.root
    check_root(root)
    found: dict[str, Found] = {}
    leftovers: list[BackupSummary] = []

    def link(where: PurePosixPath) -> None:
        name = where.name
        if len(where.parts) == 3 and safe_id(name) and where.as_posix() == _default_dir(name):
            found[name] = _describe(backups, name, where)
        elif on_skip is not None:
            on_skip(SkippedPath(where.as_posix(), "a symbolic link (not followed)"))

    for where, fd in layout_dirs(root, link):
        name = where.name
        left = leftover_id(name)
        if left is not None and (len(where.parts) == 3 or legacy_dir(where.parent / left)):
            leftovers.append(_leftover(left, where, fd))
        elif (
            safe_id(name)
            and where.as_posix() == _default_dir(name)
            and (len(where.parts) == 3 or _own_files(fd, name))  # b1/b1 may be only a way
        ):
            found[name] = _describe(backups, name, where)
    out = with_chains(found.values(), found) + leftovers
    if volume_id is not None:
        out = [s for s in out if s.volume_id == volume_id]
    out.sort(key=lambda s: (s.volume_id or "", s.created_at or "", s.backup_id, s.status))
    return out


def _own_files(fd: int, backup_id: str) -> list[fs.Entry]:
    own = own_objects(backup_id)
    return [e for e in fs.scan_dir(fd) if e.regular and own.match(e.name)]


def _leftover(backup_id: str, where: PurePosixPath, fd: int) -> BackupSummary:
    files = _own_files(fd, backup_id)
    volumes = {volume_of_prefix(e.name.lstrip(".")) for e in files} - {None}
    return BackupSummary(
        backup_id=backup_id,
        status="deleting",
        container=where.as_posix(),
        volume_id=next(iter(volumes)) if len(volumes) == 1 else None,
        stored_bytes=sum(e.size for e in files),
        object_count=sum(1 for e in files if e.name.rpartition("-")[2].isdigit()),
        problem=f"an interrupted delete left it; `docket volume delete {backup_id}` finishes it",
    )


def _problem(err: BaseException, backup_id: str) -> str:
    if isinstance(err, DocketError):
        return err.describe().removeprefix(f"backup {backup_id}: ")
    if isinstance(err, OSError):
        return f"{err.strerror or err}" + (f": {err.filename}" if err.filename else "")
    return str(err)  # pragma: no cover - only the two kinds are caught


def _describe(backups: BackupRoot, backup_id: str, where: PurePosixPath) -> Found:
    base = BackupSummary(backup_id=backup_id, status="invalid", container=where.as_posix())
    try:
        stored = backups.find(backup_id)
        with backups.directory(stored.container, backup_id) as fd:
            files = _own_files(fd, backup_id)
        base = replace(
            base,
            volume_id=volume_of_prefix(stored.prefix),
            stored_bytes=sum(e.size for e in files),
            object_count=len(stored.entries()),
        )
        if not stored.complete:
            return Found(
                replace(
                    base,
                    status="partial",
                    problem=f"{stored.metadata_name} is missing: the backup did not finish",
                )
            )
        loaded = backups.load(backup_id)
        _check_listing(loaded)
    except (DocketError, OSError) as err:
        return Found(replace(base, problem=_problem(err, backup_id)))
    return Found(_available(base, loaded), loaded.end())


def _available(base: BackupSummary, loaded: LoadedBackup) -> BackupSummary:
    meta = loaded.metadata
    return replace(
        base,
        status="available",
        volume_id=meta["volume_id"],
        parent_id=loaded.parent_id,
        created_at=record_time(meta.get("created_at")),
        name=meta.get("backup_name"),
        object_count=len(loaded.objects),
        version=meta["version"],
    )


def with_chains(
    items: Iterable[Found], found: Mapping[str, Found], where: str = "under the root"
) -> list[BackupSummary]:
    """Each summary with its size over its parent chain, or ``invalid`` when the chain is
    broken (a parent missing, unreadable, of another volume, or a loop). ``where`` says
    where a missing parent was looked for.

    Each backup's chain is worked out once and remembered, so a chain of N backups costs N
    steps in all, not N² (a tenant who can write the storage can make a chain 65,000 long),
    and every backup gets the verdict walking its own chain step by step would give."""
    known: dict[str, tuple[int, str | None]] = {}  # id: (end over its chain, problem)
    return [_chain_summary(item, found, where, known) for item in items]


def _chain_summary(
    item: Found, found: Mapping[str, Found], where: str, known: dict[str, tuple[int, str | None]]
) -> BackupSummary:
    summary = item.summary
    if summary.status != "available":
        return summary
    path: list[Found] = []  # the walk not yet known, from ``item`` up
    on_path: dict[str, int] = {}
    current = item
    while current.summary.backup_id not in known:
        on_path[current.summary.backup_id] = len(path)
        path.append(current)
        parent_id = current.summary.parent_id
        if parent_id is None:
            tail: tuple[int, str | None] = (0, None)
            break
        parent = found.get(parent_id)
        problem = None
        if parent is None:
            problem = f"parent backup {parent_id} is not {where}"
        elif parent.summary.status != "available":
            problem = f"parent backup {parent_id} is {parent.summary.status}"
        elif parent.summary.volume_id != summary.volume_id:
            problem = f"parent backup {parent_id} is of another volume"
        if problem is not None:
            tail = (0, problem)
            break
        assert parent is not None
        if parent_id in on_path:
            # A loop: each backup on it comes back to itself; one leading into it, to the
            # backup where it enters the loop.
            entry = on_path[parent_id]
            for looped in path[entry:]:
                own = looped.summary.backup_id
                known[own] = (0, f"the parent chain loops back to backup {own}")
            tail = (0, f"the parent chain loops back to backup {parent_id}")
            path = path[:entry]
            break
        current = parent
    else:
        tail = known[current.summary.backup_id]
    end, problem = tail
    for step in reversed(path):
        end = max(end, step.end)
        known[step.summary.backup_id] = (end, problem)
    end, problem = known[summary.backup_id]
    if problem is not None:
        return replace(summary, status="invalid", problem=problem)
    return replace(summary, size=gib(end))


# --- delete ----------------------------------------------------------------------------------


@dataclass
class _Target:
    """One directory to empty and remove: the backup's own, or a leftover of an earlier
    delete of it (``name`` in the parent directory)."""

    name: str
    fd: int
    files: list[fs.Entry]
    shared: bool = False
    """It also holds other backups' objects: only this backup's files go, in place."""


def delete_backup(
    backups: BackupRoot, backup: Backup | str, *, force: bool = False
) -> DeleteReport:
    """Delete a backup (finished or not) and the directories it leaves empty, or refuse
    and change nothing; see the module's description for the steps."""
    root = backups.root
    check_root(root)
    backup_id, backup_dir = backups.locate(backup)
    check_prefix(backup, backup_id)
    relative = PurePosixPath(backup_dir.relative_to(root).as_posix())
    parent = relative.parent
    with contextlib.ExitStack() as stack:
        try:
            parent_fd = stack.enter_context(
                fs.open_beneath(root, parent, what="directory", backup_id=backup_id)
            )
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(backup_id, root, backup_dir) from None
        targets = [
            t
            for t in _targets(stack, parent_fd, relative, backup_id)
            if t.files or not t.shared  # a shared directory without a file of it: not it
        ]
        if not targets:
            raise _not_found(backup_id, root, backup_dir)
        own = targets[0] if targets[0].name == relative.name else None
        orphaned: tuple[str, ...] = ()
        if own is not None:
            orphaned = tuple(sorted(backups.children(backup_id)))
            if orphaned and not force:
                raise BackupInUse(backup_id, orphaned)
        # Nothing has changed yet; from here on, everything is this backup's own.
        removed: list[fs.Entry] = []
        directories: list[str] = []
        for target in targets:
            if target.shared:
                removed += _unlink(target)
                continue
            if target is own:
                target.name = _set_aside(parent_fd, target, backup_id, parent / relative.name)
            removed += _unlink(target)
            os.rmdir(target.name, dir_fd=parent_fd)
            directories.append(relative.as_posix() if target is own else f"{parent}/{target.name}")
        os.fsync(parent_fd)
    if directories:
        directories += remove_empty_dirs(root, parent)
    return DeleteReport(
        backup_id=backup_id,
        objects=tuple(e.name for e in removed),
        stored_bytes=sum(e.size for e in removed),
        directories=tuple(directories),
        orphaned=orphaned,
    )


def _not_found(backup_id: str, root: Path, backup_dir: Path) -> BackupNotFound:
    return BackupNotFound(
        f"no backup under {root} (looked in {backup_dir})",
        backup_id=backup_id,
        hint=f"check the backup id and --root; {_LIST_HINT}",
    )


def _targets(
    stack: contextlib.ExitStack, parent_fd: int, relative: PurePosixPath, backup_id: str
) -> Iterator[_Target]:
    """The backup's directory (when there) and the leftovers of earlier deletes of it, each
    checked to hold nothing but files it may remove."""
    own = own_objects(backup_id)
    leftovers = sorted(
        e.name
        for e in fs.scan_dir(parent_fd)
        if e.directory and leftover_id(e.name) == backup_id
    )
    names = [relative.name, *leftovers]
    for i, name in enumerate(names):
        shown = (relative.parent / name).as_posix()
        fd = _open_dir(parent_fd, name, shown, backup_id)
        if fd is None:
            continue
        stack.callback(os.close, fd)
        target = _Target(name, fd, [])
        for entry in fs.scan_dir(fd):
            if entry.regular and own.match(entry.name):
                target.files.append(entry)
            elif i == 0 and entry.regular and ANY_OBJECT.match(entry.name):
                target.shared = True  # another backup's object: a shared directory
            elif i == 0 and entry.directory and _layout_child(relative, entry.name):
                target.shared = True  # b1/b1 is also the way to the backups b1b1...
            else:
                found = entry.kind if not entry.regular else "a regular file"
                raise UnsafeFile(
                    f"{shown}/{entry.name}",
                    "in the backup's directory",
                    f"{found}, not one of its objects",
                    backup_id=backup_id,
                    hint="nothing was deleted; remove what does not belong there by hand",
                )
        yield target


def _layout_child(relative: PurePosixPath, name: str) -> bool:
    """Whether ``name`` in the directory ``relative`` of a backup whose id has one or two
    characters (``b1/b1``) is the directory of another backup (``b1/b1/b1b1-...``), or what
    an interrupted delete of one left."""
    backup_id = leftover_id(name) or name
    return (
        legacy_dir(relative)
        and safe_id(backup_id)
        and _default_dir(backup_id) == (relative / backup_id).as_posix()
    )


def _open_dir(parent_fd: int, name: str, shown: str, backup_id: str) -> int | None:
    """``name`` in the parent opened as a directory, never through a link (None: missing)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise
        mode = os.lstat(name, dir_fd=parent_fd).st_mode
        raise UnsafeFile(
            shown,
            "backup directory",
            fs.kind_of(mode),
            backup_id=backup_id,
            hint="nothing was deleted; docket never follows a symbolic link below the root",
        ) from None


def _set_aside(parent_fd: int, target: _Target, backup_id: str, shown: PurePosixPath) -> str:
    """Rename the backup's directory to a leftover name, making sure the directory renamed
    is the one that was checked."""
    aside = f"{DELETING_PREFIX}{backup_id}.{secrets.token_hex(4)}"
    os.rename(target.name, aside, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    moved = os.lstat(aside, dir_fd=parent_fd)
    checked = os.fstat(target.fd)
    if (moved.st_dev, moved.st_ino) != (checked.st_dev, checked.st_ino):
        os.rename(aside, target.name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
        raise UnsafeFile(
            shown.as_posix(),
            "backup directory",
            "replaced while it was being deleted",
            backup_id=backup_id,
            hint="nothing was deleted; find out who else writes the backup root",
        )
    os.fsync(parent_fd)
    return aside


def _unlink(target: _Target) -> list[fs.Entry]:
    """Remove the target's files, the metadata object first: stopped half-way, what is left
    is a partial backup, which never verifies or restores. Unlinking never follows a link."""
    done: list[fs.Entry] = []
    for entry in sorted(target.files, key=lambda e: (not e.name.endswith(METADATA_SUFFIX), e.name)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.name, dir_fd=target.fd)
            done.append(entry)
    return done
