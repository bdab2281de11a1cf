"""The baseline: the irreducible work of a cold build done by hand, with no buildpack.

What is timed, per run, in a fresh directory and with a clean environment (like the builds):

- python: `curl` the same CPython archive from the same local mirror, `sha256sum -c` it, `tar -x`
  it (what any install of a prebuilt Python must do);
- venv: `python -m venv` — for a pip app with its pip (ensurepip), the way a person would,
  since the buildpack's `pip` layer does that job; for a uv app `--without-pip`;
- install: `<venv>/bin/python -m pip install -r requirements.txt` from the same local index
  with an empty pip cache (or, for a uv app, `uv sync --locked` with an empty uv cache).

Not timed, done once beforehand: installing the pinned uv (for uv apps). Left out
entirely, because a hand-made build can skip them: relocating the Python (rewriting its
sysconfig to the install path), `pip check`, layer metadata and the lifecycle's own phases.
The baseline runs on the host as root, the build as the cnb user in a mount namespace: both on the
same disk and CPUs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
SOURCE_DATE_EPOCH = "315532801"  # what the buildpack sets, so pip writes the same kind of .pyc


class BaselineFailed(Exception):
    pass


def _run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise BaselineFailed(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )


def _base_env(home: Path) -> dict[str, str]:
    return {
        "PATH": CLEAN_PATH,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
    }


@dataclass
class Baseline:
    """Tools installed once (untimed) for the timed runs: a pip user base, optionally uv."""

    work: Path
    archive_url: str
    archive_sha256: str
    index_env: dict[str, str]
    uv_base: Path | None = None

    @classmethod
    def prepare(
        cls,
        work: Path,
        archive: Path,
        archive_url: str,
        archive_sha256: str,
        index_env: dict[str, str],
        *,
        with_uv: bool = False,
    ) -> Baseline:
        """Install the buildpack's pinned uv (for uv apps) the way its uv layer does, untimed."""
        work.mkdir(parents=True, exist_ok=True)
        setup = work / "setup"
        python_dir = setup / "python"
        python_dir.mkdir(parents=True)
        _run(["tar", "-xzf", str(archive), "-C", str(python_dir), "--strip-components=1"], {})
        python = python_dir / "bin" / "python3"
        wheel = sorted(python_dir.glob("lib/python3.*/ensurepip/_bundled/pip-*.whl"))[-1]
        index_args = ["--index-url", index_env["PIP_INDEX_URL"]]
        index_args += ["--trusted-host", index_env["PIP_TRUSTED_HOST"]]
        bases = {"uv": work / "uv"} if with_uv else {}
        for tool, base in bases.items():
            env = {**_base_env(setup), "PYTHONUSERBASE": str(base)}
            command = [
                str(python), str(wheel / "pip"), "install", "--isolated", "--user",
                "--no-cache-dir", "--quiet", "--no-warn-script-location",
                "--require-hashes", "-r", str(REPO / "requirements" / f"{tool}.txt"),
                *index_args,
            ]  # fmt: skip
            _run(command, env)
        return cls(work, archive_url, archive_sha256, dict(index_env), bases.get("uv"))

    def warm_install(self, app: Path) -> dict[str, float]:
        """The by-hand equivalent of a pin change: `pip install -r` into a fresh venv (made
        `--without-pip`, filled by another venv's pip, as the buildpack does) with a pip cache
        that already holds every requirement (warmed, untimed, by a first install)."""
        run_dir = Path(tempfile.mkdtemp(prefix="warm-", dir=self.work))
        try:
            env = _base_env(run_dir)
            pip_env = {**env, **self.index_env, "PIP_CACHE_DIR": str(run_dir / "cache")}
            python = self.work / "setup" / "python" / "bin" / "python3"
            tool_venv, venv = run_dir / "tool", run_dir / "venv"
            _run([str(python), "-m", "venv", str(tool_venv)], env)
            install = [
                str(tool_venv / "bin" / "python"), "-m", "pip", "install", "--no-input",
                "--progress-bar", "off", "-r", "requirements.txt",
            ]  # fmt: skip
            _run(install, pip_env, cwd=app)  # warms the cache
            times: dict[str, float] = {}
            started = time.perf_counter()
            _run([str(python), "-m", "venv", "--without-pip", str(venv)], env)
            times["venv"] = time.perf_counter() - started
            started = time.perf_counter()
            _run([*install[:3], "--python", str(venv), *install[3:]], pip_env, cwd=app)
            times["install"] = time.perf_counter() - started
            times["total"] = sum(times.values())
            return times
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)

    def run(self, app: Path, *, uv: bool = False) -> dict[str, float]:
        """One cold run for `app`: seconds of each step and their total."""
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self.work))
        try:
            return self._run(app, run_dir, uv=uv)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)

    def _run(self, app: Path, run_dir: Path, *, uv: bool) -> dict[str, float]:
        home, cache = run_dir / "home", run_dir / "cache"
        home.mkdir()
        cache.mkdir()
        env = _base_env(home)
        archive = run_dir / "python.tar.gz"
        python_dir = run_dir / "python"
        python_dir.mkdir()
        python = python_dir / "bin" / "python3"
        venv = run_dir / "venv"
        times: dict[str, float] = {}

        started = time.perf_counter()
        _run(["curl", "-fsS", "-o", str(archive), self.archive_url], env)
        checksum = f"{self.archive_sha256}  {archive}\n"
        result = subprocess.run(["sha256sum", "-c", "--quiet"], input=checksum, text=True, env=env)
        if result.returncode != 0:
            raise BaselineFailed("the archive's sha256 does not match")
        _run(["tar", "-xzf", str(archive), "-C", str(python_dir), "--strip-components=1"], env)
        times["python"] = time.perf_counter() - started

        started = time.perf_counter()
        without_pip = ["--without-pip"] if uv else []
        _run([str(python), "-m", "venv", *without_pip, str(venv)], env)
        times["venv"] = time.perf_counter() - started

        started = time.perf_counter()
        if uv:
            assert self.uv_base is not None, "prepare(with_uv=True) first"
            project = run_dir / "app"
            shutil.copytree(app, project)
            uv_env = {
                **env,
                **{"UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON": str(python)},
                **{"UV_PYTHON_DOWNLOADS": "never", "UV_CACHE_DIR": str(cache)},
            }
            command = [
                str(self.uv_base / "bin" / "uv"), "sync", "--locked", "--no-default-groups",
                "--compile-bytecode", "--no-progress", "--no-install-project",
            ]  # fmt: skip
            _run(command, uv_env, cwd=project)
        else:
            pip_env = {**env, **self.index_env, "PIP_CACHE_DIR": str(cache)}
            command = [
                str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input",
                "--progress-bar", "off", "-r", "requirements.txt",
            ]  # fmt: skip
            _run(command, pip_env, cwd=app)
        times["install"] = time.perf_counter() - started
        times["total"] = sum(times.values())
        return times
