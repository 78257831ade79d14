"""docket: schema-versioned serialization, migration and restore of metadata containers.

The names below are the public surface. Everything else is importable from its module: every
error from :mod:`docket.errors`, the codec (``parse``, ``canonical``, ``Limits``) from
:mod:`docket.core.codec`, the database store from :mod:`docket.store`, backup drivers from
:mod:`docket.backup`.
"""

import typing

import docket._lazy
from docket.core.errors import (
    DocketError,
    IntegrityError,
    LossyMigration,
    MigrationError,
    ParseError,
    RestoreRefused,
    SchemaDocumentError,
    ValidationError,
    VersionError,
)

if typing.TYPE_CHECKING:
    from docket.core.converters import Converter
    from docket.core.family import Container, Family
    from docket.core.migrations import Migration
    from docket.core.policy import Mode, RestorePlan, RestorePolicy, RuleContext, Target, Unknown
    from docket.core.registry import Registry, load_registry
    from docket.core.rules import NamedRule

__getattr__ = docket._lazy.lazy_exports(
    __name__,
    {
        "docket.core.converters": "Converter",
        "docket.core.family": "Container Family",
        "docket.core.migrations": "Migration",
        "docket.core.policy": "Mode RestorePlan RestorePolicy RuleContext Target Unknown",
        "docket.core.registry": "Registry load_registry",
        "docket.core.rules": "NamedRule",
    },
)
"""The families, migrations, policies and the registry, imported when first asked for: a
command (``docket validate``) or a program importing one submodule loads only what it uses."""

__version__ = "0.1.0"

__all__ = [
    "Container",
    "Converter",
    "DocketError",
    "Family",
    "IntegrityError",
    "LossyMigration",
    "Migration",
    "MigrationError",
    "Mode",
    "NamedRule",
    "ParseError",
    "Registry",
    "RestorePlan",
    "RestorePolicy",
    "RestoreRefused",
    "RuleContext",
    "SchemaDocumentError",
    "Target",
    "Unknown",
    "ValidationError",
    "VersionError",
    "__version__",
    "load_registry",
]
