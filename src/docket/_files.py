"""Changing several files all or nothing: stage every new file, then swap them in, undoing on error.

A release writes a manifest and dozens of golden files; a failure half-way (a full disk, a
permission, an interrupt) must not leave a manifest that says "released" beside half the
files. :func:`apply_changes` writes every new file to a temporary file beside its target
first; only when all are written does it move them into place (removals first, then one
rename per file), keeping what they replace aside; any error on the way puts every replaced
file back and removes every new one, so the tree is as it was. Files are swapped in the
order given: put the one that makes the change count (the manifest) last, so even a crash
between renames leaves it unchanged.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FileChanges:
    """Files to write (path to bytes, in the order they are swapped in) and files to remove."""

    writes: dict[Path, bytes] = field(default_factory=dict)
    removes: list[Path] = field(default_factory=list)

    def write(self, path: Path, data: bytes) -> None:
        self.writes.pop(path, None)  # a rewrite moves to the end of the order
        self.writes[path] = data

    def update(self, other: Mapping[Path, bytes]) -> None:
        for path, data in other.items():
            self.write(path, data)

    def changed(self) -> list[Path]:
        """The files whose content would change (new, different or removed)."""
        out = [p for p, data in self.writes.items() if _read(p) != data]
        return out + [p for p in self.removes if p.exists() and p not in self.writes]

    def __bool__(self) -> bool:
        return bool(self.changed())


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _make_dirs(directory: Path, made: list[Path]) -> None:
    """Create ``directory`` and missing parents, noting each one made (outermost first)."""
    missing = []
    for d in (directory, *directory.parents):
        if d.is_dir():
            break
        missing.append(d)
    for d in reversed(missing):
        d.mkdir()
        made.append(d)


def _stage(path: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _aside(path: Path) -> Path:
    """A free name beside ``path`` to keep its old content while the change is made."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent)
    os.close(fd)
    return Path(name)


def apply_changes(changes: FileChanges) -> list[Path]:
    """Make ``changes`` whole or not at all; returns the files changed.

    Unchanged files are left alone (their times too). On any error (``OSError``, an
    interrupt) every file is as it was before the call, and the error is raised.
    """
    todo = changes.changed()
    writes = [(p, changes.writes[p]) for p in changes.writes if p in todo]
    removes = [p for p in changes.removes if p in todo]
    made: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    kept: list[tuple[Path, Path | None]] = []  # (target, where its old content waits)
    try:
        for path, data in writes:
            _make_dirs(path.parent, made)
            staged.append((path, _stage(path, data)))
        for path in removes:
            kept.append((path, _keep_aside(path)))
        for path, tmp in staged:
            old = _keep_aside(path)
            kept.append((path, old))
            os.replace(tmp, path)
    except BaseException:
        _undo(kept, staged, made)
        raise
    for _, old in kept:
        if old is not None:
            with contextlib.suppress(OSError):
                old.unlink()
    return todo


def _keep_aside(path: Path) -> Path | None:
    if not path.exists():
        return None
    old = _aside(path)
    try:
        os.replace(path, old)
    except BaseException:
        old.unlink(missing_ok=True)
        raise
    return old


def _undo(
    kept: Iterable[tuple[Path, Path | None]],
    staged: Iterable[tuple[Path, Path]],
    made: list[Path],
) -> None:
    for path, old in reversed(list(kept)):
        with contextlib.suppress(OSError):
            if old is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(old, path)
    for _, tmp in staged:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    for directory in reversed(made):
        with contextlib.suppress(OSError):
            directory.rmdir()
