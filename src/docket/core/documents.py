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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs

from docket.core._rs import instance_path
from docket.core.codec import Limits, canonical, parse
from docket.core.errors import ParseError, SchemaDocumentError, UnsafeFile, show
from docket.core.versions import Version, VersionScheme
from docket.fs import read_bounded

_DOC_LIMITS = Limits(max_bytes=64 * 1024 * 1024, max_depth=64, max_keys=100_000)
MANIFEST = "manifest.json"
GOLDEN = "golden"


def _data_dir(name: str) -> Path:
    """A bundled data folder: inside the wheel, or at the repository top in a checkout.

    Found next to this file rather than through :mod:`importlib.resources`: the wheel installs
    it as a plain folder, and that import costs every ``docket`` command about 10 ms."""
    here = Path(__file__).resolve()
    packaged = here.parents[1] / "_data" / name
    if packaged.is_dir():
        return packaged
    checkout = here.parents[3] / name
    if checkout.is_dir():
        return checkout
    raise SchemaDocumentError(
        name, f"bundled {show(name)} folder not found", hint="reinstall docket"
    )


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


_WEAK = frozenset({"anyOf", "oneOf", "if", "then", "else", "not", "allOf"})


def _relevance(error: Any) -> tuple[int, bool]:
    # The deepest place first (the member that is wrong, not the object holding it), and a
    # keyword's own error before an anyOf/oneOf that only says no branch matched.
    path = error.schema_path
    return len(error.instance_path), not (path and path[-1] in _WEAK)


def check_against_metaschema(document: Mapping[str, Any], name: str, source: str) -> None:
    """Raise :class:`SchemaDocumentError` for the most telling metaschema violation (the
    deepest place; jsonschema-rs decides and explains, as for containers)."""
    validator = _metaschema_fast(name)
    if validator.is_valid(document):
        return
    errors = list(validator.iter_errors(document))
    error = max(errors, key=_relevance) if errors else None
    raise SchemaDocumentError(
        source,
        error.message if error is not None else f"the document does not match {name}",
        path=instance_path(error, document) if error is not None else (),
        hint=f"see metaschema/{name}",
    )


def fingerprint(document: Mapping[str, Any]) -> str:
    """The SHA-256 of a document's canonical bytes, as written in manifests."""
    import hashlib  # only manifests need it: not imported by every command

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
    readers: Mapping[str, tuple[Version, ...]] = field(default_factory=dict)
    """Named readers (``"cinder"``, ``"docket"``) and the versions each accepts, in the
    family's order; empty when the manifest declares none."""

    def fingerprints(self) -> dict[Version, str]:
        return {v: fingerprint(doc) for v, doc in self.documents.items()}

    def document_of(self, version: Version) -> str:
        """The file ``version``'s document was read from, as the source of an error about
        it (``FAMILY vVERSION`` for a family built without a folder)."""
        if self.directory is None:
            return f"{self.name} v{version_text(version)}"
        return str(self.directory / f"{version_text(version)}.json")

    def refused(self, version: Version, err: SchemaDocumentError) -> SchemaDocumentError:
        """``err``, about ``version``'s document, sourced at its file and :func:`placed` in
        it (an error raised where the file was not known names ``migration`` or nothing)."""
        out = SchemaDocumentError(
            self.document_of(version), err.reason, path=err.segments, hint=err.hint
        )
        return out if self.directory is None else placed(out)

    def changed_releases(self) -> Iterator[tuple[str, str | None, str]]:
        """``(version, fingerprint now, fingerprint released)`` for each released version
        whose document changed since release (fingerprint None: it has no document)."""
        prints = self.fingerprints()
        for text, expected in self.released.items():
            match = [v for v in self.versions if version_text(v) == text]
            if not match:
                yield text, None, expected
            elif prints[match[0]] != expected:
                yield text, prints[match[0]], expected

    def fingerprint_findings(self) -> Iterator[str]:
        """A message for each released version whose document changed since release."""
        for text, found, expected in self.changed_releases():
            if found is None:
                yield f"{self.name}: released version {text} has no document"
            else:
                yield (
                    f"{self.name}: released version {text} changed (fingerprint "
                    f"{found}, manifest says {expected}); released versions are "
                    "frozen: add a new version instead"
                )


def parse_error_text(raw: bytes, err: ParseError) -> str:
    """A document's JSON syntax error as an author reads it: line and column, 1-based."""
    if err.line is not None and err.column is not None:
        return f"invalid JSON at line {err.line}, column {err.column}: {err.reason}"
    if err.position is None:
        return f"invalid JSON: {err.reason}"
    before = raw[: err.position].decode("utf-8", errors="replace")  # a byte offset
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return f"invalid JSON at line {line}, column {column}: {err.reason}"


def read_document(path: Path) -> dict[str, Any]:
    """A manifest or version document, parsed (a :class:`SchemaDocumentError` says where a
    syntax error is, by line and column)."""
    raw = _read(path, _DOC_LIMITS.max_bytes, "schema document")
    try:
        return parse(raw, _DOC_LIMITS)
    except ParseError as err:
        raise SchemaDocumentError(str(path), parse_error_text(raw, err)) from None


_read_json = read_document


def placed(err: SchemaDocumentError) -> SchemaDocumentError:
    """``err`` with the line and column of its ``$``-path in its file (read again: errors
    only), when its source is a file of a schema directory that holds that place."""
    if err.line is not None or not err.segments:
        return err
    try:
        raw = _read(Path(err.source), _DOC_LIMITS.max_bytes, "schema document")
    except SchemaDocumentError:
        return err
    from docket.core.locate import locate  # the error path only

    found = locate(raw, [err.segments]).get(tuple(err.segments))
    if found is not None:
        err.line, err.column = found
    return err


def read_family(directory: Path) -> FamilySource:
    """Read and check one family folder (an error about a document is :func:`placed`)."""
    try:
        return _read_family(directory)
    except SchemaDocumentError as err:
        placed(err)
        raise


def _read_family(directory: Path) -> FamilySource:
    manifest_path = directory / MANIFEST
    manifest = _read_json(manifest_path)
    check_against_metaschema(manifest, "manifest.schema.json", str(manifest_path))
    scheme = VersionScheme(manifest["version_scheme"])
    name = manifest["family"]
    if name != directory.name:
        raise SchemaDocumentError(
            str(manifest_path),
            f"family {show(name)} lives in folder {show(directory.name)}",
            path=("family",),
            hint="name the folder after the family",
        )
    versions = tuple(manifest["versions"])
    for i, v in enumerate(versions):
        if not scheme.is_well_formed(v):
            raise SchemaDocumentError(
                str(manifest_path),
                f"version {show(v)} is not {scheme.describe()}",
                path=("versions", i),
            )
    documents: dict[Version, Mapping[str, Any]] = {}
    golden: dict[Version, tuple[Path, ...]] = {}
    for v in versions:
        doc_path = directory / f"{version_text(v)}.json"
        if not doc_path.is_file():
            raise SchemaDocumentError(
                str(manifest_path),
                f"no document for version {show(v)}",
                hint=f"create {doc_path.name}",
            )
        doc = _read_json(doc_path)
        check_against_metaschema(doc, "version-document.schema.json", str(doc_path))
        if doc["family"] != name or doc["version"] != v or type(doc["version"]) is not type(v):
            raise SchemaDocumentError(
                str(doc_path),
                f"document says {show(doc['family'])} version {show(doc['version'])}, "
                f"manifest expects {show(name)} version {show(v)}",
                path=("version",),
            )
        const = doc["schema"]["properties"]["version"]["const"]
        if const != v or type(const) is not type(v):
            raise SchemaDocumentError(
                str(doc_path),
                f"schema's version const {show(const)} is not {show(v)}",
                path=("schema", "properties", "version", "const"),
            )
        documents[v] = doc
        gdir = directory / GOLDEN / version_text(v)
        if gdir.is_dir():
            golden[v] = tuple(json_files(gdir))
    readers = _readers(manifest.get("readers", {}), versions, str(manifest_path))
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
        readers=readers,
    )


def _readers(
    declared: Mapping[str, list[Version]], versions: tuple[Version, ...], source: str
) -> dict[str, tuple[Version, ...]]:
    """A manifest's ``readers``, each reader's versions checked against the family's."""
    out: dict[str, tuple[Version, ...]] = {}
    for reader, accepted in declared.items():
        for i, v in enumerate(accepted):
            if not any(v == known and type(v) is type(known) for known in versions):
                raise SchemaDocumentError(
                    source,
                    f"reader {show(reader)} accepts version {show(v)}, which the family does not "
                    "have",
                    path=("readers", reader, i),
                    hint="list versions from `versions`",
                )
        out[reader] = tuple(v for v in versions if v in accepted)
    return out


def read_schema_dir(path: Path) -> list[FamilySource]:
    """Read every family folder (one holding ``manifest.json``) under ``path``."""
    if not path.is_dir():
        raise SchemaDocumentError(str(path), "not a directory", hint="pass a schema directory")
    if (path / MANIFEST).is_file():
        raise SchemaDocumentError(
            str(path),
            "this is a family folder (it holds manifest.json), not a schema directory",
            hint=f"pass the directory holding it: {path.parent}",
        )
    return [read_family(d) for d in sorted(path.iterdir()) if (d / MANIFEST).is_file()]


def json_files(folder: Path) -> list[Path]:
    """The ``*.json`` files in a folder of a schema directory (golden containers), sorted."""
    return sorted(folder.glob("*.json"))


def subfolders(folder: Path) -> list[Path]:
    """The folders in a folder of a schema directory (a family's golden versions), sorted;
    none when ``folder`` is not a directory."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir())


def _read(path: Path, limit: int, what: str) -> bytes:
    """A file of a schema directory, whole: a link is followed to a regular file, but a FIFO
    (which would block), a device (``/dev/zero``: endless) or a file over ``limit`` is a
    :class:`SchemaDocumentError`, as is a file that cannot be read."""
    try:
        return read_bounded(path, limit, what=what, follow=True)
    except UnsafeFile as err:
        # The error names the path already: the reason says only what the file is.
        raise SchemaDocumentError(str(path), f"{err.what} is {err.found}") from None
    except OSError as err:
        raise SchemaDocumentError(str(path), f"cannot read: {err.strerror}") from None


def read_golden(path: Path) -> bytes:
    """A golden container's bytes (at most the size a schema document may have)."""
    return _read(path, _DOC_LIMITS.max_bytes, "golden container")
