"""The `venv` layer: a PEP 405 virtual environment holding the app's dependencies.

Build + launch, and cached when its contents are fully determined by its inputs: then an
unchanged app reuses it without running pip at all. Otherwise it is rebuilt from scratch, never
installed over (pip does not remove packages that were dropped from the requirements), with the
`pip-cache` layer making that fast. The layer name sorts after `python`, so the lifecycle puts
`venv/bin` ahead of `python/bin` on PATH.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict

from ..cnb.env import LayerEnv, Scope
from ..cnb.layers import Cause, Layer, Layers, LayerState
from ..cnb.models import LayerTypes
from ..commands import capture, run
from ..config import BuildConfig, PipCheck
from ..errors import CommandFailed, PipCheckFailed, PipInstallFailed
from ..output import Log
from ..pip_inputs import pip_inputs
from ..redact import secrets_in_env
from .pip import PipInstall
from .python import PythonInstall

LAYER_NAME = "venv"


class VenvMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package_manager: str
    inputs_digest: str
    python_version: str
    tool_version: str
    arch: str
    distro_name: str
    distro_version: str
    # Whether every installed distribution was pinned by the inputs: only then can the same
    # inputs be trusted to give the same venv.
    reusable: bool


@dataclass(frozen=True)
class VenvInstall:
    path: Path
    build_env: dict[str, str]
    reused: bool


FIELD_NAMES = {
    "package_manager": "The package manager",
    "inputs_digest": "The requirements",
    "python_version": "The Python version",
    "tool_version": "The pip version",
    "arch": "The CPU architecture",
    "distro_name": "The OS",
    "distro_version": "The OS version",
}


def changes(old: VenvMetadata, new: VenvMetadata) -> list[str]:
    reasons = []
    for name, label in FIELD_NAMES.items():
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            if name == "inputs_digest":
                reasons.append(f"{label} changed")
            else:
                reasons.append(f"{label} changed from {before} to {after}")
    if not old.reusable:
        reasons.append("The previous install was not fully pinned")
    return reasons


def install_dependencies(
    config: BuildConfig,
    python: PythonInstall,
    pip: PipInstall,
    env: dict[str, str],
    log: Log,
) -> VenvInstall:
    log.header("Installing dependencies using pip")
    inputs = pip_inputs(
        config.app_dir, config.package_manager.file, config.environ, config.install_project
    )
    metadata = VenvMetadata(
        package_manager="pip",
        inputs_digest=inputs.digest,
        python_version=python.version,
        tool_version=pip.version,
        arch=config.target.arch,
        distro_name=config.target.distro_name or "unknown",
        distro_version=config.target.distro_version or "unknown",
        reusable=False,
    )

    def keep(old: VenvMetadata) -> list[str]:
        reasons = changes(old, metadata)
        if not config.reuse_venv:
            reasons.append("BP_PIP_REUSE_VENV is false")
        if not inputs.deterministic:
            reasons.append("Not every requirement is pinned to one version")
        return reasons

    layer = Layers(config.layers_dir).cached_layer(
        LAYER_NAME,
        types=LayerTypes(build=True, launch=True, cache=True),
        metadata_model=VenvMetadata,
        keep=keep,
    )
    venv_env = LayerEnv()
    venv_env.override(Scope.ALL, "VIRTUAL_ENV", str(layer.path))
    # Later buildpacks' `pip install` goes into the app's venv too.
    venv_env.override(Scope.BUILD, "PIP_PYTHON", str(layer.path))

    if layer.state is LayerState.RESTORED and (layer.path / "pyvenv.cfg").is_file():
        log.info(
            "Reusing the virtual environment from the previous build: "
            f"{inputs.describe}, Python {python.version} and pip {pip.version} are unchanged"
        )
        layer.complete(metadata.model_copy(update={"reusable": True}), env=venv_env)
        return VenvInstall(layer.path, venv_env.apply(env, Scope.BUILD, layer.path), True)

    _log_discard(layer, log)
    log.info(f"Installing {inputs.describe}")
    with log.timed("Creating virtual environment"):
        result = run(
            [python.python, "-m", "venv", "--without-pip", layer.path], env=pip.build_env, log=log
        )
    if not result.ok:
        raise CommandFailed(
            "python -m venv", result.exit_code, "Creating the virtual environment failed.", ""
        )

    install_env = {**pip.build_env, **venv_env.apply({}, Scope.BUILD)}
    install_env.update((k, v) for k, v in env.items() if k == "PIP_CACHE_DIR")
    secrets = secrets_in_env(install_env)
    command: list[str | Path] = [
        python.python,
        "-m",
        "pip",
        "--python",
        layer.path,
        "install",
        "--no-input",
        "--progress-bar",
        "off",
        *inputs.install_args,
    ]
    shown = "pip install " + " ".join(inputs.install_args[:6])
    with log.timed(f"Running '{shown}{' …' if len(inputs.install_args) > 6 else ''}'"):
        result = run(command, env=install_env, cwd=config.app_dir, log=log, redact=secrets)
    if not result.ok:
        raise PipInstallFailed(inputs.describe, result.exit_code)

    _pip_check(config, python, layer.path, install_env, log)
    installed = installed_distributions(layer.path)
    unpinned_installed = sorted(installed - inputs.pinned_names)
    reusable = inputs.deterministic and not unpinned_installed
    if reusable:
        log.info("Every installed package is pinned: the next build can reuse this environment")
    elif config.reuse_venv:
        why = inputs.unpinned or [
            f"{name} (installed as a dependency)" for name in unpinned_installed
        ]
        log.info(
            "The next build will reinstall the dependencies (from the pip cache), since not "
            "every installed package is pinned to one version, e.g.:"
        )
        log.detail("\n".join(why[:5]))
    layer.complete(
        metadata.model_copy(update={"reusable": reusable}),
        env=venv_env,
        types=LayerTypes(build=True, launch=True, cache=reusable),
    )
    return VenvInstall(layer.path, venv_env.apply(env, Scope.BUILD, layer.path), False)


def _log_discard(layer: Layer[VenvMetadata], log: Log) -> None:
    if layer.cause is Cause.CHANGED:
        log.info("Discarding the cached virtual environment since:")
        log.detail("\n".join(layer.reasons))
    elif layer.cause is Cause.INVALID_METADATA:
        log.info("Discarding the cached virtual environment since its metadata can't be read")
    elif layer.cause is Cause.MISSING_CONTENTS:
        log.info("Not reusing the previous virtual environment: its files were not cached")


def installed_distributions(venv: Path) -> set[str]:
    return {
        canonicalize_name(path.name.split("-")[0])
        for path in _site_packages(venv)
        if path.suffix == ".dist-info"
    }


def _site_packages(venv: Path) -> Iterable[Path]:
    for site in venv.glob("lib/python3.*/site-packages"):
        yield from site.iterdir()


def _pip_check(
    config: BuildConfig, python: PythonInstall, venv: Path, env: dict[str, str], log: Log
) -> None:
    if config.pip_check is PipCheck.OFF:
        return
    check = capture([python.python, "-m", "pip", "--python", venv, "check"], env=env)
    if check.returncode == 0:
        return
    problems = (check.stdout + check.stderr).strip()
    if config.pip_check is PipCheck.STRICT:
        raise PipCheckFailed(problems)
    log.warning(
        "The installed packages have conflicting requirements",
        "'pip check' found:\n"
        + problems
        + "\n\nThe app may fail at run time. Fix the versions in your requirements, or set "
        "BP_PIP_CHECK=strict to make this an error (off to silence it).",
    )
