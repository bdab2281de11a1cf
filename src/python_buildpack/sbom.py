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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from . import __version__
from .dist_info import InstalledDistribution, MetadataHeaders, marker_environment

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


def sbom_distribution(installed: InstalledDistribution) -> Distribution:
    headers = installed.headers
    return Distribution(
        name=installed.name,
        version=installed.version,
        summary=_one_line(headers.get("Summary")),
        licenses=declared_licenses(headers),
        requires=installed.requires,
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


def venv_sbom(installed: Sequence[InstalledDistribution], python_version: str) -> bytes:
    distributions = [sbom_distribution(d) for d in installed]
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
    "public_url",
    "python_sbom",
    "venv_sbom",
]
