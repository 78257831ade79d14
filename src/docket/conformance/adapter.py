"""docket itself as an implementation under test: the reference answers to the conformance
protocol, from docket's public API.

``python -m docket.conformance.adapter`` reads one JSON command per line on standard input and
writes one JSON answer per line on standard output (``docs/conformance.md`` describes the
protocol). :func:`answer` is the same thing as a function: the generator of the suite uses it
to record what docket does with the generated inputs.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import docket
from docket import Container, Family, Registry
from docket.conformance.suite import DROP_REASONS, LEVELS, PROTOCOL, SUITE
from docket.core.codec import Limits, canonical, parse
from docket.core.errors import (
    DigestMismatch,
    DocketError,
    DuplicateKey,
    LimitExceeded,
    LossyMigration,
    MalformedVersion,
    MigrationError,
    MissingVersion,
    NonFiniteNumber,
    NotAnObject,
    ParseError,
    RestoreRefused,
    SignatureError,
    UnknownField,
    UnknownVersion,
    ValidationError,
    VersionError,
    VersionTooNew,
    show,
)

IMPLEMENTATION = {"name": "docket", "version": docket.__version__, "language": "python"}


class CaseError(Exception):
    """The case itself is malformed (not a verdict on docket)."""


def decode_input(value: Mapping[str, Any]) -> bytes:
    """The bytes of a case's ``input``: ``{"text": ...}`` (UTF-8) or ``{"base64": ...}``."""
    if "base64" in value:
        try:
            return base64.b64decode(value["base64"], validate=True)
        except (binascii.Error, TypeError) as err:
            raise CaseError(f"input.base64 is not base64: {err}") from None
    if "text" in value and isinstance(value["text"], str):
        return value["text"].encode("utf-8", "surrogatepass")
    raise CaseError('input needs "text" or "base64"')


def _pointer_of_path(path: str) -> str:
    """A ``$["a"][0]`` path as a JSON Pointer (``/a/0``)."""
    if not path.startswith("$"):
        return ""
    segments: list[str] = []
    rest = path[1:]
    while rest.startswith("["):
        end = rest.index("]") if not rest.startswith('["') else _string_end(rest)
        token = rest[1:end]
        segments.append(json.loads(token) if token.startswith('"') else token)
        rest = rest[end + 1 :]
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in segments)


def _string_end(text: str) -> int:
    i = 2
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    raise ValueError(f"unterminated path {show(text)}")


def error_pointer(err: DocketError) -> str:
    pointer = getattr(err, "pointer", None)
    if isinstance(pointer, str):
        return pointer
    path = getattr(err, "path", "$")
    return _pointer_of_path(path) if isinstance(path, str) else ""


def _issue_pointer(issue: Any) -> str:
    pointer = getattr(issue, "pointer", None)
    return pointer if isinstance(pointer, str) else _pointer_of_path(str(issue.path))


def parse_kind(err: ParseError) -> str:
    if isinstance(err, DuplicateKey):
        return "duplicate-key"
    if isinstance(err, NonFiniteNumber):
        return "non-finite-number"
    if isinstance(err, NotAnObject):
        return "not-an-object"
    if isinstance(err, LimitExceeded):
        return "limit"
    return "parse"


def version_kind(err: VersionError) -> str:
    if isinstance(err, MissingVersion):
        return "version-missing"
    if isinstance(err, MalformedVersion):
        return "version-malformed"
    if isinstance(err, VersionTooNew):
        return "version-too-new"
    if isinstance(err, UnknownVersion):
        return "version-unknown"
    return "version"


def _invalid(kind: str, pointers: list[str], message: str) -> dict[str, Any]:
    return {"valid": False, "kind": kind, "pointers": sorted(set(pointers)), "message": message}


@dataclass
class Adapter:
    """Answers cases with one registry per (limits, key) pair, built on first use."""

    schemas: str | None = None
    _registries: dict[tuple[Any, ...], Registry] = field(default_factory=dict)

    def registry(
        self, limits: Mapping[str, int] | None = None, key: bytes | None = None
    ) -> Registry:
        cache_key = (tuple(sorted((limits or {}).items())), key)
        if cache_key not in self._registries:
            base = self._registries.get(((), None))
            if base is None:
                base = docket.load_registry(self.schemas)
                self._registries[((), None)] = base
            reg = base
            if limits:
                reg = reg.with_limits(Limits(**dict(limits)))
            if key is not None:
                reg = reg.with_signing_key(key)
            self._registries[cache_key] = reg
        return self._registries[cache_key]

    def family(self, case: Mapping[str, Any], *, key: bytes | None = None) -> Family:
        return self.registry(case.get("limits"), key).family(case["family"])

    # --- levels ---------------------------------------------------------------------------

    def verdict(self, family: Family, raw: bytes) -> dict[str, Any]:
        """validate: parse, detect, schema, integrity, as a verdict with kind and pointers."""
        try:
            obj = parse(raw, family.limits)
        except ParseError as err:
            return _invalid(parse_kind(err), [""], str(err))
        try:
            version = family.detect(obj)
        except VersionError as err:
            return _invalid(version_kind(err), ["/version" if "version" in obj else ""], str(err))
        # The bytes again, not the parsed object: a Mapping takes another path through the
        # codec (its limits are checked on the values), and the suite is about bytes.
        issues = family.validate(raw)
        if not issues:
            status = family.load(raw, to=version).signature
            return {"valid": True, "version": version, "signature": status}
        kinds = {i.keyword for i in issues}
        if kinds == {"digest"}:
            kind = "digest"
        elif kinds == {"signature"}:
            kind = "signature"
        else:
            kind = "schema"
        return _invalid(
            kind, [_issue_pointer(i) for i in issues], "; ".join(str(i) for i in issues[:3])
        )

    def validate(self, case: Mapping[str, Any]) -> dict[str, Any]:
        return self.verdict(self.family(case), decode_input(case["input"]))

    def migrate(self, case: Mapping[str, Any]) -> dict[str, Any]:
        family = self.family(case)
        raw = decode_input(case["input"])
        target = case["to"]
        try:
            source = family.detect(parse(raw, family.limits))
            container = family.load(raw, to=source)
        except (ParseError, VersionError, ValidationError, DigestMismatch, SignatureError) as err:
            return {"refused": "invalid-input", "message": str(err)}
        if isinstance(target, bool) or target not in family.versions:
            return {"refused": "unknown-version", "message": f"{show(target)} is not a version"}
        try:
            moved = self._move(family, container, target, bool(case.get("allow_lossy")))
            out = family.dump(moved, version=target, allow_lossy=bool(case.get("allow_lossy")))
        except LossyMigration as err:
            return {"refused": "lossy", "message": str(err)}
        except MigrationError as err:
            kind = "no-path" if "no downgrade" in err.reason else "failed"
            return {"refused": kind, "message": str(err)}
        return {"output": out.decode("utf-8")}

    @staticmethod
    def _move(family: Family, container: Container, target: Any, lossy: bool) -> Container:
        if family.scheme.key(target) >= family.scheme.key(container.version):
            return family.upgrade(container, target)
        return family.downgrade(container, target, allow_lossy=lossy)

    def restore(self, case: Mapping[str, Any]) -> dict[str, Any]:
        family = self.family(case)
        try:
            container = family.load(decode_input(case["input"]), to=case.get("shape"))
        except (ParseError, VersionError, ValidationError, DigestMismatch, SignatureError) as err:
            return {"refused": "invalid-input", "pointer": "", "message": str(err)}
        spec = case.get("target")
        target = None if spec is None else _Target.from_case(spec)
        state: dict[str, dict[str, Any]] = {}
        if spec is not None:
            state = {k: dict(v) for k, v in spec.get("state", {}).items()}
        try:
            plan = family.restore_policy(container).plan(container, target)
        except UnknownField as err:
            return {"refused": "unknown-field", "pointer": error_pointer(err), "message": str(err)}
        except RestoreRefused as err:
            return {
                "refused": "restore-refused",
                "pointer": error_pointer(err),
                "message": str(err),
            }
        writes = {}
        for name, write in plan.sections.items():
            writes[name] = {"mode": write.mode.value, "values": dict(write.values)}
            current = state.setdefault(name, {})
            if write.mode.value == "replace":
                state[name] = dict(write.values)
            else:
                current.update(write.values)
        dropped = sorted(
            (
                {
                    "section": d.section,
                    "field": d.field,
                    "reason": DROP_REASONS.get(d.reason, d.reason),
                }
                for d in plan.dropped
            ),
            key=lambda d: (d["section"], d["field"]),
        )
        return {"writes": writes, "state": state, "dropped": dropped}

    def integrity(self, case: Mapping[str, Any]) -> dict[str, Any]:
        op = case["op"]
        key = bytes.fromhex(case["key"]) if case.get("key") is not None else None
        family = self.family(case, key=key)
        if op == "verify":
            return self.verdict(family, decode_input(case["input"]))
        if op == "canonical":
            try:
                obj = parse(decode_input(case["input"]), family.limits)
                version = family.detect(obj)
            except (ParseError, VersionError) as err:
                return {"refused": "invalid-input", "message": str(err)}
            out: dict[str, Any] = {"canonical": canonical(obj).decode("utf-8")}
            integrity = family.spec(version).integrity
            if integrity is not None:
                out["digest"] = integrity.digest_of(obj)
            return out
        if op == "seal":
            try:
                made = family.new(case["sections"], version=case["version"])
            except DocketError as err:
                return {"refused": "invalid-input", "message": str(err)}
            return {"output": canonical(made.data).decode("utf-8")}
        raise CaseError(f"unknown integrity op {show(op)}")

    def answer(self, case: Mapping[str, Any]) -> dict[str, Any]:
        """The result for one case (its ``expect`` member, if any, is not looked at)."""
        level = case.get("level")
        if level == "validate":
            return self.validate(case)
        if level == "migrate":
            return self.migrate(case)
        if level == "restore":
            return self.restore(case)
        if level == "integrity":
            return self.integrity(case)
        raise CaseError(f"unknown level {show(level)}")


@dataclass(frozen=True)
class _Target:
    """A restore target from a case: one section's state is the row rules read."""

    row: Mapping[str, Any]
    objects: Mapping[str, frozenset[Any]]

    @classmethod
    def from_case(cls, spec: Mapping[str, Any]) -> _Target:
        row = spec.get("state", {}).get(spec.get("row", ""), {})
        objects = {k: frozenset(v) for k, v in spec.get("exists", {}).items()}
        return cls(row, objects)

    def exists(self, kind: str, key: Any) -> bool:
        return key in self.objects.get(kind, frozenset())


def serve(stdin: IO[str], stdout: IO[str], adapter: Adapter | None = None) -> int:
    """Answer the protocol until ``stop`` or the end of input."""
    adapter = adapter or Adapter()
    for line in stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError as err:
            reply: dict[str, Any] = {"error": f"not JSON: {err}"}
        else:
            reply = _reply(adapter, message)
            if reply.get("stop"):
                stdout.write(json.dumps(reply) + "\n")
                stdout.flush()
                return 0
        stdout.write(json.dumps(reply, ensure_ascii=True) + "\n")
        stdout.flush()
    return 0


def _reply(adapter: Adapter, message: Mapping[str, Any]) -> dict[str, Any]:
    cmd = message.get("cmd")
    if cmd == "start" and message.get("protocol") != PROTOCOL:
        return {
            "error": f"protocol {show(message.get('protocol'))} is not spoken here; "
            f"this implementation speaks protocol {PROTOCOL}"
        }
    if cmd == "start":
        return {
            "ready": True,
            "suite": SUITE,
            "protocol": PROTOCOL,
            "implementation": IMPLEMENTATION,
            "levels": list(LEVELS),
        }
    if cmd == "stop":
        return {"stop": True}
    if cmd != "run" or not isinstance(message.get("case"), Mapping):
        return {"error": f"unknown command {show(cmd)}"}
    case = message["case"]
    try:
        return {"id": case.get("id"), "result": adapter.answer(case)}
    except CaseError as err:
        return {"id": case.get("id"), "error": f"malformed case: {err}"}
    except DocketError as err:  # a verdict the level does not foresee: report, do not crash
        return {"id": case.get("id"), "error": f"{type(err).__name__}: {err}"}


def main() -> int:
    schemas = sys.argv[1] if len(sys.argv) > 1 else None
    return serve(sys.stdin, sys.stdout, Adapter(schemas))


if __name__ == "__main__":
    raise SystemExit(main())
