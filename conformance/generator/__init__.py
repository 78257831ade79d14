"""The pieces of ``conformance/generate.py``: shared state and case helpers (``common``),
hypothesis drawing and the generated cases (``drawing``), the hand-written cases per level
(``validate_versions``, ``validate_parsing``, ``migrate``, ``restore``, ``integrity``) and
the case files and manifest (``manifest``)."""
