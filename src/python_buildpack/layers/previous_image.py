"""Launch layers (`venv`, `python`) taken from the previous image as they are, without
restoring their files.

Why: on a rebuild where nothing changed, much of the time is the lifecycle's work on the
launch layers: it restores their files from the cache (thousands of small files), then tars and
hashes them again to find them unchanged, for the image and for the cache. The spec offers a
way around that: a `<name>.toml` with `launch = true` and no `<name>/` directory makes the
exporter reuse the previous image's layer as it is, and a layer that is not cached is not
restored either.

When that is safe: only when the previous image holds the layer exactly as this build would make
it, which a buildpack cannot see by itself. So every build records in `store.toml`, for each
launch layer it exports, a digest of what the layer holds (its metadata and its env files). The
lifecycle restores `store.toml` from the previous image's metadata only, never from the cache:
when it is there the previous image exists, and its digests say what that image's layers hold.
A build to a new image name (no previous image) finds none, and keeps the layer cached.

A venv left to the image costs nothing when the dependencies change, since it is then rebuilt
from scratch anyway (from the installer's cache layer). Python is what rebuilds it: a build
that must run it unpacks it from the cached archive (`layers.python_archive`), one file for the
restorer instead of about 1,500. What needs the launch layers' files at build time on every
build keeps them restored and cached: Django's collectstatic, and any later buildpack in the
group (`cnb.group`), which may run the app's Python at build time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ..cnb import CnbFileError
from ..cnb.env import LayerEnv
from ..cnb.layers import Layer, LayerState
from ..cnb.models import StoreToml
from ..cnb.toml_io import load_toml, write_toml

STORE_TOML = "store.toml"

NOT_RESTORED = "its files were not restored from the cache"


class LaunchLayerRecord(BaseModel):
    """`store.toml` [metadata]: the digest of each launch layer the image was exported with."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    launch_layers: dict[str, str] = {}


def content_digest(
    metadata: Mapping[str, Any], env: LayerEnv, written: Mapping[str, str] | None = None
) -> str:
    """What a launch layer holds, as far as this buildpack decides it: the metadata it was
    built from, its env files and, in `written`, the files this buildpack version writes into
    it whatever the metadata (the `python` layer's exec.d programs), by path."""
    content: dict[str, Any] = {
        "metadata": metadata,
        "env": {str(path): value for path, value in sorted(env.files().items())},
    }
    if written:
        content["written"] = dict(sorted(written.items()))
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass
class PreviousImage:
    """What the previous image holds of this buildpack's launch layers, and which layers this
    build exports, for the next build."""

    layers_dir: Path
    # Digests by layer name from the previous image's store.toml; None without one.
    recorded: dict[str, str] | None
    # Why the launch layers' files are needed at build time on every build (e.g. "Django's
    # collectstatic"), or None.
    needed_at_build: str | None = None
    # The same for one layer (`need_files`): by name, why its files are needed.
    _needed: dict[str, str] = field(default_factory=dict)
    _exported: dict[str, tuple[Layer[Any], LayerEnv, Mapping[str, str] | None]] = field(
        default_factory=dict
    )

    @classmethod
    def read(cls, layers_dir: Path, needed_at_build: str | None = None) -> PreviousImage:
        path = Path(layers_dir) / STORE_TOML
        recorded: dict[str, str] | None = None
        if path.is_file():
            # Our own file, from the previous image: when it can't be read, nothing is reused
            # from that image, and this build writes a good one.
            try:
                store = load_toml(path, StoreToml, what="store.toml")
                recorded = LaunchLayerRecord.model_validate(store.metadata).launch_layers
            except (CnbFileError, ValidationError):
                recorded = {}
        return cls(Path(layers_dir), recorded, needed_at_build)

    def need_files(self, name: str, why: str) -> None:
        """Layer `name`'s files are needed at build time on every build, `why` (a clause: "the
        dependencies are installed with it on every build"), as with `needed_at_build` for this
        layer alone: they are never left to the image."""
        self._needed[name] = why

    def files_needed(self, name: str) -> bool:
        return self.needed_at_build is not None or name in self._needed

    def why_not_reuse(self, name: str, digest: str) -> str | None:
        """None when layer `name`, restored as metadata alone and holding what `digest` says,
        can be taken from the previous image; otherwise why its files must be installed."""
        if name in self._needed:
            return f"its files stayed in the previous image, and {self._needed[name]}"
        if self.recorded is None or name not in self.recorded:
            return NOT_RESTORED
        if self.needed_at_build is not None:
            return (
                f"its files stayed in the previous image, and {self.needed_at_build} may need them"
            )
        if self.recorded[name] != digest:
            return (
                "its files stayed in the previous image, which has them as another version of "
                "this buildpack (or other settings) made them"
            )
        return None

    def export(
        self, layer: Layer[Any], env: LayerEnv, written: Mapping[str, str] | None = None
    ) -> None:
        """Record that this build exports `layer` (completed) with `env` (and the files
        `written`: see `content_digest`)."""
        self._exported[layer.name] = (layer, env, written)

    def finish(self) -> list[str]:
        """Leave the files of the unchanged layers the previous image already holds to it, and
        write `store.toml` for the next build. Returns the names of the layers left."""
        digests: dict[str, str] = {}
        left = []
        for name, (layer, env, written) in sorted(self._exported.items()):
            if layer.written_metadata is None:
                raise ValueError(f"layer {name!r} was exported before it was completed")
            digest = content_digest(layer.written_metadata, env, written)
            digests[name] = digest
            if (
                layer.has_contents
                and layer.state is LayerState.RESTORED
                and not self.files_needed(name)
                and self.recorded is not None
                and self.recorded.get(name) == digest
            ):
                layer.leave_files_to_previous_image()
                left.append(name)
        write_toml(
            self.layers_dir / STORE_TOML,
            StoreToml(metadata=LaunchLayerRecord(launch_layers=digests).model_dump()),
        )
        return left


__all__ = ["NOT_RESTORED", "LaunchLayerRecord", "PreviousImage", "content_digest"]
