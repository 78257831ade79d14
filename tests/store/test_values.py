"""docket.store.values: typed values from version documents; the compiled converters agree with
the marshmallow schemas, value for value."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import marshmallow
import pytest
from hypothesis import given
from hypothesis import strategies as st

import docket
import docket.errors
from docket.errors import DocketError
from docket.store.errors import InvalidValue
from docket.store.values import Kind, SectionValues, Unserializable, kinds_of, load_converter

FAMILY = docket.load_registry().family("backup-metadata")
BASE = "volume-base-metadata"
KINDS = list(Kind)

# Database values of every sort a driver hands back, and some no driver should.
naive_datetimes = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))
aware_datetimes = st.datetimes(
    min_value=dt.datetime(2, 1, 1),
    max_value=dt.datetime(9998, 12, 31),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]),
)
database_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, 1, 2, -1]),
    st.floats(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.text(max_size=8).map(str.encode),
    naive_datetimes,
    aware_datetimes,
    st.dates(),
    st.uuids(),
    st.builds(object),
    st.lists(st.integers(), max_size=2),
)
json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    naive_datetimes.map(lambda d: d.isoformat(timespec="microseconds")),
    naive_datetimes.map(lambda d: d.isoformat(timespec="microseconds") + "Z"),
    aware_datetimes.map(lambda d: d.isoformat()),
    st.uuids().map(str),
    st.lists(st.integers(), max_size=2),
)


def _same(a: Any, b: Any) -> bool:
    # NaN-free JSON values compare with ==, but True == 1: compare types as well.
    return type(a) is type(b) and a == b


@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
    utc=st.booleans(),
    data=st.data(),
)
def test_compiled_dumper_agrees_with_the_marshmallow_schema(
    kinds: list[Kind], utc: bool, data: st.DataObject
) -> None:
    names = [f"f{i}" for i in range(len(kinds))]
    values = SectionValues(
        BASE,
        dict(zip(names, kinds, strict=True)),
        Kind.UTC_DATETIME if utc else Kind.NAIVE_DATETIME,
    )
    row = [data.draw(database_values) for _ in names]
    fast, fast_report = values.dumper(names)(row, "vol")
    reference, reference_report = values.dump(dict(zip(names, row, strict=True)), volume_id="vol")
    assert fast.keys() == reference.keys()
    assert all(_same(fast[k], reference[k]) for k in fast)
    assert fast_report == reference_report
    # Every value is either in the section or in the report, never both, never neither.
    assert set(fast) | {p.field for p in fast_report} == set(names)
    assert not set(fast) & {p.field for p in fast_report}


@given(kind=st.sampled_from(KINDS), value=json_values)
def test_compiled_loader_agrees_with_the_marshmallow_schema(kind: Kind, value: Any) -> None:
    values = SectionValues(BASE, {"f": kind})
    convert = values.loader(["f"])["f"]
    try:
        reference = values.load({"f": value})["f"]
    except marshmallow.ValidationError:
        reference = marshmallow.ValidationError
    try:
        fast = value if convert is None or value is None else convert(value)
    except ValueError:
        fast = marshmallow.ValidationError
    assert fast is reference or _same(fast, reference), (kind, value, fast, reference)


@given(moment=naive_datetimes)
def test_timestamps_round_trip_in_both_forms(moment: dt.datetime) -> None:
    for kind, suffix in ((Kind.NAIVE_DATETIME, ""), (Kind.UTC_DATETIME, "Z")):
        values = SectionValues(BASE, {"t": kind})
        (text, _) = values.dumper(["t"])([moment])
        assert text["t"] == moment.isoformat(timespec="microseconds") + suffix
        assert len(text["t"]) == 26 + len(suffix)
        assert values.loader(["t"])["t"](text["t"]) == moment  # type: ignore[misc]


def test_cinder_form_always_has_six_fractional_digits_and_four_year_digits() -> None:
    values = SectionValues(BASE, {"t": Kind.NAIVE_DATETIME})
    dump = values.dumper(["t"])
    assert dump([dt.datetime(2026, 1, 2, 3, 4, 5)])[0] == {"t": "2026-01-02T03:04:05.000000"}
    assert dump([dt.datetime(999, 1, 2)])[0] == {"t": "0999-01-02T00:00:00.000000"}


def test_aware_database_values_are_written_in_utc() -> None:
    moment = dt.datetime(
        2026, 1, 2, 8, 34, 5, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
    )
    naive = SectionValues(BASE, {"t": Kind.NAIVE_DATETIME}).dumper(["t"])([moment])[0]
    utc = SectionValues(BASE, {"t": Kind.UTC_DATETIME}).dumper(["t"])([moment])[0]
    assert naive == {"t": "2026-01-02T03:04:05.000000"}
    assert utc == {"t": "2026-01-02T03:04:05.000000Z"}
    loaded = SectionValues(BASE, {"t": Kind.UTC_DATETIME}).load({"t": "2026-01-02T08:34:05+05:30"})
    assert loaded == {"t": dt.datetime(2026, 1, 2, 3, 4, 5)}


def test_kinds_come_from_the_version_documents() -> None:
    v2 = kinds_of(FAMILY.source.documents[2], BASE)
    v3 = kinds_of(FAMILY.source.documents[3], BASE)
    assert v2["created_at"] is Kind.NAIVE_DATETIME and v3["created_at"] is Kind.UTC_DATETIME
    assert v2["bootable"] is Kind.BOOLEAN and v2["size"] is Kind.INTEGER
    assert v2["display_name"] is Kind.STRING and v2["ec2_id"] is Kind.ANY
    assert kinds_of(FAMILY.source.documents[2], "volume-metadata") == {}
    assert SectionValues.from_document(FAMILY.source.documents[2], BASE).datetime_kind is (
        Kind.NAIVE_DATETIME
    )
    assert SectionValues.from_document(FAMILY.source.documents[3], BASE).datetime_kind is (
        Kind.UTC_DATETIME
    )


def test_fields_a_version_does_not_name_take_their_column_s_kind() -> None:
    v3 = SectionValues.from_document(FAMILY.source.documents[3], BASE)
    assert v3.kind("retired_at", Kind.NAIVE_DATETIME) is Kind.UTC_DATETIME
    assert v3.kind("legacy_flag", Kind.BOOLEAN) is Kind.BOOLEAN
    assert v3.kind("anything") is Kind.ANY
    assert v3.kind("created_at", Kind.STRING) is Kind.UTC_DATETIME  # the document wins
    row, report = v3.dumper(["retired_at", "legacy_flag"], {"retired_at": Kind.NAIVE_DATETIME})(
        [dt.datetime(2030, 5, 6), 1]
    )
    assert row == {"retired_at": "2030-05-06T00:00:00.000000Z", "legacy_flag": True}
    assert report == []


def test_values_without_a_json_form_are_reported_not_dropped_silently() -> None:
    values = SectionValues.from_document(FAMILY.source.documents[2], BASE)
    names = ["id", "bootable", "size", "blob", "ratio", "when", "thing", "money", "raw"]
    row = [
        uuid.UUID(int=7),
        2,
        "12",
        b"\xff\xfe",
        float("inf"),
        dt.date(2026, 1, 2),
        object(),
        decimal.Decimal("1.50"),
        b"text",
    ]
    out, report = values.dumper(names)(row, "vol-1")
    assert out == {
        "id": "00000000-0000-0000-0000-000000000007",
        "when": "2026-01-02",
        "money": "1.50",
        "raw": "text",
    }
    assert report == [
        Unserializable(BASE, "bootable", "int", "vol-1"),
        Unserializable(BASE, "size", "str", "vol-1"),
        Unserializable(BASE, "blob", "bytes", "vol-1"),
        Unserializable(BASE, "ratio", "float", "vol-1"),
        Unserializable(BASE, "thing", "object", "vol-1"),
    ]
    assert str(report[0]) == (
        'volume vol-1: $["volume-base-metadata"]["bootable"]: a int value does not serialize; '
        "left out"
    )


def test_a_pre_step_turns_driver_values_into_python_first() -> None:
    values = SectionValues(BASE, {"t": Kind.NAIVE_DATETIME, "b": Kind.BOOLEAN})
    dump = values.dumper(["t", "b"], pre=[dt.datetime.fromisoformat, None])
    assert dump(["2026-01-02 03:04:05.000001", 0]) == (
        {"t": "2026-01-02T03:04:05.000001", "b": False},
        [],
    )
    out, report = dump(["not a time", None])
    assert out == {"b": None} and report[0].field == "t"
    with pytest.raises(ValueError):
        values.dumper(["t"], pre=[None, None])


def test_loading_refuses_values_of_the_wrong_type_naming_each_field() -> None:
    values = SectionValues.from_document(FAMILY.source.documents[3], BASE)
    with pytest.raises(marshmallow.ValidationError) as caught:
        values.load({"bootable": "yes", "size": 1.5, "created_at": "2026-01-02T03:04:05"})
    assert set(caught.value.messages) == {"bootable", "size", "created_at"}
    loaded = values.load(
        {"bootable": True, "size": 3, "created_at": "2026-01-02T03:04:05.000000Z", "x": [1]}
    )
    assert loaded == {
        "bootable": True,
        "size": 3,
        "created_at": dt.datetime(2026, 1, 2, 3, 4, 5),
        "x": [1],
    }


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        (Kind.BOOLEAN, 1, "expected a boolean"),
        (Kind.INTEGER, True, "expected an integer"),
        (Kind.STRING, 3, "expected a string"),
        (Kind.UUID, 3, "expected a UUID string"),
        (Kind.NAIVE_DATETIME, 3, "expected a timestamp string"),
        (Kind.NAIVE_DATETIME, "2026-01-02", '"2026-01-02" is not a timestamp'),
        (Kind.UTC_DATETIME, "2026-01-02T03:04:05", "is not a timezone-aware timestamp"),
    ],
)
def test_a_value_a_column_cannot_take_is_a_typed_error(kind: Kind, value: Any, text: str) -> None:
    convert = load_converter(kind)
    assert convert is not None
    with pytest.raises(InvalidValue) as err:
        convert(value)
    assert isinstance(err.value, DocketError) and isinstance(err.value, ValueError)
    assert err.value.value == value and text in str(err.value) and text in err.value.reason
    assert docket.errors.InvalidValue is InvalidValue
