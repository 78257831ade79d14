"""Hand-written validate cases: strict parsing, limits and section shapes (backup-metadata 2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .common import (
    BASE,
    GLANCE,
    META,
    Collector,
    base,
    invalid,
    text_input,
    v2_doc,
    valid,
)

# --- hand-written: strict parsing (backup-metadata 2) ------------------------------------------


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
