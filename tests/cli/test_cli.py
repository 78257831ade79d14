"""The click layer (CliRunner) and the real program (``python -m docket`` in a subprocess):
exit codes and both output formats, help texts with examples, and docs/cli.md kept in step."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import docket
from docket.cli import app as cli
from tests.cli.test_commands import BM, KEY, cinder, v3

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_SCHEMAS = ROOT / "tests" / "fixtures" / "schemas"
OWN = (
    "validate",
    "migrate",
    "inspect",
    "diff",
    "check",
    "schema",
    "db",
    "backup",
    "restore",
    "demo",
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    contents: dict[str, bytes] = {
        "valid": json.dumps(cinder(1)).encode(),
        "invalid": json.dumps(cinder(2, display_name=7)).encode(),
        "too-new": json.dumps({**cinder(2), "version": 4}).encode(),
        "v3": v3(),
        "signed": v3(KEY),
    }
    paths = {}
    for name, data in contents.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_bytes(data)
    paths["unreadable"] = tmp_path / "no-such-file.json"
    paths["key"] = tmp_path / "key"
    paths["key"].write_bytes(KEY)
    return paths


def invoke(*args: Any, input: bytes | None = None, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli.cli, [str(a) for a in args], input=input, env=env)


def docket_process(*args: Any, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docket", *map(str, args)],
        input=None if input is None else input.decode(),
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


# --- in-process ---------------------------------------------------------------------------


def test_version_and_help() -> None:
    result = invoke("--version")
    assert (result.exit_code, result.output) == (0, f"docket {docket.__version__}\n")
    result = invoke("--help")
    assert result.exit_code == 0
    for name in OWN:
        assert f"\n  {name} " in result.output


@pytest.mark.parametrize("path", [p for p, _ in cli.walk(cli.cli)])
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = invoke(*path[1:], "--help")
    assert result.exit_code == 0
    command = dict(cli.walk(cli.cli))[path]
    if not isinstance(command, click.Group) or path == ("docket",):
        assert "Examples:\n" in result.output
        examples = result.output.split("Examples:\n", 1)[1]
        assert examples.strip().startswith("docket ")


@pytest.mark.parametrize("width", [80, 88])
@pytest.mark.parametrize("group", [("docket",), ("docket", "volume")])
def test_the_volume_commands_list_whole_sentences(group: tuple[str, ...], width: int) -> None:
    """In a group's listing each volume command's short help is one whole sentence on one
    line, not a first line cut off with "..."."""
    result = CliRunner().invoke(cli.cli, [*group[1:], "--help"], terminal_width=width)
    listing = result.output.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    names = ["volume"] if group == ("docket",) else sorted(dict(cli.walk(cli.cli))[group].commands)
    for name in names:
        (line,) = [line for line in listing if line.split()[0] == name]
        at = listing.index(line)
        following = listing[at + 1] if at + 1 < len(listing) else ""
        assert not following.startswith("    "), f"{name}: wraps onto a second line"
        assert line.endswith(".") and not line.endswith("..."), line


@pytest.mark.parametrize("path", [p for p, _ in cli.walk(cli.cli) if p[1:2] == ("volume",)])
def test_every_volume_option_is_described(path: tuple[str, ...]) -> None:
    command = dict(cli.walk(cli.cli))[path]
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no description"


@pytest.mark.parametrize(
    ("name", "code"), [("valid", 0), ("v3", 0), ("invalid", 1), ("unreadable", 1), ("too-new", 1)]
)
def test_validate_exit_codes_and_formats(files: dict[str, Path], name: str, code: int) -> None:
    text = invoke("validate", files[name])
    assert text.exit_code == code
    as_json = invoke("validate", files[name], "--format", "json")
    assert as_json.exit_code == code
    start = as_json.output.index("[")
    (result,) = json.loads(as_json.output[start : as_json.output.rindex("]") + 1])
    assert result["valid"] is (code == 0)
    if code:
        error = result["errors"][0]
        place = "" if error["line"] is None else rf":{error['line']}:{error['column']}"
        assert re.search(
            rf"^{re.escape(str(files[name]))}{place}: {re.escape(error['path'])}: ", text.output
        )


def test_validate_usage_errors_exit_2(files: dict[str, Path]) -> None:
    assert invoke("validate").exit_code == 2
    assert invoke("validate", files["valid"], "--format", "yaml").exit_code == 2
    assert invoke("validate", files["valid"], "--jobs", "-3").exit_code == 2
    assert invoke("validate", files["valid"], "--shard", "0/2").exit_code == 2
    assert invoke("validate", files["valid"], "--family", "nope").exit_code == 2


def test_validate_reads_the_key_from_the_environment(files: dict[str, Path]) -> None:
    env = {"DOCKET_SIGNING_KEY_FILE": str(files["key"])}
    assert invoke("validate", files["signed"], env=env).exit_code == 0
    assert invoke("validate", files["v3"], env=env).exit_code == 1  # unsigned
    assert invoke("validate", files["signed"], "--key-file", files["key"]).exit_code == 0


def test_validate_standard_input(files: dict[str, Path]) -> None:
    result = invoke("validate", "-", input=files["invalid"].read_bytes())
    assert result.exit_code == 1
    assert '$["volume-base-metadata"]["display_name"]: 7 is not of types' in result.output
    column = files["invalid"].read_text().index('"display_name"') + 1
    assert result.output.startswith(f"<stdin>:1:{column}: ")


def test_migrate(files: dict[str, Path], tmp_path: Path) -> None:
    result = invoke("migrate", files["valid"], "--to", "3")
    assert result.exit_code == 0
    assert BM.load(result.stdout.encode()).version == 3
    assert "note: version 3's restore policy also restores" in result.stderr
    out = tmp_path / "down.json"
    refused = invoke("migrate", files["v3"], "--to", "1", "-o", out)
    assert refused.exit_code == 1 and not out.exists()
    assert "is lossy; it would lose:" in refused.stderr
    assert invoke("migrate", files["v3"], "--to", "1", "-o", out, "--allow-lossy").exit_code == 0
    assert json.loads(out.read_text())["version"] == 1
    assert invoke("migrate", files["valid"]).exit_code == 2  # --to is required
    for name in ("invalid", "unreadable", "too-new"):
        assert invoke("migrate", files[name], "--to", "2").exit_code == 1


def test_inspect(files: dict[str, Path]) -> None:
    text = invoke("inspect", files["v3"])
    assert text.exit_code == 0 and "digest     ok" in text.output
    as_json = invoke("inspect", files["signed"], "--format", "json", "--key-file", files["key"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["signature"] == "verified"
    for name in ("invalid", "unreadable", "too-new"):
        assert invoke("inspect", files[name]).exit_code == 1


def test_diff_schema_and_check() -> None:
    result = invoke("diff", "backup-metadata", "2", "3", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.output)["compatibility"] == "NONE"
    assert invoke("diff", "backup-metadata", "2", "9").exit_code == 2
    result = invoke("schema", "backup-metadata", "2")
    assert result.exit_code == 0 and json.loads(result.output) == BM.schema(2)
    assert invoke("check").exit_code == 0


def test_a_schema_directory_of_your_own() -> None:
    result = invoke("--schemas", FIXTURE_SCHEMAS, "diff", "notes", "1", "2")
    assert result.exit_code == 0 and result.output.startswith("notes 1 -> 2: ")
    result = invoke("--schemas", FIXTURE_SCHEMAS, "check", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["directory"] == str(FIXTURE_SCHEMAS)
    assert invoke("--schemas", "/nonexistent", "check").exit_code == 2


@pytest.mark.parametrize(
    "path", [p for p, _ in cli.walk(cli.cli) if p != ("docket",)], ids=" ".join
)
def test_every_command_takes_schemas_after_its_name(path: tuple[str, ...]) -> None:
    # pre-commit appends a hook's args after the command: `--schemas DIR` must parse there.
    command = dict(cli.walk(cli.cli))[path]
    assert any("--schemas" in p.opts for p in command.params), " ".join(path)


def test_check_takes_schemas_after_its_name() -> None:
    result = invoke("check", "--schemas", FIXTURE_SCHEMAS, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["directory"] == str(FIXTURE_SCHEMAS)


def test_store_commands(tmp_path: Path) -> None:
    from docket import store

    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert invoke("db", "init", url).exit_code == 0
    engine = store.make_engine(url)
    store.create_volume(engine, volume_id="a", display_name="a", metadata={"k": "v"})
    store.create_volume(engine, volume_id="t", display_name="restore_backup_1")
    engine.dispose()
    backed = invoke("backup", "--db", url, "a", "--version", "3")
    assert backed.exit_code == 0 and json.loads(backed.stdout)["version"] == 3
    source = tmp_path / "a.json"
    source.write_text(backed.stdout)
    restored = invoke("restore", "--db", url, "t", source, "--format", "json")
    assert restored.exit_code == 0
    assert json.loads(restored.output)["written"]["volume-metadata"] == {"k": "v"}
    assert invoke("restore", "--db", url, "missing", source).exit_code == 1
    assert invoke("backup", "a").exit_code == 2  # --db is required
    env = {"DOCKET_DB": url}
    assert invoke("backup", "a", env=env).exit_code == 0


def test_a_volume_id_of_bytes_that_are_not_utf8_is_not_found_without_a_traceback(
    tmp_path: Path,
) -> None:
    # Such an argument reaches Python as lone surrogates, which no database driver encodes:
    # backup and restore ended in a UnicodeEncodeError traceback.
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert invoke("db", "init", url).exit_code == 0
    source = tmp_path / "c.json"
    source.write_text('{"version": 2, "volume-base-metadata": {"display_name": "x"}}')
    for args in (("restore", "--db", url, b"\xff\n::x", source), ("backup", "--db", url, b"\xff")):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "docket",
                *(a if isinstance(a, bytes) else str(a) for a in args),
            ],
            capture_output=True,
            check=False,
            timeout=120,
        )
        err = done.stderr.decode()
        assert done.returncode == 1, err
        assert "Traceback" not in err and "volume \\xff" in err and "not found" in err, err
        assert len(err.splitlines()) == 1, err  # the newline in the id is escaped


# --- the real program ---------------------------------------------------------------------


def test_subprocess_validate(files: dict[str, Path]) -> None:
    paths = [files[n] for n in ("valid", "v3", "invalid", "unreadable", "too-new")]
    proc = docket_process("validate", *paths, "--format", "json")
    assert proc.returncode == 1
    results = json.loads(proc.stdout)
    assert [r["valid"] for r in results] == [True, True, False, False, False]
    assert "3 of 5 container(s) invalid" in proc.stderr
    proc = docket_process("validate", files["valid"], files["v3"])
    assert (proc.returncode, proc.stdout) == (0, "")
    proc = docket_process("validate", files["too-new"])
    assert proc.returncode == 1
    assert proc.stdout.startswith(f'{files["too-new"]}:1:2: $["version"]: ')
    assert "Traceback" not in proc.stderr
    proc = docket_process("validate", files["valid"], "--format", "github", "--shard", "x")
    assert proc.returncode == 2 and "error: --shard" in proc.stderr


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path: Path) -> None:
    """``docket validate ... | head``: the run catching every OSError printed "error: Broken
    pipe" once head had read its lines."""
    bad = tmp_path / "many.jsonl"
    bad.write_text('{"version": 2, "volume-base-metadata": {"display_name": 5}}\n' * 20_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "docket", "validate", str(bad)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as head does after its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert first.startswith(str(bad).encode()) and err == "", err


def test_subprocess_github_annotations(files: dict[str, Path]) -> None:
    proc = docket_process("validate", files["invalid"], "--format", "github")
    assert proc.returncode == 1
    column = files["invalid"].read_text().index('"display_name"') + 1
    assert proc.stdout.startswith(
        f"::error file={files['invalid']},line=1,col={column},title=docket validate::"
    )


def test_subprocess_migrate_and_inspect(files: dict[str, Path]) -> None:
    proc = docket_process("migrate", "-", "--to", "3", input=files["valid"].read_bytes())
    assert proc.returncode == 0 and json.loads(proc.stdout)["version"] == 3
    proc = docket_process("inspect", files["v3"], "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["version"] == 3
    proc = docket_process("inspect", files["too-new"])
    assert proc.returncode == 1 and "newer than the current version" in proc.stderr
    proc = docket_process("migrate", files["unreadable"], "--to", "2")
    assert proc.returncode == 1 and proc.stderr.startswith("error: ")


def test_subprocess_demo(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "docket", "demo"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "restore_backup_" in proc.stdout and proc.stderr == ""


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    big.write_text((json.dumps(cinder(2)) + "\n") * 20_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "docket", "validate", str(big), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait()
    assert "Traceback" not in err


# --- the reference page -------------------------------------------------------------------


def test_docs_cli_md_is_the_real_help() -> None:
    """docs/cli.md is generated from the commands' --help; regenerate it with
    ``python -m docket.cli > docs/cli.md`` (or DOCKET_REGENERATE_DOCS=1 pytest ...)."""
    page = ROOT / "docs" / "cli.md"
    expected = cli.reference()
    if os.environ.get("DOCKET_REGENERATE_DOCS") == "1":
        page.write_text(expected)
    assert page.read_text() == expected, "docs/cli.md drifted from --help: regenerate it"


# --- the pre-commit hooks -------------------------------------------------------------------


def test_the_pre_commit_hooks_run_real_commands(files: dict[str, Path]) -> None:
    import re

    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"docket-validate", "docket-check"}
    validate = hooks["docket-validate"]
    assert validate["entry"].split() == ["docket", "validate"]
    assert re.search(validate["files"], "backups/vol.json")
    assert re.search(validate["files"], "exports/all.jsonl")
    assert not re.search(validate["files"], "README.md")
    # what pre-commit runs: the entry, then the changed files
    args = validate["entry"].split()[1:]
    assert invoke(*args, files["valid"], files["v3"]).exit_code == 0
    assert invoke(*args, files["valid"], files["invalid"]).exit_code == 1
    check = hooks["docket-check"]
    assert check["pass_filenames"] is False
    assert re.search(check["files"], "schemas/notes/2.json")
    assert re.search(check["files"], "schemas/notes/manifest.json")
    assert invoke(*check["entry"].split()[1:], ROOT / "schemas").exit_code == 0


def test_each_command_is_found_in_its_own_module() -> None:
    """A command run by name imports only its module: the table of homes names exactly the
    commands the group registers, each the very same object."""
    from docket.cli import app

    every = {c.name: c for c in app._every_command()}
    assert set(app._HOMES) == set(every)
    for name, command in every.items():
        assert app._one_command(name) is command, name
    assert app._one_command("no-such-command") is None


@pytest.mark.parametrize(
    ("argv", "unloaded"),
    [
        (
            ["db", "init", "notaurl"],
            ("docket.fleet.audit", "docket.cli.audit", "docket.cli.volume"),
        ),
        (
            ["migrate", "missing.json", "--to", "3"],
            ("sqlalchemy", "docket.store", "docket.cli.audit"),
        ),
    ],
)
def test_a_command_refusing_its_input_loads_only_its_own_layers(
    tmp_path: Path, argv: list[str], unloaded: tuple[str, ...]
) -> None:
    code = (
        "import sys\n"
        "from docket.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as done:\n"
        "    print(done.code)\n"
        f"print(sorted(m for m in {list(unloaded)!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    exit_code, loaded = done.stdout.strip().splitlines()[-2:]
    assert exit_code in ("1", "2"), done.stderr
    assert loaded == "[]", loaded


@pytest.mark.parametrize("command", [("migrate", "--to", "2"), ("inspect",)])
def test_a_container_of_your_own_family_is_not_read_as_backup_metadata(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """A notes container (no `family` member) given without --family was read as Cinder's
    backup-metadata, whose versions 1 and 2 allow any member: `migrate --to 2` wrote a
    "version 2" backup-metadata container with the notes inside, exit 0. Its members name
    the family it belongs to: a usage error saying which --family to pass."""
    note = tmp_path / "note.json"
    note.write_text('{"version": 1, "note": {"title": "t"}, "tags": {}}')
    result = invoke("--schemas", FIXTURE_SCHEMAS, command[0], note, *command[1:])
    assert result.exit_code == 2, result.output
    assert "--family" in result.output and "--family notes" in result.output
    assert '"note"' in result.output
    assert not result.stdout.startswith("{")
    # Named, it migrates; --family backup-metadata still reads it as Cinder's, as asked.
    own = ("--family", "notes")
    named = invoke("--schemas", FIXTURE_SCHEMAS, command[0], note, *command[1:], *own)
    assert named.exit_code == 0, named.output
    forced = invoke(
        "--schemas", FIXTURE_SCHEMAS, command[0], note, *command[1:], "--family", "backup-metadata"
    )
    assert forced.exit_code == 0, forced.output


def test_a_cinder_container_with_an_unknown_member_is_still_backup_metadata(
    tmp_path: Path,
) -> None:
    """Only a member another family declares redirects: Cinder's own containers, with or
    without --schemas, and members no family declares read as before."""
    path = tmp_path / "b.json"
    path.write_text(json.dumps({**cinder(1), "x-extra": 1}))
    for prefix in ((), ("--schemas", FIXTURE_SCHEMAS)):
        result = invoke(*prefix, "migrate", path, "--to", "2")
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("output_format", ["text", "json", "github", "sarif", "junit"])
def test_validate_does_not_pass_your_own_family_as_backup_metadata(
    tmp_path: Path, output_format: str, jobs: str
) -> None:
    """`docket validate` without --family judged a notes container (no `family` member) as
    backup-metadata, whose Cinder versions 1 and 2 allow any member: valid, exit 0, while
    migrate and inspect refuse it. It is invalid now, at its first notes member, naming the
    --family to pass; in every format, with and without workers. Cinder's own containers
    (with a member no family declares) stay valid, and --family reads either as asked."""
    note = tmp_path / "note.json"
    note.write_text('{"version": 1, "note": {"title": "t"}, "tags": {}}')
    lines = tmp_path / "both.jsonl"
    lines.write_text(json.dumps({**cinder(1), "x-extra": 1}) + "\n" + note.read_text() + "\n")
    common = ("--schemas", FIXTURE_SCHEMAS, "validate", "--format", output_format, "--jobs", jobs)
    result = invoke(*common, note, lines)
    assert result.exit_code == 1, result.output
    assert "--family notes" in result.stdout, result.stdout
    assert "1 of 3" not in result.stderr and "2 of 3 container(s) invalid" in result.stderr
    named = invoke(*common, "--family", "notes", note)
    assert named.exit_code == 0, named.output
    forced = invoke(*common, "--family", "backup-metadata", note)
    assert forced.exit_code == 0, forced.output
    if output_format == "json":
        verdicts = json.loads(result.stdout)
        assert [v["valid"] for v in verdicts] == [False, True, False]
        assert verdicts[0]["errors"][0]["pointer"] == "/note"
        assert verdicts[0]["errors"][0]["keyword"] == "family"
