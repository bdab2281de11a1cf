"""What a venv holds: its installed distributions, read from their `*.dist-info/METADATA`.

The one reader for everything that looks into an installed venv: the dependency check
(`dependency_check`, pip check's rules), the SBOM (`sbom`), and the names the venv layer
records and judges reuse by. Each reads the header fields it needs from the same parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.utils import canonicalize_name

# A header line of an email-style block: a field name (printable ASCII but ':') and a colon, or
# a continuation (leading whitespace). The first other line ends the block, as for email.parser.
_HEADER_LINE = re.compile(r"From |[\x21-\x39\x3b-\x7e]*:|[ \t]")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|\Z)")


class MetadataHeaders:
    """The header fields of a core metadata file as `email.parser.HeaderParser` (compat32)
    gives them: a folded value keeps its line breaks, names match in any case. Read here
    because every build, warm or not, writes the venv's SBOM: the `email` package and its
    parser of the whole file (long description included) cost more than the rest of it."""

    def __init__(self, text: str) -> None:
        self._fields: list[tuple[str, list[str]]] = []
        for match in _LINE.finditer(text):
            line = match.group()
            if not line or not _HEADER_LINE.match(line):
                break  # a blank line (or any other) starts the body
            if line.startswith("From "):
                continue  # an mbox envelope line, which email.parser skips too
            if line[0] in " \t":
                if self._fields:
                    self._fields[-1][1].append(line)
            elif not line.startswith(":"):
                name, value = line.split(":", 1)
                self._fields.append((name.lower(), [value.lstrip(" \t")]))

    def get_all(self, name: str) -> list[str] | None:
        found = [
            "".join(lines).rstrip("\r\n") for key, lines in self._fields if key == name.lower()
        ]
        return found or None

    def get(self, name: str) -> str | None:
        found = self.get_all(name)
        return found[0] if found else None


@dataclass(frozen=True)
class InstalledDistribution:
    name: str  # canonical
    version: str
    headers: MetadataHeaders

    @property
    def requires(self) -> tuple[str, ...]:
        """Its Requires-Dist lines, unparsed (most name what is not installed)."""
        return tuple(self.headers.get_all("Requires-Dist") or ())


def site_packages_dirs(venv: Path) -> list[Path]:
    return sorted(venv.glob("lib/python3.*/site-packages"))


def read_venv(venv: Path) -> list[InstalledDistribution]:
    return read_installed(site_packages_dirs(venv))


def read_installed(site_packages: Iterable[Path]) -> list[InstalledDistribution]:
    """Every `*.dist-info` of the given site-packages directories with a name and a version,
    sorted by canonical name; the first of a name wins, as on `sys.path`."""
    found: dict[str, InstalledDistribution] = {}
    for site in site_packages:
        for info in sorted(site.glob("*.dist-info")):
            distribution = read_dist_info(info)
            if distribution is not None:
                found.setdefault(distribution.name, distribution)
    return sorted(found.values(), key=lambda d: d.name)


def read_dist_info(info: Path) -> InstalledDistribution | None:
    try:
        text = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    headers = MetadataHeaders(text)
    name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        return None
    return InstalledDistribution(canonicalize_name(name), version, headers)


def marker_environment(python_version: str) -> dict[str, str]:
    """Marker values of the venv's Python, CPython `python_version` (e.g. "3.13.15"): the
    buildpack runs on another one, on the same OS."""
    minor = ".".join(python_version.split(".")[:2])
    environment: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    environment.update(
        python_version=minor,
        python_full_version=python_version,
        implementation_name="cpython",
        implementation_version=python_version,
        platform_python_implementation="CPython",
    )
    return environment
