"""Golden containers: checking recorded files, the one implementation.

A golden container is a container of a released version, written once as canonical bytes,
with what it became at each newer version beside it::

    <directory>/<version>/<id>.json                     the container as written
    <directory>/<version>/upgraded/<newer>/<id>.json    its upgrade to <newer>

A file still holds when it validates, loads at its folder's version, dumps to its recorded
bytes, upgrades to current, and upgrades to each recorded newer version giving the recorded
bytes. ``docket check`` and :func:`docket.testing.check_golden` both check through
:func:`check_golden_file`; recording (which generates examples) stays in ``docket.testing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from docket.core.errors import DocketError, show
from docket.core.family import Container, Family
from docket.core.versions import Version

UPGRADED = "upgraded"
"""The folder, beside a version's golden containers, of their recorded upgrades."""


@dataclass(frozen=True)
class GoldenProblem:
    """One golden file that no longer holds, and how."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def recorded_versions(family: Family, directory: Path) -> list[Version]:
    """The versions of ``family`` that have a folder under ``directory``."""
    if not directory.is_dir():
        return []
    names = {str(v): v for v in family.versions}
    found = [names[d.name] for d in directory.iterdir() if d.is_dir() and d.name in names]
    return sorted(found, key=family.scheme.key)


def check_golden_file(family: Family, version: Version, path: Path) -> Iterator[GoldenProblem]:
    """Every way the golden container at ``path``, recorded at ``version``, no longer holds
    (nothing when it holds)."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        yield GoldenProblem(path, f"cannot read: {err.strerror}")
        return
    issues = family.validate(raw)
    if issues:
        shown = "; ".join(str(i) for i in issues[:3])
        yield GoldenProblem(path, f"no longer valid: {shown}")
        return
    try:
        container = family.load(raw, to=version)
        if container.written_version != version:
            yield GoldenProblem(
                path,
                f"is a version {show(container.written_version)} container in the {show(version)} "
                "folder",
            )
            return
        if family.dump(container, version=version) != raw:
            yield GoldenProblem(
                path,
                "no longer dumps to its recorded bytes (not canonical, or the schema changed)",
            )
        family.load(raw)  # upgrades to current and validates there
    except DocketError as err:
        yield GoldenProblem(path, str(err))
        return
    yield from _check_upgrades(family, container, path)


def _check_upgrades(family: Family, container: Container, path: Path) -> Iterator[GoldenProblem]:
    upgraded = path.parent / UPGRADED
    if not upgraded.is_dir():
        return
    for folder in sorted(p for p in upgraded.iterdir() if p.is_dir()):
        expected = folder / path.name
        if not expected.is_file():
            continue
        try:
            newer = family.parse_version(folder.name)
            got = family.dump(container, version=newer)
        except DocketError as err:
            yield GoldenProblem(expected, str(err))
            continue
        if got != expected.read_bytes():
            yield GoldenProblem(
                expected,
                f"the upgrade to {show(newer)} changed: it no longer gives the recorded bytes",
            )


def check_golden_files(
    family: Family, files: Mapping[Version, Iterable[Path]]
) -> tuple[list[Path], list[GoldenProblem]]:
    """Check golden containers given per version: the files checked, and the problems."""
    checked: list[Path] = []
    problems: list[GoldenProblem] = []
    for version, paths in files.items():
        for path in paths:
            checked.append(Path(path))
            problems.extend(check_golden_file(family, version, Path(path)))
    return checked, problems
