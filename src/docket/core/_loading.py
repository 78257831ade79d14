"""What :meth:`Family.load <docket.core.family.Family.load>` runs for bytes or text to the
current version, and the checks it shares with the general path, each doing less where what
it skips is shown by what is checked anyway.

- *The digest member's subschema.* A digest docket computes is ``sha256:`` and 64 lowercase
  hex digits, so a schema that only asks that of the member (the bundled families' do)
  admits every digest that matches the content. The schema is checked without that
  subschema (:func:`unsealed_validator`; the regular expression cost an eighth of a 3 KB
  container's check), and the verdict stands once the digest is found to match; a digest
  that does not is judged by the full schema first, as the general path does.
- *The check after a migration* (:func:`narrowed_check`): the path's steps seal what they
  write, so the digest and signature members are left out of it the same way.
- *The calls in between* (:func:`reader`): the containers loaded most, docket's own v3
  writing and Cinder's, take one straight path each, the family's constants bound once.
- *A converter's own checks* (:func:`checked_upgrade`): the first edge of the upgrade takes
  a value just found valid at its version, so a converter may skip what that schema showed.

``tests/core/test_load_paths.py`` holds the fast path to the general one and to the
reference parser; ``tests/core/test_unsealed.py`` holds :func:`unsealed` to jsonschema-rs,
``tests/core/test_checked_upgrade.py`` the checked converters to the converters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import orjson

from docket.core.codec import (
    _at_most,
    _proved,
    _size_within,
    covered_bytes,
    parse_exact,
    parse_sealed,
    proved_sealed,
)
from docket.core.errors import IntegrityError, LossyMigration, ValidationError
from docket.core.integrity import DIGEST_PREFIX, SIGNATURE_PREFIX, Integrity

if TYPE_CHECKING:
    from docket.core.family import Container, Family, VersionSpec
    from docket.core.migrations import Migration
    from docket.core.operations import Operation, Transform
    from docket.core.versions import Version

_VERSION_TYPES = (int, str)  # a version found among the family's is one detect() returns
_loads, _dumps, _SORTED = orjson.loads, orjson.dumps, orjson.OPT_SORT_KEYS
Maker = Callable[[str, "Version", Any, "Version", str], "Container"]
Reader = Callable[[bytes, Any], "Container | None"]


def _admits_sealed(sub: Any, prefix: str) -> bool:
    """Whether ``sub`` admits every string ``prefix`` + 64 lowercase hex digits: it asks at
    most that the value be a string matching exactly that (annotations aside)."""
    from docket.core.converters import _judged

    judged = _judged(sub)
    pattern = "^" + prefix + "[0-9a-f]{64}$"
    return judged is not None and all(
        (k == "type" and v == "string") or (k == "pattern" and v == pattern)
        for k, v in judged.items()
    )


def unsealed(
    schema: Mapping[str, Any], integrity: Integrity | None, *, signature: bool
) -> dict[str, Any] | None:
    """``schema`` with the ``properties`` entries of the digest member (and, with
    ``signature``, of the signature member) replaced by ``true`` where they admit every value
    docket computes for them; None when nothing is replaced. On a container whose digest
    (and signature) docket computed, or was found to match, its verdict is ``schema``'s:
    only those members' subschemas differ, and nothing else refers to them."""
    from docket.core.narrowing import _placed  # once a version: not on validate's path

    props = schema.get("properties")
    if integrity is None or not isinstance(props, Mapping) or _placed(schema):
        return None
    members = [(integrity.digest, DIGEST_PREFIX)]
    if signature and integrity.signature:
        members.append((integrity.signature, SIGNATURE_PREFIX))
    out = dict(props)
    for member, prefix in members:
        if member in props and props[member] is not True and _admits_sealed(props[member], prefix):
            out[member] = True
    if out == dict(props):
        return None
    return {**schema, "properties": out}


def unsealed_validator(spec: VersionSpec) -> Any:
    """The validator of ``spec``'s schema without the digest member's subschema
    (:func:`unsealed`), or the full one when nothing is left out."""
    schema = unsealed(spec.schema, spec.integrity, signature=False)
    if schema is None:
        return spec.fast
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def checked(
    family: Family, spec: VersionSpec, obj: dict[str, Any], covered: bytes | None = None
) -> str:
    """Validate ``obj`` at ``spec``'s version and check its integrity (the order errors come
    in: the schema's, then the digest's, then the signature's); the signature status."""
    integrity = spec.integrity
    if integrity is None:
        if not spec.fast.is_valid(obj):
            raise ValidationError(family.name, spec.version, spec.issues(obj))
        family._refuse_unsignable(spec.version)
        return "absent"
    if not spec.unsealed.is_valid(obj):
        raise ValidationError(family.name, spec.version, spec.issues(obj))
    try:
        return integrity.verify(obj, family.signing_key, covered)
    except IntegrityError:
        # The digest may not be one docket computed: the full schema judges it first.
        if not spec.fast.is_valid(obj):
            raise ValidationError(family.name, spec.version, spec.issues(obj)) from None
        raise


class Spent(Exception):
    """A reader changed the parsed value in place, then found it cannot finish: the text is
    parsed again for the general path."""


def reader(family: Family, make: Maker) -> Reader | None:
    """The reader of the containers ``family`` loads most, its constants bound once (None
    when a key is configured): given a text within the size limits and ``orjson.loads`` of
    it, the container; None for anything else, or :class:`Spent` when it had begun to
    upgrade the value in place (then :func:`load_text` decides, to the same container or
    error: every check below is one the general path makes, in its order).

    - *docket's own writing of a current-version container with a digest*: the text is the
      canonical writing of what orjson read (no duplicate key, no integer beyond 64 bits),
      within the limits its length and brackets bound; the schema admits it but for the
      digest's subschema, and the digest is the one computed from the bytes after the
      excluded members, so the full schema admits it too (:func:`unsealed`).
    - *a container of a version without a digest, such as Cinder writes*: the strict parse's
      proof (:func:`~docket.core.codec._proved`), the check at its version, then the path's
      steps run straight (each edge's compiled upgrade, the strip and seal of the
      integrity members) and the narrowed check of the result."""
    if family.signing_key is not None:
        return None
    current = family.graph.current
    specs = family._specs
    kind = type(current)
    limits = family.limits
    max_keys, max_depth = limits.max_keys, limits.max_depth
    name = family.source.name
    integrity = specs[current].integrity
    if integrity is not None:
        check_sealed = specs[current].unsealed.is_valid
        member, signature, excluded = integrity.digest, integrity.signature, integrity.excluded
        digest_of = integrity.digest_of
    plans: dict[Any, Any] = {}

    def plan(version: Any) -> Any:
        """How a ``version`` container is upgraded, worked out once (None: the general path)."""
        spec = specs[version]
        if spec.integrity is not None:
            return None
        route = family._route(version, current)
        if route.losses or not all(up for _, up in route.steps):
            return None
        # The first edge takes the value just found valid at ``version``.
        steps = tuple(
            (
                checked_upgrade(m, spec.schema) if i == 0 else m.upgrade,
                m.target,
                specs[m.source].integrity,
                specs[m.target].integrity,
            )
            for i, (m, _) in enumerate(route.steps)
        )
        return spec.fast.is_valid, steps, route.check.is_valid

    def read(data: bytes, value: Any) -> Container | None:
        found: Any = value.get("version") if type(value) is dict else None
        if found == current and type(found) is kind:
            if integrity is None:
                return None
            try:
                whole = _dumps(value, option=_SORTED)
            except TypeError:  # nested past what orjson writes
                return None
            if (
                whole != data
                or not (len(data) <= max_keys or data.count(b":") <= max_keys)
                or not _at_most(data, max_depth)
                or not check_sealed(value)
                # The digest is no secret (anyone can compute it from the content): a
                # plain comparison.
                or value.get(member) != digest_of(value, covered_bytes(value, whole, excluded))
            ):
                return None
            signed = signature is not None and value.get(signature) is not None
            return make(name, current, value, current, "unverified" if signed else "absent")
        if type(found) not in _VERSION_TYPES or found not in specs:
            return None  # (hostile versions are not remembered: one plan a known version)
        if found not in plans:
            plans[found] = plan(found)
        how = plans[found]
        if how is None:
            return None
        valid, steps, check = how
        if _proved(data, value, limits) is None or not valid(value):
            return None
        out = value
        for upgrade, target, strip, seal in steps:
            if strip is not None:
                strip.strip(out)
            try:
                out = upgrade(out)
            except Exception:
                raise Spent from None
            if type(out) is not dict:
                raise Spent
            out["version"] = target
            if seal is not None:
                seal.seal(out, None)
        if not check(out):
            raise Spent
        return make(name, current, out, found, "absent")

    return read


def checked_upgrade(migration: Migration, schema: Mapping[str, Any]) -> Transform:
    """``migration``'s upgrade for a container valid under ``schema``, its source version's:
    compiled again with a converter's ``checked`` form (:attr:`Converter.checked`) where a
    ``convert`` takes a value no earlier operation of the edge can have changed or put there
    (only ``add`` and ``convert`` of other places come before it), so one ``schema`` admits;
    the upgrade itself where there is none."""
    from docket.core.narrowing import _field_schema
    from docket.core.operations import Add, Convert, compile_operations, compiled_operations

    ops = compiled_operations(migration.upgrade)
    forwards = {}
    for i, op in enumerate(ops or ()):
        before = (ops or ())[:i]
        if not all(isinstance(p, Add | Convert) for p in before):
            break
        if not isinstance(op, Convert) or op.section is None:
            continue
        if any(p.place in ((None, op.section), op.place) for p in before):
            continue
        converter = migration.converters.get(op.converter)
        field = _field_schema(schema, op.section, op.field)
        if converter is not None and converter.checked is not None and field is not None:
            forward = converter.checked(field)
            if forward is not None:
                forwards[i] = forward
    if not ops or not forwards:
        return migration.upgrade
    return compile_operations(ops, migration.converters, forwards)


def load_text(family: Family, data: bytes | str, make: Maker) -> Container:
    """:meth:`Family.load` of bytes or text to the current version: the same checks in the
    same order, with less in between. The containers loaded most take :func:`reader`'s
    path; otherwise the serialisation that proves the parse exact is the
    digest's input too (:func:`~docket.core.codec.parse_sealed`), and a fresh container is
    upgraded in place. ``make`` makes the container (``family._container``)."""
    limits = family.limits
    if type(data) is bytes and _size_within(len(data), limits):
        try:
            value = _loads(data)
        except orjson.JSONDecodeError:  # orjson refused it: the exact path decides
            obj, covered = parse_exact(data, limits), None
        else:
            read = family._reader
            try:
                done = read(data, value) if read is not None else None
            except Spent:  # the value was changed in place: parsed again
                done, value = None, _loads(data)
            if done is not None:
                return done
            obj, covered = proved_sealed(data, value, limits, family._sealed)
    else:
        obj, covered = parse_sealed(data, limits, family._sealed)
    found: Any = obj.get("version")
    specs = family._specs
    spec = specs.get(found) if type(found) in _VERSION_TYPES else None
    if spec is None:
        spec = specs[family.detect(obj)]
    version = spec.version
    status = checked(family, spec, obj, covered)
    target = family.graph.current  # not through the properties: this is the hot path
    if version == target:
        return make(family.source.name, version, obj, version, status)
    route = family._route(version, target)
    if route.losses:
        raise LossyMigration(family.name, version, target, list(route.losses))
    out = obj
    step = family._step
    for migration, up in route.steps:
        out = step(out, migration, up, True)
    if not route.check.is_valid(out):
        container = make(family.name, version, obj, version, status)
        raise family._broken_step(container, target, route.steps, out)
    if specs[target].integrity is not None:
        status = "verified" if family.signing_key is not None else "absent"
    return make(family.source.name, target, out, version, status)


def narrowed_check(family: Family, source: Version, target: Version) -> Any:
    """The validator whose verdict on a container migrated from ``source`` to ``target``,
    valid at ``source`` before, is the target schema's: that schema narrowed to what the
    path's operations touch (:mod:`docket.core.narrowing`), without the digest and signature
    members the steps seal (:func:`unsealed`)."""
    from docket.core.narrowing import Touched, narrowed, pruned, shown_fields, touched_by
    from docket.core.operations import compiled_operations

    specs = family._specs
    whole = {"version"}  # every step sets it
    ops: list[Operation] = []
    steps = []
    for migration, up in family.graph.path(source, target):
        compiled = compiled_operations(migration.upgrade if up else migration.downgrade)
        if compiled is None:  # a function of its own: it may change anything
            return specs[target].fast
        ops.extend(compiled)
        steps.append((compiled, migration.converters))
        for v in (migration.source, migration.target):
            integrity = specs[v].integrity
            if integrity is not None:
                whole.update(m for m in (integrity.digest, integrity.signature) if m)
    touched = touched_by(ops)
    before, after = specs[source].schema, specs[target].schema
    shown = shown_fields(steps, before, after)
    schema = narrowed(before, after, Touched(touched.whole | whole, touched.fields), shown)
    if schema is None:
        return specs[target].fast
    schema = unsealed(schema, specs[target].integrity, signature=True) or schema
    return jsonschema_rs.validator_for(pruned(schema), validate_formats=True)
