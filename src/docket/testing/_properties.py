"""Strategies of containers and the round-trip properties every container family should keep.

Each ``check_*`` function takes a family and runs one property with hypothesis, using the
settings of the loaded profile (or the ``settings`` you pass). A failure raises
:class:`PropertyFailure`, which names the property, the family and the version; hypothesis
adds the (shrunk) falsifying container to it.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import HealthCheck, given
from hypothesis import settings as Settings
from hypothesis import strategies as st

from docket.core.codec import canonical
from docket.core.errors import DocketError, RestoreRefused, json_pointer
from docket.core.family import Container, Family
from docket.core.migrations import Migration
from docket.core.policy import RestorePolicy
from docket.core.versions import Version, VersionScheme
from docket.testing._generate import Avoid, Path, declared_types, from_schema, type_matches

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
        at = "" if self.version is None else f" (container of version {self.version!r})"
        return f"property {self.property!r} failed for family {self.family!r}{at}: {self.reason}"


class UnknownSection(DocketError, LookupError):
    """A version's schema does not define the section asked for."""

    def __init__(self, family: str, version: Any, name: str, known: Sequence[str]) -> None:
        super().__init__(name)
        self.family = family
        self.version = version
        self.name = name
        self.hint = "sections: " + (", ".join(known) or "none")

    def describe(self) -> str:
        return f"{self.family} v{self.version} has no section {self.name!r}"


# --- strategies ------------------------------------------------------------------------------


def _members(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    props = schema.get("properties", {})
    return props if isinstance(props, Mapping) else {}


def _avoid(family: Family) -> Avoid:
    """Names every version declares at each location: undeclared members must not take them.

    An undeclared member named like a later version's field would be a field of that
    version with a value its schema may refuse, which no real writer of the older version
    produces.
    """
    avoid: dict[Path, set[str]] = {}

    def walk(schema: Any, path: Path) -> None:
        if not isinstance(schema, Mapping):
            return
        props = _members(schema)
        avoid.setdefault(path, set()).update(props)
        for name, sub in props.items():
            walk(sub, (*path, name))

    for v in family.versions:
        walk(family.schema(v), ())
        integrity = family.spec(v).integrity
        if integrity is not None:
            avoid[()].update(m for m in (integrity.digest, integrity.signature) if m)
    avoid[()].add("version")
    return {k: frozenset(v) for k, v in avoid.items()}


def _version_of(family: Family, version: Version | None) -> Version:
    v = family.current if version is None else version
    family.spec(v)  # raises the typed error for an unknown version
    return v


def _content_schema(family: Family, version: Version) -> dict[str, Any]:
    """The version's schema without the members :meth:`Family.new` sets (version, integrity)."""
    schema = dict(family.schema(version))
    integrity = family.spec(version).integrity
    managed = {"version"}
    if integrity is not None:
        managed |= {m for m in (integrity.digest, integrity.signature) if m}
    schema["properties"] = {k: v for k, v in _members(schema).items() if k not in managed}
    schema["required"] = [r for r in schema.get("required", ()) if r not in managed]
    return schema


def containers(family: Family, version: Version | None = None) -> st.SearchStrategy[Container]:
    """Valid containers of ``version`` (current by default), sealed when the version has
    integrity members (signed too when the family has a signing key)."""
    v = _version_of(family, version)
    data = from_schema(_content_schema(family, v), (), _avoid(family))
    return data.map(lambda d: family.new(d, version=v))


def sections(family: Family, version: Version | None, name: str) -> st.SearchStrategy[Any]:
    """Valid values of one section (top-level member) of ``version``'s containers."""
    v = _version_of(family, version)
    members = _members(family.schema(v))
    if name not in members or name == "version":
        raise UnknownSection(family.name, v, name, [m for m in members if m != "version"])
    return from_schema(members[name], (name,), _avoid(family))


@dataclass(frozen=True)
class InvalidContainer:
    """A container that breaks its version's schema in one known way."""

    data: dict[str, Any]
    pointer: str
    """JSON Pointer where the problem is reported (for a missing or undeclared member: the
    object that lacks or has it)."""
    reason: str
    """What was done: ``wrong type``, ``missing required``, ``undeclared member``,
    ``out of range``, ``bad version``, ``bad digest``, ``bad signature``."""
    version: Version
    """The version of the valid container it was made from."""


@dataclass(frozen=True)
class _Mutation:
    reason: str
    segments: tuple[str | int, ...]
    apply: Callable[[dict[str, Any]], None]
    pointer: tuple[str | int, ...]


_KIND_ORDER = (
    "bad version",
    "missing required",
    "undeclared member",
    "wrong type",
    "out of range",
    "bad digest",
    "bad signature",
)
_WRONG_TYPED: tuple[Any, ...] = (None, True, 7, 1.5, "docket", [], {})


def _at(data: Any, segments: Sequence[str | int]) -> Any:
    for seg in segments:
        data = data[seg]
    return data


def _setter(segments: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        _at(data, segments[:-1])[segments[-1]] = copy.deepcopy(value)

    return apply


def _deleter(segments: tuple[str | int, ...]) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        del _at(data, segments[:-1])[segments[-1]]

    return apply


def _wrong_value(schema: Mapping[str, Any]) -> Any:
    """A value the schema refuses for its type (or const/enum) alone, or None if there is none."""
    if "type" in schema:
        types = declared_types(schema)
        for value in _WRONG_TYPED:
            if not type_matches(value, types):
                return (value,)
        return None
    if "const" in schema or "enum" in schema:
        allowed = [schema["const"]] if "const" in schema else list(schema["enum"])
        for value in ("docket-not-allowed", 7, None, True):
            if all(canonical(value) != canonical(a) for a in allowed):
                return (value,)
    return None


def _out_of_range(schema: Mapping[str, Any], value: Any) -> Any:
    """A same-typed value just outside the schema's bounds, or None."""
    if isinstance(value, str) and "const" not in schema and "enum" not in schema:
        if "maxLength" in schema:
            return ("x" * (int(schema["maxLength"]) + 1),)
        if schema.get("minLength", 0) > 0:
            return ("",)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema:
            return (type(value)(schema["minimum"]) - 1,)
        if "maximum" in schema:
            return (type(value)(schema["maximum"]) + 1,)
    return None


def _mutations(value: Any, schema: Any, segs: tuple[str | int, ...]) -> Iterator[_Mutation]:
    """Every one-way-wrong change of ``value`` that ``schema`` refuses (root members aside)."""
    if not isinstance(schema, Mapping):
        return
    if segs:
        wrong = _wrong_value(schema)
        if wrong is not None:
            yield _Mutation("wrong type", segs, _setter(segs, wrong[0]), segs)
        outside = _out_of_range(schema, value)
        if outside is not None:
            yield _Mutation("out of range", segs, _setter(segs, outside[0]), segs)
    if isinstance(value, dict):
        props = _members(schema)
        for name in schema.get("required", ()):
            if name in value and (segs or name != "version"):
                yield _Mutation("missing required", segs, _deleter((*segs, name)), segs)
        addl = schema.get("additionalProperties", True)
        if addl is False:
            extra = "x-docket-undeclared"
            while extra in props:
                extra += "-"
            yield _Mutation("undeclared member", segs, _setter((*segs, extra), 0), segs)
        for key, child in value.items():
            if not segs and key == "version":
                continue
            sub = props.get(key, addl if isinstance(addl, Mapping) else None)
            yield from _mutations(child, sub, (*segs, key))
    elif isinstance(value, list):
        items = schema.get("items")
        for i, child in enumerate(value):
            yield from _mutations(child, items, (*segs, i))


def _version_mutations(family: Family) -> Iterator[_Mutation]:
    scheme, versions = family.scheme, family.versions
    yield _Mutation("bad version", (), _deleter(("version",)), ())
    newest = versions[-1]
    if scheme is VersionScheme.INTEGER:
        malformed: Any = f"v{newest}"
        too_new: Any = int(newest) + 1
        unknown: Any = next((n for n in range(int(newest)) if n not in versions), None)
    else:
        malformed = 1
        head, *_ = str(newest).split(".")
        too_new = f"{int(head) + 1}.0.0"
        unknown = next(
            (
                c
                for c in ("0.0.0", "0.0.1", "0.1")
                if c not in versions and scheme.key(c) < scheme.key(newest)
            ),
            None,
        )
    for bad in (malformed, too_new, unknown):
        if bad is not None:
            yield _Mutation("bad version", ("version",), _setter(("version",), bad), ("version",))


def _integrity_mutations(family: Family, version: Version) -> Iterator[_Mutation]:
    integrity = family.spec(version).integrity
    if integrity is None:
        return
    member = integrity.digest

    def tamper_digest(data: dict[str, Any]) -> None:
        zeros = "sha256:" + "0" * 64
        data[member] = zeros if data.get(member) != zeros else "sha256:" + "1" * 64

    yield _Mutation("bad digest", (member,), tamper_digest, (member,))
    if family.signing_key is not None and integrity.signature:
        sig = integrity.signature

        def tamper_signature(data: dict[str, Any]) -> None:
            zeros = "hmac-sha256:" + "0" * 64
            data[sig] = zeros if data.get(sig) != zeros else "hmac-sha256:" + "1" * 64

        yield _Mutation("bad signature", (sig,), tamper_signature, (sig,))


def invalid_containers(
    family: Family, version: Version | None = None
) -> st.SearchStrategy[InvalidContainer]:
    """Containers of ``version`` broken in one known way each, with where it is reported."""
    v = _version_of(family, version)
    schema = family.schema(v)
    valid_containers = containers(family, v)

    @st.composite
    def build(draw: st.DrawFn) -> InvalidContainer:
        valid = draw(valid_containers)
        options = [
            *_version_mutations(family),
            *_integrity_mutations(family, v),
            *_mutations(valid.data, schema, ()),
        ]
        # Pick the kind of problem first, so rare kinds (a bad signature) are as common as
        # frequent ones (a wrong type, with a site per field).
        kinds: dict[str, list[_Mutation]] = {}
        for option in options:
            kinds.setdefault(option.reason, []).append(option)
        kind = draw(st.sampled_from(sorted(kinds, key=_KIND_ORDER.index)))
        chosen = draw(st.sampled_from(kinds[kind]))
        data = copy.deepcopy(valid.data)
        chosen.apply(data)
        return InvalidContainer(data, json_pointer(chosen.pointer), chosen.reason, v)

    return build()


# --- running a property ---------------------------------------------------------------------


def _run(
    family: Family,
    prop: str,
    strategy: st.SearchStrategy[T],
    body: Callable[[T], None],
    settings: Settings | None,
) -> None:
    __tracebackhide__ = True  # pytest shows the failure, not this frame

    @given(strategy)
    def run(example: T) -> None:
        __tracebackhide__ = True
        body(example)

    # Hypothesis keys its example database by the test's source; this one function runs
    # every property of every family, so tell them apart.
    run._hypothesis_internal_add_digest = f"docket:{family.name}:{prop}".encode()  # type: ignore[attr-defined]
    # Everything comes from the caller's settings (or the loaded profile) but one health
    # check: a rich container of a wide schema takes milliseconds to draw by design, and
    # too_slow exists to flag slow strategies a user wrote, not docket's.
    base = settings if settings is not None else Settings()  # the loaded profile
    suppressed = (*base.suppress_health_check, HealthCheck.too_slow)
    Settings(base, suppress_health_check=suppressed)(run)()


def _do(prop: str, family: Family, version: Any, action: str, fn: Callable[[], T]) -> T:
    """Run one step of a property; any error is the property failing at that step."""
    __tracebackhide__ = True  # pytest shows the failure, not this frame
    try:
        return fn()
    except PropertyFailure:
        raise
    except Exception as err:  # also a user's migration or rule code: report it, do not hide it
        raise PropertyFailure(
            prop, family.name, version, f"{action} raised {type(err).__name__}: {err}"
        ) from err


def _difference(a: Any, b: Any, segs: tuple[str | int, ...] = ()) -> str | None:
    """Where two JSON values first differ (their canonical forms), as a readable line."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            where = json_pointer((*segs, key)) or "/"
            if key not in b:
                return f"{where} was {a[key]!r} and is now missing"
            if key not in a:
                return f"{where} is new: {b[key]!r}"
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
        return f"{json_pointer(segs) or '/'} was {a!r} and is now {b!r}"
    return None


def _require_same(
    prop: str, family: Family, version: Any, what: str, a: Any, b: Any, hint: str = ""
) -> None:
    __tracebackhide__ = True  # pytest shows the failure, not this frame
    if canonical(a) != canonical(b):
        diff = _difference(a, b) or "the values differ"
        raise PropertyFailure(prop, family.name, version, f"{what}: {diff}", hint)


def _require_valid(prop: str, family: Family, version: Version, what: str, c: Container) -> None:
    __tracebackhide__ = True  # pytest shows the failure, not this frame
    issues = family.spec(version).issues(c.data)
    if issues:
        shown = "; ".join(str(i) for i in issues[:5])
        raise PropertyFailure(
            prop, family.name, None, f"{what} is not valid at version {version!r}: {shown}"
        )


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
        v = c.version
        raw = _do(prop, family, v, "dump", lambda: family.dump(c, version=v))
        back = _do(prop, family, v, "load of the dumped bytes", lambda: family.load(raw, to=v))
        if back.version != v or back.written_version != v:
            raise PropertyFailure(
                prop, family.name, v, f"loaded back as version {back.version!r}, not {v!r}"
            )
        _require_same(prop, family, v, "load(dump(x)) differs from x", c.data, back.data)
        if v != family.current:
            up = _do(prop, family, v, "upgrade", lambda: family.upgrade(c))
            raw_now = _do(prop, family, v, "dump at current", lambda: family.dump(c))
            now = _do(prop, family, v, "load at current", lambda: family.load(raw_now))
            what = "load(dump(x)) at current differs from upgrade(x)"
            _require_same(prop, family, v, what, up.data, now.data)

    _run(family, prop, _any_version(family, family.versions), body, settings)


def check_canonical_stable(family: Family, *, settings: Settings | None = None) -> None:
    """Dumped bytes do not depend on member order and do not change when dumped again."""
    __tracebackhide__ = True
    prop = "canonical-stable"

    def body(c: Container) -> None:
        __tracebackhide__ = True
        v = c.version
        first = _do(prop, family, v, "dump", lambda: family.dump(c, version=v))
        shuffled = Container(c.family, v, _reordered(c.data), c.written_version, c.signature)
        second = _do(
            prop, family, v, "dump (members reordered)", lambda: family.dump(shuffled, version=v)
        )
        if first != second:
            raise PropertyFailure(
                prop,
                family.name,
                v,
                "the bytes depend on the order of members",
                hint="dump must write canonical JSON (sorted keys)",
            )
        again = _do(
            prop,
            family,
            v,
            "dump after load",
            lambda: family.dump(family.load(first, to=v), version=v),
        )
        if again != first:
            raise PropertyFailure(
                prop,
                family.name,
                v,
                f"dumping a loaded container changed its bytes: {first[:120]!r} -> {again[:120]!r}",
            )
        if canonical(c.data) != first:
            raise PropertyFailure(
                prop,
                family.name,
                v,
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
        later = family.versions[family.versions.index(c.version) + 1 :]
        for target in later:
            up = _do(
                prop,
                family,
                c.version,
                f"upgrade to {target!r}",
                functools.partial(family.upgrade, c, target),
            )
            _require_valid(prop, family, target, f"the upgrade of a v{c.version!r} container", up)
            if up.version != target or up.written_version != c.version:
                raise PropertyFailure(
                    prop,
                    family.name,
                    c.version,
                    f"upgrade to {target!r} gave version {up.version!r} written at "
                    f"{up.written_version!r}",
                )
        raw = _do(prop, family, c.version, "dump at current", lambda: family.dump(c))
        problems = family.validate(raw)
        if problems:
            raise PropertyFailure(
                prop,
                family.name,
                c.version,
                "the upgraded container does not validate: " + "; ".join(map(str, problems[:5])),
            )

    _run(family, prop, _any_version(family, older), body, settings)


def _edges(family: Family) -> list[Migration]:
    return [family.migration(v) for v in family.versions if v in family.graph.edges]


def check_downgrade_inverse(family: Family, *, settings: Settings | None = None) -> None:
    """On every edge with a downgrade, downgrade(upgrade(x)) is valid; on an edge declared
    exact it is x itself."""
    __tracebackhide__ = True
    prop = "downgrade-inverse"
    edges = [m for m in _edges(family) if m.downgrade is not None]
    if not edges:
        return
    # The edge is drawn as its source version: a failing example then reads (1, container).
    strategy = st.one_of(
        [st.tuples(st.just(m.source), containers(family, m.source)) for m in edges]
    )

    def body(pair: tuple[Version, Container]) -> None:
        __tracebackhide__ = True
        source, c = pair
        m = family.migration(source)
        up = _do(
            prop, family, c.version, f"upgrade to {m.target!r}", lambda: family.upgrade(c, m.target)
        )
        down = _do(
            prop,
            family,
            c.version,
            f"downgrade back to {m.source!r}",
            lambda: family.downgrade(up, m.source, allow_lossy=True),
        )
        _require_valid(prop, family, m.source, f"the downgrade {m.target!r} -> {m.source!r}", down)
        if m.exact:
            _require_same(
                prop,
                family,
                c.version,
                f"the edge {m.source!r} -> {m.target!r} is declared exact, but "
                "downgrade(upgrade(x)) differs from x",
                c.data,
                down.data,
                hint="fix the downgrade, or declare the edge lossy and list what it loses",
            )

    _run(family, prop, strategy, body, settings)


def check_upgrade_deterministic(family: Family, *, settings: Settings | None = None) -> None:
    """Migrating the same container twice gives the same result and leaves the input alone."""
    __tracebackhide__ = True
    prop = "upgrade-deterministic"

    def body(c: Container) -> None:
        __tracebackhide__ = True
        before = canonical(c.data)
        i = family.versions.index(c.version)
        moves: list[tuple[str, Callable[[], Container]]] = []
        if c.version != family.current:
            moves.append(("upgrade", lambda: family.upgrade(c)))
        if i > 0 and family.migration(family.versions[i - 1]).downgrade is not None:
            prev = family.versions[i - 1]
            moves.append(
                (f"downgrade to {prev!r}", lambda: family.downgrade(c, prev, allow_lossy=True))
            )
        for action, move in moves:
            first = _do(prop, family, c.version, action, move)
            second = _do(prop, family, c.version, action + " (again)", move)
            _require_same(
                prop,
                family,
                c.version,
                f"{action} of the same container gave two different results",
                first.data,
                second.data,
                hint="a migration must not depend on time, randomness or state between calls",
            )
            if canonical(c.data) != before:
                raise PropertyFailure(
                    prop,
                    family.name,
                    c.version,
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
            return f"the policy does not restore section {section!r}"
        if sp.fields and field not in sp.fields:
            return f"it is not in section {section!r}'s allowlist {list(sp.fields)}"
        if writable is not None and (section, field) not in writable:
            return "it is not in the policy's writable fields"
        source = container.data.get(section)
        if not isinstance(source, Mapping) or field not in source:
            return "the container has no such field (no rule declares writing it)"
        if canonical(source[field]) != canonical(value):
            return f"the container holds {source[field]!r}, not {value!r}"
        return None

    return why_not


def check_restore_allowlist(family: Family, *, settings: Settings | None = None) -> None:
    """A restore writes only fields the policy of the written version allows (or a rule
    declares), with the container's values."""
    __tracebackhide__ = True
    prop = "restore-allowlist"

    def body(pair: tuple[Container, _Target | None]) -> None:
        __tracebackhide__ = True
        c, target = pair
        up = _do(prop, family, c.version, "upgrade", lambda: family.upgrade(c))
        policy = _do(prop, family, c.version, "restore_policy", lambda: family.restore_policy(up))
        try:
            written = policy.filter(up, target)
        except RestoreRefused:
            return  # a refused restore writes nothing
        except Exception as err:
            raise PropertyFailure(
                prop,
                family.name,
                c.version,
                f"the restore filter raised {type(err).__name__}: {err}",
            ) from err
        why_not = _allowed(policy, up)
        for section, values in written.items():
            for field, value in values.items():
                reason = why_not(section, field, value)
                if reason is not None:
                    raise PropertyFailure(
                        prop,
                        family.name,
                        c.version,
                        f"the restore writes {section}.{field} = {value!r}, but {reason}",
                        hint="a rule that writes a field must declare it (NamedRule.writes)",
                    )

    strategy = st.tuples(_any_version(family, family.versions), _targets(family))
    _run(family, prop, strategy, body, settings)


def check_invalid_refused(family: Family, *, settings: Settings | None = None) -> None:
    """A container broken in one known way is refused, and the problem is reported where it is."""
    __tracebackhide__ = True
    prop = "invalid-refused"
    strategy = st.one_of([invalid_containers(family, v) for v in family.versions])

    def body(bad: InvalidContainer) -> None:
        __tracebackhide__ = True
        raw = canonical(bad.data)
        issues = family.validate(raw)
        at = f"{bad.reason} at {bad.pointer or '/'}"
        if sorted({i.pointer for i in issues}) != [bad.pointer]:
            raise PropertyFailure(
                prop,
                family.name,
                bad.version,
                f"{at}: expected one problem there, "
                f"validate reported {[str(i) for i in issues] or 'none'}",
            )
        try:
            family.load(raw)
        except DocketError:
            return
        except Exception as err:
            raise PropertyFailure(
                prop,
                family.name,
                bad.version,
                f"{at}: load raised {type(err).__name__}, not a DocketError",
            ) from err
        raise PropertyFailure(prop, family.name, bad.version, f"{at}: load accepted the container")

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
            f"{len(failures)} docket properties failed for family {family.name!r}", failures
        )
