"""Schema documents are checked against the metaschema as they are read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.core.documents import fingerprint, read_family

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schemas"


def _copy_notes(tmp_path: Path) -> Path:
    dst = tmp_path / "schemas" / "notes"
    shutil.copytree(FIXTURES / "notes", dst)
    return dst


def _edit(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _note_section(d: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = d["policy"]["sections"]["note"]
    return section


@pytest.mark.parametrize(
    ("document", "change", "expected"),
    [
        pytest.param(
            "1.json",
            lambda d: d["schema"]["properties"]["note"].update({"oneOf": [{"type": "object"}]}),
            ["1.json", "oneOf"],
            id="unsupported-schema-keyword",
        ),
        pytest.param(
            "1.json",
            lambda d: _note_section(d)["fields"].append("colour"),
            ["colour", '$["policy"]["sections"]["note"]["fields"][2]'],
            id="policy-names-an-undefined-field",
        ),
        pytest.param(
            "1.json",
            lambda d: d["policy"]["sections"].update({"extra": {"restore": True}}),
            ["extra"],
            id="policy-names-an-undefined-section",
        ),
        pytest.param(
            "1.json",
            lambda d: _note_section(d).update({"rules": [{"name": "no-such-rule"}]}),
            ["no-such-rule"],
            id="policy-names-an-unknown-rule",
        ),
        pytest.param(
            "1.json",
            lambda d: _note_section(d).update({"mode": "upsert"}),
            ["upsert"],
            id="bad-mode",
        ),
        pytest.param(
            "2.json",
            lambda d: d["schema"]["properties"]["version"].update({"const": 3}),
            ["const"],
            id="version-const-must-match",
        ),
    ],
)
def test_a_bad_document_is_refused_at_load_saying_where(
    tmp_path: Path, document: str, change: Any, expected: list[str]
) -> None:
    fam = _copy_notes(tmp_path)
    _edit(fam / document, change)
    with pytest.raises(docket.SchemaDocumentError) as info:
        docket.load_registry(fam.parent)
    for text in expected:
        assert text in str(info.value)


def test_missing_document(tmp_path: Path) -> None:
    fam = _copy_notes(tmp_path)
    (fam / "2.json").unlink()
    with pytest.raises(docket.SchemaDocumentError, match="no document for version 2"):
        docket.load_registry(fam.parent)


def test_malformed_json_document(tmp_path: Path) -> None:
    fam = _copy_notes(tmp_path)
    (fam / "1.json").write_text('{"family": "notes", "family": "notes"}')
    with pytest.raises(docket.SchemaDocumentError, match="duplicate"):
        docket.load_registry(fam.parent)


def test_fingerprints_catch_a_changed_released_document(tmp_path: Path) -> None:
    fam = _copy_notes(tmp_path)
    doc = json.loads((fam / "1.json").read_text())
    _edit(fam / "manifest.json", lambda m: m["released"].update({"1": fingerprint(doc)}))
    assert list(read_family(fam).fingerprint_findings()) == []
    _edit(
        fam / "1.json",
        lambda d: d["schema"]["properties"]["note"]["properties"]["title"].update(
            {"maxLength": 60}
        ),
    )
    findings = list(read_family(fam).fingerprint_findings())
    assert len(findings) == 1
    assert "released version 1 changed" in findings[0]


def test_fingerprint_ignores_formatting() -> None:
    doc = {"b": [1, 2], "a": {"x": None}}
    assert fingerprint(doc) == fingerprint(json.loads(json.dumps(doc, indent=4)))
    assert fingerprint(doc).startswith("sha256:")


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(docket.SchemaDocumentError, match="not a directory"):
        docket.load_registry(tmp_path / "missing")
