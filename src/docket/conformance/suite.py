"""The conformance suite on disk: its manifest, case files and the digests that pin them.

A suite directory holds ``manifest.json`` and ``cases/<family>/<version>.json``; every case file
is plain JSON (``docs/conformance.md`` describes the format). Reading it needs no docket.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUITE = "docket-conformance"
PROTOCOL = 1
LEVELS = ("validate", "migrate", "restore", "integrity")

# docket's reasons for leaving a field out of a restore, as the suite's codes.
DROP_REASONS = {
    "not defined by the schema": "unknown-field",
    "not in the restore allowlist": "not-in-allowlist",
    "the backed-up name is empty": "empty-name",
    "the target volume already has a name of its own": "target-has-name",
}


class SuiteError(Exception):
    """The suite directory is missing, malformed or does not match its pinned digests;
    ``missing`` when it has no manifest at all (not a suite directory)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def file_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def case_file_bytes(document: Mapping[str, Any]) -> bytes:
    """How a case file is written: two-space indent, sorted keys, non-ASCII kept, final newline
    (stable, so a digest pins its content)."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


@dataclass(frozen=True)
class CaseFile:
    family: str
    version: Any
    path: Path
    released: bool
    digest: str | None
    """The pinned digest (released versions only)."""


@dataclass(frozen=True)
class Suite:
    root: Path
    manifest: Mapping[str, Any]
    files: tuple[CaseFile, ...]

    @classmethod
    def load(cls, root: str | Path) -> Suite:
        root = Path(root)
        path = root / "manifest.json"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SuiteError(f"{path}: no conformance manifest here", missing=True) from None
        except OSError as err:
            raise SuiteError(f"{path}: cannot read: {err.strerror}") from None
        except ValueError as err:
            raise SuiteError(f"{path}: not JSON: {err}") from None
        if not isinstance(manifest, dict) or manifest.get("suite") != SUITE:
            raise SuiteError(f"{path}: not a {SUITE} manifest")
        files = []
        try:
            for fam, spec in sorted(manifest.get("families", {}).items()):
                for entry in spec.get("versions", []):
                    files.append(
                        CaseFile(
                            fam,
                            entry["version"],
                            root / entry["file"],
                            bool(entry.get("released")),
                            entry.get("sha256"),
                        )
                    )
        except (AttributeError, KeyError, TypeError) as err:
            reason = f"{type(err).__name__}: {err}"
            raise SuiteError(f"{path}: not a {SUITE} manifest ({reason})") from None
        return cls(root, manifest, tuple(files))

    @property
    def families(self) -> tuple[str, ...]:
        """The families the suite has cases of."""
        return tuple(sorted({cf.family for cf in self.files}))

    @property
    def schemas(self) -> Path | None:
        """The schema directory the cases are about (the manifest's ``schemas``, resolved),
        None when the manifest names none."""
        name = self.manifest.get("schemas")
        return (self.root / name).resolve() if isinstance(name, str) else None

    @property
    def keys(self) -> Mapping[str, str]:
        """Published test keys by name (hex)."""
        return self.manifest.get("keys", {})  # type: ignore[no-any-return]

    def check_pins(self) -> list[str]:
        """Problems with released case files: each must hash to the digest the manifest pins."""
        problems = []
        for cf in self.files:
            if not cf.released:
                continue
            try:
                found = file_digest(cf.path.read_bytes())
            except FileNotFoundError:
                problems.append(f"{cf.path}: missing")
                continue
            if found != cf.digest:
                problems.append(
                    f"{cf.path}: released cases of {cf.family} {cf.version} changed "
                    f"(manifest pins {cf.digest}, file is {found})"
                )
        return problems

    def read(self, cf: CaseFile) -> list[dict[str, Any]]:
        try:
            doc = json.loads(cf.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise SuiteError(f"{cf.path}: {err}") from None
        cases = doc.get("cases")
        if not isinstance(cases, list):
            raise SuiteError(f"{cf.path}: no case list")
        return cases

    def cases(
        self,
        *,
        levels: tuple[str, ...] = LEVELS,
        families: tuple[str, ...] = (),
        ids: tuple[str, ...] = (),
    ) -> Iterator[dict[str, Any]]:
        """Every case, in manifest order, of the given levels (and families, and ``ids``,
        when given: a case id, or a prefix of ids ending in ``/`` such as
        ``backup-metadata/2/validate/``)."""
        for cf in self.files:
            if families and cf.family not in families:
                continue
            for case in self.read(cf):
                if case.get("level") in levels and (not ids or selects(ids, case.get("id"))):
                    yield case


def selects(ids: tuple[str, ...], case_id: Any) -> bool:
    """Whether a ``--case`` selection takes the case ``case_id``: one of ``ids`` is it, or is
    a prefix of it ending in ``/``."""
    return isinstance(case_id, str) and any(
        case_id == i or (i.endswith("/") and case_id.startswith(i)) for i in ids
    )


def without_expectation(case: Mapping[str, Any]) -> dict[str, Any]:
    """The case as an implementation receives it."""
    return {k: v for k, v in case.items() if k not in ("expect", "description")}
