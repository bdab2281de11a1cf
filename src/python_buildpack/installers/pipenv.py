"""Installing `Pipfile.lock` into the venv layer: Pipenv checks and exports, pip installs.

`pipenv verify` fails when `Pipfile.lock` no longer matches the `Pipfile` (its `_meta.hash`), and
`pipenv requirements --hash` writes the lock's default packages as a requirements file with
every hash, index and marker Pipenv recorded. The `pip` layer's pip installs exactly that
(`--no-deps`, hash-checked) into the venv, the same way as for `requirements.txt`. Letting
`pipenv sync` install instead would need Pipenv to adopt our venv as its own, and would use its
vendored pip rather than the pinned one; reading the lock file ourselves would reimplement
Pipenv's export (sources, markers, editable and VCS entries).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..commands import capture, run
from ..errors import PackageManagerInstallFailed, PipInstallFailed
from ..output import Log
from ..redact import secrets_in_env
from .locked import LockFileInstaller

OUTDATED_MARKER = "out-of-date"
# Pipenv must neither adopt the build's active venv (the app's) nor make one of its own.
PIPENV_ENV = {
    "PIPENV_IGNORE_VIRTUALENVS": "1",
    "PIPENV_VERBOSITY": "-1",
    "PIPENV_NOSPIN": "1",
    "PIPENV_YES": "1",
}


class PipenvInstaller(LockFileInstaller):
    def install(self, venv: Path, env: dict[str, str], log: Log) -> bool:
        tool_env = {**env, **PIPENV_ENV, "PIPENV_PIPFILE": str(self.config.app_dir / "Pipfile")}
        tool_env.pop("VIRTUAL_ENV", None)
        self.run_tool(
            [self.tool.executable, "verify"],
            tool_env,
            log,
            outdated_marker=OUTDATED_MARKER,
            fix_command="pipenv lock",
            manifest="Pipfile",
        )
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
        # Outside the layers: the export may hold index credentials from the Pipfile.
        with tempfile.TemporaryDirectory(prefix="pipenv-") as tmp:
            requirements = Path(tmp) / "requirements.txt"
            requirements.write_text(export.stdout, encoding="utf-8")
            command: list[str | Path] = [
                self.python.python, "-m", "pip", "--python", venv, "install",
                "--no-input", "--progress-bar", "off", "--no-deps", "--require-hashes",
                "--requirement", requirements,
            ]  # fmt: skip
            with log.timed("Running 'pip install --no-deps --require-hashes' (from Pipfile.lock)"):
                result = run(
                    command,
                    env=env,
                    cwd=self.config.app_dir,
                    log=log,
                    redact=secrets_in_env({**env, "export": export.stdout}),
                )
        if not result.ok:
            raise PipInstallFailed("the packages of Pipfile.lock", result.exit_code)
        return True
