"""The `pip-cache` layer: pip's download and wheel cache (cache only, never in the image).

It makes a rebuilt venv cheap: nothing is downloaded twice and sdists are not rebuilt. Wheels
built from sdists are specific to the Python version, CPU and OS, so a change of any of these
discards the cache.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..cnb.env import LayerEnv, Scope
from ..cnb.layers import Cause, Layers, LayerState
from ..cnb.models import LayerTypes
from ..config import BuildConfig
from ..output import Log

LAYER_NAME = "pip-cache"


class PipCacheMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    python_version: str
    arch: str
    distro_name: str
    distro_version: str


def changes(old: PipCacheMetadata, new: PipCacheMetadata) -> list[str]:
    reasons = []
    if old.python_version != new.python_version:
        reasons.append(
            f"The Python version changed from {old.python_version} to {new.python_version}"
        )
    if old.arch != new.arch:
        reasons.append(f"The CPU architecture changed from {old.arch} to {new.arch}")
    old_os, new_os = (
        f"{old.distro_name} {old.distro_version}",
        f"{new.distro_name} {new.distro_version}",
    )
    if old_os != new_os:
        reasons.append(f"The OS changed from {old_os} to {new_os}")
    return reasons


def prepare_pip_cache(
    config: BuildConfig, env: dict[str, str], log: Log
) -> tuple[Path, dict[str, str]]:
    metadata = PipCacheMetadata(
        python_version=config.python.version,
        arch=config.target.arch,
        distro_name=config.target.distro_name or "unknown",
        distro_version=config.target.distro_version or "unknown",
    )
    layer = Layers(config.layers_dir).cached_layer(
        LAYER_NAME,
        types=LayerTypes(cache=True),
        metadata_model=PipCacheMetadata,
        keep=lambda old: changes(old, metadata),
    )
    if layer.state is LayerState.RESTORED:
        log.info("Using cached pip download/wheel cache")
    elif layer.cause is Cause.CHANGED:
        log.info("Discarding cached pip download/wheel cache since:")
        log.detail("\n".join(layer.reasons))
    elif layer.cause is Cause.INVALID_METADATA:
        log.info("Discarding cached pip download/wheel cache since its metadata can't be read")
    cache_env = LayerEnv().override(Scope.BUILD, "PIP_CACHE_DIR", str(layer.path))
    layer.complete(metadata, env=cache_env)
    return layer.path, cache_env.apply(env, Scope.BUILD)
