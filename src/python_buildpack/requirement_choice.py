"""`BP_PIP_REQUIREMENT`: the requirements files pip installs instead of `requirements.txt`.

One or more paths relative to the app, separated by commas or spaces (e.g.
`requirements/prod.txt,requirements/extra.txt`), installed together as `pip install -r a -r b`.
Setting it makes the app a pip app whatever other package manager files it has. Each path is
checked in `decide()`: it must stay inside the app and be a regular file; otherwise the error
lists the requirements files the app does have.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from .errors import PipRequirementFileInvalid, PipRequirementWithOtherManager
from .package_managers import PACKAGE_MANAGER_ENV, PackageManager, Tool
from .settings import text

VARIABLE = "BP_PIP_REQUIREMENT"


def candidates(app_dir: Path) -> list[str]:
    """Files that look like requirements files: `*req*.txt` at the root and in `requirements/`
    (or `requirements*/`) directories, as paths relative to the app."""
    found: set[str] = set()
    for pattern in ("*req*.txt", "requirements*/*.txt"):
        for path in app_dir.glob(pattern):
            if path.is_file() and not path.is_symlink():
                found.add(path.relative_to(app_dir).as_posix())
    return sorted(found)


def requirement_files(settings: Mapping[str, str], app_dir: Path) -> tuple[str, ...]:
    raw = text(settings, VARIABLE)
    if raw is None:
        return ()
    names = list(dict.fromkeys(n for n in raw.replace(",", " ").split() if n))
    app = app_dir.resolve()
    for name in names:
        path = PurePosixPath(name)
        problem = None
        if path.is_absolute() or ".." in path.parts:
            problem = f"'{name}' is not a path inside the app."
        else:
            target = (app_dir / name).resolve()
            if not target.is_relative_to(app):
                problem = f"'{name}' leads outside the app."
            elif not target.is_file():
                problem = f"the app has no file '{name}'."
        if problem:
            raise PipRequirementFileInvalid(raw, problem, candidates(app_dir))
    return tuple(names)


def pip_requirements_manager(files: tuple[str, ...], settings: Mapping[str, str]) -> PackageManager:
    requested = (text(settings, PACKAGE_MANAGER_ENV) or "pip").lower()
    if requested != Tool.PIP.value:
        raise PipRequirementWithOtherManager(requested)
    return PackageManager(Tool.PIP, ", ".join(files))
