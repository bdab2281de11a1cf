"""What `pip install` is asked to install, and whether that fully determines the result."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidConfigFile
from .pep621 import read_project
from .requirements_files import pinned_name, read_requirements


@dataclass(frozen=True)
class PipInputs:
    describe: str  # for the log: what is being installed
    install_args: list[str]
    digest: str
    unpinned: list[str] = field(default_factory=list)
    pinned_names: frozenset[str] = frozenset()
    installs_project: bool = False

    @property
    def deterministic(self) -> bool:
        """Whether the same inputs always install the same packages."""
        return not self.unpinned and not self.installs_project


def pip_inputs(
    app_dir: Path, source_file: str, environ: Mapping[str, str], install_project: bool | None
) -> PipInputs:
    """What pip installs. A `pyproject.toml` project with a `[build-system]` is a package: it is
    installed itself (`pip install .`, with its dependencies), as pip would; one without is only
    a list of `[project] dependencies`. `install_project` (BP_PIP_INSTALL_PROJECT, when set)
    overrides that either way."""
    if source_file == "requirements.txt":
        found = read_requirements(app_dir / source_file, app_dir, environ)
        return PipInputs(
            describe="requirements.txt",
            install_args=["--requirement", "requirements.txt"],
            digest=found.digest,
            unpinned=found.unpinned,
            pinned_names=frozenset(found.pinned_names),
        )

    project = read_project(app_dir / "pyproject.toml")
    if install_project is None:
        install_project = project.has_build_system
        why = "it has a [build-system]"
    else:
        why = "BP_PIP_INSTALL_PROJECT is true"
    if install_project:
        return PipInputs(
            describe=f"the project in pyproject.toml with its dependencies ({why})",
            install_args=["."],
            digest="",
            unpinned=["the app's own code, installed as a copy that must follow its changes"],
            installs_project=True,
        )
    if project.name is None and not project.dependencies:
        raise InvalidConfigFile(
            "pyproject.toml",
            "it has no [project] table, so there are no dependencies to install.",
            "List the dependencies under [project] dependencies (PEP 621), or add a "
            "requirements.txt or the lock file of your package manager.",
        )
    if project.dynamic_dependencies:
        raise InvalidConfigFile(
            "pyproject.toml",
            "its dependencies are dynamic, so they can only be known by building the project.",
            "Add a [build-system] table (the project is then installed itself, with its "
            "dependencies), or list the dependencies statically in [project] dependencies. "
            "(BP_PIP_INSTALL_PROJECT=false asks for the dependencies alone.)",
        )
    digest = hashlib.sha256("\n".join(project.dependencies).encode()).hexdigest()
    pinned = {pinned_name(dep) for dep in project.dependencies}
    unpinned = [
        f"pyproject.toml dependency {dep}"
        for dep in project.dependencies
        if pinned_name(dep) is None
    ]
    return PipInputs(
        describe="the dependencies in pyproject.toml",
        install_args=list(project.dependencies),
        digest=digest,
        unpinned=unpinned,
        pinned_names=frozenset(name for name in pinned if name),
    )
