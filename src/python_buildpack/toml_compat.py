"""The buildpack's one import of a TOML parser: `tomllib`, or `tomli` on Python 3.10.

(`cnb/toml_io` keeps its own: the `cnb` package is a library that imports nothing of the
buildpack.)
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

__all__ = ["tomllib"]
