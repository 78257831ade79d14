"""A value the database would store altered is refused, not written (issue 24, class 7).

Cinder's own MySQL/MariaDB tables are often in ``utf8mb3``, and a server with a non-strict
``sql_mode`` then stores an emoji as ``?`` and reports success. A restore must refuse such a
value before anything is written; on databases that hold any text the same container
round-trips exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from docket import store
from docket.errors import RestoreRefused, UnstorableValue
from tests import _volumes as vols
from tests._databases import backend_params, dump, scratch_database
from tests._store import DST, SRC, source_volume, target_volume

EMOJI = "\U0001f600"


def _lenient(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("SET SESSION sql_mode = ''")  # non-strict: the server alters, then succeeds
    cursor.close()


@pytest.fixture
def narrow_mariadb(tmp_path: Path) -> Iterator[sa.Engine]:
    """Cinder's tables in utf8mb3 on MariaDB, written through a non-strict session."""
    with scratch_database("mariadb", tmp_path) as url:
        engine = store.make_engine(url)
        sa.event.listen(engine, "connect", _lenient)
        tables = store.cinder_metadata()
        for table in tables.tables.values():  # as a Cinder database made in utf8mb3
            table.dialect_options["mysql"]["charset"] = "utf8mb3"
        tables.create_all(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def _container(engine: sa.Engine, **changes: Any) -> str:
    """The container of SRC, with ``changes`` made to its sections."""
    data = json.loads(store.BackupMetadataAPI(engine).get(SRC))
    for section, values in changes.items():
        data[section].update(values)
    return json.dumps(data)


@pytest.mark.mariadb
def test_the_premise_a_lenient_utf8mb3_table_stores_an_emoji_as_a_question_mark(
    narrow_mariadb: sa.Engine,
) -> None:
    source_volume(narrow_mariadb, metadata={"k": "plain"})
    with narrow_mariadb.begin() as conn:
        conn.execute(
            sa.text("UPDATE volume_metadata SET value = :v WHERE volume_id = :id"),
            {"v": f"a{EMOJI}b", "id": SRC},
        )
    assert vols.user_metadata(narrow_mariadb, SRC) == {"k": "a?b"}


@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("section", "values", "column"),
    [
        ("volume-base-metadata", {"display_name": f"vol {EMOJI}"}, "volumes.display_name"),
        ("volume-metadata", {"note": f"x{EMOJI}"}, "volume_metadata.value"),
        ("volume-metadata", {f"k{EMOJI}": "x"}, "volume_metadata.key"),
        ("volume-glance-metadata", {"os": f"{EMOJI}"}, "volume_glance_metadata.value"),
    ],
)
def test_a_value_utf8mb3_would_alter_is_refused_and_nothing_is_written(
    narrow_mariadb: sa.Engine, section: str, values: dict[str, str], column: str
) -> None:
    source_volume(narrow_mariadb)
    target_volume(narrow_mariadb)
    text = _container(narrow_mariadb, **{section: values})
    before = dump(narrow_mariadb)
    api = store.BackupMetadataAPI(narrow_mariadb)
    with pytest.raises(UnstorableValue) as caught:
        api.put(DST, text)
    assert isinstance(caught.value, RestoreRefused)
    assert caught.value.column == column and caught.value.charset in ("utf8mb3", "utf8")
    assert caught.value.segments[0] == section
    assert "U+1F600" in str(caught.value) and "utf8mb4" in caught.value.hint
    assert dump(narrow_mariadb) == before
    # Text the character set holds (accents, CJK: the Basic Multilingual Plane) is restored.
    plain = {k.replace(EMOJI, "é漢"): v.replace(EMOJI, "é漢") for k, v in values.items()}
    api.put(DST, _container(narrow_mariadb, **{section: plain}))
    back = json.loads(api.get(DST))[section]
    assert all(back[k] == v for k, v in plain.items())


@pytest.mark.mariadb
def test_the_cli_refuses_with_exit_status_and_no_traceback(
    narrow_mariadb: sa.Engine, tmp_path: Path
) -> None:
    source_volume(narrow_mariadb)
    target_volume(narrow_mariadb)
    container = tmp_path / "c.json"
    container.write_text(_container(narrow_mariadb, **{"volume-metadata": {"n": EMOJI}}))
    before = dump(narrow_mariadb)
    url = narrow_mariadb.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "docket", "restore", "--db", url, DST, str(container)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "utf8mb3" in done.stderr, done.stderr
    assert dump(narrow_mariadb) == before


@pytest.mark.parametrize("backend", backend_params(["sqlite", "postgresql", "mariadb"]))
def test_any_text_round_trips_where_the_columns_hold_it(backend: str, tmp_path: Path) -> None:
    with scratch_database(backend, tmp_path) as url:
        store.init_db(url)
        engine = store.make_engine(url)
        try:
            source_volume(engine)
            target_volume(engine)
            odd = {f"k{EMOJI}": f"{EMOJI} \u200b 'q\" é漢"}
            text = _container(engine, **{"volume-metadata": odd})
            api = store.BackupMetadataAPI(engine)
            api.put(DST, text)
            assert vols.user_metadata(engine, DST) == {**odd, **json.loads(text)["volume-metadata"]}
        finally:
            engine.dispose()


def test_the_character_sets_a_column_may_be_in() -> None:
    from docket.store.tables import Limit

    assert Limit(9, "characters", "utf8mb3").unstorable(f"é漢{EMOJI}") == EMOJI
    assert Limit(9, "characters", "utf8mb3").unstorable("é漢") is None
    assert Limit(9, "characters", "latin1").unstorable("é€漢") == "漢"
    assert Limit(9, "characters", "ascii").unstorable("aé") == "é"
    assert Limit(9, "characters", "no-such-set").unstorable("aé") == "é"  # only ASCII is sure
    assert Limit(9, "characters").unstorable(EMOJI) is None


@pytest.mark.mariadb
@pytest.mark.parametrize("charset", ["utf8", "utf8mb3", "latin1"])
def test_a_url_naming_a_narrower_connection_character_set_still_stores_the_text_given(
    charset: str, tmp_path: Path
) -> None:
    # Cinder's [database] connection often ends in ?charset=utf8. Through such a connection
    # a non-strict server stored an emoji as "?" in a utf8mb4 column and the restore
    # reported success (latin1: a UnicodeEncodeError traceback).
    with scratch_database("mariadb", tmp_path) as url:
        store.init_db(url)
        engine = store.make_engine(f"{url}?charset={charset}")
        sa.event.listen(engine, "connect", _lenient)
        try:
            source_volume(engine)
            target_volume(engine)
            odd = {"display_name": f"vol {EMOJI}"}
            meta = {f"k{EMOJI}": f"{EMOJI}€漢"}
            text = _container(engine, **{"volume-base-metadata": odd, "volume-metadata": meta})
            store.BackupMetadataAPI(engine).put(DST, text)
        finally:
            engine.dispose()
        plain = store.make_engine(url)  # an independent look at what the server holds
        try:
            with plain.connect() as conn:
                name = conn.execute(
                    sa.text("SELECT display_name FROM volumes WHERE id = :i"), {"i": DST}
                ).scalar()
            assert name == f"vol {EMOJI}"
            assert vols.user_metadata(plain, DST) == {**meta, **json.loads(text)["volume-metadata"]}
        finally:
            plain.dispose()
