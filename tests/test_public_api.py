"""The public surface: each package's ``__all__`` is pinned, and every name in it resolves.

A name added to or dropped from a package's surface fails here first; change the pinned list
(``tests/data/public_api.json``) and the CHANGELOG together.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import pytest

import docket
import docket.core.errors
import docket.errors

_PINNED = json.loads((Path(__file__).parent / "data" / "public_api.json").read_text())
SURFACES: dict[str, list[str]] = _PINNED["surfaces"]
# Names that left ``docket``'s surface, and the module each is imported from now.
MOVED: dict[str, list[str]] = _PINNED["moved"]


@pytest.mark.parametrize("module_name", sorted(SURFACES))
def test_all_is_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert list(module.__all__) == SURFACES[module_name]


@pytest.mark.parametrize("module_name", sorted(SURFACES))
def test_every_exported_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{module_name}.{name}"


def test_docket_exports_nothing_it_does_not_list() -> None:
    for name in docket.__all__:  # a lazy name (PEP 562) joins the namespace when first used
        getattr(docket, name)
    public = {
        name
        for name, value in vars(docket).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(docket.__all__) - {"__version__"} == public
    assert len(docket.__all__) <= 25
    assert sorted(docket.__all__) == list(docket.__all__)


@pytest.mark.parametrize(
    ("module_name", "name"), [(m, n) for m, names in MOVED.items() for n in names]
)
def test_names_dropped_from_docket_live_in_their_modules(module_name: str, name: str) -> None:
    assert not hasattr(docket, name)
    assert hasattr(importlib.import_module(module_name), name)


# Where each error is defined: the layer that raises it.
ERROR_HOMES = ("docket.core.errors", "docket.store.errors", "docket.backup.errors")


def test_docket_errors_exports_every_error() -> None:
    homes = [importlib.import_module(name) for name in ERROR_HOMES]
    defined = {
        name: value
        for home in homes
        for name, value in vars(home).items()
        if inspect.isclass(value)
        and issubclass(value, docket.DocketError)
        and value.__module__ == home.__name__
    }
    assert {"Deadlock", "VolumeNotFound", "InvalidBackup", "BackupNotFound"} <= set(defined)
    assert set(defined) <= set(docket.errors.__all__)
    for name, value in defined.items():
        assert getattr(docket.errors, name) is value
    # Nothing is exported that no home defines (an error class, that is).
    for name in docket.errors.__all__:
        value = getattr(docket.errors, name)
        if inspect.isclass(value) and issubclass(value, docket.DocketError):
            assert defined.get(name) is value, name
    # The command line keeps importing them from docket.cli.errors; they are the same classes.
    cli_errors = importlib.import_module("docket.cli.errors")
    for name in ("CommandFailed", "UsageError"):
        assert getattr(docket.errors, name) is getattr(cli_errors, name)
    with pytest.raises(AttributeError):
        _ = docket.errors.NoSuchError


def test_each_package_exports_its_own_errors() -> None:
    store = importlib.import_module("docket.store")
    backup = importlib.import_module("docket.backup")
    for module, base in ((store, docket.errors.StoreError), (backup, docket.errors.BackupError)):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, docket.DocketError):
                assert value is getattr(docket.errors, name)
        assert getattr(module, base.__name__) is base


def test_every_error_is_a_docket_error() -> None:
    errors = [
        v for v in vars(docket.errors).values() if inspect.isclass(v) and issubclass(v, Exception)
    ]
    assert len(errors) > 20
    assert all(issubclass(e, docket.DocketError) for e in errors)


def test_errors_share_the_stdlib_meaning() -> None:
    assert issubclass(docket.errors.UnknownVersion, ValueError)
    assert issubclass(docket.errors.UnknownFamily, LookupError)
    assert issubclass(docket.errors.NotAnObject, TypeError)
    assert issubclass(docket.errors.VolumeNotFound, LookupError)
    assert issubclass(docket.errors.BackupNotFound, LookupError)


def test_fixed_api_names_exist() -> None:
    fam = docket.load_registry().family("backup-metadata")
    for name in (
        "name",
        "versions",
        "current",
        "load",
        "validate",
        "dump",
        "upgrade",
        "downgrade",
        "policy",
    ):
        assert hasattr(fam, name)
    assert callable(fam.policy(2).filter)


def test_docket_cinder_outside_cinder_says_what_to_install() -> None:
    """``docket.cinder`` is loaded by cinder-backup; elsewhere importing it is a typed error
    (an ImportError too) that says how to install docket into Cinder's environment."""
    import subprocess
    import sys

    code = (
        "import docket.errors\n"
        "try:\n"
        "    import docket.cinder\n"
        "except docket.errors.MissingCinder as err:\n"
        "    assert isinstance(err, ImportError)\n"
        "    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("docket.cinder runs inside Cinder's environment: ")
    assert "pip install docket" in done.stdout
