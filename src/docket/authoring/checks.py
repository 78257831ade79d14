"""What ``docket check`` verifies about a schema directory, as a list of findings.

- every manifest and version document against the metaschema;
- released versions unchanged (their fingerprints in the manifest);
- the migration graph and the policies sound (the family builds);
- every migration what it claims, on the schemas (:mod:`docket.core.soundness`): fields
  that exist, defaults and mapped values the target accepts, exact downgrades that lose
  nothing, declared losses that are the real ones;
- every golden container loads, validates, dumps to its recorded bytes and upgrades to what
  was recorded; every released version has golden containers, each pinned at every newer
  released version;
- with a git ref, that no version released at that ref changed since (read with
  ``git show REF:path``).

Nothing here raises for a problem in the directory: each one is a :class:`Finding`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from docket.core.codec import canonical, parse
from docket.core.display import display
from docket.core.documents import (
    GOLDEN,
    MANIFEST,
    FamilySource,
    bundled_schemas,
    check_against_metaschema,
    placed,
    read_document,
    read_family,
    version_text,
)
from docket.core.errors import DocketError, ParseError, SchemaDocumentError, UsageError, show
from docket.core.family import Family
from docket.core.golden import check_golden_files, missing_golden
from docket.core.registry import Registry, load_registry
from docket.core.soundness import check_family
from docket.core.versions import Version


@dataclass(frozen=True)
class Finding:
    """One problem ``docket check`` found."""

    family: str
    check: str
    """``document``, ``metaschema``, ``fingerprint``, ``graph``, ``soundness``, ``golden`` or
    ``released``."""
    message: str
    path: str = ""
    line: int | None = None
    """Where in the file at ``path`` (1-based, with ``column``), when known."""
    column: int | None = None
    edge: str = field(default="", compare=False)
    """A golden finding's failed migration (``notes 1 -> 2``), by which the text report
    groups them (see :func:`text_lines`); not in :meth:`as_dict`."""

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "family": self.family,
            "check": self.check,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }

    def __str__(self) -> str:
        # A family is named by its folder, a path by the file system: any bytes they allow.
        at = f":{self.line}:{self.column}" if self.line is not None else ""
        where = f"{display(self.path)}{at}: " if self.path else ""
        return f"{display(self.family)}: {self.check}: {where}{self.message}"


@dataclass
class Report:
    """Everything one run of the checks looked at, and what it found."""

    findings: list[Finding] = field(default_factory=list)
    families: int = 0
    versions: int = 0
    golden: int = 0
    released_compared: int = 0
    directory: Path | None = None
    """The schema directory checked."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, object]:
        """The report as ``docket check --format json`` prints it."""
        return {
            "directory": str(self.directory),
            "ok": self.ok,
            "families": self.families,
            "versions": self.versions,
            "golden": self.golden,
            "released_compared": self.released_compared,
            "findings": [f.as_dict() for f in self.findings],
        }


def family_dirs(directory: Path) -> list[Path]:
    """Family folders (those holding a manifest) under a schema directory."""
    if not directory.is_dir():
        raise UsageError("SCHEMA_DIR", f"{directory} is not a directory", "pass a schema directory")
    if (directory / MANIFEST).is_file():
        raise UsageError(
            "SCHEMA_DIR",
            f"{directory} is a family folder (it holds {MANIFEST}), not a schema directory",
            f"pass the directory holding it: {directory.parent}",
        )
    found = [d for d in sorted(directory.iterdir()) if (d / MANIFEST).is_file()]
    if not found:  # nothing checked is not a pass
        raise UsageError(
            "SCHEMA_DIR",
            f"{directory} holds no family folder (a folder with {MANIFEST})",
            "pass the schema directory, e.g. ./schemas",
        )
    return found


def _metaschema_findings(folder: Path) -> Iterator[Finding]:
    """Each document of a family folder that does not match the metaschema."""
    documents = [(folder / MANIFEST, "manifest.schema.json")]
    documents += [
        (p, "version-document.schema.json")
        for p in sorted(folder.glob("*.json"))
        if p.name != MANIFEST
    ]
    for path, metaschema in documents:
        try:
            document = read_document(path)
        except SchemaDocumentError as err:
            # Not JSON, or unreadable: a document error with its line and column.
            yield Finding(folder.name, "document", err.reason, str(path))
            continue
        try:
            check_against_metaschema(document, metaschema, str(path))
        except SchemaDocumentError as err:
            placed(err)
            message = f"{err.path}: {err.reason}"
            yield Finding(folder.name, "metaschema", message, str(path), err.line, err.column)


def _second_documents(source: FamilySource, folder: Path) -> Iterator[Finding]:
    """A file named as a version is spelled otherwise (``01.json``, `` 1.json`` beside
    ``1.json``): docket reads only the document named by the version's own text, so an
    edit there changes nothing, silently."""
    names = {version_text(v) for v in source.versions}
    for path in sorted(folder.glob("*.json")):
        meant = source.scheme.spelling(path.name[: -len(".json")])
        if meant in names and path.name != f"{meant}.json":
            yield Finding(
                source.name,
                "document",
                f"{show(path.name)} is a second document of version {meant}, which docket never "
                f"reads (version {meant}'s document is {meant}.json): remove or rename it",
                str(path),
            )


def _declared_versions(folder: Path) -> int:
    """How many versions a family's manifest lists (0 when it cannot be read)."""
    try:
        versions = read_document(folder / MANIFEST).get("versions")
    except SchemaDocumentError:
        return 0
    return len(versions) if isinstance(versions, list) else 0


def soundness_findings(family: Family, registry: Registry) -> list[Finding]:
    """The static findings of the family's migrations (see :mod:`docket.core.soundness`),
    each at the document that declares its edge."""
    out = []
    for found in check_family(family, registry.converters):
        newer = max((found.source, found.target), key=family.scheme.key)
        where = ""
        folder = family.source.directory
        if folder is not None:
            where = str(folder / f"{version_text(newer)}.json")
            if _underived(family, newer):
                found = replace(found, hint=_derive_hint(found.hint, folder))
        out.append(Finding(family.name, "soundness", str(found), where))
    return out


def _underived(family: Family, version: Version) -> bool:
    """Whether ``version``'s edge is as `docket new-version` left it: a document's edge with
    no upgrade operation, in a version not released yet."""
    older = family.versions[family.versions.index(version) - 1]
    if version in family.released() or older not in family.graph.edges:
        return False
    edge = family.migration(older)
    return edge.origin == "document" and not edge.upgrade_operations


def _frozen(folder: Path, text: str, ref: str | None = None) -> str:
    """What to do about a released version's edited document (``folder``: the family's, as
    the schema directory was given)."""
    document = display(str(folder / f"{text}.json"))
    checkout = f"git checkout {ref} -- {document}" if ref else f"git checkout -- {document}"
    return (
        f"released versions are frozen: revert the edit ({checkout}, or restore the released "
        f"file) and make the change in the next version: docket --schemas "
        f"{display(str(folder.parent))} new-version {display(folder.name)}"
    )


def _fingerprint_findings(source: FamilySource, folder: Path) -> Iterator[Finding]:
    """Each released version whose document no longer has its released fingerprint, at
    that document (at the manifest when the document is gone)."""
    for text, found, expected in source.changed_releases():
        if found is None:
            message = f"released version {text} has no document"
            yield Finding(source.name, "fingerprint", message, str(folder / MANIFEST))
            continue
        message = (
            f"released version {text} changed (fingerprint {found}, manifest says "
            f"{expected}); {_frozen(folder, text)}"
        )
        yield Finding(source.name, "fingerprint", message, str(folder / f"{text}.json"))


def _derive_hint(hint: str, folder: Path) -> str:
    derive = (
        f"or derive the migration from the two schemas: docket --schemas {folder.parent} "
        f"new-version {folder.name} --update, with --rename SECTION.OLD=NEW for a renamed field"
    )
    return f"{hint}; {derive}" if hint else derive


def golden_findings(family: Family) -> tuple[int, list[Finding]]:
    """Check every golden container, and that each release has the golden containers and
    pinned upgrades it promises (see :mod:`docket.core.golden`)."""
    checked, problems = check_golden_files(family, family.golden())
    if family.source.directory is not None:
        problems += missing_golden(family, family.source.directory / GOLDEN)
    return len(checked), [
        Finding(family.name, "golden", p.message, str(p.path), edge=p.edge) for p in problems
    ]


SHOWN_FILES = 3
"""The golden files a grouped finding names."""


def text_lines(findings: Sequence[Finding]) -> list[str]:
    """The findings as ``docket check`` prints them: one line each, except the golden
    containers a broken migration fails, which are one line per edge (a broken edge fails
    every golden container crossing it, each saying the same): the first one's finding,
    the count and the next files' names. ``--format json`` keeps every finding."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        if finding.check == "golden" and finding.edge:
            groups.setdefault((finding.family, finding.edge), []).append(finding)
    lines: list[str] = []
    for finding in findings:
        group = groups.get((finding.family, finding.edge)) if finding.edge else None
        if group is None or len(group) == 1:
            lines.append(str(finding))
        elif group[0] is finding:
            names = ", ".join(display(Path(f.path).name) for f in group[1:SHOWN_FILES])
            more = len(group) - SHOWN_FILES
            rest = f"{names} and {more} more" if more > 0 else names
            lines.append(
                f"{finding} (and {len(group) - 1} more golden container(s) failing "
                f"{display(finding.edge)}: {rest}; --format json lists each)"
            )
    return lines


def _git_show(directory: Path, ref: str, relative: str) -> bytes | None:
    """A file's bytes at ``ref`` (None when it did not exist there)."""
    proc = subprocess.run(
        ["git", "-C", str(directory), "show", f"{ref}:./{relative}"],
        capture_output=True,
        check=False,
    )
    if proc.returncode == 0:
        return proc.stdout
    return None


def _check_ref(directory: Path, ref: str) -> None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            capture_output=True,
            check=False,
        )
    except OSError as err:
        raise UsageError("--against", f"cannot run git: {err.strerror}", "install git") from None
    if proc.returncode != 0:
        raise UsageError(
            "--against",
            f"{show(ref)} is not a commit of a git repository holding {directory}",
            "pass a branch, tag or commit (fetch it first in a shallow CI clone)",
        )


def released_findings(source: FamilySource, directory: Path, ref: str) -> tuple[int, list[Finding]]:
    """Versions released at ``ref`` whose document (or release entry) changed since."""
    findings: list[Finding] = []
    folder = directory / source.name
    manifest = str(folder / MANIFEST)  # paths as the schema directory was given
    raw = _git_show(directory, ref, f"{source.name}/{MANIFEST}")
    if raw is None:
        return 0, findings  # the family is new since the ref
    try:
        old_manifest = parse(raw)
    except ParseError as err:
        findings.append(Finding(source.name, "released", f"manifest at {ref}: {err}", manifest))
        return 0, findings
    released = old_manifest.get("released")
    if not isinstance(released, dict):
        return 0, findings
    compared = 0
    by_text = {version_text(v): v for v in source.versions}
    for text, fingerprint in released.items():
        doc_path = f"{source.name}/{text}.json"  # in git, relative to the directory
        shown = str(folder / f"{text}.json")
        if text not in by_text:
            findings.append(
                Finding(
                    source.name,
                    "released",
                    f"version {text} was released at {ref} and has been removed",
                    shown,
                )
            )
            continue
        if source.released.get(text) != fingerprint:
            findings.append(
                Finding(
                    source.name,
                    "released",
                    f"the manifest's release entry for version {text} changed since {ref} "
                    f"({fingerprint} -> {source.released.get(text)})",
                    manifest,
                )
            )
        old_doc = _git_show(directory, ref, doc_path)
        if old_doc is None:
            continue
        compared += 1
        try:
            same = canonical(parse(old_doc)) == canonical(source.documents[by_text[text]])
        except ParseError as err:
            findings.append(Finding(source.name, "released", f"document at {ref}: {err}", shown))
            continue
        if not same:
            findings.append(
                Finding(
                    source.name,
                    "released",
                    f"version {text} was released at {ref} and its document changed since; "
                    + _frozen(folder, text, ref),
                    shown,
                )
            )
    return compared, findings


def run_checks(
    directory: Path,
    registry: Registry,
    *,
    against: str | None = None,
) -> Report:
    """Every check over the families in ``directory``; ``registry`` supplies Python
    migrations, rules, converters, limits and the signing key."""
    report = Report(directory=directory)
    if against is not None:
        _check_ref(directory, against)
    for folder in family_dirs(directory):
        report.families += 1
        meta = list(_metaschema_findings(folder))
        report.findings.extend(meta)
        try:
            source = read_family(folder)
        except SchemaDocumentError as err:
            if not meta:
                report.findings.append(Finding(folder.name, "metaschema", str(err)))
            report.versions += _declared_versions(folder)
            continue
        report.versions += len(source.versions)
        report.findings.extend(_second_documents(source, folder))
        report.findings.extend(_fingerprint_findings(source, folder))
        if against is not None:
            compared, found = released_findings(source, directory, against)
            report.released_compared += compared
            report.findings.extend(found)
        try:
            family = Registry(
                {source.name: source},
                registry.migrations,
                registry.rules,
                registry.converters,
                registry.signing_key,
                registry.limits,
                check_soundness=False,  # its findings are listed one by one below
            ).family(source.name)
        except DocketError as err:
            report.findings.append(Finding(source.name, "graph", str(err), str(folder)))
            continue
        report.findings.extend(soundness_findings(family, registry))
        count, found = golden_findings(family)
        report.golden += count
        report.findings.extend(found)
    return report


def check(
    directory: str | os.PathLike[str] | None = None,
    registry: Registry | None = None,
    *,
    against: str | None = None,
) -> Report:
    """Every check over a schema directory (default: the bundled one), with the migrations,
    rules, converters, limits and key of ``registry`` (default: docket's own); ``against``,
    a git ref, also compares the versions released there."""
    target = Path(directory) if directory is not None else bundled_schemas()
    registry = registry if registry is not None else load_registry()
    return run_checks(target, registry, against=against)
