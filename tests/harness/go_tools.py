"""Go command-line tools the image tests need (pack, crane), built once per machine from a
pinned module version.

`go install …@v` is not an option here: the Go proxy answers 403 for version lists, so the
module is fetched with `go mod download` of the exact version and built inside it, with the
version ldflag of the tool's own Makefile. Each tool lands in
`~/.cache/python-buildpack/<name>/<version>/<name>`; a build goes to a staging directory renamed
into place, so a half-built tool is never found.

    binary = ensure_go_tool(GoTool("crane", "github.com/google/go-containerregistry", "0.22.1",
                                   package="./cmd/crane", version_variable="cmd/crane/cmd.Version"))
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.harness.cache import CACHE_ROOT, fill_once
from tests.harness.lifecycle_install import _go, _go_env, _run


class GoToolError(Exception):
    """A pinned Go tool could not be fetched or built, or is not the version asked for."""


@dataclass(frozen=True)
class GoTool:
    name: str  # the binary, and its cache directory under ~/.cache/python-buildpack/
    module: str
    version: str  # without the leading "v"
    package: str  # what `go build` builds, relative to the module root
    version_variable: str  # set to `version` by -ldflags -X, relative to the module path

    @property
    def cached(self) -> Path:
        return CACHE_ROOT / self.name / self.version / self.name


def ensure_go_tool(tool: GoTool) -> Path:
    """The tool's binary, built on first use; `<binary> version` must print `tool.version`."""
    binary = tool.cached
    fill_once(
        binary.parent,
        binary.parent.parent / f".{tool.version}.lock",
        lambda staging: _build(tool, staging / tool.name),
        ready=binary.is_file,
    )
    return binary


def _build(tool: GoTool, output: Path) -> None:
    go, env = _go(), _go_env()
    module = json.loads(
        _run([go, "mod", "download", "-json", f"{tool.module}@v{tool.version}"], env=env)
    )
    if "Error" in module:
        raise GoToolError(
            f"the Go proxy does not serve {tool.module}@v{tool.version}: {module['Error']}"
        )
    ldflags = f"-s -w -X '{tool.module}/{tool.version_variable}={tool.version}'"
    _run(
        [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(output), tool.package],
        cwd=Path(module["Dir"]),
        env=env,
    )
    # A throwaway HOME: pack writes its config there (~/.pack) on any command.
    with tempfile.TemporaryDirectory() as home:
        reported = _run([str(output), "version"], env={"PATH": "/usr/bin:/bin", "HOME": home})
    if reported.strip() != tool.version:
        raise GoToolError(
            f"the built {tool.name} reports version {reported.strip()!r}, not {tool.version}"
        )
