"""The store on databases docket did not create (foreign tables, extra columns, URLs and
engines) and the allowlist of columns a restore may ever change."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import docket
from docket import store
from docket.cli import commands
from docket.errors import StoreError
from tests import _volumes as vols
from tests._databases import scratch_database, volumes_only_database
from tests._store import DST, FAMILY, SRC, source_volume, target_volume
from tests.conftest_db import dump

# --- databases docket did not create -----------------------------------------------------


def test_a_database_without_the_tables_is_a_typed_error_and_stays_empty(
    scratch_db: Callable[[], str],
) -> None:
    engine = store.make_engine(scratch_db())
    try:
        api = store.BackupMetadataAPI(engine)
        with pytest.raises(StoreError, match='no table "volumes"') as caught:
            api.get(SRC)
        assert "docket db init" in caught.value.hint
        with pytest.raises(StoreError):
            api.put(SRC, json.dumps({"version": 2}))
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_extra_columns_are_backed_up_and_tables_are_never_altered(
    db_backend: str, scratch_db: Callable[[], str]
) -> None:
    # Another release's layout: columns in another order, some missing, some Cinder 29 lacks.
    engine = store.make_engine(scratch_db())
    try:
        md = sa.MetaData()
        sa.Table(
            "volumes",
            md,
            sa.Column("deleted", sa.Boolean),
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("display_name", sa.String(255)),
            sa.Column("display_description", sa.String(255)),
            sa.Column("volume_type_id", sa.String(36)),
            sa.Column("encryption_key_id", sa.String(36)),
            sa.Column("bootable", sa.Boolean),
            sa.Column("created_at", sa.DateTime),
            sa.Column("frobnication_level", sa.Integer),
            sa.Column("retired_at", sa.DateTime),
            sa.Column("legacy_flag", sa.Boolean),
            sa.Column("blob", sa.LargeBinary),
        )
        for name in ("volume_metadata", "volume_glance_metadata"):
            sa.Table(
                name,
                md,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("volume_id", sa.String(36)),
                sa.Column("key", sa.String(255)),
                sa.Column("value", sa.Text),
                sa.Column("deleted", sa.Boolean),
                sa.Column("note", sa.String(20)),
            )
        sa.Table(
            "volume_types",
            md,
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("deleted", sa.Boolean),
        )
        md.create_all(engine)
        ddl = _schema(engine)
        with engine.begin() as conn:
            conn.execute(
                md.tables["volumes"].insert(),
                [
                    {
                        "id": SRC,
                        "deleted": False,
                        "display_name": "old",
                        "bootable": False,
                        "created_at": vols.CREATED,
                        "frobnication_level": 11,
                        "retired_at": dt.datetime(2030, 5, 6, 7, 8, 9),
                        "legacy_flag": True,
                        "blob": b"\xff\xfe not text",
                    },
                ],
            )
            conn.execute(
                md.tables["volumes"].insert(),
                {"id": DST, "deleted": False, "display_name": "restore_backup_x"},
            )
            conn.execute(
                md.tables["volume_metadata"].insert(),
                {"volume_id": SRC, "key": "a", "value": "b", "deleted": False},
            )
        api = store.BackupMetadataAPI(engine)
        base = json.loads(api.get(SRC))["volume-base-metadata"]
        assert base == {
            "deleted": False,
            "id": SRC,
            "display_name": "old",
            "display_description": None,
            "volume_type_id": None,
            "encryption_key_id": None,
            "bootable": False,
            # MariaDB's plain DATETIME (Cinder's own layout there) keeps whole seconds.
            "created_at": "2026-01-02T03:04:05.000000"
            if db_backend == "mariadb"
            else "2026-01-02T03:04:05.123456",
            "frobnication_level": 11,
            "retired_at": "2030-05-06T07:08:09.000000",
            "legacy_flag": True,
        }
        (problem,) = api.last_report
        assert (problem.section, problem.field, problem.volume_id) == (
            "volume-base-metadata",
            "blob",
            SRC,
        )
        assert problem.type_name in ("bytes", "memoryview", "bytearray")
        assert problem.path == '$["volume-base-metadata"]["blob"]'
        v3 = store.BackupMetadataAPI(engine, version=3).get(SRC)
        assert FAMILY.load(v3).data["volume-base-metadata"]["retired_at"].endswith("Z")
        api.put(DST, api.get(SRC))
        assert json.loads(api.get(DST))["volume-metadata"] == {"a": "b"}
        assert json.loads(api.get(DST))["volume-base-metadata"]["display_name"] == "old"
        assert _schema(engine) == ddl
    finally:
        engine.dispose()


def test_a_numeric_column_of_another_release_is_backed_up_and_restored(
    db_backend: str, scratch_db: Callable[[], str]
) -> None:
    # psycopg picks NUMERIC's conversion by the type code of a result column, which docket
    # does not have when it compiles its reads: a NUMERIC column in the volumes table was
    # a bare TypeError at the first backup or restore on PostgreSQL.
    url = scratch_db()
    store.init_db(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE volumes ADD COLUMN quota_share NUMERIC(10, 2)"))
    engine.dispose()
    engine = store.make_engine(url)
    try:
        store.create_volume(engine, volume_id=SRC, display_name="src", quota_share=12.5)
        store.create_volume(engine, volume_id=DST, display_name="restore_backup_x")
        api = store.BackupMetadataAPI(engine)
        text = api.get(SRC)
        assert json.loads(text)["volume-base-metadata"]["quota_share"] == "12.50"
        assert api.last_report == ()
        api.put(DST, text)
        assert json.loads(api.get(DST))["volume-base-metadata"]["display_name"] == "src"
    finally:
        engine.dispose()


def test_a_volumes_table_without_a_column_the_policy_writes_is_refused_whole(
    db_backend: str, scratch_db: Callable[[], str], tmp_path: Path
) -> None:
    # An older layout: no encryption_key_id, which version 2's allowlist restores.
    url = scratch_db()
    store.init_db(url)
    engine = store.make_engine(url)
    try:
        store.create_volume(engine, volume_id=SRC, display_name="src", metadata={"a": "1"})
        store.create_volume(engine, volume_id=DST, display_name="restore_backup_x")
        path = tmp_path / "vol.json"
        path.write_text(store.BackupMetadataAPI(engine).get(SRC))
    finally:
        engine.dispose()
    raw = sa.create_engine(url)
    with raw.begin() as conn:
        conn.execute(sa.text("ALTER TABLE volumes DROP COLUMN encryption_key_id"))
    before = dump(raw)
    out, err = io.StringIO(), io.StringIO()
    assert commands.restore(url, DST, str(path), stdout=out, stderr=err) == commands.EXIT_FAILED
    assert '["encryption_key_id"]' in err.getvalue()
    assert "nothing was written" in err.getvalue() and "allowlist" in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert dump(raw) == before
    raw.dispose()


def _schema(engine: sa.Engine) -> dict[str, list[tuple[str, str]]]:
    inspector = sa.inspect(engine)
    return {
        t: [(c["name"], str(c["type"])) for c in inspector.get_columns(t)]
        for t in sorted(inspector.get_table_names())
    }


def test_the_dump_report_belongs_to_the_last_call(db_engine: sa.Engine) -> None:
    source_volume(db_engine)
    api = store.BackupMetadataAPI(db_engine)
    api.get(SRC)
    assert api.last_report == ()


def test_init_db_creates_cinder_tables_once(scratch_db: Callable[[], str]) -> None:
    url = scratch_db()
    store.init_db(url)
    store.init_db(url)  # a second time changes nothing
    engine = store.make_engine(url)
    try:
        names = set(sa.inspect(engine).get_table_names())
        assert names == {
            "volumes",
            "volume_metadata",
            "volume_glance_metadata",
            "volume_types",
            "backups",  # what `docket audit --db` reads
        }
        columns = [c["name"] for c in sa.inspect(engine).get_columns("volumes")]
        assert len(columns) == 40
        backups = {c["name"] for c in sa.inspect(engine).get_columns("backups")}
        read = {"id", "volume_id", "parent_id", "status", "container", "service_metadata"}
        assert read | {"service", "deleted", "user_id", "project_id"} <= backups
        assert len(backups) == 27  # Cinder 29's backups row
    finally:
        engine.dispose()


def test_open_engine_names_each_way_a_url_fails(tmp_path: Any) -> None:
    with pytest.raises(store.BadDatabaseURL) as bad:
        store.open_engine("notaurl")
    assert isinstance(bad.value, ValueError) and bad.value.url == '"notaurl"'
    with pytest.raises(store.BadDatabaseURL, match='no database dialect "nosuch"'):
        store.open_engine("nosuch://host/db")
    with pytest.raises(store.DatabaseUnreachable) as refused:
        store.open_engine("postgresql+psycopg://cinder:secret@127.0.0.1:1/cinder")
    assert refused.value.where == "127.0.0.1:1" and isinstance(refused.value, ConnectionError)
    assert "secret" not in str(refused.value)
    missing = tmp_path / "cinder.db"
    with pytest.raises(store.DatabaseUnreachable, match="no such file"):
        store.open_engine(f"sqlite:///{missing}")
    assert not missing.exists()  # not made by trying
    store.open_engine(f"sqlite:///{missing}", create=True).dispose()
    assert missing.exists()
    # A file the driver opens before it connects (no server needed): a typed error, not a
    # bare "No such file or directory".
    ca = tmp_path / "no-such-ca.pem"
    with pytest.raises(store.DatabaseUnreachable) as unread:
        store.open_engine(f"mysql+pymysql://cinder:secret@127.0.0.1:1/cinder?ssl_ca={ca}")
    assert "ssl_ca" in unread.value.hint and "secret" not in str(unread.value)


def test_a_url_is_shown_without_a_password_before_the_at_or_in_the_query() -> None:
    from docket.store.engines import redact

    for url in (
        "mysql+pymysql://cinder:pw1@db/cinder?password=s3cret&sslpassword=s3cret",
        "postgresql+psycopg://cinder@db:x/cinder?Password=s3cret",  # does not parse
    ):
        assert "s3cret" not in redact(url) and "pw1" not in redact(url)
    with pytest.raises(store.BadDatabaseURL) as bad:  # the driver refuses local_infile
        store.open_engine("mysql+pymysql://root@127.0.0.1:1/t?password=s3cret&local_infile=z")
    assert "s3cret" not in str(bad.value) and "password=***" in str(bad.value)


def test_a_password_with_an_unencoded_at_is_refused_and_none_of_it_shown() -> None:
    """SQLAlchemy splits the userinfo at the first '@': the rest of the password would be
    printed as the host, and sent to DNS as one."""
    from docket.fleet.audit import database_identity
    from docket.store.engines import redact

    url = "mysql+pymysql://cinder:pa@ss@w0rd@db.example:3306/cinder"
    with pytest.raises(store.BadDatabaseURL) as bad:
        store.open_engine(url)
    assert "%40" in bad.value.hint
    for shown in (str(bad.value), redact(url), database_identity(url)):
        assert not any(part in shown for part in ("pa@", "ss@", "w0rd")), shown
        assert "db.example" in shown
    encoded = "mysql+pymysql://cinder:pa%40ss%40w0rd@127.0.0.1:1/cinder"
    with pytest.raises(store.DatabaseUnreachable) as down:  # parsed: on to connecting
        store.open_engine(encoded)
    assert "w0rd" not in str(down.value)


def test_backup_rows_looks_for_its_table_when_called(tmp_path: Any) -> None:
    from docket.fleet.audit import backup_rows

    url = volumes_only_database(tmp_path / "volumes-only.db")
    with pytest.raises(store.MissingTable) as missing:
        backup_rows(url)  # not at the first row: before the audit starts
    assert missing.value.table == "backups" and "docket db init" in str(missing.value)
    with pytest.raises(store.BadDatabaseURL):
        backup_rows("notaurl")


def test_make_engine_turns_sqlite_foreign_keys_on(tmp_path: Any) -> None:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        store.init_db(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO volume_metadata (volume_id, key, value, deleted)"
                " VALUES ('no such volume', 'k', 'v', 0)"
            )
    finally:
        engine.dispose()


def test_make_engine_asks_mysql_for_utf8mb4() -> None:
    for query in ("", "?charset=utf8", "?charset=latin1&connect_timeout=5"):
        engine = store.make_engine(f"mysql+pymysql://root@127.0.0.1:3306/test{query}")
        assert engine.url.query["charset"] == "utf8mb4"
        engine.dispose()


def _site_policy(tmp_path: Path, change: Callable[[dict[str, Any]], Any]) -> docket.Registry:
    """The bundled families, with ``change`` made to the policy sections of every
    backup-metadata version (a site's own policy)."""
    from docket.core.documents import bundled_schemas

    root = tmp_path / "schemas"
    shutil.copytree(bundled_schemas(), root)
    for document in (root / FAMILY.name).glob("[0-9]*.json"):
        data = json.loads(document.read_text())
        change(data["policy"]["sections"])
        document.write_text(json.dumps(data))
    return docket.load_registry(root)


def _lenient(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("SET SESSION sql_mode = ''")  # non-strict: out of range is clamped
    cursor.close()


def test_an_integer_outside_its_column_is_refused_alike(
    db_engine: sa.Engine, db_backend: str, tmp_path: Path
) -> None:
    # A policy restoring `size` (INTEGER): PostgreSQL failed with a bare database error,
    # SQLite raised OverflowError past 64 bits, a non-strict MariaDB stored 2147483647.
    engine = db_engine
    if db_backend == "mariadb":
        engine = store.make_engine(db_engine.url)
        sa.event.listen(engine, "connect", _lenient)
    try:
        source_volume(engine)
        target_volume(engine)
        policy = _site_policy(
            tmp_path, lambda sections: sections["volume-base-metadata"]["fields"].append("size")
        )
        api = store.BackupMetadataAPI(engine, registry=policy)
        data = json.loads(api.get(SRC))
        for size in (2**31, 2**63, 10**40):
            data["volume-base-metadata"]["size"] = size
            before = dump(engine)
            with pytest.raises(store.ValueOutOfRange) as caught:
                api.put(DST, json.dumps(data))
            assert caught.value.segments == ("volume-base-metadata", "size")
            assert (caught.value.low, caught.value.high) == (-(2**31), 2**31 - 1)
            assert dump(engine) == before
        data["volume-base-metadata"]["size"] = 2**31 - 1
        api.put(DST, json.dumps(data))
        assert vols.row(engine, DST)["size"] == 2**31 - 1
    finally:
        if engine is not db_engine:
            engine.dispose()


@pytest.mark.mariadb
def test_make_engine_makes_mysql_sessions_strict_whatever_the_servers_mode(
    tmp_path: Path,
) -> None:
    # A server whose sql_mode is not strict (as init_command makes this session) truncates a
    # value too long for its column and reports success; docket's sessions refuse it, so a
    # value its own checks missed fails the restore instead of being altered.
    with scratch_database("mariadb", tmp_path) as url:
        store.init_db(url)
        lenient = {"init_command": "SET SESSION sql_mode = 'ANSI_QUOTES'"}
        engine = store.make_engine(url, connect_args=lenient)
        try:
            with engine.connect() as conn:
                modes = str(conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar())
                assert {"ANSI_QUOTES", "STRICT_ALL_TABLES"} <= set(modes.split(","))
                with pytest.raises(sa.exc.DataError, match="too long"):
                    conn.execute(
                        sa.text(
                            "INSERT INTO volumes (id, display_name, deleted) VALUES (:i, :n, 0)"
                        ),
                        {"i": DST, "n": "n" * 256},
                    )
                assert conn.exec_driver_sql("SELECT COUNT(*) FROM volumes").scalar() == 0
        finally:
            engine.dispose()


def test_a_merge_replaces_a_key_mysql_holds_equal_as_cinder_does(
    db_engine: sa.Engine, db_backend: str, tmp_path: Path
) -> None:
    # A site policy merging user metadata: on MariaDB "owner" next to an existing "Owner"
    # made two live rows of one key (Cinder overwrites the row), and the next backup of the
    # volume could not be restored there (KeyConflict).
    source_volume(db_engine)
    target_volume(db_engine, metadata={"Owner": "a", "Café": "c", "keep": "k"})
    policy = _site_policy(
        tmp_path, lambda sections: sections["volume-metadata"].update(mode="merge")
    )
    api = store.BackupMetadataAPI(db_engine, registry=policy)
    given = {"owner": "b", "cafe": "d"}
    result = api.put(DST, json.dumps({"version": 2, "volume-metadata": given}))
    live = vols.user_metadata(db_engine, DST)
    if db_backend == "mariadb":
        assert live == {"keep": "k", **given}
        assert sorted(result.removed["volume-metadata"]) == ["Café", "Owner"]
        api.put(DST, api.get(DST))  # its backup restores there
    else:
        assert live == {"Owner": "a", "Café": "c", "keep": "k", **given}
        assert result.removed == {}


# --- only allowlisted columns ever change -------------------------------------------------

ALLOWED = {
    1: {"display_name", "display_description", "bootable", "updated_at"},
    2: {
        "display_name",
        "display_description",
        "encryption_key_id",
        "volume_type_id",
        "bootable",
        "updated_at",
    },
}
ALLOWED[3] = ALLOWED[2]
COLUMNS = [c.name for c in store.cinder_metadata().tables["volumes"].columns]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.text(alphabet="ab", min_size=250, max_size=70_000),  # huge values
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
keys = st.one_of(
    st.sampled_from(["fee", "fo", "Fee", "status", "host", "project_id", "deleted", "id"]),
    st.text(min_size=1, max_size=12),
)


def _fitting(name: str) -> st.SearchStrategy[Any]:
    """Values of the type the schema gives a volume column (datetimes as Cinder writes them)."""
    kinds = {
        "size": st.integers(0, 2**40),
        "ec2_id": st.one_of(st.integers(), st.text(max_size=10)),
    }
    if name.endswith("_at"):
        return st.datetimes().map(lambda d: d.isoformat(timespec="microseconds"))
    if name in ("bootable", "deleted", "multiattach", "use_quota", "shared_targets"):
        return st.booleans()
    return kinds.get(name, st.text(max_size=36))


@st.composite
def adversarial(draw: st.DrawFn, source: dict[str, Any]) -> tuple[int, bytes]:
    """A container built from a real backup, then given extra sections, extra fields (any
    volume column, with a fitting or any value), huge values and odd metadata."""
    version = draw(st.sampled_from([1, 2, 3]))
    sections: dict[str, Any] = {k: dict(v) for k, v in source.items() if k != "version"}
    base = sections["volume-base-metadata"]
    for name in draw(st.lists(st.sampled_from([*COLUMNS, "not_a_column"]), max_size=8)):
        anything = name == "not_a_column" or draw(st.integers(0, 9)) == 0
        base[name] = draw(json_values if anything else st.one_of(st.none(), _fitting(name)))
    if draw(st.booleans()):
        base["display_name"] = draw(st.sampled_from(["", None, "restore_backup_x", "named"]))
    for section in ("volume-metadata", "volume-glance-metadata"):
        if draw(st.booleans()):
            value = json_values if draw(st.integers(0, 4)) == 0 else st.text(max_size=255)
            sections[section] = draw(st.dictionaries(keys, value, max_size=4))
        elif draw(st.booleans()):
            sections.pop(section, None)
    for _ in range(draw(st.integers(0, 2))):
        sections[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
    if version == 3:
        for name in (
            "scheduled_at",
            "launched_at",
            "terminated_at",
            "deleted_at",
            "created_at",
            "updated_at",
        ):
            if isinstance(base.get(name), str):
                base[name] += "Z"
        try:
            body = FAMILY.dump(FAMILY.new(sections, version=3))
        except docket.DocketError:
            body = json.dumps({"version": 3, **sections}).encode()
        return version, body
    return version, json.dumps({"version": version, **sections}).encode()


def _changes(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, Any]:
    return {t: (before[t], after[t]) for t in before if before[t] != after[t]}


def test_only_allowlisted_columns_ever_change(db_engine: sa.Engine, db_backend: str) -> None:
    source_volume(db_engine, encryption_key_id="6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
    api = store.BackupMetadataAPI(db_engine)
    source = json.loads(api.get(SRC))
    tables = store.cinder_metadata().tables
    volumes = tables["volumes"]
    examples = 40 if db_backend == "sqlite" else 15

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=adversarial(source), target_named=st.booleans(), typed=st.booleans())
    def prop(data: tuple[int, bytes], target_named: bool, typed: bool) -> None:
        version, body = data
        with db_engine.begin() as conn:
            for name in ("volume_metadata", "volume_glance_metadata"):
                table = tables[name]
                conn.execute(sa.delete(table).where(table.c.volume_id == DST))
            conn.execute(sa.delete(volumes).where(volumes.c.id == DST))
        target_volume(
            db_engine,
            name="mine" if target_named else f"restore_backup_{DST}",
            type_id=vols.TYPE_GOLD if typed else None,
        )
        before = dump(db_engine)
        try:
            api.put(DST, body)
        except docket.DocketError as err:
            outcomes.append(type(err).__name__)
            assert dump(db_engine) == before
            return
        outcomes.append("restored")
        after = dump(db_engine)
        changed = _changes(before, after)
        assert set(changed) <= {"volumes", "volume_metadata", "volume_glance_metadata"}
        if "volumes" in changed:
            old = {r[0]: r for r in (tuple(x) for x in before["volumes"])}
            for new_row in after["volumes"]:
                vid = new_row[COLUMNS.index("id")]
                assert vid == DST or old[vid] == tuple(new_row)
                if vid == DST:
                    moved = {
                        COLUMNS[i]
                        for i, (a, b) in enumerate(zip(old[vid], new_row, strict=True))
                        if a != b
                    }
                    assert moved <= ALLOWED[version], moved
        for table in ("volume_metadata", "volume_glance_metadata"):
            if table in changed:
                ours = {r for r in before[table] if DST not in r}
                assert ours == {r for r in after[table] if DST not in r}

    outcomes: list[str] = []
    prop()
    # The property must restore as well as refuse, or it shows nothing.
    assert "restored" in outcomes and len(set(outcomes)) > 1, outcomes
