"""Layer environment files: writing, reading back, and applying them as the lifecycle does.

A layer configures later buildpacks and the launched app with files under
`<layer>/env/` (build and launch), `<layer>/env.build/`, `<layer>/env.launch/` and
`<layer>/env.launch/<process>/`. The variable is the file name up to the first period; the
suffix is the behaviour (none or `.override`, `.default`, `.prepend`, `.append`) and `.delim`
holds the delimiter used by prepend/append in the same directory. Contents are used verbatim.

`LayerEnv.apply` reproduces the lifecycle's algorithm for one layer, so a step of this buildpack
can run a tool from an earlier layer with the environment the next buildpack will see:
1. the layer's `bin/`, `lib/`, ... directories are prepended to PATH & co (which ones depends on
   build or launch);
2. `env/` files, then `env.build/` or `env.launch/`, then `env.launch/<process>/`, each directory's
   files in name order, a prepend/append joining with that directory's `.delim` (nothing if none).
   The delimiter is left out only when the *existing* value is empty, as the lifecycle does.
   (Checked against lifecycle v0.21.14's `env` package on randomly generated layers.)
"""

from __future__ import annotations

import enum
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_DIRS = ("env", "env.build", "env.launch")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROCESS_TYPE_RE = re.compile(r"^[A-Za-z0-9._-]+$")


class Scope(enum.Enum):
    """Who sees a variable: ALL (later buildpacks and the app), BUILD, or LAUNCH.

    `Scope.process("web")` is the launch environment of one process type.
    """

    ALL = "env"
    BUILD = "env.build"
    LAUNCH = "env.launch"

    @property
    def relative_dir(self) -> Path:
        return Path(self.value)

    @staticmethod
    def process(process_type: str) -> ProcessScope:
        return ProcessScope(process_type)


@dataclass(frozen=True)
class ProcessScope:
    """The launch environment of one process type: `env.launch/<process>/`."""

    process_type: str

    def __post_init__(self) -> None:
        if not _PROCESS_TYPE_RE.match(self.process_type) or self.process_type in (".", ".."):
            raise ValueError(f"invalid process type for an env scope: {self.process_type!r}")

    @property
    def relative_dir(self) -> Path:
        return Path(Scope.LAUNCH.value, self.process_type)


AnyScope = Scope | ProcessScope


class Behaviour(enum.Enum):
    """The file suffix; `DELIM` is the delimiter file that prepend/append use."""

    OVERRIDE = "override"
    DEFAULT = "default"
    PREPEND = "prepend"
    APPEND = "append"
    DELIM = "delim"


# Layer directories the lifecycle adds to search-path variables (build-time / launch-time).
BUILD_ROOT_DIRS: dict[str, tuple[str, ...]] = {
    "bin": ("PATH",),
    "lib": ("LD_LIBRARY_PATH", "LIBRARY_PATH"),
    "include": ("CPATH",),
    "pkgconfig": ("PKG_CONFIG_PATH",),
}
LAUNCH_ROOT_DIRS: dict[str, tuple[str, ...]] = {
    "bin": ("PATH",),
    "lib": ("LD_LIBRARY_PATH",),
}


_SUFFIXES = {"": Behaviour.OVERRIDE, **{b.value: b for b in Behaviour}}


@dataclass(frozen=True)
class EnvEntry:
    scope: AnyScope
    name: str
    behaviour: Behaviour
    value: str


class LayerEnv:
    """The env files of one layer, built in memory and written in one go.

    Setting the same (scope, name, behaviour) twice keeps the last value, as a file would.
    """

    def __init__(self) -> None:
        self._files: dict[AnyScope, dict[str, str]] = {}

    # --- building ---------------------------------------------------------------------

    def override(self, scope: AnyScope, name: str, value: str) -> LayerEnv:
        return self._set(scope, name, Behaviour.OVERRIDE, value)

    def default(self, scope: AnyScope, name: str, value: str) -> LayerEnv:
        """Set `name` only where it is unset or empty when the layer is applied."""
        return self._set(scope, name, Behaviour.DEFAULT, value)

    def prepend(
        self, scope: AnyScope, name: str, value: str, delim: str | None = os.pathsep
    ) -> LayerEnv:
        """`delim=None` writes no delimiter file: the value is glued on as is."""
        self._set_delim(scope, name, delim)
        return self._set(scope, name, Behaviour.PREPEND, value)

    def append(
        self, scope: AnyScope, name: str, value: str, delim: str | None = os.pathsep
    ) -> LayerEnv:
        self._set_delim(scope, name, delim)
        return self._set(scope, name, Behaviour.APPEND, value)

    def _set_delim(self, scope: AnyScope, name: str, delim: str | None) -> None:
        if delim is None:
            return
        current = self.get(scope, name, Behaviour.DELIM)
        if current is not None and current != delim:
            # One `.delim` file serves both prepend and append of a directory.
            raise ValueError(
                f"{name} in {scope_dir(scope)} already uses delimiter {current!r}, not {delim!r}"
            )
        self._set(scope, name, Behaviour.DELIM, delim)

    def _set(self, scope: AnyScope, name: str, behaviour: Behaviour, value: str) -> LayerEnv:
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid environment variable name: {name!r}")
        if "\0" in value:
            raise ValueError(f"the value of {name} contains a NUL character")
        files = self._files.setdefault(scope, {})
        if behaviour is Behaviour.OVERRIDE:
            files.pop(name, None)  # a bare `NAME` (read from disk) is the same override
        files[f"{name}.{behaviour.value}"] = value
        return self

    # --- inspecting -------------------------------------------------------------------

    def get(self, scope: AnyScope, name: str, behaviour: Behaviour) -> str | None:
        files = self._files.get(scope, {})
        value = files.get(f"{name}.{behaviour.value}")
        if value is None and behaviour is Behaviour.OVERRIDE:
            value = files.get(name)
        return value

    def entries(self) -> Iterator[EnvEntry]:
        for scope in sorted(self._files, key=scope_dir):
            for file_name, value in sorted(self._files[scope].items()):
                name, _, suffix = file_name.partition(".")
                yield EnvEntry(scope, name, _SUFFIXES[suffix], value)

    def files(self) -> dict[Path, str]:
        """Relative file path -> content, exactly what `write` creates."""
        return {
            scope.relative_dir / file_name: value
            for scope, by_name in self._files.items()
            for file_name, value in by_name.items()
        }

    def __bool__(self) -> bool:
        return any(self._files.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayerEnv):
            return NotImplemented
        return self.files() == other.files()

    def __hash__(self) -> int:  # mutable builder: equal by content, not hashable
        raise TypeError("LayerEnv is not hashable")

    def __repr__(self) -> str:
        inner = ", ".join(f"{path}={value!r}" for path, value in sorted(self.files().items()))
        return f"LayerEnv({inner})"

    # --- files ------------------------------------------------------------------------

    def write(self, layer_dir: Path) -> None:
        """Make the layer's env directories hold exactly these files.

        Old env directories are removed first, so a reused layer does not keep a variable that
        the new build no longer sets. An empty LayerEnv does not create the layer directory.
        """
        layer_dir = Path(layer_dir)
        for dirname in ENV_DIRS:
            shutil.rmtree(layer_dir / dirname, ignore_errors=True)
        for relative, value in self.files().items():
            path = layer_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(value.encode("utf-8", "surrogateescape"))

    # --- applying ---------------------------------------------------------------------

    def apply(
        self, environ: Mapping[str, str], scope: AnyScope, layer_dir: Path | None = None
    ) -> dict[str, str]:
        """The environment a later buildpack (`Scope.BUILD`) or the app (`Scope.LAUNCH`, or a
        process scope) sees once this layer is applied on top of `environ`.

        With `layer_dir`, its `bin/`, `lib/`, ... directories are prepended first, as the
        lifecycle does for build layers (at build) and launch layers (at launch); whether the
        layer *is* a build or launch layer is the caller's business.
        """
        if scope is Scope.ALL:
            raise ValueError("apply() needs the consumer: Scope.BUILD, Scope.LAUNCH or a process")
        result = dict(environ)
        if layer_dir is not None:
            root_dirs = BUILD_ROOT_DIRS if scope is Scope.BUILD else LAUNCH_ROOT_DIRS
            prepend_root_dirs(result, Path(layer_dir), root_dirs)
        for env_scope in _scopes_applied(scope):
            _apply_dir(result, self._files.get(env_scope, {}))
        return result


def scope_dir(scope: AnyScope) -> str:
    return str(scope.relative_dir)


def _scopes_applied(scope: AnyScope) -> list[AnyScope]:
    if scope is Scope.BUILD:
        return [Scope.ALL, Scope.BUILD]
    if scope is Scope.LAUNCH:
        return [Scope.ALL, Scope.LAUNCH]
    return [Scope.ALL, Scope.LAUNCH, scope]


def prepend_root_dirs(
    environ: dict[str, str], layer_dir: Path, root_dirs: Mapping[str, tuple[str, ...]]
) -> None:
    absolute = Path(layer_dir).absolute()
    for child, names in root_dirs.items():
        path = absolute / child
        if not path.exists():
            continue
        for name in names:
            current = environ.get(name, "")
            environ[name] = str(path) + (os.pathsep + current if current else "")


def _apply_dir(environ: dict[str, str], files: Mapping[str, str]) -> None:
    # The lifecycle walks a directory in file-name order, so e.g. `X.append` runs before
    # `X.override`, and a bare `X` before both; the same order gives the same result here.
    for file_name in sorted(files):
        name, _, suffix = file_name.partition(".")
        value = files[file_name]
        delim = files.get(f"{name}.delim", "")
        current = environ.get(name, "")
        if suffix in ("", "override"):
            environ[name] = value
        elif suffix == "default":
            if not current:
                environ[name] = value
        elif suffix == "prepend":
            environ[name] = value + (delim + current if current else "")
        elif suffix == "append":
            environ[name] = (current + delim if current else "") + value
        # `.delim` and unknown suffixes change nothing by themselves.


def read_layer_env(layer_dir: Path) -> LayerEnv:
    """Parse the env files of a layer (e.g. a restored one) back into a `LayerEnv`.

    File names are kept as they are (a bare `NAME` stays bare: it is an override, but it sorts,
    and so applies, before `NAME.append`). Files with unknown suffixes are ignored, as the
    lifecycle ignores them; so is the odd `NAME.` (empty suffix), which nothing here writes.
    """
    layer_dir = Path(layer_dir)
    env = LayerEnv()
    scopes: list[tuple[AnyScope, Path]] = [(s, layer_dir / s.relative_dir) for s in Scope]
    launch_dir = layer_dir / Scope.LAUNCH.relative_dir
    if launch_dir.is_dir():
        for child in sorted(launch_dir.iterdir()):
            if child.is_dir() and _PROCESS_TYPE_RE.match(child.name):
                scopes.append((ProcessScope(child.name), child))
    for scope, directory in scopes:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.is_dir():
                continue
            name, dot, suffix = path.name.partition(".")
            if not name or (dot and suffix not in _SUFFIXES) or path.name.endswith("."):
                continue
            value = path.read_bytes().decode("utf-8", "surrogateescape")
            env._files.setdefault(scope, {})[path.name] = value
    return env


# The root dirs, ENV_DIRS, scope_dir and prepend_root_dirs are how `LayerEnv.apply` mirrors the
# lifecycle, not API of their own.
__all__ = [
    "AnyScope",
    "Behaviour",
    "EnvEntry",
    "LayerEnv",
    "ProcessScope",
    "Scope",
    "read_layer_env",
]
