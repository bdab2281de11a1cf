"""Installing `Pipfile.lock` into the venv layer: Pipenv checks and exports, pip installs.

`pipenv verify` fails when `Pipfile.lock` no longer matches the `Pipfile` (its `_meta.hash`), and
`pipenv requirements --hash` writes the lock's default packages as a requirements file with
every hash, index and marker Pipenv recorded. The `pip` layer's pip installs exactly that
(`--no-deps`, hash-checked) into the venv, the same way as for `requirements.txt`; the entries
that have nothing to hash (editable `-e .`, local paths, VCS) follow in a second pip run. Letting
`pipenv sync` install instead would need Pipenv to adopt our venv as its own, and would use its
vendored pip rather than the pinned one; reading the lock file ourselves would reimplement
Pipenv's export (sources, markers, editable and VCS entries).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bytecode import compile_venv
from ..commands import capture, run
from ..config import BuildConfig
from ..errors import LockedPackagesInstallFailed, PackageManagerInstallFailed
from ..output import Log
from ..package_managers import Tool
from ..redact import secrets_in_env
from .locked import LockFileInstaller

# Pipenv must neither adopt the build's active venv (the app's) nor make one of its own.
PIPENV_ENV = {
    "PIPENV_IGNORE_VIRTUALENVS": "1",
    "PIPENV_VERBOSITY": "-1",
    "PIPENV_NOSPIN": "1",
    "PIPENV_YES": "1",
}


class PipenvInstaller(LockFileInstaller):
    spec = Tool.PIPENV.spec
    local_words = (b'"path"', b'"file"')

    def install(self, venv: Path, env: dict[str, str], log: Log) -> bool:
        tool_env = {**env, **PIPENV_ENV, "PIPENV_PIPFILE": str(self.config.app_dir / "Pipfile")}
        tool_env.pop("VIRTUAL_ENV", None)
        self.run_tool([self.tool.executable, "verify"], tool_env, log)
        # A test build (CNB_EXEC_ENV) exports the [dev-packages] too.
        dev = ["--dev"] if self.config.dev_dependencies else []
        export = capture(
            [self.tool.executable, "requirements", "--hash", *dev],
            env=tool_env,
            cwd=self.config.app_dir,
        )
        if export.returncode != 0:
            log.command_output(export.stdout + export.stderr)
            raise PackageManagerInstallFailed(
                self.display,
                "pipenv requirements --hash",
                export.returncode,
                self.lock_file,
                self.python.version,
            )
        hashed, unhashed = split_export(export.stdout)
        # Outside the layers: the export may hold index credentials from the Pipfile.
        with tempfile.TemporaryDirectory(prefix="pipenv-") as tmp:
            # pip checks hashes for a whole run or not at all, and a local or VCS entry has no
            # file to hash: those install in a second run, as `pipenv sync` does.
            for lines, hash_args, label in (
                (hashed, ["--require-hashes"], "--no-deps --require-hashes"),
                (unhashed, [], "--no-deps"),
            ):
                if not lines.requirements:
                    continue
                requirements = Path(tmp) / f"requirements-{len(hash_args)}.txt"
                requirements.write_text(lines.text, encoding="utf-8")
                command: list[str | Path] = [
                    self.python.python, "-m", "pip", "--python", venv, "install",
                    "--no-input", "--progress-bar", "off", "--no-compile", "--no-deps",
                    *hash_args, "--requirement", requirements,
                ]  # fmt: skip
                with log.timed(f"Running 'pip install {label}' (from Pipfile.lock)"):
                    result = run(
                        command,
                        env=env,
                        cwd=self.config.app_dir,
                        log=log,
                        redact=secrets_in_env({**env, "export": export.stdout}),
                    )
                if not result.ok:
                    raise LockedPackagesInstallFailed(self.lock_file, result.exit_code)
        # pip ran with --no-compile: the venv is compiled once, on every CPU (`bytecode`).
        compile_venv(self.python.python, venv, env, log)
        return self.finish(log)

    @classmethod
    def copied(cls, config: BuildConfig) -> list[str]:
        return copied_sources(config.app.json(cls.spec.lock_file))


@dataclass(frozen=True)
class ExportPart:
    options: list[str]
    requirements: list[str]

    @property
    def text(self) -> str:
        return "".join(f"{line}\n" for line in [*self.options, *self.requirements])


def split_export(export: str) -> tuple[ExportPart, ExportPart]:
    """`pipenv requirements --hash` output as (entries with hashes, entries without: editable,
    local paths, VCS), each with the export's index options."""
    options: list[str] = []
    hashed: list[str] = []
    unhashed: list[str] = []
    for raw in export.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-") and not line.startswith(("-e ", "--editable")):
            options.append(line)
        elif "--hash=" in line:
            hashed.append(line)
        else:
            unhashed.append(line)
    return ExportPart(options, hashed), ExportPart(options, unhashed)


def copied_sources(lock: Any) -> list[str]:
    """The default packages Pipfile.lock (parsed) installs from the app dir as a copy: a local
    `path` without `editable`, or a local `file`."""
    default = lock.get("default") if isinstance(lock, dict) else None
    copied = []
    for name, entry in (default if isinstance(default, dict) else {}).items():
        if not isinstance(entry, dict):
            continue
        where = str(entry.get("file", ""))
        local_file = "://" not in where or where.startswith("file://")
        if ("path" in entry and not entry.get("editable")) or ("file" in entry and local_file):
            copied.append(f"{name} (from {entry.get('path', entry.get('file'))})")
    return copied
