"""Write docket's conformance suite: ``python conformance/generate.py [--check] [--release]``.

Cases come from two sources, for every bundled family and version:

- **generated**: valid containers from ``docket.testing.containers`` and broken ones from
  ``docket.testing.invalid_containers`` (hypothesis, fixed seeds, no example database), their
  migrations to every other version, restores onto two targets and their canonical form. The
  expectation of a generated case is what docket answers (``docket.conformance.adapter``).
- **hand-written**: the hostile-corpus classes (strict parsing, encodings, limits, the version
  member, sections of the wrong shape), Cinder's restore rules, canonical JSON edge cases and
  signed containers under the published test key. Each states its expectation here; the script
  stops if docket disagrees with one, since that is a bug in docket or in the case.

Files: ``cases/<family>/<version>.json`` (one per family version, all levels) and
``manifest.json`` (levels, files, per-level counts, the published key, and the sha256 of every
released version's file). A released file is never rewritten: when regeneration would change
one the script stops (``--check`` just reports). ``--release`` pins the files of versions the
family manifests list as released and that have no pin yet; a new family version gets its file
(unpinned) on the next run and is pinned when it is released.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import docket
from docket import Family
from docket.conformance.adapter import Adapter
from docket.conformance.compare import differences
from docket.conformance.suite import LEVELS, PROTOCOL, SUITE, case_file_bytes, file_digest
from docket.core.codec import canonical
from docket.testing import containers, invalid_containers

HERE = Path(__file__).resolve().parent
SEED = 20260518
TEST_KEY = b"docket-conformance-test-key"
OTHER_KEY = b"not-the-conformance-key"
N_VALID = 10
N_INVALID = 14
N_MIGRATE = 4
N_RESTORE = 4
N_CANONICAL = 3

LEVEL_TEXT = {
    "validate": "Strict parsing (encoding, syntax, duplicate keys, non-finite numbers, root type, "
    "limits), version detection, schema validation and the digest of versions that have one.",
    "migrate": "Upgrades and downgrades between versions by the declarative operations of the "
    "version documents, with integrity members sealed on the way; output as canonical JSON.",
    "restore": "What a restore writes onto a target (Cinder's rules: display-name, volume-type "
    "and encryption key, replace/merge/update, bootable), what it leaves out and why.",
    "integrity": "Canonical JSON bytes, digests, and HMAC-SHA256 signatures under the "
    "published test key.",
}

VOLUME_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
TYPE_ID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
OTHER_TYPE_ID = "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516"
KEY_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
BASE = "volume-base-metadata"
META = "volume-metadata"
GLANCE = "volume-glance-metadata"

ADAPTER = Adapter()
REGISTRY = docket.load_registry()


# --- hypothesis, deterministically ---------------------------------------------------------


def examples(strategy: st.SearchStrategy[Any], count: int, salt: int) -> list[Any]:
    """``count`` examples of ``strategy``, the same on every run of one hypothesis release."""
    out: list[Any] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(SEED + salt)
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


def _salt(*parts: Any) -> int:
    return int.from_bytes(canonical([str(p) for p in parts])[:8].ljust(8, b"\0"), "big") % 10**6


# --- building cases -----------------------------------------------------------------------


def text_input(raw: str | bytes) -> dict[str, str]:
    if isinstance(raw, str):
        return {"text": raw}
    try:
        return {"text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode("ascii")}


def formatted(data: Mapping[str, Any], style: int) -> str:
    """The same container written three ways, as different writers would."""
    if style % 3 == 0:
        return json.dumps(data, sort_keys=True)
    if style % 3 == 1:
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
    return canonical(data).decode("utf-8")


class Collector:
    """The cases of one family version; ids are unique within the suite."""

    def __init__(self, family: Family, version: Any) -> None:
        self.family = family
        self.version = version
        frozen = FROZEN.get((family.name, json.dumps(version)), {})
        self.targets: tuple[Any, ...] = tuple(frozen.get("targets", family.versions))
        """Versions migrate cases go to: a released file keeps those it was released with."""
        self.shape: Any = frozen.get("shape", family.current)
        """The version restore cases are planned at (the current one when released)."""
        self.cases: list[dict[str, Any]] = []
        self.ids: set[str] = set()

    def add(
        self,
        level: str,
        slug: str,
        description: str,
        expect: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        case_id = f"{self.family.name}/{self.version}/{level}/{slug}"
        if case_id in self.ids:
            raise SystemExit(f"duplicate case id {case_id}")
        self.ids.add(case_id)
        case: dict[str, Any] = {
            "id": case_id,
            "level": level,
            "description": description,
            "family": self.family.name,
            **fields,
        }
        got = ADAPTER.answer(case)
        got.pop("message", None)
        if expect is None:
            case["expect"] = got
            case["source"] = "generated"
        else:
            case["expect"] = dict(expect)
            case["source"] = "hand-written"
            problems = differences(case, got)
            if problems:
                raise SystemExit(f"docket disagrees with hand-written case {case_id}: {problems}")
        self.cases.append(case)
        return case


def invalid(kind: str, *pointers: str) -> dict[str, Any]:
    return {"valid": False, "kind": kind, "pointers": sorted(set(pointers or ("",)))}


def valid(version: Any, signature: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"valid": True, "version": version}
    if signature is not None:
        out["signature"] = signature
    return out


# --- generated cases ------------------------------------------------------------------------


def draws(col: Collector) -> tuple[list[dict[str, Any]], list[tuple[str, str, dict[str, Any]]]]:
    """Valid containers, and invalid ones as (reason, pointer, data), from the strategies; or,
    with ``REUSE`` set, the ones the committed case file already holds."""
    fam, v = col.family, col.version
    if REUSE is not None:
        committed = REUSE.get((fam.name, json.dumps(v)), [])
        datas = [
            json.loads(c["input"]["text"])
            for c in committed
            if c["id"].startswith(f"{fam.name}/{v}/validate/generated-valid-")
        ]
        bads = [
            (c["origin"]["reason"], c["origin"]["pointer"], json.loads(c["input"]["text"]))
            for c in committed
            if c["id"].startswith(f"{fam.name}/{v}/validate/generated-invalid-")
        ]
        return datas, bads
    datas: list[dict[str, Any]] = []
    seen: set[bytes] = set()
    for c in examples(containers(fam, v), N_VALID + 4, _salt(fam.name, v, "valid")):
        key = canonical(c.data)
        if key not in seen and len(datas) < N_VALID:
            seen.add(key)
            datas.append(copy.deepcopy(c.data))
    bads: list[tuple[str, str, dict[str, Any]]] = []
    strategy = invalid_containers(fam, v).filter(lambda b: b.reason != "bad version")
    for bad in examples(strategy, N_INVALID + 6, _salt(fam.name, v, "invalid")):
        key = canonical([bad.reason, bad.pointer, bad.data])
        if key not in seen and len(bads) < N_INVALID:
            seen.add(key)
            bads.append((bad.reason, bad.pointer, copy.deepcopy(bad.data)))
    return datas, bads


def generated(col: Collector) -> list[dict[str, Any]]:
    """Validate cases from the strategies; returns the valid containers' data."""
    v = col.version
    datas, bads = draws(col)
    for i, data in enumerate(datas):
        col.add(
            "validate",
            f"generated-valid-{i:02d}",
            f"a valid version {v} container drawn from the schema ({len(canonical(data))} bytes)",
            input=text_input(formatted(data, i)),
        )
    for made, (reason, pointer, data) in enumerate(bads):
        case = col.add(
            "validate",
            f"generated-invalid-{made:02d}",
            f"a version {v} container with one problem ({reason} at {pointer or 'the root'})",
            input=text_input(formatted(data, made)),
            origin={"strategy": "invalid_containers", "reason": reason, "pointer": pointer},
        )
        got = case["expect"]
        if got.get("valid") or pointer not in got.get("pointers", []):
            DISAGREEMENTS.append(
                f"{case['id']}: the strategy says {reason} at {pointer!r}, docket answers {got}"
            )
    return datas


REUSE: dict[tuple[str, str], list[dict[str, Any]]] | None = None
DISAGREEMENTS: list[str] = []


def generated_migrations(col: Collector, datas: list[dict[str, Any]]) -> None:
    fam, v = col.family, col.version
    for i, data in enumerate(datas[:N_MIGRATE]):
        text = formatted(data, i)
        for target in col.targets:
            if target == v:
                continue
            up = fam.scheme.key(target) > fam.scheme.key(v)
            lossy = not up and bool(fam.losses(v, target))
            col.add(
                "migrate",
                f"generated-{i:02d}-to-{target}",
                f"{'upgrade' if up else 'downgrade'} generated container {i} to version {target}"
                + (" (lossy, refused without consent)" if lossy else ""),
                input=text_input(text),
                to=target,
                allow_lossy=False,
            )
            if lossy:
                col.add(
                    "migrate",
                    f"generated-{i:02d}-to-{target}-lossy",
                    f"downgrade generated container {i} to version {target}, loss accepted",
                    input=text_input(text),
                    to=target,
                    allow_lossy=True,
                )


def restore_target(fam: Family, variant: int) -> dict[str, Any] | None:
    if variant == 0 or BASE not in fam.schema(fam.current).get("properties", {}):
        return None
    return {
        "row": BASE,
        "state": {
            BASE: {
                "display_name": "restore_backup_5e6f7a8b",
                "display_description": None,
                "volume_type_id": None,
                "bootable": False,
            },
            META: {"kept": "no"},
            GLANCE: {},
        },
        "exists": {"volume_types": [TYPE_ID]},
    }


def generated_restores(col: Collector, datas: list[dict[str, Any]]) -> None:
    fam, v = col.family, col.version
    for i, data in enumerate(datas[:N_RESTORE]):
        for variant in (0, 1):
            target = restore_target(fam, variant)
            if target is None and variant:
                continue
            onto = "a new volume" if target is None else "an existing auto-named volume"
            col.add(
                "restore",
                f"generated-{i:02d}-target-{variant}",
                f"restore generated version {v} container {i} onto {onto}",
                input=text_input(formatted(data, i)),
                shape=col.shape,
                target=target,
            )


def generated_canonical(col: Collector, datas: list[dict[str, Any]]) -> None:
    for i, data in enumerate(datas[:N_CANONICAL]):
        col.add(
            "integrity",
            f"canonical-generated-{i:02d}",
            f"canonical bytes{' and digest' if col.family.spec(col.version).integrity else ''} "
            f"of generated container {i}",
            op="canonical",
            input=text_input(formatted(data, i + 1)),
        )


# --- hand-written: every family -----------------------------------------------------------


def version_cases(col: Collector, data: Mapping[str, Any]) -> None:
    """The version member, for one valid container of the family version."""
    fam, v = col.family, col.version

    def with_version(value: Any) -> str:
        return json.dumps({**data, "version": value}, sort_keys=True)

    no_version = json.dumps({k: x for k, x in data.items() if k != "version"}, sort_keys=True)
    col.add(
        "validate",
        "version-missing",
        "no version member",
        invalid("version-missing"),
        input=text_input(no_version),
    )
    col.add(
        "validate",
        "version-detected",
        "the version member says which schema applies",
        valid(v),
        input=text_input(json.dumps(dict(data), sort_keys=True)),
    )
    if fam.scheme.value == "integer":
        malformed = {
            "string": str(v),
            "float": float(v),
            "true": True,
            "negative": -1,
            "null": None,
            "array": [v],
            "object": {"v": v},
        }
        unknown: dict[str, Any] = {"zero": 0}
        too_new: dict[str, Any] = {"far-future": 999}
    else:
        malformed = {
            "integer": 1,
            "leading-zero": "01.0.0",
            "empty-part": "1..0",
            "trailing-space": f"{v} ",
            "v-prefix": f"v{v}",
            "null": None,
        }
        unknown = {"older": "0.9.0"}
        too_new = {"far-future": "999.0.0", "next-patch": "999.0.1"}
    for slug, value in malformed.items():
        col.add(
            "validate",
            f"version-malformed-{slug}",
            f"version {json.dumps(value)} is not {fam.scheme.describe()}",
            invalid("version-malformed", "/version"),
            input=text_input(with_version(value)),
        )
    for slug, value in unknown.items():
        col.add(
            "validate",
            f"version-unknown-{slug}",
            f"version {json.dumps(value)} was never released",
            invalid("version-unknown", "/version"),
            input=text_input(with_version(value)),
        )
    for slug, value in too_new.items():
        col.add(
            "validate",
            f"version-too-new-{slug}",
            f"version {json.dumps(value)} is newer than any this suite knows",
            invalid("version-too-new", "/version"),
            input=text_input(with_version(value)),
        )
    if fam.scheme.value == "integer":
        col.add(
            "validate",
            "version-exponent",
            "a version written 2e0 is a number with an exponent, not an integer",
            invalid("version-malformed", "/version"),
            input=text_input(
                json.dumps(dict(data), sort_keys=True).replace(
                    f'"version": {v}', f'"version": {v}e0'
                )
            ),
        )
    text = json.dumps(dict(data), sort_keys=True)
    body = text[1:] if text != "{}" else "}"
    col.add(
        "validate",
        "family-bom",
        "a UTF-8 byte order mark before the container",
        invalid("parse"),
        input=text_input(b"\xef\xbb\xbf" + text.encode()),
    )
    col.add(
        "validate",
        "family-duplicate-version",
        "the version member twice",
        invalid("duplicate-key"),
        input=text_input(f'{{"version": {json.dumps(v)}, {body}'),
    )
    col.add(
        "validate",
        "family-root-array",
        "the container inside an array",
        invalid("not-an-object"),
        input=text_input(f"[{text}]"),
    )
    col.add(
        "validate",
        "family-invalid-utf8",
        "a byte that is not UTF-8 after the container",
        invalid("parse"),
        input=text_input(text.encode()[:-1] + b', "x": "\xff"}'),
    )
    col.add(
        "validate",
        "family-nan",
        "NaN as a member's value",
        invalid("non-finite-number"),
        input=text_input(text[:-1] + ', "x-extra": NaN}'),
    )


# --- hand-written: strict parsing (backup-metadata 2) ------------------------------------------


def v2_doc(**sections: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": 2,
        BASE: {
            "id": VOLUME_ID,
            "size": 1,
            "status": "available",
            "display_name": "db-volume",
            "display_description": "primary database",
            "volume_type_id": TYPE_ID,
            "encryption_key_id": None,
            "bootable": False,
            "created_at": "2026-01-02T03:04:05.000000",
        },
    }
    doc.update({k.replace("_", "-"): x for k, x in sections.items()})
    return doc


def base(**fields: Any) -> dict[str, Any]:
    return {**v2_doc()[BASE], **fields}


def parsing_cases(col: Collector) -> None:
    good = json.dumps(v2_doc(volume_metadata={"fee": "fi"}, volume_glance_metadata={"os": "x"}))
    raw = good.encode()

    def bad(slug: str, what: str, data: str | bytes, kind: str = "parse") -> None:
        col.add("validate", f"strict-{slug}", what, invalid(kind), input=text_input(data))

    def ok(
        slug: str, what: str, data: str | bytes, limits: Mapping[str, int] | None = None
    ) -> None:
        extra = {"limits": dict(limits)} if limits else {}
        col.add("validate", f"strict-{slug}", what, valid(2), input=text_input(data), **extra)

    bad("truncated", "the second half of the text is missing", good[: len(good) // 2])
    bad("truncated-after-comma", "the text ends after a comma", '{"version": 2,')
    bad("empty", "no text at all", "")
    bad("whitespace-only", "only whitespace", " \n\t ")
    bad("trailing-garbage", "a second value after the container", good + " {}")
    bad("two-documents", "two containers, one per line", good + "\n" + good)
    bad("comment", "a // comment", '{"version": 2 // two\n}')
    bad("block-comment", "a /* */ comment", '{"version": /* two */ 2}')
    bad("single-quotes", "single-quoted strings", "{'version': 2}")
    bad("unquoted-key", "a key without quotes", "{version: 2}")
    bad(
        "raw-newline",
        "a raw line feed inside a string",
        '{"version": 2, "volume-metadata": {"k": "a\nb"}}',
    )
    bad("raw-tab", "a raw tab inside a string", '{"version": 2, "volume-metadata": {"k": "a\tb"}}')
    bad("raw-nul", "a raw NUL inside a string", '{"version": 2, "volume-metadata": {"k": "a\0b"}}')
    bad("trailing-comma-object", "a comma before }", '{"version": 2,}')
    bad("trailing-comma-array", "a comma before ]", '{"version": 2, "x-extra": [1,]}')
    bad("leading-zero", "a number with a leading zero", '{"version": 2, "x-extra": 01}')
    bad("plus-sign", "a number with a plus sign", '{"version": 2, "x-extra": +1}')
    bad("hex-number", "a hexadecimal number", '{"version": 2, "x-extra": 0x10}')
    bad("bare-fraction", "a number starting with a point", '{"version": 2, "x-extra": .5}')
    bad("bare-point", "a number ending with a point", '{"version": 2, "x-extra": 1.}')
    bad("bad-escape", "an escape JSON does not have", '{"version": 2, "x-extra": "\\x41"}')
    bad("short-unicode-escape", "\\u with two hex digits", '{"version": 2, "x-extra": "\\u41"}')
    bad("lowercase-nan", "nan is not a JSON token either", '{"version": 2, "x-extra": nan}')
    bad("negative-nan", "-NaN is not a JSON token", '{"version": 2, "x-extra": -NaN}')
    bad("form-feed-whitespace", "a form feed is not JSON whitespace", '{"version":\f2}')
    bad("nbsp-whitespace", "a no-break space is not JSON whitespace", '{"version":\u00a02}')
    bad(
        "huge-integer",
        "an integer of 4301 digits",
        '{"version": 2, "x-extra": 1' + "0" * 4300 + "}",
    )
    bad("root-array", "an array at the root", f"[{good}]", "not-an-object")
    bad("root-string", "a string at the root", json.dumps(good), "not-an-object")
    bad("root-number", "a number at the root", "2", "not-an-object")
    bad("root-null", "null at the root", "null", "not-an-object")
    bad("root-true", "true at the root", "true", "not-an-object")
    bad(
        "root-array-with-lone-surrogate",
        "the root type is reported before what is inside",
        '["\\ud800"]',
        "not-an-object",
    )
    bad(
        "duplicate-section",
        "a section twice",
        '{"version": 2, "volume-metadata": {}, "volume-metadata": {"a": "b"}}',
        "duplicate-key",
    )
    bad(
        "duplicate-field",
        "a field twice in a section",
        '{"version": 2, "volume-base-metadata": {"display_name": "a", "display_name": "b"}}',
        "duplicate-key",
    )
    bad(
        "duplicate-escaped",
        "the same key once plain and once escaped (\\u0061 is a)",
        '{"version": 2, "volume-metadata": {"a": "1", "\\u0061": "2"}}',
        "duplicate-key",
    )
    bad(
        "duplicate-in-array",
        "an object inside an array with a key twice",
        '{"version": 2, "x-extra": [{"k": 1, "k": 1}]}',
        "duplicate-key",
    )
    bad("nan", "NaN", '{"version": 2, "volume-base-metadata": {"size": NaN}}', "non-finite-number")
    bad("infinity", "Infinity as the version", '{"version": Infinity}', "non-finite-number")
    bad(
        "negative-infinity",
        "-Infinity",
        '{"version": 2, "volume-glance-metadata": {"min_ram": -Infinity}}',
        "non-finite-number",
    )
    bad(
        "float-overflow",
        "1e999 is no finite double",
        '{"version": 2, "volume-glance-metadata": {"min_ram": 1e999}}',
        "non-finite-number",
    )
    bad(
        "negative-float-overflow",
        "-1e999 is no finite double",
        '{"version": 2, "x-extra": -1e999}',
        "non-finite-number",
    )
    bad(
        "invalid-utf8",
        "bytes FF FE inside a string",
        b'{"version": 2, "volume-metadata": {"k": "\xff\xfe"}}',
    )
    bad(
        "overlong-utf8",
        "an overlong encoding of /",
        b'{"version": 2, "volume-metadata": {"k": "\xc0\xaf"}}',
    )
    bad(
        "utf8-encoded-surrogate",
        "a surrogate encoded as UTF-8 bytes",
        b'{"version": 2, "volume-metadata": {"k": "\xed\xa0\x80"}}',
    )
    bad(
        "truncated-utf8",
        "a three-byte sequence cut after two bytes",
        b'{"version": 2, "volume-metadata": {"k": "\xe2\x82"}}',
    )
    bad(
        "latin1",
        "Latin-1 text",
        '{"version": 2, "volume-metadata": {"k": "café"}}'.encode("latin-1"),
    )
    bad("utf16", "UTF-16 text with its byte order mark", good.encode("utf-16"))
    bad("bom", "a UTF-8 byte order mark", b"\xef\xbb\xbf" + raw)
    bad(
        "lone-high-surrogate",
        "an escaped lone high surrogate",
        '{"version": 2, "volume-metadata": {"k": "\\ud800"}}',
    )
    bad(
        "lone-low-surrogate-key",
        "an escaped lone low surrogate in a key",
        '{"version": 2, "volume-metadata": {"\\udc00": "v"}}',
    )
    bad(
        "reversed-surrogate-pair",
        "a low surrogate before a high one",
        '{"version": 2, "volume-metadata": {"k": "\\ude00\\ud83d"}}',
    )
    bad(
        "deep-nesting",
        "33 levels of nesting (the limit is 32)",
        '{"version": 2, "x-extra": ' + "[" * 32 + "]" * 32 + "}",
        "limit",
    )
    ok(
        "nesting-at-limit",
        "32 levels of nesting",
        '{"version": 2, "x-extra": ' + "[" * 31 + "]" * 31 + "}",
    )
    ok(
        "surrogate-pair",
        "an escaped surrogate pair is one character",
        '{"version": 2, "volume-metadata": {"k": "\\ud83d\\ude00"}}',
    )
    ok("whitespace-around", "whitespace before and after the container", " \n\t\r" + good + "\r\n ")
    ok(
        "escapes",
        "every JSON escape",
        '{"version": 2, "volume-metadata": {"k": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"}}',
    )
    ok(
        "nul-escape",
        "an escaped NUL is data",
        '{"version": 2, "volume-metadata": {"k": "a\\u0000b"}}',
    )
    ok(
        "proto-keys",
        "__proto__ and constructor are keys like any other",
        json.dumps(v2_doc(volume_metadata={"__proto__": "x", "constructor": "y", "toString": "z"})),
    )
    ok(
        "raw-del",
        "a raw DEL (0x7f) and U+2028 are allowed in strings",
        '{"version": 2, "volume-metadata": {"k": "a\x7fb\u2028c"}}',
    )
    ok(
        "integer-4300-digits",
        "an integer of 4300 digits is a number like any other",
        '{"version": 2, "x-extra": 1' + "0" * 4299 + "}",
    )
    ok(
        "number-forms",
        "-0, 1E2, 1e-400 (underflows to 0) and 2.5e+3",
        '{"version": 2, "x-extra": [-0, 1E2, 1e-400, 2.5e+3, -0.0]}',
    )
    ok(
        "big-integers",
        "integers beyond 2^53 and 2^64 are valid JSON numbers",
        json.dumps(v2_doc(volume_glance_metadata={"a": 2**53 + 1, "b": 2**64 + 1, "c": -(2**70)})),
    )
    col.add(
        "validate",
        "strict-integer-version-huge",
        "version 10^30 is an integer, too new",
        invalid("version-too-new", "/version"),
        input=text_input('{"version": 1' + "0" * 30 + "}"),
    )

    # --- limits set by the case -------------------------------------------------------
    small = '{"version": 2, "volume-metadata": {"k": "vvvvv"}}'
    col.add(
        "validate",
        "limit-max-bytes",
        f"{len(small)} bytes where max_bytes is {len(small) - 1}",
        invalid("limit"),
        input=text_input(small),
        limits={"max_bytes": len(small) - 1},
    )
    ok(
        "limit-max-bytes-exact",
        f"{len(small)} bytes where max_bytes is {len(small)}",
        small,
        {"max_bytes": len(small)},
    )
    accented = '{"version": 2, "volume-metadata": {"k": "ééééé"}}'
    col.add(
        "validate",
        "limit-max-bytes-counts-bytes",
        "max_bytes counts UTF-8 bytes, not characters",
        invalid("limit"),
        input=text_input(accented),
        limits={"max_bytes": len(accented) + 4},
    )
    col.add(
        "validate",
        "limit-max-string-length",
        "a 16-character string where the limit is 15",
        invalid("limit"),
        input=text_input('{"version": 2, "volume-metadata": {"k": "' + "v" * 16 + '"}}'),
        limits={"max_string_length": 15},
    )
    ok(
        "limit-string-length-code-points",
        "15 astral characters are 15 characters (30 UTF-16 units); keys count too",
        '{"version": 2, "volume-metadata": {"k": "' + "😀" * 15 + '"}}',
        {"max_string_length": 15},
    )
    col.add(
        "validate",
        "limit-max-string-length-key",
        "a key longer than max_string_length",
        invalid("limit"),
        input=text_input('{"version": 2, "volume-metadata": {"' + "k" * 16 + '": "v"}}'),
        limits={"max_string_length": 15},
    )
    col.add(
        "validate",
        "limit-max-keys",
        "an object with 4 members where max_keys is 3",
        invalid("limit"),
        input=text_input('{"version": 2, "volume-metadata": {"a": "", "b": "", "c": "", "d": ""}}'),
        limits={"max_keys": 3},
    )
    ok(
        "limit-max-keys-exact",
        "an object with 3 members where max_keys is 3",
        '{"version": 2, "volume-metadata": {"a": "", "b": ""}}',
        {"max_keys": 3},
    )
    col.add(
        "validate",
        "limit-max-items",
        "7 values where max_items is 6",
        invalid("limit"),
        input=text_input('{"version": 2, "x-extra": [1, 2, 3, 4, 5]}'),
        limits={"max_items": 6},
    )
    ok(
        "limit-max-items-exact",
        "6 values where max_items is 6",
        '{"version": 2, "x-extra": [1, 2, 3, 4]}',
        {"max_items": 6},
    )
    col.add(
        "validate",
        "limit-max-depth",
        "depth 4 where max_depth is 3",
        invalid("limit"),
        input=text_input('{"version": 2, "x-extra": [[[]]]}'),
        limits={"max_depth": 3},
    )
    ok(
        "limit-max-depth-exact",
        "depth 3 where max_depth is 3",
        '{"version": 2, "x-extra": [[]]}',
        {"max_depth": 3},
    )

    # --- the schema --------------------------------------------------------------------
    def schema(slug: str, what: str, doc: Mapping[str, Any], *pointers: str) -> None:
        col.add(
            "validate",
            f"schema-{slug}",
            what,
            invalid("schema", *pointers),
            input=text_input(json.dumps(doc, ensure_ascii=False)),
        )

    schema(
        "base-section-array",
        "the base section is an array",
        v2_doc(volume_base_metadata=[base()]),
        f"/{BASE}",
    )
    schema(
        "base-section-string",
        "the base section is a string",
        v2_doc(volume_base_metadata="x"),
        f"/{BASE}",
    )
    schema(
        "metadata-section-null", "user metadata is null", v2_doc(volume_metadata=None), f"/{META}"
    )
    schema(
        "glance-section-array",
        "glance metadata is an array of pairs",
        v2_doc(volume_glance_metadata=[["k", "v"]]),
        f"/{GLANCE}",
    )
    schema(
        "metadata-value-object",
        "a user metadata value is an object",
        v2_doc(volume_metadata={"k": {"nested": "v"}}),
        f"/{META}/k",
    )
    schema(
        "metadata-value-number",
        "a user metadata value is a number",
        v2_doc(volume_metadata={"k": 1}),
        f"/{META}/k",
    )
    schema(
        "metadata-value-too-long",
        "a user metadata value of 256 characters",
        v2_doc(volume_metadata={"k": "v" * 256}),
        f"/{META}/k",
    )
    schema(
        "metadata-key-too-long",
        "a user metadata key of 256 characters",
        v2_doc(volume_metadata={"k" * 256: "v"}),
        f"/{META}",
    )
    schema(
        "metadata-key-empty",
        "an empty user metadata key",
        v2_doc(volume_metadata={"": "v"}),
        f"/{META}",
    )
    schema(
        "glance-value-object",
        "a glance value is an object",
        v2_doc(volume_glance_metadata={"k": {"a": 1}}),
        f"/{GLANCE}/k",
    )
    schema(
        "display-name-too-long",
        "a display name of 256 characters",
        v2_doc(volume_base_metadata=base(display_name="n" * 256)),
        f"/{BASE}/display_name",
    )
    schema(
        "display-name-256-astral",
        "256 astral characters are 256 characters, over maxLength 255",
        v2_doc(volume_base_metadata=base(display_name="😀" * 256)),
        f"/{BASE}/display_name",
    )
    col.add(
        "validate",
        "schema-display-name-255-astral",
        "255 astral characters fit maxLength 255 (510 UTF-16 units)",
        valid(2),
        input=text_input(
            json.dumps(
                v2_doc(volume_base_metadata=base(display_name="😀" * 255)), ensure_ascii=False
            )
        ),
    )
    schema(
        "display-name-number",
        "a display name that is a number",
        v2_doc(volume_base_metadata=base(display_name=12)),
        f"/{BASE}/display_name",
    )
    schema(
        "bootable-string",
        "bootable is the string true",
        v2_doc(volume_base_metadata=base(bootable="true")),
        f"/{BASE}/bootable",
    )
    schema(
        "size-negative",
        "a negative size",
        v2_doc(volume_base_metadata=base(size=-1)),
        f"/{BASE}/size",
    )
    schema(
        "size-fraction",
        "a size of 1.5",
        v2_doc(volume_base_metadata=base(size=1.5)),
        f"/{BASE}/size",
    )
    col.add(
        "validate",
        "schema-size-integral-float",
        "a size written 2.0 is an integer to JSON Schema",
        valid(2),
        input=text_input('{"version": 2, "volume-base-metadata": {"size": 2.0}}'),
    )
    schema(
        "timestamp-no-fraction",
        "a timestamp without microseconds",
        v2_doc(volume_base_metadata=base(created_at="2026-01-02T03:04:05")),
        f"/{BASE}/created_at",
    )
    schema(
        "timestamp-trailing-newline",
        "a timestamp and a line feed: a pattern's $ matches only at the very end (ECMA-262)",
        v2_doc(volume_base_metadata=base(created_at="2026-01-02T03:04:05.000000\n")),
        f"/{BASE}/created_at",
    )
    schema(
        "two-problems",
        "two problems in two sections are both reported",
        v2_doc(volume_metadata={"k": 1}, volume_glance_metadata={"g": [1]}),
        f"/{META}/k",
        f"/{GLANCE}/g",
    )
    ok(
        "unknown-sections",
        "top-level members no schema names are accepted",
        json.dumps(v2_doc(volume_admin_metadata={"readonly": "True"}, quota={"gigabytes": 1})),
    )
    ok(
        "unknown-base-fields",
        "base fields the schema does not list are accepted",
        json.dumps(v2_doc(volume_base_metadata=base(is_admin=True))),
    )


def v3_cases(col: Collector, v3: dict[str, Any]) -> None:
    def doc(created: str) -> dict[str, Any]:
        return _sealed({BASE: {"display_name": "x", "created_at": created}})

    def _sealed(sections: dict[str, Any]) -> dict[str, Any]:
        out = {"version": 3, "family": "backup-metadata", **sections}
        out["digest"] = col.family.spec(3).integrity.digest_of(out)  # type: ignore[union-attr]
        return out

    def schema(slug: str, what: str, data: Mapping[str, Any], *pointers: str) -> None:
        col.add(
            "validate",
            f"schema-{slug}",
            what,
            invalid("schema", *pointers),
            input=text_input(json.dumps(data)),
        )

    col.add(
        "validate",
        "timestamp-leap-second",
        "23:59:60 is a valid RFC 3339 time (leap second)",
        valid(3),
        input=text_input(json.dumps(doc("2016-12-31T23:59:60.000000Z"))),
    )
    col.add(
        "validate",
        "timestamp-leap-day",
        "29 February of a leap year",
        valid(3),
        input=text_input(json.dumps(doc("2024-02-29T00:00:00.000000Z"))),
    )
    schema(
        "timestamp-not-leap-year",
        "29 February of a common year matches the pattern but is no date",
        doc("2023-02-29T00:00:00.000000Z"),
        f"/{BASE}/created_at",
    )
    schema(
        "timestamp-april-31",
        "31 April is no date",
        doc("2023-04-31T00:00:00.000000Z"),
        f"/{BASE}/created_at",
    )
    schema(
        "timestamp-month-13",
        "month 13 is no date",
        doc("2023-13-01T00:00:00.000000Z"),
        f"/{BASE}/created_at",
    )
    schema(
        "timestamp-hour-24",
        "hour 24 is no time",
        doc("2023-01-01T24:00:00.000000Z"),
        f"/{BASE}/created_at",
    )
    schema(
        "timestamp-naive",
        "version 3 timestamps are UTC, with Z",
        doc("2023-01-01T00:00:00.000000"),
        f"/{BASE}/created_at",
    )
    schema(
        "timestamp-trailing-newline-v3",
        "a line feed after the Z",
        doc("2023-01-01T00:00:00.000000Z\n"),
        f"/{BASE}/created_at",
    )
    edited = {**v3, BASE: {**v3[BASE], "display_name": "changed"}}
    col.add(
        "validate",
        "digest-edited-after",
        "a section changed after the digest was computed",
        invalid("digest", "/digest"),
        input=text_input(json.dumps(edited)),
    )
    col.add(
        "validate",
        "digest-reordered",
        "member order and whitespace do not change the digest",
        valid(3),
        input=text_input(json.dumps(dict(reversed(list(v3.items()))), indent=4)),
    )
    schema(
        "digest-missing",
        "version 3 requires a digest",
        {k: x for k, x in v3.items() if k != "digest"},
        "",
    )
    schema(
        "digest-not-hex",
        "the digest is not sha256:<64 hex>",
        {**v3, "digest": "sha256:" + "z" * 64},
        "/digest",
    )
    schema(
        "wrong-family",
        "the family member names another family",
        {**v3, "family": "backup-record"},
        "/family",
    )
    schema(
        "relabelled-v2",
        "a version 3 container relabelled 2: its UTC timestamps are not version 2's",
        {**v3, "version": 2},
        f"/{BASE}/created_at",
    )
    forged = {**v3, "signature": "hmac-sha256:" + "0" * 64}
    col.add(
        "validate",
        "signature-unchecked-without-key",
        "without a key a signature is only checked for its form",
        valid(3),
        input=text_input(json.dumps(forged)),
    )


# --- hand-written: migrations, restores, integrity (backup-metadata) ------------------------


def migrate_cases(col: Collector) -> None:
    v = col.version
    if v == 2:
        for slug, ts, what in (
            (
                "feb-30",
                "2023-02-30T00:00:00.000000",
                "30 February matches the pattern but is no date",
            ),
            ("second-60", "2016-12-31T23:59:60.000000", "second 60 cannot be converted"),
            ("year-0", "0000-01-01T00:00:00.000000", "year 0 is no date"),
        ):
            col.add(
                "migrate",
                f"convert-refused-{slug}",
                f"upgrade to 3 refused: {what}",
                {"refused": "failed"},
                input=text_input(json.dumps(v2_doc(volume_base_metadata=base(created_at=ts)))),
                to=3,
                allow_lossy=False,
            )
        data = v2_doc(
            volume_base_metadata=base(
                created_at="2026-01-02T03:04:05.100000",
                updated_at=None,
                launched_at="0001-01-01T00:00:00.000000",
            )
        )
        col.add(
            "migrate",
            "convert-timestamps",
            "naive timestamps gain .ffffffZ; null stays null",
            input=text_input(json.dumps(data)),
            to=3,
            allow_lossy=False,
        )
        col.add(
            "migrate",
            "to-unknown-version",
            "there is no version 7",
            {"refused": "unknown-version"},
            input=text_input(json.dumps(v2_doc())),
            to=7,
            allow_lossy=False,
        )
        col.add(
            "migrate",
            "to-same-version",
            "migrating to its own version gives its canonical form",
            {"output": canonical(v2_doc()).decode()},
            input=text_input(json.dumps(v2_doc(), indent=3)),
            to=2,
            allow_lossy=False,
        )
        col.add(
            "migrate",
            "invalid-input",
            "an invalid container is not migrated",
            {"refused": "invalid-input"},
            input=text_input(json.dumps(v2_doc(volume_metadata={"k": 1}))),
            to=3,
            allow_lossy=False,
        )
        col.add(
            "migrate",
            "down-lossy-refused",
            "2 -> 1 loses the encryption key's restore",
            {"refused": "lossy"},
            input=text_input(json.dumps(v2_doc())),
            to=1,
            allow_lossy=False,
        )
        floats = v2_doc(
            volume_glance_metadata={
                "f": [1e16, 1e15, 1e-5, 1e-7, 0.1, 123.0, -0.0, 2.5e-5, 5e-324],
                "big": 2**64 + 1,
            }
        )
        col.add(
            "migrate",
            "numbers-canonical",
            "numbers keep their kind and are written canonically",
            input=text_input(json.dumps(floats)),
            to=3,
            allow_lossy=False,
        )
    if v == 3:
        col.add(
            "migrate",
            "signature-dropped-down",
            "a downgrade drops the signature (version 2 has none)",
            input=text_input(json.dumps(SIGNED_V3)),
            to=2,
            allow_lossy=False,
        )


def restore_cases(col: Collector) -> None:
    v = col.version
    doc1 = {"version": v, BASE: base()}
    if v == 3:
        doc1 = _v3_of(doc1)

    def target(
        name: Any = "restore_backup_x",
        vtype: Any = TYPE_ID,
        exists: tuple[str, ...] = (TYPE_ID,),
        meta: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "row": BASE,
            "state": {
                BASE: {
                    "display_name": name,
                    "display_description": "old",
                    "volume_type_id": vtype,
                    "bootable": False,
                },
                META: dict(meta or {"old": "value"}),
                GLANCE: {"old_image": "x"},
            },
            "exists": {"volume_types": list(exists)},
        }

    def case(
        slug: str,
        what: str,
        data: Mapping[str, Any],
        tgt: Any,
        expect: Mapping[str, Any] | None = None,
    ) -> None:
        col.add(
            "restore",
            slug,
            what,
            expect,
            input=text_input(json.dumps(_at(data, v))),
            shape=col.shape,
            target=tgt,
        )

    case(
        "auto-named-target",
        "an auto-named target takes the backed-up name and description",
        doc1,
        target(),
    )
    case(
        "target-has-name",
        "a target with a name of its own keeps it (and its description)",
        doc1,
        target(name="prod-db"),
    )
    case(
        "empty-name",
        "an empty backed-up name is not restored",
        {**doc1, BASE: base(display_name="")},
        target(),
    )
    case(
        "null-name",
        "a null backed-up name is not restored",
        {**doc1, BASE: base(display_name=None)},
        target(),
    )
    case(
        "no-name-field",
        "a section without display_name restores its description",
        {**doc1, BASE: {"display_description": "d"}},
        target(name="prod-db"),
    )
    case("new-volume", "a new volume takes name and description", doc1, None)
    case(
        "privileged-fields",
        "status, project, host and size are never restored",
        {
            **doc1,
            BASE: base(
                status="in-use", project_id="attacker", host="evil", size=10**6, deleted=True
            ),
        },
        target(),
    )
    case(
        "unknown-field",
        "a base field no schema defines is dropped as unknown",
        {**doc1, BASE: base(is_admin=True)},
        target(),
    )
    case(
        "metadata-replace",
        "user metadata replaces the target's entries",
        {**doc1, META: {"fee": "fi", "fo": None}},
        target(meta={"old": "value", "fee": "x"}),
    )
    case(
        "metadata-empty-replace",
        "an empty user metadata section deletes every entry",
        {**doc1, META: {}},
        target(),
    )
    case(
        "glance-bootable",
        "restoring glance metadata makes the volume bootable",
        {**doc1, GLANCE: {"image_id": "i-1", "min_ram": 512, "ok": True, "x": None}},
        target(),
    )
    case(
        "glance-empty-bootable",
        "even an empty glance section makes the volume bootable",
        {**doc1, GLANCE: {}},
        target(),
    )
    case(
        "sections-absent", "sections the container lacks are not written", {"version": v}, target()
    )
    keyed = {**doc1, BASE: base(encryption_key_id=KEY_ID)}
    if v == 1:
        case(
            "encryption-key-v1",
            "version 1 never restores the encryption key",
            _at(keyed, 1),
            target(),
        )
        return
    case(
        "encryption-key-same-type",
        "an encrypted backup restores onto its own volume type",
        keyed,
        target(),
    )
    case(
        "encryption-key-untyped-target",
        "an untyped target takes the backup's (existing) type",
        keyed,
        target(vtype=None),
    )
    case(
        "encryption-key-type-gone",
        "refused: the backup's volume type no longer exists",
        keyed,
        target(vtype=None, exists=()),
        {"refused": "restore-refused", "pointer": f"/{BASE}/volume_type_id"},
    )
    case(
        "encryption-key-other-type",
        "refused: the target has another volume type",
        keyed,
        target(vtype=OTHER_TYPE_ID),
        {"refused": "restore-refused", "pointer": f"/{BASE}/volume_type_id"},
    )
    no_type = {**doc1, BASE: {"display_name": "x", "encryption_key_id": KEY_ID}}
    case(
        "encryption-key-no-type",
        "refused: an encrypted backup must record its volume type",
        no_type,
        target(),
        {"refused": "restore-refused", "pointer": f"/{BASE}/volume_type_id"},
    )
    case("encryption-key-new-volume", "a new volume is created with the backup's type", keyed, None)
    case(
        "encryption-key-null",
        "a null key needs no type check",
        {**doc1, BASE: base(volume_type_id=OTHER_TYPE_ID)},
        target(),
    )


def _at(data: Mapping[str, Any], version: Any) -> dict[str, Any]:
    """``data`` as a container of ``version`` (version 3: with family and a fresh digest)."""
    out = {**data, "version": version}
    return _v3_of(out) if version == 3 else out


def _v3_of(data: Mapping[str, Any]) -> dict[str, Any]:
    fam = REGISTRY.family("backup-metadata")
    sections = {
        k: x for k, x in data.items() if k not in ("version", "family", "digest", "signature")
    }
    if BASE in sections:
        sections[BASE] = {
            k: (x + "Z" if k.endswith("_at") and isinstance(x, str) and not x.endswith("Z") else x)
            for k, x in sections[BASE].items()
        }
    return dict(fam.new(sections, version=3).data)


SIGNED_V3: dict[str, Any] = {}


def integrity_cases(col: Collector, sample: Mapping[str, Any]) -> None:
    fam, v = col.family, col.version
    key = TEST_KEY.hex()
    integ = fam.spec(v).integrity
    if fam.name == "backup-metadata" and v == 2:
        edge = {
            "version": 2,
            GLANCE: {
                "\uffff": 1,
                "\U0001f600": 2,
                "a": 3,
                "é": 4,
                "A": 5,
                "": 6,
                "floats": [
                    1e16,
                    1e15,
                    1e-5,
                    3e-6,
                    1e-7,
                    0.1,
                    123.0,
                    -0.0,
                    1e21,
                    5e-324,
                    1.7976931348623157e308,
                    2.5e-5,
                    1234567890123456.7,
                ],
                "ints": [0, -1, 2**53 + 1, 2**63, 2**64, -(2**63) - 1],
                "text": '\x00\x1f\x7f\u2028/"\\ 😀 é\t',
            },
        }
        col.add(
            "integrity",
            "canonical-edge",
            "key order by code point, number forms, escapes",
            op="canonical",
            input=text_input(json.dumps(edge, ensure_ascii=False)),
        )
        huge = {"version": 2, GLANCE: {"big": 2**70, "f": [1e-5, 1e16, 0.5]}}
        col.add(
            "integrity",
            "canonical-huge-integer-with-floats",
            "an integer beyond 64 bits does not change how the floats beside it are written",
            {
                "canonical": '{"version":2,"volume-glance-metadata":{"big":1180591620717411303424,'
                '"f":[0.00001,1e+16,0.5]}}'
            },
            op="canonical",
            input=text_input(json.dumps(huge)),
        )
        col.add(
            "integrity",
            "canonical-number-lexemes",
            "1E2 is the float 100.0, -0 is the integer 0",
            {"canonical": '{"version":2,"x":[100.0,0,-0.0,1.0,10]}'},
            op="canonical",
            input=text_input('{"version": 2, "x": [1E2, -0, -0.0, 1.0e0, 10]}'),
        )
    if integ is None:
        return
    sections = {
        k: x for k, x in sample.items() if k not in ("version", "family", "digest", "signature")
    }
    col.add(
        "integrity",
        "seal-unsigned",
        "seal without a key: digest only",
        op="seal",
        sections=sections,
        version=v,
        key=None,
    )
    sealed = col.add(
        "integrity",
        "seal-signed",
        "seal with the published test key: digest and signature",
        op="seal",
        sections=sections,
        version=v,
        key=key,
    )
    signed = json.loads(sealed["expect"]["output"])
    if fam.name == "backup-metadata":
        SIGNED_V3.update(signed)
    unsigned = {k: x for k, x in signed.items() if k != "signature"}
    col.add(
        "integrity",
        "verify-signed",
        "a signature made with the key verifies",
        valid(v, "verified"),
        op="verify",
        input=text_input(json.dumps(signed)),
        key=key,
    )
    col.add(
        "integrity",
        "verify-signed-no-key",
        "without a key a signature stays unverified",
        valid(v, "unverified"),
        op="verify",
        input=text_input(json.dumps(signed)),
        key=None,
    )
    col.add(
        "integrity",
        "verify-unsigned-no-key",
        "no key, no signature",
        valid(v, "absent"),
        op="verify",
        input=text_input(json.dumps(unsigned)),
        key=None,
    )
    col.add(
        "integrity",
        "verify-other-key",
        "a signature made with another key is refused",
        invalid("signature", "/signature"),
        op="verify",
        input=text_input(json.dumps(signed)),
        key=OTHER_KEY.hex(),
    )
    col.add(
        "integrity",
        "verify-unsigned-with-key",
        "with a key, an unsigned container is refused",
        invalid("signature", "/signature"),
        op="verify",
        input=text_input(json.dumps(unsigned)),
        key=key,
    )
    forged = {**signed, "signature": "hmac-sha256:" + "0" * 64}
    col.add(
        "integrity",
        "verify-forged",
        "a signature of zeros is refused",
        invalid("signature", "/signature"),
        op="verify",
        input=text_input(json.dumps(forged)),
        key=key,
    )
    col.add(
        "integrity",
        "verify-reordered",
        "member order does not change the signature",
        valid(v, "verified"),
        op="verify",
        input=text_input(json.dumps(dict(reversed(list(signed.items()))))),
        key=key,
    )
    if fam.name == "backup-metadata":
        col.add(
            "integrity",
            "verify-older-version-with-key",
            "with a key, a version that cannot be signed is refused at its version member",
            invalid("signature", "/version"),
            op="verify",
            input=text_input(json.dumps(v2_doc())),
            key=key,
        )
        retyped = {
            **signed,
            "digest": integ.digest_of(
                {**signed, BASE: {**signed.get(BASE, {}), "display_name": "other"}}
            ),
        }
        col.add(
            "integrity",
            "verify-digest-recomputed",
            "a digest recomputed after an edit still fails the signature",
            invalid("signature", "/signature"),
            op="verify",
            input=text_input(
                json.dumps({**retyped, BASE: {**signed.get(BASE, {}), "display_name": "other"}})
            ),
            key=key,
        )


# --- the whole suite ----------------------------------------------------------------------


def build() -> dict[tuple[str, Any], list[dict[str, Any]]]:
    out: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    ordered = sorted(REGISTRY.families())
    for name in ordered:
        fam = REGISTRY.family(name)
        for v in fam.versions:
            col = Collector(fam, v)
            datas = generated(col)
            version_cases(col, datas[-1])
            if name == "backup-metadata" and v == 2:
                parsing_cases(col)
            if name == "backup-metadata" and v == 3:
                v3_cases(col, _v3_of(v2_doc(volume_metadata={"fee": "fi"})))
            integrity_cases(col, datas[-1])
            generated_migrations(col, datas)
            if name == "backup-metadata":
                migrate_cases(col)
                restore_cases(col)
            generated_restores(col, datas)
            generated_canonical(col, datas)
            out[(name, v)] = col.cases
    return out


FROZEN: dict[tuple[str, str], dict[str, Any]] = {}
"""Per released file (family, JSON of the version): the targets and shape it was made with."""


def load_frozen(root: Path) -> None:
    path = root / "manifest.json"
    if not path.exists():
        return
    for fam, spec in json.loads(path.read_text(encoding="utf-8")).get("families", {}).items():
        for e in spec.get("versions", []):
            if e.get("released"):
                FROZEN[(fam, json.dumps(e["version"]))] = {
                    "targets": e["targets"],
                    "shape": e["shape"],
                }


def load_committed(root: Path) -> None:
    global REUSE
    REUSE = {}
    for path in sorted((root / "cases").glob("*/*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        REUSE[(doc["family"], json.dumps(doc["version"]))] = doc["cases"]


def drawn_by(old_manifest: Mapping[str, Any]) -> str:
    """The hypothesis release the generated inputs come from."""
    committed = old_manifest.get("generator", {}).get("hypothesis")
    if REUSE is not None and isinstance(committed, str):
        return committed
    return str(__import__("hypothesis").__version__)


def counts(cases: list[dict[str, Any]]) -> dict[str, int]:
    return {lv: sum(1 for c in cases if c["level"] == lv) for lv in LEVELS}


def write(
    root: Path, built: Mapping[tuple[str, Any], list[dict[str, Any]]], *, check: bool, release: bool
) -> int:
    manifest_path = root / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    old_pins = {
        (fam, json.dumps(e["version"])): e.get("sha256")
        for fam, spec in old.get("families", {}).items()
        for e in spec.get("versions", [])
        if e.get("released")
    }
    families: dict[str, Any] = {}
    problems: list[str] = []
    changed: list[str] = []
    for (name, v), cases in built.items():
        fam = REGISTRY.family(name)
        rel = f"cases/{name}/{v}.json"
        data = case_file_bytes({"suite": SUITE, "family": name, "version": v, "cases": cases})
        digest = file_digest(data)
        pin = old_pins.get((name, json.dumps(v)))
        released = pin is not None or (release and v in fam.released())
        if pin is not None and pin != digest:
            problems.append(f"{rel}: released cases would change (pinned {pin}, now {digest})")
        path = root / rel
        if not path.exists() or path.read_bytes() != data:
            changed.append(rel)
        frozen = FROZEN.get((name, json.dumps(v)), {})
        entry = {
            "version": v,
            "file": rel,
            "released": released,
            "cases": counts(cases),
            "targets": frozen.get("targets", list(fam.versions)),
            "shape": frozen.get("shape", fam.current),
        }
        if released:
            entry["sha256"] = pin or digest
        families.setdefault(name, {"current": fam.current, "versions": []})["versions"].append(
            entry
        )
    all_cases = [c for cs in built.values() for c in cs]
    manifest = {
        "suite": SUITE,
        "protocol": PROTOCOL,
        "description": "Language-neutral conformance cases for docket's container formats. "
        "docs/conformance.md describes the case format and the runner protocol.",
        "schemas": "../schemas",
        "levels": {
            lv: {"description": LEVEL_TEXT[lv], "cases": counts(all_cases)[lv]} for lv in LEVELS
        },
        "keys": {"conformance-test-key": {"hex": TEST_KEY.hex(), "text": TEST_KEY.decode()}},
        "generator": {
            "script": "conformance/generate.py",
            "seed": SEED,
            # The release that drew the generated inputs: reused inputs keep the committed
            # record, so a newer hypothesis that changes nothing here changes nothing here.
            "hypothesis": drawn_by(old),
        },
        "total": len(all_cases),
        "families": families,
    }
    manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    if manifest_path.exists() and manifest_path.read_bytes() != manifest_bytes:
        changed.append("manifest.json")
    for p in problems:
        print(p, file=sys.stderr)
    for d in DISAGREEMENTS:
        print("strategy/docket disagreement:", d, file=sys.stderr)
    if check:
        for c in changed:
            print(f"would change: {c}", file=sys.stderr)
        return 1 if problems or changed else 0
    if problems:
        print("refusing to rewrite released cases", file=sys.stderr)
        return 1
    for (name, v), cases in built.items():
        path = root / f"cases/{name}/{v}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            case_file_bytes({"suite": SUITE, "family": name, "version": v, "cases": cases})
        )
    manifest_path.write_bytes(manifest_bytes)
    print(f"{len(all_cases)} cases in {len(built)} files", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    parser.add_argument(
        "--release",
        action="store_true",
        help="pin the files of released family versions that have no pin yet",
    )
    parser.add_argument("--out", type=Path, default=HERE, help="suite directory (default: here)")
    parser.add_argument(
        "--reuse-inputs",
        action="store_true",
        help="take the generated inputs from the committed files instead of drawing them "
        "(fast; every expectation is still recomputed and every hand-written case rebuilt)",
    )
    args = parser.parse_args(argv)
    load_frozen(args.out)
    if args.reuse_inputs:
        load_committed(args.out)
    return write(args.out, build(), check=args.check, release=args.release)


if __name__ == "__main__":
    raise SystemExit(main())
