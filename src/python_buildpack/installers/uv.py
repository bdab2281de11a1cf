"""Installing `uv.lock` with `uv sync` into the venv layer.

uv is pointed at the venv our python made (`UV_PROJECT_ENVIRONMENT`) and at our python
(`UV_PYTHON`), and forbidden to download or use a Python of its own, so the interpreter is always
the one the buildpack chose. `--locked` makes a stale lock file an error; `--no-default-groups`
leaves out dev (and any other default) groups. Whether the project itself is installed is uv's
own rule, not ours: a package (a `[build-system]`, or `tool.uv.package = true`) is installed
editable, so its code stays in the app dir; a virtual project (no `[build-system]`, or
`tool.uv.package = false`) only gets its dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..app_snapshot import table
from ..config import NAME, BuildConfig
from ..output import Log
from ..package_managers import Tool
from .locked import LockFileInstaller


class UvInstaller(LockFileInstaller):
    spec = Tool.UV.spec
    local_words = (b"directory =", b"path =")

    @property
    def options(self) -> Sequence[str]:
        return self.config.uv.options

    def install(self, venv: Path, env: dict[str, str], log: Log) -> bool:
        # The venv, never a Python of uv's own (the table's settings), and our python.
        env = {**env, **self.spec.venv_env(str(venv)), "UV_PYTHON": str(self.python.python)}
        # The cache and the venv are layers on one filesystem: hard links are the fast path.
        env.setdefault("UV_LINK_MODE", "hardlink")
        log.info(project_note(self.config.app.pyproject))
        # A test build (CNB_EXEC_ENV) takes every dependency group, `dev` and the rest.
        groups = "--all-groups" if self.config.dev_dependencies else "--no-default-groups"
        command: list[str | Path] = [
            self.tool.executable, "sync", "--locked", groups, "--compile-bytecode", "--no-progress",
        ]  # fmt: skip
        # BP_UV_GROUPS / BP_UV_EXTRAS add groups and extras (uv_selection.py).
        command += self.config.uv.sync_args
        lock = self.config.app.toml(self.lock_file) or {}
        # uv's cache knows the build of a local package by the times of its pyproject.toml,
        # setup.py and setup.cfg alone, which do not change when its code does: the cached
        # build of an earlier build would be installed, with the code as it was then.
        # A name that is not one (an option, say) is left for uv to reject with the lock file.
        rebuilt = [name for name, _ in local_copies(lock) if NAME.fullmatch(name)]
        if rebuilt:
            log.info(
                f"Building {', '.join(rebuilt)} from the app dir anew, not from uv's cache, "
                "which would miss changes to its code"
            )
            for name in rebuilt:
                command += ["--refresh-package", name]
        self.run_tool(command, env, log)
        return self.finish(log)

    @classmethod
    def copied(cls, config: BuildConfig) -> list[str]:
        return copied_sources(config.app.toml(cls.spec.lock_file) or {})


def project_note(pyproject: dict[str, Any]) -> str:
    """For the log: whether `uv sync` installs the project itself, and why (uv's rule)."""
    package = table(pyproject, "tool", "uv").get("package")
    if package is False:
        return "The project itself is not installed: tool.uv.package is false"
    if package is True:
        return "The project itself is installed (editable): tool.uv.package is true"
    if "build-system" in pyproject:
        return "The project itself is installed (editable): it has a [build-system]"
    return "The project itself is not installed: it is a virtual project (no [build-system])"


def copied_sources(lock: dict[str, Any]) -> list[str]:
    """The packages uv.lock installs from the app dir as a copy, for the log."""
    return [f"{name} (from {where})" for name, where in local_copies(lock)]


def local_copies(lock: dict[str, Any]) -> list[tuple[str, str]]:
    """The name and place of each package uv.lock installs from the app dir as a copy: a local
    directory that is not editable (`source = { directory = ... }`) or a local archive
    (`source = { path = ... }`)."""
    packages = lock.get("package")
    copied = []
    for package in packages if isinstance(packages, list) else []:
        source = package.get("source") if isinstance(package, dict) else None
        if isinstance(source, dict) and ("directory" in source or "path" in source):
            where = source.get("directory", source.get("path"))
            copied.append((str(package.get("name")), str(where)))
    return copied
