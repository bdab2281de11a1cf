"""Installing `poetry.lock` with `poetry sync` into the venv layer.

Poetry installs into the active venv (`VIRTUAL_ENV`, which the venv layer sets), never one of its
own: the venv exists before Poetry runs, so it has nothing to create. `poetry sync` fails on a
stale lock file with its own message. Only the `main` group is installed, plus the groups named
in `BP_POETRY_GROUPS`. The project itself is installed (editable, so its code stays in the app
dir) unless `package-mode = false`, as `poetry sync` does: that is Poetry's rule, not ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..app_snapshot import table
from ..bytecode import compile_venv
from ..config import BuildConfig
from ..errors import PoetryProjectNotInstallable
from ..output import Log
from ..package_managers import Tool
from .locked import LockFileInstaller

# Poetry 2's words when the project's own code is not where its settings say.
NOT_INSTALLABLE_MARKER = "The current project could not be installed"


class PoetryInstaller(LockFileInstaller):
    spec = Tool.POETRY.spec
    local_words = (b'"directory"', b'"file"')

    @property
    def options(self) -> Sequence[str]:
        return [f"groups={','.join(self.config.poetry_groups)}"]

    def install(self, venv: Path, env: dict[str, str], log: Log) -> bool:
        env = {**env, "VIRTUAL_ENV": str(venv), "POETRY_NO_INTERACTION": "1"}
        groups = ",".join(["main", *self.config.poetry_groups])
        log.info(project_note(self.config.app.pyproject))
        # A test build (CNB_EXEC_ENV) takes every group, whatever BP_POETRY_GROUPS says.
        selection = ["--all-groups"] if self.config.dev_dependencies else ["--only", groups]
        # No --compile: Poetry compiles each wheel as it installs it; the venv is compiled
        # afterwards on every CPU (`bytecode`).
        command: list[str | Path] = [self.tool.executable, "sync", *selection, "--no-interaction"]
        self.run_tool(
            command,
            env,
            log,
            known_failures={NOT_INSTALLABLE_MARKER: PoetryProjectNotInstallable()},
        )
        compile_venv(self.python.python, venv, env, log)
        return self.finish(log)

    @classmethod
    def copied(cls, config: BuildConfig) -> list[str]:
        return copied_sources(config.app.toml(cls.spec.lock_file) or {})


def project_note(pyproject: dict[str, Any]) -> str:
    """For the log: whether `poetry sync` installs the project itself (Poetry's rule)."""
    if table(pyproject, "tool", "poetry").get("package-mode") is False:
        return "The project itself is not installed: package-mode is false"
    return "The project itself is installed (editable): package-mode is not false"


def copied_sources(lock: dict[str, Any]) -> list[str]:
    """The packages poetry.lock installs from the app dir as a copy: a local directory without
    `develop = true`, or a local archive file."""
    packages = lock.get("package")
    copied = []
    for package in packages if isinstance(packages, list) else []:
        if not isinstance(package, dict):
            continue
        source = table(package, "source")
        kind = source.get("type")
        if (kind == "directory" and not package.get("develop")) or kind == "file":
            copied.append(f"{package.get('name')} (from {source.get('url')})")
    return copied
