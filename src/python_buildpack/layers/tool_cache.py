"""The `uv-cache` and `poetry-cache` layers: a package manager's download cache (cache only).

Like `pip-cache`, they are never in the image; they make a rebuilt venv cheap when the lock file
changes (only new packages are downloaded, built wheels are reused). Built wheels are specific
to the Python version, CPU and OS, so a change of any of these discards the cache. `uv-cache`
sits next to `venv` on the same filesystem, so uv hard-links files into the venv instead of
copying them.
"""

from __future__ import annotations

from pathlib import Path

from ..cnb.layers import Cause, Layers, LayerState
from ..cnb.models import LayerTypes
from ..config import BuildConfig
from ..output import Log
from .pip_cache import PipCacheMetadata, changes

# The layer of each tool's cache, and the variable that points the tool at it.
CACHES = {"uv": ("uv-cache", "UV_CACHE_DIR"), "poetry": ("poetry-cache", "POETRY_CACHE_DIR")}


def prepare_tool_cache(
    config: BuildConfig, tool: str, display: str, env: dict[str, str], log: Log
) -> tuple[Path, dict[str, str]]:
    """The cache layer of `tool` and `env` pointing the tool at it (for this build only)."""
    name, variable = CACHES[tool]
    metadata = PipCacheMetadata(
        python_version=config.python.version,
        arch=config.target.arch,
        distro_name=config.target.distro_name or "unknown",
        distro_version=config.target.distro_version or "unknown",
    )
    layer = Layers(config.layers_dir).cached_layer(
        name,
        types=LayerTypes(cache=True),
        metadata_model=PipCacheMetadata,
        keep=lambda old: changes(old, metadata),
    )
    if layer.state is LayerState.RESTORED:
        log.info(f"Using cached {display} download cache")
    elif layer.cause is Cause.CHANGED:
        log.info(f"Discarding cached {display} download cache since:")
        log.detail("\n".join(layer.reasons))
    elif layer.cause is Cause.INVALID_METADATA:
        log.info(f"Discarding cached {display} download cache since its metadata can't be read")
    # Cache-only layers' env files are never applied by the lifecycle: write none, and hand the
    # variable to our own commands instead.
    layer.complete(metadata)
    return layer.path, {**env, variable: str(layer.path)}
