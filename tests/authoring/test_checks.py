"""``docket check``: each kind of finding, on a copy of the bundled schemas broken one way."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from docket import load_registry
from docket.authoring import release_version, start_version, update_version
from docket.authoring.checks import Report, run_checks
from docket.cli import commands
from docket.core.documents import bundled_schemas, fingerprint
from docket.errors import UsageError

REGISTRY = load_registry()


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(bundled_schemas(), target)
    return target


def edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def checks(directory: Path, against: str | None = None) -> Report:
    return run_checks(directory, REGISTRY, against=against)


def kinds(report: Report) -> set[tuple[str, str]]:
    return {(f.family, f.check) for f in report.findings}


def test_the_bundled_schemas_pass(schemas: Path) -> None:
    report = checks(schemas)
    assert report.ok, [str(f) for f in report.findings]
    assert report.families == len(REGISTRY.families())
    assert report.golden == sum(
        len(p) for n in REGISTRY.families() for p in REGISTRY.family(n).golden().values()
    )


def test_a_changed_released_document_breaks_its_fingerprint(schemas: Path) -> None:
    edit(schemas / "backup-record" / "1.json", lambda d: d.update(description="edited"))
    report = checks(schemas)
    assert kinds(report) == {("backup-record", "fingerprint")}
    (finding,) = report.findings
    assert "released version 1 changed" in finding.message
    assert finding.path == str(schemas / "backup-record" / "1.json")  # the file edited


def test_a_document_off_the_metaschema(schemas: Path) -> None:
    def add_keyword(doc: dict[str, Any]) -> None:
        doc["schema"]["properties"]["volume-metadata"]["minProperties"] = 1

    edit(schemas / "backup-metadata" / "2.json", add_keyword)
    report = checks(schemas)
    assert ("backup-metadata", "metaschema") in kinds(report)
    finding = next(f for f in report.findings if f.check == "metaschema")
    assert finding.path.endswith("backup-metadata/2.json")
    assert "minProperties" in finding.message
    # the other families are still checked
    assert report.families == len(REGISTRY.families())


def test_an_unsound_migration_graph(schemas: Path) -> None:
    edit(schemas / "backup-metadata" / "3.json", lambda d: d.pop("migration"))
    report = checks(schemas)
    # version 3 is released, so its changed document is a finding of its own
    assert kinds(report) == {("backup-metadata", "graph"), ("backup-metadata", "fingerprint")}
    graph = next(f for f in report.findings if f.check == "graph")
    assert "no upgrade from 2" in graph.message


def test_golden_containers_must_still_read_and_upgrade_the_same(schemas: Path) -> None:
    golden = schemas / "backup-record" / "golden" / "1"
    container = sorted(golden.glob("*.json"))[0]
    edit(container, lambda d: d.update(display_name=12))
    upgraded = golden / "upgraded" / "2" / sorted(golden.glob("*.json"))[1].name
    upgraded.write_bytes(upgraded.read_bytes() + b" ")
    report = checks(schemas)
    found = {Path(f.path).name: f.message for f in report.findings if f.check == "golden"}
    assert kinds(report) == {("backup-record", "golden")}
    assert "no longer valid" in found[container.name]
    assert "no longer gives the recorded bytes" in found[upgraded.name]


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(schemas: Path) -> Path:
    root = schemas.parent
    git(root, "init", "-q")
    git(root, "add", "schemas")
    git(root, "commit", "-q", "-m", "release")
    git(root, "tag", "v1")
    return root


def test_against_a_ref_nothing_changed(repo: Path) -> None:
    report = checks(repo / "schemas", against="v1")
    assert report.ok
    released = sum(len(REGISTRY.family(n).source.released) for n in REGISTRY.families())
    assert report.released_compared == released


def test_a_released_document_rewritten_with_a_new_fingerprint(repo: Path) -> None:
    """The manifest's fingerprint is updated too, so only the comparison with the ref sees it."""
    family = repo / "schemas" / "backup-record"
    edit(family / "1.json", lambda d: d.update(description="rewritten"))
    new_print = fingerprint(json.loads((family / "1.json").read_text()))
    edit(family / "manifest.json", lambda m: m["released"].update({"1": new_print}))
    assert checks(repo / "schemas").ok  # the fingerprint check alone is fooled
    report = checks(repo / "schemas", against="v1")
    assert kinds(report) == {("backup-record", "released")}
    messages = " ".join(f.message for f in report.findings)
    assert "release entry for version 1 changed since v1" in messages
    assert "was released at v1 and its document changed since" in messages


def test_an_edited_release_says_how_to_undo_it_at_one_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hint said only "add a new version instead"; the fingerprint finding named
    `schemas/<family>/manifest.json` and the --against one `<family>/1.json`, relative to
    the schema directory. Both name the edited document as the directory was given, and
    say how to revert the edit and where the change goes instead."""
    monkeypatch.chdir(repo)
    edit(Path("schemas") / "backup-record" / "1.json", lambda d: d.update(description="edited"))
    stdout = io.StringIO()
    code = commands.check(
        "schemas", against="v1", stdout=stdout, stderr=io.StringIO(), output_format="json"
    )
    assert code == 1
    findings = json.loads(stdout.getvalue())["findings"]
    assert {f["check"] for f in findings} == {"fingerprint", "released"}
    assert {f["path"] for f in findings} == {"schemas/backup-record/1.json"}
    for finding in findings:
        message = finding["message"]
        assert "git checkout" in message and "-- schemas/backup-record/1.json" in message
        assert "docket --schemas schemas new-version backup-record" in message
    assert "git checkout v1 -- " in next(f for f in findings if f["check"] == "released")["message"]


def test_a_released_version_removed_since_the_ref(repo: Path) -> None:
    family = repo / "schemas" / "backup-record"
    (family / "2.json").unlink()
    shutil.rmtree(family / "golden" / "2")
    shutil.rmtree(family / "golden" / "1" / "upgraded")

    def drop(manifest: dict[str, Any]) -> None:
        manifest["versions"] = [1]
        manifest["current"] = 1
        del manifest["released"]["2"]

    edit(family / "manifest.json", drop)
    report = checks(repo / "schemas", against="v1")
    assert kinds(report) == {("backup-record", "released")}
    assert "released at v1 and has been removed" in report.findings[0].message


def test_a_ref_that_does_not_exist_is_a_usage_error(repo: Path) -> None:
    with pytest.raises(UsageError, match="is not a commit"):
        checks(repo / "schemas", against="no-such-ref")
    stderr = io.StringIO()
    code = commands.check(
        repo / "schemas", against="no-such-ref", stdout=io.StringIO(), stderr=stderr
    )
    assert code == 2 and "no-such-ref" in stderr.getvalue()


def test_the_check_command_lists_findings_and_exits_1(schemas: Path) -> None:
    edit(schemas / "backup-record" / "2.json", lambda d: d.update(description="edited"))
    out = io.StringIO()
    assert commands.check(schemas, stdout=out, stderr=io.StringIO()) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("backup-record: fingerprint: ")
    assert lines[-1].endswith(": 1 finding(s)")
    out = io.StringIO()
    assert commands.check(schemas, output_format="json", stdout=out, stderr=io.StringIO()) == 1
    data = json.loads(out.getvalue())
    assert data["ok"] is False
    assert data["findings"][0]["family"] == "backup-record"
    assert set(data["findings"][0]) == {"family", "check", "path", "line", "column", "message"}


def test_a_family_folder_or_an_empty_folder_is_not_a_passing_check(
    schemas: Path, tmp_path: Path
) -> None:
    """Checking nothing is not a pass: a family folder given for the schema directory, or a
    folder with no family in it, is a usage error that says what to pass instead."""
    empty = tmp_path / "empty"
    empty.mkdir()
    for directory, expected in [
        (schemas / "backup-record", f"pass the directory holding it: {schemas}"),
        (empty, "holds no family folder"),
    ]:
        stderr = io.StringIO()
        code = commands.check(directory, stdout=io.StringIO(), stderr=stderr)
        assert code == 2 and expected in stderr.getvalue(), stderr.getvalue()


def test_schemas_naming_a_family_folder_is_a_usage_error(schemas: Path, tmp_path: Path) -> None:
    container = tmp_path / "c.json"
    container.write_text(json.dumps({"version": 1}))
    stderr = io.StringIO()
    code = commands.validate(
        [str(container)], schemas=schemas / "backup-record", stdout=io.StringIO(), stderr=stderr
    )
    assert code == 2
    assert f"--schemas: {schemas / 'backup-record'} is a family folder" in stderr.getvalue()


def test_a_started_version_whose_schema_changed_points_to_its_derivation(tmp_path: Path) -> None:
    """After `new-version` and an edit of the new schema, `check` said only "remove, rename or
    move it in this direction's operations": the migration `new-version --update` derives from
    the two schemas went unmentioned. Its findings now say how to derive it; an edge with
    operations, or a released version, keeps the hint it had."""
    schemas = tmp_path / "s"
    shutil.copytree(
        Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "notes", schemas / "notes"
    )
    folder = schemas / "notes"
    edit(folder / "manifest.json", lambda m: m.update(released={}))
    started = start_version(folder)

    def rename(doc: dict[str, Any]) -> None:
        note = doc["schema"]["properties"]["note"]["properties"]
        note["headline"] = note.pop("title")
        doc["schema"]["properties"]["note"]["required"] = ["headline"]
        fields = doc["policy"]["sections"]["note"].get("fields")
        if fields is not None:
            doc["policy"]["sections"]["note"]["fields"] = [
                "headline" if f == "title" else f for f in fields
            ]

    edit(started.path, rename)
    report = checks(schemas)
    found = [f for f in report.findings if f.check == "soundness"]
    assert found, [str(f) for f in report.findings]
    derive = f"docket --schemas {schemas} new-version notes --update, with --rename"
    assert all(derive in f.message for f in found), [f.message for f in found]
    assert all(f.path == str(started.path) for f in found)

    # Derived, the edge has operations: no finding is left to point anywhere.
    update_version(folder, [("note.title", "note.headline")])
    assert not [f for f in checks(schemas).findings if f.check == "soundness"]


def test_a_broken_edge_is_one_golden_line_in_text_and_every_file_in_json(
    tmp_path: Path,
) -> None:
    """A default the target schema refuses broke the edge notes 1 -> 2: `docket check`
    printed one near-identical golden finding per golden container after the soundness
    finding (12 lines). Text groups them per edge (the first file's finding, the count, the
    next names); JSON keeps every finding. Each golden finding says what is wrong (the
    invalid upgrade), not "migration failed" on a timestamp the failed run had already
    converted in place."""
    schemas = tmp_path / "schemas"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "schemas", schemas)
    release_version(load_registry(schemas).family("notes"), 1)
    goldens = sorted((schemas / "notes" / "golden" / "1").glob("*.json"))
    assert len(goldens) > 3

    def break_default(doc: dict[str, Any]) -> None:
        doc["migration"]["upgrade"][2]["default"] = "high"

    edit(schemas / "notes" / "2.json", break_default)
    text, as_json = io.StringIO(), io.StringIO()
    assert commands.check(schemas, stdout=text, stderr=io.StringIO()) == 1
    commands.check(schemas, stdout=as_json, stderr=io.StringIO(), output_format="json")
    lines = text.getvalue().splitlines()
    golden = [line for line in lines if ": golden: " in line]
    assert len(golden) == 1, lines
    assert f"and {len(goldens) - 1} more golden container(s) failing notes 1 -> 2" in golden[0]
    assert str(goldens[0]) in golden[0] and goldens[1].name in golden[0]
    assert "--format json lists each" in golden[0]
    assert lines[-1].endswith(f"{len(goldens) + 1} finding(s)")
    findings = json.loads(as_json.getvalue())["findings"]
    in_json = [f for f in findings if f["check"] == "golden"]
    assert sorted(f["path"] for f in in_json) == [str(p) for p in goldens]
    for finding in in_json:
        assert "the upgrade gives a container that is not valid at version 2" in finding["message"]
        assert '"high" is not of type "integer"' in finding["message"]
