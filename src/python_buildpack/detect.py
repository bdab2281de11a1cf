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
from typing import TYPE_CHECKING

from .appfiles import is_readable_app_file
from .errors import AppDirUnreadable, WorkingDirectoryUnreadable
from .output import Log

if TYPE_CHECKING:
    from .cnb.models import BuildpackPlan

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
_MARKERS = frozenset(PYTHON_APP_FILES)

# What this buildpack contributes to the build plan. Another buildpack (say, one that compiles
# native Node modules with node-gyp) can require `cpython` and get this buildpack's Python.
PROVIDED = ("cpython", "pip", "venv")

EXIT_PASS = 0
EXIT_FAIL = 100


def python_app_files(app_dir: Path, ignored: dict[str, str] | None = None) -> list[str]:
    """The files in `app_dir` that mark it as a Python app, in `PYTHON_APP_FILES` order.

    Only files `appfiles` would read count (regular files, or links to them inside the app):
    a named pipe called requirements.txt must not make the app look like a pip app. Marker
    names that are present but unusable go into `ignored` (name -> why), when given.
    """
    try:
        with os.scandir(app_dir) as entries:
            present = {
                entry.name: entry.is_file(follow_symlinks=False)
                for entry in entries
                if entry.name in _MARKERS
            }
    except OSError as error:
        raise AppDirUnreadable(str(app_dir), error.strerror or str(error)) from error
    found = []
    for name in PYTHON_APP_FILES:
        if name not in present:
            continue
        # A plain regular file needs no more checks: the common case stays one scandir.
        usable, why = (True, "") if present[name] else is_readable_app_file(app_dir, name)
        if usable:
            found.append(name)
        elif ignored is not None and not why.startswith("it is a directory"):
            ignored[name] = why
    return found


def working_directory() -> Path:
    """The app dir: the lifecycle starts buildpacks in it."""
    try:
        return Path.cwd()
    except OSError as error:
        raise WorkingDirectoryUnreadable(error.strerror or str(error)) from error


# Which of them the app needs at build and at launch time (Paketo's plan metadata convention).
NEEDED = {"cpython": (True, True), "pip": (True, False), "venv": (True, True)}


def own_requirement(name: str) -> dict[str, bool]:
    """The metadata of this buildpack's own requirement of `name` in the build plan."""
    build, launch = NEEDED[name]
    return {"build": build, "launch": launch}


def required_by_others(plan: BuildpackPlan, name: str) -> bool:
    """Whether another buildpack requires `name` in the build plan: this one requires it
    once, with `own_requirement(name)`; any other entry comes from another buildpack."""
    entries = plan.entries_named(name)
    return len(entries) > 1 or any(entry.metadata != own_requirement(name) for entry in entries)


def build_plan() -> dict[str, object]:
    provides = [{"name": name} for name in PROVIDED]
    requires = [{"name": name, "metadata": own_requirement(name)} for name in NEEDED]
    return {
        "provides": provides,
        "requires": requires,
        # With only `provides`, a later buildpack's `requires` decides whether we run, so a
        # group that needs Python for something else still resolves when ours is optional.
        "or": [{"provides": provides}],
    }


def plan_toml() -> str:
    """`build_plan()` as TOML, written by hand: a TOML library would cost detect more time
    than everything else it does (a unit test checks both say the same)."""

    def flag(value: bool) -> str:
        return "true" if value else "false"

    lines: list[str] = []
    for name in PROVIDED:
        lines += ["[[provides]]", f'name = "{name}"', ""]
    for name, (build, launch) in NEEDED.items():
        lines += ["[[requires]]", f'name = "{name}"', "[requires.metadata]"]
        lines += [f"build = {flag(build)}", f"launch = {flag(launch)}", ""]
    lines.append("[[or]]")
    for name in PROVIDED:
        lines += ["[[or.provides]]", f'name = "{name}"', ""]
    return "\n".join(lines)


def run_detect(argv: Sequence[str], log: Log) -> int:
    from .cnb.context import DetectContext

    context = DetectContext.from_environ(argv, os.environ, working_directory())
    ignored: dict[str, str] = {}
    found = python_app_files(context.app_dir, ignored)
    for name, why in ignored.items():
        log.info(f"Ignoring {name}: {why}.")
    if not found:
        log.info(
            "No Python app files found (looked for "
            + ", ".join(PACKAGE_MANAGER_FILES + VERSION_FILES + ENTRY_FILES)
            + ")."
        )
        return EXIT_FAIL
    context.plan_path.write_text(plan_toml(), encoding="utf-8")
    log.info(f"Detected a Python app ({', '.join(found)})")
    return EXIT_PASS
