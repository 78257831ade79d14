"""A container family: its versions, validators, policies and migrations, and the container.

Data flows one way: parse -> detect version -> validate at that version -> check integrity ->
upgrade (or downgrade) -> :class:`Container`. A container remembers the version it was
written at, so a restore applies *that* version's policy, carried to the container's shape.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

import jsonschema_rs

from docket._lazy import lazy_exports
from docket.core import _loading
from docket.core._frozen import filled
from docket.core._rs import PathFinder
from docket.core.codec import (
    DEFAULT_LIMITS,
    Limits,
    canonical,
    check_limits,
    parse,
)
from docket.core.documents import FamilySource, placed, version_text
from docket.core.errors import (
    DigestMismatch,
    DocketError,
    IntegrityError,
    Issue,
    LimitExceeded,
    LossyMigration,
    MigrationError,
    ParseError,
    SchemaDocumentError,
    SignatureError,
    UnknownRule,
    UsageError,
    ValidationError,
    VersionError,
    show,
)
from docket.core.integrity import Integrity
from docket.core.versions import Version, VersionScheme, detect

# Restore policies and the narrowed check of a migrated container are imported where they
# are used: validating a container at its own version (``docket validate``) needs neither.
if TYPE_CHECKING:
    from docket.core.losses import DataLoss, Migrated
    from docket.core.migrations import FieldRef, Migration, VersionGraph
    from docket.core.policy import NamedRule, RestorePolicy

__getattr__ = lazy_exports(__name__, {"docket.core.losses": "Migrated"})
"""``Migrated``, what :meth:`Family.migrate` gives, defined with the losses it reports."""

JSONObject = dict[str, Any]
_MAX_MESSAGE = 300
_VERSION_TYPES = (int, str)  # a version found among the family's is one detect() returns


@dataclass(frozen=True, eq=False)
class Container:
    """A loaded container: its JSON data at ``version``, written at ``written_version``.

    Treat ``data`` as read-only; upgrades and downgrades return new containers.
    """

    family: str
    version: Version
    data: JSONObject
    written_version: Version
    signature: str = "absent"
    """``"verified"``, ``"unverified"`` (signed, no key configured) or ``"absent"``."""
    floor: Version | None = None
    """The oldest version the container was downgraded to since it was written (None: never
    below ``written_version``): that version's policy bounds its restores too."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Container):
            return NotImplemented
        return (self.family, self.version, self.data) == (other.family, other.version, other.data)

    def __hash__(self) -> int:
        return hash((self.family, self.version, canonical(self.data)))

    def sections(self) -> dict[str, Any]:
        """The members that are sections (objects), by name."""
        return {k: v for k, v in self.data.items() if isinstance(v, dict)}


def _container(
    family: str, version: Version, data: JSONObject, written: Version, signature: str
) -> Container:
    """``Container(family, version, data, written, signature)`` (no floor), made directly."""
    return filled(
        Container,
        {
            "family": family,
            "version": version,
            "data": data,
            "written_version": written,
            "signature": signature,
            "floor": None,
        },
    )


def _truncate(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


_KEYWORDS = frozenset(
    {
        *("type", "enum", "const", "required", "additionalProperties", "properties"),
        *("patternProperties", "propertyNames", "minProperties", "maxProperties"),
        *("dependentRequired", "items", "prefixItems", "contains", "minContains"),
        *("maxContains", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength"),
        *("pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
        *("multipleOf", "anyOf", "oneOf", "allOf", "not", "if", "then", "else", "$ref"),
        *("unevaluatedProperties", "unevaluatedItems"),
    }
)


def _keyword(error: Any) -> str:
    """The JSON Schema keyword a jsonschema-rs error is about (``type``, ``required``...)."""
    path = error.schema_path
    last = path[-1] if path else None
    if last in _KEYWORDS:
        return str(last)
    name = type(error.kind).__name__
    return name[:1].lower() + name[1:]


@dataclass(frozen=True)
class VersionSpec:
    """One version of a family, compiled from its document."""

    version: Version
    document: Mapping[str, Any]
    integrity: Integrity | None

    @property
    def schema(self) -> Mapping[str, Any]:
        return self.document["schema"]  # type: ignore[no-any-return]

    @functools.cached_property
    def fast(self) -> Any:
        return jsonschema_rs.validator_for(dict(self.schema), validate_formats=True)

    def issues(self, data: Any) -> list[Issue]:
        """Every schema problem of ``data``, from the validator that decides (jsonschema-rs),
        so the verdict and its explanation cannot disagree. Its patterns follow ECMA-262 as
        JSON Schema says: ``$`` matches only at the very end, so ``"x\\n"`` fails ``^x$``."""
        where = PathFinder(data)
        out = [
            Issue(where(e), _truncate(e.message), _keyword(e)) for e in self.fast.iter_errors(data)
        ]
        if len(out) > 1:
            out.sort(key=lambda i: [(isinstance(s, int), str(s)) for s in i.segments])
        if not out and not self.is_valid(data):
            # jsonschema-rs explains every refusal; were one left unexplained, it still stands.
            out.append(Issue((), "the container does not match its version's schema", "schema"))
        return out

    def is_valid(self, data: Any) -> bool:
        return bool(self.fast.is_valid(data))

    @functools.cached_property
    def unsealed(self) -> Any:
        """The validator without the digest member's subschema, whose verdict stands once
        the digest matches (:func:`docket.core._loading.unsealed_validator`)."""
        return _loading.unsealed_validator(self)


class _Route(NamedTuple):
    """A path between two versions, as :meth:`Family._migrate` runs it (a named tuple: a
    frozen dataclass costs every start a millisecond to define)."""

    steps: tuple[tuple[Migration, bool], ...]
    losses: tuple[str, ...]
    """What its downgrades lose (those not declared exact)."""
    check: Any
    """The validator of its result (narrowed, :meth:`Family._migrated_check`)."""


@dataclass(frozen=True, eq=False)
class Family:
    """A named container format with ordered versions and one current version."""

    source: FamilySource
    graph: VersionGraph
    rules: Mapping[str, NamedRule] = field(default_factory=dict)
    signing_key: bytes | None = field(default=None, repr=False)
    limits: Limits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        for v in self.versions:
            try:
                self._check_policy(v)
            except SchemaDocumentError as err:
                if self.source.directory is not None:  # a file to find the place in
                    placed(err)
                raise

    # --- what the family is -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def versions(self) -> tuple[Version, ...]:
        return self.graph.versions

    @property
    def current(self) -> Version:
        return self.graph.current

    @property
    def scheme(self) -> VersionScheme:
        return self.source.scheme

    @property
    def readers(self) -> Mapping[str, tuple[Version, ...]]:
        """Named readers and the versions each accepts, as the manifest declares them."""
        return self.source.readers

    def released(self) -> tuple[Version, ...]:
        return tuple(v for v in self.versions if str(v) in self.source.released)

    @functools.cached_property
    def _specs(self) -> dict[Version, VersionSpec]:
        specs = {}
        for v, doc in self.source.documents.items():
            integ = doc.get("integrity")
            integrity = (
                Integrity(integ["digest"], integ.get("signature")) if integ is not None else None
            )
            specs[v] = VersionSpec(v, doc, integrity)
        return specs

    def spec(self, version: Version) -> VersionSpec:
        self._require_version(version)
        return self._specs[version]

    def schema(self, version: Version | None = None) -> Mapping[str, Any]:
        """The JSON Schema of a version's containers (current by default)."""
        return self.spec(self.current if version is None else version).schema

    def migration(self, source: Version) -> Migration:
        return self.graph.edges[source]

    def parse_version(self, text: str) -> Version:
        """A version as a person types it (``"2"``, ``"v2"``, ``"1.0.0"``), checked."""
        try:
            version = self.scheme.parse_text(text)
        except ValueError:
            self._require_version(text)
            raise
        self._require_version(version)
        return version

    def named_version(self, text: str, argument: str = "VERSION") -> Version:
        """The version ``text`` names on a command line (``argument``) or in a script: written
        exactly as docket writes it (:meth:`VersionScheme.parse_exact`: ``3``, not ``03``,
        `` 3`` or ``v3``) and one of the family's; a :class:`UsageError` of ``argument``
        otherwise, its hint the spelling meant or the versions there are."""
        try:
            version = self.scheme.parse_exact(text)
            self._require_version(version)
        except (DocketError, ValueError) as err:
            meant = self.scheme.spelling(text)
            known = [version_text(v) for v in self.versions]
            raise UsageError(
                argument,
                # A long text (a version 5,000 digits long) is shown by its start.
                f"{show(text[:80])}{' (cut)' if len(text) > 80 else ''} is not a version of "
                f"{self.name}",
                f"did you mean {meant}?"
                if meant is not None and meant != text and meant in known
                else "versions: " + ", ".join(known),
            ) from err
        return version

    def _require_version(self, version: Any) -> None:
        if not self.scheme.is_well_formed(version) or version not in self.versions:
            detect(self.name, self.scheme, self.versions, {"version": version})

    # --- policies -------------------------------------------------------------------------

    def _check_policy(self, version: Version) -> None:
        doc = self.source.documents[version]
        props = doc["schema"].get("properties", {})
        where = self.source.document_of(version)
        for section, spec in doc["policy"]["sections"].items():
            base = ["policy", "sections", section]
            if section not in props:
                raise SchemaDocumentError(
                    where,
                    f"policy names section {show(section)}, which the schema does not define",
                    path=base,
                )
            sec_props = props[section].get("properties")
            for i, name in enumerate(spec.get("fields", ())):
                if not isinstance(sec_props, Mapping) or name not in sec_props:
                    raise SchemaDocumentError(
                        where,
                        f"policy allows field {show(name)}, which section {show(section)} does "
                        "not define",
                        path=(*base, "fields", i),
                        hint="add the field to the section's properties, or drop it from fields",
                    )
            for i, ref in enumerate(spec.get("rules", ())):
                if ref["name"] not in self.rules:
                    err = UnknownRule(ref["name"], list(self.rules))
                    raise SchemaDocumentError(where, str(err), path=(*base, "rules", i, "name"))

    @functools.cache  # noqa: B019 - families are immutable values kept by the registry
    def policy(self, version: Version) -> RestorePolicy:
        """The restore policy a container written at ``version`` is restored with."""
        from docket.core.policy import RestorePolicy, policy_from_document

        self._require_version(version)
        doc = self.source.documents[version]
        props = doc["schema"].get("properties", {})
        base = policy_from_document(self.name, version, doc["policy"], props, self.rules)
        return RestorePolicy(
            base.family, base.version, base.sections, base.rules, translate=self._carry_policy
        )

    def _carry_policy(self, policy: RestorePolicy, version: Version) -> RestorePolicy:
        from docket.core.policy import carry_fields

        # Along upgrades fields move as the upgrades move them; along downgrades, back.
        steps = self.graph.path(policy.shape, version)
        moves = [m.moves if up else {b: a for a, b in m.moves.items()} for m, up in steps]
        carried = carry_fields(policy, moves, version)
        # Which fields are "unknown" is a question about the shape the container has now.
        props = self.source.documents[version]["schema"].get("properties", {})
        sections = {}
        for name, sp in carried.sections.items():
            sec_props = props.get(name, {}).get("properties")
            known = frozenset(sec_props) if isinstance(sec_props, Mapping) else None
            sections[name] = replace(sp, known=known)
        return replace(carried, sections=sections)

    def restore_policy(self, container: Container) -> RestorePolicy:
        """The policy ``container`` restores with, over its current shape: what the version it
        was written at allows, and its current version (and any older one it was downgraded
        to) allow as well, each carried across renames to the container's shape."""
        from docket.core.policy import intersect_policies

        now = container.version
        policy = self.policy(container.written_version).at_shape(now)
        bounds = {v for v in (now, container.floor) if v is not None}
        for version in sorted(bounds - {container.written_version}, key=self.scheme.key):
            policy = intersect_policies(policy, self.policy(version).at_shape(now))
        return policy

    # --- reading --------------------------------------------------------------------------

    def _parse(
        self, data: bytes | bytearray | memoryview | str | Mapping[str, Any] | Container
    ) -> JSONObject:
        if type(data) is bytes or type(data) is str:  # the common case, before the ABC checks
            return parse(data, self.limits)
        if isinstance(data, Container):
            data = data.data
        if isinstance(data, Mapping):
            if not isinstance(data, dict):
                data = dict(data)
            check_limits(data, self.limits)
            return data
        return parse(data, self.limits)

    def detect(
        self, obj: bytes | bytearray | memoryview | str | Mapping[str, Any] | Container
    ) -> Version:
        """The version of a container, parsed or not (bytes or text are parsed as
        :meth:`load` parses them), or the typed error saying what is wrong."""
        return detect(self.name, self.scheme, self.versions, self._parse(obj))

    def _check(self, obj: JSONObject, version: Version) -> str:
        return _loading.checked(self, self._specs[version], obj)

    @functools.cached_property
    def signs(self) -> bool:
        """Whether some version of this family carries a signature."""
        return any(s.integrity is not None and s.integrity.signature for s in self._specs.values())

    def _refuse_unsignable(self, version: Version) -> None:
        # With a key configured, a version that cannot carry a signature would be a way around
        # it (change "version": 3 to 2 and the signature is never looked at).
        if self.signing_key is not None and self.signs:
            raise SignatureError(
                f"version {show(version)} containers cannot be signed and a signing key is "
                "configured",
                path=("version",),
                hint="only signed containers are accepted while a key is configured; "
                "restore older containers without a key",
            )

    def load(
        self,
        data: bytes | bytearray | memoryview | str | Mapping[str, Any] | Container,
        *,
        to: Version | None = None,
    ) -> Container:
        """Parse, validate and upgrade a container (to current, or to ``to``); a
        :class:`Container` is checked again and keeps its written version."""
        if to is None and (type(data) is bytes or type(data) is str):
            # The same checks in the same order, with less in between (held to this path by
            # tests/core/test_load_paths.py).
            return _loading.load_text(self, data, _container)
        obj = self._parse(data)
        found: Any = obj.get("version")
        # One dict lookup finds a known version (the family's versions are _specs' keys);
        # anything else gets detect()'s typed error.
        version = found if type(found) in _VERSION_TYPES and found in self._specs else (
            self.detect(obj)
        )
        status = self._check(obj, version)
        # Bytes and text (the common case) skip the ABC checks.
        fresh = type(data) is bytes or type(data) is str
        if not fresh and isinstance(data, Container):
            container = replace(data, version=version, data=obj, signature=status)
        else:
            container = Container(self.name, version, obj, version, status)
        target = self.current if to is None else to
        if target == version:
            return container
        if to is not None:
            self._require_version(target)
        # Freshly parsed data is ours to change in place; a caller's dict (or container) is not.
        owned = fresh or not isinstance(data, Mapping | Container)
        return self._migrate(container, target, allow_lossy=False, owned=owned, checked=True)

    @functools.cached_property
    def _reader(self) -> _loading.Reader | None:
        """:func:`docket.core._loading.reader` of this family."""
        return _loading.reader(self, _container)

    @functools.cached_property
    def _sealed(self) -> dict[Version, frozenset[str]]:
        """The versions with a digest, each with the members it does not cover."""
        return {v: s.integrity.excluded for v, s in self._specs.items() if s.integrity}

    def validate(
        self, data: bytes | bytearray | memoryview | str | Mapping[str, Any] | Container
    ) -> list[Issue]:
        """Every problem of a container, as issues; an empty list means valid. Never raises
        for a bad container."""
        try:
            # Bytes and text (the common case) go straight to the parser.
            obj = (
                parse(data, self.limits)
                if isinstance(data, (bytes, str))
                else self._parse(data)
            )
        except ParseError as err:
            return [parse_issue(err, data)]
        return self.validate_parsed(obj)

    def validate_parsed(self, obj: JSONObject) -> list[Issue]:
        """:meth:`validate` of a container already parsed within this family's limits (by
        :func:`~docket.core.codec.parse` with them): version, schema, integrity."""
        found: Any = obj.get("version")
        # One dict lookup finds the version's spec (the family's versions are its keys).
        spec = self._specs.get(found) if type(found) in _VERSION_TYPES else None
        if spec is None:
            try:
                spec = self._specs[self.detect(obj)]
            except VersionError as err:
                segs: tuple[str, ...] = ("version",) if "version" in obj else ()
                return [Issue(segs, str(err), "version")]
        version = spec.version
        if not spec.fast.is_valid(obj):
            return spec.issues(obj)
        if spec.integrity is None and self.signing_key is None:
            return []  # nothing to verify and no key that would refuse an unsigned version
        try:
            if spec.integrity is None:
                self._refuse_unsignable(version)
            else:
                spec.integrity.verify(obj, self.signing_key)
        except DigestMismatch as err:
            member = spec.integrity.digest if spec.integrity else "digest"
            return [Issue((member,), _unlocated(err), "digest")]
        except SignatureError as err:
            member = (spec.integrity.signature if spec.integrity else None) or "version"
            return [Issue((member,), _unlocated(err), "signature")]
        return []

    # --- migrating ------------------------------------------------------------------------

    def _step(self, data: JSONObject, migration: Migration, up: bool, owned: bool) -> JSONObject:
        src, dst = (
            (migration.source, migration.target) if up else (migration.target, migration.source)
        )
        src_integrity = self._specs[src].integrity
        if src_integrity is not None:
            data = src_integrity.strip(data if owned else dict(data))
        if up:
            out = migration.run_upgrade(data, owned=owned)
        else:
            out = migration.run_downgrade(data, owned=owned)
        dst_integrity = self._specs[dst].integrity
        if dst_integrity is not None:
            out = dst_integrity.seal(out, self.signing_key)
        return out

    def _require_own(self, container: Container, target: Version) -> None:
        self._require_version(target)
        if container.family != self.name:
            raise MigrationError(
                self.name,
                container.version,
                target,
                f"the container belongs to family {show(container.family)}",
            )

    def migrate(
        self, container: Container, to: Version | None = None, *, allow_lossy: bool = False
    ) -> Migrated:
        """``container`` upgraded or downgraded to ``to`` (current by default), with the
        report of the values it holds that the migration loses.

        One rule in both directions: a migration that drops a value the container holds, or
        changes one so that it cannot be given back, or a value a downgrade is declared to
        lose, is refused with :class:`LossyMigration` (its ``report`` names each
        ``$``-path) unless ``allow_lossy``; with it, the result still lists the losses.
        Fields the container does not hold are never a loss. (:meth:`downgrade` and
        :meth:`dump` keep their rule, by the edges a family declares lossy.)
        """
        from docket.core.losses import Migrated

        target = self.current if to is None else to
        self._require_own(container, target)
        report = self.loss_report(container, target)
        if report and not allow_lossy:
            raise LossyMigration(
                self.name,
                container.version,
                target,
                [loss.describe() for loss in report],
                report=report,
            )
        return Migrated(self._migrate(container, target, allow_lossy=True), report)

    def loss_report(self, container: Container, to: Version) -> tuple[DataLoss, ...]:
        """The values ``container`` holds that migrating it to ``to`` would lose, each at its
        ``$``-path in ``container`` (empty when none); nothing is migrated."""
        from docket.core.losses import LossTracer  # not on validate's path

        self._require_own(container, to)
        data = container.data
        tracer: LossTracer | None = None
        for migration, up in self.graph.path(container.version, to):
            src = migration.source if up else migration.target
            integrity = self._specs[src].integrity
            view = integrity.strip(dict(data)) if integrity is not None else data
            tracer = tracer or LossTracer(view)
            tracer.step(migration, up, view)
            data = self._step(data, migration, up, owned=False)
        return tracer.losses if tracer is not None else ()

    def moves(self, source: Version, target: Version) -> dict[FieldRef, FieldRef]:
        """Where the fields of a ``source`` container are at ``target``, for those a declared
        rename or move carries (``(section, field)``; section None: a top-level member)."""
        carried: dict[FieldRef, FieldRef] = {}
        for migration, up in self.graph.path(source, target):
            step = migration.moves if up else {b: a for a, b in migration.moves.items()}
            now = {a: step.get(b, b) for a, b in carried.items()}
            taken = set(carried) | set(carried.values())
            now.update((a, b) for a, b in step.items() if a not in taken)
            carried = now
        return {a: b for a, b in carried.items() if a != b}

    def _migrate(
        self,
        container: Container,
        target: Version,
        *,
        allow_lossy: bool,
        owned: bool = False,
        checked: bool = False,
    ) -> Container:
        """Move ``container`` to ``target``; with ``owned`` its data may be reused in place,
        with ``checked`` it was just found valid at its version (the result is judged by
        the narrowed check, :meth:`_migrated_check`)."""
        if not checked or container.family != self.name:
            self._require_own(container, target)
        route = self._route(container.version, target)
        steps = route.steps
        if not allow_lossy and route.losses:
            raise LossyMigration(self.name, container.version, target, list(route.losses))
        data = container.data
        for migration, up in steps:
            data = self._step(data, migration, up, owned)
            owned = True  # every step after the first works on a fresh object
        spec = self._specs[target]
        if steps and not (route.check if checked else spec.fast).is_valid(data):
            raise self._broken_step(container, target, steps, data)
        status = container.signature
        if steps and spec.integrity is not None:
            status = "verified" if self.signing_key is not None else "absent"
        floor = container.floor
        if target != self.current:  # nothing is below current
            key = self.scheme.key
            if key(target) < key(container.written_version) and (
                floor is None or key(target) < key(floor)
            ):
                floor = target
        return Container(self.name, target, data, container.written_version, status, floor)

    @functools.cached_property
    def _routes(self) -> dict[tuple[Version, Version], _Route]:
        return {}

    def _route(self, source: Version, target: Version) -> _Route:
        """The path from ``source`` to ``target``, worked out once per pair of versions."""
        key = (source, target)
        found = self._routes.get(key)
        if found is None:
            steps = tuple(self.graph.path(source, target))
            losses = tuple(loss for m, up in steps if not up and not m.exact for loss in m.losses)
            check = self._narrowed_check(source, target) if steps else None
            found = self._routes[key] = _Route(steps, losses, check)
        return found

    def _migrated_check(self, source: Version, target: Version) -> Any:
        """The validator whose verdict on a container migrated from ``source`` to ``target``,
        valid at ``source`` before, is the target schema's: that schema narrowed to what the
        path's operations touch (:mod:`docket.core.narrowing`), built once per path."""
        return self._route(source, target).check

    def _narrowed_check(self, source: Version, target: Version) -> Any:
        return _loading.narrowed_check(self, source, target)

    def _broken_step(
        self,
        container: Container,
        target: Version,
        steps: Sequence[tuple[Migration, bool]],
        result: JSONObject,
    ) -> MigrationError:
        """The error for a path whose result (``result``) is invalid, naming the first edge
        whose output is not valid at its own version (the steps are run again, one by one).
        A path of one step is judged by its result: its input may have been changed in place
        (a freshly parsed container is), and running the step again on that would report the
        step failing (a conversion meeting its own output) instead of what is wrong."""
        data = container.data
        for migration, up in steps:
            src, dst = (
                (migration.source, migration.target) if up else (migration.target, migration.source)
            )
            data = result if len(steps) == 1 else self._step(data, migration, up, owned=False)
            issues = self._specs[dst].issues(data) if not self._specs[dst].is_valid(data) else []
            if issues:
                return MigrationError(
                    self.name,
                    src,
                    dst,
                    f"the {'upgrade' if up else 'downgrade'} gives a container that is not "
                    f"valid at version {show(dst)}: " + "; ".join(str(i) for i in issues[:5]),
                    hint="this edge's operations or functions are broken; `docket check` "
                    "lists what it finds on the schemas",
                )
        return MigrationError(
            self.name, container.version, target, "the migrated container is not valid"
        )

    def upgrade(self, container: Container, to: Version | None = None) -> Container:
        """The container at a newer version (current by default)."""
        target = self.current if to is None else to
        self._require_version(target)
        if self.scheme.key(target) < self.scheme.key(container.version):
            raise MigrationError(
                self.name,
                container.version,
                target,
                "that is a downgrade",
                hint="use downgrade()",
            )
        return self._migrate(container, target, allow_lossy=False)

    def downgrade(
        self, container: Container, to: Version, *, allow_lossy: bool = False
    ) -> Container:
        """The container at an older version; refused when lossy unless ``allow_lossy``."""
        self._require_version(to)
        if self.scheme.key(to) > self.scheme.key(container.version):
            raise MigrationError(
                self.name, container.version, to, "that is an upgrade", hint="use upgrade()"
            )
        return self._migrate(container, to, allow_lossy=allow_lossy)

    def losses(self, source: Version, target: Version) -> list[str]:
        """What going from ``source`` down to ``target`` loses (empty when exact)."""
        return [
            loss
            for m, up in self.graph.path(source, target)
            if not up and not m.exact
            for loss in m.losses
        ]

    # --- writing --------------------------------------------------------------------------

    def dump(
        self, container: Container, *, version: Version | None = None, allow_lossy: bool = False
    ) -> bytes:
        """Canonical JSON bytes of ``container`` at ``version`` (current by default)."""
        target = self.current if version is None else version
        moved = self._migrate(container, target, allow_lossy=allow_lossy)
        integrity = self._specs[target].integrity
        data = moved.data
        if integrity is not None and self.signing_key is not None and moved.signature != "verified":
            data = integrity.seal(dict(data), self.signing_key)
        return canonical(data)

    def new(self, data: Mapping[str, Any], *, version: Version | None = None) -> Container:
        """A container from sections you built (the version and integrity members are set)."""
        target = self.current if version is None else version
        self._require_version(target)
        obj = dict(data)
        check_limits(obj, self.limits)  # JSON values within the limits, before they are sealed
        # Members the schema pins to one value (version, family, ...) are filled in.
        for name, prop in self._specs[target].schema.get("properties", {}).items():
            if isinstance(prop, Mapping) and "const" in prop:
                obj[name] = prop["const"]
        integrity = self._specs[target].integrity
        if integrity is not None:
            obj = integrity.seal(obj, self.signing_key)
        status = self._check(obj, target)
        return Container(self.name, target, obj, target, status)

    def with_signing_key(self, key: bytes | None) -> Family:
        return Family(self.source, self.graph, self.rules, key, self.limits)

    def with_limits(self, limits: Limits) -> Family:
        return Family(self.source, self.graph, self.rules, self.signing_key, limits)

    def golden(self) -> dict[Version, tuple[Any, ...]]:
        """Golden container files per released version."""
        return {v: tuple(p) for v, p in self.source.golden.items()}


def problems(error: DocketError) -> Sequence[Issue]:
    """The issues behind an error (validation errors carry many)."""
    if isinstance(error, ValidationError):
        return error.issues
    return [Issue((), str(error), type(error).__name__)]


def parse_issue(err: ParseError, data: Any) -> Issue:
    """A parse error as an issue, with the line and column of where the text is wrong."""
    line, column = err.line, err.column
    if line is None and isinstance(data, bytes | bytearray | memoryview | str):
        from docket.core import locate  # the error path only

        if err.segments:  # a limit, at a place in a document that parsed
            line, column = locate.nearest(data, err.segments)
        elif isinstance(err, LimitExceeded) and err.limit == "max_bytes":
            at = min(err.maximum, len(data))
            line, column = (
                locate.position(data, at)
                if isinstance(data, str)
                else locate.byte_position(data, at)
            )
        elif err.position is not None and not isinstance(data, str):
            line, column = locate.byte_position(data, err.position)
    # The issue carries the place; its message is the error's text without it.
    text = f"{err.unlocated()} (hint: {err.hint})" if err.hint else err.unlocated()
    return Issue(err.segments, text, "parse", line=line, column=column)


def _unlocated(err: IntegrityError) -> str:
    """An integrity error's text without its location, which the issue carries already."""
    return f"{err.reason} (hint: {err.hint})" if err.hint else err.reason
