"""Run `bin/detect` and `bin/build` as subprocesses, the way the lifecycle calls them.

The environment is built from scratch (like a build image's), not inherited from the host: this
machine exports pip settings and has a pip config that a real build never sees.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEV_VENV_BIN = REPO / ".venv" / "bin"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUILDPACK_ID = "python-buildpack/python"


def clean_env(extra: Mapping[str, str] | None = None, *, path: str | None = None) -> dict[str, str]:
    """A minimal environment like a build image's, with the dev venv's python3 on PATH."""
    env = {
        "PATH": path if path is not None else f"{DEV_VENV_BIN}:{SYSTEM_PATH}",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": "/dev/null",
    }
    # This host reaches PyPI through a TLS-intercepting proxy whose CA only the system bundle
    # has; a build image on such a network gets the same setting from its operator.
    if "PIP_CERT" in os.environ:
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    env.update(extra or {})
    return env


@dataclass
class PhaseResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Workspace:
    """The directories of one buildpack run: app, platform, layers, plan files."""

    root: Path
    buildpack_dir: Path = REPO
    target: dict[str, str] = field(
        default_factory=lambda: {
            "CNB_TARGET_OS": "linux",
            "CNB_TARGET_ARCH": "amd64",
            "CNB_TARGET_DISTRO_NAME": "debian",
            "CNB_TARGET_DISTRO_VERSION": "12",
        }
    )

    # Whether the next build has a previous image: only `restore_for_rebuild` gives it one.
    _previous_image: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        for sub in ("app", "platform/env", "plan"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.layers.mkdir(parents=True, exist_ok=True)
        # What the lifecycle's detector leaves beside the buildpacks' layers directories: this
        # buildpack alone builds the app.
        self.set_group([BUILDPACK_ID])

    def set_group(self, ids: list[str]) -> None:
        """The buildpacks of `<layers>/group.toml`, in order (this one among them)."""
        entries = "".join(f'[[group]]\nid = "{id_}"\nversion = "0.1.0"\n' for id_ in ids)
        (self.layers.parent / "group.toml").write_text(entries)

    @property
    def app(self) -> Path:
        return self.root / "app"

    @property
    def platform(self) -> Path:
        return self.root / "platform"

    @property
    def layers(self) -> Path:
        """This buildpack's layers directory, in the platform's as the lifecycle lays it out."""
        return self.root / "layers" / BUILDPACK_ID.replace("/", "_")

    @property
    def build_plan(self) -> Path:
        return self.root / "plan" / "plan.toml"

    @property
    def buildpack_plan(self) -> Path:
        return self.root / "plan" / "buildpack-plan.toml"

    def copy_app(self, source: Path) -> None:
        shutil.copytree(source, self.app, dirs_exist_ok=True)

    def set_platform_env(self, name: str, value: str) -> None:
        (self.platform / "env" / name).write_text(value)

    def restore_for_rebuild(self, *, previous_image: bool = True) -> None:
        """Leave `layers` as the lifecycle's analyzer and restorer leave a rebuild's layers
        directory (Platform API 0.14+), from the last build's output with its cache and, with
        `previous_image`, the image it exported:

        - a launch layer's `<name>.toml` comes from the image (not one with build = true and
          cache = false); a cached layer's `<name>.toml` and files from the cache; `[types]`
          is stripped, and nothing else is kept;
        - the SBOM files of the layers restored come back with them;
        - `store.toml` comes from the image only; `launch.toml` and `build.toml` never.

        The real phases run in tests/e2e; this is for contract tests of rebuilds. Without it,
        a build in the same layers directory is a rebuild under a new image name (the cache
        left as it was, no previous image): `build` removes `store.toml`, which the lifecycle
        only restores from a previous image."""
        self._previous_image = previous_image
        import tomli_w
        import tomllib

        for path in sorted(self.layers.glob("*.toml")):
            name = path.stem
            if name in ("launch", "build") or (name == "store" and not previous_image):
                path.unlink()
                continue
            if name == "store":
                continue
            content = tomllib.loads(path.read_text())
            types = content.get("types", {})
            launch, build, cache = (bool(types.get(key)) for key in ("launch", "build", "cache"))
            from_image = previous_image and launch and not (build and not cache)
            if not cache:
                shutil.rmtree(self.layers / name, ignore_errors=True)
            if from_image or cache:
                path.write_text(tomli_w.dumps({"metadata": content.get("metadata", {})}))
            else:
                path.unlink()
                for sbom in self.layers.glob(f"{name}.sbom.*"):
                    sbom.unlink()

    def detect(self, env: Mapping[str, str] | None = None, path: str | None = None) -> PhaseResult:
        cnb = {
            "CNB_BUILDPACK_DIR": str(self.buildpack_dir),
            "CNB_PLATFORM_DIR": str(self.platform),
            "CNB_BUILD_PLAN_PATH": str(self.build_plan),
            **self.target,
        }
        return self._run("detect", {**cnb, **(env or {})}, path)

    def build(
        self, env: Mapping[str, str] | None = None, plan: str | None = None, path: str | None = None
    ) -> PhaseResult:
        if plan is not None or not self.buildpack_plan.exists():
            self.buildpack_plan.write_text(plan if plan is not None else "")
        if not self._previous_image:
            (self.layers / "store.toml").unlink(missing_ok=True)
        self._previous_image = False
        cnb = {
            "CNB_BUILDPACK_DIR": str(self.buildpack_dir),
            "CNB_PLATFORM_DIR": str(self.platform),
            "CNB_LAYERS_DIR": str(self.layers),
            "CNB_BP_PLAN_PATH": str(self.buildpack_plan),
            **self.target,
        }
        return self._run("build", {**cnb, **(env or {})}, path)

    def _run(self, phase: str, cnb_env: Mapping[str, str], path: str | None) -> PhaseResult:
        proc = subprocess.run(
            [str(self.buildpack_dir / "bin" / phase)],
            cwd=self.app,
            env=clean_env(cnb_env, path=path),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        return PhaseResult(proc.returncode, proc.stdout, proc.stderr)
