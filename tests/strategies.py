"""Small hand-written strategies for docket's own core tests (users get docket.testing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from docket.core.migrations import (
    BUILTIN_CONVERTERS,
    Add,
    Convert,
    Map,
    Move,
    Operation,
    Remove,
    Rename,
)

NAIVE_TS = st.datetimes(min_value=datetime(1900, 1, 1)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f")
)
short_text = st.text(max_size=40)
meta_keys = st.text(min_size=1, max_size=30)
# Strings near Cinder's naive timestamps: its shape with any digits (most not a real moment),
# real moments, those a character off, null and other text.
cinder_like_timestamps = st.one_of(
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}",
                  fullmatch=True),
    st.datetimes().map(lambda d: d.isoformat(timespec="microseconds")),
    st.tuples(
        st.datetimes().map(lambda d: d.isoformat(timespec="microseconds")),
        st.integers(0, 25),
        st.sampled_from([*"0123456789:-T. Z", "\u0663", "\n"]),
    ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]),
    st.none(),
    short_text,
)


def operations(
    sections: st.SearchStrategy[str | None],
    fields: st.SearchStrategy[str],
    values: st.SearchStrategy[Any],
) -> st.SearchStrategy[Operation]:
    """One operation of every kind, on the sections, fields and values given."""
    return st.one_of(
        st.builds(Add, sections, fields, values),
        st.builds(Remove, sections, fields, values),
        st.builds(Rename, sections, fields, fields),
        st.builds(Move, sections, fields, sections, st.one_of(st.none(), fields)),
        st.builds(Map, sections, fields, st.lists(st.tuples(values, values), max_size=2)),
        st.builds(Convert, sections, fields, st.sampled_from(sorted(BUILTIN_CONVERTERS))),
    )


@st.composite
def backup_metadata_v1v2(draw: st.DrawFn, version: int | None = None) -> dict[str, Any]:
    """A Cinder-shaped container of version 1 or 2."""
    v = draw(st.sampled_from([1, 2])) if version is None else version
    base: dict[str, Any] = {"id": draw(st.uuids().map(str))}
    optional = {
        "display_name": st.none() | st.text(max_size=255),
        "display_description": st.none() | st.text(max_size=255),
        "size": st.integers(min_value=0, max_value=2**40),
        "status": st.sampled_from(["available", "in-use", "error"]),
        "bootable": st.booleans(),
        "deleted": st.booleans(),
        "volume_type_id": st.none() | st.uuids().map(str),
        "encryption_key_id": st.none() | st.uuids().map(str),
        "created_at": NAIVE_TS,
        "updated_at": st.none() | NAIVE_TS,
        "deleted_at": st.none() | NAIVE_TS,
        "some_future_column": st.none() | st.integers() | short_text,
    }
    for name, strat in optional.items():
        if draw(st.booleans()):
            base[name] = draw(strat)
    out: dict[str, Any] = {"version": v, "volume-base-metadata": base}
    if draw(st.booleans()):
        out["volume-metadata"] = draw(
            st.dictionaries(meta_keys, st.none() | st.text(max_size=255), max_size=5)
        )
    if draw(st.booleans()):
        out["volume-glance-metadata"] = draw(
            st.dictionaries(
                meta_keys, st.text(max_size=50) | st.integers() | st.booleans(), max_size=5
            )
        )
    return out


@st.composite
def notes_v1(draw: st.DrawFn) -> dict[str, Any]:
    note: dict[str, Any] = {"title": draw(st.text(min_size=1, max_size=50))}
    if draw(st.booleans()):
        note["body"] = draw(short_text)
    if draw(st.booleans()):
        note["author"] = draw(st.none() | short_text)
    if draw(st.booleans()):
        note["created_at"] = draw(st.none() | NAIVE_TS)
    out: dict[str, Any] = {"version": 1, "note": note}
    if draw(st.booleans()):
        out["tags"] = draw(st.dictionaries(short_text, st.text(max_size=20), max_size=4))
    return out
