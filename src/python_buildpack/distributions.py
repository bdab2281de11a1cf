"""The manifest of CPython archives, and where to fetch an archive from.

`python-versions.toml` (shipped at the root of the buildpack) lists the supported minors with
the dates of their end-of-life policy, and one `[[releases]]` entry per version and platform with
the archive's URL and sha256. Everything else about choosing a version lives in
`python_version.py`.

The policy of a minor is three dates, so that no app breaks without months of notice:
`warn_from` (builds asking for it start warning), `eol` (upstream's end of life; the last day of
full support) and `builds_stop` (the first day builds asking for it fail). Between `eol` and
`builds_stop` is a grace period: the build passes with a warning naming both dates.

Where an archive is fetched from, in order:
1. A `dependency-mapping` service binding: a binding directory whose `type` file says
   `dependency-mapping`, holding files named by an archive's sha256 (`<hex>`, `sha256:<hex>` or
   `sha256_<hex>`) whose content is the URL to use instead (`https://`, `http://` or `file://`).
   Bindings live in `$SERVICE_BINDING_ROOT`, else `$CNB_BINDINGS`, else `<platform>/bindings`.
2. `BP_PYTHON_MIRROR` (platform env): the archive URL becomes
   `<mirror without trailing slash>/<file name of the manifest URL>`, e.g. with
   `BP_PYTHON_MIRROR=https://mirror.internal/python/` the archive
   `https://github.com/.../cpython-3.13.5%2B20250612-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz`
   is fetched from `https://mirror.internal/python/cpython-3.13.5%2B20250612-...tar.gz`.
   A `file://` mirror is a local directory holding the archives under their file names.
3. The manifest URL.
The sha256 from the manifest is verified whatever the source, so a mirror or mapping can move an
archive but never change it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import unquote, urlsplit

from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import (
    InvalidDependencyMapping,
    InvalidManifest,
    ManifestNotToml,
    ManifestUnreadable,
    MirrorUrlInvalid,
)
from .toml_compat import tomllib

# Older minors are end-of-life whatever a manifest says.
OLDEST_SUPPORTED_MINOR = (3, 10)

_MINOR_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_RELEASE_RE = re.compile(
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)((a|b|rc)[1-9][0-9]*)?$"
)
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Go's GOARCH names, as CNB targets use them; catches `x86_64`/`aarch64` slips.
_KNOWN_ARCHES = frozenset({"amd64", "arm64", "386", "arm", "ppc64le", "s390x", "riscv64"})
_URL_SCHEMES = ("https", "http", "file")

Minor = tuple[int, int]


def parse_minor(text: str) -> Minor:
    major, minor = text.split(".")
    return int(major), int(minor)


def format_minor(minor: Minor) -> str:
    return f"{minor[0]}.{minor[1]}"


class ArchivePlatform(NamedTuple):
    """The system a CPython archive runs on: a manifest release is built for exactly one.

    Not the CNB target (`cnb.context.Target`, the run image): that one has no libc, and the
    build maps it onto an archive platform when it picks a release.
    """

    os: str
    arch: str
    libc: str = "gnu"

    def __str__(self) -> str:
        return f"{self.os}/{self.arch} ({self.libc} libc)"


class Support(Enum):
    """Where a minor is in its end-of-life policy on a given day."""

    SUPPORTED = "supported"
    # From `warn_from` to `eol` (inclusive): builds pass with a warning.
    ENDING = "ending"
    # After `eol`, before `builds_stop`: builds pass with a warning naming when they stop.
    GRACE = "grace"
    # From `builds_stop` on (and always for minors older than the oldest supported): an error.
    ENDED = "ended"

    @property
    def builds(self) -> bool:
        return self is not Support.ENDED


class MinorEntry(BaseModel):
    # defer_build (here and below): built on first validation, not at every import.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    version: str
    warn_from: date
    eol: date
    builds_stop: date

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if not _MINOR_RE.match(value):
            raise ValueError(f"must look like 3.13 (major.minor), got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_dates(self) -> MinorEntry:
        if not self.warn_from <= self.eol < self.builds_stop:
            raise ValueError(
                "dates must be in the order warn_from <= eol < builds_stop, got "
                f"warn_from = {self.warn_from}, eol = {self.eol}, builds_stop = {self.builds_stop}"
            )
        return self

    @property
    def minor(self) -> Minor:
        return parse_minor(self.version)

    @property
    def last_build_day(self) -> date:
        return self.builds_stop - timedelta(days=1)

    def support(self, today: date) -> Support:
        if self.minor < OLDEST_SUPPORTED_MINOR or today >= self.builds_stop:
            return Support.ENDED
        if today > self.eol:
            return Support.GRACE
        if today >= self.warn_from:
            return Support.ENDING
        return Support.SUPPORTED


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    version: str
    os: str
    arch: str
    libc: Literal["gnu", "musl"]
    url: str
    sha256: str
    # Unpacking stops beyond this many bytes of files (absent: download's generous default).
    max_unpacked_bytes: int | None = Field(default=None, gt=0)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if not _RELEASE_RE.match(value):
            raise ValueError(f"must look like 3.13.5 (or 3.14.0rc1), got {value!r}")
        return value

    @field_validator("os")
    @classmethod
    def _check_os(cls, value: str) -> str:
        if value != "linux":
            raise ValueError(f"must be 'linux', got {value!r}")
        return value

    @field_validator("arch")
    @classmethod
    def _check_arch(cls, value: str) -> str:
        if value not in _KNOWN_ARCHES:
            raise ValueError(
                f"must be a CNB/Go architecture name such as amd64 or arm64, got {value!r}"
            )
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in _URL_SCHEMES or not parts.path.strip("/"):
            raise ValueError(f"must be an https://, http:// or file:// URL, got {value!r}")
        return value

    @field_validator("sha256")
    @classmethod
    def _check_sha256(cls, value: str) -> str:
        if not _SHA256_RE.match(value.lower()):
            raise ValueError(f"must be 64 hexadecimal characters, got {value!r}")
        return value.lower()

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    @property
    def minor(self) -> Minor:
        v = self.parsed_version
        return v.major, v.minor

    @property
    def is_prerelease(self) -> bool:
        return self.parsed_version.is_prerelease

    @property
    def platform(self) -> ArchivePlatform:
        return ArchivePlatform(self.os, self.arch, self.libc)

    @property
    def filename(self) -> str:
        """The last path segment of the URL, still percent-encoded as in the URL."""
        return urlsplit(self.url).path.rstrip("/").rsplit("/", 1)[-1]


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    minors: list[MinorEntry]
    releases: list[Release]

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise ManifestUnreadable(str(path), str(e)) from e
        except tomllib.TOMLDecodeError as e:
            raise ManifestNotToml(str(path), str(e)) from e
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: Mapping[str, Any], source: str = "<manifest>") -> Manifest:
        try:
            manifest = cls.model_validate(data)
        except ValidationError as e:
            raise InvalidManifest(source, _describe_errors(e, data)) from e
        problems = manifest.consistency_problems()
        if problems:
            raise InvalidManifest(source, problems)
        return manifest

    def consistency_problems(self) -> list[str]:
        problems: list[str] = []
        seen_minors: set[str] = set()
        for entry in self.minors:
            if entry.version in seen_minors:
                problems.append(f"[[minors]] lists {entry.version} more than once")
            seen_minors.add(entry.version)
        known = {entry.minor for entry in self.minors}
        seen: set[tuple[str, ArchivePlatform]] = set()
        for release in self.releases:
            if release.minor not in known:
                problems.append(
                    f"release {release.version} has no [[minors]] entry for "
                    f"{format_minor(release.minor)} (add one with its policy dates)"
                )
            key = (release.version, release.platform)
            if key in seen:
                problems.append(
                    f"release {release.version} for {release.platform} is listed more than once"
                )
            seen.add(key)
        return problems

    # --- queries ------------------------------------------------------------------------------

    def minor_entry(self, minor: Minor) -> MinorEntry | None:
        return next((entry for entry in self.minors if entry.minor == minor), None)

    def releases_for(self, platform: ArchivePlatform) -> list[Release]:
        """The releases for a platform, newest first."""
        matching = [r for r in self.releases if r.platform == platform]
        return sorted(matching, key=lambda r: r.parsed_version, reverse=True)

    def find_release(self, version: str, platform: ArchivePlatform) -> Release | None:
        return next((r for r in self.releases_for(platform) if r.version == version), None)

    def newest_patch(self, minor: Minor, platform: ArchivePlatform) -> Release | None:
        """The newest stable release of a minor for a platform."""
        return next(
            (r for r in self.releases_for(platform) if r.minor == minor and not r.is_prerelease),
            None,
        )

    def supported_minors(self, platform: ArchivePlatform, today: date) -> list[MinorEntry]:
        """Minors that still build (grace period included) with a stable release for the platform,
        oldest first."""
        available = {r.minor for r in self.releases_for(platform) if not r.is_prerelease}
        entries = [e for e in self.minors if e.minor in available and e.support(today).builds]
        return sorted(entries, key=lambda e: e.minor)

    def default_minor(self, platform: ArchivePlatform, today: date) -> MinorEntry | None:
        supported = self.supported_minors(platform, today)
        return supported[-1] if supported else None

    def newest_minor(self) -> Minor | None:
        """The newest minor the manifest knows at all, whatever its releases or dates."""
        minors = [e.minor for e in self.minors] + [r.minor for r in self.releases]
        return max(minors) if minors else None


def _describe_errors(error: ValidationError, data: Mapping[str, Any]) -> list[str]:
    """One line per problem, naming the entry by its version so it can be found in the file."""
    problems = []
    for item in error.errors():
        loc = item["loc"]
        message = item["msg"].removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] in ("minors", "releases") and isinstance(loc[1], int):
            table, index = str(loc[0]), loc[1]
            entries = data.get(table)
            entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
            label = f"[[{table}]] #{index + 1}"
            if isinstance(entry, Mapping) and isinstance(entry.get("version"), str):
                label += f" (version {entry['version']})"
            field = ".".join(str(part) for part in loc[2:])
            problems.append(f"{label}: {field + ': ' if field else ''}{message}")
        elif loc:
            problems.append(f"{'.'.join(str(p) for p in loc)}: {message}")
        else:
            problems.append(message)
    return problems


# --- mirrors and dependency mappings ----------------------------------------------------------

MIRROR_ENV = "BP_PYTHON_MIRROR"
MAPPING_BINDING_TYPE = "dependency-mapping"


@dataclass(frozen=True)
class DownloadSource:
    url: str
    via: Literal["manifest", "mirror", "binding", "bundled"]


def mirror_from_env(platform_env: Mapping[str, str]) -> str | None:
    """`BP_PYTHON_MIRROR` if set, checked to be a URL a mirror can be."""
    value = platform_env.get(MIRROR_ENV, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in _URL_SCHEMES or (parts.scheme != "file" and not parts.netloc):
        raise MirrorUrlInvalid(MIRROR_ENV, value)
    return value


def bindings_root(platform_dir: Path, environ: Mapping[str, str]) -> Path:
    for name in ("SERVICE_BINDING_ROOT", "CNB_BINDINGS"):
        if environ.get(name):
            return Path(environ[name])
    return platform_dir / "bindings"


def read_dependency_mappings(platform_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """sha256 (lower-case hex) -> replacement URL, from every `dependency-mapping` binding.

    Bindings are read in name order and the first mapping of a checksum wins, so the result does
    not depend on directory listing order.
    """
    root = bindings_root(platform_dir, environ)
    mappings: dict[str, str] = {}
    try:
        bindings = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return mappings
    for binding in bindings:
        entries_dir = _mapping_entries_dir(binding)
        if entries_dir is None:
            continue
        for entry in sorted(entries_dir.iterdir()):
            sha = _checksum_key(entry.name)
            if sha is None or sha in mappings or not entry.is_file():
                continue
            try:
                url = entry.read_text(encoding="utf-8").strip()
            except UnicodeDecodeError:
                url = "<not UTF-8 text>"
            if urlsplit(url).scheme not in _URL_SCHEMES:
                raise InvalidDependencyMapping(str(entry), url)
            mappings[sha] = url
    return mappings


def _mapping_entries_dir(binding: Path) -> Path | None:
    """The directory of a binding's entries, if it is a dependency mapping.

    The service binding spec puts the type in `<binding>/type`; the older CNB binding layout put
    it in `<binding>/metadata/kind`, with the entries in `metadata/` too.
    """
    for type_file, entries in (
        (binding / "type", binding),
        (binding / "metadata" / "kind", binding / "metadata"),
    ):
        try:
            kind = type_file.read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        return entries if kind == MAPPING_BINDING_TYPE else None
    return None


def _checksum_key(name: str) -> str | None:
    # `:` is not allowed in Kubernetes secret keys, hence the `sha256_` spelling.
    for prefix in ("sha256:", "sha256_", ""):
        if name.startswith(prefix):
            hex_part = name[len(prefix) :].lower()
            if _SHA256_RE.match(hex_part):
                return hex_part
    return None


# --- archives bundled in an offline package ---------------------------------------------------

BUNDLE_DIR = "dependencies"


def bundled_path(buildpack_dir: Path, release: Release) -> Path:
    """Where an offline package (`tools/package.py --offline`) keeps a release's archive:
    `dependencies/<sha256>/<file name>`. Keyed by checksum, like a dependency mapping, so two
    releases can never share a file and a stale file under the right name cannot be mistaken
    for another release's."""
    return buildpack_dir / BUNDLE_DIR / release.sha256 / unquote(release.filename)


def archive_url(
    release: Release,
    mirror: str | None,
    mappings: Mapping[str, str],
    buildpack_dir: Path | None = None,
) -> DownloadSource:
    """Where the archive of `release` comes from. An archive bundled in the buildpack comes
    first: it has the very bytes any other source would serve (the sha256 is checked when it is
    copied, as for a download) and needs no network, which is the point of an offline package."""
    if buildpack_dir is not None:
        bundled = bundled_path(buildpack_dir, release)
        if bundled.is_file():
            return DownloadSource(bundled.absolute().as_uri(), "bundled")
    mapped = mappings.get(release.sha256)
    if mapped:
        return DownloadSource(mapped, "binding")
    if mirror:
        return DownloadSource(f"{mirror.rstrip('/')}/{release.filename}", "mirror")
    return DownloadSource(release.url, "manifest")
