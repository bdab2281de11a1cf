"""Reading a `pyproject.toml` for its PEP 621 `[project]` dependencies."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from .appfiles import Kind, read_app_file
from .errors import ConfigFileUnreadable, InvalidConfigFile
from .redact import quote

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True)
class Project:
    name: str | None
    dependencies: list[str]
    dynamic_dependencies: bool
    has_scripts: bool
    has_build_system: bool
    # `[tool.poetry.dependencies]`: the dependencies are Poetry's, not PEP 621's.
    poetry_dependencies: bool = False


def _load(path: Path) -> dict[str, Any]:
    """The parsed `pyproject.toml`, read through the one app-file reader."""
    text = read_app_file(path.parent, path.name, Kind.PROJECT)
    if text is None:
        raise ConfigFileUnreadable(path.name, "it does not exist")
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidConfigFile(
            path.name, f"it is not valid TOML: {error}", f"Fix the TOML syntax in {path.name}."
        ) from error
    return data


def read_project(path: Path) -> Project:
    data = _load(path)
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    poetry_dependencies = isinstance(poetry, dict) and "dependencies" in poetry
    project = data.get("project")
    if project is None:
        return Project(None, [], False, False, "build-system" in data, poetry_dependencies)
    if not isinstance(project, dict):
        raise InvalidConfigFile(
            path.name, "[project] is not a table.", "Make [project] a TOML table (PEP 621)."
        )
    dependencies = project.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise InvalidConfigFile(
            path.name,
            "[project] dependencies is not a list of strings.",
            'Write it as dependencies = ["flask==3.1.0", ...].',
        )
    for dependency in dependencies:
        try:
            Requirement(dependency)
        except InvalidRequirement as error:
            raise InvalidConfigFile(
                path.name,
                f"the dependency {quote(dependency)} is not a valid requirement: {error}",
                "Use PEP 508 requirement syntax, for example 'flask==3.1.0'.",
            ) from error
    dynamic = project.get("dynamic", [])
    return Project(
        name=project.get("name") if isinstance(project.get("name"), str) else None,
        dependencies=list(dependencies),
        dynamic_dependencies=isinstance(dynamic, list) and "dependencies" in dynamic,
        has_scripts=bool(project.get("scripts")) or bool(project.get("gui-scripts")),
        has_build_system="build-system" in data,
        poetry_dependencies=poetry_dependencies,
    )


def read_dependency_groups(path: Path) -> dict[str, list[str]]:
    """PEP 735 `[dependency-groups]` of a pyproject.toml: group name -> its requirement strings
    (`{include-group = ...}` entries are left out: every group is installed anyway)."""
    data = _load(path)
    groups = data.get("dependency-groups", {})
    if not isinstance(groups, dict) or not all(isinstance(v, list) for v in groups.values()):
        raise InvalidConfigFile(
            path.name,
            "[dependency-groups] is not a table of lists (PEP 735).",
            'Write each group as a list, e.g. test = ["pytest==8.4.0"].',
        )
    return {
        str(name): [entry for entry in entries if isinstance(entry, str)]
        for name, entries in groups.items()
    }
