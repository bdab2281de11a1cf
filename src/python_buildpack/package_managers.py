"""Which package manager installs the app's dependencies.

Exactly one is used per app, chosen from the files in the app root. Guessing between several would
install a different set of packages than the developer tested with, so that is an error unless
`BP_PYTHON_PACKAGE_MANAGER` says which to use.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .detect import MISSPELLED_REQUIREMENTS
from .errors import (
    InvalidPlatformEnv,
    MisspelledRequirementsFile,
    MultiplePackageManagerFiles,
    NoPackageManagerFile,
    PackageManagerFileMissing,
    UnsupportedPackageManager,
)

if TYPE_CHECKING:
    from .app_snapshot import AppSnapshot


class Tool(enum.Enum):
    PIP = "pip"
    UV = "uv"
    POETRY = "poetry"
    PIPENV = "pipenv"

    @property
    def display(self) -> str:
        return {"pip": "pip", "uv": "uv", "poetry": "Poetry", "pipenv": "Pipenv"}[self.value]


@dataclass(frozen=True)
class PackageManager:
    tool: Tool
    # The file the dependencies come from: requirements.txt, pyproject.toml or a lock file.
    file: str

    @property
    def describe(self) -> str:
        return f"{self.tool.display} ({self.file})"


# In order of preference for the error message that lists them.
LOCK_FILES: tuple[tuple[str, Tool], ...] = (
    ("requirements.txt", Tool.PIP),
    ("uv.lock", Tool.UV),
    ("poetry.lock", Tool.POETRY),
    ("Pipfile.lock", Tool.PIPENV),
)
PACKAGE_MANAGER_ENV = "BP_PYTHON_PACKAGE_MANAGER"
# Package managers this buildpack does not run: file → (tool, what to do instead).
CONDA_FIX = (
    "This buildpack installs Python packages from PyPI-style indexes with pip, uv, Poetry or "
    "Pipenv; it does not run conda. Put the app's Python dependencies in a requirements.txt (or "
    "a pyproject.toml with uv.lock or poetry.lock), or build the app with a buildpack that "
    "supports conda."
)
PIXI_FIX = (
    "This buildpack does not run pixi, and the conda packages of a pixi environment would be "
    "missing. If the app only needs PyPI packages, lock them with uv (uv.lock) or list them in "
    "requirements.txt; or set BP_PYTHON_PACKAGE_MANAGER=pip to install the pyproject.toml's "
    "[project] dependencies with pip."
)
UNSUPPORTED: dict[str, tuple[str, str]] = {
    "environment.yml": ("conda", CONDA_FIX),
    "environment.yaml": ("conda", CONDA_FIX),
    "pixi.toml": ("pixi", PIXI_FIX),
    "pixi.lock": ("pixi", PIXI_FIX),
}


def choose_package_manager(
    app_files: Collection[str], platform_env: Mapping[str, str], app: AppSnapshot | None = None
) -> PackageManager:
    """Pick the package manager from the names of the files in the app root (and, in `app`,
    the files of package managers we don't run, and a `pyproject.toml` that is Poetry's)."""
    found = [(file, tool) for file, tool in LOCK_FILES if file in app_files]
    requested = platform_env.get(PACKAGE_MANAGER_ENV, "").strip().lower()
    if requested:
        valid = {tool.value: tool for tool in Tool}
        if requested not in valid:
            raise InvalidPlatformEnv(
                PACKAGE_MANAGER_ENV,
                requested,
                "that is not a package manager this buildpack knows.",
                f"Set it to one of: {', '.join(valid)}.",
            )
        found = [(file, tool) for file, tool in found if tool is valid[requested]]
        if not found and not (valid[requested] is Tool.PIP and "pyproject.toml" in app_files):
            raise InvalidPlatformEnv(
                PACKAGE_MANAGER_ENV,
                requested,
                f"the app has no file for {valid[requested].display}.",
                "Add that package manager's file to the app, or unset the variable.",
            )

    if len(found) > 1:
        raise MultiplePackageManagerFiles([(file, tool.display) for file, tool in found])
    if not found and app is not None and not requested:
        _refuse_unsupported(app_files, app)
    if found:
        file, tool = found[0]
        manager = PackageManager(tool, file)
    elif "Pipfile" in app_files:
        raise PackageManagerFileMissing(
            "Pipfile",
            "Pipfile.lock",
            "Run 'pipenv lock' and commit the Pipfile.lock it writes, so the build installs "
            "exactly the versions you tested with.",
        )
    elif "pyproject.toml" in app_files:
        manager = PackageManager(Tool.PIP, "pyproject.toml")
    else:
        misspelt = [name for name in MISSPELLED_REQUIREMENTS if name in app_files]
        if misspelt:
            raise MisspelledRequirementsFile(misspelt[0])
        raise NoPackageManagerFile(sorted(app_files))

    if manager.tool in (Tool.UV, Tool.POETRY) and "pyproject.toml" not in app_files:
        raise PackageManagerFileMissing(
            manager.file,
            "pyproject.toml",
            f"Commit the pyproject.toml that {manager.tool.display} generated {manager.file} from.",
        )
    if manager.tool is Tool.PIPENV and "Pipfile" not in app_files:
        raise PackageManagerFileMissing(
            "Pipfile.lock",
            "Pipfile",
            "Commit the Pipfile that Pipfile.lock was generated from: Pipenv checks that the "
            "lock file is current against it.",
        )
    return manager


def _refuse_unsupported(app_files: Collection[str], app: AppSnapshot) -> None:
    """With no lock file or requirements.txt: an app whose dependencies belong to a package
    manager we don't run fails naming it, rather than being half-installed by pip."""
    present = [name for name in UNSUPPORTED if (app.app_dir / name).is_file()]
    pixi = [name for name in present if UNSUPPORTED[name][0] == "pixi"]
    if pixi:
        raise UnsupportedPackageManager(pixi[0], "pixi", UNSUPPORTED[pixi[0]][1])
    has_pyproject = "pyproject.toml" in app_files
    if present and not has_pyproject and "Pipfile" not in app_files:
        raise UnsupportedPackageManager(present[0], "conda", UNSUPPORTED[present[0]][1])
    if has_pyproject and app.project.poetry_dependencies:
        raise PackageManagerFileMissing(
            "pyproject.toml",
            "poetry.lock",
            "Its [tool.poetry.dependencies] make it a Poetry project, and the buildpack installs "
            "a Poetry project from its lock file. Run 'poetry lock' and commit the poetry.lock "
            "it writes, so the build installs exactly the versions you tested with.",
        )
