"""Hand-written integrity cases: canonical JSON, digests and signatures."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .common import (
    BASE,
    GLANCE,
    OTHER_KEY,
    SIGNED_V3,
    TEST_KEY,
    Collector,
    invalid,
    text_input,
    v2_doc,
    valid,
)


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
