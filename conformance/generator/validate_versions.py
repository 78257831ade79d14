"""Hand-written validate cases: the version member (every family), and version 3's timestamps
and digest (backup-metadata)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .common import (
    BASE,
    Collector,
    invalid,
    text_input,
    valid,
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
