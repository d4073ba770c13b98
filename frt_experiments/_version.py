"""The version of frt-experiments, in one place.

pyproject.toml reads it (``[tool.setuptools.dynamic]``), ``frt --version`` prints it, and every
output set's manifest.json records it. A release bumps it together with a section of
CHANGELOG.md of the same number (tests/test_packaging.py checks both).
"""

__version__ = "0.3.0"
