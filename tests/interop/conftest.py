"""The fixtures of the tests that drive the real Cinder deployment through its REST API
(``deployment``, ``api``): defined in ``_cinder_service.py``, offered to every test here."""

from tests.interop._cinder_service import api, deployment

__all__ = ["api", "deployment"]
