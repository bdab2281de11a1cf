"""Which package manager installs the app's dependencies, and every fact about each one.

Exactly one is used per app, chosen from the files in the app root. Guessing between several would
install a different set of packages than the developer tested with, so that is an error unless
`BP_PYTHON_PACKAGE_MANAGER` says which to use.

`SPECS` is the package manager table: one `ManagerSpec` per `Tool` (its files, its tool and
cache layers, its messages). Detection, the tool and cache layers, the venv layer's env and the
installers read it; `build.install_layers` lays out the layers from it. Adding a lock-file
package manager takes a `Tool` member and its row here, its pinned `requirements/<name>.txt`, and
an installer module (`installers/<name>.py`, named in `installers.LOCK_FILE_INSTALLERS`).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .detect import MISSPELLED_REQUIREMENTS
from .errors import (
    CondaNotSupported,
    ManifestMissing,
    MisspelledRequirementsFile,
    MultiplePackageManagerFiles,
    NoPackageManagerFile,
    PipfileLockMissing,
    PixiNotSupported,
    PoetryLockMissing,
    RequestedPackageManagerFileMissing,
    UnknownPackageManager,
)

if TYPE_CHECKING:
    from .app_snapshot import AppSnapshot


class Tool(enum.Enum):
    PIP = "pip"
    UV = "uv"
    POETRY = "poetry"
    PIPENV = "pipenv"

    @property
    def spec(self) -> ManagerSpec:
        return SPECS[self]

    @property
    def display(self) -> str:
        return SPECS[self].display


@dataclass(frozen=True)
class CacheSpec:
    """A download cache layer of the manager's own, and the variable that points it there."""

    layer: str
    variable: str
    # For the log: "Using cached <what>".
    what: str


@dataclass(frozen=True)
class OutdatedLock:
    """How the tool says the lock file no longer matches its manifest, and how to fix it."""

    # Words of the tool's output when it refuses a stale lock file.
    marker: str
    # What regenerates the lock file, for the error message.
    fix_command: str


@dataclass(frozen=True)
class ManagerSpec:
    """Every fact about one package manager that is not code: its files, its tool layer, its
    cache, its messages. Read by detection (`choose_package_manager`), the tool and cache layers,
    the installers and the build log; the code particular to a manager is its installer module
    (`python_buildpack.installers.<name>`)."""

    tool: Tool
    # For the log and error messages: 'pip', 'uv', 'Poetry', 'Pipenv'.
    display: str
    # The file in the app root that selects this manager (pip: requirements.txt).
    lock_file: str
    # The file the lock file is made from and checked against; it must be beside the lock file.
    manifest: str | None = None
    # More files that change what the tool installs, when present (its own settings file).
    settings_files: tuple[str, ...] = ()
    # The tool's cache layer; None when it has none of its own (Pipenv's installs go through pip,
    # so `pip-cache` serves it).
    cache: CacheSpec | None = None
    outdated: OutdatedLock | None = None
    # Whether the pip layer is needed: pip installs the tool into its layer (Poetry, Pipenv) or
    # the packages (pip, Pipenv). Otherwise the tool comes from its wheel (uv's static binary).
    needs_pip: bool = False
    # What a later buildpack needs to run the tool on the app's venv the way this build did
    # (build-time env of the venv layer): the variable that names the venv to the tool (beyond
    # VIRTUAL_ENV, which every manager gets), and fixed settings.
    venv_variable: str | None = None
    later_build_env: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """Its layer's name, `BP_PYTHON_PACKAGE_MANAGER` value, venv metadata entry and the
        pinned requirements file of its tool (`requirements/<name>.txt`, `tool_versions`)."""
        return self.tool.value

    def venv_env(self, venv: str) -> dict[str, str]:
        """The variables that make the tool run on `venv` the way this build does: for our own
        run of it (`installers`) and, in the venv layer's build env, for later buildpacks."""
        env = dict(self.later_build_env)
        if self.venv_variable:
            env[self.venv_variable] = venv
        return env

    @property
    def project_files(self) -> tuple[str, ...]:
        """The files besides the lock file that the installed packages depend on."""
        return (self.manifest, *self.settings_files) if self.manifest else self.settings_files


# pip's cache also serves Pipenv, whose installs go through pip.
PIP_CACHE = CacheSpec("pip-cache", "PIP_CACHE_DIR", "pip download/wheel cache")
# In order of preference for the error message that lists several.
SPECS: dict[Tool, ManagerSpec] = {
    spec.tool: spec
    for spec in (
        ManagerSpec(
            Tool.PIP,
            "pip",
            "requirements.txt",
            cache=PIP_CACHE,
            needs_pip=True,
        ),
        ManagerSpec(
            Tool.UV,
            "uv",
            "uv.lock",
            manifest="pyproject.toml",
            settings_files=("uv.toml",),
            cache=CacheSpec("uv-cache", "UV_CACHE_DIR", "uv download cache"),
            outdated=OutdatedLock("needs to be updated", "uv lock"),
            # `uv sync`/`uv run` manage this venv, with its Python, never a download.
            venv_variable="UV_PROJECT_ENVIRONMENT",
            later_build_env=(("UV_PYTHON_DOWNLOADS", "never"), ("UV_NO_MANAGED_PYTHON", "1")),
        ),
        ManagerSpec(
            Tool.POETRY,
            "Poetry",
            "poetry.lock",
            manifest="pyproject.toml",
            settings_files=("poetry.toml",),
            cache=CacheSpec("poetry-cache", "POETRY_CACHE_DIR", "Poetry download cache"),
            outdated=OutdatedLock(
                "changed significantly since poetry.lock was last generated", "poetry lock"
            ),
            needs_pip=True,
            # Poetry uses the active venv (VIRTUAL_ENV); it must never make one of its own.
            later_build_env=(("POETRY_VIRTUALENVS_CREATE", "false"),),
        ),
        ManagerSpec(
            Tool.PIPENV,
            "Pipenv",
            "Pipfile.lock",
            manifest="Pipfile",
            outdated=OutdatedLock("out-of-date", "pipenv lock"),
            needs_pip=True,
        ),
    )
}


# How the venv metadata records uv's pip interface (`BP_PIP_INSTALLER=uv`).
UV_PIP = "uv-pip"


def venv_spec(package_manager: str) -> ManagerSpec:
    """The spec of the manager a venv's metadata names: uv's for its pip interface."""
    return SPECS[Tool.UV if package_manager == UV_PIP else Tool(package_manager)]


@dataclass(frozen=True)
class PackageManager:
    tool: Tool
    # The file the dependencies come from: requirements.txt, pyproject.toml or a lock file.
    file: str

    @property
    def spec(self) -> ManagerSpec:
        return SPECS[self.tool]

    @property
    def describe(self) -> str:
        return f"{self.tool.display} ({self.file})"


PACKAGE_MANAGER_ENV = "BP_PYTHON_PACKAGE_MANAGER"
# Files of package managers this buildpack does not run, and the error that names them.
UNSUPPORTED: dict[str, type[CondaNotSupported | PixiNotSupported]] = {
    "environment.yml": CondaNotSupported,
    "environment.yaml": CondaNotSupported,
    "pixi.toml": PixiNotSupported,
    "pixi.lock": PixiNotSupported,
}


def choose_package_manager(
    app_files: Collection[str], platform_env: Mapping[str, str], app: AppSnapshot | None = None
) -> PackageManager:
    """Pick the package manager from the names of the files in the app root (and, in `app`,
    the files of package managers we don't run, and a `pyproject.toml` that is Poetry's)."""
    found = [spec for spec in SPECS.values() if spec.lock_file in app_files]
    requested = platform_env.get(PACKAGE_MANAGER_ENV, "").strip().lower()
    if requested:
        valid = {tool.value: tool for tool in Tool}
        if requested not in valid:
            raise UnknownPackageManager(requested, list(valid))
        found = [spec for spec in found if spec.tool is valid[requested]]
        if not found and not (valid[requested] is Tool.PIP and "pyproject.toml" in app_files):
            raise RequestedPackageManagerFileMissing(requested, valid[requested].display)

    if len(found) > 1:
        raise MultiplePackageManagerFiles([(spec.lock_file, spec.display) for spec in found])
    if not found and app is not None and not requested:
        _refuse_unsupported(app_files, app)
    if found:
        manager = PackageManager(found[0].tool, found[0].lock_file)
    elif "Pipfile" in app_files:
        raise PipfileLockMissing()
    elif "pyproject.toml" in app_files:
        manager = PackageManager(Tool.PIP, "pyproject.toml")
    else:
        misspelt = [name for name in MISSPELLED_REQUIREMENTS if name in app_files]
        if misspelt:
            raise MisspelledRequirementsFile(misspelt[0])
        raise NoPackageManagerFile(sorted(app_files))

    spec = manager.spec
    if spec.manifest and spec.manifest not in app_files:
        raise ManifestMissing(spec.lock_file, spec.manifest, spec.display)
    return manager


def _refuse_unsupported(app_files: Collection[str], app: AppSnapshot) -> None:
    """With no lock file or requirements.txt: an app whose dependencies belong to a package
    manager we don't run fails naming it, rather than being half-installed by pip."""
    present = [name for name in UNSUPPORTED if (app.app_dir / name).is_file()]
    pixi = [name for name in present if UNSUPPORTED[name] is PixiNotSupported]
    if pixi:
        raise PixiNotSupported(pixi[0])
    has_pyproject = "pyproject.toml" in app_files
    if present and not has_pyproject and "Pipfile" not in app_files:
        raise CondaNotSupported(present[0])
    if has_pyproject and app.project.poetry_dependencies:
        raise PoetryLockMissing()
