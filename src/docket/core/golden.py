"""Golden containers: checking recorded files, the one implementation.

A golden container is a container of a released version, written once as canonical bytes,
with what it became at each newer version beside it::

    <directory>/<version>/<id>.json                     the container as written
    <directory>/<version>/upgraded/<newer>/<id>.json    its upgrade to <newer>

A file still holds when it validates, loads at its folder's version, dumps to its recorded
bytes, upgrades to current, and upgrades to each recorded newer version giving the recorded
bytes. ``docket check`` and :func:`docket.testing.check_golden` both check through
:func:`check_golden_file`; recording (which generates examples) stays in ``docket.testing``.

A release promises more than files that hold: every released version has golden containers
(:func:`missing_golden` reports one without), and the containers of each released version are
pinned at every newer released version (``upgraded/<newer>/``), which releasing the newer
version records (:func:`upgrade_pins`).

Messages show the values they quote with invisible and control characters escaped
(:func:`visible`): a golden string of zero-width spaces reads as ``\\u200b\\u200b``, not as
nothing.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from docket.core.documents import json_files, read_golden, subfolders
from docket.core.errors import DocketError, MigrationError, SchemaDocumentError, show
from docket.core.family import Container, Family
from docket.core.versions import Version

UPGRADED = "upgraded"
"""The folder, beside a version's golden containers, of their recorded upgrades."""


_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Zs"})


def visible(text: str) -> str:
    """``text`` with every character a reader cannot see escaped as JSON does (``\\u200b``,
    ``\\n``), a plain space and a backslash excepted: messages quote stored values with it."""
    out = []
    for char in text:
        if char != " " and unicodedata.category(char) in _INVISIBLE:
            out.append(json.dumps(char)[1:-1])
        else:
            out.append(char)
    return "".join(out)


def shown(data: bytes | str) -> str:
    """A value as a message quotes it: JSON-escaped, every non-ASCII character as ``\\uXXXX``."""
    text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else data
    return json.dumps(text)


@dataclass(frozen=True)
class GoldenProblem:
    """One golden file that no longer holds, and how."""

    path: Path
    message: str
    edge: str = field(default="", compare=False)
    """The migration that failed on it (``notes 1 -> 2``), when that is what went wrong:
    a broken edge fails every golden container that crosses it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", visible(self.message))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _failed(path: Path, err: DocketError) -> GoldenProblem:
    """The problem ``err`` raised while loading or dumping the golden container at ``path``."""
    if isinstance(err, MigrationError):
        edge = f"{err.family} {show(err.source)} -> {show(err.target)}"
        return GoldenProblem(path, str(err), visible(edge))
    return GoldenProblem(path, str(err))


def _first_difference(recorded: bytes, now: bytes) -> str:
    """Where two byte strings part, with a little of each from there, escaped."""
    at = next(
        (i for i, (a, b) in enumerate(zip(recorded, now, strict=False)) if a != b),
        min(len(recorded), len(now)),
    )
    start = max(0, at - 10)
    return (
        f"from byte {at}: recorded {shown(recorded[start : at + 30])}, "
        f"now {shown(now[start : at + 30])}"
    )


def recorded_versions(family: Family, directory: Path) -> list[Version]:
    """The versions of ``family`` that have a folder under ``directory``."""
    names = {str(v): v for v in family.versions}
    found = [names[d.name] for d in subfolders(directory) if d.name in names]
    return sorted(found, key=family.scheme.key)


def check_golden_file(family: Family, version: Version, path: Path) -> Iterator[GoldenProblem]:
    """Every way the golden container at ``path``, recorded at ``version``, no longer holds
    (nothing when it holds)."""
    try:
        raw = read_golden(path)  # a FIFO, a device or a huge file: a problem, not a hang
    except SchemaDocumentError as err:
        yield GoldenProblem(path, err.reason)
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
        dumped = family.dump(container, version=version)
        if dumped != raw:
            yield GoldenProblem(
                path,
                "no longer dumps to its recorded bytes (not canonical, or the schema changed); "
                + _first_difference(raw, dumped),
            )
        family.load(raw)  # upgrades to current and validates there
    except DocketError as err:
        yield _failed(path, err)
        return
    yield from _check_upgrades(family, container, path)


def _check_upgrades(family: Family, container: Container, path: Path) -> Iterator[GoldenProblem]:
    for folder in subfolders(path.parent / UPGRADED):
        expected = folder / path.name
        if not expected.is_file():
            continue
        try:
            recorded = read_golden(expected)
        except SchemaDocumentError as err:
            yield GoldenProblem(expected, err.reason)
            continue
        try:
            newer = family.parse_version(folder.name)
            got = family.dump(container, version=newer)
        except DocketError as err:
            yield _failed(expected, err)
            continue
        if got != recorded:
            yield GoldenProblem(
                expected,
                f"the upgrade to {show(newer)} changed: it no longer gives the recorded bytes; "
                + _first_difference(recorded, got),
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


def _older(family: Family, versions: Iterable[Version], than: Version) -> list[Version]:
    key = family.scheme.key
    return [v for v in versions if key(v) < key(than)]


def _containers(directory: Path, version: Version) -> list[Path]:
    return json_files(directory / str(version))


def upgrade_pins(
    family: Family, directory: Path, version: Version
) -> tuple[dict[Path, bytes], list[GoldenProblem]]:
    """What each golden container recorded at a version before ``version`` becomes at
    ``version`` (``<directory>/<older>/upgraded/<version>/<id>.json`` to its bytes), and the
    golden containers that no longer load."""
    out: dict[Path, bytes] = {}
    problems: list[GoldenProblem] = []
    for older in _older(family, recorded_versions(family, directory), version):
        for path in _containers(directory, older):
            try:
                container = family.load(read_golden(path), to=older)
                out[path.parent / UPGRADED / str(version) / path.name] = family.dump(
                    container, version=version
                )
            except SchemaDocumentError as err:  # not a regular file, too large, unreadable
                problems.append(GoldenProblem(path, err.reason))
            except DocketError as err:
                problems.append(GoldenProblem(path, str(err)))
    return out, problems


def missing_golden(family: Family, directory: Path) -> list[GoldenProblem]:
    """What the releases of ``family`` promise and ``directory`` lacks: golden containers of
    each released version, and their upgrades to each newer released version."""
    problems: list[GoldenProblem] = []
    released = family.released()
    for version in released:
        files = _containers(directory, version)
        if not files:
            problems.append(
                GoldenProblem(
                    directory / str(version),
                    f"version {show(version)} is released and has no golden containers "
                    f"(hint: docket release {family.name} {version} records what is missing)",
                )
            )
            continue
        for newer in released[released.index(version) + 1 :]:
            pinned = directory / str(version) / UPGRADED / str(newer)
            missing = [p for p in files if not (pinned / p.name).is_file()]
            if missing:
                problems.append(
                    GoldenProblem(
                        pinned,
                        f"{len(missing)} of {len(files)} golden container(s) of version "
                        f"{show(version)} have no recorded upgrade to the released version "
                        f"{show(newer)} (hint: docket release {family.name} {newer} records what "
                        "is missing)",
                    )
                )
    return problems
