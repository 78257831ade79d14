"""The hostile-input corpus (``tests/hostile``) through every entry point that reads it.

Backup storage is often writable by the people whose volumes are backed up, so every container
and record is hostile: each must be refused with a typed :class:`docket.DocketError`, or give
the documented harmless result, and a refused restore must leave the database exactly as it
was (a full dump of every table is compared). ``docs/security.md`` has the threat model.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import docket
import docket.errors
from docket import DocketError, load_registry
from docket.backup.records import NEVER_IMPORTED, import_record
from tests._databases import BACKENDS, backend_params, dump, scratch_database
from tests.hostile import generate

HOSTILE = Path(__file__).resolve().parents[1] / "hostile"
CASES: dict[str, dict[str, dict[str, str]]] = json.loads((HOSTILE / "cases.json").read_text())
CONTAINERS = sorted(CASES["containers"])
RECORDS = sorted(CASES["records"])
KEY = b"operator key for the hostile corpus"

REGISTRY = load_registry()
FAMILY = REGISTRY.family("backup-metadata")
RECORD_FAMILY = REGISTRY.family("backup-record")
SIGNED = REGISTRY.with_signing_key(KEY)


def raw(kind: str, name: str) -> bytes:
    return (HOSTILE / kind / name).read_bytes()


def error_type(name: str) -> type[DocketError]:
    cls = getattr(docket.errors, name)
    assert issubclass(cls, DocketError), name
    return cls  # type: ignore[no-any-return]


def signed_refusal(case: dict[str, str]) -> tuple[type[DocketError], ...]:
    """What refuses an input when a key is configured: the error it gets without a key (checks
    run in order, and which comes first is not a promise) or the missing/wrong signature."""
    if "signed" in case:
        return (error_type(case["signed"]),)
    if case["load"] == "ok":
        return (docket.errors.SignatureError,)
    return (error_type(case["load"]), docket.errors.SignatureError)


def forms(data: bytes) -> list[bytes | str]:
    """The input as bytes and, where it is text, as str (both are accepted everywhere)."""
    try:
        return [data, data.decode("utf-8")]
    except UnicodeDecodeError:
        return [data]


def attempt(call: Callable[[], Any]) -> tuple[Any, DocketError | None]:
    """What ``call`` returns, or the typed error it raises; any other exception fails."""
    try:
        return call(), None
    except DocketError as err:
        assert str(err), "a typed error must say what is wrong"
        return None, err


def outcome(call: Callable[[], object]) -> DocketError | None:
    """The typed error ``call`` raises, or None; any other exception fails the test."""
    return attempt(call)[1]


# --- the corpus itself ---------------------------------------------------------------------


def test_every_file_has_an_expectation_and_every_expectation_a_file() -> None:
    for kind in ("containers", "records", "shards"):
        on_disk = sorted(p.name for p in (HOSTILE / kind).iterdir())
        assert on_disk == sorted(CASES[kind]), kind
    for case in CASES["shards"].values():
        assert case["merge"] == "CommandFailed" or case.get("why"), case
    for case in [*CASES["containers"].values(), *CASES["records"].values()]:
        assert case["load"] == "ok" or issubclass(error_type(case["load"]), DocketError)
        if case["load"] == "ok" or set(case) - {"load"}:
            assert case.get("why"), f"an accepted input needs its reason documented: {case}"


def test_the_corpus_covers_every_kind_of_hostile_input() -> None:
    # The kinds the threat model names (docs/security.md); a rename must keep them covered.
    wanted = [
        "truncated", "root-array", "root-string", "duplicate-", "nan", "infinity",
        "huge-integer", "invalid-utf8", "bom", "lone-", "version-true", "version-string",
        "version-float", "version-null", "version-missing", "section-array",
        "section-string", "unknown-sections", "nul-in-key", "sql-strings",
        "sets-status-and-project",
    ]  # fmt: skip
    for fragment in wanted:
        assert any(fragment in name for name in CONTAINERS), fragment
    for fragment in ["not-base64", "bad-padding", "sets-status-and-project", "truncated-json"]:
        assert any(fragment in name for name in RECORDS), fragment


def test_the_corpus_is_what_the_generator_writes() -> None:
    for kind, build in (
        ("containers", generate.containers),
        ("records", generate.records),
        ("shards", generate.shards),
    ):
        for name, (data, expect) in build().items():
            assert raw(kind, name) == data, f"{kind}/{name} differs: run the generator"
            assert CASES[kind][name] == expect


# --- containers: Family.load / Family.validate ----------------------------------------------


@pytest.mark.parametrize("name", CONTAINERS)
def test_load_refuses_with_the_expected_type_or_accepts_harmlessly(name: str) -> None:
    case = CASES["containers"][name]
    for data in forms(raw("containers", name)):
        err = outcome(lambda: FAMILY.load(data))  # noqa: B023 - called at once
        issues = FAMILY.validate(data)
        if case["load"] == "ok":
            assert err is None, f"{name}: {err!r}"
            assert issues == []
        else:
            assert isinstance(err, error_type(case["load"])), f"{name}: {err!r}"
            assert issues, "validate must report what load refuses"
            assert all(i.message for i in issues)


@pytest.mark.parametrize("name", CONTAINERS)
def test_with_a_signing_key_nothing_in_the_corpus_is_accepted(name: str) -> None:
    case = CASES["containers"][name]
    family = SIGNED.family("backup-metadata")
    err = outcome(lambda: family.load(raw("containers", name)))
    assert isinstance(err, signed_refusal(case)), f"{name}: {err!r}"
    assert family.validate(raw("containers", name))


def test_accepted_containers_keep_the_attackers_values_as_inert_data() -> None:
    # What the harmless results look like after loading: values are kept exactly (the
    # restore policy, not the parser, decides what is written).
    sql = FAMILY.load(raw("containers", "sql-strings.json"))
    assert sql.data["volume-base-metadata"]["display_name"] == "'; DROP TABLE volumes; --"
    pair = FAMILY.load(raw("containers", "surrogate-pair.json"))
    assert pair.data["volume-metadata"]["k"] == "\U0001f600"
    nul = FAMILY.load(raw("containers", "nul-in-key.json"))
    assert list(nul.data["volume-metadata"]) == ["a\x00b"]
    big = FAMILY.load(raw("containers", "huge-integer-size.json"))
    assert big.data["volume-base-metadata"]["size"] == int("9" * 4000)


def test_a_10_mb_string_is_refused_everywhere_with_a_typed_error() -> None:
    huge = "x" * (10 * 1024 * 1024)
    for section, doc in [
        ("base", {"version": 2, "volume-base-metadata": {"display_name": huge}}),
        ("metadata", {"version": 2, "volume-metadata": {"k": huge}}),
        ("glance", {"version": 2, "volume-glance-metadata": {huge: "v"}}),
    ]:
        data = json.dumps(doc).encode()
        with pytest.raises(docket.errors.LimitExceeded) as info:
            FAMILY.load(data)
        assert info.value.limit == "max_string_length", section
        [issue] = FAMILY.validate(data)
        assert "max_string_length" in issue.message


def test_more_keys_than_a_section_may_have_is_refused() -> None:
    doc = {"version": 2, "volume-metadata": {f"k{i}": "v" for i in range(10_001)}}
    with pytest.raises(docket.errors.LimitExceeded) as info:
        FAMILY.load(json.dumps(doc).encode())
    assert info.value.limit == "max_keys"
    assert info.value.path == '$["volume-metadata"]'


class _Weird:
    pass


MAPPING_IDS = [
    "nan",
    "inf",
    "int-key",
    "null-key",
    "surrogate",
    "surrogate-key",
    "set",
    "bytes",
    "object",
    "huge-int",
]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (math.nan, docket.errors.NonFiniteNumber),
        (math.inf, docket.errors.NonFiniteNumber),
        ({1: "int key"}, docket.errors.InvalidJSON),
        ({None: "null key"}, docket.errors.InvalidJSON),
        ({"k": "\ud800"}, docket.errors.InvalidJSON),
        ({"\udfff": "v"}, docket.errors.InvalidJSON),
        ({"k": {1, 2}}, docket.errors.InvalidJSON),
        ({"k": b"bytes"}, docket.errors.InvalidJSON),
        ({"k": _Weird()}, docket.errors.InvalidJSON),
        (10**5000, docket.errors.InvalidJSON),
    ],
    ids=MAPPING_IDS,
)
def test_an_already_parsed_mapping_is_held_to_the_same_rules(value: Any, error: type) -> None:
    # Callers that parse themselves (or build dicts) must not get past the codec's checks:
    # these reached canonical() and failed there with TypeError/UnicodeEncodeError/ValueError.
    doc = {"version": 2, "volume-glance-metadata": {"k": value}}
    with pytest.raises(error):
        FAMILY.load(doc)
    assert FAMILY.validate(doc)


# --- records: import_record -----------------------------------------------------------------


@pytest.mark.parametrize("name", RECORDS)
def test_import_record_refuses_with_the_expected_type_or_accepts_harmlessly(name: str) -> None:
    case = CASES["records"][name]
    for data in forms(raw("records", name)):
        imported, err = attempt(lambda: import_record(RECORD_FAMILY, data))  # noqa: B023
        if case["load"] == "ok":
            assert err is None, f"{name}: {err!r}"
            # Whatever the record says, the importer owns the backup and its state.
            assert imported.backup.status is None
            fields = imported.backup.fields()
            for field in NEVER_IMPORTED:
                assert fields.get(field) is None, field
            assert not any(k.startswith("deleted") for k in fields)
        else:
            assert isinstance(err, error_type(case["load"])), f"{name}: {err!r}"
            assert isinstance(err, ValueError)  # all record errors are invalid input


@pytest.mark.parametrize("name", RECORDS)
def test_with_a_signing_key_no_record_in_the_corpus_is_imported(name: str) -> None:
    case = CASES["records"][name]
    family = SIGNED.family("backup-record")
    err = outcome(lambda: import_record(family, raw("records", name)))
    assert isinstance(err, signed_refusal(case)), f"{name}: {err!r}"


def test_a_record_that_sets_status_and_project_lists_them_as_ignored() -> None:
    imported = import_record(RECORD_FAMILY, raw("records", "sets-status-and-project.b64"))
    assert set(imported.ignored) == {"status", "project_id", "user_id", "deleted", "deleted_at"}
    assert "project_id" not in imported.backup.extra and "deleted" not in imported.backup.extra


def test_driver_info_cannot_replace_a_field() -> None:
    imported = import_record(RECORD_FAMILY, raw("records", "driver-info-shadows-field.b64"))
    assert imported.backup.id == "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
    assert imported.backup.size == 1
    assert imported.driver_info == {"id": "other", "size": 999}


def test_a_10_mb_record_is_refused_with_a_typed_error() -> None:
    record = {
        "id": "b1", "size": 1, "display_name": "x" * (10 * 1024 * 1024),
        "display_description": "", "container": "c", "service_metadata": "m", "object_count": 1,
    }  # fmt: skip
    text = base64.b64encode(json.dumps(record).encode())
    with pytest.raises(docket.errors.RecordParseError, match="max_string_length"):
        import_record(RECORD_FAMILY, text)


# --- containers: BackupMetadataAPI.put, on every database ---------------------------------

# Columns of the target volume a restore may change: the allowlist (v1-v3), bootable (the
# glance rule) and the row's own updated_at.
WRITABLE = {"display_name", "display_description", "encryption_key_id", "bootable", "updated_at"}


@dataclass
class Database:
    backend: str
    engine: Any
    api: Any
    made: int = 0

    def target(self) -> str:
        """A fresh volume as a restore finds it: auto-named, with metadata to replace."""
        self.made += 1
        return self.store.create_volume(
            self.engine,
            display_name=f"restore_backup_{self.made}",
            display_description="",
            volume_type_id=generate.TYPE_ID,
            metadata={"keep": "me", "fee": "old"},
            glance={"image_id": "img-1", "license": "paid"},
            status="available",
            project_id="owner-project",
        )

    @property
    def store(self) -> Any:
        import docket.store

        return docket.store


@pytest.fixture(scope="module", params=backend_params(BACKENDS))
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    store = pytest.importorskip("docket.store", reason="docket.store is not there yet")
    with scratch_database(request.param, tmp_path_factory.mktemp("db")) as url:
        engine = store.make_engine(url)
        store.init_db(engine)
        store.create_volume_type(engine, type_id=generate.TYPE_ID, name="gold")
        store.create_volume(engine, display_name="bystander", metadata={"other": "volume"})
        try:
            yield Database(request.param, engine, store.BackupMetadataAPI(engine))
        finally:
            engine.dispose()


def _rows(snapshot: dict[str, list[tuple[Any, ...]]], engine: Any, table: str) -> list[dict]:
    names = [c.name for c in sa.Table(table, sa.MetaData(), autoload_with=engine).columns]
    return [dict(zip(names, row, strict=True)) for row in snapshot[table]]


def _assert_only_allowed_changes(
    db: Database, volume_id: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    for table in before:
        old = _rows(before, db.engine, table)
        new = _rows(after, db.engine, table)
        if table == "volumes":
            others = [r for r in old if r["id"] != volume_id]
            assert others == [r for r in new if r["id"] != volume_id]
            [was] = [r for r in old if r["id"] == volume_id]
            [now] = [r for r in new if r["id"] == volume_id]
            changed = {c for c in was if was[c] != now[c]}
            assert changed <= WRITABLE, f"a restore changed {changed - WRITABLE}"
        elif "volume_id" in (old or new or [{}])[0]:
            assert [r for r in old if r["volume_id"] != volume_id] == [
                r for r in new if r["volume_id"] != volume_id
            ], f"a restore changed another volume's rows in {table}"
        else:
            assert old == new, table


@pytest.mark.parametrize("name", CONTAINERS)
def test_put_refuses_without_writing_or_writes_only_what_the_policy_allows(
    database: Database, name: str
) -> None:
    case = CASES["containers"][name]
    expected = case.get("put", case["load"])
    if expected == "case":  # keys that differ only in case are one key to MariaDB
        expected = "KeyConflict" if database.backend == "mariadb" else "ok"
    volume_id = database.target()
    before = dump(database.engine)
    result, err = attempt(lambda: database.api.put(volume_id, raw("containers", name)))
    after = dump(database.engine)
    if expected == "ok":
        assert err is None, f"{name}: {err!r}"
        assert result.volume_id == volume_id
        _assert_only_allowed_changes(database, volume_id, before, after)
    else:
        assert isinstance(err, error_type(expected)), f"{name}: {err!r}"
        assert after == before, f"{name} was refused but the database changed"


def test_sql_looking_text_is_stored_literally(database: Database) -> None:
    volume_id = database.target()
    database.api.put(volume_id, raw("containers", "sql-strings.json"))
    back = json.loads(database.api.get(volume_id))
    assert back["volume-base-metadata"]["display_name"] == "'; DROP TABLE volumes; --"
    assert back["volume-metadata"]["'; DROP TABLE volumes; --"] == "'; DROP TABLE volumes; --"
    assert back["volume-metadata"]["k') OR 1=1; --"] == "%s %(x)s ?"
    # Every table is still there with every other volume in it.
    assert len(dump(database.engine)["volumes"]) == database.made + 1


def test_fields_a_user_must_not_set_are_left_alone(database: Database) -> None:
    volume_id = database.target()
    database.api.put(volume_id, raw("containers", "sets-status-and-project.json"))
    base = json.loads(database.api.get(volume_id))["volume-base-metadata"]
    assert base["status"] == "available" and base["project_id"] == "owner-project"
    assert base["size"] == 1 and base["deleted"] is False and base["host"] is None
    assert base["id"] == volume_id


def test_a_10_mb_container_is_refused_by_put_without_writing(database: Database) -> None:
    volume_id = database.target()
    before = dump(database.engine)
    doc = {"version": 2, "volume-glance-metadata": {"license": "x" * (10 * 1024 * 1024)}}
    with pytest.raises(docket.errors.LimitExceeded):
        database.api.put(volume_id, json.dumps(doc).encode())
    assert dump(database.engine) == before


# --- the command line: a message and an exit status, never a traceback ---------------------


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    store = pytest.importorskip("docket.store", reason="docket.store is not there yet")
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cinder.db'}"
    store.init_db(url)
    return url, store.make_engine(url)


def _run(args: list[str]) -> Any:
    from click.testing import CliRunner

    from docket.cli import cli

    # catch_exceptions=False: an exception the CLI did not turn into a message fails here.
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("name", CONTAINERS)
def test_the_cli_reports_each_container_without_a_traceback(
    cli_db: tuple[str, Any], name: str
) -> None:
    case = CASES["containers"][name]
    path = str(HOSTILE / "containers" / name)
    valid = _run(["validate", path])
    assert valid.exit_code == (0 if case["load"] == "ok" else 1), valid.output
    url, engine = cli_db
    import docket.store

    volume_id = docket.store.create_volume(engine, display_name="restore_backup_cli")
    before = dump(engine)
    restored = _run(["restore", "--db", url, volume_id, path])
    expected = case.get("put", case["load"])
    if expected == "case":
        expected = "ok"  # SQLite keeps keys that differ in case apart
    assert restored.exit_code == (0 if expected == "ok" else 1), restored.output
    if restored.exit_code:
        assert restored.output.strip(), "a refusal must say why"
        assert dump(engine) == before


@pytest.mark.parametrize("name", RECORDS)
def test_the_cli_refuses_bad_records_without_a_traceback(tmp_path: Path, name: str) -> None:
    case = CASES["records"][name]
    text = raw("records", name).decode("utf-8", "replace") or " "
    result = _run(["volume", "import-record", "--root", str(tmp_path), text])
    # A good record still names a backup this empty root does not hold: refused as well.
    assert result.exit_code != 0, result.output
    assert result.output.strip()
    if case["load"] != "ok":
        assert "error" in result.output.lower() or "record" in result.output.lower()
