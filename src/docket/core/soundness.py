"""Static soundness of a family's migrations: what the operations claim, checked on the schemas.

Nothing here runs a migration on a container. For each edge written as operations
(:mod:`docket.core.migrations`), in both directions:

- every operation's field exists where it runs (in the source version's shape, as the
  operations before it left it) and its result has a place in the target version's schema;
- every ``add`` default, every ``map`` output and the ``convert`` output of the values the
  source schema names (``const``, ``enum``, ``default``, ``examples``) validate against the
  target schema at that field;
- what a direction cannot give back is worked out from the two schemas: a field or section
  it drops (unless its schema allows one value only), values a ``map`` merges, a type or
  range the other version cannot hold (:func:`docket.core.compat.diff_schemas`);
- an edge declared ``exact`` loses nothing either way; a lossy edge declares each data loss,
  and each loss it declares is one the comparison finds (data, or a field the older version's
  restore policy no longer restores; a converted field may always be named). A converter
  that the schemas show does not give back every value (``string-to-int`` from strings such
  as ``'00'``, :mod:`docket.core.conversions`) loses that field; one they cannot judge is
  left to the property suite.

Each problem is an :class:`Unsoundness` naming the family, the edge as the operation runs
(``3 -> 2`` for a downgrade), the operation and the ``$``-path, with a hint. The registry
raises them as :class:`~docket.core.errors.UnsoundMigration`; ``docket check`` lists them.

The work is in three rooms: :mod:`docket.core.shape` (a schema's shape, which each operation's
:meth:`~docket.core.operations.Operation.reshape` changes), :mod:`docket.core._direction` (the
checks of one direction) and this module (an edge's two directions judged together, a family).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from docket.core._direction import Direction
from docket.core._direction import Unsoundness as Unsoundness
from docket.core.errors import Segments, json_path, show
from docket.core.family import Family
from docket.core.losses import Loss, named_places, policy_losses, related
from docket.core.losses import mentions as mentions
from docket.core.migrations import BUILTIN_CONVERTERS, Converter, Migration
from docket.core.shape import member_schema as member_schema
from docket.core.shape import props
from docket.core.versions import Version

# --- a family --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeReport:
    """What the comparison found for one edge."""

    migration: Migration
    findings: tuple[Unsoundness, ...]
    upgrade_losses: tuple[Loss, ...]
    downgrade_losses: tuple[Loss, ...]
    policy_losses: tuple[str, ...]
    converted: frozenset[str]
    unproven: frozenset[str] = frozenset()
    """Converted fields the schemas show neither exact nor lossy (a converter of your own, a
    pattern docket does not recognise): the property suite tests them."""

    @property
    def losses(self) -> tuple[Loss, ...]:
        """Everything a round trip (either way) may not give back."""
        return (*self.downgrade_losses, *self.upgrade_losses)


def check_edge(
    family: Family,
    migration: Migration,
    converters: Mapping[str, Converter] = BUILTIN_CONVERTERS,
) -> EdgeReport:
    """The static findings of one edge, and what each direction loses."""
    m = migration
    findings: list[Unsoundness] = []
    up_declared = m.origin == "document" or bool(m.upgrade_operations)
    down_declared = m.downgrade is not None and (
        m.origin == "document" or bool(m.downgrade_operations)
    )
    up = Direction(family, m.source, m.target, m.upgrade_operations, "upgrade", converters)
    down = Direction(family, m.target, m.source, m.downgrade_operations, "downgrade", converters)
    if up_declared:
        up.run()
        findings += up.findings
    if not down_declared:
        up_only = (frozenset(up.converted), frozenset(up.unproven))
        return EdgeReport(m, tuple(findings), tuple(up.losses), (), (), *up_only)
    down.run()
    findings += down.findings
    policy = tuple(policy_losses(family, m.target, m.source))
    converted = frozenset(up.converted | down.converted)
    unproven = frozenset(up.unproven | down.unproven)
    report = EdgeReport(m, (), tuple(up.losses), tuple(down.losses), policy, converted, unproven)
    if up_declared:
        findings += _judge(family, report)
    return replace(report, findings=tuple(findings))


def _judge(family: Family, report: EdgeReport) -> list[Unsoundness]:
    m = report.migration
    out: list[Unsoundness] = []

    def add(
        src: Version, dst: Version, op: str, segs: Segments, why: str, hint: str, kind: str
    ) -> None:
        out.append(Unsoundness(family.name, src, dst, op, segs, why, hint, kind))

    if m.exact:
        for loss, (src, dst) in [
            *((x, (m.target, m.source)) for x in report.downgrade_losses),
            *((x, (m.source, m.target)) for x in report.upgrade_losses),
        ]:
            add(
                src,
                dst,
                loss.operation,
                loss.segments,
                f"the edge is declared exact, but {loss.reason}",
                f"declare the downgrade lossy and list {show(loss.where)} in its losses, or "
                f"give version {show(dst)} a place for it",
                "exact-but-lossy",
            )
        return out
    declared = m.losses
    for loss, (src, dst) in [
        *((x, (m.target, m.source)) for x in report.downgrade_losses),
        *((x, (m.source, m.target)) for x in report.upgrade_losses),
    ]:
        if not any(mentions(text, loss.where) for text in declared):
            add(
                src,
                dst,
                loss.operation,
                loss.segments,
                f"{loss.reason}, and the downgrade's losses do not name {show(loss.where)}",
                f"add {show(loss.where)} to the downgrade's losses",
                "undeclared-loss",
            )
    found = [x.where for x in report.losses] + list(report.policy_losses)
    found += list(report.converted)
    members = list(props(family.schema(m.target)))
    derived = tuple(loss for op in reversed(m.upgrade_operations) for loss in op.losses())
    if declared in (derived, ("the downgrade is declared lossy",)):
        declared = ()  # worked out by build_migration, not declared by the author
    for i, text in enumerate(declared):
        for place in named_places(text, members):
            if not any(related(place, where) for where in found):
                add(
                    m.target,
                    m.source,
                    "downgrade",
                    ("migration", "downgrade", "losses", i),
                    f"the declared loss {show(text)} names {show(place)}, which the comparison of "
                    f"versions {show(m.target)} and {show(m.source)} does not find lost",
                    "drop it from the losses, or fix the name",
                    "loss-not-found",
                )
    if not found and m.downgrade is not None:
        add(
            m.target,
            m.source,
            "downgrade",
            ("migration", "downgrade", "kind"),
            f"the edge is declared lossy, but version {show(m.source)} holds everything version "
            f"{show(m.target)} does and restores no less",
            'declare the downgrade "exact"',
            "loses-nothing",
        )
    return out


def check_family(
    family: Family, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS
) -> list[Unsoundness]:
    """Every static finding of a family's migrations, edge by edge (oldest first)."""
    out: list[Unsoundness] = []
    for version in family.versions:
        if version in family.graph.edges:
            out.extend(check_edge(family, family.migration(version), converters).findings)
    return out


def edge_losses(
    family: Family, migration: Migration, converters: Mapping[str, Converter] = BUILTIN_CONVERTERS
) -> EdgeReport:
    """What each direction of ``migration`` loses, as the comparison finds it."""
    return check_edge(family, migration, converters)


def json_place(loss: Loss) -> str:
    return json_path(loss.segments)
