"""One read of the app: every app file the build uses, read once and parsed once.

`config.decide()` makes the snapshot, reads through it everything the build will need (the
version files, the Procfile, the package manager's files, requirements and their includes), and
seals it; `BuildConfig.app` carries it to the layers, the installers and the launch processes,
which only read it. So:

- Every file is read through `appfiles` (regular files inside the app, size caps, UTF-8 without
  NUL), once: the bytes a digest covers are the bytes the facts were parsed from, and the bytes
  Poetry, uv or Pipenv read later when they run (a change in between fails their own checks).
- One error policy: a file that cannot be read or parsed is a `UserError` naming the file and
  the fix (`errors.py`, "app files"), raised while `decide()` runs, before any layer.
- A file is parsed only when something asks for it, from the bytes read once: a pip app's
  `uv.lock` is never read, and uv's or Poetry's lock file is parsed only after the tool has
  installed from it (for its local sources), never on a rebuild that reuses the venv.
- Once sealed, asking for a file `decide()` did not read is a bug in the buildpack (a
  `RuntimeError`), never a silent read of the disk after layers exist.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .appfiles import Kind, decode_text, read_app_bytes
from .detect import PYTHON_APP_FILES
from .errors import AppFileNotJson, AppFileNotToml

if TYPE_CHECKING:
    from .pep621 import Project

# The kind (size cap) of each file the build reads by name; requirements files are REQUIREMENTS.
KINDS = {
    ".python-version": Kind.VERSION,
    "runtime.txt": Kind.VERSION,
    "Procfile": Kind.PROCFILE,
    "pyproject.toml": Kind.PROJECT,
    "uv.toml": Kind.PROJECT,
    "poetry.toml": Kind.PROJECT,
    "Pipfile": Kind.PROJECT,
    "uv.lock": Kind.LOCK,
    "poetry.lock": Kind.LOCK,
    "Pipfile.lock": Kind.LOCK,
}
PYPROJECT = "pyproject.toml"
_MARKERS = frozenset(PYTHON_APP_FILES)
# Tables of pyproject.toml that declare console scripts: PEP 621's and Poetry's own.
SCRIPT_TABLES = (
    ("[tool.poetry.scripts]", ("tool", "poetry", "scripts")),
    ("[project.scripts]", ("project", "scripts")),
)


def _key(name: str | Path) -> str:
    return os.path.normpath(str(name))


@dataclass(eq=False)
class AppSnapshot:
    app_dir: Path
    # The files that mark the app as a Python app (`detect.python_app_files`), in its order.
    names: tuple[str, ...] = ()
    _bytes: dict[str, bytes | None] = field(default_factory=dict, repr=False)
    _text: dict[str, str] = field(default_factory=dict, repr=False)
    _parsed: dict[str, Any] = field(default_factory=dict, repr=False)
    _sealed: bool = field(default=False, repr=False)

    def seal(self) -> AppSnapshot:
        """From now on, only what was read is known; the disk is not read again."""
        self._sealed = True
        return self

    def read_bytes(self, name: str | Path, kind: Kind | None = None) -> bytes | None:
        """The bytes of an app file (relative to the app dir), or None when it does not exist.

        A directory named like a file detection looks for (`detect.PYTHON_APP_FILES`) is absent,
        as detection sees it; at any other path (the Procfile, a requirements include) it is an
        error."""
        key = _key(name)
        if key not in self._bytes:
            if self._sealed:
                raise RuntimeError(f"{key} was not read while the build was deciding")
            self._bytes[key] = read_app_bytes(
                self.app_dir,
                key,
                kind or KINDS.get(key, Kind.REQUIREMENTS),
                directory_is_absent=key in _MARKERS,
            )
        return self._bytes[key]

    def has(self, name: str | Path) -> bool:
        return self.read_bytes(name) is not None

    def text(self, name: str | Path, kind: Kind | None = None) -> str | None:
        """The file as UTF-8 text without NUL bytes, or None when it does not exist."""
        key = _key(name)
        if key not in self._text:
            data = self.read_bytes(key, kind)
            if data is None:
                return None
            self._text[key] = decode_text(data, key)
        return self._text[key]

    def toml(self, name: str) -> dict[str, Any] | None:
        """The parsed TOML file, or None when it does not exist."""
        from .toml_compat import tomllib

        parsed: dict[str, Any] | None = self._parse(
            name, tomllib.loads, tomllib.TOMLDecodeError, AppFileNotToml
        )
        return parsed

    def json(self, name: str) -> Any:
        """The parsed JSON file, or None when it does not exist."""
        import json

        return self._parse(name, json.loads, json.JSONDecodeError, AppFileNotJson)

    def _parse(
        self,
        name: str,
        loads: Callable[[str], Any],
        invalid: type[ValueError],
        error: type[AppFileNotToml | AppFileNotJson],
    ) -> Any:
        if name not in self._parsed:
            content = self.text(name)
            if content is None:
                return None
            try:
                self._parsed[name] = loads(content)
            except invalid as problem:
                raise error(name, str(problem)) from None
        return self._parsed[name]

    @property
    def pyproject(self) -> dict[str, Any]:
        """`pyproject.toml` ({} when the app has none)."""
        return self.toml(PYPROJECT) or {}

    @property
    def project(self) -> Project:
        """`pyproject.toml`'s PEP 621 facts, checked (the app must have one)."""
        if "project facts" not in self._parsed:
            from .pep621 import read_project

            self._parsed["project facts"] = read_project(self)
        project: Project = self._parsed["project facts"]
        return project

    @property
    def project_scripts(self) -> dict[str, str]:
        """The console scripts `pyproject.toml` declares (PEP 621, or Poetry's own table), each
        with the table it is in."""
        found: dict[str, str] = {}
        for name, keys in SCRIPT_TABLES:
            found.update((str(script), name) for script in table(self.pyproject, *keys))
        return found


def table(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    """`data[k1][k2]...` when each step is a table, else {}: a parsed TOML file's optional
    table, where a malformed one is for its tool to report."""
    for key in keys:
        value = data.get(key)
        data = value if isinstance(value, dict) else {}
    return data
