"""Migrations between adjacent versions, and the version graph they form.

An edge is written as declarative operations (:mod:`docket.core.operations`, re-exported
here), compiled to functions over a container's JSON data, or as plain Python functions. The
graph is checked without I/O: every problem (duplicate, dangling, non-adjacent or backward
edge, several heads, a version that cannot reach current) is its own typed error.
Data comes in through a loader.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from docket.core.converters import BUILTIN_CONVERTERS as BUILTIN_CONVERTERS
from docket.core.converters import Converter as Converter
from docket.core.errors import MigrationError, PathSegment, SchemaDocumentError, show
from docket.core.graph import VersionGraph as VersionGraph
from docket.core.operations import OPERATIONS as OPERATIONS
from docket.core.operations import Add as Add
from docket.core.operations import Convert as Convert
from docket.core.operations import Drop as Drop
from docket.core.operations import FieldRef as FieldRef
from docket.core.operations import JSONObject as JSONObject
from docket.core.operations import LossKind as LossKind
from docket.core.operations import Map as Map
from docket.core.operations import Move as Move
from docket.core.operations import Operation as Operation
from docket.core.operations import Remove as Remove
from docket.core.operations import Rename as Rename
from docket.core.operations import Transform as Transform
from docket.core.operations import compile_operations as compile_operations
from docket.core.operations import inverse_operations as inverse_operations
from docket.core.operations import json_copy as json_copy
from docket.core.operations import parse_operations as parse_operations
from docket.core.operations import same_json as same_json
from docket.core.versions import Version

# --- edges and the graph ---------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """An edge between adjacent versions: an upgrade and optionally a downgrade."""

    family: str
    source: Version
    target: Version
    upgrade: Transform
    downgrade: Transform | None = None
    exact: bool = False
    """Whether the downgrade restores exactly what the upgrade received."""
    losses: tuple[str, ...] = ()
    """What a lossy downgrade loses, in words (shown when it is refused)."""
    moves: Mapping[FieldRef, FieldRef] = dataclasses.field(default_factory=dict)
    origin: str = "python"
    upgrade_operations: tuple[Operation, ...] = ()
    """The upgrade as operations, when it was written as operations."""
    downgrade_operations: tuple[Operation, ...] = ()
    declared_losses: tuple[str, ...] = ()
    """The losses the family declares for the downgrade (empty when :attr:`losses` was
    worked out, not declared)."""
    converters: Mapping[str, Converter] = dataclasses.field(
        default_factory=lambda: BUILTIN_CONVERTERS
    )
    """The converters the operations were compiled with."""

    def operations(self, up: bool) -> tuple[Operation, ...]:
        """The operations of one direction (empty when it is a function, or does nothing)."""
        return self.upgrade_operations if up else self.downgrade_operations

    def run_upgrade(self, data: JSONObject, *, owned: bool = False) -> JSONObject:
        """Upgrade ``data``; with ``owned`` the caller hands it over and it may be changed."""
        return self._run(self.upgrade, data, self.source, self.target, owned)

    def run_downgrade(self, data: JSONObject, *, owned: bool = False) -> JSONObject:
        if self.downgrade is None:
            raise MigrationError(self.family, self.target, self.source, "no downgrade is defined")
        return self._run(self.downgrade, data, self.target, self.source, owned)

    def _run(
        self, fn: Transform, data: JSONObject, src: Version, dst: Version, owned: bool
    ) -> JSONObject:
        try:
            out = fn(data if owned else json_copy(data))
        except MigrationError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise MigrationError(self.family, src, dst, f"migration failed: {err}") from None
        if not isinstance(out, dict):
            raise MigrationError(self.family, src, dst, "migration did not return an object")
        out["version"] = dst
        return out


Downgrade = Transform | Sequence[Operation] | Literal["inverse"] | None
"""A downgrade: a function, operations, ``"inverse"`` (undo the upgrade's operations) or None."""
INVERSE: Literal["inverse"] = "inverse"


def build_migration(
    family: str,
    source: Version,
    target: Version,
    upgrade: Transform | Sequence[Operation],
    downgrade: Downgrade = None,
    *,
    converters: Mapping[str, Converter] = BUILTIN_CONVERTERS,
    exact: bool = False,
    losses: Sequence[str] = (),
    moves: Mapping[FieldRef, FieldRef] | None = None,
    origin: str = "python",
) -> Migration:
    """An edge from functions or operations, the same way for documents and Python.

    With operations, the moves of the upgrade are worked out from them, ``"inverse"`` gives
    the downgrade; a lossy downgrade that lists no losses gets those of the operations it
    undoes (or a line saying it is declared lossy).
    """
    up_ops = () if callable(upgrade) else tuple(upgrade)
    carried: dict[FieldRef, FieldRef] = {}
    for op in up_ops:
        carried.update(op.moves())
    carried.update(moves or {})
    down_ops: tuple[Operation, ...] = ()
    undo: Transform | None
    inverse = isinstance(downgrade, str)
    if isinstance(downgrade, str):
        if downgrade != INVERSE or callable(upgrade):
            raise MigrationError(
                family,
                target,
                source,
                f"the downgrade {show(downgrade)} is not a function, operations or 'inverse' "
                "of an upgrade written as operations",
                hint="write the upgrade as operations, or pass a downgrade function",
            )
        down_ops = tuple(inverse_operations(up_ops, converters))
        undo = compile_operations(down_ops, converters)
    elif downgrade is None or callable(downgrade):
        undo = downgrade
    else:
        down_ops = tuple(downgrade)
        undo = compile_operations(down_ops, converters)
    lost = tuple(losses)
    if undo is not None and not exact and not lost:
        if inverse:
            lost = tuple(loss for op in reversed(up_ops) for loss in op.losses())
        lost = lost or ("the downgrade is declared lossy",)
    return Migration(
        family,
        source,
        target,
        upgrade if callable(upgrade) else compile_operations(up_ops, converters),
        undo,
        exact,
        lost,
        carried,
        origin,
        up_ops,
        down_ops,
        tuple(losses) if undo is not None and not exact else (),
        converters,
    )


def _known_converters(
    specs: Any, at: tuple[PathSegment, ...], converters: Mapping[str, Converter]
) -> None:
    """Refuse a ``convert`` entry of a document's operation list (at ``at``) that names a
    converter nobody registered, at its ``converter`` member."""
    for i, entry in enumerate(specs):
        name = entry.get("converter") if entry.get("op") == "convert" else None
        if isinstance(name, str) and name not in converters:
            raise SchemaDocumentError(
                "migration",
                f"unknown converter {show(name)}",
                path=(*at, i, "converter"),
                hint="known converters: " + ", ".join(sorted(converters))
                + "; register your own with load_registry(converters=...)",
            )


def migration_from_document(
    family: str,
    source: Version,
    target: Version,
    spec: Mapping[str, Any],
    converters: Mapping[str, Converter],
) -> Migration:
    """Compile the ``migration`` member of a version document."""
    at: tuple[PathSegment, ...] = ("migration",)
    ups = parse_operations(spec.get("upgrade", ()), (*at, "upgrade"))
    _known_converters(spec.get("upgrade", ()), (*at, "upgrade"), converters)
    down_spec = spec.get("downgrade")
    if down_spec is None:
        return build_migration(
            family, source, target, ups, None, converters=converters, origin="document"
        )
    ops = down_spec["operations"]
    downs: Downgrade = INVERSE
    if ops != INVERSE:
        downs = parse_operations(ops, (*at, "downgrade", "operations"))
        _known_converters(ops, (*at, "downgrade", "operations"), converters)
    return build_migration(
        family,
        source,
        target,
        ups,
        downs,
        converters=converters,
        exact=down_spec["kind"] == "exact",
        losses=down_spec.get("losses", ()),
        origin="document",
    )
