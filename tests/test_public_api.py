"""The public surface: ``docket.__all__`` is exactly what the package exports."""

from __future__ import annotations

import inspect

import docket


def test_all_is_exactly_the_public_surface() -> None:
    public = {
        name
        for name, value in vars(docket).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(docket.__all__) - {"__version__"} == public
    assert sorted(docket.__all__) == list(docket.__all__)


def test_every_error_is_a_docket_error() -> None:
    errors = [v for v in vars(docket).values() if inspect.isclass(v) and issubclass(v, Exception)]
    assert len(errors) > 20
    assert all(issubclass(e, docket.DocketError) for e in errors)


def test_errors_share_the_stdlib_meaning() -> None:
    assert issubclass(docket.UnknownVersion, ValueError)
    assert issubclass(docket.UnknownFamily, LookupError)
    assert issubclass(docket.NotAnObject, TypeError)


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
