"""A private podman engine for the image tests, with the Docker-compatible API that `pack` and
`docker-compose` talk to.

    with PodmanService.start(state_dir) as podman:
        podman.docker_host        # "unix:///<state_dir>/podman.sock", for DOCKER_HOST
        podman.env                # the env for pack/docker-compose/podman/skopeo: this engine only
        podman.podman("images")   # the podman CLI on the same storage
        podman.image_exists(ref)
        podman.copy_oci_layout(layout, "bookworm", "localhost/x/y:tag")

Everything lives under `state_dir` (storage, run root, CNI network configs, temp files, the
socket), configured through files of its own (`CONTAINERS_CONF`, `CONTAINERS_STORAGE_CONF`), so
the host's podman setup is neither read nor touched and a run leaves nothing behind.

Why these settings (podman 4.3 as root on Debian 12):
- `runtime = "runc"`: Debian's podman defaults to crun when installed; runc is what works here.
- `default_ulimits`: podman asks runc for RLIMIT_NOFILE/NPROC of 1048576 by default, above this
  machine's hard limits, and runc fails with "error setting rlimit type 6: operation not
  permitted". The podman service itself caps its RLIMIT_NPROC at pid_max (32768 here), so the
  limits are derived from the smallest of these, halved.
- `cgroup_manager = "cgroupfs"`, `events_logger = "file"`: there is no systemd to talk to.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_START_TIMEOUT = 30.0
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class PodmanError(Exception):
    """The podman engine could not be started or a podman command failed."""


def _limit(kind: int, fallback: int) -> int:
    _, hard = resource.getrlimit(kind)
    return fallback if hard == resource.RLIM_INFINITY else int(hard)


def container_ulimits() -> dict[str, int]:
    """Limits below every cap on the way to runc (host hard limits, the service's own cap)."""
    try:
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        pid_max = 32768
    nofile = _limit(resource.RLIMIT_NOFILE, 1048576)
    nproc = min(_limit(resource.RLIMIT_NPROC, pid_max), pid_max)
    return {"nofile": max(1024, nofile // 2), "nproc": max(1024, nproc // 2)}


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(state_dir: Path) -> tuple[Path, Path]:
    """containers.conf and storage.conf of an engine living in `state_dir`."""
    for name in ("storage", "run", "tmp", "cni", "volumes"):
        (state_dir / name).mkdir(parents=True, exist_ok=True)
    limits = ", ".join(
        _toml_string(f"{name}={value}:{value}") for name, value in container_ulimits().items()
    )
    containers_conf = state_dir / "containers.conf"
    containers_conf.write_text(
        "[containers]\n"
        f"default_ulimits = [{limits}]\n"
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f"events_logfile_path = {_toml_string(str(state_dir / 'events.log'))}\n"
        f"tmp_dir = {_toml_string(str(state_dir / 'tmp'))}\n"
        f"volume_path = {_toml_string(str(state_dir / 'volumes'))}\n"
        "[network]\n"
        f"network_config_dir = {_toml_string(str(state_dir / 'cni'))}\n",
        encoding="utf-8",
    )
    storage_conf = state_dir / "storage.conf"
    storage_conf.write_text(
        "[storage]\n"
        'driver = "overlay"\n'
        f"graphroot = {_toml_string(str(state_dir / 'storage'))}\n"
        f"runroot = {_toml_string(str(state_dir / 'run'))}\n",
        encoding="utf-8",
    )
    return containers_conf, storage_conf


def write_registries_conf(state_dir: Path, insecure: Sequence[str]) -> Path:
    """containers-registries.conf(5) of the engine: no search list (every name the tests use is
    qualified or Docker Hub style, and nothing may reach out to a real registry), and the
    given loopback registries over plain HTTP."""
    path = state_dir / "registries.conf"
    path.write_text(
        "unqualified-search-registries = []\n"
        + "".join(
            f"\n[[registry]]\nlocation = {_toml_string(host)}\ninsecure = true\n"
            for host in insecure
        ),
        encoding="utf-8",
    )
    return path


def cli_ref(ref: str) -> str:
    """The name podman's own CLI and storage know an image by, for a name given to the Docker
    API. Docker's rule: a first component without '.' or ':' (and not `localhost`) is a Docker
    Hub repository. Podman 4.3's API stores images it receives (`docker load`, what pack uses)
    under `docker.io/` even for `localhost/...` names, so the tests use Hub-style names
    (`python-buildpack-tests/app:1`) for every image, which both sides then agree on."""
    first, _, rest = ref.partition("/")
    if not rest:
        return f"docker.io/library/{ref}"
    if "." in first or ":" in first or first == "localhost":
        return ref
    return f"docker.io/{ref}"


def _ping(sock: Path) -> bool:
    """True once the API answers `GET /_ping`."""
    conn = http.client.HTTPConnection("localhost", timeout=2)
    try:
        conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.sock.settimeout(2)
        conn.sock.connect(str(sock))
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@dataclass
class PodmanService:
    state_dir: Path
    socket: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @classmethod
    @contextlib.contextmanager
    def start(
        cls, state_dir: Path, *, keep: bool = False, insecure_registries: Sequence[str] = ()
    ) -> Iterator[PodmanService]:
        """Start `podman system service` on `state_dir`; stop it and (unless `keep`) remove
        every container, image and the storage at exit. `insecure_registries`: `host:port` of
        registries reached over plain HTTP (the tests' loopback registry)."""
        if shutil.which("podman") is None:
            raise PodmanError("podman is not installed: run `make system-deps`")
        state_dir.mkdir(parents=True, exist_ok=True)
        containers_conf, storage_conf = write_config(state_dir)
        registries_conf = write_registries_conf(state_dir, insecure_registries)
        sock = state_dir / "podman.sock"
        env = {
            "PATH": CLEAN_PATH,
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "CONTAINERS_CONF": str(containers_conf),
            "CONTAINERS_STORAGE_CONF": str(storage_conf),
            "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
            "DOCKER_HOST": f"unix://{sock}",
            "TMPDIR": str(state_dir / "tmp"),
        }
        service = cls(state_dir, sock, env)
        log = (state_dir / "service.log").open("wb")
        service.process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", service.docker_host],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            service._wait_ready()
            yield service
        finally:
            service._stop()
            log.close()
            if not keep:
                service._remove_storage()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVICE_START_TIMEOUT
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PodmanError(
                    f"podman system service exited with {self.process.returncode}:\n"
                    + (self.state_dir / "service.log").read_text(errors="replace")[-4000:]
                )
            if self.socket.exists() and _ping(self.socket):
                return
            time.sleep(0.1)
        raise PodmanError(f"podman system service did not answer on {self.socket}")

    def _stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # its own session: the signal reaches the service and nothing else
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def _remove_storage(self) -> None:
        # Containers hold overlay mounts; `system reset` unmounts and deletes everything of
        # this engine (its storage, volumes and networks: all under state_dir).
        self.podman("rm", "--all", "--force", "--time", "0", check=False)
        self.podman("system", "reset", "--force", check=False)
        shutil.rmtree(self.state_dir / "storage", ignore_errors=True)

    def podman(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """The podman CLI on this engine's storage (not through the API)."""
        argv = ["podman", *args]
        proc = subprocess.run(
            argv,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise PodmanError(
                f"`{' '.join(argv)}` failed with exit code {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}"
            )
        return proc

    def image_exists(self, ref: str) -> bool:
        return self.podman("image", "exists", cli_ref(ref), check=False).returncode == 0

    def image_labels(self, ref: str) -> Mapping[str, str]:
        out = self.podman("image", "inspect", "--format", "{{json .Labels}}", cli_ref(ref)).stdout
        return dict(json.loads(out) or {})

    def copy_oci_layout(self, layout: Path, tag: str, ref: str) -> None:
        """Copy the image `tag` of an OCI layout into this engine's storage as `ref` (a Docker
        API name, see `cli_ref`)."""
        argv = [
            "skopeo",
            "copy",
            "--quiet",
            f"oci:{layout}:{tag}",
            f"containers-storage:{cli_ref(ref)}",
        ]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise PodmanError(
                f"`{' '.join(argv)}` failed with exit code {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}"
            )

    @contextlib.contextmanager
    def serve(self, image: str, port: int, env: Mapping[str, str] | None = None) -> Iterator[int]:
        """Run `image`'s default process detached, its `port` published on 127.0.0.1; yields
        the host port. The container is removed at exit."""
        args = ["run", "--detach", "--pull", "never", "--publish", f"127.0.0.1::{port}"]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        container = self.podman(*args, cli_ref(image)).stdout.strip()
        try:
            mapping = self.podman("port", container, f"{port}/tcp").stdout.split()[0]
            yield int(mapping.rsplit(":", 1)[1])
        finally:
            self.podman("rm", "--force", "--time", "0", container, check=False)

    def run_container(
        self, image: str, command: Sequence[str], *, entrypoint: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`podman run --rm` of `image`, for looking inside images."""
        args = ["run", "--rm", "--pull", "never", "--network", "none"]
        if entrypoint is not None:
            args += ["--entrypoint", entrypoint]
        return self.podman(*args, cli_ref(image), *command, check=False)
