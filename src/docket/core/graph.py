"""The version graph of a family: its versions in order and the migrations between them.

The graph is checked without I/O: every problem (duplicate, dangling, non-adjacent or
backward edge, several heads, a version that cannot reach current) is its own typed error.
The checks need only where each edge goes, so an edge the registry knows compiles (a
bundled family's document edge, :class:`PendingEdge`) is compiled when it is first asked
for: validating containers at their own version (``docket validate``) loads no operations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, KeysView, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docket.core.errors import (
    BackwardEdge,
    DanglingEdge,
    DuplicateEdge,
    NonAdjacentEdge,
    UnreachableVersion,
    VersionAfterCurrent,
    show,
)
from docket.core.versions import Version, VersionScheme

if TYPE_CHECKING:
    from docket.core.migrations import Migration


class PendingEdge:
    """An edge known to compile, compiled by ``compile`` when first asked for (a plain
    class: a named tuple costs every start more to define)."""

    __slots__ = ("compile", "source", "target")

    def __init__(self, source: Version, target: Version, compile: Callable[[], Migration]) -> None:
        self.source, self.target, self.compile = source, target, compile


class Edges(Mapping[Version, "Migration"]):
    """A graph's edges by source version; a :class:`PendingEdge` is compiled (once) when
    it is first looked up."""

    __slots__ = ("_edges",)

    def __init__(self, edges: Mapping[Version, Migration | PendingEdge]) -> None:
        self._edges = dict(edges)

    def __getitem__(self, source: Version) -> Migration:
        edge = self._edges[source]
        if isinstance(edge, PendingEdge):
            edge = self._edges[source] = edge.compile()
        return edge

    def __iter__(self) -> Iterator[Version]:
        return iter(self._edges)

    def __len__(self) -> int:
        return len(self._edges)

    def __contains__(self, source: object) -> bool:
        return source in self._edges

    def keys(self) -> KeysView[Version]:
        return self._edges.keys()

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(frozen=True)
class VersionGraph:
    """The checked chain of versions of one family and the edges between them."""

    family: str
    scheme: VersionScheme
    versions: tuple[Version, ...]
    current: Version
    edges: Mapping[Version, Migration]
    """Keyed by source version."""

    @classmethod
    def build(
        cls,
        family: str,
        scheme: VersionScheme,
        versions: Sequence[Version],
        current: Version,
        migrations: Sequence[Migration | PendingEdge],
    ) -> VersionGraph:
        ordered = tuple(sorted(versions, key=scheme.key))
        if current not in ordered:
            raise DanglingEdge(
                family,
                f"current version {show(current)} is not one of the versions",
                hint="known versions: " + ", ".join(map(show, ordered)),
                versions=(current,),
            )
        index = {v: i for i, v in enumerate(ordered)}
        edges: dict[Version, Migration | PendingEdge] = {}
        for m in migrations:
            edge = (m.source, m.target)
            for end in edge:
                if end not in index:
                    raise DanglingEdge(
                        family,
                        f"migration {show(m.source)} -> {show(m.target)} names unknown version "
                        f"{show(end)}",
                        hint="known versions: " + ", ".join(map(show, ordered)),
                        edge=edge,
                        versions=(end,),
                    )
            if index[m.target] <= index[m.source]:
                raise BackwardEdge(
                    family,
                    f"upgrade {show(m.source)} -> {show(m.target)} does not go to a newer version",
                    hint="declare upgrades old -> new; downgrades belong to the same edge",
                    edge=edge,
                )
            if index[m.target] != index[m.source] + 1:
                skipped = ordered[index[m.source] + 1 : index[m.target]]
                raise NonAdjacentEdge(
                    family,
                    f"migration {show(m.source)} -> {show(m.target)} skips a version "
                    f"({', '.join(map(show, skipped))})",
                    hint="migrations join adjacent versions only",
                    edge=edge,
                    versions=skipped,
                )
            if m.source in edges:
                raise DuplicateEdge(
                    family,
                    f"two migrations from {show(m.source)} to {show(m.target)}",
                    hint="register each edge once (a document and Python both define it?)",
                    edge=edge,
                )
            edges[m.source] = m
        cur = index[current]
        heads = [v for v in ordered[: cur + 1] if v not in edges]
        if ordered[cur + 1 :]:
            raise VersionAfterCurrent(
                family,
                f"versions newer than current {show(current)}: "
                + ", ".join(map(show, ordered[cur + 1 :])),
                hint="make the newest version current",
                versions=ordered[cur + 1 :],
            )
        if len(heads) > 1:
            stuck = [v for v in heads if v != current]
            raise UnreachableVersion(
                family,
                f"no upgrade from {', '.join(map(show, stuck))} towards current {show(current)}",
                hint="add a `migration` to the next version's document, or pass a Python "
                "migration: load_registry(path, migrations=[...]), which the docket command "
                "cannot load; check such a family with docket.authoring.check(path, registry)",
                versions=stuck,
            )
        return cls(family, scheme, ordered, current, Edges(edges))

    def path(self, source: Version, target: Version) -> list[tuple[Migration, bool]]:
        """Edges from ``source`` to ``target``; each with True for an upgrade step."""
        i, j = self.versions.index(source), self.versions.index(target)
        if i <= j:
            return [(self.edges[self.versions[k]], True) for k in range(i, j)]
        return [(self.edges[self.versions[k]], False) for k in range(i - 1, j - 1, -1)]
