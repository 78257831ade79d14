"""An error in a version document's policy or migration names the document's file and the
line and column of its ``$``-path, as a schema error does (``FILE:LINE:COLUMN: $-PATH``):
the policy's rules and fields are checked as the family is built, a migration's converters
as its edge is compiled, and neither knew the file before."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from docket.core.documents import bundled_schemas
from docket.core.errors import SchemaDocumentError
from docket.core.registry import load_registry


def family_dir(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the bundled backup-metadata family whose 3.json has ``old`` replaced."""
    root = tmp_path / "schemas"
    shutil.copytree(bundled_schemas() / "backup-metadata", root / "backup-metadata")
    doc = root / "backup-metadata" / "3.json"
    text = doc.read_text(encoding="utf-8")
    assert text.count(old) >= 1
    doc.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


def at(err: SchemaDocumentError) -> str:
    """The text at the error's line and column in its file."""
    assert err.line is not None and err.column is not None
    line = Path(err.source).read_text(encoding="utf-8").splitlines()[err.line - 1]
    return line[err.column - 1 :]


def test_an_unknown_rule_names_its_file_line_and_column(tmp_path: Path) -> None:
    root = family_dir(tmp_path, '"name": "volume-type"', '"name": "volume-typo"')
    with pytest.raises(SchemaDocumentError) as info:
        load_registry(root)
    err = info.value
    assert Path(err.source) == root / "backup-metadata" / "3.json"
    assert err.segments == ("policy", "sections", "volume-base-metadata", "rules", 1, "name")
    assert at(err).startswith('"name": "volume-typo"')
    assert 'unknown restore rule "volume-typo"' in err.reason
    assert str(err).startswith(f"{err.source}:{err.line}:{err.column}: $[")


def test_a_policy_field_the_section_lacks_names_its_place(tmp_path: Path) -> None:
    root = family_dir(tmp_path, '"display_description",', '"display_descripton",')
    with pytest.raises(SchemaDocumentError) as info:
        load_registry(root)
    err = info.value
    assert err.segments == ("policy", "sections", "volume-base-metadata", "fields", 1)
    assert at(err).startswith('"display_descripton"')


def test_an_unknown_converter_names_its_member_not_the_downgrade(tmp_path: Path) -> None:
    # Before: `migration: $["migration"]["downgrade"]: converter ... has no inverse`, with
    # no file, though the converter is named in the upgrade.
    root = family_dir(tmp_path, '"converter": "naive-utc-to-aware"', '"converter": "naive"')
    with pytest.raises(SchemaDocumentError) as info:
        load_registry(root)
    err = info.value
    assert Path(err.source) == root / "backup-metadata" / "3.json"
    assert err.segments[:3] == ("migration", "upgrade", 1)
    assert err.segments[3:] == ("converter",)
    assert at(err).startswith('"converter": "naive"')
    assert err.reason == 'unknown converter "naive"'
    assert "naive-utc-to-aware" in err.hint and "load_registry(converters=" in err.hint


def test_a_converter_registered_in_python_is_known(tmp_path: Path) -> None:
    from docket.core.converters import BUILTIN_CONVERTERS, Converter

    builtin = BUILTIN_CONVERTERS["naive-utc-to-aware"]
    root = family_dir(tmp_path, '"converter": "naive-utc-to-aware"', '"converter": "mine"')
    mine = Converter("mine", builtin.forward, builtin.inverse_name)
    registry = load_registry(root, converters=[mine], check_soundness=False)
    assert registry.family("backup-metadata").graph.current == 3
