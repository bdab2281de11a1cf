"""Decide everything about a build before any layer is touched.

`decide()` reads the app, the platform env and the manifest once, validates all of it, and
returns a `BuildConfig`; the layer steps only act on that. So a mistake in, say, `.python-version`
fails the build in the first second, with nothing half-installed.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .bindings import BuildBindings, read_bindings
from .cnb.context import BuildContext, Target
from .detect import python_app_files
from .distributions import (
    DownloadSource,
    Manifest,
    archive_url,
    mirror_from_env,
    read_dependency_mappings,
)
from .env_checks import check_environment
from .errors import InvalidPlatformEnv
from .output import Log
from .package_managers import PackageManager, Tool, choose_package_manager
from .pip_extras import pip_extras
from .procfile import Procfile, read_procfile
from .python_version import ResolvedPython, read_requested_version, resolve_version
from .requirement_choice import pip_requirements_manager, requirement_files
from .settings import choice, flag, text
from .uv_selection import UvSelection, uv_selection

MANIFEST_FILE = "python-versions.toml"
IGNORED_VENV_DIRS = (".venv", "venv")


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
    layers_dir: Path
    buildpack_dir: Path
    platform_dir: Path
    target: Target
    python: ResolvedPython
    python_source: DownloadSource
    package_manager: PackageManager
    reuse_venv: bool
    pip_check: PipCheck
    install_project: bool
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
    # `ca-certificates` and `pip` service bindings, for the build's tool runs only.
    bindings: BuildBindings = field(default_factory=BuildBindings)
    # BP_UV_GROUPS / BP_UV_EXTRAS (uv apps only), checked against pyproject.toml.
    uv: UvSelection = field(default_factory=UvSelection)
    # BP_PIP_REQUIREMENT: the requirements files pip installs instead of requirements.txt.
    pip_requirements: tuple[str, ...] = ()
    # BP_PIP_EXTRAS: extras of a pyproject.toml installed by pip (pip_extras.py).
    pip_extras: tuple[str, ...] = ()

    @property
    def arch(self) -> str:
        return self.target.arch

    @property
    def distro(self) -> str:
        return f"{self.target.distro_name or 'unknown'}-{self.target.distro_version or 'unknown'}"


def decide(
    context: BuildContext,
    log: Log,
    *,
    environ: Mapping[str, str] | None = None,
    today: date | None = None,
) -> BuildConfig:
    base_env = dict(os.environ if environ is None else environ)
    base_env.update(context.platform_env)
    check_environment(base_env)
    settings = base_env

    app_files = python_app_files(context.app_dir)
    # BP_PIP_REQUIREMENT makes the app a pip app, whatever else it has (requirement_choice.py).
    pip_requirements = requirement_files(settings, context.app_dir)
    package_manager = (
        pip_requirements_manager(pip_requirements, settings)
        if pip_requirements
        else choose_package_manager(app_files, settings)
    )

    manifest = Manifest.load(context.buildpack_dir / MANIFEST_FILE)
    requested = read_requested_version(context.app_dir, context.platform_env)
    python = resolve_version(
        requested,
        manifest,
        context.target.os,
        context.target.arch,
        today or date.today(),
    )
    mirror = mirror_from_env(settings)
    mappings = read_dependency_mappings(context.platform_dir, base_env)
    source = archive_url(python.release, mirror, mappings)
    bindings = read_bindings(context.platform_dir, base_env)
    uv = (
        uv_selection(settings, context.app_dir)
        if package_manager.tool is Tool.UV
        else UvSelection()
    )
    extras = (
        pip_extras(settings, context.app_dir, package_manager.file)
        if package_manager.tool is Tool.PIP
        else ()
    )
    procfile = read_procfile(context.app_dir)
    launch_command = text(settings, "BP_LAUNCH_COMMAND")
    collectstatic = not flag(settings, "BP_DISABLE_COLLECTSTATIC", False)

    log.header("Reading the app's configuration")
    log.info(f"Package manager: {package_manager.describe}")
    log.info(python.summary)
    for notice in python.notices:
        log.warning(notice.title, notice.body)
    for name in IGNORED_VENV_DIRS:
        if (context.app_dir / name / "pyvenv.cfg").is_file():
            log.warning(
                f"Ignoring the {name}/ directory in the app",
                f"{name}/ is a virtual environment from a developer machine. The buildpack "
                "installs the app's dependencies into its own virtual environment, so this one "
                "only makes the image bigger. Add it to .gitignore (or a project.toml exclude "
                "list) so it is not sent to the build.",
            )
    for line in bindings.describe():
        log.info(line)

    return BuildConfig(
        app_dir=context.app_dir,
        layers_dir=context.layers_dir,
        buildpack_dir=context.buildpack_dir,
        platform_dir=context.platform_dir,
        target=context.target,
        python=python,
        python_source=source,
        package_manager=package_manager,
        reuse_venv=flag(settings, "BP_PIP_REUSE_VENV", True),
        pip_check=choice(settings, "BP_PIP_CHECK", PipCheck, PipCheck.WARN),
        install_project=flag(settings, "BP_PIP_INSTALL_PROJECT", False),
        environ=base_env,
        procfile=procfile,
        launch_command=launch_command,
        collectstatic=collectstatic,
        pip_installer=choice(settings, "BP_PIP_INSTALLER", PipInstallerKind, PipInstallerKind.PIP),
        poetry_groups=poetry_groups(settings),
        bindings=bindings,
        uv=uv,
        pip_requirements=pip_requirements,
        pip_extras=extras,
    )


GROUP_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


def poetry_groups(settings: Mapping[str, str]) -> tuple[str, ...]:
    """`BP_POETRY_GROUPS=dev,docs`: the Poetry groups installed besides `main`."""
    raw = text(settings, "BP_POETRY_GROUPS")
    if raw is None:
        return ()
    groups = [group.strip() for group in raw.replace(" ", ",").split(",") if group.strip()]
    invalid = [group for group in groups if not GROUP_NAME.match(group)]
    if invalid:
        raise InvalidPlatformEnv(
            "BP_POETRY_GROUPS",
            raw,
            f"{', '.join(repr(g) for g in invalid)} is not a Poetry group name.",
            "List group names separated by commas, e.g. BP_POETRY_GROUPS=dev,docs.",
        )
    return tuple(dict.fromkeys(g for g in groups if g != "main"))
