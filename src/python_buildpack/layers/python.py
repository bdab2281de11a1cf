"""The `python` layer: a relocatable CPython (build + launch + cache).

Reused as long as the same archive would be installed for the same target; otherwise the log
lists every reason the cached one was discarded.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..cnb.env import LayerEnv, Scope
from ..cnb.layers import Layer, empty_directory
from ..cnb.models import LayerTypes
from ..commands import capture
from ..config import BuildConfig
from ..errors import (
    BrokenPythonArchive,
    PythonArchiveDoesNotRun,
    PythonArchiveHasNoPython,
    PythonArchiveWrongVersion,
)
from ..execd import install_programs
from ..output import Log
from ..relocate import relocate, sysconfigdata_files
from ..sbom import EXTENSION as SBOM_EXTENSION
from ..sbom import python_sbom
from .common import (
    BUILT_FOR_REASONS,
    BuiltFor,
    ChangeReasons,
    OpenedLayer,
    built_for,
    open_layer,
)

LAYER_NAME = "python"
# 1980-01-01T00:00:01Z: the oldest date a zip (and so a wheel) can hold. With it set, pip and
# compileall write hash-based .pyc files, which stay valid after the lifecycle resets mtimes.
SOURCE_DATE_EPOCH = "315532801"
NO_DEBUG_INFO = "-g0"


class PythonLayerMetadata(BuiltFor):
    archive_sha256: str


def _archive_change(old: PythonLayerMetadata, new: PythonLayerMetadata) -> str | None:
    # Another version is another archive: the version change says it better.
    if old.python_version != new.python_version or old.archive_sha256 == new.archive_sha256:
        return None
    return (
        "The Python archive changed (sha256 "
        f"{old.archive_sha256[:12]}… to {new.archive_sha256[:12]}…)"
    )


changes = ChangeReasons(
    PythonLayerMetadata, {**BUILT_FOR_REASONS, "archive_sha256": _archive_change}
)


@dataclass(frozen=True)
class PythonInstall:
    path: Path
    version: str
    # The build environment with this layer applied, for the steps that follow.
    build_env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python3"

    @property
    def minor(self) -> str:
        return minor_version(self.version)


def interpreter(layers_dir: Path) -> Path:
    """The layer's `python3`, known before the layer is filled (the scripts of the pip and uv
    layers, unpacked alongside it, name it in their `#!` line)."""
    return layers_dir / LAYER_NAME / "bin" / "python3"


def minor_version(version: str) -> str:
    """`3.13` of `3.13.5`."""
    return ".".join(version.split(".")[:2])


def layer_env(path: Path, minor: str) -> LayerEnv:
    env = LayerEnv()
    # Logs reach the platform as they are written, not when a buffer fills (or never, when
    # the process is killed). At launch only a default: an image's own setting wins.
    env.override(Scope.BUILD, "PYTHONUNBUFFERED", "1")
    env.default(Scope.LAUNCH, "PYTHONUNBUFFERED", "1")
    env.default(Scope.ALL, "LANG", "C.UTF-8")
    env.default(Scope.BUILD, "SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
    # Reproducible C extensions: the debug info of an extension that pip compiles from an sdist
    # names pip's random build directory (/tmp/pip-install-<random>/…), so the venv layer's
    # digest changed on every build of the same app. `-g0` after sysconfig's `-g` leaves the
    # debug info out: the same sources give the same bytes (and the same machine code as
    # before). It goes in CPPFLAGS because setuptools and meson append that to the compiler
    # flags, while CFLAGS would *replace* sysconfig's (losing -O3 and -DNDEBUG). An app that
    # sets CPPFLAGS itself replaces this default (and so keeps any debug info).
    env.default(Scope.BUILD, "CPPFLAGS", NO_DEBUG_INFO)
    # Headers live one level below the `include/` the lifecycle adds by itself; old setuptools
    # versions only find them through CPATH.
    env.prepend(Scope.BUILD, "CPATH", str(path / "include" / f"python{minor}"))
    env.prepend(Scope.BUILD, "PKG_CONFIG_PATH", str(path / "lib" / "pkgconfig"))
    return env


def open_python_layer(config: BuildConfig, log: Log) -> OpenedLayer[PythonLayerMetadata]:
    """The step's header and the cached layer, reused or emptied (the log says which): the
    layers that fill alongside Python are decided on between this and `install_python`."""
    python = config.python
    log.header("Installing Python")
    metadata = PythonLayerMetadata(**built_for(config), archive_sha256=python.release.sha256)
    layer = open_layer(
        config.layers_dir,
        LAYER_NAME,
        types=LayerTypes(build=True, launch=True, cache=True),
        metadata=metadata,
        changes=changes,
        log=log,
        what="Python",
        version=lambda old: old.python_version,
        contents_ok=lambda path: (path / "bin" / "python3").exists(),
    )
    return OpenedLayer(layer, metadata)


def install_python(
    config: BuildConfig, opened: OpenedLayer[PythonLayerMetadata], env: dict[str, str], log: Log
) -> PythonInstall:
    python = config.python
    layer, metadata = opened.layer, opened.metadata
    minor = minor_version(python.version)
    if layer.is_empty:
        _fill(layer, config, log)
    # Rewritten on every build, reused layer or not, so it is always this buildpack's version.
    install_programs(layer.path, layer.path / "bin" / "python3")
    layer_env_ = layer_env(layer.path, minor)
    layer.write_sbom(
        python_sbom(python.version, python.release.sha256, config.python_source.url),
        SBOM_EXTENSION,
    )
    layer.complete(metadata, env=layer_env_)
    return PythonInstall(layer.path, python.version, layer_env_.apply(env, Scope.BUILD, layer.path))


def _fill(layer: Layer[PythonLayerMetadata], config: BuildConfig, log: Log) -> None:
    # Only a cold layer downloads and unpacks: `http`, `ssl`, `urllib.request` and `tarfile`
    # stay out of a warm rebuild's start-up.
    from ..archive import DEFAULT_MAX_UNPACKED_BYTES

    python = config.python
    source = config.python_source
    via = {
        "manifest": "",
        "mirror": " from the mirror",
        "binding": " via a dependency mapping",
        "bundled": " from the archive bundled in the buildpack",
    }
    with log.timed(f"Installing Python {python.version}{via[source.via]}"):
        unpack_python(
            source.url,
            python.release.sha256,
            layer.path,
            log,
            deadline=config.download_timeout,
            max_unpacked_bytes=python.release.max_unpacked_bytes or DEFAULT_MAX_UNPACKED_BYTES,
        )
        if not (layer.path / "bin" / "python3").exists():
            raise PythonArchiveHasNoPython(source.url)
        relocate(layer.path)
        # One run both proves the archive works here (another libc or CPU fails now rather than
        # obscurely in pip) and compiles the rewritten sysconfig data. Its .pyc must be hash
        # based: the lifecycle resets mtimes on export, so a timestamp .pyc would be rewritten
        # by the next build's first import, changing the layer's digest for nothing.
        check = capture(
            [
                layer.path / "bin" / "python3",
                "-c",
                "import sys, ssl, zlib, py_compile\n"
                "for path in sys.argv[1:]:\n"
                "    py_compile.compile(path, doraise=True,"
                " invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n"
                "print('%d.%d.%d' % sys.version_info[:3])",
                *sysconfigdata_files(layer.path),
            ],
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
        # The version it prints must be the one the manifest promised: a wrapper that exits 0,
        # or an archive of another release, would otherwise pass here and fail obscurely later.
        broken: BrokenPythonArchive | None = None
        if check.returncode != 0:
            broken = PythonArchiveDoesNotRun(source.url, check.stderr)
        elif check.stdout.strip() != python.version:
            broken = PythonArchiveWrongVersion(source.url, check.stdout, python.version)
        if broken is not None:
            empty_directory(layer.path)
            raise broken


def unpack_python(
    url: str,
    sha256: str,
    dest: Path,
    log: Log,
    *,
    deadline: float,
    max_unpacked_bytes: int,
    retry_delay: float = 1.0,
) -> None:
    """Download and unpack the archive at `url` into `dest` in one pass, checking its sha256.

    No archive touches the disk: the response goes through sha256 straight into the safe
    unpacker. What it unpacked counts only once the whole body matched (`fetch` returns then):
    on any failure, a checksum mismatch included, `dest` is left empty. A retry after a partial
    download starts from an empty `dest` too."""

    # Only a cold layer unpacks: http, ssl and tarfile stay off a warm rebuild's start-up.
    from ..archive import extract_tar
    from ..download import fetch

    def unpack(stream: BinaryIO) -> None:
        empty_directory(dest)
        extract_tar(stream, dest, strip_top="python", max_unpacked_bytes=max_unpacked_bytes)

    try:
        fetch(url, sha256, log, unpack, deadline=deadline, retry_delay=retry_delay)
    except BaseException:
        with contextlib.suppress(OSError):
            empty_directory(dest)
        raise
