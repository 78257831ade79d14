"""The typed difference between two versions of a family, and their compatibility class.

Compatibility follows Confluent Schema Registry's definitions for JSON Schema, applied to the
keyword subset docket's metaschema allows:

- **BACKWARD**: readers of the *new* version accept every container written at the *old* one
  (every difference of ``old -> new`` is one Confluent lists as compatible);
- **FORWARD**: readers of the *old* version accept every container written at the *new* one
  (the same test for ``new -> old``);
- **FULL**: both; **NONE**: neither.

Each :class:`Change` carries both verdicts, so a list of changes says exactly which ones break
which direction. Content models are Confluent's: an object schema is *open* when its
``additionalProperties`` is absent or ``true``, *closed* when ``false`` and *partially open*
when it is a schema. Keywords Confluent does not compare (``propertyNames``, ``format``) are
judged the same way as their neighbours: adding a constraint narrows, removing one widens.

One deliberate difference: the ``version`` member's ``const`` differs between every pair of
versions, because docket selects the schema by it. That change is reported as
``VERSION_CHANGED`` and breaks neither direction; otherwise no two versions could be
compatible.

Three modules: :mod:`docket.core.changes` (the kinds of change and the classes),
:mod:`docket.core.schema_diff` (two schemas compared) and this one (two versions of a family:
schemas, restore policies and the migration path between them). Their public names are
importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docket.core.changes import COMPATIBLE_CHANGES as COMPATIBLE_CHANGES
from docket.core.changes import Change as Change
from docket.core.changes import ChangeKind as ChangeKind
from docket.core.changes import Compatibility as Compatibility
from docket.core.changes import classify as classify
from docket.core.changes import short
from docket.core.errors import show
from docket.core.family import Family
from docket.core.schema_diff import diff_schemas as diff_schemas
from docket.core.versions import Version


@dataclass(frozen=True)
class PolicyChange:
    """A difference between two versions' restore policies (it never affects validity)."""

    section: str
    what: str
    old: Any
    new: Any

    def as_dict(self) -> dict[str, Any]:
        return {"section": self.section, "what": self.what, "old": self.old, "new": self.new}

    def describe(self) -> str:
        if self.what == "section policy":
            return f"{self.section}: {_policy_words(self.old)} -> {_policy_words(self.new)}"
        return f"{self.section}: {self.what}: {short(self.old)} -> {short(self.new)}"


def _policy_words(view: Any) -> str:
    """A section's policy (as :func:`_policy_view` gives it) in words."""
    if not isinstance(view, Mapping):
        return "no policy (not restored)"
    if not view["restore"]:
        return "not restored"
    fields = "every field" if view["fields"] == "all" else ", ".join(view["fields"])
    rules = f", rules {', '.join(view['rules'])}" if view["rules"] else ""
    return f"restores {fields} (mode {view['mode']}, unknown fields {view['unknown']}{rules})"


def _policy_view(family: Family, version: Version) -> dict[str, dict[str, Any]]:
    policy = family.policy(version)
    return {
        name: {
            "restore": sp.restore,
            "fields": list(sp.fields) or "all",
            "mode": sp.mode.value,
            "unknown": sp.unknown.value,
            "rules": [r.name for r in sp.rules],
        }
        for name, sp in policy.sections.items()
    }


def diff_policies(family: Family, old: Version, new: Version) -> list[PolicyChange]:
    """How the restore policy of ``new`` differs from that of ``old``, section by section."""
    a, b = _policy_view(family, old), _policy_view(family, new)
    out = []
    for section in [*a, *(s for s in b if s not in a)]:
        sa, sb = a.get(section), b.get(section)
        if sa is None or sb is None:
            out.append(PolicyChange(section, "section policy", sa, sb))
            continue
        for key in sa:
            if sa[key] != sb[key]:
                out.append(PolicyChange(section, key, sa[key], sb[key]))
    return out


@dataclass(frozen=True)
class VersionDiff:
    """What changes from version ``old`` to version ``new`` of a family."""

    family: str
    old: Version
    new: Version
    changes: tuple[Change, ...]
    policy: tuple[PolicyChange, ...]
    migration: tuple[str, ...]
    """The migration steps between the two versions, described."""

    @property
    def backward(self) -> bool:
        return all(c.backward for c in self.changes)

    @property
    def forward(self) -> bool:
        return all(c.forward for c in self.changes)

    @property
    def compatibility(self) -> Compatibility:
        return Compatibility.of(self.backward, self.forward)

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "old": self.old,
            "new": self.new,
            "compatibility": self.compatibility.value,
            "backward": self.backward,
            "forward": self.forward,
            "changes": [c.as_dict() for c in self.changes],
            "policy": [p.as_dict() for p in self.policy],
            "migration": list(self.migration),
        }


def diff_versions(family: Family, old: Version, new: Version) -> VersionDiff:
    """The typed schema changes, policy changes and migration path from ``old`` to ``new``."""
    changes = diff_schemas(family.schema(old), family.schema(new))
    steps = []
    for migration, up in family.graph.path(old, new):
        src, dst = (
            (migration.source, migration.target) if up else (migration.target, migration.source)
        )
        if migration.downgrade is None:
            back = "no downgrade defined"
        elif migration.exact:
            back = "exact downgrade"
        else:
            back = "lossy downgrade: " + "; ".join(migration.losses)
        if up:
            # The declared way back too: what an older reader gets from a newer writer.
            steps.append(f"{show(src)} -> {show(dst)}: upgrade")
            steps.append(f"{show(dst)} -> {show(src)}: {back} (declared)")
        else:
            steps.append(f"{show(src)} -> {show(dst)}: {back}")
    return VersionDiff(
        family.name,
        old,
        new,
        tuple(changes),
        tuple(diff_policies(family, old, new)),
        tuple(steps),
    )
