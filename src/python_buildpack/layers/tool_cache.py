"""The `uv-cache` and `poetry-cache` layers: a package manager's download cache (cache only).

See `download_cache`. `uv-cache` sits next to `venv` on the same filesystem, so uv hard-links
files into the venv instead of copying them. Build layers too, so that a later buildpack running
the same tool (`uv pip install`, `poetry run`; the tool layers put it on PATH) gets the variable
and uses the same cache.
"""

from __future__ import annotations

from pathlib import Path

from ..config import BuildConfig
from ..output import Log
from ..package_managers import CacheSpec
from .download_cache import prepare_cache


def prepare_tool_cache(
    config: BuildConfig, cache: CacheSpec, env: dict[str, str], log: Log
) -> tuple[Path, dict[str, str]]:
    """The cache layer of a tool (`ManagerSpec.cache`) and `env` pointing the tool at it
    (later buildpacks too)."""
    return prepare_cache(
        config, cache.layer, cache.what, cache.variable, env, log, for_later_buildpacks=True
    )
