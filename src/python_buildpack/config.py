"""Decide everything about a build before any layer is touched.

`decide()` reads the app, the platform env and the manifest once, validates all of it, and
returns a `BuildConfig`; the layer steps only act on that. So a mistake in, say, `.python-version`
fails the build in the first second, with nothing half-installed.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

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
from .output import Log
from .package_managers import PackageManager, choose_package_manager
from .python_version import ResolvedPython, read_requested_version, resolve_version
from .settings import choice, flag

MANIFEST_FILE = "python-versions.toml"
IGNORED_VENV_DIRS = (".venv", "venv")


class PipCheck(enum.Enum):
    WARN = "warn"
    STRICT = "strict"
    OFF = "off"


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
    package_manager = choose_package_manager(app_files, settings)

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
    )
