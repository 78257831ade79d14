"""Property-based testing for container families: strategies, properties, golden files.

Needs hypothesis: docket's ``testing`` extra (docket is not on PyPI: see :data:`_INSTALL_HINT`
and docs/ci.md). The names below load on first use, so the
pytest plugin in :mod:`docket.testing.plugin`, which every pytest run of a docket install
imports, costs nothing and keeps working where hypothesis is not installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docket.testing._properties import (
        PROPERTIES,
        InvalidContainer,
        PropertyFailure,
        check_canonical_stable,
        check_downgrade_inverse,
        check_dump_load,
        check_invalid_refused,
        check_restore_allowlist,
        check_round_trip,
        check_upgrade_deterministic,
        check_upgrade_valid,
        containers,
        invalid_containers,
        sections,
    )
    from docket.testing.golden import GoldenMismatch, check_golden, record_golden
    from docket.testing.store_kit import check_object_store

__all__ = [
    "PROPERTIES",
    "GoldenMismatch",
    "InvalidContainer",
    "PropertyFailure",
    "check_canonical_stable",
    "check_downgrade_inverse",
    "check_dump_load",
    "check_golden",
    "check_invalid_refused",
    "check_object_store",
    "check_restore_allowlist",
    "check_round_trip",
    "check_upgrade_deterministic",
    "check_upgrade_valid",
    "containers",
    "invalid_containers",
    "record_golden",
    "sections",
]

_INSTALL_HINT = (
    "docket.testing needs hypothesis: install docket with its testing extra (docket is not "
    "on PyPI): pip install 'docket[testing] @ git+https://git.example.org/docket.git@<commit>'"
    " (or a wheel you built: pip install 'dist/docket-0.1.0-py3-none-any.whl[testing]'; in a "
    "checkout of docket: pip install -c constraints.txt -e '.[testing]')"
)
_GOLDEN = frozenset({"GoldenMismatch", "check_golden", "record_golden"})
_STORE_KIT = frozenset({"check_object_store"})
"""Names that need no hypothesis: the object-store test kit."""


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'docket.testing' has no attribute {name!r}")
    if name in _STORE_KIT:
        value = getattr(importlib.import_module("docket.testing.store_kit"), name)
        globals()[name] = value
        return value
    try:
        import hypothesis  # noqa: F401
    except ImportError as err:
        raise ImportError(_INSTALL_HINT, name="hypothesis") from err
    module = "docket.testing.golden" if name in _GOLDEN else "docket.testing._properties"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
