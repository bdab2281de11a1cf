"""What every layer of this buildpack shares: the target it was built for, its change reasons,
and the log line that says why it is reused or discarded.

- `BuiltFor`: the base of the metadata of every layer whose files depend on the Python and the
  target (CPU, OS). `built_for(config)` fills it, the one place that decides how an unknown
  distro is recorded.
- `ChangeReasons`: how a layer's metadata changes are told, one entry per metadata field. It
  refuses (at construction, so at import or first use) a mapping that leaves a field out: a new
  field cannot be added to a model without saying how its change reads in the log.
- `open_layer`: the cached layer, reused or discarded (`cnb.layers`), and the one log line about
  it in the same words for every layer ("Using cached Python 3.13.1", "Discarding cached pip
  26.3 since:" and the reasons).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict

from ..cnb.layers import Cause, Layer, Layers, LayerState
from ..cnb.models import LayerTypes
from ..config import BuildConfig
from ..output import Log
from .background import Fill

M = TypeVar("M", bound=BaseModel)

# What a target without /etc/os-release (CNB_TARGET_DISTRO_* unset) is recorded as.
UNKNOWN = "unknown"


class BuiltFor(BaseModel):
    """What a layer's files were built for: compiled files (CPython, wheels built from sdists,
    a tool's compiled dependencies) only work with the same Python, CPU and OS."""

    # defer_build: each layer's metadata model is built when its layer is first opened, so a
    # build pays only for the layers it has (the tool layer's for uv/Poetry/Pipenv apps only).
    model_config = ConfigDict(extra="forbid", defer_build=True)

    python_version: str
    arch: str
    distro_name: str
    distro_version: str


def built_for(config: BuildConfig) -> dict[str, str]:
    """The `BuiltFor` fields of this build, to build any layer's metadata from:
    `PythonLayerMetadata(**built_for(config), archive_sha256=...)`."""
    # A plain dict: the layer's own model validates it, and `BuiltFor` itself (never validated)
    # stays unbuilt on a warm rebuild's start-up.
    return {
        "python_version": config.python.version,
        "arch": config.target.arch,
        "distro_name": config.target.distro_name or UNKNOWN,
        "distro_version": config.target.distro_version or UNKNOWN,
    }


# How the change of one field (or of fields told together) reads in the log: a label for
# "The <label> changed from <old> to <new>", or a function of the old and new metadata that
# returns the reason, or None when there is none (e.g. told by another field already).
Tell: TypeAlias = "str | Callable[[M, M], str | None]"


class ChangeReasons(Generic[M]):
    """The reasons why `old` metadata no longer describes what this build needs, in the order
    of the mapping. Every field of `model` is in exactly one key of `tell`."""

    def __init__(self, model: type[M], tell: Mapping[str | tuple[str, ...], Tell[M]]) -> None:
        covered: list[str] = []
        for key, how in tell.items():
            fields = (key,) if isinstance(key, str) else key
            if len(fields) != 1 and isinstance(how, str):
                raise TypeError(f"{model.__name__}: {fields} need a function, not a label")
            covered += fields
        missing = [name for name in model.model_fields if name not in covered]
        unknown = [name for name in covered if name not in model.model_fields]
        twice = sorted({name for name in covered if covered.count(name) > 1})
        if missing or unknown or twice:
            raise TypeError(
                f"{model.__name__} change reasons: every field needs exactly one "
                f"(missing {missing}, not fields {unknown}, told twice {twice})"
            )
        self.model = model
        self._tell = [((key,) if isinstance(key, str) else key, how) for key, how in tell.items()]

    def __call__(self, old: M, new: M) -> list[str]:
        reasons = []
        for fields, how in self._tell:
            if isinstance(how, str):
                before, after = getattr(old, fields[0]), getattr(new, fields[0])
                reason = f"The {how} changed from {before} to {after}" if before != after else None
            else:
                reason = how(old, new)
            if reason is not None:
                reasons.append(reason)
        return reasons


def os_change(old: BuiltFor, new: BuiltFor) -> str | None:
    """The OS as one name ("debian 12"): a version alone means little in the log."""
    before = f"{old.distro_name} {old.distro_version}"
    after = f"{new.distro_name} {new.distro_version}"
    return f"The OS changed from {before} to {after}" if before != after else None


# The reasons of the `BuiltFor` fields, for every layer model based on it.
BUILT_FOR_REASONS: dict[str | tuple[str, ...], Tell[BuiltFor]] = {
    "python_version": "Python version",
    "arch": "CPU architecture",
    ("distro_name", "distro_version"): os_change,
}
ChangeReasons(BuiltFor, BUILT_FOR_REASONS)


def open_layer(
    layers_dir: Path,
    name: str,
    *,
    types: LayerTypes,
    metadata: M,
    changes: Callable[[M, M], Sequence[str]],
    log: Log,
    what: str,
    version: Callable[[M], str] | None = None,
    contents_ok: Callable[[Path], bool] | None = None,
    without_files: Callable[[M], str | None] | None = None,
    kept_because: str = "",
) -> Layer[M]:
    """The cached layer `name`, kept when `changes(old, metadata)` finds nothing and its files
    pass `contents_ok` (or, restored as metadata alone, `without_files` finds nothing against
    it: see `Layers.cached_layer`), otherwise emptied; the log says which and why
    (`log_layer_state`)."""
    layer = decide_layer(
        layers_dir,
        name,
        types=types,
        metadata=metadata,
        changes=changes,
        contents_ok=contents_ok,
        without_files=without_files,
    )
    log_layer_state(layer, log, what, version, kept_because=kept_because)
    return layer


def decide_layer(
    layers_dir: Path,
    name: str,
    *,
    types: LayerTypes,
    metadata: M,
    changes: Callable[[M, M], Sequence[str]],
    contents_ok: Callable[[Path], bool] | None = None,
    without_files: Callable[[M], str | None] | None = None,
) -> Layer[M]:
    """`open_layer` without its log line: for a layer decided on before its step (to fill it
    in the background, `OpenedLayer`), whose step then logs it with `log_layer_state`."""
    return Layers(layers_dir).cached_layer(
        name,
        types=types,
        metadata_model=type(metadata),
        keep=lambda old: changes(old, metadata),
        contents_ok=contents_ok,
        without_files=without_files,
    )


@dataclass(frozen=True)
class OpenedLayer(Generic[M]):
    """A layer decided on ahead of its step (`decide_layer`): reused, or emptied and, when
    `fill` is set, being filled in the background (`background.Fill`). Its step logs the
    decision and waits for the files."""

    layer: Layer[M]
    metadata: M
    fill: Fill | None = None


def log_layer_state(
    layer: Layer[M],
    log: Log,
    what: str,
    version: Callable[[M], str] | None = None,
    *,
    kept_because: str = "",
) -> None:
    """One line on a cached layer, the same for every layer: "Using cached <what> <version>"
    (with " from the previous image" when its files stayed there, and " since <kept_because>"
    if given), or "Discarding cached <what> <old version> since:"
    and the reasons, or "... since its metadata can't be read". A new layer gets none."""
    old = layer.old_metadata
    shown = what if old is None or version is None else f"{what} {version(old)}"
    if layer.state is LayerState.RESTORED:
        # Restored as metadata alone: the exporter takes the layer from the previous image.
        where = "" if layer.has_contents else " from the previous image"
        log.info(
            f"Using cached {shown}{where}" + (f" since {kept_because}" if kept_because else "")
        )
    elif layer.cause is Cause.INVALID_METADATA:
        log.info(f"Discarding cached {what} since its metadata can't be read")
    elif layer.cause in (Cause.CHANGED, Cause.MISSING_CONTENTS):
        log.info(f"Discarding cached {shown} since:")
        # As given: a reason may start with a file name ("uv.lock or pyproject.toml changed").
        log.detail("\n".join(layer.reasons))


__all__ = [
    "BUILT_FOR_REASONS",
    "UNKNOWN",
    "BuiltFor",
    "ChangeReasons",
    "OpenedLayer",
    "built_for",
    "decide_layer",
    "log_layer_state",
    "open_layer",
    "os_change",
]
