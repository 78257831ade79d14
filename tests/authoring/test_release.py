"""Releasing a version (docket.authoring.release, ``docket release``): all or nothing, the
promises it pins (golden containers, upgrades of older ones), and what ``docket check`` says
when a release lacks them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import docket.authoring
import docket.authoring.versions
import docket.fs
import docket.fs_changes
from docket import load_registry
from docket.authoring import ReleaseRefused, plan_release, release_version
from docket.cli.authoring import new_version, release
from docket.cli.check import check
from docket.core.errors import UsageError
from docket.core.golden import UPGRADED
from docket.core.migrations import Add, Remove
from tests._families import version_document, write_family
from tests._no_hypothesis import WITHOUT_HYPOTHESIS


def _write_family(root: Path) -> Path:
    note = {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {"text": {"type": "string", "maxLength": 40}},
    }
    policy = {"sections": {"note": {"restore": True, "mode": "update"}}}
    document = version_document("notes", 1, {"note": note}, policy=policy)
    return write_family(root, "notes", {1: document})


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    return _write_family(tmp_path / "schemas")


def run(command: Any, *args: Any, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = command(*args, stdout=out, stderr=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def grow(schemas: Path, field: str) -> None:
    """new-version, a new optional field with a default, --update: the next version."""
    assert run(new_version, "notes", schemas=schemas)[0] == 0
    manifest = json.loads((schemas / "notes" / "manifest.json").read_text())
    path = schemas / "notes" / f"{manifest['current']}.json"
    doc = json.loads(path.read_text())
    doc["schema"]["properties"]["note"]["properties"][field] = {"type": "integer", "default": 0}
    path.write_text(json.dumps(doc, indent=2))
    code, out, err = run(new_version, "notes", schemas=schemas, update=True)
    assert code == 0, out + err


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root``, by relative path, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def findings(schemas: Path) -> list[dict[str, str]]:
    code, out, err = run(check, schemas, output_format="json")
    assert code in (0, 1), err
    found: list[dict[str, str]] = json.loads(out)["findings"]
    return found


def golden(schemas: Path) -> Path:
    return schemas / "notes" / "golden"


# --- the documented workflow pins every upgrade --------------------------------------------


def test_each_release_pins_the_upgrades_of_every_older_golden_container(schemas: Path) -> None:
    assert run(release, "notes", "1", schemas=schemas)[0] == 0
    grow(schemas, "pages")
    assert run(release, "notes", "2", schemas=schemas)[0] == 0
    grow(schemas, "words")
    code, out, err = run(release, "notes", "3", schemas=schemas)
    assert code == 0, err
    assert "pinned the upgrade to 3" in out
    g = golden(schemas)
    for older, newer in ((1, 2), (1, 3), (2, 3)):
        containers = sorted(p.name for p in (g / str(older)).glob("*.json"))
        pinned = sorted(p.name for p in (g / str(older) / UPGRADED / str(newer)).glob("*.json"))
        assert containers and pinned == containers, (older, newer)
        # Each pin is what docket makes of the container at the newer version.
        family = load_registry(schemas).family("notes")
        for name in containers:
            container = family.load((g / str(older) / name).read_bytes(), to=older)
            assert (
                family.dump(container, version=newer)
                == (g / str(older) / UPGRADED / str(newer) / name).read_bytes()
            )
    assert findings(schemas) == []


def test_a_release_pins_nothing_at_an_unreleased_version(schemas: Path) -> None:
    grow(schemas, "pages")  # 2 exists, unreleased, when 1 is released
    assert run(release, "notes", "1", schemas=schemas)[0] == 0
    assert not (golden(schemas) / "1" / UPGRADED).exists()
    assert findings(schemas) == []


# --- check reports what a release lacks ----------------------------------------------------


def test_check_reports_a_released_version_without_golden_containers(schemas: Path) -> None:
    assert run(release, "notes", "1", schemas=schemas, golden=False)[0] == 0
    found = findings(schemas)
    assert [f["check"] for f in found] == ["golden"]
    assert "version 1 is released and has no golden containers" in found[0]["message"]
    # Releasing it again records what is missing, and then the check passes.
    code, out, _ = run(release, "notes", "1", schemas=schemas)
    assert code == 0 and "recorded what its release lacked" in out
    assert findings(schemas) == []


def test_check_reports_missing_upgrades_and_a_re_release_records_only_those(
    schemas: Path,
) -> None:
    assert run(release, "notes", "1", schemas=schemas)[0] == 0
    grow(schemas, "pages")
    assert run(release, "notes", "2", schemas=schemas)[0] == 0
    pinned = sorted((golden(schemas) / "1" / UPGRADED / "2").glob("*.json"))
    pinned[0].unlink()
    found = findings(schemas)
    assert [f["check"] for f in found] == ["golden"]
    assert "have no recorded upgrade to the released version 2" in found[0]["message"]
    before = tree(schemas)
    code, _, err = run(release, "notes", "2", schemas=schemas)
    assert code == 0, err
    after = tree(schemas)
    added = set(after) - set(before)
    assert added == {str(pinned[0].relative_to(schemas))}
    assert all(after[name] == data for name, data in before.items())
    assert findings(schemas) == []


# --- re-releasing --------------------------------------------------------------------------


def test_re_releasing_a_released_version_changes_nothing(schemas: Path) -> None:
    assert run(release, "notes", "1", schemas=schemas)[0] == 0
    before = tree(schemas)
    code, out, err = run(release, "notes", "1", schemas=schemas)
    assert (code, err) == (0, "")
    assert "is released already" in out and "nothing changed" in out
    assert tree(schemas) == before


def test_re_releasing_a_changed_document_is_refused_and_changes_nothing(schemas: Path) -> None:
    assert run(release, "notes", "1", schemas=schemas)[0] == 0
    grow(schemas, "pages")
    assert run(release, "notes", "2", schemas=schemas)[0] == 0
    path = schemas / "notes" / "2.json"
    doc = json.loads(path.read_text())
    doc["schema"]["properties"]["note"]["properties"]["pages"]["default"] = 5
    path.write_text(json.dumps(doc, indent=2))
    before = tree(schemas)
    code, _, err = run(release, "notes", "2", schemas=schemas)
    assert code == 1 and "nothing was released" in err
    assert tree(schemas) == before
    # The library refuses it too, for a family built from the changed documents.
    family = load_registry(schemas, check_soundness=False).family("notes")
    before = tree(schemas)
    with pytest.raises(ReleaseRefused) as err:
        release_version(family, 2)
    assert "changed since" in str(err.value) and "nothing was released" in str(err.value)
    assert tree(schemas) == before


# --- all or nothing ------------------------------------------------------------------------

NO_HYPOTHESIS = WITHOUT_HYPOTHESIS + "from docket.cli.app import main\nmain()\n"


def test_without_hypothesis_a_release_is_refused_before_writing_anything(
    schemas: Path,
) -> None:
    grow(schemas, "pages")
    before = tree(schemas)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DOCKET_"))}
    proc = subprocess.run(
        [sys.executable, "-c", NO_HYPOTHESIS, "release", "notes", "2", "--schemas", str(schemas)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "writing golden containers needs hypothesis" in proc.stderr
    assert "nothing was released" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree(schemas) == before
    # --no-golden needs no hypothesis; the release it makes is one check reports.
    where = ("--schemas", str(schemas))
    proc = subprocess.run(
        [sys.executable, "-c", NO_HYPOTHESIS, "release", "notes", "2", "--no-golden", *where],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [f["check"] for f in findings(schemas)] == ["golden"]


def test_a_failure_at_any_step_of_the_write_leaves_every_file_as_it_was(
    schemas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(release, "notes", "1", schemas=schemas)[0] == 0
    grow(schemas, "pages")
    family = load_registry(schemas).family("notes")
    plan = plan_release(family, 2)
    steps = len(plan.changes.changed())
    assert steps > 10  # golden containers of 2, pins of 1's, the manifest
    before = tree(schemas)
    real = os.replace
    calls = 0
    fail_at = 0

    def failing(src: Any, dst: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise OSError(28, "No space left on device", str(dst))
        real(src, dst)

    monkeypatch.setattr(docket.fs.os, "replace", failing)
    # Fail at the first rename, then the second, ... until the release gets through. The plan
    # is made once (making it generates the golden containers); each attempt writes it as
    # release_version does.
    for fail_at in range(1, 10 * steps):
        calls = 0
        try:
            docket.fs_changes.apply_changes(plan.changes)
        except OSError:
            assert tree(schemas) == before, fail_at
            assert not [p for p in schemas.rglob(".*") if p.is_file()], fail_at  # temporaries
            continue
        break
    assert fail_at > steps  # every step failed once before the release got through
    assert json.loads((schemas / "notes" / "manifest.json").read_text())["released"].keys() == {
        "1",
        "2",
    }
    assert findings(schemas) == []


def test_the_command_reports_a_failed_write_with_exit_1(
    schemas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tree(schemas)

    def full_disk(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(docket.fs.os, "replace", full_disk)
    code, _, err = run(release, "notes", "1", schemas=schemas)
    assert code == 1 and "No space left on device" in err and "Traceback" not in err
    assert tree(schemas) == before


# --- golden messages show what they quote ---------------------------------------------------

INVISIBLE = "\u200b\u200b\u2060\x07"


@pytest.mark.parametrize("text", [INVISIBLE * 12, INVISIBLE])
def test_a_golden_problem_shows_invisible_characters_escaped(schemas: Path, text: str) -> None:
    # Too long for maxLength (invalid), or valid but written with JSON escapes (not canonical).
    assert run(release, "notes", "1", schemas=schemas)[0] == 0
    path = sorted((golden(schemas) / "1").glob("*.json"))[0]
    data = json.loads(path.read_bytes())
    data["note"]["text"] = text
    path.write_text(json.dumps(data, ensure_ascii=len(text) < 10))
    found = findings(schemas)
    assert found and all(f["check"] == "golden" for f in found)
    message = found[0]["message"]
    assert not set(INVISIBLE) & set(message), message
    assert "\\u200b" in message and "\\u2060" in message


# --- new-version writes all or nothing too ----------------------------------------------------


def test_new_version_that_fails_to_write_leaves_the_family_as_it_was(
    schemas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version document and the manifest that makes it current: both, or neither."""
    before = tree(schemas)
    real = os.replace
    failed = []

    def manifest_fails(src: Any, dst: Any) -> None:
        # The new manifest's rename fails once (putting the old one back still works).
        if Path(dst).name == "manifest.json" and not failed:
            failed.append(dst)
            raise OSError(28, "No space left on device", str(dst))
        real(src, dst)

    monkeypatch.setattr(docket.fs.os, "replace", manifest_fails)
    code, _, err = run(new_version, "notes", schemas=schemas)
    assert code == 1 and "No space left on device" in err and "Traceback" not in err
    assert tree(schemas) == before
    assert not (schemas / "notes" / "2.json").exists()


def test_new_version_update_writes_its_document_once_and_final(
    schemas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--update judges the downgrade on a copy: the document is written once, already lossy
    where the schemas say so (no exact migration on disk in between)."""
    assert run(new_version, "notes", schemas=schemas)[0] == 0
    path = schemas / "notes" / "2.json"
    doc = json.loads(path.read_text())
    doc["schema"]["properties"]["note"]["properties"]["pages"] = {"type": "integer", "default": 0}
    path.write_text(json.dumps(doc, indent=2))
    written: list[dict[str, Any]] = []
    real = docket.authoring.versions.apply_changes

    def recording(changes: Any) -> Any:
        for target, data in changes.writes.items():
            if Path(target) == path:
                written.append(json.loads(data))
        return real(changes)

    monkeypatch.setattr(docket.authoring.versions, "apply_changes", recording)
    assert run(new_version, "notes", schemas=schemas, update=True)[0] == 0
    assert len(written) == 1
    assert written[0]["migration"]["downgrade"]["kind"] == "lossy"
    assert written[0]["migration"]["downgrade"]["losses"] == ["note.pages"]
    assert not [p for p in schemas.rglob("*") if "docket-new-version" in p.name]


# --- the library calls behind the commands (docket.authoring) ---------------------------------


def test_the_library_starts_and_updates_a_version_and_says_what_it_wrote(
    schemas: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = schemas / "notes"
    started = docket.authoring.start_version(folder)
    assert (started.previous, started.version) == (1, 2)
    assert started.path == folder / "2.json" and started.path.is_file()
    assert json.loads((folder / "manifest.json").read_text())["current"] == 2
    doc = json.loads(started.path.read_text())
    doc["schema"]["properties"]["note"]["properties"]["pages"] = {"type": "integer", "default": 0}
    started.path.write_text(json.dumps(doc))

    update = docket.authoring.update_version(folder)
    assert (update.source, update.target, update.path) == (1, 2, started.path)
    assert update.upgrade == (Add("note", "pages", 0),)
    assert update.downgrade == (Remove("note", "pages", 0),)
    assert (update.kind, update.losses, update.ok) == ("lossy", ("note.pages",), True)
    written = json.loads(started.path.read_text())["migration"]
    assert written["upgrade"] == [op.spec() for op in update.upgrade]
    assert written["downgrade"]["kind"] == update.kind
    assert capsys.readouterr() == ("", "")  # a library call prints nothing


def test_the_library_refuses_a_rename_of_a_missing_field_and_writes_nothing(
    schemas: Path,
) -> None:
    folder = schemas / "notes"
    docket.authoring.start_version(folder)
    before = (folder / "2.json").read_bytes()
    with pytest.raises(UsageError) as caught:
        docket.authoring.update_version(folder, [("note.title", "note.heading")])
    assert caught.value.argument == "--rename"
    assert (folder / "2.json").read_bytes() == before


def test_the_library_releases_a_version_typed_as_text(schemas: Path) -> None:
    folder = schemas / "notes"
    plan = docket.authoring.release(folder, "1", golden=False)
    assert plan.version == 1 and not plan.released_before
    recorded = json.loads((folder / "manifest.json").read_text())["released"]
    assert recorded == {"1": plan.fingerprint}
    with pytest.raises(UsageError) as caught:
        docket.authoring.release(folder, "7", golden=False)
    assert caught.value.argument == "VERSION" and "versions: 1" in str(caught.value)


def test_the_library_check_reports_the_directory_it_checked(schemas: Path) -> None:
    report = docket.authoring.check(schemas)
    assert report.directory == schemas and report.families == 1
    data = report.as_dict()
    assert data["directory"] == str(schemas) and data["ok"] is report.ok
    assert data["findings"] == [f.as_dict() for f in report.findings]
