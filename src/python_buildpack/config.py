"""Decide everything about a build before any layer is touched.

`decide()` reads the app, the platform env and the manifest once, validates all of it, and
returns a `BuildConfig`; the layer steps only act on that. So a mistake in, say, `.python-version`
fails the build in the first second, with nothing half-installed. The app's files are read into
one `AppSnapshot` (`BuildConfig.app`), sealed before `decide()` returns: what the installers and
the launch processes need of them is read here, and later steps never read the app's files.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .app_snapshot import AppSnapshot
from .appfiles import locate
from .bindings import BuildBindings, read_bindings
from .cnb.context import DEFAULT_EXEC_ENV, BuildContext
from .cnb.target import Target
from .detect import python_app_files
from .distributions import (
    DownloadSource,
    Manifest,
    archive_url,
    mirror_from_env,
    read_dependency_mappings,
)
from .env_checks import check_environment
from .errors import (
    CommittedVirtualEnvironment,
    LaunchCommandControlCharacters,
    PipTestRequirementMissing,
    PoetryGroupsInvalid,
)
from .output import Log
from .package_managers import SPECS, PackageManager, Tool, choose_package_manager
from .pip_extras import pip_extras, with_extras
from .pip_inputs import PipInputs, pip_inputs
from .procfile import Procfile, control_characters, read_procfile
from .python_version import ResolvedPython, read_requested_version, resolve_version
from .redact import register_secrets
from .requirement_choice import pip_requirements_manager, requirement_files
from .settings import check_env_values, choice, flag, seconds, text
from .uv_selection import UvSelection, uv_selection

MANIFEST_FILE = "python-versions.toml"
DOWNLOAD_TIMEOUT_ENV = "BP_PYTHON_DOWNLOAD_TIMEOUT"
DEFAULT_DOWNLOAD_TIMEOUT = 900.0
# Execution environments (CNB_EXEC_ENV) whose venv holds development/test dependencies too.
DEV_EXEC_ENVS = frozenset({"test", "development"})
TEST_REQUIREMENT_FILES = ("requirements-test.txt", "requirements-dev.txt")


class PipCheck(enum.Enum):
    WARN = "warn"
    STRICT = "strict"
    OFF = "off"


class PipInstallerKind(enum.Enum):
    """What installs a pip app's requirements: pip, or uv's faster pip interface."""

    PIP = "pip"
    UV = "uv"


@dataclass(frozen=True)
class BuildConfig:
    app_dir: Path
    # The app's files, read and parsed once by decide() (app_snapshot.py).
    app: AppSnapshot
    layers_dir: Path
    buildpack_dir: Path
    platform_dir: Path
    target: Target
    python: ResolvedPython
    python_source: DownloadSource
    package_manager: PackageManager
    reuse_venv: bool
    pip_check: PipCheck
    # BP_PIP_INSTALL_PROJECT when set; None: pip's rule (installed when it has a [build-system])
    install_project: bool | None
    # The environment commands start from: the lifecycle's (which already carries the platform
    # env and earlier buildpacks' build env) plus the platform env files, which win.
    environ: Mapping[str, str]
    # Launch processes: the app's Procfile (validated here, before any layer), the web command
    # from BP_LAUNCH_COMMAND, and whether Django's collectstatic runs.
    procfile: Procfile | None = None
    launch_command: str | None = None
    collectstatic: bool = True
    # BP_PIP_INSTALLER (pip apps only) and BP_POETRY_GROUPS (Poetry groups beyond `main`).
    pip_installer: PipInstallerKind = PipInstallerKind.PIP
    poetry_groups: tuple[str, ...] = ()
    # A pip app's requirements (or PEP 621 dependencies, with BP_PIP_EXTRAS), read and
    # validated by decide().
    pip_inputs: PipInputs | None = None
    # BP_PYTHON_DOWNLOAD_TIMEOUT: seconds one attempt at downloading Python may take.
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT
    # CNB_EXEC_ENV: `test` and `development` also install the app's development/test
    # dependencies; for pip, from these requirement files (relative to the app dir).
    exec_env: str = DEFAULT_EXEC_ENV
    test_requirements: tuple[str, ...] = ()

    @property
    def dev_dependencies(self) -> bool:
        return self.exec_env in DEV_EXEC_ENVS

    # `ca-certificates` and `pip` service bindings, for the build's tool runs only.
    bindings: BuildBindings = field(default_factory=BuildBindings)
    # BP_UV_GROUPS / BP_UV_EXTRAS (uv apps only), checked against pyproject.toml.
    uv: UvSelection = field(default_factory=UvSelection)
    # BP_PIP_REQUIREMENT: the requirements files pip installs instead of requirements.txt.
    pip_requirements: tuple[str, ...] = ()
    # BP_PIP_EXTRAS: extras of a pyproject.toml installed by pip (pip_extras.py).
    pip_extras: tuple[str, ...] = ()


def decide(
    context: BuildContext,
    log: Log,
    *,
    environ: Mapping[str, str] | None = None,
    today: date | None = None,
) -> BuildConfig:
    base_env = dict(os.environ if environ is None else environ)
    base_env.update(context.platform_env)
    register_secrets(base_env)
    check_env_values(context.platform_env)
    check_environment(base_env)
    settings = base_env

    ignored: dict[str, str] = {}
    app_files = python_app_files(context.app_dir, ignored)
    for name in ignored:
        locate(context.app_dir, name)  # raises the error that says why it cannot be used
    app = AppSnapshot(context.app_dir, tuple(app_files))
    committed = committed_venvs(context.app_dir)
    if committed:
        raise CommittedVirtualEnvironment(committed)
    # BP_PIP_REQUIREMENT makes the app a pip app, whatever else it has (requirement_choice.py).
    pip_requirements = requirement_files(settings, context.app_dir)
    package_manager = (
        pip_requirements_manager(pip_requirements, settings)
        if pip_requirements
        else choose_package_manager(app_files, settings, app)
    )
    dev = context.exec_env in DEV_EXEC_ENVS
    test_requirements = (
        pip_test_requirements(context.app_dir, settings)
        if dev and package_manager.tool is Tool.PIP
        else ()
    )

    install_project = (
        flag(settings, "BP_PIP_INSTALL_PROJECT", False)
        if text(settings, "BP_PIP_INSTALL_PROJECT")
        else None
    )
    # Every file the installers read is read and checked now, before any layer.
    inputs = read_package_manager_files(
        app,
        package_manager,
        base_env,
        install_project,
        test_requirements,
        dependency_groups=dev,
        requirement_files=pip_requirements,
    )

    manifest = Manifest.load(context.buildpack_dir / MANIFEST_FILE)
    requested = read_requested_version(app, context.platform_env)
    python = resolve_version(
        requested,
        manifest,
        context.target.os,
        context.target.arch,
        today or date.today(),
    )
    mirror = mirror_from_env(settings)
    mappings = read_dependency_mappings(context.platform_dir, base_env)
    source = archive_url(python.release, mirror, mappings, context.buildpack_dir)
    bindings = read_bindings(context.platform_dir, base_env)
    uv = uv_selection(settings, app) if package_manager.tool is Tool.UV else UvSelection()
    extras = (
        pip_extras(settings, app, package_manager.file) if package_manager.tool is Tool.PIP else ()
    )
    if inputs is not None:
        inputs = with_extras(inputs, app, extras)
    procfile = read_procfile(app)
    launch_command = text(settings, "BP_LAUNCH_COMMAND")
    if launch_command is not None and control_characters(launch_command):
        raise LaunchCommandControlCharacters(launch_command, control_characters(launch_command))
    if procfile is None and launch_command is None:
        app.toml("pyproject.toml")  # the web process may be inferred from its scripts
    app.seal()
    download_timeout = seconds(settings, DOWNLOAD_TIMEOUT_ENV, DEFAULT_DOWNLOAD_TIMEOUT)
    collectstatic = not flag(settings, "BP_DISABLE_COLLECTSTATIC", False)

    log.header("Reading the app's configuration")
    log.info(f"Package manager: {package_manager.describe}")
    if dev:
        extra = f": {', '.join(test_requirements)}" if test_requirements else ""
        log.info(
            f"Execution environment: {context.exec_env} (CNB_EXEC_ENV), so the development and "
            f"test dependencies are installed too{extra}"
        )
    log.info(python.summary)
    for hint in python.hints:
        log.info(hint)
    for notice in python.notices:
        log.warning(notice.title, notice.body)
    for line in bindings.describe():
        log.info(line)

    return BuildConfig(
        app_dir=context.app_dir,
        app=app,
        layers_dir=context.layers_dir,
        buildpack_dir=context.buildpack_dir,
        platform_dir=context.platform_dir,
        target=context.target,
        python=python,
        python_source=source,
        package_manager=package_manager,
        reuse_venv=flag(settings, "BP_PIP_REUSE_VENV", True),
        pip_check=choice(settings, "BP_PIP_CHECK", PipCheck, PipCheck.WARN),
        install_project=install_project,
        environ=base_env,
        procfile=procfile,
        launch_command=launch_command,
        collectstatic=collectstatic,
        pip_installer=choice(settings, "BP_PIP_INSTALLER", PipInstallerKind, PipInstallerKind.PIP),
        poetry_groups=poetry_groups(settings),
        pip_inputs=inputs,
        download_timeout=download_timeout,
        exec_env=context.exec_env,
        test_requirements=test_requirements,
        bindings=bindings,
        uv=uv,
        pip_requirements=pip_requirements,
        pip_extras=extras,
    )


# The files a lock-file package manager's install depends on (when present), from the table:
# all are read, and checked, before any layer; the installer digests its own ones' bytes. Every
# manager's are checked, as before the table: a broken uv.toml beside a poetry.lock still fails.
LOCK_MANAGER_FILES = tuple(
    dict.fromkeys(name for spec in SPECS.values() for name in spec.project_files)
)


def read_package_manager_files(
    app: AppSnapshot,
    manager: PackageManager,
    environ: Mapping[str, str],
    install_project: bool | None,
    test_requirements: Sequence[str] = (),
    dependency_groups: bool = False,
    requirement_files: Sequence[str] = (),
) -> PipInputs | None:
    """Read and check what the package manager will install from, so that a mistake in it
    stops the build before any layer. Returns pip's inputs for a pip app."""
    if manager.tool is Tool.PIP:
        return pip_inputs(
            app,
            manager.file,
            environ,
            install_project,
            test_requirements,
            dependency_groups=dependency_groups,
            requirement_files=requirement_files,
        )
    for name in (manager.file, *LOCK_MANAGER_FILES):
        if name == "Pipfile.lock":
            app.json(name)
        elif name.endswith(".toml"):
            app.toml(name)
        else:
            # uv.lock and poetry.lock are checked by their tool, which refuses a broken one
            # before it installs anything; parsing them here (a big lock takes tens of ms)
            # would slow every rebuild that reuses the venv and never looks at them. The
            # Pipfile is Pipenv's to parse.
            app.text(name)
    return None


def pip_test_requirements(app_dir: Path, settings: Mapping[str, str]) -> tuple[str, ...]:
    """The requirement files a pip app's test build adds: BP_PIP_TEST_REQUIREMENT (each file
    must exist), else requirements-test.txt and requirements-dev.txt where present."""
    raw = text(settings, "BP_PIP_TEST_REQUIREMENT")
    if raw is None:
        return tuple(name for name in TEST_REQUIREMENT_FILES if (app_dir / name).is_file())
    names = [name for name in raw.replace(",", " ").split() if name]
    missing = [name for name in names if not (app_dir / name).is_file()]
    if missing:
        present = sorted(p.name for p in app_dir.glob("requirements*.txt"))
        raise PipTestRequirementMissing(raw, missing, present)
    return tuple(dict.fromkeys(names))


def committed_venvs(app_dir: Path) -> list[str]:
    """Top-level directories of the app that are virtual environments (they hold a pyvenv.cfg):
    `.venv/` and `venv/` usually, but any name is caught."""
    try:
        entries = sorted(os.scandir(app_dir), key=lambda entry: entry.name)
    except OSError:
        return []  # an unreadable app dir is reported by the app file scan
    return [
        entry.name
        for entry in entries
        if entry.is_dir(follow_symlinks=False) and Path(entry.path, "pyvenv.cfg").is_file()
    ]


# The name rule of packages (PEP 508), which dependency groups share (PEP 735).
NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


def poetry_groups(settings: Mapping[str, str]) -> tuple[str, ...]:
    """`BP_POETRY_GROUPS=dev,docs`: the Poetry groups installed besides `main`."""
    raw = text(settings, "BP_POETRY_GROUPS")
    if raw is None:
        return ()
    groups = [group.strip() for group in raw.replace(" ", ",").split(",") if group.strip()]
    invalid = [group for group in groups if not NAME.match(group)]
    if invalid:
        raise PoetryGroupsInvalid(raw, invalid)
    return tuple(dict.fromkeys(g for g in groups if g != "main"))
