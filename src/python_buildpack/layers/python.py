"""The `python` layer: a relocatable CPython (launch; build + cache when something runs it
on every build).

Reused as long as the same archive would be installed for the same target; otherwise the log
lists every reason the cached one was discarded.

Its files go to the image, and the archive to the cache (`layers.python_archive`, one file).
A rebuild reuses the layer from the previous image by its metadata alone, and most rebuilds
(nothing changed, or the app's code only) never run Python, so its 1,500 or so files are
neither restored nor tarred again. What runs Python asks for its files first (`PythonInstall.
ensure_files`): they are then unpacked from the cached archive, sha256 checked again. What runs
Python on every build keeps the layer a build layer, cached with its files, as before the
archive, so that the restorer extracts them beside the other layers: Django's collectstatic and
later buildpacks (`PreviousImage.needed_at_build`), and a venv installed anew on every build
(unpinned requirements, the app's own project installed by pip, `BP_PIP_REUSE_VENV=false`, a
lock file that installs the app's code as a copy: `installers.rebuilt_on_every_build`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

from ..cnb.env import LayerEnv, Scope
from ..cnb.layers import Cause, Layer, LayerState, empty_directory
from ..cnb.models import LayerTypes
from ..cnb.toml_io import dump_model
from ..commands import capture
from ..config import BuildConfig
from ..errors import (
    ArchiveCorrupt,
    BrokenPythonArchive,
    ChecksumMismatch,
    PythonArchiveDoesNotRun,
    PythonArchiveHasNoPython,
    PythonArchiveWrongVersion,
)
from ..execd import PROGRAMS, install_programs, program_text
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
from .previous_image import PreviousImage, content_digest
from .python_archive import ArchiveCache, KeptDownload

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


class PythonInstall:
    """The installed Python, whose files may still be in the previous image only: whatever
    runs it calls `ensure_files` first."""

    def __init__(
        self,
        path: Path,
        version: str,
        build_env: dict[str, str],
        unpack_later: Callable[[Log, str], None] | None = None,
    ) -> None:
        self.path = path
        self.version = version
        # The build environment with this layer applied, for the steps that follow.
        self.build_env = build_env
        self._unpack_later = unpack_later

    def ensure_files(self, log: Log, why: str) -> None:
        """Unpack the files from the cached archive if they were left to the previous image;
        `why` ends the log line ("since <why>")."""
        if self._unpack_later is not None:
            self._unpack_later(log, why)
            self._unpack_later = None

    @property
    def python(self) -> Path:
        if self._unpack_later is not None:
            raise RuntimeError("Python's files are in the previous image only: ensure_files first")
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


def written_files(path: Path) -> dict[str, str]:
    """The sha256 of each file this buildpack version writes into the layer whatever its
    metadata (the exec.d programs), for the digest of what the previous image holds."""
    return {
        f"exec.d/{name}": hashlib.sha256(
            program_text(name, path / "bin" / "python3").encode()
        ).hexdigest()
        for name in PROGRAMS
    }


def open_python_layer(
    config: BuildConfig, log: Log, image: PreviousImage, venv_rebuilt: str | None = None
) -> OpenedLayer[PythonLayerMetadata]:
    """The step's header and the layer, reused (with its files, or from the previous image by
    its metadata alone) or emptied (the log says which): the layers that fill alongside Python
    are decided on between this and `install_python`. `venv_rebuilt`: why the venv is installed
    anew on every build (`installers.rebuilt_on_every_build`), if it is."""
    python = config.python
    log.header("Installing Python")
    metadata = PythonLayerMetadata(**built_for(config), archive_sha256=python.release.sha256)
    path = config.layers_dir / LAYER_NAME
    env = layer_env(path, minor_version(python.version))

    if venv_rebuilt is not None:
        image.need_files(
            LAYER_NAME, f"the dependencies are installed with it on every build ({venv_rebuilt})"
        )

    def without_files(old: PythonLayerMetadata) -> str | None:
        return image.why_not_reuse(
            LAYER_NAME, content_digest(dump_model(old), env, written_files(path))
        )

    # What runs Python on every build keeps its files restored and cached, as the restorer
    # extracts them beside the other layers; otherwise they stay in the image.
    needed = image.files_needed(LAYER_NAME)
    layer = open_layer(
        config.layers_dir,
        LAYER_NAME,
        types=LayerTypes(build=needed, launch=True, cache=needed),
        metadata=metadata,
        changes=changes,
        log=log,
        what="Python",
        version=lambda old: old.python_version,
        contents_ok=lambda path: (path / "bin" / "python3").exists(),
        without_files=without_files,
    )
    return OpenedLayer(layer, metadata)


def install_python(
    config: BuildConfig,
    opened: OpenedLayer[PythonLayerMetadata],
    env: dict[str, str],
    log: Log,
    image: PreviousImage,
    archive: ArchiveCache | None,
) -> PythonInstall:
    python = config.python
    layer, metadata = opened.layer, opened.metadata
    layer_env_ = layer_env(layer.path, minor_version(python.version))
    build_env = layer_env_.apply(env, Scope.BUILD, layer.path)

    def complete() -> None:
        if layer.has_contents:
            # Rewritten whenever the files are here, so it is always this buildpack's version.
            install_programs(layer.path, layer.path / "bin" / "python3")
        layer.write_sbom(
            python_sbom(python.version, python.release.sha256, config.python_source.url),
            SBOM_EXTENSION,
        )
        layer.complete(metadata, env=layer_env_)
        image.export(layer, layer_env_, written_files(layer.path))

    if layer.state is LayerState.RESTORED and not layer.has_contents:
        # Left to the previous image; the archive stays cached for a build that must run it.
        if archive is not None:
            archive.keep_cached()
        complete()

        def unpack_later(log: Log, why: str) -> None:
            layer.discard([why], cause=Cause.MISSING_CONTENTS)
            _fill(layer, config, log, archive, f", since {why}")
            complete()

        return PythonInstall(layer.path, python.version, build_env, unpack_later)
    if layer.is_empty:
        _fill(layer, config, log, archive)
    elif archive is not None:
        archive.keep_cached()
    complete()
    return PythonInstall(layer.path, python.version, build_env)


VIA = {
    "manifest": "",
    "mirror": " from the mirror",
    "binding": " via a dependency mapping",
    "bundled": " from the archive bundled in the buildpack",
}


def _fill(
    layer: Layer[PythonLayerMetadata],
    config: BuildConfig,
    log: Log,
    archive: ArchiveCache | None,
    why: str = "",
) -> None:
    """Unpack Python into the empty layer: from the cached archive when there is one (a
    damaged one is forgotten and downloaded again), otherwise from its source, keeping the
    download in `archive` for the next build."""
    # Only a cold layer downloads and unpacks: `http`, `ssl`, `urllib.request` and `tarfile`
    # stay out of a warm rebuild's start-up.
    from ..archive import DEFAULT_MAX_UNPACKED_BYTES

    python = config.python
    source = config.python_source
    limit = python.release.max_unpacked_bytes or DEFAULT_MAX_UNPACKED_BYTES
    cached = archive.archive if archive is not None else None
    if archive is not None and cached is not None:
        try:
            with log.timed(f"Installing Python {python.version} from the build cache{why}"):
                unpack_python(
                    cached.as_uri(),
                    python.release.sha256,
                    layer.path,
                    log,
                    deadline=config.download_timeout,
                    max_unpacked_bytes=limit,
                )
                _check(layer, config)
            archive.keep_cached()
            return
        except (ChecksumMismatch, ArchiveCorrupt) as error:
            # The cache is not the source: what it holds is downloaded again, never trusted.
            log.info(f"The cached archive is damaged ({error.title}); downloading it again")
            archive.forget(error.title)
    with log.timed(f"Installing Python {python.version}{VIA[source.via]}{why}"):
        with contextlib.ExitStack() as stack:
            kept = stack.enter_context(archive.keeping()) if archive is not None else None
            unpack_python(
                source.url,
                python.release.sha256,
                layer.path,
                log,
                deadline=config.download_timeout,
                max_unpacked_bytes=limit,
                keep=kept,
            )
        _check(layer, config)


def _check(layer: Layer[PythonLayerMetadata], config: BuildConfig) -> None:
    """Relocate the unpacked Python and prove it runs here, as the version promised."""
    url = config.python_source.url
    if not (layer.path / "bin" / "python3").exists():
        raise PythonArchiveHasNoPython(url)
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
    version = config.python.version
    broken: BrokenPythonArchive | None = None
    if check.returncode != 0:
        broken = PythonArchiveDoesNotRun(url, check.stderr)
    elif check.stdout.strip() != version:
        broken = PythonArchiveWrongVersion(url, check.stdout, version)
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
    keep: KeptDownload | None = None,
) -> None:
    """Download and unpack the archive at `url` into `dest` in one pass, checking its sha256.

    The response goes through sha256 straight into the safe unpacker and, with `keep`, into
    that file as well (for the build cache). What it unpacked counts only once the whole body
    matched (`fetch` returns then): on any failure, a checksum mismatch included, `dest` is
    left empty. A retry after a partial download starts from an empty `dest` (and `keep`)."""

    # Only a cold layer unpacks: http, ssl and tarfile stay off a warm rebuild's start-up.
    from ..archive import extract_tar
    from ..download import fetch

    def unpack(stream: BinaryIO) -> None:
        empty_directory(dest)
        if keep is None:
            extract_tar(stream, dest, strip_top="python", max_unpacked_bytes=max_unpacked_bytes)
            return
        copied = keep.tee(stream)
        extract_tar(
            cast(BinaryIO, copied), dest, strip_top="python", max_unpacked_bytes=max_unpacked_bytes
        )
        # What the unpacker left unread (the end of the compressed stream) goes into the copy.
        copied.drain()

    try:
        fetch(url, sha256, log, unpack, deadline=deadline, retry_delay=retry_delay)
    except BaseException:
        with contextlib.suppress(OSError):
            empty_directory(dest)
        raise
