"""The `pip` layer: pip itself, for build time only (build + cache, never launch).

pip is installed from the wheel CPython bundles for `ensurepip` (no bootstrap download) into the
layer as a user base, isolated from any user pip configuration so a broken config cannot break
bootstrapping. It then targets the app's venv with `--python`, so the app image carries no pip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..cnb.env import LayerEnv, Scope
from ..cnb.layers import Cause, Layers, LayerState
from ..cnb.models import LayerTypes
from ..commands import run
from ..config import BuildConfig
from ..errors import BrokenPythonArchive, CommandFailed
from ..output import Log
from ..tool_versions import pinned_version, requirements_file
from .python import PythonInstall

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
    model_config = ConfigDict(extra="forbid")

    python_version: str
    pip_version: str


@dataclass(frozen=True)
class PipInstall:
    path: Path
    version: str
    build_env: dict[str, str]


def changes(old: PipLayerMetadata, new: PipLayerMetadata) -> list[str]:
    reasons = []
    if old.python_version != new.python_version:
        reasons.append(
            f"The Python version changed from {old.python_version} to {new.python_version}"
        )
    if old.pip_version != new.pip_version:
        reasons.append(f"The pip version changed from {old.pip_version} to {new.pip_version}")
    return reasons


def bundled_pip_wheel(python: PythonInstall) -> Path:
    bundled = python.path / "lib" / f"python{python.minor}" / "ensurepip" / "_bundled"
    wheels = sorted(bundled.glob("pip-*.whl"))
    if not wheels:
        raise BrokenPythonArchive(
            str(python.path), f"it has no bundled pip wheel in {bundled} (ensurepip)"
        )
    return wheels[-1]


def install_pip(
    config: BuildConfig, python: PythonInstall, env: dict[str, str], log: Log
) -> PipInstall:
    log.header("Installing pip")
    version = pinned_version(config.buildpack_dir, "pip")
    metadata = PipLayerMetadata(python_version=python.version, pip_version=version)
    layer = Layers(config.layers_dir).cached_layer(
        LAYER_NAME,
        types=LayerTypes(build=True, cache=True),
        metadata_model=PipLayerMetadata,
        keep=lambda old: changes(old, metadata),
    )
    if layer.state is LayerState.RESTORED and not any(
        layer.path.glob("lib/python*/site-packages/pip")
    ):
        layer.discard(["its files are incomplete"], cause=Cause.CHANGED)
    if layer.state is LayerState.RESTORED:
        log.info(f"Using cached pip {version}")
    elif layer.cause is Cause.INVALID_METADATA:
        log.info("Discarding cached pip since its layer metadata can't be read")
    elif layer.cause in (Cause.CHANGED, Cause.MISSING_CONTENTS):
        old = layer.old_metadata
        log.info(f"Discarding cached pip{' ' + old.pip_version if old else ''} since:")
        log.detail("\n".join(layer.reasons))

    pip_env = LayerEnv()
    pip_env.override(Scope.BUILD, "PYTHONUSERBASE", str(layer.path))
    pip_env.override(Scope.BUILD, "PIP_DISABLE_PIP_VERSION_CHECK", "1")
    pip_env.default(Scope.BUILD, "PIP_ROOT_USER_ACTION", "ignore")
    if layer.is_empty:
        wheel = bundled_pip_wheel(python)
        command: list[str | Path] = [
            python.python,
            wheel / "pip",
            "install",
            "--isolated",
            "--user",
            "--no-cache-dir",
            "--no-input",
            "--no-warn-script-location",
            "--disable-pip-version-check",
            # Builds run as root on some platforms; pip's warning about it is noise there.
            "--root-user-action=ignore",
            "--quiet",
            "--require-hashes",
            "--requirement",
            requirements_file(config.buildpack_dir, "pip"),
        ]
        for variable, option in INDEX_OPTIONS.items():
            for value in config.environ.get(variable, "").split():
                command += [option, value]
        with log.timed(f"Installing pip {version}"):
            result = run(
                command,
                env={**python.build_env, "PYTHONUSERBASE": str(layer.path)},
                log=log,
            )
        if not result.ok:
            raise CommandFailed(
                f"pip install pip=={version}",
                result.exit_code,
                "Installing pip into its build-time layer failed (see the output above).",
                "If the build cannot reach PyPI, set PIP_INDEX_URL to a package index that "
                f"has pip {version}.",
            )
    layer.complete(metadata, env=pip_env)
    return PipInstall(layer.path, version, pip_env.apply(env, Scope.BUILD, layer.path))
