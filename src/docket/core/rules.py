"""Named restore rules that version documents refer to, and the built-in ones.

A rule reads the backed-up section, the whole container and (through :class:`Target`) the
restore target, and changes the :class:`RestorePlan`. It declares what it may add to a plan,
so a policy's writable fields stay known without running it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docket.core.errors import RestoreRefused, show

# The policies (:mod:`docket.core.policy`) are imported where a rule runs: a registry holds
# the built-in rules, and validating containers (``docket validate``) runs none of them.
if TYPE_CHECKING:
    from docket.core.policy import RuleContext

RuleFunction = Callable[["RuleContext"], None]


@dataclass(frozen=True)
class NamedRule:
    """A restore rule that policies name. ``writes`` declares what it may add to a plan."""

    name: str
    apply: RuleFunction
    writes: Callable[[str, Mapping[str, Any]], Iterable[tuple[str, str]]] = lambda s, p: ()
    description: str = ""


RESTORE_NAME_PREFIX = "restore_backup_"


def _display_name(ctx: RuleContext) -> None:
    """Cinder's display-name rule.

    The name and description are both left out when the backed-up name is empty or null, or
    when the target already has a name of its own (one not given by a restore). A section
    without ``display_name`` restores its description.
    """
    name_field = ctx.params.get("name_field", "display_name")
    desc_field = ctx.params.get("description_field", "display_description")
    prefix = ctx.params.get("auto_prefix", RESTORE_NAME_PREFIX)
    if name_field not in ctx.source:
        return
    write = ctx.plan.sections.get(ctx.section)
    if write is None:
        return
    backed_up = ctx.source.get(name_field)
    current = ctx.target.row.get(name_field) if ctx.target is not None else None
    if not backed_up:
        reason = "the backed-up name is empty"
    elif current and not str(current).startswith(prefix):
        reason = "the target volume already has a name of its own"
    else:
        return
    from docket.core.policy import Dropped

    for f in (name_field, desc_field):
        if f in write.values:
            del write.values[f]
            ctx.plan.dropped.append(Dropped(ctx.section, f, reason))


def _volume_type(ctx: RuleContext) -> None:
    """Cinder's encryption-key rule: an encrypted volume restores only onto its volume type.

    Same type: fine. Target without a type: it takes the source type (which must exist).
    Another type: the restore is refused.
    """
    key_field = ctx.params.get("key_field", "encryption_key_id")
    type_field = ctx.params.get("type_field", "volume_type_id")
    write = ctx.plan.sections.get(ctx.section)
    if write is None or write.values.get(key_field) is None:
        return
    if type_field not in ctx.source:
        raise RestoreRefused(
            f"{key_field} is set but the backup has no {type_field}",
            path=(ctx.section, type_field),
            hint="an encrypted volume's backup must record its volume type",
        )
    source_type = ctx.source[type_field]
    if ctx.target is None:
        return  # a new volume is created with the backup's type
    target_type = ctx.target.row.get(type_field)
    if target_type == source_type:
        return
    if target_type is None:
        if source_type is None or not ctx.target.exists("volume_types", source_type):
            raise RestoreRefused(
                f"volume type {show(source_type)} of the encrypted backup no longer exists",
                path=(ctx.section, type_field),
                hint="recreate the volume type, or restore onto a volume of that type",
            )
        write.values[type_field] = source_type
        return
    raise RestoreRefused(
        f"the encrypted backup has volume type {show(source_type)} but the target volume has "
        f"{show(target_type)}",
        path=(ctx.section, type_field),
        hint="restore onto a new volume, or one of the backup's volume type",
    )


def _volume_type_writes(section: str, params: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    return [(section, params.get("type_field", "volume_type_id"))]


def _set_field(ctx: RuleContext) -> None:
    """Set a field in some section whenever this section is restored (even when empty)."""
    target_section = ctx.params.get("section", ctx.section)
    ctx.plan.section(target_section).values[ctx.params["field"]] = ctx.params["value"]


def _set_field_writes(section: str, params: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    return [(params.get("section", section), params["field"])]


BUILTIN_RULES: Mapping[str, NamedRule] = {
    r.name: r
    for r in (
        NamedRule("display-name", _display_name, description=_display_name.__doc__ or ""),
        NamedRule(
            "volume-type", _volume_type, _volume_type_writes, description=_volume_type.__doc__ or ""
        ),
        NamedRule("set-field", _set_field, _set_field_writes, description=_set_field.__doc__ or ""),
    )
}
