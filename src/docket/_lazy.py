"""Names a module exports but imports only when first asked for (PEP 562).

``docket.errors`` exports the store's and the backup layer's errors without loading SQLAlchemy
or the drivers; ``docket.fleet`` exports its entry points without loading the backup layer for
``docket validate``. Each lists its lazy names once, by the module that defines them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(module: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module``: ``homes`` maps the module that defines each lazy
    name to the names, separated by white space."""
    home_of = {name: home for home, names in homes.items() for name in names.split()}

    def __getattr__(name: str) -> Any:
        home = home_of.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        # Kept in the module's namespace: the next use finds it there, as an eager import's.
        setattr(sys.modules[module], name, value)
        return value

    return __getattr__
