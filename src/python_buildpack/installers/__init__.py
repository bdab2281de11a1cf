"""The package managers that fill the `venv` layer, and the layers each one needs first.

    installer, env = prepare_installer(config, python, pip, env, log)
    venv = install_dependencies(config, python, installer, env, log)

pip needs nothing more (the `pip` and `pip-cache` layers exist whenever pip is used:
`layers.pip.pip_wanted`); uv, Poetry and Pipenv get their tool layer, then their cache layer where
they have their own cache (Pipenv's installs go through pip, so `pip-cache` serves it).
`BP_PIP_INSTALLER=uv` adds the uv layers to a pip app and needs no pip layer.
"""

from __future__ import annotations

from ..config import BuildConfig, PipInstallerKind
from ..layers.pip import PipInstall
from ..layers.python import PythonInstall
from ..layers.tool import DISPLAY, install_tool
from ..layers.tool_cache import prepare_tool_cache
from ..layers.venv import Installer
from ..output import Log
from ..package_managers import Tool
from .pip import PipInstaller
from .pipenv import PipenvInstaller
from .poetry import PoetryInstaller
from .uv import UvInstaller


def prepare_installer(
    config: BuildConfig,
    python: PythonInstall,
    pip: PipInstall | None,
    env: dict[str, str],
    log: Log,
) -> tuple[Installer, dict[str, str]]:
    """Install the tool layers the app's package manager needs; return it and the build env."""
    tool = config.package_manager.tool
    if tool is Tool.PIP:
        inputs = config.pip_inputs  # read by decide(), with BP_PIP_EXTRAS
        if inputs is None:
            raise RuntimeError("a pip app's inputs were not read by decide()")
        if config.pip_installer is PipInstallerKind.PIP:
            if pip is None:
                raise RuntimeError("pip installs the dependencies, but there is no pip layer")
            return PipInstaller(config, python, inputs, pip.version), env
        uv = install_tool(config, "uv", python, pip, log)
        _, env = prepare_tool_cache(config, "uv", "uv", env, log)
        pip_version = pip.version if pip else ""
        return PipInstaller(config, python, inputs, pip_version, uv.executable, uv.version), env

    installed = install_tool(config, tool.value, python, pip, log)
    display = DISPLAY[tool.value]
    if tool is Tool.UV:
        _, env = prepare_tool_cache(config, "uv", display, env, log)
        return UvInstaller(
            config,
            python,
            installed,
            display,
            "uv.lock",
            ["pyproject.toml", "uv.toml"],
            options=config.uv.options,
        ), env
    if tool is Tool.POETRY:
        _, env = prepare_tool_cache(config, "poetry", display, env, log)
        return PoetryInstaller(
            config,
            python,
            installed,
            display,
            "poetry.lock",
            ["pyproject.toml", "poetry.toml"],
            options=[f"groups={','.join(config.poetry_groups)}"],
        ), env
    return PipenvInstaller(config, python, installed, display, "Pipfile.lock", ["Pipfile"]), env
