"""What `pip install` is asked to install, and whether that fully determines the result."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .app_snapshot import AppSnapshot
from .errors import ProjectDependenciesDynamic, ProjectHasNoDependencies
from .pep621 import read_dependency_groups
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
    app: AppSnapshot,
    source_file: str,
    environ: Mapping[str, str],
    install_project: bool | None,
    test_requirements: Sequence[str] = (),
    dependency_groups: bool = False,
    requirement_files: Sequence[str] = (),
) -> PipInputs:
    """`requirement_files` (BP_PIP_REQUIREMENT) replace the app's own file. `test_requirements`
    and `dependency_groups` (every PEP 735 group of pyproject.toml) are what a test build
    (CNB_EXEC_ENV) adds."""
    main = (
        _chosen_requirements(app, requirement_files, environ)
        if requirement_files
        else _main_inputs(app, source_file, environ, install_project)
    )
    inputs = with_requirement_files(main, app, test_requirements, environ)
    if dependency_groups and app.has("pyproject.toml"):
        inputs = with_dependency_groups(inputs, read_dependency_groups(app))
    return inputs


def with_dependency_groups(inputs: PipInputs, groups: Mapping[str, list[str]]) -> PipInputs:
    """`inputs` plus `--group <name>` for each group (pip >= 25.1 and uv read them from the
    pyproject.toml of the working directory, the app dir)."""
    if not groups:
        return inputs
    hasher = hashlib.sha256(inputs.digest.encode())
    args, unpinned, pinned = list(inputs.install_args), list(inputs.unpinned), set()
    for name in sorted(groups):
        hasher.update(f"\0group {name}\0{chr(0).join(groups[name])}".encode())
        args += ["--group", name]
        for requirement in groups[name]:
            pin = pinned_name(requirement)
            if pin is None:
                unpinned.append(f"dependency group {name}: {requirement}")
            else:
                pinned.add(pin)
    label = f"{inputs.describe} and the dependency groups {', '.join(sorted(groups))}"
    return _extended(inputs, label, args, hasher.hexdigest(), unpinned, pinned)


def with_requirement_files(
    inputs: PipInputs, app: AppSnapshot, files: Sequence[str], environ: Mapping[str, str]
) -> PipInputs:
    """`inputs` plus more requirement files (a test build's), installed in the same pip run."""
    if not files:
        return inputs
    hasher = hashlib.sha256(inputs.digest.encode())
    args, unpinned, pinned = list(inputs.install_args), list(inputs.unpinned), set()
    for name in files:
        found = read_requirements(app.app_dir / name, app, environ)
        hasher.update(f"\0{name}\0{found.digest}".encode())
        args += ["--requirement", name]
        unpinned += found.unpinned
        pinned |= set(found.pinned_names)
    label = f"{inputs.describe} and {', '.join(files)}"
    return _extended(inputs, label, args, hasher.hexdigest(), unpinned, pinned)


def _extended(
    inputs: PipInputs,
    describe: str,
    install_args: list[str],
    digest: str,
    unpinned: list[str],
    pinned: set[str],
) -> PipInputs:
    """`inputs` with more to install in the same pip run."""
    return replace(
        inputs,
        describe=describe,
        install_args=install_args,
        digest=digest,
        unpinned=unpinned,
        pinned_names=inputs.pinned_names | frozenset(pinned),
    )


def _main_inputs(
    app: AppSnapshot, source_file: str, environ: Mapping[str, str], install_project: bool | None
) -> PipInputs:
    """What pip installs. A `pyproject.toml` project with a `[build-system]` is a package: it is
    installed itself (`pip install .`, with its dependencies), as pip would; one without is only
    a list of `[project] dependencies`. `install_project` (BP_PIP_INSTALL_PROJECT, when set)
    overrides that either way."""
    if source_file == "requirements.txt":
        found = read_requirements(app.app_dir / source_file, app, environ)
        return PipInputs(
            describe="requirements.txt",
            install_args=["--requirement", "requirements.txt"],
            digest=found.digest,
            unpinned=found.unpinned,
            pinned_names=frozenset(found.pinned_names),
        )

    project = app.project
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
        raise ProjectHasNoDependencies()
    if project.dynamic_dependencies:
        raise ProjectDependenciesDynamic()
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
    app: AppSnapshot, files: Sequence[str], environ: Mapping[str, str]
) -> PipInputs:
    """`BP_PIP_REQUIREMENT`'s files, installed together (`-r a -r b`). A requirement pinned only
    by another file's constraints counts as unpinned here: less reuse, never a stale venv."""
    nothing = PipInputs(describe="", install_args=[], digest="")
    chosen = with_requirement_files(nothing, app, files, environ)
    return replace(chosen, describe=", ".join(files))
