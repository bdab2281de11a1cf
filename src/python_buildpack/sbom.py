"""CycloneDX SBOMs of the launch layers: what is in the image, read from what was installed.

- the `python` layer: one CPython component, with its version, the archive's sha256 and where
  the archive came from (without credentials or query);
- the `venv` layer: one component per `*.dist-info` in the venv's site-packages (name, version,
  `pkg:pypi` purl, the license the package declares, its summary), and the dependency graph
  from each package's `Requires-Dist`, limited to what is installed. It describes the venv as
  it is, so it is as right for a bare `requirements.txt` as for a lock file.

Documents are deterministic (no timestamp, no random serial number, sorted), so an unchanged layer
gives an unchanged SBOM, and the lifecycle reuses the image's SBOM layer.

Requires-Dist markers are evaluated for the venv's Python. An entry that needs an extra
(`extra == "standard"`) is kept when its package is installed, whichever extra asked for it: the
buildpack does not know which extras the app requested, and an installed dependency of an
extra is there because of it or of another edge in the graph.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from packaging.markers import (
    InvalidMarker,
    Marker,
    UndefinedComparison,
    UndefinedEnvironmentName,
    default_environment,
)
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from . import __version__

SPEC_VERSION = "1.6"
EXTENSION = "cdx.json"
MEDIA_TYPE = "application/vnd.cyclonedx+json"
CPYTHON_LICENSE = "PSF-2.0"
# A free-text License field longer than this is the license's full text, not its name.
MAX_LICENSE_NAME = 100


def document(components: list[dict[str, Any]], dependencies: list[dict[str, Any]]) -> bytes:
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "tools": {
                "components": [
                    {"type": "application", "name": "python-buildpack", "version": __version__}
                ]
            }
        },
        "components": sorted(components, key=lambda c: str(c["bom-ref"])),
        "dependencies": sorted(dependencies, key=lambda d: str(d["ref"])),
    }
    return (json.dumps(bom, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# --- the python layer --------------------------------------------------------------------------


def python_sbom(version: str, sha256: str, url: str) -> bytes:
    ref = f"pkg:generic/cpython@{quote(version, safe='')}"
    component: dict[str, Any] = {
        "type": "application",
        "bom-ref": ref,
        "name": "CPython",
        "version": version,
        "purl": ref,
        "hashes": [{"alg": "SHA-256", "content": sha256}],
        "licenses": [{"license": {"id": CPYTHON_LICENSE}}],
    }
    public = public_url(url)
    if public:
        component["externalReferences"] = [{"type": "distribution", "url": public}]
    return document([component], [{"ref": ref, "dependsOn": []}])


def public_url(url: str) -> str | None:
    """`url` without user, password, query or fragment: a mirror's credentials stay out."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# --- the venv layer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    name: str  # canonical
    version: str
    summary: str | None
    licenses: list[dict[str, Any]]
    requires: tuple[str, ...]  # the Requires-Dist lines, parsed by `dependency_graph`
    extras: tuple[str, ...]

    @property
    def purl(self) -> str:
        return f"pkg:pypi/{self.name}@{quote(self.version, safe='')}"


def installed(site_packages: Iterable[Path]) -> list[Distribution]:
    """Every `*.dist-info` of the given site-packages directories, by canonical name."""
    found: dict[str, Distribution] = {}
    for site in site_packages:
        for info in sorted(site.glob("*.dist-info")):
            distribution = read_dist_info(info)
            if distribution is not None:
                found.setdefault(distribution.name, distribution)
    return sorted(found.values(), key=lambda d: d.name)


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


def read_dist_info(info: Path) -> Distribution | None:
    try:
        text = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    headers = MetadataHeaders(text)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    return Distribution(
        name=canonicalize_name(name),
        version=version.strip(),
        summary=_one_line(headers.get("Summary")),
        licenses=declared_licenses(headers),
        requires=tuple(headers.get_all("Requires-Dist") or ()),
        extras=tuple(canonicalize_name(e) for e in headers.get_all("Provides-Extra") or []),
    )


def declared_licenses(headers: MetadataHeaders) -> list[dict[str, Any]]:
    """The license the package declares: its SPDX License-Expression (metadata 2.4), else a
    short License field, else its `License ::` classifiers; nothing when it declares none."""
    expression = _one_line(headers.get("License-Expression"))
    if expression:
        return [{"expression": expression}]
    text = _one_line(headers.get("License"))
    if text and len(text) <= MAX_LICENSE_NAME and text.upper() != "UNKNOWN":
        return [{"license": {"name": text}}]
    names = [
        classifier.split("::")[-1].strip()
        for classifier in headers.get_all("Classifier") or []
        if classifier.startswith("License ::") and classifier.count("::") >= 2
    ]
    return [{"license": {"name": name}} for name in dict.fromkeys(names)]


def _one_line(value: str | None) -> str | None:
    if value is None or "\n" in value.strip():
        return None
    return value.strip() or None


# The name a requirement line starts with, as packaging's parser reads it (PEP 508).
_REQUIREMENT_NAME = re.compile(r"\s*([a-zA-Z0-9](?:[a-zA-Z0-9._-]*[a-zA-Z0-9])?)")


def _requirements(lines: Iterable[str], names: set[str]) -> Iterable[Requirement]:
    """The lines that parse and name one of `names`. Only those are parsed: most lines of a
    venv name what is not installed (test and docs extras), and a warm rebuild writes the SBOM
    too, where parsing them all was a tenth of its own time."""
    for line in lines:
        match = _REQUIREMENT_NAME.match(line)
        if match is None or canonicalize_name(match.group(1)) not in names:
            continue
        try:
            yield Requirement(line)
        except InvalidRequirement:
            continue


def dependency_graph(
    distributions: list[Distribution], environment: Mapping[str, str]
) -> dict[str, list[str]]:
    """Canonical name -> the installed distributions its Requires-Dist names (see module doc)."""
    names = {d.name for d in distributions}
    graph: dict[str, list[str]] = {}
    for distribution in distributions:
        edges: set[str] = set()
        for requirement in _requirements(distribution.requires, names):
            target = canonicalize_name(requirement.name)
            if (
                target in names
                and target != distribution.name
                and _applies(requirement.marker, distribution.extras, environment)
            ):
                edges.add(target)
        graph[distribution.name] = sorted(edges)
    return graph


def _applies(
    marker: Marker | None, extras: tuple[str, ...], environment: Mapping[str, str]
) -> bool:
    if marker is None:
        return True
    for extra in ("", *extras):
        try:
            if marker.evaluate({**environment, "extra": extra}):
                return True
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            return False
    return False


def marker_environment(python_version: str) -> dict[str, str]:
    """Marker values of the venv's Python (the buildpack runs on another one, on the same OS)."""
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


def venv_sbom(site_packages: Iterable[Path], python_version: str) -> bytes:
    distributions = installed(site_packages)
    graph = dependency_graph(distributions, marker_environment(python_version))
    by_name = {d.name: d for d in distributions}
    components = []
    for distribution in distributions:
        component: dict[str, Any] = {
            "type": "library",
            "bom-ref": distribution.purl,
            "name": distribution.name,
            "version": distribution.version,
            "purl": distribution.purl,
        }
        if distribution.summary:
            component["description"] = distribution.summary
        if distribution.licenses:
            component["licenses"] = distribution.licenses
        components.append(component)
    dependencies = [
        {"ref": by_name[name].purl, "dependsOn": [by_name[t].purl for t in targets]}
        for name, targets in graph.items()
    ]
    return document(components, dependencies)


__all__ = [
    "EXTENSION",
    "MEDIA_TYPE",
    "Distribution",
    "declared_licenses",
    "dependency_graph",
    "installed",
    "marker_environment",
    "public_url",
    "python_sbom",
    "venv_sbom",
]
