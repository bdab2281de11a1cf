"""The build phase: decide, then install Python, pip and the app's dependencies."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from . import __version__
from .bindings import prepare_tool_credentials
from .cnb.context import BuildContext
from .cnb.group import buildpacks_after
from .cnb.models import BuildpackPlan
from .config import BuildConfig, PipInstallerKind, decide
from .detect import NEEDED, required_by_others, working_directory
from .django import collect_static_files, may_collect_static
from .env_checks import tool_run_env
from .installers import lock_file_installer, pip_installer
from .layers.pip import PipInstall, install_pip, pip_wanted
from .layers.pip_cache import prepare_pip_cache
from .layers.previous_image import PreviousImage
from .layers.python import PythonInstall, install_python
from .layers.tool import ToolInstall, install_tool
from .layers.tool_cache import prepare_tool_cache
from .layers.venv import Installer, VenvInstall, install_dependencies
from .output import Log, format_duration
from .package_managers import ManagerSpec, Tool
from .processes import configure_processes


def run_build(argv: Sequence[str], log: Log) -> int:
    start = time.monotonic()
    context = BuildContext.from_environ(argv, os.environ, working_directory())
    log.title(f"Python Buildpack {__version__}")
    # A plan we cannot read means a platform we do not understand: better to stop here than
    # to guess. It says whether a later buildpack requires `pip`.
    plan = context.read_buildpack_plan()
    config = decide(context, log)

    # The tools' runs (venv creation, pip, uv, Poetry, Pipenv) never see the app's PYTHONPATH;
    # collectstatic and the app do.
    env = tool_run_env(config.environ)
    # CA bundle, pip.conf and .netrc from bindings: in the tools' env only, never a layer's.
    env.update(prepare_tool_credentials(config.bindings))
    image = PreviousImage.read(config.layers_dir, launch_layers_needed_at_build(config, plan))
    venv = install_layers(config, plan, env, log, image)

    collect_static_files(config, venv, log)
    context.write_launch(configure_processes(config, venv, log))
    # Last: it deletes the files of the layers the previous image already has.
    image.finish()

    if config.python.grace is not None:
        # Repeated where a log is read first, its end: this app stops building on a known day.
        log.warning(config.python.grace.title, config.python.grace.body)
    log.info(f"\nDone ({format_duration(time.monotonic() - start)})")
    return 0


def launch_layers_needed_at_build(config: BuildConfig, plan: BuildpackPlan) -> str | None:
    """What needs the venv's files at build time on every build, so that they are never left
    to the previous image (`layers.previous_image`): the app's collectstatic, or a later
    buildpack. One that requires what this one provides says so in the plan; any other may
    still run the app's Python (an inline buildpack of project.toml declares nothing), and
    must find the venv on every build as on the first."""
    if may_collect_static(config):
        return "Django's collectstatic"
    for name in NEEDED:
        if required_by_others(plan, name):
            return f"a later buildpack that requires '{name}'"
    later = buildpacks_after(config.layers_dir)
    if later is None:
        return "a later buildpack, maybe (the lifecycle's group.toml can't be read)"
    if later:
        return f"the later buildpack {later[0]}" + (
            f" (and {len(later) - 1} more)" if len(later) > 1 else ""
        )
    return None


def install_layers(
    config: BuildConfig,
    plan: BuildpackPlan,
    env: dict[str, str],
    log: Log,
    image: PreviousImage,
) -> VenvInstall:
    """Python, the package manager's layers and the venv they fill, in the order each package
    manager gets them:

        pip                       python → pip → pip-cache → venv
        pip, BP_PIP_INSTALLER=uv  python → [pip → pip-cache] → uv → uv-cache → venv
        uv                        python → [pip → pip-cache] → uv → uv-cache → venv
        Poetry                    python → pip → pip-cache → poetry → poetry-cache → venv
        Pipenv                    python → pip → pip-cache → pipenv → venv

    [pip → pip-cache]: only when a later buildpack requires pip (`pip_wanted`). Pipenv has no
    cache of its own: its installs go through pip, so pip-cache serves it. The tool and cache
    layers of uv, Poetry, Pipenv (and any manager added to `package_managers.SPECS`) come from
    the package manager table.
    """
    python = install_python(config, env, log)
    env = python.build_env
    pip = None
    if pip_wanted(config, plan):
        pip = install_pip(config, python, env, log)
        _, env = prepare_pip_cache(config, pip.build_env, log)
    match config.package_manager.tool, config.pip_installer:
        case Tool.PIP, PipInstallerKind.PIP:
            installer: Installer = pip_installer(config, python, pip)
        case Tool.PIP, PipInstallerKind.UV:
            uv, env = tool_layers(config, Tool.UV.spec, python, pip, env, log)
            installer = pip_installer(config, python, pip, uv)
        case tool, _:
            installed, env = tool_layers(config, tool.spec, python, pip, env, log)
            installer = lock_file_installer(config, python, installed)
    return install_dependencies(config, python, installer, env, log, image)


def tool_layers(
    config: BuildConfig,
    spec: ManagerSpec,
    python: PythonInstall,
    pip: PipInstall | None,
    env: dict[str, str],
    log: Log,
) -> tuple[ToolInstall, dict[str, str]]:
    """A package manager's tool layer, then its own cache layer when it has one; `env` then
    points the tool at that cache."""
    tool = install_tool(config, spec, python, pip, log)
    if spec.cache is not None:
        _, env = prepare_tool_cache(config, spec.cache, env, log)
    return tool, env
