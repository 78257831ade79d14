"""Fewer examples in the default run for properties that .ci/run draws again in full.

`.ci/run` ends with ``HYPOTHESIS_PROFILE=ci pytest tests/core tests/testing``: every property
of those two folders runs again there at the ``ci`` profile's count (tests/conftest.py). A
property of those folders whose examples are slow to draw may take :func:`lighter` settings:
the default run (no ``HYPOTHESIS_PROFILE``) draws ``n`` examples, any named profile (``ci``,
``thorough``) its own count, so the long runs lose nothing.
"""

from __future__ import annotations

import os

from hypothesis import settings

DEFAULT_RUN = os.environ.get("HYPOTHESIS_PROFILE", "default") == "default"


def lighter(n: int) -> settings:
    """The loaded profile's settings, with ``n`` examples in the default run only."""
    return settings(max_examples=n) if DEFAULT_RUN else settings()
