"""Every command and subcommand against every class of bad input: one typed error line, the
documented exit code, no traceback.

:data:`MATRIX` has a row per command (its path, as ``docket volume backup``) and, in each
row, an entry per class of bad input (:data:`CLASSES`): the arguments that give the command
that input and the exit code the docs promise, or :class:`NA` saying why the class does not
apply. The matrix must name exactly the commands the ``docket`` group has: a new command
fails :func:`test_the_matrix_names_every_command` until its row is added (one entry).

The error rule (:func:`assert_one_error`): standard error holds exactly one error line, the
last non-empty one. It is docket's ``error: ...`` (a :class:`~docket.errors.DocketError`
becoming its message in ``docket.cli.common.run``), or click's ``Error: ...`` for a usage
error its parser finds, which click precedes with the usage line and a "Try ... -h" line.
Other lines (a command's own report, such as ``docket validate``'s per-file lines) go to
standard output. The cases run in-process (CliRunner, where an escaping exception is
``result.exception``); a few run as ``python -m docket`` to show no traceback reaches a
terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from docket import store
from docket.cli import app
from docket.conformance.suite import SUITE
from tests._databases import volumes_only_database
from tests.cli.test_commands import cinder

CLASSES = (
    "missing file",
    "directory for a file",
    "bad URL",
    "unreachable server",
    "unknown family or version",
    "malformed JSON",
    "empty stdin",
)
"""The classes of bad input every command is tried with."""

USAGE = 2
FAILED = 1
ERROR = 3
"""``docket audit`` could not audit (its exit 1 means findings)."""
UNREACHABLE = "postgresql+psycopg://docket@127.0.0.1:1/cinder"
"""A server that is not there: port 1 on this host refuses at once."""


@dataclass(frozen=True)
class Case:
    """Arguments after ``docket`` (``{name}`` is a path of :func:`places`), the exit code the
    docs give, and what standard input holds. ``finding``: the command checks what it was
    given, and the bad input is a finding of its report (standard output), not an error."""

    argv: tuple[str, ...]
    exit: int
    stdin: bytes = b""
    finding: bool = False


@dataclass(frozen=True)
class NA:
    """This class of bad input does not apply to the command, and why."""

    why: str


Entry = Case | NA


def case(*argv: str, exit: int = FAILED, stdin: bytes = b"") -> Case:
    return Case(tuple(argv), exit, stdin)


def finding(*argv: str, stdin: bytes = b"") -> Case:
    """A checker's case: the bad input is reported as a finding, exit 1."""
    return Case(tuple(argv), FAILED, stdin, finding=True)


def row(
    *,
    missing: Entry,
    directory: Entry,
    url: Entry,
    unreachable: Entry,
    unknown: Entry,
    malformed: Entry,
    stdin: Entry,
) -> dict[str, Entry]:
    """A command's row: an entry for every class (a keyword left out is a TypeError)."""
    entries = (missing, directory, url, unreachable, unknown, malformed, stdin)
    return dict(zip(CLASSES, entries, strict=True))


def database_url(*before: str, after: tuple[str, ...] = ()) -> dict[str, Entry]:
    """The two database classes of a command that takes a URL where ``before`` ends: a URL
    that does not parse (a usage error) and a server that is not there (exit 1)."""
    return {
        "url": case(*before, "notaurl", *after, exit=USAGE),
        "unreachable": case(*before, UNREACHABLE, *after),
    }


def object_store(*before: str, after: tuple[str, ...] = ()) -> dict[str, Entry]:
    """The classes of a command whose ``--root`` may be a store's URL: ``--cinder-config``
    naming a directory (a usage error), a root of an unknown scheme (a usage error) and a
    Swift store that is not there, as a cinder.conf configures it (exit 1)."""
    return {
        "directory": case(
            *before, "--root", "{backups}", "--cinder-config", "{dir}", *after, exit=USAGE
        ),
        "url": case(*before, "--root", "ftp://bucket", *after, exit=USAGE),
        "unreachable": case(
            *before, "--root", "swift://volumebackups", "--cinder-config", "{no_swift}", *after
        ),
    }


def creates_database(*before: str) -> dict[str, Entry]:
    """The row of a command that creates a database at a URL where ``before`` ends: a
    missing folder or a directory for the SQLite file, and the two database classes."""
    return row(
        missing=case(*before, "sqlite:///{missing}/cinder.db"),
        directory=case(*before, "sqlite:///{dir}"),
        **database_url(*before),
        unknown=NA("names no family or version"),
        malformed=NO_JSON,
        stdin=NO_STDIN,
    )


def group(name: str) -> dict[str, Entry]:
    """The row of a command group: its commands have their own rows."""
    return dict.fromkeys(CLASSES, NA(f"{name} is a group; its commands have rows"))


NO_DB = NA("takes no database URL")
NO_DATABASE = {"url": NO_DB, "unreachable": NO_DB}
"""Both database classes, for a command that takes no database URL."""
NO_STDIN = NA("reads no standard input")
NO_JSON = NA("reads no JSON the user gives")

MATRIX: dict[str, dict[str, Entry]] = {
    "docket": group("docket"),
    "docket validate": row(
        missing=finding("validate", "{missing}"),
        directory=NA("a directory is walked for containers"),
        **NO_DATABASE,
        unknown=case("validate", "--family", "nope", "{valid}", exit=USAGE),
        malformed=finding("validate", "{bad_json}"),
        stdin=finding("validate", "-"),
    ),
    "docket migrate": row(
        missing=case("migrate", "{missing}", "--to", "3"),
        directory=case("migrate", "{dir}", "--to", "3"),
        **NO_DATABASE,
        unknown=case("migrate", "{valid}", "--to", "99", exit=USAGE),
        malformed=case("migrate", "{bad_json}", "--to", "3"),
        stdin=case("migrate", "-", "--to", "3"),
    ),
    "docket inspect": row(
        missing=case("inspect", "{missing}"),
        directory=case("inspect", "{dir}"),
        **NO_DATABASE,
        unknown=case("inspect", "--family", "nope", "{valid}", exit=USAGE),
        malformed=case("inspect", "{bad_json}"),
        stdin=case("inspect", "-"),
    ),
    "docket diff": row(
        missing=NA("takes no file"),
        directory=NA("takes no file"),
        **NO_DATABASE,
        unknown=case("diff", "nope", "1", "2", exit=USAGE),
        malformed=NO_JSON,
        stdin=NO_STDIN,
    ),
    "docket schema": row(
        missing=NA("takes no file"),
        directory=NA("takes no file"),
        **NO_DATABASE,
        unknown=case("schema", "backup-metadata", "99", exit=USAGE),
        malformed=NO_JSON,
        stdin=NO_STDIN,
    ),
    "docket check": row(
        missing=case("check", "{missing}", exit=USAGE),
        directory=NA("SCHEMA_DIR is a directory"),
        **NO_DATABASE,
        unknown=NA("checks every family it finds"),
        malformed=finding("check", "{bad_schemas}"),
        stdin=NO_STDIN,
    ),
    "docket new-version": row(
        missing=case("new-version", "volumes", "--schemas", "{missing}", exit=USAGE),
        directory=NA("its files are found in --schemas"),
        **NO_DATABASE,
        unknown=case("new-version", "nope", "--schemas", "{schemas}", exit=USAGE),
        malformed=case("new-version", "broken", "--schemas", "{bad_schemas}"),
        stdin=NO_STDIN,
    ),
    "docket release": row(
        missing=case("release", "volumes", "1", "--schemas", "{missing}", exit=USAGE),
        directory=NA("its files are found in --schemas"),
        **NO_DATABASE,
        unknown=case("release", "nope", "1", "--schemas", "{schemas}", exit=USAGE),
        malformed=case("release", "broken", "1", "--schemas", "{bad_schemas}"),
        stdin=NO_STDIN,
    ),
    "docket db": group("docket db"),
    "docket db init": creates_database("db", "init"),
    "docket backup": row(
        missing=case("backup", "--db", "sqlite:///{missing}", "VOL"),
        directory=case("backup", "--db", "sqlite:///{dir}", "VOL"),
        **database_url("backup", "--db", after=("VOL",)),
        unknown=case("backup", "--db", "sqlite:///{db}", "VOL", "--version", "99", exit=USAGE),
        malformed=NA("reads no JSON"),
        stdin=NO_STDIN,
    ),
    "docket restore": row(
        missing=case("restore", "--db", "sqlite:///{db}", "VOL", "{missing}"),
        directory=case("restore", "--db", "sqlite:///{db}", "VOL", "{dir}"),
        **database_url("restore", "--db", after=("VOL", "{valid}")),
        unknown=case("restore", "--db", "sqlite:///{db}", "VOL", "{foreign}"),
        malformed=case("restore", "--db", "sqlite:///{db}", "VOL", "{bad_json}"),
        stdin=case("restore", "--db", "sqlite:///{db}", "VOL", "-"),
    ),
    "docket demo": creates_database("demo", "--db"),
    "docket volume": group("docket volume"),
    "docket volume backup": row(
        missing=case("volume", "backup", "{missing}", "--root", "{root}"),
        directory=case("volume", "backup", "{dir}", "--root", "{root}", exit=USAGE),
        **database_url(
            "volume", "backup", "{image}", "--root", "{root}", "--db", after=("--volume-id", "VOL")
        ),
        unknown=case("volume", "backup", "{image}", "--root", "{root}", "--parent", "nope"),
        malformed=NA("reads no JSON the user gives (the parent's is a backup's)"),
        stdin=NA("backs up a file or device, not standard input"),
    ),
    "docket volume restore": row(
        missing=case("volume", "restore", "{backup_id}", "{target}", "--root", "{missing}"),
        directory=case(
            "volume", "restore", "{backup_id}", "{dir}", "--root", "{backups}", exit=USAGE
        ),
        **database_url(
            "volume",
            "restore",
            "{backup_id}",
            "{target}",
            "--root",
            "{backups}",
            "--db",
            after=("--volume-id", "VOL"),
        ),
        unknown=case("volume", "restore", "nope", "{target}", "--root", "{backups}"),
        malformed=case("volume", "restore", "{broken_id}", "{target}", "--root", "{backups}"),
        stdin=NO_STDIN,
    ),
    "docket volume verify": row(
        missing=case("volume", "verify", "{backup_id}", "--root", "{missing}"),
        **object_store("volume", "verify", "{backup_id}"),
        unknown=case("volume", "verify", "nope", "--root", "{backups}"),
        malformed=finding("volume", "verify", "{broken_id}", "--root", "{backups}"),
        stdin=NO_STDIN,
    ),
    "docket volume export-record": row(
        missing=case("volume", "export-record", "{backup_id}", "--root", "{missing}"),
        **object_store("volume", "export-record", "{backup_id}"),
        unknown=case(
            "volume",
            "export-record",
            "{backup_id}",
            "--root",
            "{backups}",
            "--record-version",
            "99",
            exit=USAGE,
        ),
        malformed=case("volume", "export-record", "{broken_id}", "--root", "{backups}"),
        stdin=NO_STDIN,
    ),
    "docket volume import-record": row(
        missing=case("volume", "import-record", "{record}", "--root", "{missing}"),
        **object_store("volume", "import-record", "{record}"),
        unknown=NA("a record names no family"),
        malformed=case("volume", "import-record", "e30K", "--root", "{backups}"),
        stdin=case("volume", "import-record", "-", "--root", "{backups}"),
    ),
    "docket volume list": row(
        missing=case("volume", "list", "--root", "{missing}"),
        **object_store("volume", "list"),
        unknown=NA("a listing names no family; an unknown --volume-id lists nothing"),
        malformed=NA("a backup with a bad metadata file is listed as invalid, not an error"),
        stdin=NO_STDIN,
    ),
    "docket volume delete": row(
        missing=case("volume", "delete", "{backup_id}", "--root", "{missing}"),
        **object_store("volume", "delete", "{backup_id}"),
        unknown=case("volume", "delete", "nope", "--root", "{backups}"),
        malformed=NA("delete reads no JSON the user gives"),
        stdin=NO_STDIN,
    ),
    "docket audit": group("docket audit"),
    "docket audit run": row(
        missing=case("audit", "run", "{missing}", exit=USAGE),
        directory=case("audit", "run", "{root}", "-o", "{dir}", exit=ERROR),
        url=case("audit", "run", "{root}", "--db", "notaurl", exit=USAGE),
        unreachable=case("audit", "run", "{root}", "--db", UNREACHABLE, exit=ERROR),
        unknown=case("audit", "run", "{root}", "--require", "nope", exit=USAGE),
        malformed=NA("a bad object under ROOT is a finding, reported as such"),
        stdin=NO_STDIN,
    ),
    "docket audit merge": row(
        missing=case("audit", "merge", "{missing}", exit=ERROR),
        directory=case("audit", "merge", "{dir}", exit=ERROR),
        **NO_DATABASE,
        unknown=NA("names no family or version"),
        malformed=case("audit", "merge", "{bad_json}", exit=ERROR),
        stdin=case("audit", "merge", "-", exit=ERROR),  # no header: not a shard file
    ),
    "docket cinder": group("docket cinder"),
    "docket cinder relabel": row(
        missing=case(
            "cinder",
            "relabel",
            "--db",
            "sqlite:///{db}",
            "--root",
            "{missing}",
            "--to",
            "docket",
            exit=USAGE,
        ),
        directory=NA("--root is a directory"),
        **database_url("cinder", "relabel", "--root", "{backups}", "--to", "docket", "--db"),
        unknown=case(
            "cinder",
            "relabel",
            "--db",
            "sqlite:///{db}",
            "--root",
            "{backups}",
            "--to",
            "nope",
            exit=USAGE,
        ),
        malformed=NA("a backup whose metadata does not parse is refused in the report"),
        stdin=NO_STDIN,
    ),
    "docket conformance": group("docket conformance"),
    "docket conformance run": row(
        missing=case("conformance", "run", "--suite", "{missing}", exit=USAGE),
        directory=case("conformance", "run", "--suite", "{bad_suite}", "-o", "{dir}", exit=USAGE),
        **NO_DATABASE,
        unknown=case("conformance", "run", "--family", "nope", exit=USAGE),
        malformed=case("conformance", "run", "--suite", "{bad_suite}", exit=USAGE),
        stdin=NA("COMMAND's standard input is docket's, not the user's"),
    ),
    "docket conformance list": row(
        missing=case("conformance", "list", "--suite", "{missing}", exit=USAGE),
        directory=NA("it writes no file"),
        **NO_DATABASE,
        unknown=case("conformance", "list", "--case", "nope/", exit=USAGE),
        malformed=case("conformance", "list", "--suite", "{bad_suite}", exit=USAGE),
        stdin=NA("it reads no standard input"),
    ),
}


MORE: dict[str, Case] = {
    "conformance: a manifest that is not an object": case(
        "conformance", "run", "--suite", "{list_suite}", exit=USAGE
    ),
    "conformance: a manifest that is a directory": case(
        "conformance", "run", "--suite", "{dir_suite}", exit=USAGE
    ),
    "conformance: -o in a directory that does not exist": case(
        "conformance", "run", "--suite", "{empty_suite}", "-o", "{missing}/report.txt"
    ),
    "conformance: a negative --timeout": case(
        "conformance", "run", "--suite", "{empty_suite}", "--timeout", "-1", exit=USAGE
    ),
    "migrate: -o in a directory that does not exist": case(
        "migrate", "{valid}", "--to", "3", "-o", "{missing}/out.json"
    ),
    "export-record: a --key-file that is missing": case(
        "volume", "export-record", "{backup_id}", "--root", "{backups}", "--key-file",
        "{missing}", exit=USAGE,
    ),
    "export-record: a --key-file that is a directory": case(
        "volume", "export-record", "{backup_id}", "--root", "{backups}", "--key-file", "{dir}",
        exit=USAGE,
    ),
    "audit merge: standard input twice": case("audit", "merge", "-", "-", exit=ERROR),
    "new-version: a family that is a path": case(
        "new-version", "../x", "--schemas", "{dir}", exit=USAGE
    ),
    "volume backup: a --volume-id that is a path": case(
        "volume", "backup", "{valid}", "--root", "{backups}", "--volume-id", "x/../..",
        exit=USAGE,
    ),
}
"""Bad input found beyond the classes, each once a traceback or a misleading message."""


def every_command() -> Iterator[str]:
    """Every command the ``docket`` group has, groups and their commands, by full name."""
    for path, _ in app.walk(app.cli):
        yield " ".join(path)


def cases() -> Iterator[tuple[str, str, Case]]:
    for command, entries in MATRIX.items():
        for kind, entry in entries.items():
            if isinstance(entry, Case):
                yield command, kind, entry


def assert_one_error(stderr: str, output: str, *, finding: bool = False) -> None:
    """The error rule of the module docstring."""
    assert "Traceback" not in stderr and "Traceback" not in output, stderr + output
    lines = [line for line in stderr.splitlines() if line.strip()]
    if finding:  # the report on standard output; at most a summary line on standard error
        assert output.strip() and len(lines) <= 1, (output, stderr)
        assert not any(line.startswith(("error", "Error")) for line in lines), stderr
        return
    errors = [line for line in lines if line.startswith(("error: ", "Error: "))]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    if errors[0].startswith("Error: "):  # click's usage error: its usage and "Try" lines
        assert len(lines) == 3, stderr
        assert lines[0].startswith("Usage: ") and lines[1].startswith("Try "), stderr
    else:
        assert len(lines) == 1, stderr


# --- the files and directories the cases name ----------------------------------------------


def _backup(root: Path, image: Path, backup_id: str) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app.cli,
        ["volume", "backup", str(image), "--root", str(root), "--backup-id", backup_id],
    )
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, str]:
    tmp = tmp_path_factory.mktemp("bad-input")
    (tmp / "adir").mkdir()
    (tmp / "root").mkdir()
    (tmp / "bad.json").write_bytes(b'{"version": 2, "volume-base-metadata": {"id": ')
    (tmp / "valid.json").write_text(json.dumps(cinder(2)))
    (tmp / "foreign.json").write_text(json.dumps({**cinder(2), "family": "nope"}))
    image = tmp / "image"
    image.write_bytes(bytes(range(256)) * 64)
    backups = tmp / "backups"
    backups.mkdir()
    good, broken = "1b1b1b1b-0000-4000-8000-000000000001", "2b2b2b2b-0000-4000-8000-000000000002"
    _backup(backups, image, good)
    _backup(backups, image, broken)
    for meta in (backups / broken[:2] / broken[2:4] / broken).glob("*_metadata"):
        meta.write_bytes(b'{"version": "1.0.0", "objects": [')
    export = CliRunner().invoke(app.cli, ["volume", "export-record", good, "--root", str(backups)])
    assert export.exit_code == 0, export.output
    db = tmp / "cinder.db"
    store.init_db(f"sqlite:///{db}")
    # A Swift that is not there (port 1 refuses at once), tried once.
    no_swift = tmp / "cinder.conf"
    no_swift.write_text(
        "[DEFAULT]\nbackup_swift_auth = single_user\n"
        "backup_swift_auth_url = http://127.0.0.1:1/auth/v1.0\nbackup_swift_user = u\n"
        "backup_swift_key = k\nbackup_swift_retry_attempts = 0\n"
    )
    schemas = tmp / "schemas"
    (schemas / "broken").mkdir(parents=True)
    (schemas / "broken" / "manifest.json").write_bytes(b'{"family": ')
    suites = {}
    for name, manifest in (
        ("bad_suite", b"{"),
        ("list_suite", b"[]"),
        ("empty_suite", json.dumps({"suite": SUITE, "families": {}}).encode()),
        ("dir_suite", None),
    ):
        suites[name] = str(tmp / name)
        (tmp / name).mkdir()
        if manifest is None:
            (tmp / name / "manifest.json").mkdir()
        else:
            (tmp / name / "manifest.json").write_bytes(manifest)
    return {
        "missing": str(tmp / "no-such-file.json"),
        "dir": str(tmp / "adir"),
        "root": str(tmp / "root"),
        "bad_json": str(tmp / "bad.json"),
        "valid": str(tmp / "valid.json"),
        "foreign": str(tmp / "foreign.json"),
        "image": str(image),
        "target": str(tmp / "restored.img"),
        "backups": str(backups),
        "backup_id": good,
        "broken_id": broken,
        "record": export.stdout.strip().splitlines()[0],
        "db": str(db),
        "no_swift": str(no_swift),
        "schemas": str(tmp / "adir"),
        "bad_schemas": str(schemas),
        **suites,
    }


def _argv(entry: Case, places: Mapping[str, str]) -> list[str]:
    return [arg.format(**places) for arg in entry.argv]


def _check(entry: Case, places: Mapping[str, str]) -> None:
    result = CliRunner().invoke(app.cli, _argv(entry, places), input=entry.stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert_one_error(result.stderr, result.stdout, finding=entry.finding)
    assert result.exit_code == entry.exit, result.stderr


# --- the tests ---------------------------------------------------------------------------------


def test_the_matrix_names_every_command() -> None:
    commands = list(every_command())
    assert sorted(set(commands) - set(MATRIX)) == [], "add a row to MATRIX for each"
    assert sorted(set(MATRIX) - set(commands)) == [], "MATRIX names commands docket lacks"
    for command, entries in MATRIX.items():
        assert tuple(entries) == CLASSES, command


@pytest.mark.parametrize(
    ("command", "kind", "entry"),
    [pytest.param(c, k, e, id=f"{c[7:] or 'docket'}: {k}") for c, k, e in cases()],
)
def test_bad_input_is_one_typed_error(
    command: str, kind: str, entry: Case, places: Mapping[str, str]
) -> None:
    _check(entry, places)


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_bad_input_is_one_typed_error(name: str, places: Mapping[str, str]) -> None:
    _check(MORE[name], places)


def test_an_output_that_cannot_be_made_names_the_path_given(places: Mapping[str, str]) -> None:
    target = f"{places['missing']}/out.json"
    result = CliRunner().invoke(app.cli, ["migrate", places["valid"], "--to", "3", "-o", target])
    assert result.exit_code == FAILED
    assert result.stderr.strip().endswith(f": {target}"), result.stderr  # not a temporary name


# --- object stores: every command whose --root may be a store's URL ----------------------------

STORE_CASES = {
    command: entries["unreachable server"]
    for command, entries in MATRIX.items()
    if isinstance(entries["unreachable server"], Case)
    and "swift://volumebackups" in entries["unreachable server"].argv  # type: ignore[union-attr]
}


@pytest.mark.parametrize("command", sorted(STORE_CASES))
@pytest.mark.parametrize(("scheme", "modules"), [("swift", ["swiftclient"]), ("s3", ["boto3"])])
def test_a_missing_store_client_says_what_to_install(
    command: str,
    scheme: str,
    modules: list[str],
    places: Mapping[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # import it: ImportError
    entry = STORE_CASES[command]
    argv = [a.replace("swift://", f"{scheme}://") for a in _argv(entry, places)]
    result = CliRunner().invoke(app.cli, argv)
    assert result.exit_code == USAGE, result.stderr
    assert_one_error(result.stderr, result.stdout)
    assert f"pip install 'docket[{scheme}]'" in result.stderr


def test_a_store_error_never_shows_the_secret(places: Mapping[str, str], tmp_path: Path) -> None:
    conf = tmp_path / "cinder.conf"
    conf.write_text(
        Path(places["no_swift"])
        .read_text()
        .replace("backup_swift_key = k", "backup_swift_key = s3cr3t-k3y")
    )
    result = CliRunner().invoke(
        app.cli, ["volume", "list", "--root", "swift://c", "--cinder-config", str(conf)]
    )
    assert result.exit_code == FAILED
    assert_one_error(result.stderr, result.stdout)
    assert "s3cr3t" not in result.stderr + result.stdout


# --- databases: every command that takes a URL, the same way ----------------------------------


def _db_cases() -> Iterator[tuple[str, Case, int]]:
    """Each command's bad-URL case, and where in its arguments the URL stands."""
    for command, entries in MATRIX.items():
        entry = entries["bad URL"]
        if isinstance(entry, Case) and "notaurl" in entry.argv:
            yield command, entry, entry.argv.index("notaurl")


DB_CASES = {command: (entry, at) for command, entry, at in _db_cases()}


def _named(entry: Case, at: int) -> str:
    """What the user typed the URL as: the option before it, else the argument ``URL``."""
    before = entry.argv[at - 1]
    return before if before.startswith("--") else "URL"


@pytest.mark.parametrize("command", sorted(DB_CASES))
def test_a_bad_url_names_what_the_user_typed(command: str, places: Mapping[str, str]) -> None:
    entry, at = DB_CASES[command]
    result = CliRunner().invoke(app.cli, _argv(entry, places))
    assert result.exit_code == USAGE
    assert result.stderr.startswith(f"error: {_named(entry, at)}: "), result.stderr
    assert '"notaurl"' in result.stderr and "sqlite:///" in result.stderr  # as typed; a form


@pytest.mark.parametrize("command", sorted(DB_CASES))
def test_a_missing_driver_says_what_to_install(
    command: str, places: Mapping[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pymysql", None)  # import pymysql: ImportError
    entry, at = DB_CASES[command]
    argv = _argv(entry, places)
    argv[at] = "mysql+pymysql://cinder:secret@127.0.0.1:1/cinder"
    result = CliRunner().invoke(app.cli, argv)
    assert result.exit_code == USAGE, result.stderr
    assert_one_error(result.stderr, result.stdout)
    assert result.stderr.startswith(f"error: {_named(entry, at)}: "), result.stderr
    assert "pymysql is not installed" in result.stderr
    assert "pip install -c constraints.txt -e '.[mysql]'" in result.stderr
    assert "secret" not in result.stderr


@pytest.mark.parametrize("command", sorted(DB_CASES))
def test_an_unreachable_server_is_named(command: str, places: Mapping[str, str]) -> None:
    entry, at = DB_CASES[command]
    argv = _argv(entry, places)
    argv[at] = "mysql+pymysql://cinder@127.0.0.1:1/cinder"
    result = CliRunner().invoke(app.cli, argv)
    assert result.exit_code == DB_FAILED.get(command, FAILED), result.stderr
    assert_one_error(result.stderr, result.stdout)
    assert "could not connect to the database at 127.0.0.1:1" in result.stderr


DB_FAILED = {"docket audit run": ERROR}
"""Commands whose exit when the database fails is not 1 (which means findings there)."""


TABLES_READ = {
    "docket backup": "volumes",
    "docket restore": "volumes",
    "docket audit run": "backups",
    "docket volume backup": "volumes",
    "docket cinder relabel": "backups",
}
"""Commands that read tables, and the first they read."""


@pytest.mark.parametrize("command", sorted(TABLES_READ))
def test_a_missing_table_is_named_with_how_to_make_it(
    command: str, places: Mapping[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.db"
    store.init_db(f"sqlite:///{empty}")  # then drop the table the command reads first
    engine = store.make_engine(f"sqlite:///{empty}")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {TABLES_READ[command]}")
    engine.dispose()
    entry, at = DB_CASES[command]
    argv = _argv(entry, places)
    argv[at] = f"sqlite:///{empty}"
    before = sorted(Path(places["root"]).rglob("*"))
    result = CliRunner().invoke(app.cli, argv)
    assert result.exit_code == DB_FAILED.get(command, FAILED), result.stderr
    assert_one_error(result.stderr, result.stdout)
    assert f"no table {json.dumps(TABLES_READ[command])}" in result.stderr
    assert "`docket db init URL` creates" in result.stderr
    assert sorted(Path(places["root"]).rglob("*")) == before  # refused: nothing written


def test_a_sqlite_file_that_is_not_there_is_not_made(places: Mapping[str, str]) -> None:
    missing = Path(places["missing"])
    result = CliRunner().invoke(app.cli, ["backup", "--db", f"sqlite:///{missing}", "VOL"])
    assert result.exit_code == FAILED
    assert "no such file" in result.stderr and "docket db init" in result.stderr
    assert not missing.exists()


def test_db_init_makes_every_table_audit_reads(tmp_path: Path) -> None:
    """The docs' steps: ``db init``, then ``audit --db``."""
    url = f"sqlite:///{tmp_path / 'cinder.db'}"
    root = tmp_path / "backups"
    root.mkdir()
    init = CliRunner().invoke(app.cli, ["db", "init", url])
    assert init.exit_code == 0, init.stderr
    assert "backups" in init.stdout
    clean = CliRunner().invoke(app.cli, ["audit", str(root), "--db", url, "--format", "json"])
    assert clean.exit_code == 0, clean.stderr
    assert json.loads(clean.stdout)["records"] == 0
    # A row of Cinder's backups table without files is read, and is a finding.
    backups = store.cinder_metadata().tables["backups"]
    engine = store.make_engine(url)
    gone = "3c3c3c3c-0000-4000-8000-000000000003"
    with engine.begin() as conn:
        conn.execute(
            backups.insert().values(
                id=gone,
                user_id="u",
                project_id="p",
                volume_id="v",
                status="available",
                deleted=False,
                service="cinder.backup.drivers.posix.PosixBackupDriver",
            )
        )
    engine.dispose()
    found = CliRunner().invoke(app.cli, ["audit", str(root), "--db", url, "--format", "jsonl"])
    assert found.exit_code == 1
    head, verdict, end = [json.loads(line) for line in found.stdout.splitlines()]
    assert head["shard"]["index"] == head["shard"]["count"] == 1
    assert head["shard"]["database"] == url and end == {"end": {"records": 1}}
    assert verdict["backup_id"] == gone
    assert [f["kind"] for f in verdict["findings"]] == ["no-files"]


# --- the real program: no traceback reaches a terminal -------------------------------------


def _docket(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "docket", *argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=120,
        check=False,
    )


IN_A_TERMINAL = (
    ("docket audit run", "bad URL"),
    ("docket audit run", "unreachable server"),
    ("docket volume backup", "bad URL"),
    ("docket db init", "bad URL"),
    ("docket restore", "empty stdin"),
    ("docket migrate", "malformed JSON"),
)
"""A few cases again as ``python -m docket`` (the issue's tracebacks among them)."""


@pytest.mark.parametrize(("command", "kind"), IN_A_TERMINAL)
def test_no_traceback_reaches_a_terminal(
    command: str, kind: str, places: Mapping[str, str]
) -> None:
    entry = MATRIX[command][kind]
    assert isinstance(entry, Case)
    done = _docket(*_argv(entry, places))
    assert_one_error(done.stderr, done.stdout)
    assert done.returncode == entry.exit


def test_audit_with_db_init_tables_missing_backups_is_one_line(tmp_path: Path) -> None:
    """The issue's third traceback: a database of volumes only (an older ``db init``)."""
    url = volumes_only_database(tmp_path / "cinder.db")
    done = _docket("audit", str(tmp_path), "--db", url)
    assert_one_error(done.stderr, done.stdout)
    assert done.returncode == ERROR
    assert 'no table "backups"' in done.stderr
