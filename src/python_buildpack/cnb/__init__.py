"""The CNB buildpack contract (Buildpack API 0.12), independent of what the buildpack builds.

Spec: https://github.com/buildpacks/spec/blob/buildpack/0.12/buildpack.md

What 0.11 and 0.12 change for a buildpack (0.11 only concerns image extensions and drops the
long-deprecated plan `requires.version`): 0.12 adds execution environments. `CNB_EXEC_ENV` is
set at detect and build (unset means `production`); `buildpack.toml` may list the environments
the buildpack supports, processes (`launch.toml`) and order groups may be limited to some.

Modules:
- `context`: `DetectContext` / `BuildContext` from the CNB_* environment (imports no pydantic,
  so `bin/detect` stays fast).
- `target`: `Target`, the run image the lifecycle builds for (`CNB_TARGET_*`).
- `models`: pydantic models of every TOML file of the contract.
- `toml_io`: reading and atomically writing those files.
- `env`: layer environment files (scope x behaviour) and how the lifecycle applies them.
- `layers`: cached / uncached layers that keep or discard their contents with reasons.

The errors live here so that every module can raise them without importing the others. They are
deliberately not `python_buildpack.errors.UserError`s: this package knows nothing of the
buildpack around it; the caller decides how to present them.
"""

from __future__ import annotations

from pathlib import Path

BUILDPACK_API = "0.12"


class CnbError(Exception):
    """The lifecycle or a contract file did not give what the Buildpack API promises."""


class CnbEnvError(CnbError):
    """A variable the lifecycle must set is missing or empty."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


class CnbFileError(CnbError):
    """A contract file is missing, is not TOML, or does not match its schema.

    `reason` is readable on its own and may span several lines, one per problem
    (e.g. "processes[0].command: Field required").
    """

    def __init__(self, path: Path, reason: str, *, what: str | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.what = what or self.path.name
        super().__init__(f"{self.what} ({self.path}):\n{_indent(reason)}")


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


__all__ = ["BUILDPACK_API", "CnbEnvError", "CnbError", "CnbFileError"]
