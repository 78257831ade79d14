"""The registry: an immutable value holding every family, its migrations and restore rules.

Built from a schema directory (the bundled one or your own) plus Python-registered migrations,
rules and converters. Adding something returns a new registry; each build checks every
family's migration graph and policies.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docket.core.codec import DEFAULT_LIMITS, Limits
from docket.core.converters import BUILTIN_CONVERTERS, Converter
from docket.core.documents import FamilySource, bundled_schemas, read_schema_dir
from docket.core.errors import (
    DocketError,
    SchemaDocumentError,
    UnknownFamily,
    UnsoundMigration,
    show,
)
from docket.core.family import Family
from docket.core.graph import PendingEdge, VersionGraph
from docket.core.rules import BUILTIN_RULES, NamedRule, RuleFunction
from docket.core.versions import Version

# The operations and the migrations compiled from them are imported when an edge is
# compiled: a bundled family's document edges wait until one is used (see ``_build``).
if TYPE_CHECKING:
    from docket.core.migrations import Downgrade, FieldRef, Migration, Operation, Transform


@dataclass(frozen=True)
class Registry:
    """Families by name. Build one with :func:`load_registry`."""

    sources: Mapping[str, FamilySource]
    migrations: tuple[Migration, ...] = ()
    """Python-registered migrations (document migrations are compiled from the sources)."""
    rules: Mapping[str, NamedRule] = field(default_factory=lambda: dict(BUILTIN_RULES))
    converters: Mapping[str, Converter] = field(default_factory=lambda: dict(BUILTIN_CONVERTERS))
    signing_key: bytes | None = field(default=None, repr=False)
    limits: Limits = DEFAULT_LIMITS
    check_soundness: bool = True
    """Check every migration against the schemas as the registry is built
    (:mod:`docket.core.soundness`). Off for a registry that only validates containers at
    their own version (``docket validate``: no verdict involves a migration), and to test the
    checks that run containers; ``docket check`` reports the findings one by one."""
    _families: dict[str, Family] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name in self.sources:
            self._families[name] = self._build(name)

    def _build(self, name: str) -> Family:
        src = self.sources[name]
        edges: list[Migration | PendingEdge] = []
        versions = list(src.versions)
        # A bundled family's edges are known to compile with the built-in converters (the
        # tests compile and check them): they are compiled when first used, so a registry
        # that only validates containers at their own version loads no operations. Any
        # other family's edges are compiled now, so a bad migration is refused as the
        # registry is built.
        later = _bundled(src) and dict(self.converters) == BUILTIN_CONVERTERS
        for version, doc in src.documents.items():
            spec = doc.get("migration")
            if spec is None:
                continue
            args = (src, name, spec["from"], version, spec, self.converters)
            if later:
                edges.append(
                    PendingEdge(spec["from"], version, functools.partial(_document_edge, *args))
                )
            else:
                edges.append(_document_edge(*args))
        edges.extend(m for m in self.migrations if m.family == name)
        graph = VersionGraph.build(name, src.scheme, versions, src.current, edges)
        family = Family(src, graph, self.rules, self.signing_key, self.limits)
        if self.check_soundness:
            # Imported here: a registry built without the check (``docket validate``'s, whose
            # verdicts involve no migration) does not pay for loading it.
            from docket.core.soundness import check_family

            findings = check_family(family, self.converters)
            if findings:
                raise UnsoundMigration(name, findings)
        return family

    # --- questions ---------------------------------------------------------------------------

    def families(self) -> list[str]:
        return sorted(self._families)

    def family(self, name: str) -> Family:
        try:
            return self._families[name]
        except KeyError:
            raise UnknownFamily(name, self.families()) from None

    def __contains__(self, name: object) -> bool:
        return name in self._families

    def versions(self, name: str) -> tuple[Version, ...]:
        return self.family(name).versions

    def current(self, name: str) -> Version:
        return self.family(name).current

    def path(self, name: str, source: Version, target: Version) -> list[tuple[Migration, bool]]:
        """The migration steps from ``source`` to ``target`` (True marks an upgrade)."""
        family = self.family(name)
        family.spec(source)
        family.spec(target)
        return family.graph.path(source, target)

    # --- new registries ----------------------------------------------------------------------

    def with_migration(
        self,
        family: str,
        source: Version,
        target: Version,
        upgrade: Transform | Sequence[Operation],
        downgrade: Downgrade = None,
        *,
        exact: bool = False,
        losses: Sequence[str] = (),
        moves: Mapping[FieldRef, FieldRef] | None = None,
    ) -> Registry:
        """A registry that also has this Python migration (an edge ``source`` -> ``target``).

        ``upgrade`` is a function over the container's data or a list of operations
        (:class:`~docket.core.migrations.Add`, ``Rename``, ...). ``downgrade`` is a function,
        operations, ``"inverse"`` (undo the upgrade's operations) or None. Written as
        operations, the edge gets its moves (restore allowlists follow renamed and moved
        fields) and, when lossy without ``losses``, what its operations lose, as a document's
        edge does.
        """
        from docket.core.migrations import build_migration

        edge = build_migration(
            family,
            source,
            target,
            upgrade,
            downgrade,
            converters=self.converters,
            exact=exact,
            losses=losses,
            moves=moves,
        )
        return replace(self, migrations=(*self.migrations, edge))

    def with_rule(
        self,
        name: str,
        apply: RuleFunction,
        writes: Callable[[str, Mapping[str, Any]], Iterable[tuple[str, str]]] | None = None,
    ) -> Registry:
        """A registry that also knows the named restore rule ``name``."""
        rule = NamedRule(name, apply, writes or (lambda s, p: ()), apply.__doc__ or "")
        return replace(self, rules={**self.rules, name: rule})

    def with_converter(
        self, name: str, forward: Callable[[Any], Any], inverse: str | None = None
    ) -> Registry:
        """A registry whose ``convert`` operations may also name ``name``."""
        return replace(
            self, converters={**self.converters, name: Converter(name, forward, inverse)}
        )

    def with_signing_key(self, key: bytes | None) -> Registry:
        """A registry that signs what it writes and refuses unsigned or badly signed input."""
        return replace(self, signing_key=key)

    def with_limits(self, limits: Limits) -> Registry:
        return replace(self, limits=limits)

    def with_schemas(self, path: str | Path) -> Registry:
        """A registry that also has (or overrides) the families found under ``path``."""
        extra = {s.name: s for s in read_schema_dir(Path(path))}
        return replace(self, sources={**self.sources, **extra})


@functools.cache
def _bundled_dir() -> Path | None:
    """The bundled schema directory (None: an installation without it)."""
    try:
        return bundled_schemas()
    except SchemaDocumentError:
        return None


def _bundled(source: FamilySource) -> bool:
    """Whether ``source`` was read from the bundled schema directory."""
    return source.directory is not None and source.directory.parent == _bundled_dir()


def _document_edge(src: FamilySource, *args: Any) -> Migration:
    """:func:`~docket.core.migrations.migration_from_document` (family, source, target,
    spec, converters), its module imported on first use; an error in the migration is
    placed in the target version's document (``FILE:LINE:COLUMN``)."""
    from docket.core.migrations import migration_from_document

    try:
        return migration_from_document(*args)
    except SchemaDocumentError as err:
        raise src.refused(args[2], err) from None


def declared_members(family: Family) -> frozenset[str]:
    """The container members some version of ``family`` declares (its schemas' top-level
    ``properties``)."""
    out: set[str] = set()
    for version in family.versions:
        props = family.schema(version).get("properties")
        if isinstance(props, Mapping):
            out.update(props)
    return frozenset(out)


def foreign_members(registry: Registry, default: str) -> dict[str, tuple[str, ...]]:
    """The members family ``default`` never declares that another family of ``registry``
    does, each with the families declaring it (in name order).

    A container without a ``family`` member is read as ``default``; one holding any of these
    belongs to another family (whose name it does not give), not to ``default``, even where
    ``default`` allows any member (backup-metadata's Cinder versions 1 and 2 do). An empty
    mapping (no other family) costs a caller nothing per container."""
    own = declared_members(registry.family(default))
    out: dict[str, list[str]] = {}
    for name in registry.families():
        if name == default:
            continue
        try:
            other = registry.family(name)
        except DocketError:
            continue  # a family that cannot be built claims nothing (its commands say why)
        for member in declared_members(other) - own:
            out.setdefault(member, []).append(name)
    return {member: tuple(names) for member, names in out.items()}


def foreign_family(
    registry: Registry, obj: Mapping[str, Any], default: str, foreign: Mapping[str, Sequence[str]]
) -> tuple[str, str] | None:
    """Why a container naming no family is not one of ``default``, and the hint (None: it
    may be one): it holds members ``default`` never declares and another family does
    (``foreign``, from :func:`foreign_members`). ``docket migrate``, ``inspect`` and
    ``validate`` judge it alike."""
    if foreign.keys().isdisjoint(obj):
        return None
    own = declared_members(registry.family(default))
    strange = sorted(m for m in obj if m not in own)
    hits = {name for m in strange for name in foreign.get(m, ())}
    owners = [name for name in registry.families() if name in hits]
    reason = (
        f"the container names no family, and {default}, the default, has no member "
        + ", ".join(show(m) for m in strange[:5])
        + ("..." if len(strange) > 5 else "")
    )
    hint = (
        "pass "
        + " or ".join(f"--family {name}" for name in owners[:3])
        + f"; --family {default} reads it as {default} all the same"
    )
    return reason, hint


def load_registry(
    path: str | Path | None = None,
    *,
    migrations: Iterable[Migration] = (),
    rules: Iterable[NamedRule] = (),
    converters: Iterable[Converter] = (),
    signing_key: bytes | None = None,
    limits: Limits = DEFAULT_LIMITS,
    check_soundness: bool = True,
) -> Registry:
    """Build a registry from a schema directory (the bundled schemas when ``path`` is None).

    Families whose documents need Python migrations, rules or converters get them here, since
    every family is checked as the registry is built: its graph, its policies, and its
    migrations against its schemas (:class:`~docket.core.errors.UnsoundMigration`;
    ``check_soundness=False`` skips the last, for a registry that only validates containers
    or to test what only running containers shows).
    """
    directory = bundled_schemas() if path is None else Path(path)
    sources = {s.name: s for s in read_schema_dir(directory)}
    return Registry(
        sources,
        tuple(migrations),
        rules={**BUILTIN_RULES, **{r.name: r for r in rules}},
        converters={**BUILTIN_CONVERTERS, **{c.name: c for c in converters}},
        signing_key=signing_key,
        limits=limits,
        check_soundness=check_soundness,
    )
