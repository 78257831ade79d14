"""Golden containers: record examples of a released version once, check them on every run.

A released version is frozen, and so is what docket makes of its containers. Recording writes
generated containers of a version as canonical bytes, plus what each becomes at every newer
version::

    <directory>/<version>/<id>.json                     the container as written
    <directory>/<version>/upgraded/<newer>/<id>.json    its upgrade to <newer>

The default directory is the family's own ``golden/`` folder (``schemas/<family>/golden``),
the one :meth:`docket.Family.golden` lists. Checking (:mod:`docket.core.golden`, the same
check ``docket check`` runs) fails when a file no longer validates, no longer dumps to the
same bytes, or upgrades differently. Set ``DOCKET_REGENERATE_GOLDEN=1``
to re-record deliberately instead of checking.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as Settings

from docket.core.errors import DocketError, show
from docket.core.family import Container, Family
from docket.core.golden import UPGRADED, check_golden_files, recorded_versions
from docket.core.versions import Version
from docket.fs_changes import FileChanges, apply_changes
from docket.testing._properties import containers

REGENERATE_ENV = "DOCKET_REGENERATE_GOLDEN"
DEFAULT_COUNT = 12


class GoldenMismatch(DocketError, AssertionError):
    """Golden containers no longer read, write or upgrade as they did when recorded."""

    def __init__(self, family: str, problems: Sequence[str]) -> None:
        super().__init__(family)
        self.family = family
        self.problems = tuple(problems)
        self.hint = (
            f"if the change is intended, re-record with {REGENERATE_ENV}=1 "
            "(never for a version already released)"
        )

    def describe(self) -> str:
        lines = "\n  ".join(self.problems)
        return f"{self.family}: {len(self.problems)} golden problem(s):\n  {lines}\n"


GoldenMismatch.__module__ = "docket.testing"


def regenerating() -> bool:
    """Whether ``DOCKET_REGENERATE_GOLDEN`` asks for golden files to be re-recorded."""
    return os.environ.get(REGENERATE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _directory(family: Family, directory: str | Path | None) -> Path:
    if directory is not None:
        return Path(directory)
    if family.source.directory is None:
        raise GoldenMismatch(family.name, ["the family has no folder; pass a directory"])
    return family.source.directory / "golden"


def _newer(family: Family, version: Version) -> tuple[Version, ...]:
    return family.versions[family.versions.index(version) + 1 :]


def _examples(family: Family, version: Version, count: int) -> list[bytes]:
    found: dict[bytes, None] = {}

    # derandomize: the same family and code record the same files, run after run.
    @Settings(
        max_examples=count * 4,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(containers(family, version))
    def collect(c: Container) -> None:
        if len(found) < count:
            found[family.dump(c, version=version)] = None

    collect()
    return list(found)


def recording(
    family: Family,
    version: Version | None = None,
    directory: str | Path | None = None,
    *,
    count: int = DEFAULT_COUNT,
    upgrades: Iterable[Version] | None = None,
) -> FileChanges:
    """The files :func:`record_golden` writes and removes, worked out without touching any:
    ``count`` generated containers of ``version`` and what each becomes at ``upgrades``
    (default: every newer version), replacing what was recorded for ``version``."""
    v = family.current if version is None else version
    family.spec(v)
    folder = _directory(family, directory) / str(v)
    changes = FileChanges()
    if folder.is_dir():
        changes.removes.extend(sorted(folder.glob("*.json")))
        changes.removes.extend(sorted((folder / UPGRADED).glob("*/*.json")))
    newer = _newer(family, v) if upgrades is None else tuple(upgrades)
    for raw in _examples(family, v, count):
        name = hashlib.sha256(raw).hexdigest()[:16] + ".json"
        changes.write(folder / name, raw)
        container = family.load(raw, to=v)
        for later in newer:
            changes.write(
                folder / UPGRADED / str(later) / name, family.dump(container, version=later)
            )
    return changes


def record_golden(
    family: Family,
    version: Version | None = None,
    directory: str | Path | None = None,
    *,
    count: int = DEFAULT_COUNT,
) -> list[Path]:
    """Write ``count`` generated containers of ``version`` (current by default) and their
    upgrades, replacing what was recorded for that version, all or nothing. Returns the
    container files."""
    v = family.current if version is None else version
    changes = recording(family, v, directory, count=count)
    apply_changes(changes)
    folder = _directory(family, directory) / str(v)
    return sorted(p for p in changes.writes if p.parent == folder)


def check_golden(
    family: Family,
    directory: str | Path | None = None,
    *,
    versions: Iterable[Version] | None = None,
) -> list[Path]:
    """Check the recorded containers of ``versions`` (default: every recorded version and
    every released one). With ``DOCKET_REGENERATE_GOLDEN=1``, re-record them instead.
    Returns the container files checked (or written)."""
    base = _directory(family, directory)
    if versions is None:
        recorded = recorded_versions(family, base)
        wanted = sorted({*recorded, *family.released()}, key=family.scheme.key)
    else:
        wanted = list(versions)
    if regenerating():
        return [p for v in wanted for p in record_golden(family, v, base)]
    problems: list[str] = []
    checked: list[Path] = []
    for v in wanted:
        family.spec(v)
        files = sorted((base / str(v)).glob("*.json"))
        if not files:
            problems.append(
                f"version {show(v)}: no golden containers in {base / str(v)} "
                f"(record them with {REGENERATE_ENV}=1 or record_golden())"
            )
            continue
        done, found = check_golden_files(family, {v: files})
        checked.extend(done)
        problems.extend(map(str, found))
    if problems:
        raise GoldenMismatch(family.name, problems)
    return checked
