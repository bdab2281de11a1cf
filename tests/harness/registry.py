"""A real OCI registry on 127.0.0.1 for the image tests: go-containerregistry's
`crane registry serve`, plus the `crane` CLI to look inside it.

    with Registry.start(state_dir) as registry:
        registry.host                      # "127.0.0.1:PORT" (a free port the kernel chose)
        registry.ref("tests/app:1")        # "127.0.0.1:PORT/tests/app:1"
        registry.digest(ref)               # "sha256:…" of the manifest, None if absent
        registry.crane("config", ref)      # any crane command against it

`ensure_crane()` builds the pinned release once per machine into
`~/.cache/python-buildpack/crane/<version>/crane` with `tests/harness/go_tools.py`, like pack.

The registry keeps blobs on disk under `state_dir` (`--disk`), so big layers do not sit in the
memory of a shared machine, and listens on `127.0.0.1:0`: the port is read back from its log
("serving on port N"), so parallel sessions never race for one.

Plain HTTP on loopback: go-containerregistry (pack, the lifecycle, crane) talks plain HTTP to
`127.0.0.1:PORT` by itself; podman and skopeo need the registry listed as `insecure` in a
registries.conf (`PodmanService.start(..., insecure_registries=[registry.host])`).

    python -m tests.harness.registry          # build crane
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.go_tools import GoTool, ensure_go_tool

CRANE_MODULE = "github.com/google/go-containerregistry"
CRANE_VERSION = "0.22.1"
START_TIMEOUT = 30.0
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SERVING = re.compile(r"serving on port (\d+)")


class RegistryError(Exception):
    """The registry did not start, or a crane command failed."""


def ensure_crane(version: str = CRANE_VERSION) -> Path:
    """The pinned crane binary, built on first use (~1 min cold)."""
    return ensure_go_tool(
        GoTool("crane", CRANE_MODULE, version, "./cmd/crane", "cmd/crane/cmd.Version")
    )


@dataclass
class Registry:
    crane_binary: Path
    state_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ref(self, name: str) -> str:
        return f"{self.host}/{name}"

    @classmethod
    @contextlib.contextmanager
    def start(cls, state_dir: Path, crane: Path | None = None) -> Iterator[Registry]:
        """Serve a registry on a free loopback port, its blobs under `state_dir`; stop it and
        remove its storage at exit."""
        # crane's disk blob handler writes into the directory; it does not make it
        (state_dir / "blobs").mkdir(parents=True, exist_ok=True)
        registry = cls(crane or ensure_crane(), state_dir)
        log_path = state_dir / "registry.log"
        with log_path.open("wb") as log:
            registry.process = subprocess.Popen(
                [
                    str(registry.crane_binary),
                    "registry",
                    "serve",
                    "--address",
                    "127.0.0.1:0",
                    "--disk",
                    str(state_dir / "blobs"),
                ],
                env={"PATH": CLEAN_PATH, "HOME": str(state_dir)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                registry._wait_ready(log_path)
                yield registry
            finally:
                registry._stop()
                shutil.rmtree(state_dir / "blobs", ignore_errors=True)

    def _wait_ready(self, log_path: Path) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            if self.process.poll() is not None:
                raise RegistryError(f"crane registry serve exited:\n{text[-4000:]}")
            found = _SERVING.search(text)
            if found:
                self.port = int(found.group(1))
                if self._answers():
                    return
            time.sleep(0.1)
        raise RegistryError(f"the registry did not answer in {START_TIMEOUT:.0f} s")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def _stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def crane(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`crane ARGS` with a clean env (no host Docker config, so anonymous access)."""
        with tempfile.TemporaryDirectory() as home:
            proc = subprocess.run(
                [str(self.crane_binary), *args],
                env={"PATH": CLEAN_PATH, "HOME": home},
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        if check and proc.returncode != 0:
            raise RegistryError(
                f"`crane {' '.join(args)}` failed with exit code {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}"
            )
        return proc

    def digest(self, ref: str) -> str | None:
        proc = self.crane("digest", ref, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def config(self, ref: str) -> Any:
        """The image's config blob (`rootfs.diff_ids`, `config.Labels`, …)."""
        return json.loads(self.crane("config", ref).stdout)

    def manifest(self, ref: str) -> Any:
        return json.loads(self.crane("manifest", ref).stdout)

    def labels(self, ref: str) -> dict[str, str]:
        return dict(self.config(ref).get("config", {}).get("Labels") or {})

    def layer_digests(self, ref: str) -> list[str]:
        return [str(layer["digest"]) for layer in self.manifest(ref).get("layers", [])]


if __name__ == "__main__":
    print(ensure_crane())
