"""What restoring one container writes, explained before anything is written.

:func:`explain_restore` takes the one-way path a restore takes (detect the version, validate
at it, check integrity, plan with the policy of the version it was written at) and stops
before the write: it says what the container is, whether its digest and signature hold, and
per section what a restore writes (and which values a rule set rather than the backup), what
it leaves out and why, or why the restore is refused. ``docket inspect`` prints it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from docket.core.codec import parse
from docket.core.errors import DocketError, Issue, ValidationError, show
from docket.core.family import Container, Family
from docket.core.policy import Dropped, Mode, RestorePlan, Target
from docket.core.versions import Version

_INTEGRITY = frozenset({"digest", "signature"})


@dataclass(frozen=True)
class SectionWriteExplained:
    """What a restore writes into one section."""

    section: str
    mode: Mode
    fields: tuple[str, ...]
    """Every field written, sorted."""
    set_by_rules: Mapping[str, Any]
    """Fields whose written value is not the backed-up one (a rule set it), with the value."""


@dataclass(frozen=True)
class Explanation:
    """A container, and what restoring it writes (see :func:`explain_restore`)."""

    family: str
    version: Version
    """The version the container was written at (whose policy decides)."""
    current: Version
    sections: Mapping[str, int]
    """The container's sections, with how many fields each holds."""
    digest: str
    """``none`` (the version has no digest), ``ok`` or ``mismatch``."""
    signature: str
    """``none`` (the version cannot be signed), ``verified``, ``unverified`` (no key to check
    it with), ``absent`` (no key, no signature), ``missing`` (a key, no signature) or
    ``invalid``."""
    problems: tuple[Issue, ...]
    """The integrity problems (a digest or signature that does not match)."""
    writes: tuple[SectionWriteExplained, ...] = ()
    """Per section, what the restore writes (empty when refused)."""
    left_out: tuple[Dropped, ...] = ()
    """Fields the restore does not write, each with the reason."""
    refused: DocketError | None = None
    """Why the policy refuses the restore; None when it would go ahead."""
    plan: RestorePlan | None = None

    @property
    def policy_version(self) -> Version:
        return self.version

    @property
    def ok(self) -> bool:
        """Valid, intact, and restorable."""
        return not self.problems and self.refused is None


def _integrity(
    family: Family, obj: Mapping[str, Any], version: Version, keywords: set[str]
) -> tuple[str, str]:
    """The digest and signature verdicts, from the integrity problems found (their keywords)."""
    integrity = family.spec(version).integrity
    if integrity is None:
        return "none", "none"
    digest = "mismatch" if "digest" in keywords else "ok"
    signed = integrity.signature is not None and integrity.signature in obj
    if "signature" in keywords:  # wrong, or (with a key) not there at all
        signature = "invalid" if signed else "missing"
    elif family.signing_key is not None and signed:
        signature = "verified"
    else:
        signature = "unverified" if signed else "absent"
    return digest, signature


def _section_write(
    section: str, mode: Mode, values: Mapping[str, Any], obj: Mapping[str, Any]
) -> SectionWriteExplained:
    held = obj.get(section)
    # Values a rule set (not the backed-up ones) are shown: they are the rule's constants.
    ruled = {
        k: v
        for k, v in sorted(values.items())
        if not isinstance(held, dict) or k not in held or held[k] != v
    }
    return SectionWriteExplained(section, mode, tuple(sorted(values)), ruled)


def explain_restore(
    family: Family,
    data: bytes | str | Mapping[str, Any],
    target: Target | None = None,
) -> Explanation:
    """What restoring ``data`` (a container of ``family``, as bytes or parsed) onto ``target``
    (default: a new volume) writes, with the policy of the version it was written at.

    A container that cannot be read or is invalid raises (:class:`~docket.errors.VersionError`,
    :class:`~docket.errors.ValidationError`, ...); a digest or signature that does not match
    is explained (:attr:`Explanation.problems`), not raised, and so is a refused restore.
    """
    obj = dict(data) if isinstance(data, Mapping) else parse(data, family.limits)
    version = family.detect(obj)
    issues = family.validate(obj)
    keywords = {i.keyword for i in issues}
    if not keywords <= _INTEGRITY:
        raise ValidationError(family.name, version, issues)
    digest, signature = _integrity(family, obj, version, keywords)
    container = Container(family.name, version, obj, version, signature)
    found = Explanation(
        family.name,
        version,
        family.current,
        {name: len(value) for name, value in container.sections().items()},
        digest,
        signature,
        tuple(issues),
    )
    policy = family.restore_policy(container)
    try:
        plan = policy.plan(container, target)
    except DocketError as err:
        return replace(found, refused=err)
    writes = tuple(
        _section_write(name, write.mode, write.values, obj) for name, write in plan.sections.items()
    )
    return replace(found, writes=writes, left_out=tuple(plan.left_out), plan=plan)


# --- what a migration changes in a restore ------------------------------------------------


def _restored_fields(family: Family, container: Container) -> set[tuple[str, str]]:
    """(section, field) pairs a restore of ``container`` onto a new volume writes."""
    try:
        plan = family.restore_policy(container).filter(container)
    except DocketError:
        return set()
    return {(section, name) for section, values in plan.items() for name in values}


def restore_changes(family: Family, before: Container, after: Container) -> list[str]:
    """What changes in what a restore writes when ``before`` is migrated to ``after``, as
    sentences: fields a declared rename carries are named as renamed, not as one field gained
    and another lost."""
    old, new = _restored_fields(family, before), _restored_fields(family, after)
    moves = family.moves(before.version, after.version)
    carried = {field: moves.get(field, field) for field in old}
    target, source = after.version, before.version
    notes = [
        f"{_dotted(a)} is renamed {_dotted(b)} in version {show(target)}; its restore carries over"
        for a, b in sorted(carried.items(), key=repr)
        if a != b and b in new and b[0] is not None
    ]
    gained = new - set(carried.values())
    if gained:
        notes.append(
            f"version {show(target)}'s restore policy also restores {_names(gained)}, which "
            f"version {show(source)}'s did not; restoring the migrated container writes more "
            "than restoring the original would"
        )
    lost = set(carried.values()) - new
    if lost:
        notes.append(f"version {show(target)}'s restore policy no longer restores {_names(lost)}")
    return notes


def _dotted(field: tuple[str | None, str]) -> str:
    return field[1] if field[0] is None else f"{field[0]}.{field[1]}"


def _names(fields: Iterable[tuple[str | None, str]]) -> str:
    return ", ".join(_dotted(f) for f in sorted(fields))


@dataclass(frozen=True)
class MigrationOutcome:
    """What migrating a container to ``target`` gives: the canonical bytes (None when the
    migration was refused for what it would lose), the losses (refused or allowed), and the
    notes on what a restore of the result writes differently."""

    family: str
    source: Version
    """The version the container was read at."""
    target: Version
    losses: tuple[Any, ...]
    """What the migration loses (:class:`~docket.core.losses.DataLoss`), refused or not."""
    notes: tuple[str, ...]
    """What a restore of the result writes differently from a restore of the input."""
    data: bytes | None
    """The migrated container's canonical bytes; None when refused."""

    @property
    def refused(self) -> bool:
        """The migration would lose values and lossy migrations were not allowed."""
        return self.data is None


def migrate_and_explain(
    family: Family, container: Container, target: Version, *, allow_lossy: bool = False
) -> MigrationOutcome:
    """Migrate ``container`` to ``target`` (:meth:`Family.migrate`'s rule: a loss of a value
    it holds is refused unless ``allow_lossy``) and say what the result restores differently;
    a refusal is an outcome, not an error, so a caller can report the losses either way."""
    from docket.core.errors import LossyMigration

    try:
        moved = family.migrate(container, target, allow_lossy=allow_lossy)
    except LossyMigration as err:
        return MigrationOutcome(family.name, container.version, target, tuple(err.report), (), None)
    data = family.dump(moved.container, version=target)
    notes = restore_changes(family, container, family.load(data, to=target))
    return MigrationOutcome(
        family.name, container.version, target, tuple(moved.losses), tuple(notes), data
    )
