"""The round-trip properties every container family should keep (the strategies they draw
from are in :mod:`docket.testing._strategies`).

Each ``check_*`` function takes a family and runs one property with hypothesis, using the
settings of the loaded profile (or the ``settings`` you pass). A failure raises
:class:`PropertyFailure`, which names the property, the family and the version; hypothesis
adds the (shrunk) falsifying container to it.
"""

from __future__ import annotations

import copy
import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, TypeVar

from hypothesis import HealthCheck, given
from hypothesis import settings as Settings
from hypothesis import strategies as st

from docket.core.codec import canonical
from docket.core.errors import DocketError, RestoreRefused, json_pointer, show
from docket.core.family import Container, Family
from docket.core.losses import mentions
from docket.core.migrations import Migration
from docket.core.policy import RestorePolicy
from docket.core.versions import Version
from docket.testing._strategies import InvalidContainer as InvalidContainer
from docket.testing._strategies import UnknownSection as UnknownSection
from docket.testing._strategies import containers as containers
from docket.testing._strategies import invalid_containers as invalid_containers
from docket.testing._strategies import sections as sections

T = TypeVar("T")


class PropertyFailure(DocketError, AssertionError):
    """A family broke one of docket's round-trip properties."""

    def __init__(self, prop: str, family: str, version: Any, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.property = prop
        self.family = family
        self.version = version
        self.reason = reason
        self.hint = hint

    def describe(self) -> str:
        at = "" if self.version is None else f" (container of version {show(self.version)})"
        return (
            f"property {show(self.property)} failed for family {show(self.family)}{at}: "
            f"{self.reason}"
        )


# --- running a property ---------------------------------------------------------------------


SHRINK_SECONDS = 10.0
"""How long a property may shrink a failing example before it reports the smallest one found
so far (``DOCKET_SHRINK_SECONDS`` overrides it; ``none`` lets hypothesis shrink as long as it
likes, up to its own five minutes)."""


def shrink_seconds() -> float | None:
    """The shrink bound in force (None: unbounded)."""
    text = os.environ.get("DOCKET_SHRINK_SECONDS", "").strip().lower()
    if not text:
        return SHRINK_SECONDS
    if text in ("none", "inf", "unbounded"):
        return None
    return max(0.0, float(text))


class _ShrinkBoundHit(BaseException):
    """Stops hypothesis once shrinking took too long (a BaseException: hypothesis lets it
    through instead of taking it for the property failing)."""


@dataclass
class _Failures:
    """The failures seen while a property runs: when the first came, and the smallest."""

    first: float | None = None
    smallest: tuple[int, BaseException, Any] | None = None
    bound: float | None = dataclass_field(default_factory=shrink_seconds)

    def check(self) -> None:
        late = self.first is not None and self.bound is not None
        if late and time.monotonic() - self.first > self.bound:  # type: ignore[operator]
            raise _ShrinkBoundHit

    def saw(self, err: BaseException, example: Any) -> None:
        if self.first is None:
            self.first = time.monotonic()
        size = len(repr(example))
        if self.smallest is None or size < self.smallest[0]:
            self.smallest = (size, err, example)


def _run(
    family: Family,
    prop: str,
    strategy: st.SearchStrategy[T],
    body: Callable[[T], None],
    settings: Settings | None,
) -> None:
    __tracebackhide__ = True  # pytest shows the failure, not this frame
    failures = _Failures()

    @given(strategy)
    def run(example: T) -> None:
        __tracebackhide__ = True
        failures.check()
        try:
            body(example)
        except Exception as err:
            failures.saw(err, example)
            raise

    # Hypothesis keys its example database by the test's source; this one function runs
    # every property of every family, so tell them apart.
    run._hypothesis_internal_add_digest = f"docket:{family.name}:{prop}".encode()  # type: ignore[attr-defined]
    # Everything comes from the caller's settings (or the loaded profile) but one health
    # check: a rich container of a wide schema takes milliseconds to draw by design, and
    # too_slow exists to flag slow strategies a user wrote, not docket's.
    base = settings if settings is not None else Settings()  # the loaded profile
    suppressed = (*base.suppress_health_check, HealthCheck.too_slow)
    try:
        Settings(base, suppress_health_check=suppressed)(run)()
    except _ShrinkBoundHit:
        assert failures.smallest is not None
        _, err, example = failures.smallest
        err.add_note(
            f"Failing example (shrinking stopped after {failures.bound:g} s, so this is the "
            f"smallest failing example found so far, not a fully shrunk one; set "
            f"DOCKET_SHRINK_SECONDS to shrink longer):\n    {example!r}"
        )
        raise err.with_traceback(None) from None


@dataclass(frozen=True)
class _Step:
    """Where a property is: its name, the family, the version of the container it checks."""

    prop: str
    family: Family
    version: Any

    def failure(self, reason: str, hint: str = "") -> PropertyFailure:
        return PropertyFailure(self.prop, self.family.name, self.version, reason, hint)

    def do(self, action: str, fn: Callable[[], T]) -> T:
        """Run one step of a property; any error is the property failing at that step."""
        __tracebackhide__ = True  # pytest shows the failure, not this frame
        try:
            return fn()
        except PropertyFailure:
            raise
        except Exception as err:  # also a user's migration or rule code: report it, do not hide it
            raise self.failure(f"{action} raised {type(err).__name__}: {err}") from err

    def dump(self, c: Container) -> bytes:
        """``c`` dumped at its own version."""
        __tracebackhide__ = True
        return self.do("dump", lambda: self.family.dump(c, version=c.version))

    def same(self, what: str, a: Any, b: Any, hint: str = "") -> None:
        __tracebackhide__ = True
        if canonical(a) != canonical(b):
            raise self.failure(f"{what}: {_difference(a, b) or 'the values differ'}", hint)

    def valid(self, version: Version, what: str, c: Container) -> None:
        """``c`` is valid at ``version`` (the failure names no container version)."""
        __tracebackhide__ = True
        issues = self.family.spec(version).issues(c.data)
        if issues:
            shown = "; ".join(str(i) for i in issues[:5])
            raise _Step(self.prop, self.family, None).failure(
                f"{what} is not valid at version {show(version)}: {shown}"
            )


def _difference(a: Any, b: Any, segs: tuple[str | int, ...] = ()) -> str | None:
    """Where two JSON values first differ (their canonical forms), as a readable line."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            where = json_pointer((*segs, key)) or "/"
            if key not in b:
                return f"{where} was {show(a[key])} and is now missing"
            if key not in a:
                return f"{where} is new: {show(b[key])}"
            found = _difference(a[key], b[key], (*segs, key))
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _difference(x, y, (*segs, i))
            if found is not None:
                return found
        return None
    if canonical(a) != canonical(b):
        return f"{json_pointer(segs) or '/'} was {show(a)} and is now {show(b)}"
    return None


def _any_version(family: Family, versions: Sequence[Version]) -> st.SearchStrategy[Container]:
    return st.one_of([containers(family, v) for v in versions])


def _reordered(value: Any) -> Any:
    """The same JSON value with every object's members in reverse order."""
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


# --- the properties --------------------------------------------------------------------------


def check_dump_load(family: Family, *, settings: Settings | None = None) -> None:
    """Dump then load gives the same container, at its own version and at current."""
    __tracebackhide__ = True
    prop = "dump-load"

    def body(c: Container) -> None:
        __tracebackhide__ = True
        step = _Step(prop, family, c.version)
        v = c.version
        raw = step.dump(c)
        back = step.do("load of the dumped bytes", lambda: family.load(raw, to=v))
        if back.version != v or back.written_version != v:
            raise step.failure(f"loaded back as version {show(back.version)}, not {show(v)}")
        step.same("load(dump(x)) differs from x", c.data, back.data)
        if v != family.current:
            up = step.do("upgrade", lambda: family.upgrade(c))
            raw_now = step.do("dump at current", lambda: family.dump(c))
            now = step.do("load at current", lambda: family.load(raw_now))
            what = "load(dump(x)) at current differs from upgrade(x)"
            step.same(what, up.data, now.data)

    _run(family, prop, _any_version(family, family.versions), body, settings)


def check_canonical_stable(family: Family, *, settings: Settings | None = None) -> None:
    """Dumped bytes do not depend on member order and do not change when dumped again."""
    __tracebackhide__ = True
    prop = "canonical-stable"

    def body(c: Container) -> None:
        __tracebackhide__ = True
        step = _Step(prop, family, c.version)
        first = step.dump(c)
        v = c.version
        shuffled = Container(c.family, v, _reordered(c.data), c.written_version, c.signature)
        second = step.do("dump (members reordered)", lambda: family.dump(shuffled, version=v))
        if first != second:
            raise step.failure(
                "the bytes depend on the order of members",
                hint="dump must write canonical JSON (sorted keys)",
            )
        again = step.do(
            "dump after load",
            lambda: family.dump(family.load(first, to=v), version=v),
        )
        if again != first:
            raise step.failure(
                f"dumping a loaded container changed its bytes: {show(first[:120])} -> "
                f"{show(again[:120])}",
            )
        if canonical(c.data) != first:
            raise step.failure(
                "dump at the container's own version is not its canonical JSON",
            )

    _run(family, prop, _any_version(family, family.versions), body, settings)


def check_upgrade_valid(family: Family, *, settings: Settings | None = None) -> None:
    """Every older container upgrades, step by step, to a valid container of each newer
    version, ending at current; the written version is kept."""
    __tracebackhide__ = True
    prop = "upgrade-valid"
    older = [v for v in family.versions if v != family.current]
    if not older:
        return

    def body(c: Container) -> None:
        __tracebackhide__ = True
        step = _Step(prop, family, c.version)
        later = family.versions[family.versions.index(c.version) + 1 :]
        for target in later:
            up = step.do(
                f"upgrade to {show(target)}",
                functools.partial(family.upgrade, c, target),
            )
            what = f"the upgrade of a v{show(c.version)} container"
            step.valid(target, what, up)
            if up.version != target or up.written_version != c.version:
                raise step.failure(
                    f"upgrade to {show(target)} gave version {show(up.version)} written at "
                    f"{show(up.written_version)}",
                )
        raw = step.do("dump at current", lambda: family.dump(c))
        problems = family.validate(raw)
        if problems:
            raise step.failure(
                "the upgraded container does not validate: " + "; ".join(map(str, problems[:5])),
            )

    _run(family, prop, _any_version(family, older), body, settings)


def _edges(family: Family) -> list[Migration]:
    return [family.migration(v) for v in family.versions if v in family.graph.edges]


def _differing(a: Any, b: Any, segs: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every place (down to a section's field) where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict) and len(segs) < 2:
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield (*segs, key)
            else:
                yield from _differing(a[key], b[key], (*segs, key))
    elif canonical(a) != canonical(b):
        yield segs


def _without(data: Mapping[str, Any], places: Sequence[tuple[str | int, ...]]) -> dict[str, Any]:
    """A copy of ``data`` without the members at ``places``."""
    out = copy.deepcopy(dict(data))
    for place in places:
        holder: Any = out
        for seg in place[:-1]:
            holder = holder.get(seg) if isinstance(holder, dict) else None
        if isinstance(holder, dict):
            holder.pop(place[-1], None)
    return out


def _integrity_members(family: Family, *versions: Version) -> set[str]:
    names: set[str] = set()
    for v in versions:
        integrity = family.spec(v).integrity
        if integrity is not None:
            names |= {m for m in (integrity.digest, integrity.signature) if m}
    return names


def check_downgrade_inverse(family: Family, *, settings: Settings | None = None) -> None:
    """On every edge with a downgrade, both ways round: ``downgrade(upgrade(x))`` for ``x`` of
    the older version and ``upgrade(downgrade(y))`` for ``y`` of the newer one are valid, and
    are ``x`` and ``y`` on an edge declared exact; on a lossy edge they differ only where the
    declared losses say."""
    __tracebackhide__ = True
    prop = "downgrade-inverse"
    edges = [m for m in _edges(family) if m.downgrade is not None]
    if not edges:
        return
    # The edge is drawn as its source version and a side: a failing example then reads
    # (1, 'new', container), the container being of the newer version.
    strategy = st.one_of(
        [
            st.tuples(st.just(m.source), st.just(side), containers(family, v))
            for m in edges
            for side, v in (("old", m.source), ("new", m.target))
        ]
    )

    def body(case: tuple[Version, str, Container]) -> None:
        __tracebackhide__ = True
        source, side, c = case
        step = _Step(prop, family, c.version)
        m = family.migration(source)
        up_edge = f"{show(m.source)} -> {show(m.target)}"
        down_edge = f"{show(m.target)} -> {show(m.source)}"
        if side == "old":
            there = step.do(f"upgrade {up_edge}", lambda: family.upgrade(c, m.target))
            back = step.do(
                f"downgrade {down_edge}",
                lambda: family.downgrade(there, m.source, allow_lossy=True),
            )
            step.valid(m.source, f"the downgrade {down_edge}", back)
            trip, edge = "downgrade(upgrade(x))", up_edge
        else:
            there = step.do(
                f"downgrade {down_edge}",
                lambda: family.downgrade(c, m.source, allow_lossy=True),
            )
            step.valid(m.source, f"the downgrade {down_edge}", there)
            back = step.do(
                f"upgrade {up_edge}",
                lambda: family.upgrade(there, m.target),
            )
            trip, edge = "upgrade(downgrade(y))", down_edge
        what = f"the edge {edge} is declared exact, but {trip} differs from its input"
        if m.exact:
            step.same(
                what,
                c.data,
                back.data,
                hint="fix the migration, or declare the edge lossy and list what it loses",
            )
            return
        # Lossy: only what the declared losses name may differ (and the digest over it).
        sealed = _integrity_members(family, m.source, m.target)
        places = [p for p in _differing(c.data, back.data) if p and p[0] not in sealed]
        undeclared = [
            p for p in places if not any(mentions(text, ".".join(map(str, p))) for text in m.losses)
        ]
        if undeclared:
            where = ".".join(map(str, undeclared[0]))
            allowed = [(s,) for s in sealed] + [p for p in places if p not in undeclared]
            step.same(
                f"the edge {edge} loses {where}, which its declared losses do not name; "
                f"{trip} differs from its input",
                _without(c.data, allowed),
                _without(back.data, allowed),
                hint=f"list {show(where)} in the downgrade's losses, or fix the migration",
            )

    _run(family, prop, strategy, body, settings)


def check_upgrade_deterministic(family: Family, *, settings: Settings | None = None) -> None:
    """Migrating the same container twice gives the same result and leaves the input alone."""
    __tracebackhide__ = True
    prop = "upgrade-deterministic"

    def body(c: Container) -> None:
        __tracebackhide__ = True
        step = _Step(prop, family, c.version)
        before = canonical(c.data)
        i = family.versions.index(c.version)
        moves: list[tuple[str, Callable[[], Container]]] = []
        if c.version != family.current:
            moves.append(("upgrade", lambda: family.upgrade(c)))
        if i > 0 and family.migration(family.versions[i - 1]).downgrade is not None:
            prev = family.versions[i - 1]
            moves.append(
                (f"downgrade to {show(prev)}", lambda: family.downgrade(c, prev, allow_lossy=True))
            )
        for action, move in moves:
            first = step.do(action, move)
            second = step.do(action + " (again)", move)
            step.same(
                f"{action} of the same container gave two different results",
                first.data,
                second.data,
                hint="a migration must not depend on time, randomness or state between calls",
            )
            if canonical(c.data) != before:
                raise step.failure(
                    f"{action} modified its input container",
                    hint="a migration must work on a copy",
                )

    versions = [
        v
        for i, v in enumerate(family.versions)
        if v != family.current or (i > 0 and family.migration(family.versions[i - 1]).downgrade)
    ]
    if versions:
        _run(family, prop, _any_version(family, versions), body, settings)


@dataclass(frozen=True)
class _Target:
    """A restore target for the allowlist property: a row and which objects exist."""

    row: Mapping[str, Any]
    present: bool

    def exists(self, kind: str, key: Any) -> bool:
        return self.present


def _targets(family: Family) -> st.SearchStrategy[_Target | None]:
    names = sorted(
        {f for v in family.versions for sp in family.policy(v).sections.values() for f in sp.fields}
    )
    if not names:
        return st.none()
    rows = st.dictionaries(st.sampled_from(names), st.none() | st.text(max_size=12), max_size=6)
    return st.none() | st.builds(_Target, rows, st.booleans())


def _allowed(policy: RestorePolicy, container: Container) -> Callable[[str, str, Any], str | None]:
    """Why the restore may not write ``section.field = value`` (None: it may)."""
    declared: set[tuple[str, str]] = set()
    for name, sp in policy.sections.items():
        if not sp.restore:
            continue
        for ref in sp.rules:
            rule = policy.rules.get(ref.name)
            if rule is not None:
                declared.update(rule.writes(name, ref.params))
    writable = policy.writable()

    def why_not(section: str, field: str, value: Any) -> str | None:
        if (section, field) in declared:
            return None
        sp = policy.sections.get(section)
        if sp is None or not sp.restore:
            return f"the policy does not restore section {show(section)}"
        if sp.fields and field not in sp.fields:
            return f"it is not in section {show(section)}'s allowlist {show(list(sp.fields))}"
        if writable is not None and (section, field) not in writable:
            return "it is not in the policy's writable fields"
        source = container.data.get(section)
        if not isinstance(source, Mapping) or field not in source:
            return "the container has no such field (no rule declares writing it)"
        if canonical(source[field]) != canonical(value):
            return f"the container holds {show(source[field])}, not {show(value)}"
        return None

    return why_not


def check_restore_allowlist(family: Family, *, settings: Settings | None = None) -> None:
    """A restore writes only fields the policy of the written version allows (or a rule
    declares), with the container's values; after an upgrade, and after a downgrade too,
    where the older version's policy bounds it as well."""
    __tracebackhide__ = True
    prop = "restore-allowlist"

    def restore(c: Container, moved: Container, how: str, target: _Target | None) -> None:
        __tracebackhide__ = True
        step = _Step(prop, family, c.version)
        policy = step.do(f"restore_policy {how}", lambda: family.restore_policy(moved))
        try:
            written = policy.filter(moved, target)
        except RestoreRefused:
            return  # a refused restore writes nothing
        except Exception as err:
            raise step.failure(
                f"the restore filter {how} raised {type(err).__name__}: {err}",
            ) from err
        bounds = [("", policy)]
        for v in {c.version, moved.version}:
            label = f" (version {show(v)}'s policy)"
            bounds.append((label, family.policy(v).at_shape(moved.version)))
        checks = [(label, _allowed(p, moved)) for label, p in bounds]
        for section, values in written.items():
            for name, value in values.items():
                for label, why_not in checks:
                    reason = why_not(section, name, value)
                    if reason is not None:
                        raise step.failure(
                            f"the restore {how} writes {section}.{name} = {show(value)}, "
                            f"but {reason}{label}",
                            hint="a rule that writes a field must declare it "
                            "(NamedRule.writes); a restore is bounded by the policies of the "
                            "version written and of every version the container went down to",
                        )

    def body(pair: tuple[Container, _Target | None]) -> None:
        __tracebackhide__ = True
        c, target = pair
        step = _Step(prop, family, c.version)
        up = step.do("upgrade", lambda: family.upgrade(c))
        restore(c, up, "after an upgrade", target)
        i = family.versions.index(c.version)
        if i == 0 or family.migration(family.versions[i - 1]).downgrade is None:
            return
        older = family.versions[i - 1]
        try:
            down = family.downgrade(c, older, allow_lossy=True)
        except DocketError:
            return  # a broken downgrade is the downgrade-inverse property's to report
        restore(c, down, f"after a downgrade to {show(older)}", target)

    strategy = st.tuples(_any_version(family, family.versions), _targets(family))
    _run(family, prop, strategy, body, settings)


def check_invalid_refused(family: Family, *, settings: Settings | None = None) -> None:
    """A container broken in one known way is refused, and the problem is reported where it is."""
    __tracebackhide__ = True
    prop = "invalid-refused"
    strategy = st.one_of([invalid_containers(family, v) for v in family.versions])

    def body(bad: InvalidContainer) -> None:
        __tracebackhide__ = True
        step = _Step(prop, family, bad.version)
        raw = canonical(bad.data)
        issues = family.validate(raw)
        at = f"{bad.reason} at {bad.pointer or '/'}"
        if sorted({i.pointer for i in issues}) != [bad.pointer]:
            raise step.failure(
                f"{at}: expected one problem there, "
                f"validate reported {[str(i) for i in issues] or 'none'}",
            )
        try:
            family.load(raw)
        except DocketError:
            return
        except Exception as err:
            raise step.failure(
                f"{at}: load raised {type(err).__name__}, not a DocketError",
            ) from err
        raise step.failure(f"{at}: load accepted the container")

    _run(family, prop, strategy, body, settings)


# Shown as docket.testing.X in failures, where users import them from.
PropertyFailure.__module__ = InvalidContainer.__module__ = "docket.testing"

PROPERTIES: Mapping[str, Callable[..., None]] = {
    "dump-load": check_dump_load,
    "canonical-stable": check_canonical_stable,
    "upgrade-valid": check_upgrade_valid,
    "downgrade-inverse": check_downgrade_inverse,
    "upgrade-deterministic": check_upgrade_deterministic,
    "restore-allowlist": check_restore_allowlist,
    "invalid-refused": check_invalid_refused,
}
"""Every property, by the name failures and the pytest plugin use."""


def check_round_trip(family: Family, *, settings: Settings | None = None) -> None:
    """Run every property; raise the failure, or an ExceptionGroup when several fail."""
    __tracebackhide__ = True  # pytest shows the failure, not this frame
    failures: list[Exception] = []
    for check in PROPERTIES.values():
        try:
            check(family, settings=settings)
        except Exception as err:
            failures.append(err)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise ExceptionGroup(
            f"{len(failures)} docket properties failed for family {show(family.name)}", failures
        )
