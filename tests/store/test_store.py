"""docket.store on SQLite, PostgreSQL and MariaDB: backing up (get), restoring (put), bulk
calls, soft delete, types, column sizes, key case (databases docket did not create and the
column allowlist: test_store_databases.py)."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import docket
from docket import store
from docket.errors import (
    KeyConflict,
    RestoreRefused,
    UnknownVersion,
    UnstorableValue,
    ValidationError,
    ValueTooLong,
    VolumeNotFound,
)
from docket.store.api import collector_paused
from tests import _volumes as vols
from tests._store import CINDER_TIME, DST, FAMILY, OTHER, SRC, source_volume, target_volume
from tests.conftest_db import dump

# --- get -----------------------------------------------------------------------------------


def test_get_holds_every_column_of_the_volume_row(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    container = json.loads(store.BackupMetadataAPI(db_engine).get(SRC))
    base = container["volume-base-metadata"]
    columns = [c.name for c in store.cinder_metadata().tables["volumes"].columns]
    assert list(base) == columns  # all 40 of Cinder 29's, in the table's order
    assert container["version"] == 2
    for name in ("scheduled_at", "launched_at", "created_at", "updated_at"):
        assert CINDER_TIME.match(base[name]), (name, base[name])
    assert base["created_at"] == "2026-01-02T03:04:05.123456"
    assert base["launched_at"] == "2026-01-02T03:04:08.123463"
    for name in ("bootable", "multiattach", "deleted", "use_quota", "shared_targets"):
        assert type(base[name]) is bool, name
    assert base["size"] == 1 and base["deleted"] is False
    assert base["display_name"] == "vol-1" and base["volume_type_id"] == vols.TYPE_GOLD
    assert container["volume-metadata"] == {"fee": "fi", "fo": "fum"}
    assert container["volume-glance-metadata"] == {
        "disk_format": "raw",
        "container_format": "bare",
        "min_ram": "512",
    }
    assert FAMILY.validate(json.dumps(container)) == []


def test_get_leaves_empty_sections_out(db_engine: sa.Engine) -> None:
    source_volume(db_engine, metadata={}, glance={})
    container = json.loads(store.BackupMetadataAPI(db_engine).get(SRC))
    assert set(container) == {"version", "volume-base-metadata"}


def test_get_writes_the_configured_version(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    v1 = json.loads(store.BackupMetadataAPI(db_engine, version=1).get(SRC))
    v2 = json.loads(store.BackupMetadataAPI(db_engine).get(SRC))
    assert v1["version"] == 1 and {k: v for k, v in v1.items() if k != "version"} == {
        k: v for k, v in v2.items() if k != "version"
    }
    text = store.BackupMetadataAPI(db_engine, version=3).get(SRC)
    loaded = FAMILY.load(text)  # the digest is checked on load
    assert loaded.written_version == 3
    base = loaded.data["volume-base-metadata"]
    assert base["created_at"] == "2026-01-02T03:04:05.123456Z"
    assert base["terminated_at"] is None
    assert text.encode() == FAMILY.dump(loaded)  # canonical bytes
    assert FAMILY.upgrade(FAMILY.load(json.dumps(v2), to=2)) == loaded


def test_get_of_a_signing_registry_is_signed(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    registry = docket.load_registry(signing_key=b"operator key")
    text = store.BackupMetadataAPI(db_engine, version=3, registry=registry).get(SRC)
    assert registry.family("backup-metadata").load(text).signature == "verified"


def test_an_unknown_output_version_is_refused_at_once(db_engine: sa.Engine) -> None:
    with pytest.raises(UnknownVersion):
        store.BackupMetadataAPI(db_engine, version=4)


def test_missing_and_soft_deleted_volumes_do_not_exist(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    vols.volume(db_engine, OTHER, deleted=True, deleted_at=vols.CREATED)
    api = store.BackupMetadataAPI(db_engine)
    for missing in (OTHER, "no-such-volume"):
        with pytest.raises(VolumeNotFound) as caught:
            api.get(missing)
        assert caught.value.volume_ids == (missing,)
        assert isinstance(caught.value, LookupError)
    with pytest.raises(VolumeNotFound) as caught:
        api.get_many([SRC, OTHER, "x"])
    assert caught.value.volume_ids == (OTHER, "x")


@pytest.mark.parametrize("odd", ["a\x00b", "\udcff", "é\x00", "x\ud800"])
def test_an_id_no_row_can_have_is_not_found_alike_on_every_backend(
    db_engine: sa.Engine, odd: str
) -> None:
    # PostgreSQL refused the NUL with a bare database error, the others said "not found";
    # a lone surrogate (a command-line byte that is not UTF-8) was a UnicodeEncodeError.
    source_volume(db_engine)
    target_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    text = api.get(SRC)
    before = dump(db_engine)
    for call in (
        lambda: api.get(odd),
        lambda: api.get_many([SRC, odd]),
        lambda: api.put(odd, text),
        lambda: api.put_many([(DST, text), (odd, text)]),
    ):
        with pytest.raises(VolumeNotFound) as caught:
            call()
        assert caught.value.volume_ids == (odd,)
        shown = str(caught.value)
        assert shown.isprintable() and shown.encode("utf-8")  # escaped: \x00, \xff, \ud800
    assert dump(db_engine) == before


def test_soft_deleted_metadata_is_not_backed_up(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    tables = store.cinder_metadata().tables
    with db_engine.begin() as conn:
        for name in ("volume_metadata", "volume_glance_metadata"):
            conn.execute(
                sa.insert(tables[name]).values(
                    volume_id=SRC, key="gone", value="x", deleted=True, deleted_at=vols.CREATED
                )
            )
    container = json.loads(store.BackupMetadataAPI(db_engine).get(SRC))
    assert "gone" not in container["volume-metadata"]
    assert "gone" not in container["volume-glance-metadata"]


def test_metadata_that_is_not_text_is_reported(db_engine: sa.Engine, db_backend: str) -> None:
    # Each database builds a volume's entries in one query where it can; a key or value
    # that is not text sends that volume's entries through the row-by-row path.
    source_volume(db_engine)
    json_text = {"plain": "yes", "json": '{"a": 1}', "list": "[1, 2]", "quote": 'a"b\\'}
    vols.volume(db_engine, OTHER, metadata=json_text)
    table = store.cinder_metadata().tables["volume_metadata"]
    odd = [{"volume_id": SRC, "key": None, "value": "no key", "deleted": False}]
    if db_backend == "sqlite":  # SQLite stores any type in any column
        odd += [
            {"volume_id": SRC, "key": "blob", "value": b"\xff\xfe", "deleted": False},
            {"volume_id": SRC, "key": "utf8", "value": b"caf\xc3\xa9", "deleted": False},
        ]
    with db_engine.begin() as conn:
        for row in odd:
            conn.execute(sa.insert(table).values(**row))
    api = store.BackupMetadataAPI(db_engine)
    many = api.get_many([SRC, OTHER])
    expected = {"fee": "fi", "fo": "fum"}
    if db_backend == "sqlite":
        expected["utf8"] = "café"
    assert json.loads(many[SRC])["volume-metadata"] == expected
    assert json.loads(many[OTHER])["volume-metadata"] == json_text  # text stays text
    reported = {(p.section, p.field, p.type_name, p.volume_id) for p in api.last_report}
    expected_report = {("volume-metadata", "None", "NoneType", SRC)}
    if db_backend == "sqlite":
        expected_report.add(("volume-metadata", "blob", "bytes", SRC))
    assert reported == expected_report


def test_get_many_is_get_per_volume(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    vols.volume(db_engine, OTHER, name="other", metadata={"a": "b"})
    vols.volume(db_engine, DST, name="bare", metadata={}, glance={})
    api = store.BackupMetadataAPI(db_engine, chunk_size=2)
    many = api.get_many([OTHER, SRC, DST, SRC])
    assert list(many) == [OTHER, SRC, DST]
    for vid, text in many.items():
        assert orjson.loads(text) == orjson.loads(api.get(vid))
    assert api.get_many([]) == {}
    # A statement never names more values than the driver takes parameters.
    assert store.BackupMetadataAPI(db_engine, chunk_size=10**9).chunk_size < 65_535
    with pytest.raises(ValueError):
        store.BackupMetadataAPI(db_engine, chunk_size=0)


@contextmanager
def sqlite_statements(engine: sa.Engine) -> Iterator[list[str]]:
    """Every statement SQLite itself runs on the engine's connections (reads included)."""
    seen: list[str] = []

    def trace(conn: Any, _record: Any) -> None:
        conn.set_trace_callback(seen.append)

    engine.pool.dispose()  # new connections, so the hook sees them
    sa.event.listen(engine, "connect", trace)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "connect", trace)
        engine.pool.dispose()


def test_get_many_runs_the_same_queries_for_one_volume_and_for_many(
    db_engine: sa.Engine, db_backend: str
) -> None:
    if db_backend != "sqlite":
        pytest.skip("counted with SQLite's statement trace; the SQL is the same on every backend")
    source_volume(db_engine)
    ids = [vols.volume(db_engine, f"vol-{i:03d}", metadata={"k": str(i)}) for i in range(40)]
    api = store.BackupMetadataAPI(db_engine)
    counts = []
    for wanted in (ids[:1], ids):
        with sqlite_statements(db_engine) as seen:
            api.get_many(wanted)
        counts.append([s for s in seen if s.startswith("SELECT")])
    assert len(counts[0]) == len(counts[1]) == 3  # volumes, user metadata, glance metadata


# --- put -----------------------------------------------------------------------------------


def test_a_backup_restores_into_a_volume_created_for_the_restore(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    before = vols.row(db_engine, DST)
    api = store.BackupMetadataAPI(db_engine)
    result = api.put(DST, api.get(SRC))
    after = vols.row(db_engine, DST)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"display_name", "display_description", "bootable", "updated_at"}
    assert after["display_name"] == "vol-1" and after["display_description"] == "test vol"
    assert after["bootable"] is True
    assert vols.user_metadata(db_engine, DST) == {"fee": "fi", "fo": "fum"}
    assert vols.glance_metadata(db_engine, DST) == {
        "disk_format": "raw",
        "container_format": "bare",
        "min_ram": "512",
    }
    assert result.volume_id == DST and result.version == 2
    assert result.written["volume-base-metadata"] == {
        "display_name": "vol-1",
        "display_description": "test vol",
        "encryption_key_id": None,
        "bootable": True,
    }
    assert result.removed == {
        "volume-metadata": ("stale",),
        "volume-glance-metadata": ("old_key",),
    }
    dropped = {(d.section, d.field) for d in result.dropped}
    assert ("volume-base-metadata", "status") in dropped
    assert ("volume-base-metadata", "host") in dropped


def test_removing_metadata_soft_deletes_it(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    api.put(DST, api.get(SRC))
    table = store.cinder_metadata().tables["volume_metadata"]
    with db_engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.key, table.c.deleted, table.c.deleted_at).where(
                table.c.volume_id == DST
            )
        ).all()
    stale = [r for r in rows if r.key == "stale"]
    assert len(stale) == 1 and stale[0].deleted is True and stale[0].deleted_at is not None
    assert all(r.deleted is False for r in rows if r.key != "stale")


def test_booleans_are_booleans_on_every_backend(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    api.put(DST, api.get(SRC))
    reflected = sa.Table("volumes", sa.MetaData(), autoload_with=db_engine)
    with db_engine.connect() as conn:
        bootable, deleted = conn.execute(
            sa.select(reflected.c.bootable, reflected.c.deleted).where(reflected.c.id == DST)
        ).one()
    # Reflected types, as a tool that did not create the table reads them.
    assert bootable in (True, 1) and deleted in (False, 0)
    base = json.loads(api.get(DST))["volume-base-metadata"]
    assert base["bootable"] is True and base["deleted"] is False


def test_values_up_to_the_column_sizes_round_trip(db_engine: sa.Engine, db_backend: str) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    # 255 characters of 1, 2, 3 and 4 UTF-8 bytes each; TEXT holds 65535 bytes on MariaDB.
    texts = {f"k{n}" + "x" * 251: c * 255 for n, c in enumerate("aé€😀")}
    glance_size = 65_535 if db_backend == "mariadb" else 300_000
    big = "g" * glance_size
    container = FAMILY.new(
        {
            "volume-base-metadata": {"display_name": "n" * 255, "display_description": "ü" * 255},
            "volume-metadata": texts,
            "volume-glance-metadata": {"big": big, "😀" * 255: "emoji key"},
        },
        version=2,
    )
    api = store.BackupMetadataAPI(db_engine)
    api.put(DST, FAMILY.dump(container, version=2))
    assert vols.user_metadata(db_engine, DST) == texts
    assert vols.glance_metadata(db_engine, DST) == {"big": big, "😀" * 255: "emoji key"}
    assert vols.row(db_engine, DST)["display_description"] == "ü" * 255
    again = json.loads(api.get(DST))
    assert again["volume-metadata"] == texts
    assert again["volume-glance-metadata"]["big"] == big


def test_longer_values_are_refused_before_anything_is_written(
    db_engine: sa.Engine, db_backend: str
) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    before = dump(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    for section, field in (("volume-metadata", "k"), ("volume-base-metadata", "display_name")):
        too_long = {"version": 2, section: {field: "x" * 256}}
        with pytest.raises(ValidationError) as caught:
            api.put(DST, json.dumps(too_long))
        assert caught.value.issues[0].json_path == f'$["{section}"]["{field}"]'
    if db_backend == "mariadb":
        glance = {"version": 2, "volume-glance-metadata": {"big": "é" * 40_000}}
        with pytest.raises(ValueTooLong) as refused:
            api.put(DST, json.dumps(glance))
        assert refused.value.path == '$["volume-glance-metadata"]["big"]'
        assert (refused.value.length, refused.value.limit) == (80_000, 65_535)
        assert refused.value.unit == "bytes"
    assert dump(db_engine) == before


def test_a_narrower_column_refuses_longer_values_with_the_path(
    db_backend: str, scratch_db: Callable[[], str]
) -> None:
    engine = store.make_engine(scratch_db())
    try:
        store.init_db(engine)
        narrow = sa.Table(
            "volume_metadata",
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("volume_id", sa.String(36)),
            sa.Column("key", sa.String(10)),
            sa.Column("value", sa.String(40)),
            sa.Column("deleted", sa.Boolean),
        )
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE volume_metadata"))
            narrow.create(conn)
        vols.types(engine)
        target_volume(engine, metadata={})
        before = dump(engine)
        api = store.BackupMetadataAPI(engine)
        with pytest.raises(ValueTooLong) as caught:
            api.put(DST, json.dumps({"version": 2, "volume-metadata": {"ok": "y" * 41}}))
        assert caught.value.path == '$["volume-metadata"]["ok"]'
        assert (caught.value.length, caught.value.limit, caught.value.unit) == (
            41,
            40,
            "characters",
        )
        with pytest.raises(ValueTooLong):
            api.put(DST, json.dumps({"version": 2, "volume-metadata": {"k" * 11: "v"}}))
        assert dump(engine) == before
        api.put(DST, json.dumps({"version": 2, "volume-metadata": {"k" * 10: "y" * 40}}))
        assert vols.user_metadata(engine, DST) == {"k" * 10: "y" * 40}
    finally:
        engine.dispose()


def test_keys_differing_only_in_case(db_engine: sa.Engine, db_backend: str) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    before = dump(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    text = json.dumps({"version": 2, "volume-metadata": {"Owner": "a", "owner": "b"}})
    if db_backend == "mariadb":
        # MariaDB would take them for one key; refused rather than lose one.
        with pytest.raises(KeyConflict) as caught:
            api.put(DST, text)
        assert caught.value.keys == ("Owner", "owner")
        assert caught.value.path == '$["volume-metadata"]["owner"]'
        assert dump(db_engine) == before
    else:
        api.put(DST, text)
        assert vols.user_metadata(db_engine, DST) == {"Owner": "a", "owner": "b"}
        assert json.loads(api.get(DST))["volume-metadata"] == {"Owner": "a", "owner": "b"}


@pytest.mark.parametrize(
    "keys",
    [("Maße", "Masse"), ("Maße", "mase"), ("é", "E "), ("Ǆ", "ǆ"), ("ﬁ", "fi"), ("a\t", "A\t")],
)
def test_other_keys_are_refused_exactly_when_the_database_holds_them_equal(
    db_engine: sa.Engine, db_backend: str, keys: tuple[str, str]
) -> None:
    # docket folded these in Python (ß as "ss", ligatures apart), refusing keys MariaDB
    # holds apart ("Maße", "Masse" under utf8mb4_general_ci); the server is the judge.
    source_volume(db_engine)
    target_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    text = json.dumps({"version": 2, "volume-metadata": dict.fromkeys(keys, "v")})
    equal = False
    if db_backend == "mariadb":
        with db_engine.connect() as conn:
            collation = conn.execute(
                sa.text(
                    "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA "
                    "= DATABASE() AND TABLE_NAME = 'volume_metadata' AND COLUMN_NAME = 'key'"
                )
            ).scalar()
            equal = bool(
                conn.execute(
                    sa.text(f"SELECT CAST(:a AS CHAR) COLLATE {collation} = :b"),
                    {"a": keys[0], "b": keys[1]},
                ).scalar()
            )
    if equal:
        before = dump(db_engine)
        with pytest.raises(KeyConflict) as caught:
            api.put(DST, text)
        assert caught.value.keys == keys
        assert dump(db_engine) == before
    else:
        api.put(DST, text)
        assert vols.user_metadata(db_engine, DST) == dict.fromkeys(keys, "v")


def test_a_key_whose_case_changed_replaces_the_old_one(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    target_volume(db_engine, metadata={"Owner": "a"})
    api = store.BackupMetadataAPI(db_engine)
    api.put(DST, json.dumps({"version": 2, "volume-metadata": {"owner": "b"}}))
    assert vols.user_metadata(db_engine, DST) == {"owner": "b"}


def test_nul_characters_are_refused(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    before = dump(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    for bad in (
        {"volume-metadata": {"a\x00b": "x"}},
        {"volume-metadata": {"a": "x\x00"}},
        {"volume-base-metadata": {"display_name": "a\x00"}},
    ):
        with pytest.raises(RestoreRefused, match="NUL"):
            api.put(DST, json.dumps({"version": 2, **bad}))
    assert dump(db_engine) == before


def test_a_volume_type_id_holding_nul_is_refused_by_the_rule_alike(db_engine: sa.Engine) -> None:
    # A target without a type takes the backup's, which must exist: PostgreSQL failed the
    # look-up of "t\x00" with a bare database error, the others refused it by the rule.
    source_volume(db_engine, encryption_key_id="6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
    target_volume(db_engine, type_id=None)
    api = store.BackupMetadataAPI(db_engine)
    data = json.loads(api.get(SRC))
    data["volume-base-metadata"]["volume_type_id"] = "t\x00"
    before = dump(db_engine)
    with pytest.raises(RestoreRefused) as caught:
        api.put(DST, json.dumps(data))
    assert caught.value.segments == ("volume-base-metadata", "volume_type_id")
    assert "no longer exists" in str(caught.value)
    assert dump(db_engine) == before


def test_glance_values_are_stored_as_cinder_stores_them(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    glance = {"min_ram": 512, "flag": True, "none": None, "ratio": 1.5, "big": 10**30}
    result = api.put(DST, json.dumps({"version": 2, "volume-glance-metadata": glance}))
    stored = {k: str(v) for k, v in glance.items()}
    assert vols.glance_metadata(db_engine, DST) == stored
    assert result.written["volume-glance-metadata"] == stored


def test_put_many_is_one_transaction(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    target_volume(db_engine, OTHER)
    before = dump(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    good = api.get(SRC)
    with pytest.raises(ValidationError) as caught:
        api.put_many([(DST, good), (OTHER, '{"version": 2, "volume-metadata": []}')])
    assert "item 1: volume " + OTHER in caught.value.__notes__
    with pytest.raises(VolumeNotFound):
        api.put_many([(DST, good), ("nope", good)])
    assert dump(db_engine) == before
    assert api.put_many([]) == []


@pytest.mark.parametrize("enabled", [True, False])
def test_put_many_leaves_the_garbage_collector_as_it_found_it(
    db_engine: sa.Engine, enabled: bool
) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    good = api.get(SRC)
    (gc.enable if enabled else gc.disable)()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        api.put_many([(DST, good)])
        assert gc.isenabled() is enabled
        with pytest.raises(VolumeNotFound):
            api.put_many([(DST, good), ("nope", good)])
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_put_many_restores_a_volume_named_twice_in_order(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    target_volume(db_engine, OTHER)
    api = store.BackupMetadataAPI(db_engine)
    first = json.dumps({"version": 2, "volume-metadata": {"a": "1"}})
    second = json.dumps({"version": 2, "volume-metadata": {"b": "2"}})
    results = api.put_many([(DST, first), (OTHER, first), (DST, second)])
    assert [r.volume_id for r in results] == [DST, OTHER, DST]
    assert results[2].removed == {"volume-metadata": ("a",)}
    assert vols.user_metadata(db_engine, DST) == {"b": "2"}
    assert vols.user_metadata(db_engine, OTHER) == {"a": "1"}


def test_put_many_equals_put_per_volume(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    container = api.get(SRC)
    ids = [
        target_volume(db_engine, f"t-{i:02d}", metadata={f"m{i}": "x", "fee": "y"})
        for i in range(6)
    ]
    singles = [api.put(vid, container) for vid in ids[:3]]
    many = api.put_many([(vid, container) for vid in ids[3:]])
    for one, other in zip(singles, many, strict=True):
        assert one.written == other.written and one.dropped == other.dropped
        assert len(one.removed["volume-metadata"]) == len(other.removed["volume-metadata"])
    states = [
        (
            vols.user_metadata(db_engine, v),
            vols.glance_metadata(db_engine, v),
            vols.row(db_engine, v)["display_name"],
        )
        for v in ids
    ]
    assert all(s == states[0] for s in states)


# Text a metadata table stores: no NUL, within the column (255 characters).
_texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40)
_keys = _texts.filter(bool)


def test_put_many_writes_exactly_the_entries_whatever_their_text(
    db_engine: sa.Engine, db_backend: str
) -> None:
    """Inserts, updates and soft deletes of many volumes (on SQLite one JSON text a
    statement, elsewhere arrays or rows of parameters) store each key and value as given:
    quotes, backslashes, control characters, non-ASCII, the empty string, null."""
    ids = [target_volume(db_engine, f"t-{i}") for i in range(3)]
    api = store.BackupMetadataAPI(db_engine)
    examples = 25 if db_backend == "sqlite" else 8

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        entries=st.lists(
            st.tuples(
                st.dictionaries(_keys, st.one_of(st.none(), _texts), max_size=6),
                st.dictionaries(_keys, st.one_of(_texts, st.integers(), st.none()), max_size=6),
            ),
            min_size=len(ids),
            max_size=len(ids),
        )
    )
    def prop(entries: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        # Then every other entry changed and the rest gone: updates and soft deletes.
        changed = [
            tuple({k: f"~{v}" for k, v in list(section.items())[::2]} for section in pair)
            for pair in entries
        ]
        for batch in (entries, changed):
            items = [
                (vid, json.dumps({"version": 2, "volume-metadata": m, "volume-glance-metadata": g}))
                for vid, (m, g) in zip(ids, batch, strict=True)
            ]
            try:
                results = api.put_many(items)
            except (KeyConflict, UnstorableValue):  # keys MariaDB holds equal, text it cannot hold
                reject()
            for vid, (m, g), result in zip(ids, batch, results, strict=True):
                glance = {k: str(v) for k, v in g.items()}
                assert vols.user_metadata(db_engine, vid) == m
                assert vols.glance_metadata(db_engine, vid) == glance
                assert result.written["volume-metadata"] == m
                assert result.written["volume-glance-metadata"] == glance

    prop()


def test_put_many_keeps_each_volumes_key_order_whatever_the_order_of_the_volumes(
    db_engine: sa.Engine, db_backend: str
) -> None:
    """The writes go in volume id (and row id) order, not the batch's: in row id order, each
    volume's live entries are the one it kept (updated in place), then the new ones in its
    container's order (a backup reads a volume's entries in no set order)."""
    # Half the volumes hold a stale entry, the other half none.
    stale = [{"fee": "old"}, {}] * 2
    ids = [target_volume(db_engine, f"t-{i}", metadata=m) for i, m in enumerate(stale)]
    api = store.BackupMetadataAPI(db_engine)
    table = store.cinder_metadata().tables["volume_metadata"]
    examples = 15 if db_backend == "sqlite" else 5

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        order=st.permutations(ids),
        keys=st.lists(
            st.lists(st.sampled_from(["fee", "a", "b", "c", "d", "e"]), unique=True, max_size=6),
            min_size=len(ids),
            max_size=len(ids),
        ),
    )
    def prop(order: list[str], keys: list[list[str]]) -> None:
        items = [
            (vid, json.dumps({"version": 2, "volume-metadata": {k: vid for k in ks}}))
            for vid, ks in zip(order, keys, strict=True)
        ]
        api.put_many(items)
        for vid, ks in zip(order, keys, strict=True):
            with db_engine.connect() as conn:
                rows = conn.execute(
                    sa.select(table.c.key, table.c.value)
                    .where(table.c.volume_id == vid, table.c.deleted == sa.false())
                    .order_by(table.c.id)
                ).all()
            kept = "fee" in stale[ids.index(vid)]
            assert [k for k, _ in rows] == sorted(ks, key=lambda k: not kept or k != "fee")
            assert {v for _, v in rows} <= {vid}
        # Back to the stale entries for the next example.
        api.put_many(
            [
                (vid, json.dumps({"version": 2, "volume-metadata": m}))
                for vid, m in zip(ids, stale, strict=True)
            ]
        )

    prop()


def test_put_many_writes_the_same_whatever_the_chunk_size(
    db_engine: sa.Engine, db_backend: str
) -> None:
    """A batch cut into many statements (each JSON text or row list holding about
    ``chunk_size`` values) leaves each volume's entries, in row order, as one statement does."""
    stale = [{"fee": "old", "gone": "x"}, {}] * 2
    ids = [target_volume(db_engine, f"t-{i}", metadata=m) for i, m in enumerate(stale)]
    table = store.cinder_metadata().tables["volume_metadata"]
    examples = 15 if db_backend == "sqlite" else 5

    def live() -> dict[str, list[tuple[str, str]]]:
        with db_engine.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.volume_id, table.c.key, table.c.value)
                .where(table.c.volume_id.in_(ids), table.c.deleted == sa.false())
                .order_by(table.c.id)
            ).all()
        out: dict[str, list[tuple[str, str]]] = {vid: [] for vid in ids}
        for vid, key, value in rows:
            out[vid].append((key, value))
        return out

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        chunk=st.integers(1, 7),
        sizes=st.lists(st.integers(0, 9), min_size=len(ids), max_size=len(ids)),
    )
    def prop(chunk: int, sizes: list[int]) -> None:
        items = [
            (
                vid,
                json.dumps(
                    {
                        "version": 2,
                        "volume-metadata": {
                            **({"fee": "new"} if n % 2 else {}),
                            **{f"k{j}": f"{vid} {j}" for j in range(n)},
                        },
                    }
                ),
            )
            for vid, n in zip(ids, sizes, strict=True)
        ]
        states = []
        for api in (
            store.BackupMetadataAPI(db_engine, chunk_size=chunk),
            store.BackupMetadataAPI(db_engine),
        ):
            results = api.put_many(items)
            states.append((live(), [(r.written, r.removed) for r in results]))
            api.put_many(
                [
                    (vid, json.dumps({"version": 2, "volume-metadata": m}))
                    for vid, m in zip(ids, stale, strict=True)
                ]
            )
        assert states[0] == states[1]

    prop()


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    """The statements SQLAlchemy sends to the driver while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, text: str, *args: Any) -> None:
        seen.append(text.split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_put_many_runs_the_same_statements_for_one_volume_and_for_many(
    db_engine: sa.Engine,
) -> None:
    source_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    container = api.get(SRC)
    ids = [target_volume(db_engine, f"t-{i:03d}") for i in range(41)]
    counts = []
    for wanted in (ids[:1], ids[1:]):
        with statements(db_engine) as seen:
            api.put_many([(vid, container) for vid in wanted])
        counts.append(seen)
    assert counts[0] == counts[1]
    # BEGIN (SQLite), targets, base update, then per metadata table: existing rows,
    # soft delete, value updates, inserts.
    assert len([s for s in counts[1] if s != "BEGIN"]) == 10


def test_put_accepts_a_loaded_container(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    target_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    loaded = FAMILY.load(api.get(SRC), to=2)
    result = api.put(DST, loaded)
    assert result.version == 2
    assert vols.row(db_engine, DST)["display_name"] == "vol-1"
