"""The `venv` layer: a PEP 405 virtual environment holding the app's dependencies.

Every package manager fills this same layer: the venv is always made by our `python`
(`python -m venv --without-pip`), then an `Installer` (pip, uv, Poetry or Pipenv; see
`python_buildpack.installers`) installs into it. Build + launch, and cached when its contents are
fully determined by its inputs: then an unchanged app reuses it without running the installer at
all. Otherwise it is rebuilt from scratch, never installed over (pip does not remove packages
that were dropped from the requirements), with the installer's cache layer making that fast. The
layer name sorts after `python`, so the lifecycle puts `venv/bin` ahead of `python/bin` on PATH.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..cnb.context import DEFAULT_EXEC_ENV
from ..cnb.env import LayerEnv, Scope
from ..cnb.layers import Layer, LayerState
from ..cnb.models import LayerTypes
from ..cnb.toml_io import dump_model
from ..commands import run
from ..config import BuildConfig
from ..dist_info import read_venv
from ..errors import VenvCreationFailed
from ..output import Log
from ..package_managers import venv_spec
from ..sbom import EXTENSION as SBOM_EXTENSION
from ..sbom import venv_sbom
from .common import BUILT_FOR_REASONS, BuiltFor, ChangeReasons, built_for, open_layer
from .previous_image import NOT_RESTORED, PreviousImage, content_digest
from .python import PythonInstall

LAYER_NAME = "venv"


class VenvMetadata(BuiltFor):
    package_manager: str
    inputs_digest: str
    tool_version: str
    # Whether every installed distribution was pinned by the inputs: only then can the same
    # inputs be trusted to give the same venv.
    reusable: bool
    # CNB_EXEC_ENV: a test venv has more in it than a production one. Venvs of builds before
    # execution environments were production ones.
    exec_env: str = DEFAULT_EXEC_ENV
    # What the buildpack's own rules put in a venv from the same inputs (`INSTALL_RULES`).
    # Venvs of builds before the field existed followed rules 1.
    install_rules: int = 1
    # What the venv holds (its distributions, the names in its bin/), for a build that reuses
    # it from the previous image without its files: the processes are chosen from them. None
    # in venvs of builds before they were recorded, which are not reused that way.
    distributions: list[str] | None = None
    bin: list[str] | None = None


# Bump when the same inputs install something else into the venv, so cached venvs are rebuilt.
# 2: the app's own package is installed as uv, Poetry and pip do (not only with scripts).
INSTALL_RULES = 2


@dataclass(frozen=True)
class VenvInstall:
    path: Path
    build_env: dict[str, str]
    reused: bool
    # The venv's distributions (canonical names) and the names in its bin/.
    distributions: frozenset[str] = frozenset()
    bin: frozenset[str] = frozenset()


class Installer(Protocol):
    """What fills the venv: one per package manager (`python_buildpack.installers`)."""

    @property
    def package_manager(self) -> str:
        """The name recorded in the layer metadata: a change of it discards the venv."""

    @property
    def display(self) -> str:
        """For the log: 'pip', 'uv', 'Poetry', ..."""

    @property
    def tool_version(self) -> str: ...

    @property
    def inputs_digest(self) -> str:
        """A digest of everything the installed packages are determined by."""

    @property
    def describe(self) -> str:
        """For the log: what is installed, e.g. 'requirements.txt' or 'uv.lock'."""

    @property
    def inputs_label(self) -> str:
        """For the log: what `inputs_digest` covers, e.g. 'uv.lock or pyproject.toml'."""

    def reuse_blockers(self) -> list[str]:
        """Reasons not to reuse a venv even when the metadata is unchanged (none for locks)."""

    def install(self, venv: Path, env: dict[str, str], log: Log) -> bool:
        """Install into the (empty) `venv` with `env` (the venv active); return whether the
        result is fully pinned, so the next build with the same inputs may reuse it."""


def changes(
    old: VenvMetadata,
    new: VenvMetadata,
    display: str = "pip",
    inputs_label: str = "The requirements",
) -> list[str]:
    """Why the `old` venv cannot serve for `new`. `display` names the package manager (its
    version change), `inputs_label` what `inputs_digest` covers."""

    def inputs_change(old: VenvMetadata, new: VenvMetadata) -> str | None:
        # Another package manager reads other files: its change says it all.
        if old.package_manager != new.package_manager or old.inputs_digest == new.inputs_digest:
            return None
        return f"{inputs_label} changed"

    def tool_change(old: VenvMetadata, new: VenvMetadata) -> str | None:
        # The versions of two different tools do not compare.
        if old.package_manager != new.package_manager or old.tool_version == new.tool_version:
            return None
        return f"The {display} version changed from {old.tool_version} to {new.tool_version}"

    def rules_change(old: VenvMetadata, new: VenvMetadata) -> str | None:
        if old.install_rules == new.install_rules:
            return None
        return (
            "The buildpack now installs from the same inputs differently (install rules "
            f"{old.install_rules} to {new.install_rules})"
        )

    def unpinned(old: VenvMetadata, new: VenvMetadata) -> str | None:
        # Judged on the old venv alone: the new one is not installed yet.
        return None if old.reusable else "The previous install was not fully pinned"

    reasons = ChangeReasons(
        VenvMetadata,
        {
            "package_manager": "package manager",
            "inputs_digest": inputs_change,
            "tool_version": tool_change,
            **BUILT_FOR_REASONS,
            "exec_env": "execution environment",
            "install_rules": rules_change,
            "reusable": unpinned,
            # What the venv holds follows from the fields above.
            "distributions": _contents,
            "bin": _contents,
        },
    )
    return reasons(old, new)


def _contents(old: VenvMetadata, new: VenvMetadata) -> None:
    return None


def venv_env(
    path: Path, package_manager: str = "pip", app_pythonpath: str | None = None
) -> LayerEnv:
    env = LayerEnv()
    env.override(Scope.ALL, "VIRTUAL_ENV", str(path))
    # Later buildpacks' `pip install` goes into the app's venv too.
    env.override(Scope.BUILD, "PIP_PYTHON", str(path))
    later_buildpack_env(env, path, package_manager)
    if app_pythonpath is not None:
        # The PYTHONPATH the app was built with, unless the platform sets one at launch.
        env.default(Scope.LAUNCH, "PYTHONPATH", app_pythonpath)
    return env


def later_buildpack_env(env: LayerEnv, path: Path, package_manager: str) -> None:
    """What a later buildpack needs to run the app's own package manager the way this build
    did (VIRTUAL_ENV already makes `uv pip install` and `poetry run` use the venv; the tool's
    cache layer gives it the cache variable), from the package manager table."""
    for name, value in venv_spec(package_manager).venv_env(str(path)).items():
        env.override(Scope.BUILD, name, value)


def install_dependencies(
    config: BuildConfig,
    python: PythonInstall,
    installer: Installer,
    env: dict[str, str],
    log: Log,
    image: PreviousImage,
) -> VenvInstall:
    log.header(f"Installing dependencies using {installer.display}")
    metadata = VenvMetadata(
        **built_for(config),
        package_manager=installer.package_manager,
        inputs_digest=installer.inputs_digest,
        tool_version=installer.tool_version,
        reusable=False,
        exec_env=config.exec_env,
        install_rules=INSTALL_RULES,
    )

    def venv_changes(old: VenvMetadata, new: VenvMetadata) -> list[str]:
        reasons = changes(old, new, installer.display, installer.inputs_label)
        return reasons + installer.reuse_blockers()

    path = config.layers_dir / LAYER_NAME
    layer_env = venv_env(path, installer.package_manager, config.environ.get("PYTHONPATH") or None)

    def without_files(old: VenvMetadata) -> str | None:
        # The processes are chosen from what the venv holds, and its SBOM (restored by the
        # lifecycle from the previous image) must go into the image again.
        sbom = config.layers_dir / f"{LAYER_NAME}.sbom.{SBOM_EXTENSION}"
        if old.distributions is None or old.bin is None or not sbom.is_file():
            return NOT_RESTORED
        return image.why_not_reuse(LAYER_NAME, content_digest(dump_model(old), layer_env))

    layer = open_layer(
        config.layers_dir,
        LAYER_NAME,
        types=LayerTypes(build=True, launch=True, cache=True),
        metadata=metadata,
        changes=venv_changes,
        log=log,
        what="virtual environment",
        contents_ok=lambda path: (path / "pyvenv.cfg").is_file(),
        without_files=without_files,
        kept_because=(
            f"{installer.describe}, Python {python.version} and {installer.display} "
            f"{installer.tool_version} are unchanged"
        ),
    )

    if layer.state is LayerState.RESTORED:
        if layer.has_contents:
            distributions, bin_names = _inventory(layer, python)
        else:  # reused from the previous image as it is, SBOM included
            old = layer.old_metadata
            assert old is not None and old.distributions is not None and old.bin is not None
            distributions, bin_names = frozenset(old.distributions), frozenset(old.bin)
        layer.complete(
            _with_contents(metadata, True, distributions, bin_names),
            env=layer_env,
            types=None if layer.has_contents else LayerTypes(launch=True),
        )
        image.export(layer, layer_env)
        build_env = layer_env.apply(env, Scope.BUILD, layer.path)
        return VenvInstall(layer.path, build_env, True, distributions, bin_names)

    python.ensure_files(log, "the dependencies are installed with it")
    log.info(f"Installing {installer.describe}")
    create_venv(python, layer.path, env, log)
    install_env = layer_env.apply(env, Scope.BUILD, layer.path)
    reusable = installer.install(layer.path, install_env, log)
    distributions, bin_names = _inventory(layer, python)
    layer.complete(
        _with_contents(metadata, reusable, distributions, bin_names),
        env=layer_env,
        # What the next build will not reuse (BP_PIP_REUSE_VENV=false) is not worth its
        # thousands of files in the cache: the restorer would extract them for nothing.
        types=LayerTypes(
            build=True, launch=True, cache=reusable and not installer.reuse_blockers()
        ),
    )
    image.export(layer, layer_env)
    return VenvInstall(layer.path, install_env, False, distributions, bin_names)


def _inventory(
    layer: Layer[VenvMetadata], python: PythonInstall
) -> tuple[frozenset[str], frozenset[str]]:
    """Writes the venv's SBOM, and returns what the venv holds: its distributions (canonical
    names) and the names in its bin/. A venv reused with its files gets its SBOM again from
    them."""
    installed = read_venv(layer.path)
    layer.write_sbom(venv_sbom(installed, python.version), SBOM_EXTENSION)
    try:
        bin_names = frozenset(path.name for path in (layer.path / "bin").iterdir())
    except OSError:
        bin_names = frozenset()
    return frozenset(d.name for d in installed), bin_names


def _with_contents(
    metadata: VenvMetadata, reusable: bool, distributions: frozenset[str], bin_names: frozenset[str]
) -> VenvMetadata:
    return metadata.model_copy(
        update={
            "reusable": reusable,
            "distributions": sorted(distributions),
            "bin": sorted(bin_names),
        }
    )


def create_venv(python: PythonInstall, path: Path, env: dict[str, str], log: Log) -> None:
    """A venv made by our python, with no pip: the package managers install into it from
    outside, so none of them picks (or downloads) an interpreter of its own."""
    with log.timed("Creating virtual environment"):
        result = run([python.python, "-m", "venv", "--without-pip", path], env=env, log=log)
    if not result.ok:
        raise VenvCreationFailed(result.exit_code)
