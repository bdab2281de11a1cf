"""Relocatable CPython archives for the tests, built once per machine and cached.

`ensure_runtimes()` finds the CPython releases Debian's source packages carry (see
`cpython_sources`), builds each with `tools/runtime_builder.py` unless
`~/.cache/python-buildpack/runtimes-v<RECIPE_VERSION>/python-X.Y.Z-linux-<arch>.tar.gz` and its
`.json` metadata already exist, and returns them. Each version is built on its own, when first
asked for: `ensure_runtimes(versions=...)` and `ensure_newest(minor)` build only what they return
(`make demo` needs one CPython, the test suite all of them). A file lock per version makes
parallel test workers wait for one builder instead of building the same version twice (a build
takes ~2.5 minutes on 2 cores).

    python -m tests.harness.runtimes [--rebuild] [--versions 3.13.15,...] [--manifest PATH ...]

The set of versions can be narrowed with PYTHON_BUILDPACK_TEST_VERSIONS=3.13.5,3.11.2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from python_buildpack.output import Log, format_duration
from tools import runtime_builder

from .cache import file_lock
from .cpython_sources import CACHE, CachedSource, fetch_sources, sha256_file, version_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

# Bump when runtime_builder makes different archives (flags, trimming), so cached ones are
# rebuilt. A new directory rather than a check of the old files: test runs of older checkouts on
# the same machine keep serving the archives their manifests name. 2: _tkinter and nis trimmed.
RECIPE_VERSION = 2
RUNTIMES_DIR = CACHE / f"runtimes-v{RECIPE_VERSION}"
# The same recipe with PGO and LTO (`runtime_builder --optimize`), the way python-build-standalone
# builds the archives the manifest serves: for benchmarks of what ships (pure Python runs about
# 1.5 times faster on it, the buildpack's own start-up about 1.3 times). About 30 minutes a
# version on 2 cores, so the tests use the plain ones.
OPTIMIZED_DIR = CACHE / f"runtimes-v{RECIPE_VERSION}-optimized"
SOURCES_LOCK = CACHE / "sources.lock"
VERSIONS_ENV = "PYTHON_BUILDPACK_TEST_VERSIONS"
SHIPPED_MANIFEST = Path(__file__).resolve().parents[2] / "python-versions.toml"


def shipped_minors() -> list[dict[str, Any]]:
    """The shipped manifest's `[[minors]]` tables: tests follow the real end-of-life policy."""
    minors: list[dict[str, Any]] = tomllib.loads(SHIPPED_MANIFEST.read_text())["minors"]
    return minors


MINORS = tuple(entry["version"] for entry in shipped_minors())


@dataclass(frozen=True)
class BuiltRuntime:
    version: str
    arch: str
    archive_path: Path
    sha256: str

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def filename(self) -> str:
        return self.archive_path.name


def metadata_path(archive: Path) -> Path:
    return archive.with_name(archive.name.removesuffix(".tar.gz") + ".json")


def load_cached(version: str, arch: str, cache_dir: Path = RUNTIMES_DIR) -> BuiltRuntime | None:
    """The cached archive of `version`, if it is complete and matches its recorded sha256.

    The sha256 is recomputed only when the archive's size or mtime changed since it was recorded,
    so a cache hit costs a stat, not a hash of 40 MB.
    """
    archive = cache_dir / runtime_builder.archive_name(version, arch)
    meta_file = metadata_path(archive)
    if not archive.is_file() or not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
        stat = archive.stat()
        changed = (meta["size"], meta["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns)
        if changed and sha256_file(archive) != meta["sha256"]:
            return None
        return BuiltRuntime(version, arch, archive, str(meta["sha256"]))
    except (ValueError, KeyError, OSError):
        return None


def build_runtime(
    source: CachedSource, arch: str, cache_dir: Path = RUNTIMES_DIR, *, optimize: bool = False
) -> BuiltRuntime:
    """Build `source` with the runtime builder (with PGO and LTO when `optimize`); its log goes
    to `<archive>.log`."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive = cache_dir / runtime_builder.archive_name(source.version, arch)
    log_path = archive.with_name(archive.name.removesuffix(".tar.gz") + ".log")
    options = runtime_builder.Options(
        source=str(source.tarball),
        output_dir=cache_dir,
        jobs=os.cpu_count() or 1,
        url_base="",
        expected_version=source.version,
        optimize=optimize,
    )
    how = " with PGO and LTO (about 30 minutes)" if optimize else ""
    print(f"Building CPython {source.version}{how} (log: {log_path})", file=sys.stderr, flush=True)
    start = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log_file:
        built = runtime_builder.build(options, Log(out=log_file, err=log_file))
    seconds = time.monotonic() - start
    stat = built.path.stat()
    meta = {
        "version": built.version,
        "arch": built.arch,
        "sha256": built.sha256,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "build_seconds": round(seconds, 1),
        "optimized": optimize,
        "source": {
            "tarball": source.tarball.name,
            "sha256": source.sha256,
            "debian": f"{source.package}={source.debian_version} ({source.suite})",
        },
    }
    metadata_path(built.path).write_text(json.dumps(meta, indent=2) + "\n")
    print(
        f"Built CPython {source.version} in {format_duration(seconds)} "
        f"({stat.st_size / 1e6:.1f} MB)",
        file=sys.stderr,
        flush=True,
    )
    return BuiltRuntime(built.version, built.arch, built.path, built.sha256)


def wanted_versions() -> set[str] | None:
    value = os.environ.get(VERSIONS_ENV, "").strip()
    return {v.strip() for v in value.split(",") if v.strip()} or None


def available_sources() -> list[CachedSource]:
    """The source releases the tests use, oldest first (downloaded once, then remembered)."""
    with file_lock(SOURCES_LOCK):
        sources = fetch_sources(list(MINORS))
    return sorted(sources, key=lambda s: version_key(s.version))


def ensure_runtime(
    source: CachedSource, *, rebuild: bool = False, optimized: bool = False
) -> BuiltRuntime:
    """The archive of one source release, built unless cached (once per machine: a lock per
    version, so other versions can be built meanwhile by other processes); `optimized`: the
    one built with PGO and LTO (`OPTIMIZED_DIR`)."""
    arch = runtime_builder.host_arch()
    cache_dir = OPTIMIZED_DIR if optimized else RUNTIMES_DIR
    with file_lock(cache_dir / f"python-{source.version}.lock"):
        cached = None if rebuild else load_cached(source.version, arch, cache_dir)
        return cached or build_runtime(source, arch, cache_dir, optimize=optimized)


def ensure_runtimes(
    *, rebuild: bool = False, versions: Collection[str] | None = None
) -> list[BuiltRuntime]:
    """The test runtimes, built if not cached yet; sorted by version, oldest first.

    All of them unless `versions` (or PYTHON_BUILDPACK_TEST_VERSIONS) narrows the set.
    """
    wanted = set(versions) if versions is not None else wanted_versions()
    sources = available_sources()
    if wanted is not None:
        missing = wanted - {s.version for s in sources}
        if missing:
            raise RuntimeError(
                f"{', '.join(sorted(missing))} asked for, but only "
                f"{', '.join(s.version for s in sources)} have sources here"
            )
        sources = [s for s in sources if s.version in wanted]
    return [ensure_runtime(source, rebuild=rebuild) for source in sources]


def ensure_newest(minor: str, *, optimized: bool = False) -> BuiltRuntime:
    """The newest test runtime of `minor` (built with PGO and LTO when `optimized`), building
    no other version."""
    matching = [s for s in available_sources() if s.version.startswith(minor + ".")]
    if not matching:
        raise RuntimeError(f"no CPython {minor} source release is available here")
    return ensure_runtime(matching[-1], optimized=optimized)


def release_table(runtime: BuiltRuntime, base_url: str) -> dict[str, str]:
    return {
        "version": runtime.version,
        "os": "linux",
        "arch": runtime.arch,
        "libc": "gnu",
        "url": f"{base_url.rstrip('/')}/{runtime.filename}",
        "sha256": runtime.sha256,
    }


def write_test_manifest(
    runtimes: Sequence[BuiltRuntime],
    base_url: str,
    path: Path,
    *,
    minors: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Write a python-versions.toml listing `runtimes` (newest first) as served from `base_url`.

    The `[[minors]]` tables (the end-of-life policy) are the shipped manifest's unless `minors`
    replaces them, e.g. with dates that put a minor in its grace period today.
    """
    # One `[[minors]]`/`[[releases]]` table each, as in the real manifest (tomli_w would write
    # short tables as inline arrays: same data, harder to read in a failing test's tmp dir).
    parts = [
        "[[minors]]\n" + tomli_w.dumps(dict(entry))
        for entry in (shipped_minors() if minors is None else minors)
    ]
    newest_first = sorted(runtimes, key=lambda r: version_key(r.version), reverse=True)
    parts += [tomli_w.dumps({"releases": [release_table(r, base_url)]}) for r in newest_first]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.runtimes")
    parser.add_argument("--rebuild", action="store_true", help="ignore cached archives")
    parser.add_argument("--manifest", type=Path, help="also write a manifest here")
    parser.add_argument("--base-url", default=RUNTIMES_DIR.as_uri())
    parser.add_argument("--versions", help="only these, comma-separated (default: all)")
    args = parser.parse_args(argv)
    versions = [v.strip() for v in args.versions.split(",") if v.strip()] if args.versions else None
    runtimes = ensure_runtimes(rebuild=args.rebuild, versions=versions)
    for r in runtimes:
        size = r.archive_path.stat().st_size / 1e6
        print(f"{r.version:10} {r.arch:6} {size:6.1f} MB  {r.sha256}  {r.archive_path}")
    if args.manifest:
        write_test_manifest(runtimes, args.base_url, args.manifest)
        print(f"Wrote {args.manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
