"""Package the buildpack with its own CPython: `make package`, or

    python tools/package.py [--arch amd64|arm64] [--runtime-archive PATH] [--output-dir build]

Build images do not promise a python3, so the packaged buildpack carries one. It produces
`<output>/buildpack-<arch>/` (for the machine's own arch also `<output>/buildpack`, a symlink)
and `<output>/python-buildpack-<version>-<arch>.cgz`, a reproducible gzip'd tar of that
directory with `buildpack.toml` at its root (what `pack` accepts as a buildpack URI):

    buildpack.toml python-versions.toml LICENSE README.md requirements/
    bin/        detect, build, python-buildpack (the launcher prefers runtime/bin/python3)
    src/        python_buildpack, precompiled
    vendor/     pydantic, packaging, tomli-w, ... from requirements/buildpack.txt, precompiled
    runtime/    CPython 3.13, trimmed to what the buildpack uses

`--offline` (`make package OFFLINE=1`) also bundles CPython archives of `python-versions.toml`
for the package's arch under `dependencies/<sha256>/<file>`, where the buildpack looks before
downloading (`python_buildpack.distributions.bundled_path`): an air-gapped build needs no
network for Python. `--offline-python 3.13,3.12.11` chooses what (a minor means its newest
patch); the default is every release of the manifest for the arch. Each archive is downloaded
once into ~/.cache/python-buildpack/buildpack-runtimes/ and sha256-checked on the way in, and the
build checks it again when it installs it.

The runtime comes from `--runtime-archive` (any archive with PBS's `python/` layout), else the
newest 3.13 of `python-versions.toml` for the arch, downloaded once into
~/.cache/python-buildpack/buildpack-runtimes/ and sha256-checked.

Checks of the finished package (detect from a clean env, as another user, writing nothing into
the buildpack) are tests: `tests/harness/packaged.py`, run by `tests/contract/test_package.py`.
The package holds `src/python_buildpack` and what the build needs; operator tools (this file,
`tools/runtime_builder.py`) are not shipped.

Why the bytecode is `unchecked-hash`: the lifecycle and the .cgz reset mtimes, which would make
timestamp-based .pyc files stale; the buildpack directory is read-only to the build user, so
stale bytecode would be recompiled in memory on every detect instead of being written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run as a script (`python tools/package.py`): `tools` and, for a Python without the package
# installed, `python_buildpack` must be importable.
for _path in (REPO, REPO / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(1, str(_path))

from python_buildpack import commands  # noqa: E402
from python_buildpack.archive import (  # noqa: E402
    archive_mtime,
    extract_tar,
    iter_tree,
    sha256_file,
    write_tar_gz,
)
from python_buildpack.distributions import (  # noqa: E402
    ArchivePlatform,
    Manifest,
    Release,
    bundled_path,
)
from python_buildpack.download import download  # noqa: E402
from python_buildpack.errors import CommandNotStarted, UserError  # noqa: E402
from python_buildpack.output import Log, format_duration  # noqa: E402
from tools import trees  # noqa: E402
from tools.runtime_builder import host_arch  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RUNTIME_MINOR = "3.13"
CACHE_TAG = "cpython-313"
# CNB/Go arch -> manylinux platform tag of the vendored wheels, and ELF e_machine of the runtime.
WHEEL_PLATFORMS = {"amd64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
ELF_MACHINES = {"amd64": 62, "arm64": 183}

SHIPPED_FILES = ("buildpack.toml", "python-versions.toml", "LICENSE", "README.md")
SHIPPED_DIRS = ("bin", "requirements")
LAUNCHERS = ("detect", "build", "python-buildpack")
VENDOR_REQUIREMENTS = Path("requirements") / "buildpack.txt"
RUNTIME_CACHE = Path.home() / ".cache" / "python-buildpack" / "buildpack-runtimes"

# What the buildpack never uses from the runtime, relative to it. Besides headers, docs and GUI
# or test parts of the stdlib, this drops PBS's Tcl/Tk (the largest part of its lib/) and pip.
TRIM_PATHS = ("include", "share", "lib/pkgconfig")
TRIM_LIB_GLOBS = ("libtcl*", "libtk*", "tcl[0-9]*", "tk[0-9]*", "itcl*", "thread[0-9]*", "tdbc*")
TRIM_STDLIB = (
    "ensurepip",
    "idlelib",
    "tkinter",
    "turtledemo",
    "turtle.py",
    "pydoc_data",
    "lib2to3",
    "test",
    "__phello__",
    "sqlite3",
)
TRIM_STDLIB_GLOBS = ("config-3.13-*", "site-packages/*")
TRIM_DYNLOAD_GLOBS = (
    "_tkinter*",
    "_sqlite3*",
    "_test*",
    "_ctypes_test*",
    "_xxtestfuzz*",
    "xxlimited*",
    "xxsubtype*",
)
KEEP_BIN = frozenset({"python3", f"python{RUNTIME_MINOR}"})
KEEP_SITE_PACKAGES = frozenset({"README.txt"})

# Standard modules the buildpack relies on, beyond what importing all of it pulls in (some are
# imported lazily, or optionally as urllib does with ssl).
REQUIRED_STDLIB = (
    "ssl",
    "hashlib",
    "zlib",
    "gzip",
    "bz2",
    "lzma",
    "tarfile",
    "zipfile",
    "shutil",
    "json",
    "tomllib",
    "urllib.request",
    "http.client",
    "subprocess",
    "concurrent.futures",
)
VENDOR_IMPORTS = ("pydantic", "pydantic_core", "packaging.version", "tomli_w", "typing_extensions")

CLEAN_PATH = "/usr/bin:/bin"
# Network settings passed on to pip; everything else of the host's pip setup is left out.
PIP_PASSTHROUGH = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CERT",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


# --- errors: one class per way packaging fails (operator errors, not build errors) ------------


class PackageError(UserError):
    """Packaging failed; the subclasses say how."""


class UnsupportedPackageArch(PackageError):
    def __init__(self, arch: str) -> None:
        super().__init__(
            f"Unsupported arch {arch!r}",
            f"The buildpack can be packaged for {', '.join(WHEEL_PLATFORMS)}, not {arch!r}.",
            f"Pass --arch with one of: {', '.join(WHEEL_PLATFORMS)}.",
        )


class NoPackageRuntime(PackageError):
    def __init__(self, arch: str) -> None:
        super().__init__(
            f"No CPython {RUNTIME_MINOR} to package for linux/{arch}",
            f"python-versions.toml has no CPython {RUNTIME_MINOR} for linux/{arch}, the Python "
            "the packaged buildpack runs on.",
            f"Add a CPython {RUNTIME_MINOR} release for linux/{arch} to python-versions.toml, or "
            f"pass --runtime-archive PATH with a CPython {RUNTIME_MINOR} archive.",
        )


class NoOfflineReleases(PackageError):
    def __init__(self, arch: str) -> None:
        super().__init__(
            f"No CPython release to bundle for linux/{arch}",
            f"python-versions.toml has no release for linux/{arch}, so --offline has nothing "
            "to bundle.",
            f"Add releases for linux/{arch} to python-versions.toml, or package another --arch.",
        )


class OfflineVersionUnknown(PackageError):
    def __init__(self, wanted: str, arch: str, known: Sequence[str]) -> None:
        super().__init__(
            f"Cannot bundle CPython {wanted}",
            f"python-versions.toml has no CPython {wanted} for linux/{arch} "
            f"(it has: {', '.join(known) or 'none'})",
            "Pass --offline-python versions of the manifest (X.Y for the newest patch, or X.Y.Z).",
        )


class LaunchersMissing(PackageError):
    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(
            "The buildpack's launchers are missing",
            "These launchers are missing or not executable: "
            + ", ".join(f"bin/{name}" for name in missing),
            "Restore them from git (`git checkout -- bin/`) and keep their executable bit.",
        )


class RuntimeNotPackageable(PackageError):
    """The runtime archive is not a CPython the packaged buildpack can run on."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "Unusable runtime archive",
            f"The runtime archive {reason}.",
            f"Pass --runtime-archive a CPython {RUNTIME_MINOR} archive for the --arch packaged, "
            "with a python/ top directory (python-build-standalone's install_only layout, or "
            "one made by tools/runtime_builder.py).",
        )


class RuntimeNotCpython(RuntimeNotPackageable):
    def __init__(self) -> None:
        super().__init__(
            f"is not CPython {RUNTIME_MINOR}: it has no python/bin/python{RUNTIME_MINOR} (the "
            f"vendored wheels are built for {CACHE_TAG})"
        )


class RuntimeNotElf(RuntimeNotPackageable):
    def __init__(self, binary: Path) -> None:
        super().__init__(f"has a {binary.name} that is not an ELF executable")


class RuntimeWrongArch(RuntimeNotPackageable):
    def __init__(self, arch: str, machine: int) -> None:
        super().__init__(f"is not for {arch} (ELF machine {machine})")


class PackageStepFailed(PackageError):
    """A command of packaging (pip, compileall, the import check) failed."""

    def __init__(self, title: str, output: str, fix: str) -> None:
        super().__init__(title, output.strip(), fix)


class VendorInstallFailed(PackageStepFailed):
    def __init__(self, exit_code: int, output: str) -> None:
        super().__init__(
            f"pip could not install {VENDOR_REQUIREMENTS} (exit status {exit_code})",
            output,
            f"Check the network access to the package index (PIP_INDEX_URL is passed on) and "
            f"that every requirement of {VENDOR_REQUIREMENTS} has a hash and a wheel for "
            f"CPython {RUNTIME_MINOR} on the --arch packaged.",
        )


class BytecodeCompileFailed(PackageStepFailed):
    def __init__(self, exit_code: int, output: str) -> None:
        super().__init__(
            f"compileall failed (exit status {exit_code})",
            output,
            f"Fix the module it names: the buildpack and what it vendors must compile with "
            f"CPython {RUNTIME_MINOR}.",
        )


class RuntimeImportCheckFailed(PackageStepFailed):
    def __init__(self, output: str) -> None:
        super().__init__(
            "The packaged runtime cannot import what the buildpack needs",
            output,
            "Keep what it names: remove it from the TRIM_* lists of tools/package.py, or add "
            f"the missing package to {VENDOR_REQUIREMENTS}.",
        )


@dataclass(frozen=True)
class PackageResult:
    dir: Path
    archive: Path
    size_bytes: int  # of the .cgz
    dir_size_bytes: int = 0
    runtime_version: str = ""


@dataclass(frozen=True)
class BundledArchive:
    version: str
    path: Path  # inside the package
    size_bytes: int


# --- the steps ---------------------------------------------------------------------------------


def buildpack_version(repo: Path = REPO) -> str:
    data = tomllib.loads((repo / "buildpack.toml").read_text(encoding="utf-8"))
    return str(data["buildpack"]["version"])


def default_runtime_archive(arch: str, log: Log, repo: Path = REPO) -> Path:
    """The newest 3.13 of the manifest for `arch`, downloaded once and checked."""
    manifest = Manifest.load(repo / "python-versions.toml")
    major, minor = RUNTIME_MINOR.split(".")
    release = manifest.newest_patch((int(major), int(minor)), ArchivePlatform("linux", arch))
    if release is None:
        raise NoPackageRuntime(arch)
    # The manifest URL's file name is percent-encoded (`%2B`); keep the cache name plain.
    cached = RUNTIME_CACHE / release.filename.replace("%2B", "+")
    if cached.is_file() and sha256_file(cached) == release.sha256:
        log.info(f"Using cached CPython {release.version} ({cached})")
        return cached
    with log.timed(f"Downloading CPython {release.version} for {arch}"):
        download(release.url, cached, release.sha256, log)
    return cached


def choose_releases(manifest: Manifest, arch: str, wanted: Sequence[str]) -> list[Release]:
    """The releases to bundle for `arch`: every one of the manifest when `wanted` is empty,
    else each `X.Y` (its newest stable patch) or `X.Y.Z` named, newest first."""
    target = ArchivePlatform("linux", arch)
    if not wanted:
        releases = manifest.releases_for(target)
        if not releases:
            raise NoOfflineReleases(arch)
        return releases
    chosen: dict[str, Release] = {}
    for item in wanted:
        parts = item.split(".")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            release = manifest.newest_patch((int(parts[0]), int(parts[1])), target)
        else:
            release = manifest.find_release(item, target)
        if release is None:
            known = [r.version for r in manifest.releases_for(target)]
            raise OfflineVersionUnknown(item, arch, known)
        chosen[release.version] = release
    return sorted(chosen.values(), key=lambda r: r.parsed_version, reverse=True)


def bundle_python_archives(
    package_dir: Path,
    arch: str,
    wanted: Sequence[str],
    log: Log,
    *,
    cache: Path = RUNTIME_CACHE,
) -> list[BundledArchive]:
    """Copy the chosen CPython archives of the package's own python-versions.toml into it."""
    manifest = Manifest.load(package_dir / "python-versions.toml")
    bundled = []
    for release in choose_releases(manifest, arch, wanted):
        cached = cache / release.sha256 / bundled_path(package_dir, release).name
        if not (cached.is_file() and sha256_file(cached) == release.sha256):
            with log.timed(f"Downloading CPython {release.version} for {arch}"):
                download(release.url, cached, release.sha256, log)
        dest = bundled_path(package_dir, release)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, dest)
        bundled.append(BundledArchive(release.version, dest, dest.stat().st_size))
    log.info(
        f"Bundled {len(bundled)} CPython archives for {arch} "
        f"({sum(b.size_bytes for b in bundled) / 1e6:.1f} MB): "
        + ", ".join(b.version for b in bundled)
    )
    return bundled


def copy_sources(repo: Path, dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    for name in SHIPPED_FILES:
        shutil.copy2(repo / name, dest / name)
    for name in SHIPPED_DIRS:
        shutil.copytree(repo / name, dest / name, ignore=ignore)
    shutil.copytree(
        repo / "src" / "python_buildpack", dest / "src" / "python_buildpack", ignore=ignore
    )
    missing = [name for name in LAUNCHERS if not os.access(dest / "bin" / name, os.X_OK)]
    if missing:
        raise LaunchersMissing(missing)


def trim_runtime(runtime: Path) -> list[str]:
    """Remove what the buildpack never uses; returns the removed paths (relative)."""
    pruner = trees.Pruner(runtime)
    stdlib = runtime / "lib" / f"python{RUNTIME_MINOR}"
    for rel in TRIM_PATHS:
        pruner.remove(runtime / rel)
    for pattern in TRIM_LIB_GLOBS:
        for path in sorted((runtime / "lib").glob(pattern)):
            pruner.remove(path)
    for name in TRIM_STDLIB:
        pruner.remove(stdlib / name)
    for pattern in TRIM_STDLIB_GLOBS:
        for path in sorted(stdlib.glob(pattern)):
            if path.name not in KEEP_SITE_PACKAGES:
                pruner.remove(path)
    for pattern in TRIM_DYNLOAD_GLOBS:
        for path in sorted((stdlib / "lib-dynload").glob(pattern)):
            pruner.remove(path)
    for path in sorted((runtime / "bin").iterdir()):
        if path.name not in KEEP_BIN:
            pruner.remove(path)
    # Static libraries, and bytecode for -O/-OO, which the launcher never passes.
    for pattern in ("*.a", "*.opt-1.pyc", "*.opt-2.pyc"):
        for path in sorted(runtime.rglob(pattern)):
            pruner.remove(path)
    # The bytecode of removed modules.
    for cache in sorted(stdlib.rglob("__pycache__")):
        for pyc in sorted(cache.glob("*.pyc")):
            source = cache.parent / (pyc.name.split(".", 1)[0] + ".py")
            if not source.exists():
                pruner.remove(pyc)
    return [path.as_posix() for path in pruner.removed]


def check_runtime(runtime: Path, arch: str) -> None:
    binary = runtime / "bin" / f"python{RUNTIME_MINOR}"
    if not binary.is_file():
        raise RuntimeNotCpython()
    with binary.open("rb") as f:
        header = f.read(20)
    if header[:4] != b"\x7fELF":
        raise RuntimeNotElf(binary)
    machine = int.from_bytes(header[18:20], "little")
    if machine != ELF_MACHINES[arch]:
        raise RuntimeWrongArch(arch, machine)
    python3 = runtime / "bin" / "python3"
    if not python3.exists():
        python3.symlink_to(binary.name)


def runtime_version(runtime: Path) -> str:
    """X.Y.Z of the runtime, from its headers (read before trimming them), else by running it."""
    header = runtime / "include" / f"python{RUNTIME_MINOR}" / "patchlevel.h"
    if header.is_file():
        for line in header.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("#define PY_VERSION "):
                return line.split(None, 2)[2].strip().strip('"')
    with contextlib.suppress(CommandNotStarted, subprocess.TimeoutExpired):
        result = commands.capture(
            [
                runtime / "bin" / "python3",
                "-I",
                "-c",
                "import platform; print(platform.python_version())",
            ],
            env={"PATH": CLEAN_PATH},
            timeout=60,
        )
        if result.returncode == 0:
            return result.stdout.strip()
    return RUNTIME_MINOR


def pip_env(environ: Mapping[str, str]) -> dict[str, str]:
    env = {
        "PATH": environ.get("PATH", CLEAN_PATH),
        "HOME": environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        # Global/user pip config (constraints, find-links) must not change what is vendored.
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update({k: environ[k] for k in PIP_PASSTHROUGH if environ.get(k)})
    return env


def install_vendor(repo: Path, vendor: Path, arch: str, environ: Mapping[str, str]) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-input",
        "--target",
        str(vendor),
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        RUNTIME_MINOR,
        "--abi",
        "cp313",
        "--platform",
        WHEEL_PLATFORMS[arch],
        "--require-hashes",
        "-r",
        str(repo / VENDOR_REQUIREMENTS),
    ]
    result = commands.capture(command, env=pip_env(environ))
    if result.returncode != 0:
        raise VendorInstallFailed(result.returncode, result.stderr or result.stdout)
    # Console scripts would point at the packaging host's Python.
    shutil.rmtree(vendor / "bin", ignore_errors=True)


def runs_here(python: Path) -> bool:
    try:
        result = commands.capture(
            [python, "-I", "-c", "import sys; print(sys.implementation.cache_tag)"],
            env={"PATH": CLEAN_PATH},
            timeout=60,
        )
    except (CommandNotStarted, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == CACHE_TAG


def compiler_for(runtime: Path, log: Log) -> Path | None:
    """The runtime's python, or (packaging another arch) a host CPython 3.13: bytecode is the
    same for every arch of a minor."""
    own = runtime / "bin" / "python3"
    if runs_here(own):
        return own
    found = shutil.which(f"python{RUNTIME_MINOR}")
    if found and runs_here(Path(found)):
        log.info(f"The runtime does not run here; compiling bytecode with {found}")
        return Path(found)
    log.warning(
        "The buildpack's bytecode is not precompiled",
        f"The runtime does not run on this machine and no python{RUNTIME_MINOR} is on PATH, so "
        "detect and build will compile the buildpack's modules at each start (slower).",
    )
    return None


def _pyc_is_unchecked_hash(pyc: Path) -> bool:
    with pyc.open("rb") as f:
        header = f.read(8)
    return len(header) == 8 and int.from_bytes(header[4:8], "little") == 0b01


def stdlib_needs_compiling(stdlib: Path) -> bool:
    for source in stdlib.rglob("*.py"):
        pyc = source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc"
        if not pyc.is_file() or not _pyc_is_unchecked_hash(pyc):
            return True
    return False


def compile_tree(python: Path, strip: Path, prefix: str, paths: Sequence[Path]) -> None:
    command = [
        str(python),
        "-I",
        "-B",
        "-m",
        "compileall",
        "-q",
        "-f",
        "-j0",
        "--invalidation-mode",
        "unchecked-hash",
        # Paths recorded in the bytecode do not depend on where the package was built.
        "-s",
        str(strip),
        "-p",
        prefix,
        *map(str, paths),
    ]
    result = commands.capture(command, env={"PATH": CLEAN_PATH, "LANG": "C.UTF-8"})
    if result.returncode != 0:
        raise BytecodeCompileFailed(result.returncode, result.stdout + result.stderr)


def import_check(package_dir: Path) -> None:
    """Import every buildpack module and what it needs with the runtime, as the launcher runs
    it: proof that trimming kept enough."""
    code = (
        "import sys, importlib, pkgutil; sys.path[:0] = sys.argv[1:3]\n"
        "import python_buildpack as p\n"
        "for m in pkgutil.walk_packages(p.__path__, 'python_buildpack.'):\n"
        "    importlib.import_module(m.name)\n"
        "for name in sys.argv[3:]:\n"
        "    importlib.import_module(name)\n"
        "import hashlib; hashlib.sha256(b'')\n"
        "print(sys.version.split()[0])\n"
    )
    result = commands.capture(
        [
            package_dir / "runtime" / "bin" / "python3",
            "-I",
            "-B",
            "-c",
            code,
            str(package_dir / "src"),
            str(package_dir / "vendor"),
            *REQUIRED_STDLIB,
            *VENDOR_IMPORTS,
        ],
        env={"PATH": "/nonexistent", "PYTHONPATH": "/bad", "PYTHONHOME": "/bad"},
    )
    if result.returncode != 0:
        raise RuntimeImportCheckFailed(result.stderr)


def normalise_modes(root: Path) -> None:
    """Readable by everyone (the lifecycle runs buildpacks as another user), and the same on
    every machine whatever the umask."""
    root.chmod(0o755)
    for path in iter_tree(root):
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            path.chmod(0o755)
        elif stat.S_ISREG(mode):
            path.chmod(0o755 if mode & 0o111 else 0o644)


def tree_size(root: Path) -> int:
    return sum(p.lstat().st_size for p in iter_tree(root) if not p.is_dir() or p.is_symlink())


def write_cgz(root: Path, archive: Path, mtime: int) -> None:
    """`root`'s contents (buildpack.toml at the top) as a reproducible .tar.gz."""
    write_tar_gz(root, archive, top=None, mtime=mtime, compresslevel=6)


def _replace_dir(staging: Path, final: Path) -> None:
    if final.is_symlink() or final.is_file():
        final.unlink()
    elif final.exists():
        shutil.rmtree(final)
    staging.rename(final)


def _link_native(output_dir: Path, arch: str) -> None:
    link = output_dir / "buildpack"
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    link.symlink_to(f"buildpack-{arch}")


def package_buildpack(
    arch: str,
    runtime_archive: Path | None,
    output_dir: Path,
    *,
    log: Log | None = None,
    repo: Path = REPO,
    environ: Mapping[str, str] | None = None,
    offline_python: Sequence[str] | None = None,
) -> PackageResult:
    """Lay out `<output_dir>/buildpack-<arch>/` and its .cgz; see the module docstring.
    `offline_python`: bundle these CPython versions (`()`: all of the arch), see `--offline`."""
    log = log or Log()
    env = dict(os.environ if environ is None else environ)
    if arch not in WHEEL_PLATFORMS:
        raise UnsupportedPackageArch(arch)
    version = buildpack_version(repo)
    output_dir = output_dir.absolute()
    output_dir.mkdir(parents=True, exist_ok=True)
    archive_source = runtime_archive or default_runtime_archive(arch, log, repo)
    final = output_dir / f"buildpack-{arch}"
    staging = Path(tempfile.mkdtemp(prefix=f".buildpack-{arch}.", dir=output_dir))
    try:
        with log.timed(f"Unpacking the runtime from {archive_source}"):
            extract_tar(archive_source, staging / "runtime")
            check_runtime(staging / "runtime", arch)
            python_version = runtime_version(staging / "runtime")
            removed = trim_runtime(staging / "runtime")
            log.detail(f"trimmed {len(removed)} paths")
        copy_sources(repo, staging)
        if offline_python is not None:
            bundle_python_archives(staging, arch, offline_python, log)
        with log.timed(f"Vendoring {VENDOR_REQUIREMENTS} for {WHEEL_PLATFORMS[arch]}"):
            install_vendor(repo, staging / "vendor", arch, env)
        compiler = compiler_for(staging / "runtime", log)
        if compiler is not None:
            with log.timed("Compiling bytecode"):
                stdlib = staging / "runtime" / "lib" / f"python{RUNTIME_MINOR}"
                if stdlib_needs_compiling(stdlib):
                    compile_tree(compiler, staging / "runtime", "/python", [stdlib])
                compile_tree(compiler, staging, "/", [staging / "src", staging / "vendor"])
        normalise_modes(staging)
        if runs_here(staging / "runtime" / "bin" / "python3"):
            import_check(staging)
        _replace_dir(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if arch == native_arch():
        _link_native(output_dir, arch)
    archive = output_dir / f"python-buildpack-{version}-{arch}.cgz"
    with log.timed(f"Writing {archive.name}"):
        write_cgz(final, archive, archive_mtime())
    return PackageResult(
        dir=final,
        archive=archive,
        size_bytes=archive.stat().st_size,
        dir_size_bytes=tree_size(final),
        runtime_version=python_version,
    )


def native_arch() -> str | None:
    try:
        return host_arch()
    except UserError:
        return None


# --- CLI --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/package.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--arch", choices=sorted(WHEEL_PLATFORMS), default=native_arch() or "amd64")
    parser.add_argument(
        "--runtime-archive",
        type=Path,
        help="a CPython 3.13 archive with a python/ top directory (default: the newest 3.13 "
        "of python-versions.toml, downloaded)",
    )
    parser.add_argument("--output-dir", type=Path, default=REPO / "build")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="bundle CPython archives in the package, for builds without network access",
    )
    parser.add_argument(
        "--offline-python",
        default="",
        metavar="VERSIONS",
        help="with --offline: comma-separated X.Y (newest patch) or X.Y.Z to bundle "
        "(default: every release of python-versions.toml for the arch)",
    )
    args = parser.parse_args(argv)
    log = Log()
    start = time.monotonic()
    offline = None
    if args.offline or args.offline_python:
        offline = tuple(v.strip() for v in args.offline_python.split(",") if v.strip())
    try:
        result = package_buildpack(
            args.arch, args.runtime_archive, args.output_dir, log=log, offline_python=offline
        )
    except UserError as error:
        log.user_error(error)
        if args.runtime_archive is None and not isinstance(error, PackageError):
            log.info("Pass --runtime-archive PATH to package with a CPython 3.13 archive at hand.")
        return 1
    seconds = time.monotonic() - start
    log.info(
        f"\nPackaged python-buildpack with CPython {result.runtime_version} for {args.arch} "
        f"in {format_duration(seconds)}"
    )
    log.detail(f"{result.dir}: {result.dir_size_bytes / 1e6:.1f} MB")
    log.detail(f"{result.archive}: {result.size_bytes / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
