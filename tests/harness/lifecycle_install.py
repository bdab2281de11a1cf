"""Install the official CNB lifecycle (github.com/buildpacks/lifecycle) from the Go module proxy.

`ensure_lifecycle()` builds `cmd/lifecycle` and `cmd/launcher` of the pinned release once per
machine into `~/.cache/python-buildpack/lifecycle/<version>/` and adds the phase links
(`analyzer`, `detector`, ... → `lifecycle`: the lifecycle picks its phase from argv[0]).

Why not plain `go install …@vX`: that form asks the proxy for the module's version list (to
look for a deprecation notice) and this machine's proxy answers 403 for that list, so the
module is downloaded with `go mod download` and `go install ./cmd/...` runs inside it: the same
release sources with the release's own go.mod/go.sum, plus the version ldflags the upstream
Makefile sets.

Why 0.21.14 and not a newer tag: v0.21.15 and v0.21.17 need kaniko v1.28.2/v1.28.3 and v0.21.16
itself, which this proxy refuses (403); v0.21.14 is the newest release that builds from it.
Its supported APIs (from `api/apis.go`): Platform 0.7–0.15, Buildpack 0.7–0.12.

    python -m tests.harness.lifecycle_install
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .cache import CACHE_ROOT, fill_once

LIFECYCLE_MODULE = "github.com/buildpacks/lifecycle"
LIFECYCLE_VERSION = "0.21.14"
# The newest Platform API this lifecycle supports; the harness runs every phase with it.
PLATFORM_API = "0.15"
SUPPORTED_BUILDPACK_APIS = ("0.7", "0.8", "0.9", "0.10", "0.11", "0.12")
PHASES = ("analyzer", "detector", "restorer", "builder", "exporter", "creator", "rebaser")


class LifecycleInstallError(Exception):
    """The Go toolchain could not build the pinned lifecycle."""


@dataclass(frozen=True)
class LifecycleBinaries:
    version: str
    directory: Path

    @property
    def lifecycle(self) -> Path:
        return self.directory / "lifecycle"

    @property
    def launcher(self) -> Path:
        return self.directory / "launcher"

    def phase(self, name: str) -> Path:
        return self.directory / name


def _go() -> str:
    found = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if found is None:
        raise LifecycleInstallError(
            "`go` is not installed: it is needed to build the CNB lifecycle"
        )
    return found


def _go_env() -> dict[str, str]:
    # Host settings matter here (GOPATH, GOPROXY, GOCACHE): this is a tool install, not a build.
    env = dict(os.environ)
    env.update({"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"})
    return env


def _run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str]) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LifecycleInstallError(
            f"`{' '.join(argv)}` failed with exit code {proc.returncode}:\n"
            f"{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def _build(version: str, dest: Path) -> None:
    go, env = _go(), _go_env()
    module_dir = _run([go, "mod", "download", "-json", f"{LIFECYCLE_MODULE}@v{version}"], env=env)
    source = Path(json.loads(module_dir)["Dir"])
    ldflags = " ".join(
        [
            "-s -w",
            f"-X '{LIFECYCLE_MODULE}/cmd.Version={version}'",
            f"-X '{LIFECYCLE_MODULE}/cmd.SCMRepository={LIFECYCLE_MODULE}'",
        ]
    )
    _run(
        [go, "install", "-trimpath", "-ldflags", ldflags, "./cmd/lifecycle", "./cmd/launcher"],
        cwd=source,
        env={**env, "GOBIN": str(dest)},
    )
    for phase in PHASES:
        (dest / phase).symlink_to("lifecycle")
    reported = _run([str(dest / "lifecycle"), "-version"], env={"PATH": "/usr/bin:/bin"}).strip()
    if reported != version:
        raise LifecycleInstallError(
            f"the built lifecycle reports version {reported!r}, not {version}"
        )


def ensure_lifecycle(version: str = LIFECYCLE_VERSION) -> LifecycleBinaries:
    """The pinned lifecycle's binaries, built on first use (~75 s cold, instant when cached)."""
    root = CACHE_ROOT / "lifecycle"
    final = root / version
    binaries = LifecycleBinaries(version, final)
    fill_once(
        final,
        root / f".{version}.lock",
        lambda staging: _build(version, staging),
        ready=lambda: binaries.launcher.is_file() and binaries.lifecycle.is_file(),
    )
    return binaries


if __name__ == "__main__":
    print(ensure_lifecycle().directory)
