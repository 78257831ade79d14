"""Walking Cinder's POSIX layout under a backup root, never through a symbolic link.

A backup's directory is ``<id[0:2]>/<id[2:4]>/<id>``, three levels down; Cinder's
``os.path.join`` drops the empty ``id[2:4]`` of an id of one or two characters, whose
directory is then ``<id>/<id>``, two levels down. docket no longer makes such backups
(:data:`MIN_ID`, in every driver's default layout), but older ones are still found, listed
and counted as children. A ``b1/b1`` directory may also be the way to the backups whose ids
start ``b1b1``: only the files named as backup ``b1``'s objects make it that backup's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from pathlib import PurePosixPath as P

from docket import fs

MIN_ID = 3
"""The shortest id of a new backup in the default layout: ``ab/c/abc`` is three levels down,
as every backup's directory must be to be listed and found (``ab`` would be ``ab/ab``)."""

_LEGACY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]?")
"""A path-safe id (``docket.backup._layout.safe_id``) of one or two characters: its
directory is two levels down, ``<id>/<id>``."""

OnLink = Callable[[P], None]
"""Told of each symbolic link the walk passes by (its path relative to the root)."""


def legacy_dir(where: P) -> bool:
    """Whether ``where`` (relative to the root) is the directory of a backup with an id of
    one or two characters, ``<id>/<id>``, by its name."""
    parts = where.parts
    return len(parts) == 2 and parts[0] == parts[1] and _LEGACY_ID.fullmatch(parts[1]) is not None


def layout_dirs(root: Path, on_link: OnLink | None = None) -> Iterator[tuple[P, int]]:
    """Every real directory two and three levels below ``root``, in name order, as (path
    relative to the root, open descriptor; valid until the iterator advances).

    Nothing is followed: a symbolic link one, two or three levels down is passed to
    ``on_link`` (when given) and neither entered nor opened; a directory swapped for one
    while the walk runs is passed over.
    """
    return fs.walk_dirs(root, 3, start=2, on_link=on_link)
