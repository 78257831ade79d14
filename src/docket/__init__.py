"""docket: schema-versioned serialization, migration and restore of metadata containers.

The names below are the public surface. Everything else is importable from its module: every
error from :mod:`docket.errors`, the codec (``parse``, ``canonical``, ``Limits``) from
:mod:`docket.core.codec`, the database store from :mod:`docket.store`, backup drivers from
:mod:`docket.backup`.
"""

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
from docket.core.family import Container, Family
from docket.core.migrations import Converter, Migration
from docket.core.policy import (
    Mode,
    NamedRule,
    RestorePlan,
    RestorePolicy,
    RuleContext,
    Target,
    Unknown,
)
from docket.core.registry import Registry, load_registry

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
