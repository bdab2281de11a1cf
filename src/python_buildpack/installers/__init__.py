"""What fills the `venv` layer: one installer per package manager.

    installer = pip_installer(config, python, pip)               # pip
    installer = pip_installer(config, python, pip, uv)           # BP_PIP_INSTALLER=uv
    installer = lock_file_installer(config, python, tool)        # uv, Poetry, Pipenv

The layers each needs first (its tool, its cache) are laid out in `build.py`, from the package
manager table (`package_managers.SPECS`). An installer module holds only what is particular to
its tool: the command it runs and what the lock file says about copies of the app's code.
"""

from __future__ import annotations

from ..config import BuildConfig
from ..layers.pip import PipInstall
from ..layers.python import PythonInstall
from ..layers.tool import ToolInstall
from ..package_managers import Tool
from . import pip as pip_rules
from .locked import LockFileInstaller
from .pip import PipInstaller
from .pipenv import PipenvInstaller
from .poetry import PoetryInstaller
from .uv import UvInstaller

# The installer of each lock-file package manager (each names its row of the table).
LOCK_FILE_INSTALLERS: dict[Tool, type[LockFileInstaller]] = {
    installer.spec.tool: installer for installer in (UvInstaller, PoetryInstaller, PipenvInstaller)
}


def rebuilt_on_every_build(config: BuildConfig) -> str | None:
    """Why this build, and the next ones with the same inputs, install the venv anew, or None:
    known from the app's files before Python is installed, so that `layers.python` keeps its
    files cached for the builds that run it (pip's reuse rules; a lock file that installs the
    app's code as a copy)."""
    installer = LOCK_FILE_INSTALLERS.get(config.package_manager.tool)
    if installer is None:
        return pip_rules.rebuilt_on_every_build(config)
    return installer.copied_before_install(config)


def pip_installer(
    config: BuildConfig,
    python: PythonInstall,
    pip: PipInstall | None,
    uv: ToolInstall | None = None,
) -> PipInstaller:
    """pip (or, given `uv`, uv's pip interface) installing the app's requirements or PEP 621
    dependencies, as read by decide() (with BP_PIP_EXTRAS)."""
    inputs = config.pip_inputs
    if inputs is None:
        raise RuntimeError("a pip app's inputs were not read by decide()")
    if uv is not None:
        return PipInstaller(
            config, python, inputs, pip.version if pip else "", uv.executable, uv.version
        )
    if pip is None:
        raise RuntimeError("pip installs the dependencies, but there is no pip layer")
    return PipInstaller(config, python, inputs, pip.version)


def lock_file_installer(
    config: BuildConfig, python: PythonInstall, tool: ToolInstall
) -> LockFileInstaller:
    """The installer of the app's lock-file package manager, running `tool`."""
    return LOCK_FILE_INSTALLERS[config.package_manager.tool](config, python, tool)
