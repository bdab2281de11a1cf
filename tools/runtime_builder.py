"""Build a relocatable CPython archive from an upstream source tarball (an operator tool).

    python -m tools.runtime_builder --source Python-3.13.5.tar.xz --output-dir dist

An operator tool: it never runs in a build and is not part of the packaged buildpack. It uses the
buildpack's own modules for what they share (`archive` for unpacking and writing tar archives,
`commands` to run programs, `output` for its log); its failures are the error classes below.

The result, `python-X.Y.Z-linux-<arch>.tar.gz`, has the layout of python-build-standalone's
`install_only_stripped` archives (`python/bin/python3`, `python/lib/`, `python/include/`) and runs
from any directory: the interpreter finds `libpython` through an `$ORIGIN/../lib` RUNPATH and
CPython computes `sys.prefix` from its own location at startup.

Choices worth knowing:
- `--enable-optimizations` (PGO) and LTO are off by default: PGO runs part of the test suite
  and the build takes about 4x longer, too long for every test run. `--optimize` turns both on,
  the way python-build-standalone's archives (what the manifest serves) are built; a benchmark
  of the buildpack's own start-up needs them to measure what ships (the interpreter runs pure
  Python about twice as fast).
- The RUNPATH goes in `LDFLAGS_NODIST`, not `LDFLAGS`, so it does not end up in sysconfig's
  `LDSHARED`/`LDFLAGS` and from there in every C extension users build with this Python.
- The interpreter links against the build machine's shared libraries (OpenSSL, SQLite, readline,
  libffi, ...), so the run image needs the same Debian release's runtime libraries.
- The standard library is compiled to bytecode with `unchecked-hash` invalidation: the CNB
  lifecycle resets file mtimes when it exports layers, which would make timestamp-based `.pyc`
  files stale. Only optimisation level 0 is kept (`-O` bytecode is rarely used and triples the
  size).
- The archive is deterministic: sorted members, a fixed mtime (`SOURCE_DATE_EPOCH` when set),
  uid/gid 0 and no user names, and a gzip header without a timestamp or file name.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
# Run as a script: `tools` and, for a Python without the package installed, `python_buildpack`
# must be importable.
for _path in (REPO, REPO / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(1, str(_path))

from python_buildpack import commands  # noqa: E402
from python_buildpack.archive import (  # noqa: E402
    archive_mtime,
    extract_tar,
    sha256_file,
    write_tar,
    write_tar_gz,
)
from python_buildpack.errors import (  # noqa: E402
    ArchiveCorrupt,
    ArchiveTooLarge,
    UnsafeArchive,
    UserError,
    bullet_list,
)
from python_buildpack.output import Log, format_duration  # noqa: E402
from tools import trees  # noqa: E402

PREFIX = "/python"
ARCHIVE_TOP = "python"
PYTHON_ORG_URL = "https://www.python.org/ftp/python/{version}/Python-{version}.tar.xz"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_SOURCE_FIX = (
    "Pass --source a CPython source release (Python-X.Y.Z.tar.xz/.tgz, or a Debian "
    "pythonX.Y_X.Y.Z.orig.tar.* file), or --version X.Y.Z to download it from python.org."
)


# --- errors: one class per failure of the builder (operator errors, not build errors) --------


class RuntimeBuildError(UserError):
    """Building a runtime archive failed; the subclasses say how."""


class UnsupportedBuildArch(RuntimeBuildError):
    def __init__(self, machine: str) -> None:
        super().__init__(
            f"Unsupported architecture {machine!r}",
            "Runtime archives are built for linux/amd64 (x86_64) and linux/arm64 (aarch64).",
            "Run the builder on one of those machines.",
        )


class RuntimeSourceInvalid(RuntimeBuildError):
    def __init__(self, source: str, reason: str) -> None:
        super().__init__(
            "Unusable CPython source",
            f"{source} cannot be used to build a Python runtime: {reason}",
            _SOURCE_FIX,
        )


class RuntimeSourceMissing(RuntimeBuildError):
    def __init__(self, source: str) -> None:
        super().__init__(
            "Unusable CPython source",
            f"{source} cannot be used to build a Python runtime: the file does not exist",
            _SOURCE_FIX,
        )


class RuntimeSourceDownloadFailed(RuntimeBuildError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            "Unusable CPython source",
            f"{url} cannot be used to build a Python runtime: the download failed: {reason}",
            "Check the URL and this machine's network access, or download the source release "
            "yourself and pass its path to --source.",
        )


class RuntimeBuildDependenciesMissing(RuntimeBuildError):
    def __init__(self, missing: dict[str, str]) -> None:
        packages = sorted(set(missing.values()))
        super().__init__(
            "Missing build dependencies for CPython",
            "Building CPython needs these tools and headers, which were not found:\n"
            + bullet_list(f"{item} (Debian package {pkg})" for item, pkg in missing.items()),
            "Install them with: apt-get install " + " ".join(packages) + "\n"
            "(tools/install-system-deps.sh installs everything the project needs).",
        )


class RuntimeBuildStepFailed(RuntimeBuildError):
    """configure, make or compileall failed; the long output is in the build log."""

    def __init__(self, command: str, exit_code: int, tail: str, build_log: Path) -> None:
        super().__init__(
            f"'{command}' failed (exit status {exit_code})",
            f"The command failed while building CPython. Its last lines:\n\n{tail}",
            f"See the full build log in {build_log}.",
        )
        self.command = command
        self.exit_code = exit_code


class RuntimeToolFailed(RuntimeBuildError):
    """A binutils or zstd command the builder runs on the built tree failed."""

    def __init__(self, command: str, exit_code: int, output: str) -> None:
        super().__init__(
            f"'{command}' failed (exit status {exit_code})",
            f"The command failed while preparing the CPython archive:\n{output}",
            "Check that binutils (strip, readelf) and zstd are installed and work "
            "(tools/install-system-deps.sh installs them), then build again.",
        )


class RuntimeInstallIncomplete(RuntimeBuildError):
    def __init__(self, prefix: Path, missing: str) -> None:
        super().__init__(
            "The CPython install is incomplete",
            f"'make install' into {prefix} left no {missing}.",
            "Check the build log for errors of 'make install'; the source release may be "
            "damaged or not a CPython release.",
        )


class RuntimeArchiveBroken(RuntimeBuildError):
    def __init__(self, archive: Path, problems: Sequence[str]) -> None:
        super().__init__(
            "The built CPython archive does not work",
            f"{archive} was unpacked in another directory and checked:\n" + bullet_list(problems),
            "Fix the build host (a missing -dev package leaves a stdlib module out; a new "
            "shared library must be added to RUN_IMAGE_LIBRARIES and README) and build again.",
        )


CONFIGURE_FLAGS = (
    f"--prefix={PREFIX}",
    "--enable-shared",
    # ensurepip's bundled pip wheel is still installed; this only skips running it.
    "--with-ensurepip=no",
    "--without-static-libpython",
    "--disable-test-modules",
    "--enable-loadable-sqlite-extensions",
)
# Profile-guided optimisation and link-time optimisation, as python-build-standalone builds.
OPTIMIZE_FLAGS = ("--enable-optimizations", "--with-lto")
# Make sees `\$$ORIGIN`, the shell running the link command sees `\$ORIGIN`, the linker gets the
# literal `$ORIGIN`.
RPATH_LDFLAGS = r"-Wl,-rpath,\$$ORIGIN/../lib"
EXPECTED_RUNPATH = "$ORIGIN/../lib"

# Header -> Debian package providing it; checked with the C preprocessor before configuring, so a
# missing one is reported up front rather than as a silently absent stdlib module.
BUILD_HEADERS: dict[str, str] = {
    "openssl/ssl.h": "libssl-dev",
    "zlib.h": "zlib1g-dev",
    "bzlib.h": "libbz2-dev",
    "lzma.h": "liblzma-dev",
    "ffi.h": "libffi-dev",
    "sqlite3.h": "libsqlite3-dev",
    "readline/readline.h": "libreadline-dev",
    "ncurses.h": "libncurses-dev",
    "uuid/uuid.h": "uuid-dev",
    "gdbm.h": "libgdbm-dev",
}
BUILD_TOOLS: dict[str, str] = {
    "cc": "build-essential",
    "make": "build-essential",
    "strip": "binutils",
    "readelf": "binutils",
}

# Stdlib parts no server app needs: test suites, the IDLE and Tk GUIs, turtle demos.
TRIM_STDLIB_DIRS = (
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "turtle.py",
    "lib2to3/tests",
    "ctypes/test",
    "distutils/tests",
    "sqlite3/test",
    "unittest/test",
)
# Extension modules (lib-dynload/<name>.cpython-*.so) that go with the stdlib parts above or would
# not load on a run image: `_tkinter` is what `tkinter` wraps and needs Tcl/Tk and X11; `nis`
# (3.11, 3.12; deprecated by PEP 594, gone in 3.13) needs libnsl and libtirpc, which run images
# do not carry.
TRIM_EXTENSION_MODULES = ("_tkinter", "nis")
TRIM_BIN_PREFIXES = ("idle", "2to3")

# The run-image contract: every shared library an ELF file of the archive may need (its
# DT_NEEDED entries), with the Debian 12 package that provides it. A library the archive ships
# itself (libpython) is not listed. `verify_archive` fails a build that needs anything else, so a
# new dependency (a -dev package added to the build host) cannot reach apps' images unnoticed;
# README's "What the run image must provide" lists the same, and the e2e tests check the run image.
RUN_IMAGE_LIBRARIES: dict[str, str] = {
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "libcrypt.so.1": "libcrypt1",
    "libssl.so.3": "libssl3",
    "libcrypto.so.3": "libssl3",
    "libz.so.1": "zlib1g",
    "libbz2.so.1.0": "libbz2-1.0",
    "liblzma.so.5": "liblzma5",
    "libffi.so.8": "libffi8",
    "libsqlite3.so.0": "libsqlite3-0",
    "libreadline.so.8": "libreadline8",
    "libncursesw.so.6": "libncursesw6",
    "libpanelw.so.6": "libncursesw6",
    "libtinfo.so.6": "libtinfo6",
    "libuuid.so.1": "libuuid1",
    "libgdbm.so.6": "libgdbm6",
    "libgdbm_compat.so.4": "libgdbm-compat4",
}
# glibc's dynamic loader, which libpython 3.13 names (for its thread-local storage): one per arch.
DYNAMIC_LOADERS = {"amd64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}


def run_image_libraries(arch: str) -> dict[str, str]:
    """The run-image contract for `arch`: {soname: Debian package}."""
    return RUN_IMAGE_LIBRARIES | {DYNAMIC_LOADERS[arch]: "libc6"}


VERIFY_MODULES = (
    "ssl",
    "sqlite3",
    "ctypes",
    "zlib",
    "bz2",
    "lzma",
    "readline",
    "uuid",
    "decimal",
    "hashlib",
    "curses",
    "dbm.gnu",
    "pyexpat",
)


@dataclass(frozen=True)
class Source:
    tarball: Path
    version: str  # X.Y.Z, from the tarball's top directory

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class BuiltArchive:
    version: str
    arch: str
    path: Path
    sha256: str
    size: int


@dataclass
class BuildLog:
    """Where the (long) output of configure and make goes, with the command lines."""

    path: Path

    def run(self, cmd: Sequence[str | Path], *, cwd: Path, env: Mapping[str, str]) -> None:
        args = [str(c) for c in cmd]
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"\n$ {' '.join(args)}  (in {cwd})\n")
            out.flush()
            result = commands.run(args, cwd=cwd, env=env, log=Log(out=out, err=out))
        if not result.ok:
            raise RuntimeBuildStepFailed(
                " ".join(args[:2]), result.exit_code, self.tail(), self.path
            )

    def tail(self, lines: int = 25) -> str:
        text = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def host_arch() -> str:
    machine = platform.machine().lower()
    try:
        return ARCHES[machine]
    except KeyError:
        raise UnsupportedBuildArch(machine) from None


def archive_name(version: str, arch: str) -> str:
    return f"python-{version}-linux-{arch}.tar.gz"


def build_env(**extra: str) -> dict[str, str]:
    """A minimal environment: the host's pip/Python settings must not leak into the build."""
    env = {
        "PATH": SYSTEM_PATH,
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    env.update(extra)
    return env


# --- sources ---------------------------------------------------------------------------------


def fetch_source(source: str, dest_dir: Path) -> Path:
    """A local path is used as is; a URL is downloaded into `dest_dir`."""
    if "://" not in source:
        path = Path(source).expanduser()
        if not path.is_file():
            raise RuntimeSourceMissing(source)
        return path.resolve()
    target = dest_dir / source.rstrip("/").rsplit("/", 1)[-1]
    try:
        with urllib.request.urlopen(source, timeout=60) as response, target.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as exc:
        raise RuntimeSourceDownloadFailed(source, str(exc)) from exc
    return target


def inspect_source(tarball: Path) -> Source:
    """Check that `tarball` is a CPython source release and read its version."""
    try:
        with tarfile.open(tarball) as tar:
            first = tar.next()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RuntimeSourceInvalid(
            str(tarball), f"it is not a readable tar archive ({exc})"
        ) from exc
    if first is None:
        raise RuntimeSourceInvalid(str(tarball), "the archive is empty")
    top = first.name.strip("./").split("/", 1)[0]
    match = re.fullmatch(r"Python-(\d+\.\d+\.\d+)", top)
    if not match:
        raise RuntimeSourceInvalid(
            str(tarball),
            f"its top directory is {top!r}, not 'Python-X.Y.Z' as in a CPython source release",
        )
    return Source(tarball=tarball, version=match.group(1))


def unpack_source(source: Source, work_dir: Path) -> Path:
    """Unpack the release into `work_dir` with the buildpack's own safe extraction."""
    try:
        extract_tar(source.tarball, work_dir, strip_top=None)
    except (UnsafeArchive, ArchiveCorrupt, ArchiveTooLarge) as error:
        raise RuntimeSourceInvalid(str(source.tarball), error.detail) from None
    src_dir = work_dir / f"Python-{source.version}"
    if not (src_dir / "configure").is_file():
        raise RuntimeSourceInvalid(str(source.tarball), f"{src_dir.name}/configure is missing")
    return src_dir


# --- build -----------------------------------------------------------------------------------


def missing_build_dependencies() -> dict[str, str]:
    """What is missing to build a complete CPython: {tool or header: Debian package}."""
    missing = {tool: pkg for tool, pkg in BUILD_TOOLS.items() if shutil.which(tool) is None}
    if "cc" in missing:
        return missing | BUILD_HEADERS
    for header, pkg in BUILD_HEADERS.items():
        probe = commands.capture(
            ["cc", "-E", "-x", "c", "-"], input=f"#include <{header}>\n", env=build_env()
        )
        if probe.returncode != 0:
            missing[header] = pkg
    return missing


def configure(src_dir: Path, log: BuildLog, *, optimize: bool = False) -> None:
    log.run(
        ["./configure", *CONFIGURE_FLAGS, *(OPTIMIZE_FLAGS if optimize else ())],
        cwd=src_dir,
        env=build_env(LDFLAGS_NODIST=RPATH_LDFLAGS),
    )


def make(src_dir: Path, jobs: int, log: BuildLog) -> None:
    log.run(["make", f"-j{jobs}"], cwd=src_dir, env=build_env())


def install(src_dir: Path, staging: Path, log: BuildLog) -> Path:
    """`make install` into `staging`; returns the installed prefix (`staging/python`)."""
    log.run(["make", "install", f"DESTDIR={staging}"], cwd=src_dir, env=build_env())
    return staging / PREFIX.lstrip("/")


# --- trim ------------------------------------------------------------------------------------


def trim(prefix: Path, minor: str) -> list[Path]:
    """Remove what a server app never uses; returns what was removed (relative to `prefix`)."""
    pruner = trees.Pruner(prefix)
    stdlib = prefix / "lib" / f"python{minor}"
    for rel in TRIM_STDLIB_DIRS:
        pruner.remove(stdlib / rel)
    for name in TRIM_EXTENSION_MODULES:
        for module in sorted((stdlib / "lib-dynload").glob(f"{name}.*so")):
            pruner.remove(module)
    for entry in sorted((prefix / "bin").iterdir()) if (prefix / "bin").is_dir() else []:
        if entry.name.startswith(TRIM_BIN_PREFIXES):
            pruner.remove(entry)
    for static_lib in sorted(prefix.rglob("libpython*.a")):
        pruner.remove(static_lib)
    # make install compiles with timestamp invalidation at three optimisation levels; that
    # bytecode is replaced by `compile_stdlib`.
    for cache in sorted(prefix.rglob("__pycache__")):
        pruner.remove(cache)
    return pruner.removed


def ensure_python_links(prefix: Path, minor: str) -> None:
    """`bin/python3` and `bin/python` must exist (make install only creates `python3`)."""
    bin_dir = prefix / "bin"
    interpreter = bin_dir / f"python{minor}"
    if not interpreter.is_file():
        raise RuntimeInstallIncomplete(prefix, f"bin/python{minor}")
    for name in ("python3", "python"):
        link = bin_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(interpreter.name)


# A shell/Python polyglot: sh runs the line with `exec`; Python sees a string expression. It keeps
# scripts such as pydoc3 working wherever the tree is unpacked, unlike `#!/python/bin/python3.X`.
RELOCATABLE_SHEBANG = (
    "#!/bin/sh\n"
    '\'\'\'exec\' "$(dirname -- "$(realpath -- "$0")")/{interpreter}" "$0" "$@"\n'
    "' '''\n"
)


def relocate_scripts(prefix: Path, minor: str) -> list[Path]:
    """Rewrite `#!/python/bin/...` shebangs of bin/ scripts; returns the rewritten scripts."""
    rewritten = []
    bin_dir = prefix / "bin"
    for script in sorted(bin_dir.iterdir()):
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as f:
            first = f.readline()
        if not first.startswith(f"#!{PREFIX}/bin/python".encode()):
            continue
        body = script.read_bytes()[len(first) :]
        header = RELOCATABLE_SHEBANG.format(interpreter=f"python{minor}").encode()
        script.write_bytes(header + body)
        rewritten.append(script.relative_to(prefix))
    return rewritten


def is_elf(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


def strip_binaries(prefix: Path) -> list[Path]:
    elves = sorted(p for p in prefix.rglob("*") if is_elf(p))
    for chunk_start in range(0, len(elves), 200):
        chunk = elves[chunk_start : chunk_start + 200]
        _tool(["strip", "--strip-unneeded", *map(str, chunk)])
    return elves


def compile_stdlib(prefix: Path, minor: str, jobs: int, log: BuildLog) -> None:
    interpreter = prefix / "bin" / f"python{minor}"
    log.run(
        [
            interpreter,
            "-I",
            # -B: modules this interpreter imports must not get timestamp .pyc files, which
            # compileall would then consider up to date; -f recompiles whatever is there.
            "-B",
            "-m",
            "compileall",
            "-f",
            "-q",
            f"-j{jobs}",
            "--invalidation-mode",
            "unchecked-hash",
            # Record /python paths, not the staging directory, so the bytecode is the same
            # whatever directory was used to build.
            "-s",
            str(prefix),
            "-p",
            PREFIX,
            prefix / "lib" / f"python{minor}",
        ],
        cwd=prefix,
        env=build_env(),
    )


def timestamp_pycs(prefix: Path) -> list[Path]:
    """Bytecode files validated by source mtime (PEP 552 flags 0), which a mtime reset breaks."""
    found = []
    for pyc in sorted(prefix.rglob("*.pyc")):
        with pyc.open("rb") as f:
            header = f.read(8)
        if len(header) < 8 or int.from_bytes(header[4:8], "little") & 0b01 == 0:
            found.append(pyc.relative_to(prefix))
    return found


# --- archive ---------------------------------------------------------------------------------


def _tool(cmd: Sequence[str], *, stdin: IO[bytes] | None = None) -> str:
    """Run a binutils/zstd command on the built tree; its stdout, or `RuntimeToolFailed`."""
    result = commands.capture(cmd, env=build_env(), stdin=stdin)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise RuntimeToolFailed(commands.display(cmd[:2]), result.returncode, output)
    return result.stdout


def write_archive(tree: Path, archive: Path, *, mtime: int | None = None) -> str:
    """Write `tree` as a reproducible .tar.gz at `archive`; returns its sha256."""
    fixed = archive_mtime() if mtime is None else mtime
    return write_tar_gz(tree, archive, top=ARCHIVE_TOP, mtime=fixed, compresslevel=9)


def write_zstd_archive(tree: Path, archive: Path, *, mtime: int | None = None) -> str:
    fixed = archive_mtime() if mtime is None else mtime
    with tempfile.TemporaryFile() as plain:
        write_tar(tree, plain, top=ARCHIVE_TOP, mtime=fixed)
        plain.seek(0)
        # From stdin, as always: zstd records the content size when it reads a file.
        _tool(["zstd", "-q", "-f", "-19", "-T0", "-o", str(archive)], stdin=plain)
    return sha256_file(archive)


def manifest_entry(version: str, arch: str, url: str, sha256: str) -> str:
    return (
        "[[releases]]\n"
        f'version = "{version}"\n'
        'os = "linux"\n'
        f'arch = "{arch}"\n'
        'libc = "gnu"\n'
        f'url = "{url}"\n'
        f'sha256 = "{sha256}"\n'
    )


# --- verification ----------------------------------------------------------------------------


def runpath(binary: Path) -> str | None:
    out = _tool(["readelf", "-d", str(binary)])
    match = re.search(r"\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[(.*)\]", out)
    return match.group(1) if match else None


NEEDED_RE = re.compile(r"\(NEEDED\)\s+Shared library: \[(.+?)\]")


def needed_libraries(binary: Path) -> list[str]:
    """The DT_NEEDED entries of an ELF file: the shared libraries the loader must find for it."""
    out = _tool(["readelf", "-d", str(binary)])
    return NEEDED_RE.findall(out)


def unlisted_libraries(prefix: Path, arch: str) -> dict[str, list[str]]:
    """ELF files of the tree (relative path) that need a library outside the run-image contract
    (`run_image_libraries`) and not shipped in the tree's `lib/` itself."""
    lib_dir = prefix / "lib"
    shipped = {p.name for p in lib_dir.iterdir()} if lib_dir.is_dir() else set()
    allowed = set(run_image_libraries(arch)) | shipped
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in prefix.rglob("*") if is_elf(p)):
        extra = [name for name in needed_libraries(path) if name not in allowed]
        if extra:
            found[path.relative_to(prefix).as_posix()] = extra
    return found


def verify_archive(archive: Path, version: str, minor: str, arch: str) -> str:
    """Unpack `archive` somewhere else and check it works there; returns the OpenSSL version."""
    with tempfile.TemporaryDirectory(prefix="verify-runtime-") as tmp:
        root = Path(tmp) / "somewhere" / "else"
        root.mkdir(parents=True)
        prefix = root / ARCHIVE_TOP
        extract_tar(archive, prefix, strip_top=ARCHIVE_TOP)
        python = prefix / "bin" / "python3"
        problems = []
        for name in ("python3", "python", f"python{minor}"):
            if not (prefix / "bin" / name).exists():
                problems.append(f"bin/{name} is missing")
        found = runpath(prefix / "bin" / f"python{minor}")
        if found != EXPECTED_RUNPATH:
            problems.append(f"bin/python{minor} has RUNPATH {found!r}, not {EXPECTED_RUNPATH!r}")
        wheels = list(
            (prefix / "lib" / f"python{minor}" / "ensurepip" / "_bundled").glob("pip-*.whl")
        )
        if not wheels:
            problems.append("ensurepip's bundled pip wheel is missing")
        stale = timestamp_pycs(prefix)
        if stale:
            problems.append(f"{len(stale)} .pyc files are timestamp-based, e.g. {stale[0]}")
        if not (prefix / "include" / f"python{minor}" / "Python.h").is_file():
            problems.append(f"include/python{minor}/Python.h is missing")
        for rel, libraries in unlisted_libraries(prefix, arch).items():
            problems.append(
                f"{rel} needs {', '.join(libraries)}, which the run image is not known to "
                "provide (add it to RUN_IMAGE_LIBRARIES and README, or trim the file)"
            )
        code = (
            "import sys, " + ", ".join(VERIFY_MODULES) + "\n"
            "print(sys.version.split()[0]); print(sys.prefix); print(ssl.OPENSSL_VERSION)"
        )
        probe = commands.capture([python, "-I", "-c", code], env=build_env())
        if probe.returncode != 0:
            problems.append(f"importing the stdlib failed:\n{probe.stderr.strip()}")
            openssl = ""
        else:
            got_version, got_prefix, openssl = probe.stdout.strip().splitlines()
            if got_version != version:
                problems.append(f"the interpreter reports version {got_version}, not {version}")
            if Path(got_prefix).resolve() != prefix.resolve():
                problems.append(f"sys.prefix is {got_prefix}, not the unpacked {prefix}")
        venv = Path(tmp) / "venv"
        made = commands.capture(
            [python, "-I", "-m", "venv", "--without-pip", venv], env=build_env()
        )
        if made.returncode != 0:
            problems.append(f"python -m venv --without-pip failed:\n{made.stderr.strip()}")
        else:
            ran = commands.capture(
                [venv / "bin" / "python", "-c", "import sys; print(sys.prefix != sys.base_prefix)"],
                env=build_env(),
            )
            if ran.stdout.strip() != "True":
                problems.append(f"the venv's python does not run as a venv: {ran.stderr.strip()}")
        if problems:
            raise RuntimeArchiveBroken(archive, problems)
        return openssl


# --- the whole thing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    source: str
    output_dir: Path
    jobs: int
    url_base: str
    work_dir: Path | None = None
    expected_version: str | None = None
    zstd: bool = False
    keep_work_dir: bool = False
    optimize: bool = False


def build(options: Options, log: Log) -> BuiltArchive:
    arch = host_arch()
    options.output_dir.mkdir(parents=True, exist_ok=True)
    work_parent = options.work_dir
    if work_parent is not None:
        work_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cpython-build-", dir=work_parent))
    start = time.monotonic()
    try:
        missing = missing_build_dependencies()
        if missing:
            raise RuntimeBuildDependenciesMissing(missing)
        tarball = fetch_source(options.source, work)
        source = inspect_source(tarball)
        if options.expected_version and source.version != options.expected_version:
            raise RuntimeSourceInvalid(
                options.source,
                f"it contains Python {source.version}, not {options.expected_version}",
            )
        name = archive_name(source.version, arch)
        build_log = BuildLog(options.output_dir / f"{name.removesuffix('.tar.gz')}.build.log")
        build_log.path.write_text("", encoding="utf-8")
        log.header(f"Building CPython {source.version} for linux/{arch}")
        log.info(f"Source: {source.tarball}")
        log.info(f"Build log: {build_log.path}")
        with log.timed("Unpacking the source"):
            src_dir = unpack_source(source, work)
        with log.timed("Running configure"):
            configure(src_dir, build_log, optimize=options.optimize)
        make_step = "with PGO and LTO" if options.optimize else ""
        with log.timed(f"Running make -j{options.jobs} {make_step}".rstrip()):
            make(src_dir, options.jobs, build_log)
        staging = work / "staging"
        with log.timed("Running make install"):
            prefix = install(src_dir, staging, build_log)
        with log.timed("Trimming, stripping and compiling the stdlib"):
            removed = trim(prefix, source.minor)
            ensure_python_links(prefix, source.minor)
            relocate_scripts(prefix, source.minor)
            stripped = strip_binaries(prefix)
            compile_stdlib(prefix, source.minor, options.jobs, build_log)
            log.detail(f"removed {len(removed)} paths, stripped {len(stripped)} ELF files")
        archive = options.output_dir / name
        with log.timed(f"Writing {archive.name}"):
            sha256 = write_archive(prefix, archive)
        if options.zstd and shutil.which("zstd"):
            zst = archive.with_name(name.removesuffix(".gz") + ".zst")
            with log.timed(f"Writing {zst.name}"):
                write_zstd_archive(prefix, zst)
        with log.timed("Verifying the archive from another directory"):
            openssl = verify_archive(archive, source.version, source.minor, arch)
            log.detail(openssl)
        size = archive.stat().st_size
        log.info(
            f"Built {archive} ({size / 1e6:.1f} MB) in {format_duration(time.monotonic() - start)}"
        )
        return BuiltArchive(source.version, arch, archive, sha256, size)
    finally:
        if not options.keep_work_dir:
            shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tools.runtime_builder",
        description="Build a relocatable CPython archive from an upstream source release. "
        "PGO (--enable-optimizations) and LTO are used only with --optimize: they make the "
        "build about 4x slower.",
    )
    parser.add_argument("--version", help="X.Y.Z; the default source is python.org's tarball")
    parser.add_argument("--source", help="path or URL of a Python-X.Y.Z.tar.* source release")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--url-base", default="", help="where the archive will be served, for the manifest entry"
    )
    parser.add_argument("--work-dir", type=Path, help="parent of the temporary build directory")
    parser.add_argument("--zstd", action="store_true", help="also write a .tar.zst (needs zstd)")
    parser.add_argument("--keep-work-dir", action="store_true")
    parser.add_argument(
        "--optimize", action="store_true", help="build with PGO and LTO (about 4x slower)"
    )
    args = parser.parse_args(argv)
    if args.version and not VERSION_RE.match(args.version):
        parser.error(f"--version must look like 3.13.5, not {args.version!r}")
    if not args.source and not args.version:
        parser.error("give --source or --version")
    source = args.source or PYTHON_ORG_URL.format(version=args.version)
    return Options(
        source=source,
        output_dir=args.output_dir.resolve(),
        jobs=max(1, args.jobs),
        url_base=args.url_base.rstrip("/"),
        work_dir=args.work_dir.resolve() if args.work_dir else None,
        expected_version=args.version,
        zstd=args.zstd,
        keep_work_dir=args.keep_work_dir,
        optimize=args.optimize,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    log = Log()
    try:
        built = build(options, log)
    except UserError as error:
        log.user_error(error)
        return 1
    base = options.url_base or options.output_dir.as_uri()
    print()
    print(manifest_entry(built.version, built.arch, f"{base}/{built.path.name}", built.sha256))
    return 0


if __name__ == "__main__":
    sys.exit(main())
