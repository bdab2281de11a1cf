"""Upstream CPython source releases, taken from Debian source packages.

This machine cannot reach python.org, but Debian's `pythonX.Y` source packages carry the upstream
release tarball unchanged as `pythonX.Y_X.Y.Z.orig.tar.*` (top directory `Python-X.Y.Z`). This
module adds a `deb-src` entry for the suites that carry them, lists the versions the Sources
indexes announce, and downloads the ones the mirror really has (an index can name files the mirror
no longer serves) into `~/.cache/python-buildpack/sources/`.

    python -m tests.harness.cpython_sources [--refresh]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .cache import CACHE_ROOT

CACHE = CACHE_ROOT
SOURCES_DIR = CACHE / "sources"
AVAILABLE_FILE = SOURCES_DIR / "available.json"
DEB_SRC_FILE = Path("/etc/apt/sources.list.d/python-buildpack-deb-src.sources")
SUITES = ("bookworm", "trixie", "sid")
APT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}
PACKAGE_RE = re.compile(r"python3\.\d+")
ORIG_RE = re.compile(r"python3\.\d+_(\d+\.\d+\.\d+)\.orig\.tar\.(?:gz|xz|bz2)")


class SourcesUnavailable(RuntimeError):
    """No CPython source could be found or downloaded (explains what to do)."""


@dataclass(frozen=True)
class SourcePackage:
    """One `pythonX.Y` source package version announced by a Sources index."""

    package: str  # python3.13
    debian_version: str  # 3.13.5-2+deb13u5
    version: str  # 3.13.5, the upstream release
    suite: str  # trixie
    orig_file: str  # python3.13_3.13.5.orig.tar.xz
    orig_sha256: str

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class CachedSource:
    version: str
    package: str
    debian_version: str
    suite: str
    tarball: Path
    sha256: str


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# --- apt configuration -----------------------------------------------------------------------


def deb_src_entry(binary_sources: str) -> str | None:
    """The deb-src twin of the Debian entry in a deb822 `.sources` file (None if it has none)."""
    for paragraph in re.split(r"\n\s*\n", binary_sources):
        fields = dict(_deb822_fields(paragraph))
        uris = fields.get("URIs", "")
        if "deb" in fields.get("Types", "").split() and uris.rstrip("/").endswith("/debian"):
            return (
                "# Added by python-buildpack's test harness: Debian source packages carry the\n"
                "# upstream CPython release tarballs the tests build runtimes from.\n"
                "Types: deb-src\n"
                f"URIs: {uris}\n"
                f"Suites: {' '.join(SUITES)}\n"
                f"Components: {fields.get('Components', 'main')}\n"
                f"Signed-By: {fields['Signed-By']}\n"
            )
    return None


def _deb822_fields(paragraph: str) -> Iterator[tuple[str, str]]:
    for line in paragraph.splitlines():
        if line.startswith("#") or ":" not in line or line[0].isspace():
            continue
        key, _, value = line.partition(":")
        yield key.strip(), value.strip()


def source_index_files() -> list[tuple[Path, str]]:
    """The downloaded Sources indexes and their suite codenames."""
    out = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(FILENAME)\t$(CODENAME)", "Identifier: Sources"],
        capture_output=True,
        text=True,
        env=APT_ENV,
        check=True,
    ).stdout
    files = []
    for line in out.splitlines():
        filename, _, codename = line.partition("\t")
        if Path(filename).exists():
            files.append((Path(filename), codename))
    return files


def ensure_deb_src() -> None:
    """Add the deb-src entry and run `apt-get update` unless every suite's index is there."""
    have = {suite for _, suite in source_index_files()}
    if set(SUITES) <= have:
        return
    if not DEB_SRC_FILE.exists():
        debian = Path("/etc/apt/sources.list.d/debian.sources")
        entry = deb_src_entry(debian.read_text()) if debian.exists() else None
        if entry is None:
            raise SourcesUnavailable(
                f"no Debian entry in {debian} to derive a deb-src entry from; add one with "
                f"Types: deb-src and Suites: {' '.join(SUITES)}"
            )
        if os.geteuid() != 0:
            raise SourcesUnavailable(f"writing {DEB_SRC_FILE} needs root; add it:\n{entry}")
        DEB_SRC_FILE.write_text(entry)
    subprocess.run(["apt-get", "update", "-qq"], env=APT_ENV, check=True)


# --- discovery and download ------------------------------------------------------------------


def parse_sources_index(text: str, suite: str) -> list[SourcePackage]:
    """The `python3.N` packages of one Sources index (deb822 paragraphs)."""
    found = []
    for paragraph in text.split("\n\n"):
        if not paragraph.startswith("Package: python3."):
            continue
        fields: dict[str, str] = {}
        current = ""
        for line in paragraph.splitlines():
            if line[:1].isspace() and current:
                fields[current] += "\n" + line.strip()
            elif ":" in line:
                current, _, value = line.partition(":")
                fields[current] = value.strip()
        if not PACKAGE_RE.fullmatch(fields.get("Package", "")):
            continue
        for entry in fields.get("Checksums-Sha256", "").splitlines():
            parts = entry.split()
            if len(parts) == 3 and (match := ORIG_RE.fullmatch(parts[2])):
                found.append(
                    SourcePackage(
                        package=fields["Package"],
                        debian_version=fields["Version"],
                        version=match.group(1),
                        suite=suite,
                        orig_file=parts[2],
                        orig_sha256=parts[0],
                    )
                )
    return found


def discover() -> list[SourcePackage]:
    """Every CPython release the deb-src suites announce, newest first, one per version."""
    by_version: dict[str, SourcePackage] = {}
    for index, suite in source_index_files():
        text = subprocess.run(
            ["/usr/lib/apt/apt-helper", "cat-file", str(index)],
            capture_output=True,
            text=True,
            env=APT_ENV,
            check=True,
        ).stdout
        for pkg in parse_sources_index(text, suite):
            by_version.setdefault(pkg.version, pkg)
    return sorted(by_version.values(), key=lambda p: version_key(p.version), reverse=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(pkg: SourcePackage, dest_dir: Path = SOURCES_DIR) -> Path | None:
    """The orig tarball of `pkg` in `dest_dir`, or None if the mirror does not serve it."""
    target = dest_dir / pkg.orig_file
    if target.exists() and sha256_file(target) == pkg.orig_sha256:
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".download-") as tmp:
        os.chmod(tmp, 0o755)  # noqa: PTH101 - apt's _apt user must be able to write here
        result = subprocess.run(
            ["apt-get", "source", "--download-only", "-qq", f"{pkg.package}={pkg.debian_version}"],
            cwd=tmp,
            capture_output=True,
            text=True,
            env=APT_ENV,
        )
        fetched = Path(tmp) / pkg.orig_file
        if result.returncode != 0 or not fetched.exists():
            return None
        if sha256_file(fetched) != pkg.orig_sha256:
            raise SourcesUnavailable(f"{pkg.orig_file} does not match the sha256 of its index")
        shutil.move(fetched, target)
    return target


def select(available: Iterable[SourcePackage], minors: Sequence[str]) -> list[SourcePackage]:
    """Candidates in the order to try: per minor the newest, then the oldest other release.

    Two patch releases of one minor let tests change the patch version of a cached runtime.
    """
    chosen = []
    for minor in minors:
        versions = sorted(
            (p for p in available if p.minor == minor), key=lambda p: version_key(p.version)
        )
        chosen += list(reversed(versions))
    return chosen


def fetch_sources(minors: Sequence[str], *, refresh: bool = False) -> list[CachedSource]:
    """Download, per minor in `minors`, the newest and the oldest release the mirror serves.

    The result is remembered in `available.json`, so later runs need neither apt nor network.
    """
    if not refresh and AVAILABLE_FILE.exists():
        cached = load_available()
        if all(s.tarball.exists() for s in cached):
            return cached
    ensure_deb_src()
    packages = discover()
    result: list[CachedSource] = []
    for minor in minors:
        candidates = select(packages, [minor])
        newest = _first_downloadable(candidates)
        if newest is None:
            continue
        result.append(newest)
        oldest = _first_downloadable(
            [
                p
                for p in reversed(candidates)
                if version_key(p.version) < version_key(newest.version)
            ]
        )
        if oldest is not None:
            result.append(oldest)
    if not result:
        raise SourcesUnavailable(
            "no CPython source package could be downloaded for " + ", ".join(minors)
        )
    save_available(result)
    return result


def _first_downloadable(candidates: Sequence[SourcePackage]) -> CachedSource | None:
    for pkg in candidates:
        path = download(pkg)
        if path is not None:
            return CachedSource(
                pkg.version, pkg.package, pkg.debian_version, pkg.suite, path, pkg.orig_sha256
            )
    return None


def save_available(sources: Sequence[CachedSource]) -> None:
    data = [asdict(s) | {"tarball": str(s.tarball)} for s in sources]
    AVAILABLE_FILE.parent.mkdir(parents=True, exist_ok=True)
    AVAILABLE_FILE.write_text(json.dumps(data, indent=2) + "\n")


def load_available() -> list[CachedSource]:
    data = json.loads(AVAILABLE_FILE.read_text())
    return [CachedSource(**(item | {"tarball": Path(item["tarball"])})) for item in data]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.cpython_sources")
    parser.add_argument("--minors", default="3.10,3.11,3.12,3.13,3.14")
    parser.add_argument("--refresh", action="store_true", help="ask apt again")
    parser.add_argument("--list", action="store_true", help="only list announced versions")
    args = parser.parse_args(argv)
    if args.list:
        ensure_deb_src()
        for pkg in discover():
            print(f"{pkg.version:10} {pkg.suite:10} {pkg.package}={pkg.debian_version}")
        return 0
    try:
        sources = fetch_sources(args.minors.split(","), refresh=args.refresh)
    except SourcesUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for s in sources:
        print(f"{s.version:10} {s.suite:10} {s.tarball}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
