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
from .installers import prepare_installer
from .layers.pip import install_pip
from .layers.pip_cache import prepare_pip_cache
from .layers.python import install_python
from .layers.venv import install_dependencies
from .output import Log, format_duration
from .processes import configure_processes


def run_build(argv: Sequence[str], log: Log) -> int:
    start = time.monotonic()
    context = BuildContext.from_environ(argv, os.environ, working_directory())
    log.title(f"Python Buildpack {__version__}")
    # Nothing in the plan changes what we install yet, but a plan we cannot read means a
    # platform we do not understand: better to stop here than to guess.
    context.read_buildpack_plan()
    config = decide(context, log)

    env = dict(config.environ)
    # CA bundle, pip.conf and .netrc from bindings: in the tools' env only, never a layer's.
    env.update(prepare_tool_credentials(config.bindings))
    python = install_python(config, env, log)
    pip = install_pip(config, python, python.build_env, log)
    _, env = prepare_pip_cache(config, pip.build_env, log)
    # The package manager's own layers (tool, then its cache), then the venv it fills.
    installer, env = prepare_installer(config, python, pip, env, log)
    venv = install_dependencies(config, python, installer, env, log)

    collect_static_files(config, venv, log)
    context.write_launch(configure_processes(config, venv, log))

    log.info(f"\nDone ({format_duration(time.monotonic() - start)})")
    return 0
