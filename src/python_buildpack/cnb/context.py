"""What the lifecycle hands `/bin/detect` and `/bin/build` (Buildpack API 0.12).

Inputs come from the CNB_* variables (`CNB_EXEC_ENV`, new in 0.12, is optional: unset means
`production`); the positional arguments that older APIs used (and that
the lifecycle still passes) are the fallback. The app directory is the working directory.

This module must not import pydantic: detect runs for every build, for every buildpack in the
order, and should cost only the interpreter start. Models are imported inside the methods that
read contract files. For the same reason the contexts are plain classes: `dataclasses` pulls in
`inspect` and friends, a fifth of detect's time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import CnbEnvError, CnbFileError
from .target import Target, required_variable

if TYPE_CHECKING:
    from .layers import Layers
    from .models import BuildpackPlan, BuildPlan, BuildToml, LaunchToml

CNB_BUILDPACK_DIR = "CNB_BUILDPACK_DIR"
CNB_PLATFORM_DIR = "CNB_PLATFORM_DIR"
CNB_BUILD_PLAN_PATH = "CNB_BUILD_PLAN_PATH"
CNB_LAYERS_DIR = "CNB_LAYERS_DIR"
CNB_BP_PLAN_PATH = "CNB_BP_PLAN_PATH"
CNB_EXEC_ENV = "CNB_EXEC_ENV"
DEFAULT_EXEC_ENV = "production"

# Positional arguments, deprecated since API 0.8 but still passed: detect <platform> <plan>,
# build <layers> <platform> <plan>.
_DETECT_ARGS = (CNB_PLATFORM_DIR, CNB_BUILD_PLAN_PATH)
_BUILD_ARGS = (CNB_LAYERS_DIR, CNB_PLATFORM_DIR, CNB_BP_PLAN_PATH)


class _PhaseContext:
    """What every phase gets. Immutable by convention; built by the `from_environ` methods."""

    def __init__(
        self,
        *,
        app_dir: Path,
        buildpack_dir: Path,
        platform_dir: Path,
        target: Target,
        platform_env: dict[str, str] | None = None,
        exec_env: str = DEFAULT_EXEC_ENV,
    ) -> None:
        self.app_dir = app_dir
        self.buildpack_dir = buildpack_dir
        self.platform_dir = platform_dir
        self.target = target
        # The execution environment the image is built for ("production", "test", ...).
        self.exec_env = exec_env
        # User-provided variables from <platform>/env/. The lifecycle already put them in our
        # environment unless `clear-env = true`; here they are explicit, for code that must tell
        # user configuration apart from the image's environment.
        self.platform_env: dict[str, str] = platform_env if platform_env is not None else {}

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({fields})"


def _common(paths: Mapping[str, Path], environ: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    """The `_PhaseContext` arguments, read the same way for every phase."""
    platform_dir = paths[CNB_PLATFORM_DIR]
    return {
        "app_dir": Path(cwd).absolute(),
        "buildpack_dir": _absolute(required_variable(environ, CNB_BUILDPACK_DIR), cwd),
        "platform_dir": platform_dir,
        "target": Target.from_environ(environ),
        "platform_env": read_platform_env(platform_dir),
        "exec_env": _read_exec_env(environ),
    }


class DetectContext(_PhaseContext):
    def __init__(self, *, plan_path: Path, **common: Any) -> None:
        super().__init__(**common)
        self.plan_path = plan_path

    @classmethod
    def from_environ(
        cls, argv: Sequence[str], environ: Mapping[str, str], cwd: Path
    ) -> DetectContext:
        """`argv` is the positional arguments after the executable (`$1`...)."""
        paths = _paths(_DETECT_ARGS, argv, environ, cwd)
        return cls(plan_path=paths[CNB_BUILD_PLAN_PATH], **_common(paths, environ, cwd))

    def write_build_plan(self, plan: BuildPlan) -> None:
        from .toml_io import write_toml

        write_toml(self.plan_path, plan)


class BuildContext(_PhaseContext):
    def __init__(self, *, layers_dir: Path, buildpack_plan_path: Path, **common: Any) -> None:
        super().__init__(**common)
        self.layers_dir = layers_dir
        self.buildpack_plan_path = buildpack_plan_path

    @classmethod
    def from_environ(
        cls, argv: Sequence[str], environ: Mapping[str, str], cwd: Path
    ) -> BuildContext:
        """`argv` is the positional arguments after the executable (`$1`...)."""
        paths = _paths(_BUILD_ARGS, argv, environ, cwd)
        return cls(
            layers_dir=paths[CNB_LAYERS_DIR],
            buildpack_plan_path=paths[CNB_BP_PLAN_PATH],
            **_common(paths, environ, cwd),
        )

    def read_buildpack_plan(self) -> BuildpackPlan:
        from .models import BuildpackPlan
        from .toml_io import load_toml

        return load_toml(self.buildpack_plan_path, BuildpackPlan, what="Buildpack Plan")

    @property
    def launch_toml_path(self) -> Path:
        return self.layers_dir / "launch.toml"

    @property
    def build_toml_path(self) -> Path:
        return self.layers_dir / "build.toml"

    def write_launch(self, launch: LaunchToml) -> None:
        from .toml_io import write_toml

        write_toml(self.launch_toml_path, launch)

    def write_build(self, build: BuildToml) -> None:
        from .toml_io import write_toml

        write_toml(self.build_toml_path, build)

    def layers(self) -> Layers:
        from .layers import Layers

        return Layers(self.layers_dir)


def read_platform_env(platform_dir: Path) -> dict[str, str]:
    """`<platform>/env/<NAME>` files: the name is the variable, the content its exact value.

    Contents are not stripped: the spec gives them to buildpacks verbatim, and so does the
    lifecycle. Directories (and links to them) are not variables and are skipped.
    """
    env_dir = Path(platform_dir) / "env"
    try:
        entries = sorted(os.scandir(env_dir), key=lambda entry: entry.name)
    except FileNotFoundError:
        return {}
    variables: dict[str, str] = {}
    for entry in entries:
        if entry.is_dir():
            continue
        if not entry.is_file():
            # A named pipe here would block the build for ever: say so instead.
            raise CnbFileError(
                Path(entry.path), "it is not a regular file", what="platform env file"
            )
        variables[entry.name] = Path(entry.path).read_bytes().decode("utf-8", "surrogateescape")
    return variables


def _read_exec_env(environ: Mapping[str, str]) -> str:
    """`CNB_EXEC_ENV`, or `production` when the lifecycle (or an older platform) sets none."""
    value = environ.get(CNB_EXEC_ENV) or DEFAULT_EXEC_ENV
    if "/" in value:
        # The spec reserves `/` (for future use): a value with one is not one we can honour.
        raise CnbEnvError(CNB_EXEC_ENV, f"{value!r} contains '/', which the spec reserves")
    return value


def _paths(
    names: Sequence[str], argv: Sequence[str], environ: Mapping[str, str], cwd: Path
) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for position, name in enumerate(names):
        value = environ.get(name) or (argv[position] if position < len(argv) else "")
        if not value:
            raise CnbEnvError(
                name,
                f"not set and not given as positional argument {position + 1}; the lifecycle "
                "sets it for buildpacks of Buildpack API 0.8 and later",
            )
        found[name] = _absolute(value, cwd)
    return found


def _absolute(value: str, cwd: Path) -> Path:
    # The spec gives absolute paths; a relative one (a test or a hand run) is taken relative
    # to the working directory rather than to wherever a later chdir points.
    return Path(cwd, value).absolute()


__all__ = ["DEFAULT_EXEC_ENV", "BuildContext", "DetectContext", "read_platform_env"]
