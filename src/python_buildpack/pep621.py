"""The PEP 621 `[project]` and PEP 735 `[dependency-groups]` facts of the app's `pyproject.toml`,
from the app snapshot (which reads and parses the file, once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement

from .app_snapshot import table
from .errors import (
    AppFileMissing,
    DependencyGroupsInvalid,
    ProjectDependenciesNotStrings,
    ProjectDependencyInvalid,
    ProjectNotATable,
)

if TYPE_CHECKING:
    from .app_snapshot import AppSnapshot

PYPROJECT = "pyproject.toml"


@dataclass(frozen=True)
class Project:
    name: str | None
    dependencies: list[str]
    dynamic_dependencies: bool
    has_build_system: bool
    # `[tool.poetry.dependencies]`: the dependencies are Poetry's, not PEP 621's.
    poetry_dependencies: bool = False


def read_project(app: AppSnapshot) -> Project:
    """The app's `pyproject.toml` facts (use `AppSnapshot.project`, which keeps them)."""
    data = app.toml(PYPROJECT)
    if data is None:
        raise AppFileMissing(PYPROJECT)
    poetry_dependencies = "dependencies" in table(data, "tool", "poetry")
    project = data.get("project")
    if project is None:
        return Project(None, [], False, "build-system" in data, poetry_dependencies)
    if not isinstance(project, dict):
        raise ProjectNotATable()
    dependencies = project.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise ProjectDependenciesNotStrings()
    for dependency in dependencies:
        try:
            Requirement(dependency)
        except InvalidRequirement as error:
            raise ProjectDependencyInvalid(dependency, str(error)) from error
    dynamic = project.get("dynamic", [])
    return Project(
        name=project.get("name") if isinstance(project.get("name"), str) else None,
        dependencies=list(dependencies),
        dynamic_dependencies=isinstance(dynamic, list) and "dependencies" in dynamic,
        has_build_system="build-system" in data,
        poetry_dependencies=poetry_dependencies,
    )


def read_dependency_groups(app: AppSnapshot) -> dict[str, list[str]]:
    """PEP 735 `[dependency-groups]` of pyproject.toml: group name -> its requirement strings
    (`{include-group = ...}` entries are left out: every group is installed anyway)."""
    data = app.toml(PYPROJECT)
    if data is None:
        raise AppFileMissing(PYPROJECT)
    groups = data.get("dependency-groups", {})
    if not isinstance(groups, dict) or not all(isinstance(v, list) for v in groups.values()):
        raise DependencyGroupsInvalid()
    return {
        str(name): [entry for entry in entries if isinstance(entry, str)]
        for name, entries in groups.items()
    }
