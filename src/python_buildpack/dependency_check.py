"""`pip check`, in-process: do the installed distributions of a venv satisfy each other?

Running `pip --python <venv> check` cost about half a second (pip starts, then starts again under
the venv's python). The check itself is small: read every `*.dist-info/METADATA` of the venv,
evaluate each `Requires-Dist` marker for the venv's Python (not the buildpack's own) with no
extra selected, and compare the installed version against the specifier, prereleases allowed.
The lines found read exactly like pip's (`tests/contract` compares both on the same venvs):

    bp-test-conflict 1.0.0 has requirement bp-test-alpha<1.1, but you have bp-test-alpha 1.1.0.
    flask 3.1.3 requires click, which is not installed.

Not covered (pip checks them, they cannot come from the installers the buildpack runs):
`.egg-info` distributions (legacy `setup.py develop`) and wheel tags unsupported on the platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .dist_info import InstalledDistribution, marker_environment


@dataclass(frozen=True)
class Distribution:
    name: str  # canonical
    version: Version
    requires: tuple[str, ...]


def check(installed: Sequence[InstalledDistribution], python_version: str) -> list[str]:
    """pip check's complaints about the `installed` distributions of a venv (empty when
    consistent), whose interpreter is CPython `python_version` (e.g. "3.13.15")."""
    environment = {**marker_environment(python_version), "extra": ""}
    distributions: dict[str, Distribution] = {}
    for each in installed:
        try:
            version = Version(each.version)
        except InvalidVersion:
            continue  # pip skips a distribution whose version it cannot read
        distributions[each.name] = Distribution(each.name, version, each.requires)

    missing: list[str] = []
    conflicting: list[str] = []
    for name in sorted(distributions):
        dist = distributions[name]
        missing_here: set[str] = set()
        conflicting_here: set[tuple[str, str, str]] = set()
        for text in dist.requires:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue  # pip skips (and warns about) what it cannot parse
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            dependency = canonicalize_name(requirement.name)
            found = distributions.get(dependency)
            if found is None:
                missing_here.add(dependency)
            elif not requirement.specifier.contains(found.version, prereleases=True):
                conflicting_here.add((dependency, str(found.version), str(requirement)))
        missing += [
            f"{name} {dist.version} requires {dep}, which is not installed."
            for dep in sorted(missing_here)
        ]
        conflicting += [
            f"{name} {dist.version} has requirement {req}, but you have {dep} {version}."
            for dep, version, req in sorted(conflicting_here)
        ]
    return missing + conflicting
