"""The build phase: decide, then install Python, pip and the app's dependencies."""

from __future__ import annotations

import contextlib
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
from .installers import lock_file_installer, pip_installer, rebuilt_on_every_build
from .layers.background import Background
from .layers.pip import install_pip, open_pip_layer, packing_pip_alongside, pip_wanted
from .layers.pip_cache import prepare_pip_cache
from .layers.previous_image import PreviousImage
from .layers.python import install_python, open_python_layer
from .layers.python_archive import open_archive_cache
from .layers.tool import install_tool, open_tool_layer
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
    with contextlib.ExitStack() as cleanup:
        # CA bundle, pip.conf and .netrc from bindings: in the tools' env only, never a layer's.
        env.update(prepare_tool_credentials(config.bindings, cleanup))
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
    spec = tool_layer_spec(config)
    # Work that goes on while the dependencies install: packing pip (`layers.pip_zip`), when new.
    with contextlib.ExitStack() as alongside:
        with Background() as background:
            opened_python = open_python_layer(config, log, image, rebuilt_on_every_build(config))
            archive = open_archive_cache(config, log)
            # Decided on before Python is installed, so that the layers filled from a wheel
            # (pip's, uv's) unpack while it downloads and unpacks (`layers.background`); each
            # step still logs in order, its decision included.
            wanted = pip_wanted(config, plan)
            opened_pip = open_pip_layer(config, env, background) if wanted else None
            opened_tool = open_tool_layer(config, spec, env, background) if spec else None
            python = install_python(config, opened_python, env, log, image, archive)
            env = python.build_env
            pip = None
            if opened_pip is not None:
                pip = install_pip(opened_pip, env, log)
                if opened_pip.fill is not None:
                    python.ensure_files(log, "pip is packed with it")
                    alongside.enter_context(packing_pip_alongside(pip, python, log))
                _, env = prepare_pip_cache(config, pip.build_env, log)
            tool = None
            if spec is not None and opened_tool is not None:
                tool = install_tool(config, spec, opened_tool, python, pip, log)
                if spec.cache is not None:
                    _, env = prepare_tool_cache(config, spec.cache, env, log)
        if config.package_manager.tool is Tool.PIP:
            installer: Installer = pip_installer(config, python, pip, tool)
        elif tool is not None:
            installer = lock_file_installer(config, python, tool)
        else:
            raise RuntimeError(f"{config.package_manager.tool.display} has no tool layer")
        return install_dependencies(config, python, installer, env, log, image)


def tool_layer_spec(config: BuildConfig) -> ManagerSpec | None:
    """The package manager whose tool gets a layer of its own: uv, Poetry and Pipenv, and uv
    for pip with `BP_PIP_INSTALLER=uv`; none for pip itself (the pip layer is its tool)."""
    match config.package_manager.tool, config.pip_installer:
        case Tool.PIP, PipInstallerKind.PIP:
            return None
        case Tool.PIP, PipInstallerKind.UV:
            return Tool.UV.spec
        case tool, _:
            return tool.spec
