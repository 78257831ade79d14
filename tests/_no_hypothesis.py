"""Code for ``python -c`` that makes the process behave as if hypothesis were not installed."""

WITHOUT_HYPOTHESIS = """
import sys

class NoHypothesis:
    # As if hypothesis were not installed.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "hypothesis":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoHypothesis())
"""
