"""``Family.load`` of bytes (its fast path: one serialisation proves the parse exact and feeds
the digest, the upgrade runs in place) against the general path (``load(..., to=current)``)
and against the reference parse (``parse_exact``, then loading the value): they accept the
same containers, give the same result and refuse the rest with the same error."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import docket
from docket import DocketError
from docket.core._loading import Spent
from docket.core.codec import Limits, _size_within, canonical, parse_exact
from docket.core.family import Family
from tests.strategies import backup_metadata_v1v2

_BACKUP = docket.load_registry().family("backup-metadata")
_FAMILIES = (
    _BACKUP,
    _BACKUP.with_signing_key(b"operator key"),
    _BACKUP.with_limits(Limits(max_depth=2)),
    _BACKUP.with_limits(Limits(max_keys=8)),
)


def _outcome(load: Any) -> tuple[Any, ...]:
    try:
        c = load()
    except DocketError as err:
        return ("error", type(err).__name__, str(err))
    return ("ok", c.version, c.written_version, c.signature, c.floor, canonical(c.data))


def _reference(family: Family, raw: bytes) -> tuple[Any, ...]:
    """Parsed by the reference parser, then loaded as a value (its limits checked again)."""
    try:
        value = parse_exact(raw, family.limits)
    except DocketError as err:
        return ("error", type(err).__name__, str(err))
    return _outcome(lambda: family.load(value))


def _agree(family: Family, raw: bytes) -> tuple[Any, ...]:
    fast = _outcome(lambda: family.load(raw))
    general = _outcome(lambda: family.load(raw, to=family.current))
    assert fast == general, raw
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        pass
    else:
        assert _outcome(lambda: family.load(text)) == fast, raw
    _full_schema_agrees(family, raw, fast)
    # The happy path of docket's own v3 writing returns only what the general path gives.
    read = family._reader
    if read is not None and _size_within(len(raw), family.limits):
        try:
            direct = read(raw, _value(raw))
        except Spent:  # it began the upgrade and could not finish: the general path decides
            assert general[0] == "error", raw
        else:
            if direct is not None:
                assert _outcome(lambda: direct) == general, raw
    reference = _reference(family, raw)
    # The reference loads a value: the same verdict, and the same error when not a parse one.
    assert fast[0] == reference[0], raw
    if fast[0] == "ok" or reference[1] != "ParseError":
        assert fast == reference, raw
    return fast


def _full_schema_agrees(family: Family, raw: bytes, outcome: tuple[Any, ...]) -> None:
    """The written version's full schema, asked on its own (every path checks without the
    digest's subschema until the digest is found to match): a container loaded, or refused
    for its digest or signature, is valid there; one refused as invalid is not."""
    try:
        value = parse_exact(raw, family.limits)
        spec = family.spec(value["version"])
    except (DocketError, KeyError, TypeError):
        return
    if outcome[0] == "ok" or outcome[1] in ("DigestMismatch", "SignatureError"):
        assert spec.fast.is_valid(value), raw
    elif outcome[1] == "ValidationError":
        assert not spec.fast.is_valid(value), raw


def _value(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _variants(draw: st.DrawFn, obj: dict[str, Any]) -> bytes:
    """``obj`` as a v3 container docket writes, then maybe changed the way a hostile or
    careless writer would: reordered, spaced, a member twice, a digest or value changed."""
    v3 = _BACKUP.dump(_BACKUP.load(json.dumps(obj).encode()))
    how = draw(
        st.sampled_from(
            ["same", "unsorted", "spaced", "duplicate", "digest", "value", "escaped", "version",
             "signed", "big", "deep", "unsealed"]
        )
    )
    value = orjson.loads(v3)
    if how == "same":
        return v3
    if how == "unsorted":
        return orjson.dumps(dict(reversed(list(value.items()))))
    if how == "spaced":
        return json.dumps(value, ensure_ascii=False).encode()
    if how == "duplicate":
        member = draw(st.sampled_from(sorted(value)))
        again = b'"' + member.encode() + b'":' + canonical(value[member])
        at = draw(st.sampled_from(["start", "end"]))
        return (b"{" + again + b"," + v3[1:]) if at == "start" else (v3[:-1] + b"," + again + b"}")
    if how == "digest":
        value["digest"] = "sha256:" + "0" * 64
    elif how == "unsealed":  # not of the form docket computes: the schema refuses it first
        value[draw(st.sampled_from(["digest", "signature"]))] = draw(
            st.sampled_from(["sha256:x", "sha256:" + "A" * 64, 7, None, "hmac-sha256:" + "0" * 64])
        )
    elif how == "value":
        value["volume-base-metadata"]["id"] = "changed"
    elif how == "escaped":
        return v3.replace(b'"version"', b'"\\u0076ersion"')
    elif how == "version":
        value["version"] = draw(st.sampled_from([2, "3", True, 3.0, None]))
    elif how == "signed":
        value["signature"] = "hmac-sha256:" + "0" * 64
    elif how == "big":
        return v3.replace(b'"version":3', b'"version":3,"zz":18446744073709551616')
    elif how == "deep":
        value.setdefault("volume-metadata", {})["nested"] = {"a": {"b": {"c": [1]}}}
    return canonical(value)


@st.composite
def _containers(draw: st.DrawFn) -> bytes:
    obj = draw(backup_metadata_v1v2())
    kind = draw(st.sampled_from(["v3", "cinder", "compact"]))
    if kind == "v3":
        return _variants(draw, obj)
    separators = (", ", ": ") if kind == "cinder" else (",", ":")
    return json.dumps(obj, separators=separators).encode()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_containers(), st.sampled_from(_FAMILIES))
@example(b'{"version":3,"version":3}', _BACKUP)
@example(b'{"digest":"x","digest":"y","version":3}', _BACKUP)
@example(b"[]", _BACKUP)
@example(b'{"version": 9}', _BACKUP)
@example(b'{"version": [3]}', _BACKUP)
@example(b'{"version": 2, "volume-base-metadata": {"created_at": "2026-02-30T00:00:00.000000"}}',
         _BACKUP)
@example(b'{"version": true}', _BACKUP)
@example(b'{"digest":"sha256:x","family":"backup-metadata","version":3}', _BACKUP)
def test_the_fast_load_agrees_with_the_general_and_reference_paths(
    raw: bytes, family: Family
) -> None:
    _agree(family, raw)


def test_a_v3_container_docket_wrote_takes_the_sealed_path() -> None:
    """What the fast path is for: docket's own v3 writing is read with the digest's input
    taken from the proof of the parse, and loads to the same container."""
    from docket.core.codec import parse_sealed

    v2 = json.dumps({"version": 2, "volume-metadata": {"a": "b"}}).encode()
    v3 = _BACKUP.dump(_BACKUP.load(v2))
    value, covered = parse_sealed(v3, _BACKUP.limits, _BACKUP._sealed)
    assert covered == canonical({"volume-metadata": {"a": "b"}})
    assert value == orjson.loads(v3)
    assert _agree(_BACKUP, v3)[0] == "ok"
    read = _BACKUP._reader
    assert read is not None and read(v3, _value(v3)) == _BACKUP.load(v3)
    signed = orjson.loads(v3) | {"signature": "hmac-sha256:" + "0" * 64}
    text = canonical(signed)
    container = read(text, _value(text))
    assert container is not None and container.signature == "unverified"
    # With a key, or a reordered text, the general path decides.
    assert _BACKUP.with_signing_key(b"k")._reader is None
    reordered = orjson.dumps(dict(reversed(orjson.loads(v3).items())))
    assert read(reordered, _value(reordered)) is None
    assert read(v2, _value(v2)) == _BACKUP.load(v2)  # a Cinder container, upgraded
    # Another writing of the same value is parsed, but gives no digest input.
    assert parse_sealed(json.dumps(value).encode(), _BACKUP.limits, _BACKUP._sealed)[1] is None


@given(
    st.dictionaries(
        st.sampled_from(["a", "digest", "family", "m", "signature", "version", "z", "ü"]),
        st.one_of(
            st.integers(-(2**63), 2**63 - 1),
            st.text(max_size=3),
            st.dictionaries(st.text(max_size=2), st.none()),
        ),
    ),
    st.sets(st.sampled_from(["a", "digest", "family", "signature", "version", "z"])),
)
def test_the_digest_input_of_a_sealed_parse_is_the_covered_members_canonical_bytes(
    members: dict[str, Any], excluded: set[str]
) -> None:
    # Excluded members that sort first, among or after the others, none or all of them.
    from docket.core.codec import parse_sealed

    value = {"version": 3, **members}
    value["version"] = 3
    text = canonical(value)
    parsed, covered = parse_sealed(text, _BACKUP.limits, {3: frozenset(excluded)})
    assert parsed == value
    assert covered == canonical({k: v for k, v in value.items() if k not in excluded})
    other = orjson.dumps(dict(reversed(sorted(value.items()))))
    if other != text:  # another order of the members: parsed, without a digest input
        assert parse_sealed(other, _BACKUP.limits, {3: frozenset(excluded)}) == (value, None)


def test_an_upgrade_that_fails_half_way_is_decided_by_the_general_path() -> None:
    """The reader upgrades in place; when a step fails after that, the text is parsed again
    and the general path gives its error (a date v2's pattern admits that does not exist,
    after one the upgrade had converted already)."""
    base = {
        "scheduled_at": "2026-01-02T03:04:05.000000",
        "created_at": "2026-02-30T00:00:00.000000",
    }
    # The family is there already (v2 allows it): the value the reader left holds as many
    # members as the text, so only parsing again gives the general path the text's value.
    raw = json.dumps(
        {"version": 2, "family": "backup-metadata", "volume-base-metadata": base}
    ).encode()
    read = _BACKUP._reader
    assert read is not None
    with pytest.raises(Spent):
        read(raw, orjson.loads(raw))
    assert _agree(_BACKUP, raw)[:2] == ("error", "MigrationError")
