"""The `pip-cache` layer: pip's download and wheel cache (build + cache, never in the image).

A build layer only so that `PIP_CACHE_DIR` reaches later buildpacks, whose `pip install` goes
into the app's venv (`PIP_PYTHON`) and should not download everything again.
"""

from __future__ import annotations

from pathlib import Path

from ..config import BuildConfig
from ..output import Log
from ..package_managers import PIP_CACHE as CACHE
from .download_cache import prepare_cache


def prepare_pip_cache(
    config: BuildConfig, env: dict[str, str], log: Log
) -> tuple[Path, dict[str, str]]:
    return prepare_cache(
        config, CACHE.layer, CACHE.what, CACHE.variable, env, log, for_later_buildpacks=True
    )
