"""Installing `poetry.lock` with `poetry sync` into the venv layer.

Poetry installs into the active venv (`VIRTUAL_ENV`, which the venv layer sets), never one of its
own: the venv exists before Poetry runs, so it has nothing to create. `poetry sync` fails on a
stale lock file with its own message. Only the `main` group is installed, plus the groups named
in `BP_POETRY_GROUPS`; the project itself only when it declares console scripts (then editable,
so its code stays in the app dir).
"""

from __future__ import annotations

from pathlib import Path

from ..output import Log
from .locked import LockFileInstaller, has_scripts, read_toml

OUTDATED_MARKER = "changed significantly since poetry.lock was last generated"


class PoetryInstaller(LockFileInstaller):
    @property
    def installs_project(self) -> bool:
        return has_scripts(read_toml(self.config.app_dir / "pyproject.toml"))

    def install(self, venv: Path, env: dict[str, str], log: Log) -> bool:
        env = {**env, "VIRTUAL_ENV": str(venv), "POETRY_NO_INTERACTION": "1"}
        groups = ",".join(["main", *self.config.poetry_groups])
        # A test build (CNB_EXEC_ENV) takes every group, whatever BP_POETRY_GROUPS says.
        selection = ["--all-groups"] if self.config.dev_dependencies else ["--only", groups]
        command: list[str | Path] = [
            self.tool.executable, "sync", *selection, "--compile", "--no-interaction",
        ]  # fmt: skip
        if not self.installs_project:
            command.append("--no-root")
        self.run_tool(
            command,
            env,
            log,
            outdated_marker=OUTDATED_MARKER,
            fix_command="poetry lock",
            manifest="pyproject.toml",
        )
        return True
