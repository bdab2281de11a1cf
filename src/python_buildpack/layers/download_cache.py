"""Download/wheel cache layers: `pip-cache`, `uv-cache`, `poetry-cache`.

Never in the image; they make a rebuilt venv cheap (nothing is downloaded twice, sdists are not
rebuilt). Wheels built from sdists are specific to the Python version, CPU and OS, so a change of
any of these discards the cache, with the reasons in the log.
"""

from __future__ import annotations

from pathlib import Path

from ..cnb.env import LayerEnv, Scope
from ..cnb.models import LayerTypes
from ..config import BuildConfig
from ..output import Log
from .common import BUILT_FOR_REASONS, BuiltFor, ChangeReasons, built_for, open_layer


class CacheMetadata(BuiltFor):
    """A cache's wheels fit the target they were built for: nothing else to record."""


changes = ChangeReasons(CacheMetadata, BUILT_FOR_REASONS)


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
    otherwise only this buildpack's commands get it. Any files are a valid cache: no contents
    check.
    """
    metadata = CacheMetadata(**built_for(config))
    layer = open_layer(
        config.layers_dir,
        name,
        types=LayerTypes(build=for_later_buildpacks, cache=True),
        metadata=metadata,
        changes=changes,
        log=log,
        what=what,
    )
    layer_env = LayerEnv()
    if for_later_buildpacks:
        layer_env.override(Scope.BUILD, variable, str(layer.path))
    layer.complete(metadata, env=layer_env)
    return layer.path, {**env, variable: str(layer.path)}
