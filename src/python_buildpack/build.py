"""The build phase: decide, then install Python, pip and the app's dependencies."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from . import __version__
from .bindings import prepare_tool_credentials
from .cnb.context import BuildContext
from .config import decide
from .detect import working_directory
from .django import collect_static_files
from .env_checks import tool_run_env
from .installers import prepare_installer
from .layers.pip import install_pip, pip_wanted
from .layers.pip_cache import prepare_pip_cache
from .layers.python import install_python
from .layers.venv import install_dependencies
from .output import Log, format_duration
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
    python = install_python(config, env, log)
    pip = None
    if pip_wanted(config, plan):
        pip = install_pip(config, python, python.build_env, log)
        _, env = prepare_pip_cache(config, pip.build_env, log)
    else:
        env = python.build_env
    # The package manager's own layers (tool, then its cache), then the venv it fills.
    installer, env = prepare_installer(config, python, pip, env, log)
    venv = install_dependencies(config, python, installer, env, log)

    collect_static_files(config, venv, log)
    context.write_launch(configure_processes(config, venv, log))

    if config.python.grace is not None:
        # Repeated where a log is read first, its end: this app stops building on a known day.
        log.warning(config.python.grace.title, config.python.grace.body)
    log.info(f"\nDone ({format_duration(time.monotonic() - start)})")
    return 0
