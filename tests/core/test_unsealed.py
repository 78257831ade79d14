"""The schema check without the digest member's subschema (``docket.core._loading.unsealed``):
its verdict, where the digest (and signature) is of the form docket computes, is the full
schema's, held to jsonschema-rs on containers and on the members' values alone."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import docket
from docket.core._loading import unsealed, unsealed_validator
from docket.core.integrity import Integrity
from tests.strategies import backup_metadata_v1v2

_BACKUP = docket.load_registry().family("backup-metadata")
_V3 = _BACKUP.spec(3)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_SIGNATURE = re.compile(r"hmac-sha256:[0-9a-f]{64}")
_HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
# Members' values as a careless or hostile writer leaves them, and the sealed form.
_MEMBER = st.one_of(
    _HEX.map(lambda h: "sha256:" + h),
    _HEX.map(lambda h: "hmac-sha256:" + h),
    _HEX.map(lambda h: "sha256:" + h.upper()),
    _HEX.map(lambda h: "sha256:" + h + "\n"),
    st.text(max_size=12),
    st.sampled_from([None, 1, 1.5, True, [], {}, "sha256:", "sha256:" + "0" * 63]),
)


def test_the_bundled_v3_check_leaves_the_digest_out_and_nothing_else() -> None:
    schema = unsealed(_V3.schema, _V3.integrity, signature=False)
    assert schema is not None
    assert schema["properties"]["digest"] is True
    assert {k: v for k, v in schema["properties"].items() if k != "digest"} == {
        k: v for k, v in _V3.schema["properties"].items() if k != "digest"
    }
    assert {k: v for k, v in schema.items() if k != "properties"} == {
        k: v for k, v in _V3.schema.items() if k != "properties"
    }
    both = unsealed(_V3.schema, _V3.integrity, signature=True)
    assert both is not None and both["properties"]["signature"] is True
    assert _V3.unsealed is not _V3.fast


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(backup_metadata_v1v2(), _MEMBER, st.one_of(st.none(), _MEMBER))
def test_with_a_sealed_digest_the_verdict_is_the_full_schemas(
    obj: dict[str, Any], digest: Any, signature: Any
) -> None:
    container = _BACKUP.load(json.dumps(obj).encode()).data | {"digest": digest}
    if signature is not None:
        container["signature"] = signature
    full = _V3.fast.is_valid(container)
    without = _V3.unsealed.is_valid(container)
    # Leaving a subschema out only admits more; with the digest sealed, nothing more.
    assert without or not full
    if isinstance(digest, str) and _DIGEST.fullmatch(digest):
        assert without == full
    both = jsonschema_rs.validator_for(
        unsealed(_V3.schema, _V3.integrity, signature=True), validate_formats=True
    )
    sealed = isinstance(digest, str) and _DIGEST.fullmatch(digest)
    signed = signature is None or (isinstance(signature, str) and _SIGNATURE.fullmatch(signature))
    if sealed and signed:
        assert both.is_valid(container) == full


@given(st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=4), st.binary())
def test_every_digest_and_signature_docket_writes_is_of_the_sealed_form(
    data: dict[str, Any], key: bytes
) -> None:
    """What leaving the members' subschemas out rests on: :meth:`Integrity.seal` writes
    ``sha256:`` and ``hmac-sha256:`` with 64 lowercase hex digits, whatever it seals."""
    sealed = Integrity().seal(dict(data), key)
    assert _DIGEST.fullmatch(sealed["digest"])
    assert _SIGNATURE.fullmatch(sealed["signature"])


def _schema(digest: Any, **more: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"digest": digest, "a": {"type": "string"}}, **more}


_PATTERN = "^sha256:[0-9a-f]{64}$"


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param({"type": "string", "pattern": _PATTERN}, id="the bundled one"),
        pytest.param({"type": "string", "pattern": _PATTERN, "description": "x", "x-k": 1},
                     id="with annotations"),
        pytest.param({"type": "string"}, id="a string"),
        pytest.param({}, id="anything"),
    ],
)
def test_a_digest_subschema_that_admits_every_sealed_digest_is_left_out(digest: Any) -> None:
    out = unsealed(_schema(digest), Integrity(), signature=False)
    assert out is not None and out["properties"] == {"digest": True, "a": {"type": "string"}}


@pytest.mark.parametrize(
    ("digest", "more"),
    [
        pytest.param({"type": "string", "maxLength": 10}, {}, id="a bound a digest breaks"),
        pytest.param({"enum": ["sha256:" + "0" * 64]}, {}, id="one value"),
        pytest.param({"type": "string", "pattern": "^sha256:[0-9a-f]+$"}, {}, id="another pattern"),
        pytest.param({"type": ["string", "null"], "pattern": _PATTERN}, {}, id="another type"),
        pytest.param({"type": "string", "pattern": _PATTERN},
                     {"$defs": {"d": {"$ref": "#/properties/digest"}}}, id="referred to"),
        pytest.param(True, {}, id="nothing to leave out"),
    ],
)
def test_anything_else_keeps_the_schema_whole(digest: Any, more: dict[str, Any]) -> None:
    assert unsealed(_schema(digest, **more), Integrity(), signature=False) is None


def test_a_version_without_a_digest_is_checked_by_its_full_schema() -> None:
    spec = _BACKUP.spec(2)
    assert unsealed_validator(spec) is spec.fast
