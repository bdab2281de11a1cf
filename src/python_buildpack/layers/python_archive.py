"""The `python-archive` layer: the Python archive as downloaded (cache only, never in the image).

Why: the `python` layer's files are the image's, not the cache's (`layers.python`; unless
collectstatic or a later buildpack needs them on every build). A rebuild
whose venv is unchanged never needs them, and the lifecycle then neither restores their 1,500
or so files from the cache nor tars them again; one that must install dependencies again
unpacks Python from this archive, which the restorer brings back as one file, with no download.

The archive is kept exactly as its sha256 names it: the download is written here as it streams
into the unpacker (`keep`), under a temporary name that becomes `ARCHIVE` only once the whole
body matched its sha256, and `<name>.toml` is written after that. Unpacking from it checks the
sha256 again, in the same pass: a damaged cache is downloaded again, never trusted. An archive
bundled in the buildpack needs no copy, so there is no layer for it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict

from ..cnb.layers import Cause, Layer, LayerState, remove_layer
from ..cnb.models import LayerTypes
from ..config import BuildConfig
from ..errors import FilesystemError
from ..output import Log
from .common import ChangeReasons, decide_layer, log_layer_state

LAYER_NAME = "python-archive"
ARCHIVE = "archive"
PARTIAL = f"{ARCHIVE}.partial"
_CHUNK = 1 << 16


class PythonArchiveMetadata(BaseModel):
    """Which archive the layer holds: its sha256 is its identity, whatever URL served it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    python_version: str
    archive_sha256: str


def _archive_change(old: PythonArchiveMetadata, new: PythonArchiveMetadata) -> str | None:
    if old.python_version != new.python_version or old.archive_sha256 == new.archive_sha256:
        return None
    return f"The archive changed (sha256 {old.archive_sha256[:12]}… to {new.archive_sha256[:12]}…)"


changes = ChangeReasons(
    PythonArchiveMetadata,
    {"python_version": "Python version", "archive_sha256": _archive_change},
)


@dataclass
class ArchiveCache:
    """The cached archive, or the place a download is kept for the next build."""

    layer: Layer[PythonArchiveMetadata]
    metadata: PythonArchiveMetadata

    @property
    def archive(self) -> Path | None:
        """The verified archive from an earlier build, or None."""
        if self.layer.state is LayerState.RESTORED and self.layer.has_contents:
            return self.layer.path / ARCHIVE
        return None

    def forget(self, reason: str) -> None:
        """Discard the cached archive (it failed its sha256 or did not unpack)."""
        self.layer.discard([reason], cause=Cause.MISSING_CONTENTS)

    @contextlib.contextmanager
    def keeping(self) -> Iterator[KeptDownload]:
        """Where a download is written as it is read; kept once the block ends without an
        error, which the caller reaches only after the whole body matched its sha256."""
        if self.layer.state is not LayerState.EMPTY:
            self.layer.discard(["the archive is downloaded again"], cause=Cause.CHANGED)
        kept = KeptDownload(self.layer.path / PARTIAL)
        try:
            yield kept
            kept.close()
        except BaseException:
            with contextlib.suppress(OSError, FilesystemError):
                kept.close()
            with contextlib.suppress(OSError):
                kept.path.unlink()
            raise
        kept.path.replace(self.layer.path / ARCHIVE)
        self.layer.complete(self.metadata)

    def keep_cached(self) -> None:
        """Keep the restored archive in the cache for the next build (once per build: Python
        unpacked later from it asks again)."""
        if self.archive is not None and not self.layer.completed:
            self.layer.complete(self.metadata)


class KeptDownload:
    """A copy of what is read from a stream, started afresh for each attempt (`tee`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    def tee(self, stream: BinaryIO) -> TeeReader:
        """`stream`, copying every byte read into the file (truncated first: a retry starts
        the download again)."""
        self.close()
        try:
            self._file = self.path.open("wb")
        except OSError as error:
            raise _kept_error(self.path, error) from None
        return TeeReader(stream, self._file, self.path)

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()  # the last buffered bytes are written here
            except OSError as error:
                raise _kept_error(self.path, error) from None


class TeeReader:
    """A reader that writes what it returns to `copy` (the file at `path`); `drain` reads the
    rest through it."""

    def __init__(self, source: BinaryIO, copy: BinaryIO, path: Path) -> None:
        self._source = source
        self._copy = copy
        self._path = path
        self.name = getattr(source, "name", "archive")

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        try:
            self._copy.write(data)
        except OSError as error:
            # Not an OSError of the stream's: the unpacker would take it for a broken archive.
            raise _kept_error(self._path, error) from None
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def _kept_error(path: Path, error: OSError) -> FilesystemError:
    """A full or read-only disk under the kept copy, told as the unpack's own are."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    return FilesystemError("unpacking Python", str(path), reason)


def open_archive_cache(config: BuildConfig, log: Log) -> ArchiveCache | None:
    """The cache layer of this build's Python archive, reused when it holds the same archive
    (the log only says when one is discarded, and why), or None when the archive is bundled in
    the buildpack."""
    if config.python_source.via == "bundled":
        remove_layer(config.layers_dir, LAYER_NAME)
        return None
    metadata = PythonArchiveMetadata(
        python_version=config.python.version, archive_sha256=config.python.release.sha256
    )
    layer = decide_layer(
        config.layers_dir,
        LAYER_NAME,
        types=LayerTypes(cache=True),
        metadata=metadata,
        changes=changes,
        contents_ok=lambda path: (path / ARCHIVE).is_file(),
    )
    if layer.cause is not Cause.NEW and layer.state is LayerState.EMPTY:
        log_layer_state(layer, log, "Python archive", version=lambda old: old.python_version)
    return ArchiveCache(layer, metadata)


__all__ = [
    "ARCHIVE",
    "LAYER_NAME",
    "ArchiveCache",
    "KeptDownload",
    "PythonArchiveMetadata",
    "TeeReader",
    "open_archive_cache",
]
