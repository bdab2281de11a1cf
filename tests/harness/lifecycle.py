"""The end-to-end test platform: the official CNB lifecycle, run on this host without Docker.

    platform = Platform.create(tmp_path, buildpacks=[BuildpackRef.from_dir(path)])
    result = platform.build(app_dir, image="myapp", cache_dir=cache)   # 5 phases, OCI layout
    result.logs["builder"], result.exit_codes, result.image.env, result.layer_digests
    with platform.launch(result, env={"PORT": "8080"}) as proc:       # the image's launcher
        proc.wait_for_port(8080)

How a build runs. The platform directory is laid out like a builder image (`cnb/buildpacks/
<id with / → _>/<version>`, `cnb/order.toml`, `cnb/run.toml`, `cnb/lifecycle/{lifecycle,
launcher, analyzer → lifecycle, …}`, a platform dir with `env/` and `bindings/`). Each phase
runs in a private mount namespace (`lifecycle_namespace`) where those directories, the build's
layers and app copy, the cache and the OCI layout repository are bind-mounted at the paths a
builder container has: /cnb, /layers, /workspace, /platform, /cache, /layout-repo (empty
mountpoints are created on the host once). So the exported image says CNB_LAYERS_DIR=/layers
and CNB_APP_DIR=/workspace like any CNB image, and absolute paths that buildpacks write into
files (venv shebangs, pyvenv.cfg) are the ones the app sees at launch. Each phase also gets a
fresh tmpfs $HOME (/home/cnb), a private /tmp, /etc/passwd with the `cnb` user, the host's global
pip config masked, and an `env -i` environment (PATH, HOME, CNB_PLATFORM_API,
CNB_EXPERIMENTAL_MODE, two CNB_REGISTRY_AUTH_KEYCHAIN_SKIP_*): nothing leaks from the host's
environment. The build "image" is this host itself (Debian 12): buildpacks see the host's /usr
under those mounts, so tools a buildpack needs at build time must be on the host.

Users. `detector` and `builder` refuse to run as root, so they run as the cnb user (uid/gid
1001, `setpriv`); `analyzer`, `restorer` and `exporter` start as root with `-uid/-gid` like
pack runs them: they chown the layers and cache volumes to that user and drop privileges.

Export. `-layout -layout-dir /layout-repo` (experimental in this lifecycle, hence
CNB_EXPERIMENTAL_MODE=warn): the run image is hard-linked into the repository at the path the
lifecycle derives from its reference, and the app image is written next to it; a volume cache
(`-cache-dir`) keeps cached layers. Rebuilding with the same image name and cache dir reuses
layers: the analyzer reads the previous image's metadata from the layout, the restorer restores
cached layers, the exporter reuses unchanged launch layers from the previous image.

With `registry=` (a `Registry` on 127.0.0.1) the phases talk to that registry instead, as a CI
pipeline's platform does (kpack, Tekton, `pack build --publish`): the run image is pushed there
once, images are named `<registry>/<name>`, and each built image is pulled into the layout
repository afterwards, so `BuildResult.image` and `launch` work alike in both modes. Why both:
in layout mode this lifecycle reads every layer of the previous image and of the run image to
learn its diff ID (go-containerregistry's layout images carry none), un-gzipping it in the
analyzer and again in the exporter, so that mode's cost grows with the buildpacks' launch layers;
a registry image's config names its diff IDs.

Launch (the choice asked for). The exported image is run as a container would run it: its layers
are stacked with overlayfs (the run image's layer is the cached debootstrap rootfs, app layers
are unpacked per launch with OCI whiteouts turned into overlay whiteouts) in a private mount
namespace with /proc, /dev and a tmpfs /tmp, then `chroot` into it as the image's user with
exactly the image's Env (plus the caller's `env`, like `docker run -e`), its WorkingDir and its
Entrypoint (`/cnb/process/<type>` → the lifecycle launcher), and the host's network namespace,
so a server in it is reachable on 127.0.0.1. Running the launcher on the host with the build
directories instead was rejected: the process would load the host's libraries and tools instead
of the run image's, hiding a missing run-time package.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from tests.harness.lifecycle_install import (
    LIFECYCLE_VERSION,
    PHASES,
    PLATFORM_API,
    LifecycleBinaries,
    ensure_lifecycle,
)
from tests.harness.lifecycle_namespace import (
    Bind,
    Command,
    Filesystem,
    MaskIfPresent,
    Mount,
    Overlay,
    PrivateNetwork,
    Tmpfs,
    spawn,
)
from tests.harness.lifecycle_run_image import (
    CNB_GID,
    CNB_UID,
    CNB_USER,
    IMAGE_PATH,
    RunImage,
    ensure_run_image,
)
from tests.harness.oci_layout import OciImage, extract_layer, read_image
from tests.harness.registry import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "LIFECYCLE_VERSION",
    "PLATFORM_API",
    "BuildResult",
    "BuildpackRef",
    "LaunchFailed",
    "LaunchedProcess",
    "OrderEntry",
    "PhaseFailed",
    "Platform",
    "PlatformFactory",
    "ensure_lifecycle",
    "ensure_run_image",
    "free_port",
]

# Where a builder container has things; bind-mount targets inside each phase's namespace.
CNB_DIR = "/cnb"
LAYERS_DIR = "/layers"
APP_DIR = "/workspace"
PLATFORM_DIR = "/platform"
CACHE_DIR = "/cache"
LAYOUT_REPO = "/layout-repo"
MOUNTPOINTS = (CNB_DIR, LAYERS_DIR, APP_DIR, PLATFORM_DIR, CACHE_DIR, LAYOUT_REPO)
BUILD_HOME = f"/home/{CNB_USER}"
# Host configuration a build image would not have (this host has a global pip config).
HOST_CONFIG_MASKS = ("/etc/pip.conf", "/etc/xdg/pip", "/etc/uv")
FIVE_PHASES = ("analyzer", "detector", "restorer", "builder", "exporter")
ROOT_PHASES = frozenset({"analyzer", "restorer", "exporter"})


class PhaseFailed(Exception):
    """A lifecycle phase exited non-zero. Carries that phase's output and every earlier one's."""

    def __init__(self, phase: str, exit_code: int, output: str, logs: Mapping[str, str]) -> None:
        self.phase = phase
        self.exit_code = exit_code
        self.output = output
        self.logs = dict(logs)
        super().__init__(f"lifecycle {phase} failed with exit code {exit_code}:\n{output}")


class LaunchFailed(Exception):
    """The launched app exited or did not become ready; carries its output."""

    def __init__(self, message: str, output: str) -> None:
        self.output = output
        super().__init__(f"{message}\n--- app output ---\n{output}")


@dataclass(frozen=True)
class BuildpackRef:
    """A buildpack directory (with buildpack.toml) and the id/version it is installed under."""

    path: Path
    id: str
    version: str

    @classmethod
    def from_dir(cls, path: Path) -> BuildpackRef:
        descriptor = tomllib.loads((path / "buildpack.toml").read_text())
        return cls(
            path.resolve(), descriptor["buildpack"]["id"], descriptor["buildpack"]["version"]
        )

    @property
    def escaped_id(self) -> str:
        return self.id.replace("/", "_")


@dataclass(frozen=True)
class OrderEntry:
    id: str
    version: str
    optional: bool = False


@dataclass
class BuildResult:
    image_ref: str
    image: OciImage
    logs: dict[str, str]
    exit_codes: dict[str, int]
    durations: dict[str, float]
    report: dict[str, Any]
    analyzed: dict[str, Any]
    group: dict[str, Any]
    plan: dict[str, Any]
    layers_dir: Path  # the build's layers volume, left in place for inspection

    @property
    def output(self) -> str:
        return "".join(f"===> {phase.upper()}\n{log}" for phase, log in self.logs.items())

    @property
    def lifecycle_metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = self.image.label_json("io.buildpacks.lifecycle.metadata")
        return data

    @property
    def build_metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = self.image.label_json("io.buildpacks.build.metadata")
        return data

    @property
    def layer_digests(self) -> dict[str, str]:
        """The buildpacks' launch layers in the image, by `<buildpack id>:<layer>`: their diff IDs
        (uncompressed digests, as the lifecycle records them; see `image.diff_ids`)."""
        digests: dict[str, str] = {}
        for buildpack in self.lifecycle_metadata.get("buildpacks") or []:
            for name, layer in (buildpack.get("layers") or {}).items():
                digests[f"{buildpack['key']}:{name}"] = layer["sha"]
        return digests

    def layer_digest(self, buildpack_id: str, layer: str) -> str:
        return self.layer_digests[f"{buildpack_id}:{layer}"]

    @property
    def app_layer_digests(self) -> list[str]:
        return [slice_["sha"] for slice_ in self.lifecycle_metadata.get("app") or []]


def image_ref_path(ref: str) -> Path:
    """The path the lifecycle (imgutil's layout.ParseRefToPath) gives an image reference inside
    the layout repository: `myapp` → index.docker.io/library/myapp/latest."""
    name, _, digest = ref.partition("@")
    tag = "latest"
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, repository = parts[0], "/".join(parts[1:])
    else:
        registry, repository = "index.docker.io", name
    if registry == "docker.io":
        registry = "index.docker.io"
    if registry == "index.docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    if digest:
        algorithm, _, hexdigest = digest.partition(":")
        return Path(registry, repository, algorithm, hexdigest)
    return Path(registry, repository, tag)


def _link_or_copy_tree(source: Path, dest: Path) -> None:
    """Hard-link every file of source into dest (copy across filesystems)."""
    for dirpath, _, filenames in os.walk(source):
        target_dir = dest / Path(dirpath).relative_to(source)
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            try:
                os.link(Path(dirpath, name), target_dir / name)
            except OSError:
                shutil.copy2(Path(dirpath, name), target_dir / name)


def _chown_tree(root: Path, uid: int, gid: int, *, dirs_only: bool = False) -> None:
    os.lchown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames if dirs_only else [*dirnames, *filenames]:
            os.lchown(Path(dirpath, name), uid, gid)


def _share_blobs(layout: Path, source: Path) -> None:
    """Replace the exporter's copies of the run image's blobs by hard links to the cached ones:
    each exported image would otherwise hold its own 140 MB copy of the base layer."""
    for blob in (source / "blobs" / "sha256").iterdir():
        copy = layout / "blobs" / "sha256" / blob.name
        if not copy.is_file() or copy.stat().st_ino == blob.stat().st_ino:
            continue
        staging = copy.with_name(f".{blob.name}.link")
        try:
            os.link(blob, staging)
        except OSError:  # another filesystem: keep the copy
            continue
        staging.replace(copy)


def _wait_precisely(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """`proc.wait(timeout)`, returning as soon as the process ends. Popen's own wait with a
    timeout polls, sleeping up to 50 ms between looks, which put steps of 50 ms into the
    phases' durations (the bench's figures); a pidfd becomes readable the moment it exits."""
    pidfd = os.pidfd_open(proc.pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    if not ready:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.wait()


def _read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text()) if path.is_file() else {}


def _ensure_mountpoints() -> None:
    for mountpoint in MOUNTPOINTS:
        Path(mountpoint).mkdir(mode=0o755, exist_ok=True)


@dataclass
class Platform:
    base: Path
    buildpacks: list[BuildpackRef]
    run_image: RunImage
    lifecycle: LifecycleBinaries
    uid: int = CNB_UID
    gid: int = CNB_GID
    log_level: str = "info"
    build_path: str = IMAGE_PATH
    lifecycle_env: dict[str, str] = field(default_factory=dict)
    registry: Registry | None = None
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def create(
        cls,
        base: Path,
        buildpacks: Sequence[BuildpackRef],
        *,
        order: Sequence[Sequence[OrderEntry | BuildpackRef]] | None = None,
        run_image: RunImage | None = None,
        env: Mapping[str, str] | None = None,
        bindings: Mapping[str, Mapping[str, str]] | None = None,
        lifecycle: LifecycleBinaries | None = None,
        log_level: str = "info",
        build_path: str = IMAGE_PATH,
        lifecycle_env: Mapping[str, str] | None = None,
        registry: Registry | None = None,
    ) -> Platform:
        """Lay out a builder's and a platform's files under `base`.

        order: groups of buildpacks for detection (default: one group of all `buildpacks`).
        env: platform environment (`<platform>/env/NAME`), what `pack build --env` gives.
        bindings: service bindings by name, each a mapping of file name → content; `type` is
            required (`<platform>/bindings/<name>/<key>`). The lifecycle passes no
            SERVICE_BINDING_ROOT to buildpacks (its build env is an allowlist): buildpacks find
            bindings under $CNB_PLATFORM_DIR/bindings.
        build_path: PATH of the build "image" the phases (and so the buildpacks) run with.
        lifecycle_env: extra variables for every phase (CNB_EXEC_ENV, SOURCE_DATE_EPOCH, …).
        registry: export to this registry instead of the OCI layout repository (see "Export").
        """
        _ensure_mountpoints()
        base = base.resolve()
        platform = cls(
            base=base,
            buildpacks=list(buildpacks),
            run_image=run_image or ensure_run_image(),
            lifecycle=lifecycle or ensure_lifecycle(),
            log_level=log_level,
            build_path=build_path,
            lifecycle_env=dict(lifecycle_env or {}),
            registry=registry,
        )
        if registry is not None:
            registry.crane("push", str(platform.run_image.layout), platform.run_image_ref)
        platform._write_builder(order)
        platform._write_platform_dir(env or {}, bindings or {})
        platform._write_layout_repo()
        platform._write_etc()
        return platform

    # -- layout on disk --------------------------------------------------------------------

    @property
    def cnb(self) -> Path:
        return self.base / "cnb"

    @property
    def platform_dir(self) -> Path:
        return self.base / "platform"

    @property
    def layout_repo(self) -> Path:
        return self.base / "layout-repo"

    @property
    def run_image_ref(self) -> str:
        """The run image as the phases name it: in the layout repository or the registry."""
        return self.image_name(self.run_image.ref)

    def image_name(self, image: str) -> str:
        """What the phases call image `image`: itself in layout mode (a path in the layout
        repository), `<registry>/<image>` in registry mode."""
        return image if self.registry is None else self.registry.ref(image)

    def _write_builder(self, order: Sequence[Sequence[OrderEntry | BuildpackRef]] | None) -> None:
        lifecycle_dir = self.cnb / "lifecycle"
        lifecycle_dir.mkdir(parents=True)
        for binary in ("lifecycle", "launcher"):
            try:
                os.link(self.lifecycle.directory / binary, lifecycle_dir / binary)
            except OSError:
                shutil.copy2(self.lifecycle.directory / binary, lifecycle_dir / binary)
        for phase in PHASES:
            (lifecycle_dir / phase).symlink_to("lifecycle")
        for buildpack in self.buildpacks:
            # an empty mountpoint: the buildpack is bind-mounted read-only there
            (self.cnb / "buildpacks" / buildpack.escaped_id / buildpack.version).mkdir(parents=True)
        groups = order if order is not None else [self.buildpacks]
        order_toml = {
            "order": [
                {
                    "group": [
                        {
                            "id": entry.id,
                            "version": entry.version,
                            **({"optional": True} if getattr(entry, "optional", False) else {}),
                        }
                        for entry in group
                    ]
                }
                for group in groups
            ]
        }
        (self.cnb / "order.toml").write_text(tomli_w.dumps(order_toml))
        (self.cnb / "run.toml").write_text(
            tomli_w.dumps({"images": [{"image": self.run_image_ref}]})
        )

    def _write_platform_dir(
        self, env: Mapping[str, str], bindings: Mapping[str, Mapping[str, str]]
    ) -> None:
        (self.platform_dir / "env").mkdir(parents=True)
        for name, value in env.items():
            (self.platform_dir / "env" / name).write_text(value)
        for binding, entries in bindings.items():
            if "type" not in entries:
                raise ValueError(f"binding {binding!r} needs a 'type' entry")
            directory = self.platform_dir / "bindings" / binding
            directory.mkdir(parents=True)
            for key, value in entries.items():
                (directory / key).write_text(value)

    def _write_layout_repo(self) -> None:
        run_image_dir = self.layout_repo / image_ref_path(self.run_image.ref)
        _link_or_copy_tree(self.run_image.layout, run_image_dir)
        # the exporter (as the cnb user) creates the app image next to it; blobs stay root's
        _chown_tree(self.layout_repo, self.uid, self.gid, dirs_only=True)

    def _write_etc(self) -> None:
        etc = self.base / "etc"
        etc.mkdir()
        passwd = Path("/etc/passwd").read_text()
        group = Path("/etc/group").read_text()
        if not re.search(rf"^[^:]*:[^:]*:{self.uid}:", passwd, re.MULTILINE):
            passwd += f"{CNB_USER}:x:{self.uid}:{self.gid}:CNB user:{BUILD_HOME}:/bin/sh\n"
        if not re.search(rf"^[^:]*:[^:]*:{self.gid}:", group, re.MULTILINE):
            group += f"{CNB_USER}:x:{self.gid}:\n"
        (etc / "passwd").write_text(passwd)
        (etc / "group").write_text(group)

    # -- build -----------------------------------------------------------------------------

    def _phase_env(self) -> dict[str, str]:
        env = {
            "PATH": self.build_path,
            "HOME": BUILD_HOME,
            "CNB_PLATFORM_API": PLATFORM_API,
            "CNB_EXPERIMENTAL_MODE": "warn",
            # no registry is involved: skip the cloud credential helpers' lookups (~2 s a phase)
            "CNB_REGISTRY_AUTH_KEYCHAIN_SKIP_AMAZON": "true",
            "CNB_REGISTRY_AUTH_KEYCHAIN_SKIP_AZURE": "true",
        }
        env.update(self.lifecycle_env)
        return env

    def _phase_mounts(self, build_dir: Path, cache_dir: Path) -> list[Mount]:
        mounts: list[Mount] = [Bind(self.cnb, CNB_DIR)]
        for bp in self.buildpacks:
            target = f"{CNB_DIR}/buildpacks/{bp.escaped_id}/{bp.version}"
            mounts.append(Bind(bp.path, target, read_only=True))
        mounts += [
            Bind(build_dir / "layers", LAYERS_DIR),
            Bind(build_dir / "workspace", APP_DIR),
            Bind(self.platform_dir, PLATFORM_DIR, read_only=True),
            Bind(cache_dir, CACHE_DIR),
            Bind(self.layout_repo, LAYOUT_REPO),
            Bind(self.base / "etc" / "passwd", "/etc/passwd", read_only=True),
            Bind(self.base / "etc" / "group", "/etc/group", read_only=True),
            *(MaskIfPresent(path) for path in HOST_CONFIG_MASKS),
            Tmpfs("/home", owned_dirs=((BUILD_HOME, self.uid, self.gid),)),
            # last: the sources above may live under the host's /tmp
            Bind(build_dir / "tmp", "/tmp"),
        ]
        return mounts

    def _phase_args(
        self, phase: str, image: str, previous_image: str | None, process_type: str | None
    ) -> list[str]:
        common = ["-log-level", self.log_level, "-no-color"]
        files = {
            "analyzed": f"{LAYERS_DIR}/analyzed.toml",
            "group": f"{LAYERS_DIR}/group.toml",
            "plan": f"{LAYERS_DIR}/plan.toml",
        }
        layout = ["-layout", "-layout-dir", LAYOUT_REPO] if self.registry is None else []
        user = ["-uid", str(self.uid), "-gid", str(self.gid)]
        image = self.image_name(image)
        if phase == "analyzer":
            previous = (
                ["-previous-image", self.image_name(previous_image)] if previous_image else []
            )
            return [
                *common, "-layers", LAYERS_DIR, "-analyzed", files["analyzed"],
                "-run", f"{CNB_DIR}/run.toml", *layout, *previous, *user, image,
            ]  # fmt: skip
        if phase == "detector":
            return [
                *common, "-app", APP_DIR, "-buildpacks", f"{CNB_DIR}/buildpacks",
                "-order", f"{CNB_DIR}/order.toml", "-group", files["group"], "-plan", files["plan"],
                "-layers", LAYERS_DIR, "-platform", PLATFORM_DIR, "-analyzed", files["analyzed"],
                "-run", f"{CNB_DIR}/run.toml",
            ]  # fmt: skip
        if phase == "restorer":
            return [
                *common, "-cache-dir", CACHE_DIR, "-layers", LAYERS_DIR,
                "-group", files["group"], "-analyzed", files["analyzed"], *layout, *user,
            ]  # fmt: skip
        if phase == "builder":
            return [
                *common, "-app", APP_DIR, "-buildpacks", f"{CNB_DIR}/buildpacks",
                "-group", files["group"], "-plan", files["plan"], "-layers", LAYERS_DIR,
                "-platform", PLATFORM_DIR, "-analyzed", files["analyzed"],
            ]  # fmt: skip
        if phase == "exporter":
            process = ["-process-type", process_type] if process_type else []
            return [
                *common, "-app", APP_DIR, "-layers", LAYERS_DIR, "-group", files["group"],
                "-analyzed", files["analyzed"], "-cache-dir", CACHE_DIR,
                "-launcher", f"{CNB_DIR}/lifecycle/launcher", "-run", f"{CNB_DIR}/run.toml",
                "-report", f"{LAYERS_DIR}/report.toml", *layout, *process, *user, image,
            ]  # fmt: skip
        raise ValueError(f"unknown phase {phase}")

    def _run_phase(
        self, phase: str, args: list[str], mounts: Sequence[Mount], log_path: Path, timeout: float
    ) -> tuple[int, str]:
        as_root = phase in ROOT_PHASES
        command = Command(
            argv=[f"{CNB_DIR}/lifecycle/{phase}", *args],
            env=self._phase_env(),
            uid=None if as_root else self.uid,
            gid=None if as_root else self.gid,
        )
        with log_path.open("wb") as log:
            proc = spawn(mounts, command, stdout=log)
            try:
                exit_code = _wait_precisely(proc, timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise PhaseFailed(
                    phase,
                    -1,
                    log_path.read_text(errors="replace") + f"\n[timed out after {timeout} s]",
                    {},
                ) from None
        return exit_code, log_path.read_text(errors="replace")

    def build(
        self,
        app_dir: Path,
        image: str = "app",
        cache_dir: Path | None = None,
        *,
        previous_image: str | None = None,
        process_type: str | None = None,
        timeout: float = 900,
    ) -> BuildResult:
        """analyze, detect, restore, build, export `app_dir` (copied) into image `image` in the
        platform's layout repository. Raises PhaseFailed at the first failing phase."""
        build_dir = self.base / "builds" / str(next(self._counter))
        (build_dir / "layers").mkdir(parents=True)
        (build_dir / "logs").mkdir()
        (build_dir / "tmp").mkdir(mode=0o1777)
        (build_dir / "tmp").chmod(0o1777)
        shutil.copytree(app_dir, build_dir / "workspace", symlinks=True)
        _chown_tree(build_dir / "workspace", self.uid, self.gid)
        cache = (cache_dir or self.base / "cache").resolve()
        cache.mkdir(parents=True, exist_ok=True)
        mounts = self._phase_mounts(build_dir, cache)

        logs: dict[str, str] = {}
        exit_codes: dict[str, int] = {}
        durations: dict[str, float] = {}
        for phase in FIVE_PHASES:
            args = self._phase_args(phase, image, previous_image, process_type)
            started = time.monotonic()
            try:
                exit_code, output = self._run_phase(
                    phase, args, mounts, build_dir / "logs" / f"{phase}.log", timeout
                )
            except PhaseFailed as failure:
                failure.logs = {**logs, phase: failure.output}
                raise
            durations[phase] = time.monotonic() - started
            logs[phase], exit_codes[phase] = output, exit_code
            if exit_code != 0:
                raise PhaseFailed(phase, exit_code, output, logs)

        layers = build_dir / "layers"
        image_dir = self.layout_repo / image_ref_path(image)
        if self.registry is not None:
            self._pull(image, image_dir)
        else:
            _share_blobs(image_dir, self.run_image.layout)
        return BuildResult(
            image_ref=image,
            image=read_image(image_dir),
            logs=logs,
            exit_codes=exit_codes,
            durations=durations,
            report=_read_toml(layers / "report.toml"),
            analyzed=_read_toml(layers / "analyzed.toml"),
            group=_read_toml(layers / "group.toml"),
            plan=_read_toml(layers / "plan.toml"),
            layers_dir=layers,
        )

    def _pull(self, image: str, image_dir: Path) -> None:
        """The image just pushed, as an OCI layout at `image_dir` (replacing an older pull).
        The run image's blobs are linked in first: crane skips a blob that is there, and the
        image shares them with the cached run image as in layout mode (`_share_blobs`)."""
        assert self.registry is not None
        shutil.rmtree(image_dir, ignore_errors=True)
        _link_or_copy_tree(self.run_image.layout / "blobs", image_dir / "blobs")
        self.registry.crane("pull", "--format", "oci", self.image_name(image), str(image_dir))

    # -- launch ----------------------------------------------------------------------------

    def _unpack(self, image: OciImage, launch_dir: Path) -> list[Path]:
        known = self.run_image.unpacked_layers()
        lowers: list[Path] = []
        for index, (layer, diff_id) in enumerate(zip(image.layers, image.diff_ids, strict=True)):
            if diff_id in known:
                lowers.append(known[diff_id])
                continue
            directory = launch_dir / "layers" / f"{index:03d}"
            extract_layer(image.blob_path(layer.digest), layer.media_type, directory)
            lowers.append(directory)
        return lowers

    @contextmanager
    def launch(
        self,
        result: BuildResult,
        *,
        process: str | None = None,
        command: Sequence[str] | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        network: PrivateNetwork | None = None,
        binds: Mapping[str, Path] | None = None,
    ) -> Iterator[LaunchedProcess]:
        """Run the exported image like `docker run`: by default its entrypoint (the default
        process); `process="worker"` runs /cnb/process/worker; `command=[...]` runs a command
        through the launcher (`docker run --entrypoint launcher IMAGE cmd…`). With `network`,
        the process has a network namespace of its own, reached with `LaunchedProcess.get`
        on the namespace's non-loopback address. `binds` mounts host directories read-only at
        paths of the container (`docker run -v HOST:PATH:ro`), e.g. a made-up /sys/fs/cgroup.
        The process is stopped when the block exits."""
        image = result.image
        launch_dir = self.base / "launches" / str(next(self._counter))
        launch_dir.mkdir(parents=True)
        lowers = self._unpack(image, launch_dir)
        upper, work, rootfs = launch_dir / "upper", launch_dir / "work", launch_dir / "rootfs"
        for directory in (upper, work, rootfs):
            directory.mkdir()
        # like a container runtime: the host's name resolution files
        (upper / "etc").mkdir()
        (upper / "etc").chmod(0o755)
        for name in ("hosts", "resolv.conf"):
            shutil.copyfile(f"/etc/{name}", upper / "etc" / name)

        if command is not None:
            argv = ["/cnb/lifecycle/launcher", *command, *args]
        elif process is not None:
            argv = [f"/cnb/process/{process}", *args]
        else:
            argv = [*image.entrypoint, *(args or image.cmd)]
        if not argv:
            raise ValueError("the image has no entrypoint and no command was given")
        uid, gid = _image_user(image, lowers)
        run_env = dict(image.env)
        run_env.setdefault("HOME", _home_of(uid, lowers))
        run_env.update(env or {})

        root = str(rootfs)
        mounts: list[Mount] = [
            Overlay(tuple(reversed(lowers)), upper, work, rootfs),
            Filesystem("proc", f"{root}/proc"),
            Bind(Path("/dev"), f"{root}/dev", recursive=True),
            Tmpfs(f"{root}/tmp", mode="1777"),
        ]
        if network is not None:
            mounts.append(network)
        for target, source in (binds or {}).items():
            (upper / target.lstrip("/")).mkdir(parents=True, exist_ok=True)
            mounts.append(Bind(Path(source), f"{root}{target}", read_only=True))
        log_path = launch_dir / "output.log"
        with log_path.open("wb") as log:
            proc = spawn(
                mounts,
                Command(
                    argv=argv, env=run_env, uid=uid, gid=gid, chroot=rootfs, cwd=image.working_dir
                ),
                stdout=log,
            )
        launched = LaunchedProcess(proc, log_path, argv, network)
        try:
            yield launched
        finally:
            launched.stop()

    def run(
        self,
        result: BuildResult,
        *,
        process: str | None = None,
        command: Sequence[str] | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        binds: Mapping[str, Path] | None = None,
        timeout: float = 60,
    ) -> tuple[int, str]:
        """Launch the image, wait for the process to exit; its exit code and output."""
        with self.launch(
            result, process=process, command=command, args=args, env=env, binds=binds
        ) as proc:
            exit_code = proc.wait(timeout)
            return exit_code, proc.output


def _passwd_entries(lowers: Sequence[Path]) -> list[list[str]]:
    for lower in reversed(lowers):  # the top-most layer that has the file wins
        passwd = lower / "etc" / "passwd"
        if passwd.is_file():
            return [line.split(":") for line in passwd.read_text().splitlines() if line]
    return []


def _image_user(image: OciImage, lowers: Sequence[Path]) -> tuple[int, int]:
    user, _, group = image.user.partition(":")
    entries = _passwd_entries(lowers)
    if not user.isdigit():
        match = next((e for e in entries if e[0] == user), None)
        if match is None:
            raise LaunchFailed(f"image user {user!r} is not in the image's /etc/passwd", "")
        user, group = match[2], group or match[3]
    if not group:
        match = next((e for e in entries if e[2] == user), None)
        group = match[3] if match else "0"
    if not group.isdigit():
        raise LaunchFailed(f"image group {group!r} must be numeric", "")
    return int(user), int(group)


def _home_of(uid: int, lowers: Sequence[Path]) -> str:
    match = next((e for e in _passwd_entries(lowers) if e[2] == str(uid)), None)
    return match[5] if match and len(match) > 5 else "/"


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 5) -> None:
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# Run with `nsenter --net` in the launched process's network namespace: wait until host:port
# accepts connections, then GET the path; print the status, headers and body as JSON.
_NAMESPACE_GET = """
import base64, json, socket, sys, time, urllib.request
host, port, path, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
deadline = time.monotonic() + timeout
while True:
    try:
        socket.create_connection((host, port), timeout=1).close()
        break
    except OSError as error:
        if time.monotonic() > deadline:
            print(json.dumps({"error": f"nothing listened on {host}:{port}: {error}"}))
            sys.exit(0)
        time.sleep(0.2)
with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as response:
    print(json.dumps({
        "status": response.status,
        "headers": {k.lower(): v for k, v in response.headers.items()},
        "body": base64.b64encode(response.read()).decode(),
    }))
"""


@dataclass(frozen=True)
class NamespaceResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class LaunchedProcess:
    popen: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str]
    network: PrivateNetwork | None = None

    def get(self, port: int, path: str = "/", timeout: float = 60) -> NamespaceResponse:
        """GET http://<the namespace's non-loopback address>:port/path from inside the
        process's own network namespace, once something listens there."""
        if self.network is None:
            raise ValueError("launched without a PrivateNetwork")
        if self.popen.poll() is not None:
            raise LaunchFailed(f"{self.argv} exited with {self.popen.returncode}", self.output)
        # Entered through an fd held open: the path /proc/<pid>/ns/net vanishes for a moment
        # each time the process exec()s the next step of its start (sh, setpriv, chroot, the
        # launcher), and nsenter opening it in such a moment failed with ENOENT.
        namespace = self._open_own_network()
        try:
            enter = ["nsenter", f"--net=/proc/self/fd/{namespace}", "--"]
            client = [sys.executable, "-I", "-c", _NAMESPACE_GET]
            completed = subprocess.run(
                [*enter, *client, self.network.address, str(port), path, str(timeout)],
                capture_output=True,
                text=True,
                timeout=timeout + 30,
                env={"PATH": "/usr/bin:/bin"},
                pass_fds=(namespace,),
            )
        finally:
            os.close(namespace)
        if completed.returncode != 0:
            raise LaunchFailed(f"GET {path} failed: {completed.stderr}", self.output)
        answer = json.loads(completed.stdout)
        if "error" in answer:
            raise LaunchFailed(answer["error"], self.output)
        return NamespaceResponse(
            answer["status"], answer["headers"], base64.b64decode(answer["body"])
        )

    def _open_own_network(self, timeout: float = 30) -> int:
        """An fd of the process's network namespace, once it has its own. Until `unshare` has
        made it, /proc/<pid>/ns/net is the host's: entering it then would send the GET for the
        namespace's address out of the host, where nothing answers (and the traffic must not
        go)."""
        ours = Path("/proc/self/ns/net").stat().st_ino
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise LaunchFailed(f"{self.argv} exited with {self.popen.returncode}", self.output)
            try:
                namespace = os.open(f"/proc/{self.popen.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                pass  # the process is between exec()s; look again
            else:
                if os.fstat(namespace).st_ino != ours:
                    return namespace
                os.close(namespace)
            if time.monotonic() > deadline:
                raise LaunchFailed("the process never got a network namespace of its own", "")
            time.sleep(0.05)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LaunchFailed(
                f"{self.argv} still running after {timeout} s", self.output
            ) from None

    def wait_for_port(self, port: int, host: str = "127.0.0.1", timeout: float = 30) -> None:
        """Block until something accepts TCP connections on host:port (from the host side)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise LaunchFailed(
                    f"{self.argv} exited with {self.popen.returncode} before listening on {port}",
                    self.output,
                )
            with suppress(OSError), socket.create_connection((host, port), timeout=1):
                return
            time.sleep(0.1)
        raise LaunchFailed(f"nothing listened on {host}:{port} within {timeout} s", self.output)

    def stop(self) -> None:
        _kill_group(self.popen)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# what the e2e `make_platform` fixture returns: Platform.create with the base directory given
PlatformFactory = Callable[..., Platform]
