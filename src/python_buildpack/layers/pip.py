"""The `pip` layer: pip itself, for build time only (build + cache, never launch).

pip is installed by unpacking its wheel, pinned by hash in `requirements/pip.txt` and fetched
from the package index the build uses (`pinned_wheels`), into the layer as a user base
(`PYTHONUSERBASE`): no pip runs to install pip, which took seconds. It then targets the app's venv
with `--python`, so the app image carries no pip. Once the build's own pip install is done, the
layer holds pip as one zip file with its bytecode (`pip_zip`): the cache restores about ten
files instead of about 960.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..cnb.env import LayerEnv, Scope
from ..cnb.models import BuildpackPlan, LayerTypes
from ..config import BuildConfig, PipInstallerKind
from ..detect import required_by_others
from ..output import Log
from ..package_managers import Tool
from ..tool_versions import pinned_version, requirements_file
from .background import Background
from .common import ChangeReasons, OpenedLayer, decide_layer, log_layer_state
from .pip_zip import packed, packing_alongside
from .python import PythonInstall, interpreter, minor_version

LAYER_NAME = "pip"
# Index settings the user may need even for installing pip itself (air-gapped builds). pip's
# --isolated mode ignores env vars, so they are passed as options instead.
INDEX_OPTIONS = {
    "PIP_INDEX_URL": "--index-url",
    "PIP_EXTRA_INDEX_URL": "--extra-index-url",
    "PIP_FIND_LINKS": "--find-links",
    "PIP_TRUSTED_HOST": "--trusted-host",
    "PIP_CERT": "--cert",
}


class PipLayerMetadata(BaseModel):
    """Not a `BuiltFor`: pip is pure Python (a py3-none-any wheel; its .pyc files depend on the
    Python version alone), so the same files work on any CPU and OS. After a target change the
    python layer is rebuilt at the same path and version, and this layer still fits it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    python_version: str
    pip_version: str
    # How pip's files are kept: "zip" (`pip_zip`). Metadata written before had no such field:
    # its layer is a tree, discarded with this reason.
    layout: str = "unpacked"


# The layout this buildpack writes.
LAYOUT = "zip"


@dataclass(frozen=True)
class PipInstall:
    path: Path
    version: str
    build_env: dict[str, str]


changes = ChangeReasons(
    PipLayerMetadata,
    {
        "python_version": "Python version",
        "pip_version": "pip version",
        "layout": "layout of pip's files",
    },
)


def pip_wanted(config: BuildConfig, plan: BuildpackPlan) -> bool:
    """Whether to install the pip layer: when the app's installer runs pip (pip itself, Pipenv,
    and pip installing Poetry), or when a later buildpack requires `pip` in the build plan
    (`detect.required_by_others`). uv apps and `BP_PIP_INSTALLER=uv` need no pip otherwise: uv
    comes from its wheel and the dependency check runs in-process."""
    tool = config.package_manager.tool
    if tool is not Tool.PIP and tool.spec.needs_pip:
        return True
    if tool is Tool.PIP and config.pip_installer is PipInstallerKind.PIP:
        return True
    return required_by_others(plan, "pip")


def site_packages(path: Path, minor: str) -> Path:
    """Where the layer at `path` holds pip, for Python `minor` (`3.13`)."""
    return path / "lib" / f"python{minor}" / "site-packages"


def fill_pip_layer(config: BuildConfig, env: dict[str, str], path: Path) -> None:
    """Unpack the pinned pip wheel into the layer at `path`. Needs nothing of the python
    layer but its path and version, so it runs alongside it (`background`); `env` gives the
    index settings."""
    # Only a cold layer needs them (they import ssl, html, zipfile, packaging.tags): kept off
    # the start-up path of every build.
    from ..pinned_wheels import pinned_wheel
    from ..wheel_install import install_wheel

    minor = minor_version(config.python.version)
    requirements = requirements_file(config.buildpack_dir, "pip")
    with pinned_wheel(requirements, "pip", env) as wheel:
        install_wheel(
            wheel,
            site_packages(path, minor),
            path / "bin",
            interpreter(config.layers_dir),
            script_aliases=[f"pip{minor}"],
        )


def open_pip_layer(
    config: BuildConfig, env: dict[str, str], background: Background
) -> OpenedLayer[PipLayerMetadata]:
    """The pip layer, decided on before Python is installed: reused, or emptied and filled
    in the background while Python downloads and unpacks. `install_pip` logs it."""
    version = pinned_version(config.buildpack_dir, "pip")
    minor = minor_version(config.python.version)
    metadata = PipLayerMetadata(
        python_version=config.python.version, pip_version=version, layout=LAYOUT
    )
    layer = decide_layer(
        config.layers_dir,
        LAYER_NAME,
        types=LayerTypes(build=True, cache=True),
        metadata=metadata,
        changes=changes,
        contents_ok=lambda path: packed(site_packages(path, minor)),
    )
    fill = None
    if layer.is_empty:
        fill = background.start(LAYER_NAME, lambda: fill_pip_layer(config, env, layer.path))
    return OpenedLayer(layer, metadata, fill)


def install_pip(opened: OpenedLayer[PipLayerMetadata], env: dict[str, str], log: Log) -> PipInstall:
    log.header("Installing pip")
    layer, metadata = opened.layer, opened.metadata
    log_layer_state(layer, log, "pip", version=lambda old: old.pip_version)

    pip_env = LayerEnv()
    pip_env.override(Scope.BUILD, "PYTHONUSERBASE", str(layer.path))
    pip_env.override(Scope.BUILD, "PIP_DISABLE_PIP_VERSION_CHECK", "1")
    pip_env.default(Scope.BUILD, "PIP_ROOT_USER_ACTION", "ignore")
    if opened.fill is not None:
        opened.fill.log_done(log, f"Installing pip {metadata.pip_version}", alongside="Python")
    layer.complete(metadata, env=pip_env)
    return PipInstall(layer.path, metadata.pip_version, pip_env.apply(env, Scope.BUILD, layer.path))


def packing_pip_alongside(
    pip: PipInstall, python: PythonInstall, log: Log
) -> contextlib.AbstractContextManager[None]:
    """Compile the freshly unpacked pip, and pack it into one zip file, in a process of its own
    while the block runs (the dependencies' install, whose pip imports about 330 of its 441
    modules); then swap the tree for the zip (`pip_zip`).

    The wheel is unpacked without bytecode, so pip's first run would compile what it imports
    itself. Measured (`pip --python` install of bench/apps/web, 4 interleaved runs): 5.4 s
    with a fresh pip layer, 4.0 s with pip compiled beforehand, 4.05 s with the compilation
    started beside it, on a second core. The packing writes each tree `.pyc` atomically, as
    pip's imports do, so whichever comes first serves the other; timestamp `.pyc` files, valid
    for the tree's fixed mtimes (`fixed_mtime`)."""
    return packing_alongside(python.python, site_packages(pip.path, python.minor), log)
