"""The pinned versions of the packaging tools the buildpack installs.

They live in `requirements/<tool>.txt` in the buildpack (a format that Dependabot and Renovate
keep current), with hashes, so the exact wheel is verified when it is installed.
"""

from __future__ import annotations

import re
from pathlib import Path

PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>[A-Za-z0-9_.+!-]+)\b")


def requirements_file(buildpack_dir: Path, tool: str) -> Path:
    return buildpack_dir / "requirements" / f"{tool}.txt"


def pinned_version(buildpack_dir: Path, tool: str) -> str:
    """The version `requirements/<tool>.txt` pins for `tool` (a packaging error if none)."""
    path = requirements_file(buildpack_dir, tool)
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match and match["name"].lower() == tool:
            return match["version"]
    raise RuntimeError(f"{path} does not pin {tool} with '{tool}==<version>'")
