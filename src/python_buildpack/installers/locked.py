"""What the lock-file package managers (uv, Poetry, Pipenv) share.

A lock file pins every package, so the venv it gives is reusable as long as the lock file, the
project file it was made from, the tool and the Python version are unchanged. The project file is
part of the digest on purpose: the tools only check that the lock file is current when they run,
so a changed `pyproject.toml` (or `Pipfile`) must make them run again.

The app's own code is the exception. Installed editable (the project itself under uv and Poetry,
`-e .` in a Pipfile) the venv only points at the app dir, `/workspace` at build and at launch, so
a reused venv sees the new code. Installed as a copy (a local directory or archive the lock names
without `editable`/`develop`), the copy would go stale when the code changes: such a venv is
never reused, and is rebuilt from the tool's cache on every build.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..commands import Result, display, run
from ..config import BuildConfig
from ..errors import (
    LockFileOutdated,
    PackageManagerInstallFailed,
    UserError,
)
from ..layers.python import PythonInstall
from ..layers.tool import ToolInstall
from ..output import Log
from ..package_managers import ManagerSpec
from ..redact import secrets_in_env


@dataclass
class LockFileInstaller:
    """The shared part of an installer; a subclass names its row of the table (`spec`) and
    runs its tool (`install`)."""

    spec: ClassVar[ManagerSpec]
    # Words that every lock entry installing the app's code as a copy holds, as the tool writes
    # it: a lock file without any is not parsed before the install (`copied_before_install`),
    # since parsing a large one would cost a warm build more than the rest of its work.
    local_words: ClassVar[tuple[bytes, ...]]

    config: BuildConfig
    python: PythonInstall
    tool: ToolInstall

    @property
    def options(self) -> Sequence[str]:
        """Choices that change what is installed (groups, installing the project itself)."""
        return []

    @property
    def display(self) -> str:
        return self.spec.display

    @property
    def lock_file(self) -> str:
        return self.spec.lock_file

    @property
    def inputs(self) -> Sequence[str]:
        """Files the lock file is made from, or that change what the tool installs (when
        present)."""
        return self.spec.project_files

    @property
    def package_manager(self) -> str:
        return self.spec.name

    @property
    def tool_version(self) -> str:
        return self.tool.version

    @property
    def describe(self) -> str:
        return self.lock_file

    @property
    def inputs_label(self) -> str:
        parts = [self.lock_file, *(f for f in self.inputs if self.config.app.has(f))]
        if self.options:
            parts.append("the selected groups")
        return ", ".join(parts[:-1]) + f" or {parts[-1]}" if len(parts) > 1 else parts[0]

    @property
    def inputs_digest(self) -> str:
        """Of the bytes the tool reads when it runs: the snapshot's, read by decide()."""
        digest = hashlib.sha256()
        for name in sorted({self.lock_file, *self.inputs}):
            data = self.config.app.read_bytes(name)
            if data is not None:
                digest.update(f"\0{name}\0".encode())
                digest.update(data)
        digest.update("\0".join(self.options).encode())
        return digest.hexdigest()

    def reuse_blockers(self) -> list[str]:
        return []

    @classmethod
    def copied(cls, config: BuildConfig) -> list[str]:
        """The packages the lock file installs from the app dir as a copy, not editable: the
        venv is then installed anew on every build (`finish`)."""
        raise NotImplementedError

    @classmethod
    def copied_before_install(cls, config: BuildConfig) -> str | None:
        """Why the venv is installed anew on every build (`copy_reason`), told before Python is
        installed (`layers.python` keeps its files cached then), or None. A lock file the tool
        did not write as usual may escape it; `finish` still tells from the whole lock after
        the install."""
        data = config.app.read_bytes(cls.spec.lock_file)
        if data is None or not any(word in data for word in cls.local_words):
            return None
        return cls.copy_reason() if cls.copied(config) else None

    @classmethod
    def copy_reason(cls) -> str:
        return f"{cls.spec.lock_file} installs code of the app dir as a copy, not editable"

    def install(self, venv: Path, env: dict[str, str], log: Log) -> bool:
        """Run the tool into `venv` (`layers.venv.Installer.install`)."""
        raise NotImplementedError

    def finish(self, log: Log) -> bool:
        """Whether the venv just made may be reused; says why not when local code was copied."""
        copied = self.copied(self.config)
        if not copied:
            return True
        log.info(
            "The next build will reinstall the dependencies (from the cache), since "
            f"{self.copy_reason()}:"
        )
        log.detail("\n".join(copied))
        return False

    def run_tool(
        self,
        command: Sequence[str | Path],
        env: dict[str, str],
        log: Log,
        *,
        known_failures: Mapping[str, UserError] | None = None,
    ) -> Result:
        """Run the tool in the app dir; its failure is an error naming the command (and, when
        the tool says the lock file is stale, the command that refreshes it: `spec.outdated`).
        `known_failures` maps words of the tool's output to the error that explains them
        better."""
        shown = display([self.tool.name, *command[1:]])
        with log.timed(f"Running '{shown}'"):
            result = run(
                command, env=env, cwd=self.config.app_dir, log=log, redact=secrets_in_env(env)
            )
        if result.ok:
            return result
        outdated, manifest = self.spec.outdated, self.spec.manifest
        if outdated and manifest and outdated.marker in result.output:
            raise LockFileOutdated(self.display, self.lock_file, manifest, outdated.fix_command)
        for marker, error in (known_failures or {}).items():
            if marker in result.output:
                raise error
        raise PackageManagerInstallFailed(
            self.display, shown, result.exit_code, self.lock_file, self.python.version
        )
