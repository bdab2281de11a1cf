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

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class Distribution:
    name: str  # canonical
    version: Version
    requires: tuple[str, ...]


def check(venv: Path, python_version: str) -> list[str]:
    """pip check's complaints about the distributions in `venv` (empty when consistent), for a
    venv whose interpreter is CPython `python_version` (e.g. "3.13.15")."""
    environment = {key: str(value) for key, value in default_environment().items()}
    minor = ".".join(python_version.split(".")[:2])
    environment.update(
        python_version=minor,
        python_full_version=python_version,
        implementation_version=python_version,
        implementation_name="cpython",
        platform_python_implementation="CPython",
        extra="",
    )
    installed: dict[str, Distribution] = {}
    for dist in _distributions(venv):
        installed.setdefault(dist.name, dist)

    missing: list[str] = []
    conflicting: list[str] = []
    for name in sorted(installed):
        dist = installed[name]
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
            found = installed.get(dependency)
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


def _distributions(venv: Path) -> Iterator[Distribution]:
    for site in sorted(venv.glob("lib/python3.*/site-packages")):
        for dist_info in sorted(site.glob("*.dist-info")):
            parsed = _read_metadata(dist_info / "METADATA")
            if parsed is not None:
                yield parsed


def _read_metadata(path: Path) -> Distribution | None:
    """Name, Version and Requires-Dist from the header block of a core metadata file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            break  # the body (the long description) follows the first blank line
        if line[0] in " \t" and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
        elif ":" in line:
            key, _, value = line.partition(":")
            fields.append((key.strip().lower(), value.strip()))
    values = dict(fields)
    try:
        version = Version(values.get("version", ""))
    except InvalidVersion:
        return None
    if not values.get("name"):
        return None
    requires = tuple(value for key, value in fields if key == "requires-dist")
    return Distribution(canonicalize_name(values["name"]), version, requires)
