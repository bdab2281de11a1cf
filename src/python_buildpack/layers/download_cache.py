"""Download/wheel cache layers: `pip-cache`, `uv-cache`, `poetry-cache`.

Never in the image; they make a rebuilt venv cheap (nothing is downloaded twice, sdists are not
rebuilt). Wheels built from sdists are specific to the Python version, CPU and OS, so a change of
any of these discards the cache, with the reasons in the log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from ..cnb.env import LayerEnv, Scope
from ..cnb.layers import Cause, Layers, LayerState
from ..cnb.models import LayerTypes
from ..config import BuildConfig
from ..output import Log


class CacheMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    python_version: str
    arch: str
    distro_name: str
    distro_version: str


class BuiltFor(Protocol):
    """What a layer of compiled files was built for (caches, tool layers)."""

    @property
    def python_version(self) -> str: ...
    @property
    def arch(self) -> str: ...
    @property
    def distro_name(self) -> str: ...
    @property
    def distro_version(self) -> str: ...


def target_changes(old: BuiltFor, new: BuiltFor) -> list[str]:
    reasons = []
    if old.python_version != new.python_version:
        reasons.append(
            f"The Python version changed from {old.python_version} to {new.python_version}"
        )
    if old.arch != new.arch:
        reasons.append(f"The CPU architecture changed from {old.arch} to {new.arch}")
    old_os = f"{old.distro_name} {old.distro_version}"
    new_os = f"{new.distro_name} {new.distro_version}"
    if old_os != new_os:
        reasons.append(f"The OS changed from {old_os} to {new_os}")
    return reasons


def prepare_cache(
    config: BuildConfig,
    name: str,
    what: str,
    variable: str,
    env: dict[str, str],
    log: Log,
    *,
    for_later_buildpacks: bool,
) -> tuple[Path, dict[str, str]]:
    """The cache layer `name`, and `env` with `variable` pointing at it.

    With `for_later_buildpacks`, the layer is also a build layer so the lifecycle gives later
    buildpacks the variable too (their `pip install` into our venv then uses the same cache);
    otherwise only this buildpack's commands get it.
    """
    metadata = CacheMetadata(
        python_version=config.python.version,
        arch=config.target.arch,
        distro_name=config.target.distro_name or "unknown",
        distro_version=config.target.distro_version or "unknown",
    )
    layer = Layers(config.layers_dir).cached_layer(
        name,
        types=LayerTypes(build=for_later_buildpacks, cache=True),
        metadata_model=CacheMetadata,
        keep=lambda old: target_changes(old, metadata),
    )
    if layer.state is LayerState.RESTORED:
        log.info(f"Using cached {what}")
    elif layer.cause is Cause.CHANGED:
        log.info(f"Discarding cached {what} since:")
        log.detail("\n".join(layer.reasons))
    elif layer.cause is Cause.INVALID_METADATA:
        log.info(f"Discarding cached {what} since its metadata can't be read")
    layer_env = LayerEnv()
    if for_later_buildpacks:
        layer_env.override(Scope.BUILD, variable, str(layer.path))
    layer.complete(metadata, env=layer_env)
    return layer.path, {**env, variable: str(layer.path)}
