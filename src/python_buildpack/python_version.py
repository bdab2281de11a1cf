"""Which Python the app asks for, and which release of the manifest that means.

Sources, first match wins: `BP_PYTHON_VERSION` (platform env), `.python-version`, `runtime.txt`
(deprecated), `[project] requires-python` in `pyproject.toml`, `_meta.requires` in
`Pipfile.lock`, then the buildpack default (the newest supported minor).

Reading (`read_requested_version`) only parses; resolving (`resolve_version`) needs the manifest,
the build's target and today's date, and is where end-of-life and availability are decided: the
manifest's dates per minor (see `distributions.Support`) say whether a build warns, passes in a
grace period with a warning, or fails. Both are pure apart from reading the app's files, so
tests pass any date.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .distributions import (
    OLDEST_SUPPORTED_MINOR,
    ArchivePlatform,
    Manifest,
    MinorEntry,
    Release,
    Support,
    format_minor,
)
from .errors import (
    NoPythonForTarget,
    PythonVersionEmpty,
    PythonVersionEol,
    PythonVersionFreethreaded,
    PythonVersionImplementation,
    PythonVersionInvalid,
    PythonVersionInvisibleCharacters,
    PythonVersionMultiple,
    PythonVersionNotAvailable,
    PythonVersionPrerelease,
    PythonVersionSystem,
    PythonVersionUnknown,
    RequiresPythonInvalid,
    RequiresPythonNotString,
    RequiresPythonUnsatisfiable,
    RuntimeTxtInvalid,
)

if TYPE_CHECKING:
    from .app_snapshot import AppSnapshot

VERSION_ENV = "BP_PYTHON_VERSION"


class VersionOrigin(Enum):
    PLATFORM_ENV = "BP_PYTHON_VERSION"
    PYTHON_VERSION_FILE = ".python-version"
    RUNTIME_TXT = "runtime.txt"
    REQUIRES_PYTHON = "requires-python in pyproject.toml"
    PIPFILE_LOCK = "Pipfile.lock"
    DEFAULT = "buildpack default"

    @property
    def display(self) -> str:
        return self.value


@dataclass(frozen=True)
class Notice:
    """A warning for the build log: a one-line title and an explanation with the fix."""

    title: str
    body: str


@dataclass(frozen=True)
class RequestedVersion:
    """What the app asked for: either a version (major, minor[, patch]) or a specifier."""

    origin: VersionOrigin
    raw: str
    major: int | None = None
    minor: int | None = None
    patch: int | None = None
    specifier: str | None = None
    warnings: list[Notice] = field(default_factory=list)

    @property
    def display(self) -> str:
        if self.specifier is not None:
            return self.specifier
        version = f"{self.major}.{self.minor}"
        return version if self.patch is None else f"{version}.{self.patch}"


@dataclass(frozen=True)
class ResolvedPython:
    version: str
    release: Release
    requested_display: str
    origin: VersionOrigin
    notices: list[Notice] = field(default_factory=list)
    # One-line notes for the log: a newer patch or minor exists, or how to pin the version.
    hints: list[str] = field(default_factory=list)
    # The end-of-life warning while the minor is in its grace period, for the end of the log too.
    grace: Notice | None = None

    @property
    def summary(self) -> str:
        """E.g. `Python 3.13.5 (3.13 requested in .python-version)`."""
        if self.origin is VersionOrigin.DEFAULT:
            return f"Python {self.version} (no version requested, using the default)"
        return (
            f"Python {self.version} ({self.requested_display} requested in {self.origin.display})"
        )


# --- parsing ----------------------------------------------------------------------------------

_VERSION_RE = re.compile(r"^([0-9]+)\.([0-9]+)(?:\.([0-9]+))?$")
_FREETHREADED_RE = re.compile(r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?t$", re.IGNORECASE)
_PRERELEASE_RE = re.compile(
    r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?[-.]?(?:a|b|c|rc|alpha|beta|pre|preview|dev)[0-9]*t?$",
    re.IGNORECASE,
)
_IMPLEMENTATIONS = (
    "pypy",
    "graalpy",
    "jython",
    "ironpython",
    "micropython",
    "stackless",
    "pyston",
    "anaconda",
    "miniconda",
    "miniforge",
    "mambaforge",
)
_EMBEDDED_VERSION_RE = re.compile(r"3\.[0-9]+(?:\.[0-9]+)?")
_RUNTIME_TXT_RE = re.compile(r"^python-([0-9]+)\.([0-9]+)(?:\.([0-9]+))?$")
# Only ASCII blanks are trimmed: any other invisible character is reported, not silently eaten.
_TRIM = " \t\r\n"


def make_visible(text: str) -> str:
    """Show every character outside printable ASCII as `<U+XXXX>`."""
    return "".join(c if " " <= c <= "~" else f"<U+{ord(c):04X}>" for c in text)


def _has_invisible(text: str) -> bool:
    return any(
        c != " " and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")
        for c in text
    )


def parse_version(text: str, source: str) -> tuple[int, int, int | None]:
    """Parse one `X.Y` or `X.Y.Z` version, with a specific error for each common mistake."""
    if _has_invisible(text):
        raise PythonVersionInvisibleCharacters(source, make_visible(text))
    match = _VERSION_RE.match(text)
    if match:
        major, minor, patch = match.groups()
        return int(major), int(minor), None if patch is None else int(patch)
    lowered = text.lower()
    if lowered == "system":
        raise PythonVersionSystem(source)
    if lowered.startswith(_IMPLEMENTATIONS):
        raise PythonVersionImplementation(source, make_visible(text))
    if _FREETHREADED_RE.match(text):
        raise PythonVersionFreethreaded(source, text)
    if _PRERELEASE_RE.match(text):
        raise PythonVersionPrerelease(source, text)
    embedded = _EMBEDDED_VERSION_RE.search(text)
    suggestion = None
    if embedded and not re.fullmatch(r"[0-9.]+", text):
        suggestion = embedded.group(0)
    raise PythonVersionInvalid(source, make_visible(text), suggestion)


def parse_python_version_file(
    content: str, source: str = ".python-version"
) -> tuple[str, tuple[int, int, int | None]]:
    """The one version in a `.python-version` file, as (text, parsed).

    Comments (from `#` to the end of the line) and blank lines are ignored; a line may hold
    several whitespace-separated versions (pyenv's format), which counts as more than one.
    """
    lines = [line.split("#", 1)[0].strip(_TRIM) for line in content.split("\n")]
    version_lines = [line for line in lines if line]
    for line in version_lines:
        if _has_invisible(line):
            raise PythonVersionInvisibleCharacters(source, make_visible(line))
    tokens = [token for line in version_lines for token in re.split(r"[ \t]+", line)]
    if not tokens:
        raise PythonVersionEmpty(source)
    if len(tokens) > 1:
        raise PythonVersionMultiple(source, [make_visible(t) for t in tokens])
    return tokens[0], parse_version(tokens[0], source)


def parse_runtime_txt(content: str) -> tuple[str, tuple[int, int, int | None]]:
    lines = [line.strip(_TRIM) for line in content.split("\n")]
    lines = [line for line in lines if line]
    for line in lines:
        if _has_invisible(line):
            raise PythonVersionInvisibleCharacters(
                "runtime.txt", make_visible(line), example="python-3.13"
            )
    match = _RUNTIME_TXT_RE.match(lines[0]) if len(lines) == 1 else None
    if not match:
        raise RuntimeTxtInvalid(" ".join(lines))
    major, minor, patch = match.groups()
    return lines[0], (int(major), int(minor), None if patch is None else int(patch))


# --- reading the sources ----------------------------------------------------------------------


def _requested(
    origin: VersionOrigin, raw: str, parsed: tuple[int, int, int | None], warnings: list[Notice]
) -> RequestedVersion:
    major, minor, patch = parsed
    return RequestedVersion(origin, raw, major, minor, patch, warnings=warnings)


def read_requested_version(
    app: AppSnapshot, platform_env: Mapping[str, str]
) -> RequestedVersion | None:
    """The version the app asks for, or None to use the default. Files are read through the
    snapshot, and only as far as the first source that answers."""
    app_dir = app.app_dir
    runtime_txt_ignored = (
        [
            Notice(
                "runtime.txt is ignored",
                "The app has both runtime.txt and a newer way of choosing the Python version, "
                "which wins. Delete runtime.txt to avoid confusion.",
            )
        ]
        if (app_dir / "runtime.txt").is_file()
        else []
    )

    env_value = platform_env.get(VERSION_ENV, "").strip(_TRIM)
    if env_value:
        tokens = re.split(r"[ \t]+", env_value)
        if len(tokens) > 1:
            raise PythonVersionMultiple(VERSION_ENV, [make_visible(t) for t in tokens])
        parsed = parse_version(env_value, VERSION_ENV)
        return _requested(VersionOrigin.PLATFORM_ENV, env_value, parsed, runtime_txt_ignored)

    content = app.text(".python-version")
    if content is not None:
        raw, parsed = parse_python_version_file(content)
        return _requested(VersionOrigin.PYTHON_VERSION_FILE, raw, parsed, runtime_txt_ignored)

    content = app.text("runtime.txt")
    if content is not None:
        raw, parsed = parse_runtime_txt(content)
        version = ".".join(str(p) for p in parsed[:2])
        deprecation = Notice(
            "runtime.txt is deprecated",
            f"The Python version was read from runtime.txt ({raw}). Support for runtime.txt will "
            "be removed in a future version of this buildpack.\n"
            f"Delete runtime.txt and create a file named .python-version containing {version}.",
        )
        return _requested(VersionOrigin.RUNTIME_TXT, raw, parsed, [deprecation])

    specifier = _read_requires_python(app)
    if specifier is not None:
        return RequestedVersion(VersionOrigin.REQUIRES_PYTHON, specifier, specifier=specifier)

    pipfile_version = _read_pipfile_lock_version(app)
    if pipfile_version is not None:
        parsed = parse_version(pipfile_version, "Pipfile.lock")
        return _requested(VersionOrigin.PIPFILE_LOCK, pipfile_version, parsed, [])
    return None


def _read_requires_python(app: AppSnapshot) -> str | None:
    project = app.pyproject.get("project")
    if not isinstance(project, dict) or "requires-python" not in project:
        return None
    value = project["requires-python"]
    if not isinstance(value, str):
        raise RequiresPythonNotString(value)
    value = value.strip()
    if not value:
        return None
    try:
        SpecifierSet(value)
    except InvalidSpecifier as e:
        raise RequiresPythonInvalid(value, str(e).rstrip(".")) from e
    return value


def _read_pipfile_lock_version(app: AppSnapshot) -> str | None:
    data = app.json("Pipfile.lock")
    requires = data.get("_meta", {}).get("requires", {}) if isinstance(data, dict) else {}
    if not isinstance(requires, dict):
        return None
    # The full version, when Pipfile pins one, is the more precise request.
    for key in ("python_full_version", "python_version"):
        value = requires.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


# --- resolution -------------------------------------------------------------------------------


def _supported_display(
    manifest: Manifest, supported: Sequence[MinorEntry], target: ArchivePlatform, today: date
) -> list[str]:
    shown = []
    for entry in supported:
        newest = manifest.newest_patch(entry.minor, target)
        details = [newest.version] if newest else []
        if entry.support(today) is Support.GRACE:
            details.append(f"end of life, builds stop on {entry.builds_stop.isoformat()}")
        shown.append(f"{entry.version} ({'; '.join(details)})" if details else entry.version)
    return shown


def _how_to_ask_for(origin: VersionOrigin, version: str) -> str:
    """The end of a sentence telling the user how to ask for `version` where they asked before."""
    if origin is VersionOrigin.PLATFORM_ENV:
        return f"set {VERSION_ENV}={version}"
    if origin is VersionOrigin.RUNTIME_TXT:
        return f"replace runtime.txt with a .python-version file containing {version}"
    if origin is VersionOrigin.REQUIRES_PYTHON:
        return (
            f"let requires-python in pyproject.toml allow {version} (or write {version} in a "
            ".python-version file)"
        )
    if origin is VersionOrigin.PIPFILE_LOCK:
        return f'set python_version = "{version}" in the Pipfile and run `pipenv lock`'
    return f"write {version} in {origin.display}"


def _end_of_life_notice(
    entry: MinorEntry, support: Support, origin: VersionOrigin, newest: str | None
) -> Notice | None:
    if support not in (Support.ENDING, Support.GRACE):
        return None
    python = f"Python {entry.version}"
    eol, stop = entry.eol.isoformat(), entry.builds_stop.isoformat()
    last = entry.last_build_day.isoformat()
    target = newest if newest and newest != entry.version else None
    fix = (
        f"Upgrade the app to Python {target} and {_how_to_ask_for(origin, target)}."
        if target
        else f"Upgrade the app to a newer Python and ask for it in {origin.display}."
    )
    if support is Support.ENDING:
        return Notice(
            f"{python} reaches its end of life on {eol}",
            f"After {eol} {python} gets no more security fixes. Builds asking for it keep "
            f"working in a grace period until {last}, and fail from {stop}.\n{fix}",
        )
    return Notice(
        f"{python} reached its end of life on {eol}: builds asking for it fail from {stop}",
        f"{python} no longer gets security fixes. Builds asking for it still pass during a "
        f"grace period, which ends on {last}; from {stop} on they fail.\n{fix}",
    )


def _version_hints(
    requested: RequestedVersion,
    release: Release,
    newest_patch: Release,
    newest_supported: MinorEntry | None,
    eol_notice: Notice | None,
) -> list[str]:
    hints = []
    minor = format_minor(release.minor)
    if requested.patch is not None and newest_patch.parsed_version > release.parsed_version:
        hints.append(
            f"Note: Python {newest_patch.version} is the newest {minor} release (with bug and "
            f"security fixes); ask for {minor} to get each new {minor} release automatically."
        )
    # An end-of-life warning already names the newer version: say it once.
    if eol_notice is None and newest_supported and newest_supported.minor > release.minor:
        hints.append(
            f"Note: Python {newest_supported.version} is the newest version this buildpack "
            f"supports; this app asks for {minor}."
        )
    return hints


def _default_hint(minor: str) -> str:
    return (
        "Note: the app asks for no Python version, so it gets the default, which moves to each "
        f"new Python release. Add a .python-version file containing {minor} to choose when to "
        "upgrade."
    )


def resolve_version(
    requested: RequestedVersion | None,
    manifest: Manifest,
    target_os: str,
    target_arch: str,
    today: date,
    *,
    target_libc: str = "gnu",
) -> ResolvedPython:
    target = ArchivePlatform(target_os, target_arch, target_libc)
    if not manifest.releases_for(target):
        raise NoPythonForTarget(str(target))
    supported = manifest.supported_minors(target, today)
    newest_supported = supported[-1] if supported else None
    newest_version = newest_supported.version if newest_supported else None
    shown = _supported_display(manifest, supported, target, today)

    if requested is None:
        if newest_supported is None:
            raise NoPythonForTarget(str(target))
        release = manifest.newest_patch(newest_supported.minor, target)
        assert release is not None  # supported minors have a stable release
        return ResolvedPython(
            release.version,
            release,
            newest_supported.version,
            VersionOrigin.DEFAULT,
            hints=[_default_hint(newest_supported.version)],
        )

    notices = list(requested.warnings)
    origin = requested.origin

    if requested.specifier is not None:
        spec = SpecifierSet(requested.specifier)
        supported_minors = {entry.minor for entry in supported}
        candidates = [
            r
            for r in manifest.releases_for(target)
            if not r.is_prerelease and r.minor in supported_minors
        ]
        release = next((r for r in candidates if spec.contains(r.version)), None)
        if release is None:
            raise RequiresPythonUnsatisfiable(requested.specifier, shown)
        entry = manifest.minor_entry(release.minor)
        newest_patch = release  # a specifier already picks the newest release it allows
    else:
        assert requested.major is not None and requested.minor is not None
        minor = (requested.major, requested.minor)
        display = requested.display
        entry = manifest.minor_entry(minor)
        if minor < OLDEST_SUPPORTED_MINOR or (
            entry is not None and not entry.support(today).builds
        ):
            raise PythonVersionEol(
                display,
                origin.display,
                entry.eol.isoformat() if entry else None,
                shown,
                newest_version,
                builds_stopped=entry.builds_stop.isoformat() if entry else None,
            )

        newest_stable = manifest.newest_patch(minor, target)
        if newest_stable is None:
            newest_known = newest_supported.minor if newest_supported else None
            if newest_known is None or minor > newest_known:
                raise PythonVersionUnknown(display, origin.display, shown)
            raise PythonVersionNotAvailable(display, origin.display, str(target), shown)

        if requested.patch is None:
            release = newest_stable
        else:
            exact = manifest.find_release(display, target)
            if exact is None:
                same_minor = [
                    r.version
                    for r in manifest.releases_for(target)
                    if r.minor == minor and not r.is_prerelease
                ]
                raise PythonVersionNotAvailable(display, origin.display, str(target), same_minor)
            release = exact
        newest_patch = newest_stable

    assert entry is not None  # releases always have a [[minors]] entry in a loaded manifest
    support = entry.support(today)
    eol_notice = _end_of_life_notice(entry, support, origin, newest_version)
    if eol_notice is not None:
        notices.append(eol_notice)
    hints = _version_hints(requested, release, newest_patch, newest_supported, eol_notice)
    return ResolvedPython(
        release.version,
        release,
        requested.display,
        origin,
        notices,
        hints,
        grace=eol_notice if support is Support.GRACE else None,
    )


__all__ = [
    "VERSION_ENV",
    "Notice",
    "RequestedVersion",
    "ResolvedPython",
    "VersionOrigin",
    "make_visible",
    "parse_python_version_file",
    "parse_runtime_txt",
    "parse_version",
    "read_requested_version",
    "resolve_version",
]
