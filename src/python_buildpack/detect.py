"""Detection: is the app directory a Python app?

Detection is deliberately broad: half-configured Python apps (say, only a `manage.py`, or a
misspelt `requirments.txt`) pass, so that the build can tell the user exactly what is missing
instead of the platform silently skipping the buildpack. This module must stay fast and must not
import pydantic: it runs for every app on every build.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .errors import AppDirUnreadable
from .output import Log

PACKAGE_MANAGER_FILES = (
    "requirements.txt",
    "pyproject.toml",
    "uv.lock",
    "poetry.lock",
    "Pipfile",
    "Pipfile.lock",
    "setup.py",
    "setup.cfg",
)
VERSION_FILES = (".python-version", "runtime.txt")
ENTRY_FILES = ("manage.py", "app.py", "main.py", "wsgi.py", "asgi.py")
# Names people give requirements.txt by mistake; build explains how to rename them.
MISSPELLED_REQUIREMENTS = (
    "requirement.txt",
    "requirements",
    "requirements.text",
    "requirements.txt.txt",
    "requirments.txt",
    "requeriments.txt",
    "Requirements.txt",
    "REQUIREMENTS.txt",
    "requirements.in.txt",
)
PYTHON_APP_FILES = PACKAGE_MANAGER_FILES + VERSION_FILES + ENTRY_FILES + MISSPELLED_REQUIREMENTS

# What this buildpack contributes to the build plan. Another buildpack (say, one that compiles
# native Node modules with node-gyp) can require `cpython` and get this buildpack's Python.
PROVIDED = ("cpython", "pip", "venv")

EXIT_PASS = 0
EXIT_FAIL = 100


def python_app_files(app_dir: Path) -> list[str]:
    """The files in `app_dir` that mark it as a Python app, in `PYTHON_APP_FILES` order."""
    try:
        with os.scandir(app_dir) as entries:
            names = {entry.name for entry in entries if not entry.is_dir()}
    except OSError as error:
        raise AppDirUnreadable(str(app_dir), error.strerror or str(error)) from error
    return [name for name in PYTHON_APP_FILES if name in names]


def working_directory() -> Path:
    """The app dir: the lifecycle starts buildpacks in it."""
    try:
        return Path.cwd()
    except OSError as error:
        raise AppDirUnreadable("the working directory", error.strerror or str(error)) from error


def build_plan() -> dict[str, object]:
    provides = [{"name": name} for name in PROVIDED]
    requires = [{"name": name, "metadata": {"build": True, "launch": True}} for name in PROVIDED]
    return {
        "provides": provides,
        "requires": requires,
        # With only `provides`, a later buildpack's `requires` decides whether we run, so a
        # group that needs Python for something else still resolves when ours is optional.
        "or": [{"provides": provides}],
    }


def run_detect(argv: Sequence[str], log: Log) -> int:
    from .cnb.context import DetectContext

    context = DetectContext.from_environ(argv, os.environ, working_directory())
    found = python_app_files(context.app_dir)
    if not found:
        log.info(
            "No Python app files found (looked for "
            + ", ".join(PACKAGE_MANAGER_FILES + VERSION_FILES + ENTRY_FILES)
            + ")."
        )
        return EXIT_FAIL
    import tomli_w

    with context.plan_path.open("wb") as plan:
        tomli_w.dump(build_plan(), plan)
    log.info(f"Detected a Python app ({', '.join(found)})")
    return EXIT_PASS
