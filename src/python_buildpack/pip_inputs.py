"""What `pip install` is asked to install, and whether that fully determines the result."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
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
    app_dir: Path,
    source_file: str,
    environ: Mapping[str, str],
    install_project: bool,
    requirement_files: Sequence[str] = (),
) -> PipInputs:
    if requirement_files:
        return _chosen_requirements(app_dir, requirement_files, environ)
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
    if install_project or project.has_scripts:
        why = "BP_PIP_INSTALL_PROJECT is set" if install_project else "it has [project.scripts]"
        return PipInputs(
            describe=f"the project in pyproject.toml ({why})",
            install_args=["."],
            digest="",
            unpinned=["the app's own source is installed as a package"],
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
            "Set BP_PIP_INSTALL_PROJECT=true to install the project itself, or list the "
            "dependencies statically in [project] dependencies.",
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


def _chosen_requirements(
    app_dir: Path, files: Sequence[str], environ: Mapping[str, str]
) -> PipInputs:
    """`BP_PIP_REQUIREMENT`'s files, installed together (`-r a -r b`). A requirement pinned only
    by another file's constraints counts as unpinned here: less reuse, never a stale venv."""
    digest = hashlib.sha256()
    unpinned: list[str] = []
    pinned: set[str] = set()
    args: list[str] = []
    for name in files:
        found = read_requirements(app_dir / name, app_dir, environ)
        digest.update(f"\0{name}\0{found.digest}".encode())
        unpinned += found.unpinned
        pinned.update(found.pinned_names)
        args += ["--requirement", name]
    return PipInputs(
        describe=", ".join(files),
        install_args=args,
        digest=digest.hexdigest(),
        unpinned=unpinned,
        pinned_names=frozenset(pinned),
    )
