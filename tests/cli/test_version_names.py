"""A version named on the command line is read one way by every command that takes one
(``docket.core.family.Family.named_version``): exactly as docket writes it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from click.testing import CliRunner

from docket.cli import app
from tests.cli.test_bad_input_matrix import MATRIX, USAGE, Case, assert_one_error
from tests.cli.test_bad_input_matrix import places as places  # the fixture, shared

VERSIONED: dict[str, tuple[str, ...]] = {
    "docket migrate --to": ("migrate", "{valid}", "--to", "{v}"),
    "docket diff A": ("diff", "backup-metadata", "{v}", "2"),
    "docket diff B": ("diff", "backup-metadata", "2", "{v}"),
    "docket schema VERSION": ("schema", "backup-metadata", "{v}"),
    "docket backup --version": ("backup", "--db", "sqlite:///{db}", "VOL", "--version", "{v}"),
    "docket volume export-record --record-version": (
        "volume",
        "export-record",
        "{backup_id}",
        "--root",
        "{backups}",
        "--record-version",
        "{v}",
    ),
}
"""Every command that takes a version, with ``{v}`` where it goes (``docket release``'s is
in tests/authoring/test_release_files.py: it needs a family of one's own)."""


def test_every_command_taking_a_version_is_listed() -> None:
    """The rows of :data:`MATRIX` whose unknown input is a version (99) are those here."""
    typed = {
        command
        for command, entries in MATRIX.items()
        for entry in entries.values()
        if isinstance(entry, Case) and "99" in entry.argv
    }
    assert all(any(name.startswith(f"{c} ") for name in VERSIONED) for c in typed), typed


@pytest.mark.parametrize("spelled", [" 1", "1 ", "01", "+1", "v1", "\u0661", "1\n"])
@pytest.mark.parametrize("command", sorted(VERSIONED))
def test_a_version_is_named_as_docket_writes_it(
    command: str, spelled: str, places: Mapping[str, str]
) -> None:
    """A version on the command line is exactly its canonical text: `` 1``, ``01``, ``v1`` and
    an Arabic-Indic one were read as 1 (``--record-version`` through click's int, which reads
    them all). Each is a usage error naming the option, its hint the spelling meant."""
    argv = [arg.format(**places, v=spelled) for arg in VERSIONED[command]]
    result = CliRunner().invoke(app.cli, argv)
    assert result.exit_code == USAGE, (result.stdout, result.stderr)
    assert_one_error(result.stderr, result.stdout)
    option = argv[argv.index(spelled) - 1] if argv[argv.index(spelled) - 1][0] == "-" else None
    named = option or ("A" if command.endswith(" A") else "B" if command.endswith(" B") else None)
    assert result.stderr.startswith(f"error: {named or 'VERSION'}: "), result.stderr
    assert "did you mean 1?" in result.stderr, result.stderr


def test_a_version_thousands_of_digits_long_is_shown_by_its_start() -> None:
    """The refusal echoed all 5,000 digits back (and a hint of the versions there are)."""
    result = CliRunner().invoke(app.cli, ["schema", "backup-metadata", "7" * 5000])
    assert result.exit_code == USAGE
    assert_one_error(result.stderr, result.stdout)
    assert '"' + "7" * 80 + '" (cut) is not a version of backup-metadata' in result.stderr
    assert len(result.stderr) < 300, result.stderr
