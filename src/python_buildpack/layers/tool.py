"""The `uv`, `poetry` and `pipenv` layers: a package manager, for build time only.

Poetry and Pipenv: each holds a venv of its own (`<layer>/venv`), made by our `python`, into
which the `pip` layer's pip installs the tool and its dependencies from
`requirements/<tool>.txt` (every file pinned by hash); `<layer>/bin/` links to the tool's command
alone. A venv rather than a `--user` install, so the tool's scripts work without PYTHONUSERBASE
juggling (the pip layer owns that variable) and its dependencies can never leak into the app's
venv. uv has no dependencies and its wheel carries the static `uv` binary: the hash-pinned wheel
is unpacked into `<layer>/wheel` (`pinned_wheels`, `wheel_install`), no pip involved, and
`bin/uv` links to the binary.

Build + cache, never launch: the tool is not in the app image. The layer is reused while the
pinned requirements, the Python version and the target are unchanged (Poetry's and Pipenv's
dependencies include compiled wheels for the Python version and CPU).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..cnb.layers import LayerState
from ..cnb.models import LayerTypes
from ..commands import run
from ..config import BuildConfig
from ..errors import ToolInstallFailed, ToolVenvCreationFailed
from ..output import Log
from ..package_managers import ManagerSpec
from ..redact import secrets_in_env
from ..tool_versions import pinned_version, requirements_file
from .background import Background
from .common import (
    BUILT_FOR_REASONS,
    BuiltFor,
    ChangeReasons,
    OpenedLayer,
    built_for,
    decide_layer,
    log_layer_state,
)
from .pip import INDEX_OPTIONS, PipInstall
from .python import PythonInstall, interpreter


class ToolLayerMetadata(BuiltFor):
    tool_version: str
    requirements_sha256: str


@dataclass(frozen=True)
class ToolInstall:
    name: str
    path: Path
    version: str

    @property
    def executable(self) -> Path:
        return self.path / "bin" / self.name


def changes(old: ToolLayerMetadata, new: ToolLayerMetadata, display: str) -> list[str]:
    def requirements_change(old: ToolLayerMetadata, new: ToolLayerMetadata) -> str | None:
        # A new version comes with new pins: the version change says it better.
        if (
            old.tool_version != new.tool_version
            or old.requirements_sha256 == new.requirements_sha256
        ):
            return None
        return f"The pinned dependencies of {display} changed"

    reasons = ChangeReasons(
        ToolLayerMetadata,
        {
            "tool_version": f"{display} version",
            "requirements_sha256": requirements_change,
            **BUILT_FOR_REASONS,
        },
    )
    return reasons(old, new)


def open_tool_layer(
    config: BuildConfig, spec: ManagerSpec, env: dict[str, str], background: Background
) -> OpenedLayer[ToolLayerMetadata]:
    """The tool's layer, decided on before Python is installed: reused or emptied. uv's,
    unpacked from its wheel, is filled in the background while Python downloads and unpacks;
    a tool installed with pip waits for `install_tool`. `install_tool` logs it."""
    metadata = ToolLayerMetadata(
        **built_for(config),
        tool_version=pinned_version(config.buildpack_dir, spec.name),
        requirements_sha256=hashlib.sha256(
            requirements_file(config.buildpack_dir, spec.name).read_bytes()
        ).hexdigest(),
    )
    layer = decide_layer(
        config.layers_dir,
        spec.name,
        types=LayerTypes(build=True, cache=True),
        metadata=metadata,
        changes=lambda old, new: changes(old, new, spec.display),
        contents_ok=lambda path: (path / "bin" / spec.name).is_file(),
    )
    fill = None
    if layer.is_empty and not spec.needs_pip:
        fill = background.start(spec.name, lambda: _install_uv(config, env, layer.path))
    return OpenedLayer(layer, metadata, fill)


def install_tool(
    config: BuildConfig,
    spec: ManagerSpec,
    opened: OpenedLayer[ToolLayerMetadata],
    python: PythonInstall,
    pip: PipInstall | None,
    log: Log,
) -> ToolInstall:
    name, display = spec.name, spec.display
    log.header(f"Installing {display}")
    layer, metadata = opened.layer, opened.metadata
    version = metadata.tool_version
    log_layer_state(layer, log, display, version=lambda old: old.tool_version)
    tool = ToolInstall(name, layer.path, version)
    if layer.state is LayerState.RESTORED:
        layer.complete(metadata)
        return tool

    if opened.fill is not None:
        opened.fill.log_done(log, f"Installing {display} {version}", alongside="Python")
        target = UV_BINARY
    else:
        if pip is None:
            raise RuntimeError(f"{display} is installed with pip, but there is no pip layer")
        target = _install_with_pip(config, name, display, version, python, pip, layer.path, log)
    (layer.path / "bin").mkdir()
    tool.executable.symlink_to(target)
    layer.complete(metadata)
    return tool


# `bin/uv`'s link to the binary that uv's wheel carries in `.data/scripts`.
UV_BINARY = Path("..") / "wheel" / "bin" / "uv"


def _install_uv(config: BuildConfig, env: dict[str, str], path: Path) -> None:
    """uv's wheel carries its static binary in `.data/scripts`: unpacking it is the install.
    Needs nothing of the python layer but its path, so it runs alongside it (`background`);
    `env` gives the index settings."""
    # Only a cold layer needs them (they import ssl, html, zipfile, packaging.tags): kept off
    # the start-up path of every build.
    from ..pinned_wheels import pinned_wheel
    from ..wheel_install import install_wheel

    requirements = requirements_file(config.buildpack_dir, "uv")
    with pinned_wheel(requirements, "uv", env) as wheel:
        install_wheel(wheel, path / "wheel", path / "wheel" / "bin", interpreter(config.layers_dir))


def _install_with_pip(
    config: BuildConfig,
    name: str,
    display: str,
    version: str,
    python: PythonInstall,
    pip: PipInstall,
    path: Path,
    log: Log,
) -> Path:
    # The tool's venv sits one level down and only its command is linked into `bin/`: later
    # buildpacks get `poetry` on PATH, not a second `python` or the tool's dependencies.
    tool_venv = path / "venv"
    requirements = requirements_file(config.buildpack_dir, name)
    python.ensure_files(log, f"{display} is installed with it")
    with log.timed(f"Installing {display} {version}"):
        venv = run(
            [python.python, "-m", "venv", "--without-pip", tool_venv], env=pip.build_env, log=log
        )
        if not venv.ok:
            raise ToolVenvCreationFailed(display, venv.exit_code)
        command: list[str | Path] = [
            python.python, "-m", "pip", "--python", tool_venv, "install",
            "--isolated", "--no-cache-dir", "--no-input", "--progress-bar", "off", "--quiet",
            "--disable-pip-version-check", "--root-user-action=ignore",
            "--require-hashes", "--requirement", requirements,
        ]  # fmt: skip
        # --isolated keeps user pip config out of the tool's install; the index settings the
        # build may need (air-gapped mirrors) are passed on explicitly, as for pip itself.
        for variable, option in INDEX_OPTIONS.items():
            for value in config.environ.get(variable, "").split():
                command += [option, value]
        result = run(command, env=pip.build_env, log=log, redact=secrets_in_env(config.environ))
    if not result.ok:
        raise ToolInstallFailed(name, display, version, result.exit_code)
    return Path("..") / "venv" / "bin" / name
