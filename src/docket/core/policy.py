"""Restore policies: what a container of a given version may write, section by section.

A :class:`RestorePolicy` is declared in a version document. :meth:`RestorePolicy.plan` turns a
container into a :class:`RestorePlan` — exactly the values a restore writes, per section — by
applying the field allowlist, the unknown-field handling and the named rules, in that order.
It performs no I/O: rules that depend on the restore target read it through :class:`Target`.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from docket.core.errors import UnknownField, UnknownRule, json_path, show

# Defined beside the built-in rules, which a registry needs without the policies.
from docket.core.rules import NamedRule as NamedRule
from docket.core.rules import RuleFunction as RuleFunction

if TYPE_CHECKING:
    from docket.core.family import Container


class Mode(enum.Enum):
    """How a section's values meet what the target already has."""

    UPDATE = "update"
    """Set the given fields; leave every other field as it is."""
    REPLACE = "replace"
    """The target's entries become exactly these: entries the backup lacks are deleted."""
    MERGE = "merge"
    """Add or overwrite the given entries; never delete."""


class Unknown(enum.Enum):
    """What to do with a field the section's schema does not define."""

    REJECT = "reject"
    DROP = "drop"
    KEEP = "keep"


class Target(Protocol):
    """The restore target as rules see it (a store provides one)."""

    @property
    def row(self) -> Mapping[str, Any]:
        """The target's current base values (for volumes: the ``volumes`` row)."""

    def exists(self, kind: str, key: Any) -> bool:
        """Whether a referenced object (e.g. ``volume_types``, an id) exists."""


@dataclass(frozen=True)
class Dropped:
    """A field the restore will not write, and why."""

    section: str
    field: str
    reason: str

    @property
    def path(self) -> str:
        return json_path([self.section, self.field])


@dataclass
class SectionWrite:
    section: str
    mode: Mode
    values: dict[str, Any]


@dataclass
class RestorePlan:
    """What one restore writes: per section, a mode and the values. Built by a policy."""

    family: str
    version: Any
    sections: dict[str, SectionWrite] = field(default_factory=dict)
    _dropped: list[Dropped] = field(default_factory=list, repr=False)
    _deferred: list[tuple[SectionPolicy, tuple[str, ...]]] = field(
        default_factory=list, repr=False, compare=False
    )
    """Sections whose left-out fields are not made into :class:`Dropped` records until asked
    for: (the section's policy, the keys the container had)."""

    @property
    def dropped(self) -> list[Dropped]:
        """Fields the plan leaves out, each with the reason, in the order met (rules may
        append)."""
        if self._deferred:
            made = [
                Dropped(sp.name, key, reason)
                for sp, keys in self._deferred
                for key in keys
                if (reason := sp.left_out(key)) is not None
            ]
            self._dropped[:0] = made
            self._deferred.clear()
        return self._dropped

    @property
    def left_out(self) -> list[Dropped]:
        """:attr:`dropped` less the fields the plan writes all the same (a rule may write a
        field the allowlist leaves out, as Cinder's ``bootable``): what a restore really
        leaves out. ``dropped`` keeps them, as the conformance suite's restore level
        defines it."""
        return [
            d
            for d in self.dropped
            if d.section not in self.sections or d.field not in self.sections[d.section].values
        ]

    def section(self, name: str, mode: Mode = Mode.UPDATE) -> SectionWrite:
        """The write for ``name``, created (empty, ``mode``) when the policy made none."""
        if name not in self.sections:
            self.sections[name] = SectionWrite(name, mode, {})
        return self.sections[name]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dict(w.values) for name, w in self.sections.items()}


@dataclass
class RuleContext:
    """Everything a rule may read, and the plan it may change."""

    section: str
    params: Mapping[str, Any]
    source: Mapping[str, Any]
    """The section as backed up, before filtering."""
    container: Mapping[str, Any]
    plan: RestorePlan
    target: Target | None
    """None means a new volume created for this restore."""


@dataclass(frozen=True)
class RuleRef:
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SectionPolicy:
    name: str
    restore: bool
    fields: tuple[str, ...] = ()
    """Empty means every field of the section."""
    mode: Mode = Mode.UPDATE
    unknown: Unknown = Unknown.DROP
    rules: tuple[RuleRef, ...] = ()
    known: frozenset[str] | None = None
    """Fields the section's schema defines; None for an open map (every key is known)."""

    def allows(self, field_name: str) -> bool:
        return self.restore and (not self.fields or field_name in self.fields)

    @functools.cached_property
    def kept(self) -> frozenset[str] | None:
        """The keys a restore writes when the section has both an allowlist and a schema
        that drops unknown fields, or just one of them; None: every key (that is not
        rejected)."""
        drop = self.known is not None and self.unknown is Unknown.DROP
        allowed = frozenset(self.fields) if self.fields else None
        if drop and allowed is not None:
            assert self.known is not None
            return allowed & self.known
        if drop:
            return self.known
        return allowed

    def left_out(self, key: str) -> str | None:
        """Why ``key`` is not written (None: it is), for keys the section does not reject."""
        if self.known is not None and key not in self.known and self.unknown is Unknown.DROP:
            return "not defined by the schema"
        if self.fields and key not in self.fields:
            return "not in the restore allowlist"
        return None


@dataclass(frozen=True)
class RestorePolicy:
    """The restore policy of one version of a family."""

    family: str
    version: Any
    sections: Mapping[str, SectionPolicy]
    rules: Mapping[str, NamedRule] = field(default_factory=dict, repr=False, compare=False)
    translate: Callable[[RestorePolicy, Any], RestorePolicy] | None = field(
        default=None, repr=False, compare=False
    )
    """Expresses this policy over the shape of another version (set by the family)."""
    shape_version: Any = None
    """The version whose container shape the field names refer to (default ``version``)."""

    @property
    def shape(self) -> Any:
        return self.version if self.shape_version is None else self.shape_version

    def restorable(self) -> dict[str, tuple[str, ...] | None]:
        """Per restored section: the allowlist, or None for "every field"."""
        return {name: (sp.fields or None) for name, sp in self.sections.items() if sp.restore}

    def writable(self) -> set[tuple[str, str]] | None:
        """Every (section, field) a restore could write, or None when a section allows all."""
        out: set[tuple[str, str]] = set()
        for name, sp in self.sections.items():
            if not sp.restore:
                continue
            if not sp.fields:
                return None
            out.update((name, f) for f in sp.fields)
            for ref in sp.rules:
                rule = self.rules.get(ref.name)
                if rule is not None:
                    out.update(rule.writes(name, ref.params))
        return out

    def at_shape(self, version: Any) -> RestorePolicy:
        """This policy with field names carried along the migrations to ``version``'s shape."""
        if version == self.shape or self.translate is None:
            return self
        return self.translate(self, version)

    def plan(self, container: Container, target: Target | None = None) -> RestorePlan:
        """Exactly what restoring ``container`` onto ``target`` writes, per section."""
        policy = self.at_shape(container.version)
        data = container.data
        plan = RestorePlan(self.family, self.version)
        for name, sp in policy.sections.items():
            if not sp.restore or name not in data:
                continue
            source = data[name]
            if not isinstance(source, Mapping):
                continue
            write = plan.section(name, sp.mode)
            if sp.known is not None and sp.unknown is Unknown.REJECT:
                for key in source:
                    if key not in sp.known:
                        raise UnknownField(
                            f"field {show(key)} is not defined by the {show(name)} section's "
                            "schema",
                            path=(name, key),
                            hint="the policy rejects unknown fields; remove it from the container",
                        )
            kept = sp.kept
            if kept is None:
                write.values.update(source)
                continue
            values = {key: value for key, value in source.items() if key in kept}
            write.values.update(values)
            if len(values) < len(source):
                # The Dropped records are made when someone reads plan.dropped.
                plan._deferred.append((sp, tuple(source)))
        for name, sp in policy.sections.items():
            if not sp.restore or name not in data or not isinstance(data[name], Mapping):
                continue
            for ref in sp.rules:
                rule = self.rules.get(ref.name)
                if rule is None:
                    raise UnknownRule(ref.name, list(self.rules))
                rule.apply(RuleContext(name, ref.params, data[name], data, plan, target))
        return plan

    def filter(
        self, container: Container, target: Target | None = None
    ) -> dict[str, dict[str, Any]]:
        """Per section, exactly the values a restore of ``container`` writes."""
        return self.plan(container, target).as_dict()


def policy_from_document(
    family: str,
    version: Any,
    document: Mapping[str, Any],
    section_schemas: Mapping[str, Mapping[str, Any]],
    rules: Mapping[str, NamedRule],
) -> RestorePolicy:
    """Build a policy from the ``policy`` member of a (metaschema-valid) version document."""
    sections: dict[str, SectionPolicy] = {}
    for name, spec in document.get("sections", {}).items():
        schema = section_schemas.get(name, {})
        props = schema.get("properties")
        known = frozenset(props) if isinstance(props, Mapping) else None
        sections[name] = SectionPolicy(
            name=name,
            restore=bool(spec["restore"]),
            fields=tuple(spec.get("fields", ())),
            mode=Mode(spec.get("mode", "update")),
            unknown=Unknown(spec.get("unknown", "drop")),
            rules=tuple(
                RuleRef(r["name"], dict(r.get("params", {}))) for r in spec.get("rules", ())
            ),
            known=known,
        )
    return RestorePolicy(family, version, sections, rules)


def carry_fields(
    policy: RestorePolicy,
    moves: Sequence[Mapping[tuple[str | None, str], tuple[str | None, str]]],
    version: Any,
) -> RestorePolicy:
    """Apply field renames/moves (one mapping per migration step) to a policy's allowlists."""
    sections = {name: sp for name, sp in policy.sections.items()}
    for step in moves:
        new_fields: dict[str, list[str]] = {name: list(sp.fields) for name, sp in sections.items()}
        for (src_sec, src_field), (dst_sec, dst_field) in step.items():
            if src_sec is None or dst_sec is None:
                continue
            src = sections.get(src_sec)
            if src is None or not src.allows(src_field):
                continue
            if src.fields:
                new_fields[src_sec] = [f for f in new_fields[src_sec] if f != src_field]
            if dst_sec not in sections:
                sections[dst_sec] = SectionPolicy(dst_sec, True, (), Mode.UPDATE)
                new_fields[dst_sec] = [dst_field]
            elif sections[dst_sec].fields and dst_field not in new_fields[dst_sec]:
                new_fields[dst_sec].append(dst_field)
        for name, sp in list(sections.items()):
            sections[name] = replace(sp, fields=tuple(new_fields[name]))
    return replace(policy, sections=sections, shape_version=version)


def intersect_policies(policy: RestorePolicy, other: RestorePolicy) -> RestorePolicy:
    """``policy`` restricted to what ``other`` (over the same shape) also restores.

    A section is restored when both restore it, with the fields both allow (``fields`` left
    out on one side means that side allows every field) and the rules of ``policy`` that
    ``other`` names too; mode and unknown-field handling stay ``policy``'s. A section left
    with no field in common is not restored.
    """
    sections: dict[str, SectionPolicy] = {}
    for name, sp in policy.sections.items():
        theirs = other.sections.get(name)
        if theirs is None or not theirs.restore or not sp.restore:
            sections[name] = replace(sp, restore=False)
            continue
        if sp.fields and theirs.fields:
            fields = tuple(f for f in sp.fields if f in theirs.fields)
            if not fields:
                sections[name] = replace(sp, restore=False)
                continue
        else:
            fields = sp.fields or theirs.fields
        both = {r.name for r in theirs.rules}
        rules = tuple(r for r in sp.rules if r.name in both)
        sections[name] = replace(sp, fields=fields, rules=rules)
    return replace(policy, sections=sections)
