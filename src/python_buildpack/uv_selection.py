"""`BP_UV_GROUPS` and `BP_UV_EXTRAS`: the dependency groups and extras `uv sync` installs.

By default a uv app gets its main dependencies only (`--no-default-groups`, no extras). The
variables name PEP 735 `[dependency-groups]` (and uv's legacy `tool.uv.dev-dependencies`, which
uv calls the `dev` group) and `[project.optional-dependencies]` extras to add, comma-separated.
They are checked against `pyproject.toml` in `decide()`: a name the project does not define is an
error listing the names it does, before any layer is touched (uv would only say so after its
own layers were installed). Names compare normalised (PEP 503), as uv compares them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name

from .app_snapshot import AppSnapshot, table
from .errors import SelectionNamesInvalid, SelectionNotInPyproject
from .settings import text

NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class UvSelection:
    groups: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()

    @property
    def sync_args(self) -> list[str]:
        args = []
        for group in self.groups:
            args += ["--group", group]
        for extra in self.extras:
            args += ["--extra", extra]
        return args

    @property
    def options(self) -> list[str]:
        """What changes the installed packages, for the venv's inputs digest."""
        if not self.groups and not self.extras:
            return []
        return [f"groups={','.join(self.groups)}", f"extras={','.join(self.extras)}"]


def defined_names(pyproject: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(groups, extras) that `pyproject.toml` defines, normalised."""
    groups = pyproject.get("dependency-groups")
    names = list(groups) if isinstance(groups, dict) else []
    if table(pyproject, "tool", "uv").get("dev-dependencies"):
        names.append("dev")
    extras = list(table(pyproject, "project", "optional-dependencies"))
    return (
        sorted({canonicalize_name(n) for n in names}),
        sorted({canonicalize_name(n) for n in extras}),
    )


def requested_names(settings: Mapping[str, str], variable: str) -> list[str]:
    raw = text(settings, variable)
    if raw is None:
        return []
    names = [n.strip() for n in raw.replace(" ", ",").split(",") if n.strip()]
    invalid = [n for n in names if not NAME.match(n)]
    if invalid:
        raise SelectionNamesInvalid(variable, raw, invalid)
    return list(dict.fromkeys(canonicalize_name(n) for n in names))


def check_defined(
    variable: str, kind: str, table: str, wanted: list[str], defined: list[str]
) -> None:
    unknown = [n for n in wanted if n not in defined]
    if unknown:
        raise SelectionNotInPyproject(variable, wanted, kind, table, unknown, defined)


def uv_selection(settings: Mapping[str, str], app: AppSnapshot) -> UvSelection:
    groups = requested_names(settings, "BP_UV_GROUPS")
    extras = requested_names(settings, "BP_UV_EXTRAS")
    if not groups and not extras:
        return UvSelection()
    pyproject = app.pyproject
    defined_groups, defined_extras = defined_names(pyproject)
    check_defined("BP_UV_GROUPS", "dependency group", "[dependency-groups]", groups, defined_groups)
    check_defined(
        "BP_UV_EXTRAS", "extra", "[project.optional-dependencies]", extras, defined_extras
    )
    return UvSelection(tuple(groups), tuple(extras))
