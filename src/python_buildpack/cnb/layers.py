"""Layers that keep or discard what a previous build left, with the reasons why.

A cached layer starts from what the lifecycle restored: `<name>.toml` (without its `[types]`)
and, for cached layers, the `<name>/` directory. The buildpack reads the old metadata with its
own model and says whether anything changed, and may check that the restored files are whole;
the layer is then either reused as is (RESTORED) or emptied (EMPTY, with a cause and the reasons
to print).

Crash safety: emptying a layer deletes `<name>.toml` before its files, and `complete()` writes
the env files before `<name>.toml`, atomically. So `<name>.toml` only ever describes finished
contents; a build interrupted while filling a layer leaves no metadata claiming them.
"""

from __future__ import annotations

import enum
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from . import CnbFileError
from .env import AnyScope, LayerEnv, read_layer_env
from .models import (
    SBOM_MEDIA_TYPES,
    LayerContentMetadata,
    LayerTypes,
    validation_error_lines,
)
from .toml_io import atomic_write_bytes, dump_model, load_toml, write_toml

M = TypeVar("M", bound=BaseModel)

# `<layers>/build.toml`, `launch.toml` and `store.toml` are the buildpack's own outputs.
RESERVED_LAYER_NAMES = frozenset({"build", "launch", "store"})


class LayerState(enum.Enum):
    RESTORED = "restored"
    EMPTY = "empty"


class Cause(enum.Enum):
    """Why a layer is in its state."""

    KEPT = "kept"  # RESTORED: the old metadata still describes what this build needs
    NEW = "new"  # no metadata from a previous build
    INVALID_METADATA = "invalid metadata"  # the old metadata no longer fits the model
    CHANGED = "changed"  # the buildpack gave reasons to discard (see `Layer.reasons`)
    # Metadata restored, but build/cache need the files, or they fail the buildpack's check.
    MISSING_CONTENTS = "missing contents"
    UNCACHED = "uncached"  # an uncached layer is rebuilt every time


def validate_layer_name(name: str) -> str:
    """A layer name is a directory name in `<layers>/`, other than the reserved ones."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"invalid layer name: {name!r}")
    if name in RESERVED_LAYER_NAMES:
        raise ValueError(
            f"{name!r} cannot be a layer name: <layers>/{name}.toml is reserved by the spec"
        )
    return name


class Layer(Generic[M]):
    """One layer of this buildpack, in the state `Layers` put it in.

    `has_contents` tells whether `path` exists: always for an EMPTY layer (a fresh directory),
    and for a RESTORED one only when the lifecycle restored its files, not just its metadata
    (a `launch = true, cache = false` layer comes back as metadata only; completing it with
    `launch = true` reuses the previous image's layer as is).
    """

    def __init__(
        self,
        layers_dir: Path,
        name: str,
        *,
        types: LayerTypes,
        metadata_model: type[M] | None,
        state: LayerState,
        cause: Cause,
        reasons: Sequence[str] = (),
        old_metadata: M | None = None,
    ) -> None:
        self.name = validate_layer_name(name)
        self.layers_dir = Path(layers_dir)
        self.types = types
        self.metadata_model = metadata_model
        self.state = state
        self.cause = cause
        self.reasons: tuple[str, ...] = tuple(reasons)
        self.old_metadata = old_metadata
        self.completed = False
        # The `[metadata]` the last `complete()` wrote.
        self.written_metadata: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Layer({self.name!r}, state={self.state.name}, cause={self.cause.name})"

    @property
    def path(self) -> Path:
        return self.layers_dir / self.name

    @property
    def toml_path(self) -> Path:
        return self.layers_dir / f"{self.name}.toml"

    @property
    def has_contents(self) -> bool:
        return self.path.is_dir()

    @property
    def is_empty(self) -> bool:
        return self.state is LayerState.EMPTY

    def discard(self, reasons: Sequence[str] = (), *, cause: Cause = Cause.CHANGED) -> None:
        """Empty the layer: metadata and SBOM first, then the files; leaves an empty directory."""
        remove_layer(self.layers_dir, self.name)
        self.path.mkdir(parents=True)
        self.state = LayerState.EMPTY
        self.cause = cause
        self.reasons = tuple(reasons)
        self.completed = False

    def complete(
        self,
        metadata: BaseModel | Mapping[str, Any],
        env: LayerEnv | None = None,
        types: LayerTypes | None = None,
    ) -> None:
        """Declare the layer finished: write its env files, then `<name>.toml` last.

        `metadata` must validate as the layer's metadata model, so the next build can read it.
        `env` replaces the layer's env directories; `None` leaves them as they are. A layer
        restored without contents keeps its env as the previous image has it (its files are
        reused as they were), so `env` is not written for it.
        """
        types = types if types is not None else self.types
        contentless = self.state is LayerState.RESTORED and not self.has_contents
        if contentless and (types.build or types.cache):
            raise ValueError(
                f"layer {self.name!r} was restored without contents; only launch = true can "
                "reuse it (discard it to rebuild it as a build or cache layer)"
            )
        data = dump_model(metadata) if isinstance(metadata, BaseModel) else dict(metadata)
        if self.metadata_model is not None:
            # Fail now, not with INVALID_METADATA on every later build.
            self.metadata_model.model_validate(data)
        if env is not None and not contentless:
            env.write(self.path)
        write_toml(self.toml_path, LayerContentMetadata(types=types, metadata=data))
        self.written_metadata = data
        self.completed = True

    def leave_files_to_previous_image(self) -> None:
        """Turn a completed layer into `launch = true` metadata alone, deleting its files: the
        exporter then takes the previous image's copy of the layer as it is, instead of
        tarring these files again (and the lifecycle neither caches nor restores them).

        Only for a layer the caller knows the previous image holds exactly as these files: the
        exporter fails the build when the previous image has no such layer.
        """
        if not self.completed or self.written_metadata is None:
            raise ValueError(f"layer {self.name!r} is not complete")
        # The metadata first: from here on it claims no files, so deleting them cannot leave a
        # `<name>.toml` that describes half a directory.
        write_toml(
            self.toml_path,
            LayerContentMetadata(types=LayerTypes(launch=True), metadata=self.written_metadata),
        )
        _remove(self.path)

    def sbom_path(self, extension: str) -> Path:
        return self.layers_dir / f"{self.name}.sbom.{extension}"

    def write_sbom(self, content: bytes, extension: str) -> Path:
        """Write `<layers>/<name>.sbom.<extension>` (e.g. `cdx.json`), atomically.

        Its media type must be in buildpack.toml `sbom-formats`, or the lifecycle fails the build.
        The lifecycle caches it with a cached layer and restores it with the layer; `discard`
        removes it with the layer's metadata. For a launch layer it ends up in the image under
        `<layers>/sbom/launch/<buildpack>/<layer>/sbom.<extension>`.
        """
        if extension not in SBOM_MEDIA_TYPES.values():
            raise ValueError(
                f"unknown SBOM extension {extension!r}: expected one of "
                + ", ".join(SBOM_MEDIA_TYPES.values())
            )
        path = self.sbom_path(extension)
        atomic_write_bytes(path, content)
        return path

    def env(self) -> LayerEnv:
        """The env files currently in the layer."""
        return read_layer_env(self.path)

    def apply_env(self, environ: Mapping[str, str], scope: AnyScope) -> dict[str, str]:
        """`environ` as a later step sees it once this layer is applied (see `LayerEnv.apply`).

        For running a tool from this layer within this buildpack: the lifecycle only applies
        layers to *later* buildpacks.
        """
        layer_dir = self.path if self.has_contents else None
        return self.env().apply(environ, scope, layer_dir)


class Layers:
    """The buildpack's `<layers>` directory (`$CNB_LAYERS_DIR`)."""

    def __init__(self, layers_dir: Path) -> None:
        self.layers_dir = Path(layers_dir)

    def cached_layer(
        self,
        name: str,
        *,
        types: LayerTypes,
        metadata_model: type[M],
        keep: Callable[[M], Sequence[str]],
        contents_ok: Callable[[Path], bool] | None = None,
        without_files: Callable[[M], str | None] | None = None,
    ) -> Layer[M]:
        """The layer as restored, if its old metadata parses, `keep` finds nothing changed and
        its files pass `contents_ok`.

        `keep(old_metadata)` returns the reasons to discard the layer ("the Python version
        changed from 3.12.1 to 3.13.0"); no reasons means reuse it. `contents_ok(layer_path)`
        says whether restored files are whole (an interrupted cache upload, a file deleted by
        hand); a layer that fails it is discarded with MISSING_CONTENTS. It is only asked about
        files that were restored: a launch-only layer restored as metadata alone has none.

        A build or cache layer restored as metadata alone (its files were left to the previous
        image: `Layer.leave_files_to_previous_image`) is discarded with MISSING_CONTENTS, unless
        `without_files(old_metadata)` returns None: then it is RESTORED without contents, to
        be completed as `launch = true` alone. Otherwise it returns the reason to discard it.
        A launch-only layer always comes back as metadata alone: it is RESTORED without
        contents, unless `without_files` is given and returns a reason.
        """
        validate_layer_name(name)
        toml_path = self.layers_dir / f"{name}.toml"
        old: M | None = None

        def layer(state: LayerState, cause: Cause, reasons: Sequence[str] = ()) -> Layer[M]:
            return Layer(
                self.layers_dir,
                name,
                types=types,
                metadata_model=metadata_model,
                state=state,
                cause=cause,
                reasons=reasons,
                old_metadata=old,
            )

        if not toml_path.exists():
            return self._emptied(layer(LayerState.EMPTY, Cause.NEW))
        try:
            content = load_toml(toml_path, LayerContentMetadata, what=f"layer {name!r} metadata")
            old = metadata_model.model_validate(content.metadata)
        except CnbFileError as error:
            return self._emptied(
                layer(LayerState.EMPTY, Cause.INVALID_METADATA, error.reason.splitlines())
            )
        except ValidationError as error:
            return self._emptied(
                layer(LayerState.EMPTY, Cause.INVALID_METADATA, validation_error_lines(error))
            )
        reasons = list(keep(old))
        if reasons:
            return self._emptied(layer(LayerState.EMPTY, Cause.CHANGED, reasons))
        contentless = not (self.layers_dir / name).is_dir()
        if contentless and (types.build or types.cache or without_files is not None):
            why = (
                "its files were not restored from the cache"
                if without_files is None
                else without_files(old)
            )
            if why is not None:
                return self._emptied(layer(LayerState.EMPTY, Cause.MISSING_CONTENTS, [why]))
        path = self.layers_dir / name
        if contents_ok is not None and path.is_dir() and not contents_ok(path):
            return self._emptied(
                layer(LayerState.EMPTY, Cause.MISSING_CONTENTS, ["its files are incomplete"])
            )
        return layer(LayerState.RESTORED, Cause.KEPT)

    def uncached_layer(self, name: str, *, types: LayerTypes) -> Layer[BaseModel]:
        """A layer built from scratch every time; whatever was there is deleted."""
        layer: Layer[BaseModel] = Layer(
            self.layers_dir,
            name,
            types=types,
            metadata_model=None,
            state=LayerState.EMPTY,
            cause=Cause.UNCACHED,
        )
        return self._emptied(layer)

    @staticmethod
    def _emptied(layer: Layer[M]) -> Layer[M]:
        layer.discard(layer.reasons, cause=layer.cause)
        return layer


def remove_layer(layers_dir: Path, name: str) -> None:
    """Delete a layer: `<name>.toml` first, so no metadata outlives the files it describes."""
    layers_dir = Path(layers_dir)
    _remove(layers_dir / f"{name}.toml")
    for extension in SBOM_MEDIA_TYPES.values():
        _remove(layers_dir / f"{name}.sbom.{extension}")
    _remove(layers_dir / name)


def empty_directory(path: Path) -> None:
    """Remove what is in `path` (made if missing), keeping the directory itself: a layer's
    files, when a step must start them afresh but its directory must stay."""
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():
        _remove(child)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


__all__ = [
    "RESERVED_LAYER_NAMES",
    "Cause",
    "Layer",
    "LayerState",
    "Layers",
    "empty_directory",
    "remove_layer",
    "validate_layer_name",
]
