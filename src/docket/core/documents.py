"""Reading schema directories: the one module of the core that touches the file system.

A schema directory holds one folder per family::

    schemas/<family>/manifest.json      versions, current, released fingerprints
    schemas/<family>/<version>.json     one version document per version
    schemas/<family>/golden/<version>/  golden containers of released versions

Every manifest and document is checked against the metaschema in ``metaschema/`` as it is
read. The result is plain data (:class:`FamilySource`) that the registry builds on.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs

from docket.core.codec import Limits, canonical, parse
from docket.core.errors import ParseError, SchemaDocumentError
from docket.core.versions import Version, VersionScheme

_DOC_LIMITS = Limits(max_bytes=64 * 1024 * 1024, max_depth=64, max_keys=100_000)
MANIFEST = "manifest.json"
GOLDEN = "golden"


def _data_dir(name: str) -> Path:
    """A bundled data folder: inside the wheel, or at the repository top in a checkout."""
    packaged = resources.files("docket").joinpath("_data", name)
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / name
    if checkout.is_dir():
        return checkout
    raise SchemaDocumentError(name, f"bundled {name!r} folder not found", hint="reinstall docket")


def bundled_schemas() -> Path:
    return _data_dir("schemas")


def bundled_metaschema() -> Path:
    return _data_dir("metaschema")


@functools.cache
def _metaschema(name: str) -> dict[str, Any]:
    return parse((bundled_metaschema() / name).read_bytes(), _DOC_LIMITS)


@functools.cache
def _metaschema_fast(name: str) -> Any:
    return jsonschema_rs.validator_for(_metaschema(name), validate_formats=True)


@functools.cache
def _metaschema_reference(name: str) -> Any:
    # jsonschema (with its format checkers) is imported only when a document is invalid:
    # importing it costs more than every other part of a docket command's start.
    import jsonschema

    cls = jsonschema.Draft202012Validator
    cls.check_schema(_metaschema(name))
    return cls(_metaschema(name), format_checker=cls.FORMAT_CHECKER)


def check_against_metaschema(document: Mapping[str, Any], name: str, source: str) -> None:
    """Raise :class:`SchemaDocumentError` for the first metaschema violation (best match)."""
    if _metaschema_fast(name).is_valid(document):
        return
    import jsonschema

    validator = _metaschema_reference(name)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        raise SchemaDocumentError(
            source,
            error.message,
            path=tuple(error.absolute_path),
            hint=f"see metaschema/{name}",
        )


def fingerprint(document: Mapping[str, Any]) -> str:
    """The SHA-256 of a document's canonical bytes, as written in manifests."""
    return "sha256:" + hashlib.sha256(canonical(document)).hexdigest()


def version_text(version: Version) -> str:
    return str(version)


@dataclass(frozen=True)
class FamilySource:
    """Everything read from one family's folder, checked against the metaschema."""

    name: str
    directory: Path | None
    scheme: VersionScheme
    versions: tuple[Version, ...]
    current: Version
    released: Mapping[str, str]
    documents: Mapping[Version, Mapping[str, Any]]
    description: str = ""
    golden: Mapping[Version, tuple[Path, ...]] = field(default_factory=dict)

    def fingerprints(self) -> dict[Version, str]:
        return {v: fingerprint(doc) for v, doc in self.documents.items()}

    def fingerprint_findings(self) -> Iterator[str]:
        """A message for each released version whose document changed since release."""
        prints = self.fingerprints()
        for text, expected in self.released.items():
            match = [v for v in self.versions if version_text(v) == text]
            if not match:
                yield f"{self.name}: released version {text} has no document"
            elif prints[match[0]] != expected:
                yield (
                    f"{self.name}: released version {text} changed (fingerprint "
                    f"{prints[match[0]]}, manifest says {expected}); released versions are "
                    "frozen: add a new version instead"
                )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return parse(path.read_bytes(), _DOC_LIMITS)
    except ParseError as err:
        raise SchemaDocumentError(str(path), str(err)) from None
    except OSError as err:
        raise SchemaDocumentError(str(path), f"cannot read: {err.strerror}") from None


def read_family(directory: Path) -> FamilySource:
    """Read and check one family folder."""
    manifest_path = directory / MANIFEST
    manifest = _read_json(manifest_path)
    check_against_metaschema(manifest, "manifest.schema.json", str(manifest_path))
    scheme = VersionScheme(manifest["version_scheme"])
    name = manifest["family"]
    if name != directory.name:
        raise SchemaDocumentError(
            str(manifest_path),
            f"family {name!r} lives in folder {directory.name!r}",
            path=("family",),
            hint="name the folder after the family",
        )
    versions = tuple(manifest["versions"])
    for i, v in enumerate(versions):
        if not scheme.is_well_formed(v):
            raise SchemaDocumentError(
                str(manifest_path),
                f"version {v!r} is not {scheme.describe()}",
                path=("versions", i),
            )
    documents: dict[Version, Mapping[str, Any]] = {}
    golden: dict[Version, tuple[Path, ...]] = {}
    for v in versions:
        doc_path = directory / f"{version_text(v)}.json"
        if not doc_path.is_file():
            raise SchemaDocumentError(
                str(manifest_path),
                f"no document for version {v!r}",
                hint=f"create {doc_path.name}",
            )
        doc = _read_json(doc_path)
        check_against_metaschema(doc, "version-document.schema.json", str(doc_path))
        if doc["family"] != name or doc["version"] != v or type(doc["version"]) is not type(v):
            raise SchemaDocumentError(
                str(doc_path),
                f"document says {doc['family']!r} version {doc['version']!r}, "
                f"manifest expects {name!r} version {v!r}",
                path=("version",),
            )
        const = doc["schema"]["properties"]["version"]["const"]
        if const != v or type(const) is not type(v):
            raise SchemaDocumentError(
                str(doc_path),
                f"schema's version const {const!r} is not {v!r}",
                path=("schema", "properties", "version", "const"),
            )
        documents[v] = doc
        gdir = directory / GOLDEN / version_text(v)
        if gdir.is_dir():
            golden[v] = tuple(sorted(gdir.glob("*.json")))
    return FamilySource(
        name=name,
        directory=directory,
        scheme=scheme,
        versions=versions,
        current=manifest["current"],
        released=dict(manifest["released"]),
        documents=documents,
        description=manifest.get("description", ""),
        golden=golden,
    )


def read_schema_dir(path: Path) -> list[FamilySource]:
    """Read every family folder (one holding ``manifest.json``) under ``path``."""
    if not path.is_dir():
        raise SchemaDocumentError(str(path), "not a directory", hint="pass a schema directory")
    return [read_family(d) for d in sorted(path.iterdir()) if (d / MANIFEST).is_file()]


def read_golden(path: Path) -> bytes:
    return path.read_bytes()
