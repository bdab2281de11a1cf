"""Installing `requirements.txt` or PEP 621 dependencies with pip (or uv's pip interface).

The `pip` layer's pip targets the venv from outside (`pip --python <venv>`), so the app image
carries no pip. `BP_PIP_INSTALLER=uv` swaps in `uv pip install --python <venv>` for speed, with
the same inputs, the same pinning rules for reuse and the same `pip check` afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import dependency_check
from ..bytecode import compile_venv
from ..commands import run
from ..config import BuildConfig, PipCheck
from ..dist_info import InstalledDistribution, read_venv
from ..errors import PipCheckFailed, PipInstallFailed
from ..layers.python import PythonInstall
from ..output import Log
from ..package_managers import UV_PIP, Tool
from ..pip_inputs import PipInputs
from ..redact import secrets_in_env

# pip's index settings and their uv equivalents, so `BP_PIP_INSTALLER=uv` installs from the same
# places. uv only looks at the first index that has a package unless told to compare them all,
# which is what pip does with extra indexes.
UV_EQUIVALENTS = {
    "PIP_INDEX_URL": "UV_DEFAULT_INDEX",
    "PIP_EXTRA_INDEX_URL": "UV_INDEX",
    "PIP_FIND_LINKS": "UV_FIND_LINKS",
    "PIP_TRUSTED_HOST": "UV_INSECURE_HOST",
    "PIP_CERT": "SSL_CERT_FILE",
}


def reuse_blockers(inputs: PipInputs, reuse_venv: bool) -> list[str]:
    """Why no venv that pip installs from `inputs` is ever reused: the same on every build with
    these inputs and settings, so known before anything is installed."""
    reasons = []
    if not reuse_venv:
        reasons.append("BP_PIP_REUSE_VENV is false")
    if not inputs.deterministic:
        reasons.append("Not every requirement is pinned to one version")
    return reasons


def rebuilt_on_every_build(config: BuildConfig) -> str | None:
    """Why this build, and the next ones with the same inputs, install a pip app's venv anew,
    or None: the first of `reuse_blockers` (see `installers.rebuilt_on_every_build`)."""
    inputs = config.pip_inputs
    if inputs is None:
        raise RuntimeError("a pip app's inputs were not read by decide()")
    blockers = reuse_blockers(inputs, config.reuse_venv)
    return blockers[0] if blockers else None


@dataclass
class PipInstaller:
    config: BuildConfig
    python: PythonInstall
    inputs: PipInputs
    pip_version: str
    # With BP_PIP_INSTALLER=uv: the uv binary and its version.
    uv: Path | None = None
    uv_version: str = ""

    @property
    def package_manager(self) -> str:
        return Tool.PIP.spec.name if self.uv is None else UV_PIP

    @property
    def display(self) -> str:
        return Tool.PIP.display if self.uv is None else f"{Tool.UV.display} (pip interface)"

    @property
    def tool_version(self) -> str:
        return self.pip_version if self.uv is None else self.uv_version

    @property
    def inputs_digest(self) -> str:
        return self.inputs.digest

    @property
    def describe(self) -> str:
        return self.inputs.describe

    @property
    def inputs_label(self) -> str:
        return "The requirements"

    def reuse_blockers(self) -> list[str]:
        return reuse_blockers(self.inputs, self.config.reuse_venv)

    def install(self, venv: Path, env: dict[str, str], log: Log) -> bool:
        inputs = self.inputs
        secrets = secrets_in_env(env)
        if self.uv is None:
            # --no-compile: the venv is compiled afterwards on every CPU (`bytecode`).
            command: list[str | Path] = [
                self.python.python, "-m", "pip", "--python", venv, "install",
                "--no-input", "--progress-bar", "off", "--no-compile", *inputs.install_args,
            ]  # fmt: skip
            shown = "pip install "
        else:
            command = [
                self.uv, "pip", "install", "--python", venv, "--compile-bytecode",
                *inputs.install_args,
            ]  # fmt: skip
            env = uv_pip_env(env)
            shown = "uv pip install "
        shown += " ".join(inputs.install_args[:6])
        with log.timed(f"Running '{shown}{' …' if len(inputs.install_args) > 6 else ''}'"):
            result = run(command, env=env, cwd=self.config.app_dir, log=log, redact=secrets)
        if not result.ok:
            if inputs.installs_project:
                log.info(
                    f"pip was installing {inputs.describe}, as 'pip install .' does. If the app "
                    "is not meant to be a package, set BP_PIP_INSTALL_PROJECT=false to install "
                    "only its [project] dependencies."
                )
            raise PipInstallFailed(inputs.describe, result.exit_code, tool=self.display)
        if self.uv is None:
            compile_venv(self.python.python, venv, env, log)

        installed = read_venv(venv)
        pip_check(self.config, self.python, installed, log)
        unpinned_installed = sorted({d.name for d in installed} - inputs.pinned_names)
        reusable = inputs.deterministic and not unpinned_installed
        if reusable:
            log.info("Every installed package is pinned: the next build can reuse this environment")
        elif self.config.reuse_venv:
            why = inputs.unpinned or [
                f"{name} (installed as a dependency)" for name in unpinned_installed
            ]
            log.info(
                "The next build will reinstall the dependencies (from the cache), since not "
                "every installed package is pinned to one version, e.g.:"
            )
            log.detail("\n".join(why[:5]))
        return reusable


def uv_pip_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with pip's index settings also given to uv (the user's own UV_* settings win)."""
    result = dict(env)
    for pip_name, uv_name in UV_EQUIVALENTS.items():
        value = env.get(pip_name, "").strip()
        if value and uv_name not in env:
            result[uv_name] = value
    if env.get("PIP_EXTRA_INDEX_URL", "").strip() and "UV_INDEX_STRATEGY" not in env:
        result["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    return result


def pip_check(
    config: BuildConfig,
    python: PythonInstall,
    installed: Sequence[InstalledDistribution],
    log: Log,
) -> None:
    if config.pip_check is PipCheck.OFF:
        return
    # In-process (`dependency_check`): running `pip check` cost half a second, and uv's pip
    # interface needs no pip layer at all.
    problems = "\n".join(dependency_check.check(installed, python.version))
    if not problems:
        return
    if config.pip_check is PipCheck.STRICT:
        raise PipCheckFailed(problems)
    log.warning(
        "The installed packages have conflicting requirements",
        "'pip check' found:\n"
        + problems
        + "\n\nThe app may fail at run time. Fix the versions in your requirements, or set "
        "BP_PIP_CHECK=strict to make this an error (off to silence it).",
    )
