"""Installing `uv.lock` with `uv sync` into the venv layer.

uv is pointed at the venv our python made (`UV_PROJECT_ENVIRONMENT`) and at our python
(`UV_PYTHON`), and forbidden to download or use a Python of its own, so the interpreter is always
the one the buildpack chose. `--locked` makes a stale lock file an error; `--no-default-groups`
leaves out dev (and any other default) groups. The project itself is installed (editable, so
its code stays in the app dir) only when it declares console scripts.
"""

from __future__ import annotations

from pathlib import Path

from ..output import Log
from .locked import LockFileInstaller, has_scripts, read_toml

OUTDATED_MARKER = "needs to be updated"


class UvInstaller(LockFileInstaller):
    @property
    def installs_project(self) -> bool:
        return has_scripts(read_toml(self.config.app_dir / "pyproject.toml"))

    def install(self, venv: Path, env: dict[str, str], log: Log) -> bool:
        env = {
            **env,
            "UV_PROJECT_ENVIRONMENT": str(venv),
            "UV_PYTHON": str(self.python.python),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_MANAGED_PYTHON": "1",
        }
        # The cache and the venv are layers on one filesystem: hard links are the fast path.
        env.setdefault("UV_LINK_MODE", "hardlink")
        command: list[str | Path] = [
            self.tool.executable, "sync", "--locked", "--no-default-groups",
            "--compile-bytecode", "--no-progress",
        ]  # fmt: skip
        # BP_UV_GROUPS / BP_UV_EXTRAS add groups and extras (uv_selection.py).
        command += self.config.uv.sync_args
        if not self.installs_project:
            command.append("--no-install-project")
        self.run_tool(
            command,
            env,
            log,
            outdated_marker=OUTDATED_MARKER,
            fix_command="uv lock",
            manifest="pyproject.toml",
        )
        return True
