"""`pack` (github.com/buildpacks/pack) for the image tests: the CLI, the lifecycle tarball a
builder.toml refers to, and the commands the tests run.

`ensure_pack()` builds the pinned release once per machine into
`~/.cache/python-buildpack/pack/<version>/pack` (~6 min cold on a busy 2-core machine), the way
`tests/harness/go_tools.py` builds every pinned Go tool.

Why 0.40.6: the Go proxy serves it when asked for that exact version (listing versions is
refused here, which hid it), it speaks Platform API 0.15, the newest of the pinned lifecycle
0.21.14, and it has `--exec-env`. Its own default lifecycle is newer (and needs a kaniko the
proxy refuses), so every builder here names the pinned lifecycle in `[lifecycle] uri`.

`lifecycle_tarball()` lays the pinned lifecycle's binaries out the way pack reads a lifecycle
URI (`[lifecycle] uri = "file://…"` in builder.toml): `lifecycle.toml` (its version and the
Buildpack/Platform APIs it supports) at the root, and every binary one directory down
(`lifecycle/analyzer`, …: pack keeps only the base names, under `/cnb/lifecycle/`).

    with PodmanService.start(dir) as podman:
        pack = Pack(ensure_pack(), podman, home=dir / "pack-home")
        pack.create_builder(builder_toml, "tests/builder:1")
        result = pack.build("tests/app:1", app_dir, builder=..., env={...})
        result.log, result.seconds
        # against a registry (tests/harness/registry.py)
        pack.publish_buildpack(buildpack_dir, "127.0.0.1:PORT/bp:1")
        pack.build("127.0.0.1:PORT/app:1", app_dir, builder=..., publish=True,
                   cache_image="127.0.0.1:PORT/app-cache:1")
        pack.rebase("127.0.0.1:PORT/app:1", publish=True)

    python -m tests.harness.pack          # build pack, write the lifecycle tarball
"""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.harness.cache import CACHE_ROOT, file_lock
from tests.harness.go_tools import GoTool, ensure_go_tool
from tests.harness.lifecycle_install import (
    SUPPORTED_BUILDPACK_APIS,
    LifecycleBinaries,
    ensure_lifecycle,
)
from tests.harness.lifecycle_run_image import go_arch
from tests.harness.podman import PodmanService

PACK_MODULE = "github.com/buildpacks/pack"
PACK_VERSION = "0.40.6"
# What lifecycle 0.21.14 supports (its api/apis.go); the builder advertises these to pack.
SUPPORTED_PLATFORM_APIS = tuple(f"0.{minor}" for minor in range(7, 16))
# The binaries pack checks for in a lifecycle tarball, plus the phases it may run.
LIFECYCLE_ENTRIES = (
    "lifecycle",
    "launcher",
    "analyzer",
    "detector",
    "restorer",
    "builder",
    "exporter",
    "creator",
    "rebaser",
)
PACK_TIMEOUT = 900


class PackError(Exception):
    """A pack command failed."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


def ensure_pack(version: str = PACK_VERSION) -> Path:
    """The pinned pack binary, built on first use."""
    return ensure_go_tool(GoTool("pack", PACK_MODULE, version, ".", "pkg/client.Version"))


def lifecycle_descriptor(version: str) -> str:
    def toml_list(values: Sequence[str]) -> str:
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"

    return (
        "[apis]\n"
        "[apis.buildpack]\n"
        "deprecated = []\n"
        f"supported = {toml_list(SUPPORTED_BUILDPACK_APIS)}\n"
        "[apis.platform]\n"
        "deprecated = []\n"
        f"supported = {toml_list(SUPPORTED_PLATFORM_APIS)}\n"
        "\n[lifecycle]\n"
        f'version = "{version}"\n'
    )


def _write_lifecycle_tarball(binaries: LifecycleBinaries, dest: Path) -> None:
    def entry(name: str, **fields: object) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mtime = 315532801  # 1980-01-01, like pack's normalised layers
        info.uid = info.gid = 0
        for key, value in fields.items():
            setattr(info, key, value)
        return info

    with (
        dest.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        descriptor = lifecycle_descriptor(binaries.version).encode()
        tar.addfile(
            entry("lifecycle.toml", size=len(descriptor), mode=0o644), io.BytesIO(descriptor)
        )
        tar.addfile(entry("lifecycle", type=tarfile.DIRTYPE, mode=0o755))
        for name in LIFECYCLE_ENTRIES:
            path = binaries.phase(name)
            if path.is_symlink():
                target = path.readlink().name
                tar.addfile(
                    entry(f"lifecycle/{name}", type=tarfile.SYMTYPE, linkname=target, mode=0o755)
                )
            else:
                with path.open("rb") as content:
                    tar.addfile(
                        entry(f"lifecycle/{name}", size=path.stat().st_size, mode=0o755), content
                    )


def lifecycle_tarball(binaries: LifecycleBinaries | None = None) -> Path:
    """`~/.cache/python-buildpack/pack/lifecycle-v<version>+linux.<arch>.tgz`, written once."""
    binaries = binaries or ensure_lifecycle()
    root = CACHE_ROOT / "pack"
    tarball = root / f"lifecycle-v{binaries.version}+linux.{go_arch()}.tgz"
    if tarball.is_file():
        return tarball
    with file_lock(root / ".lifecycle.lock"):
        if not tarball.is_file():
            partial = tarball.with_name(tarball.name + ".partial")
            _write_lifecycle_tarball(binaries, partial)
            partial.replace(tarball)
    return tarball


@dataclass(frozen=True)
class PackResult:
    argv: tuple[str, ...]
    log: str
    seconds: float

    def phase(self, name: str) -> str:
        """The output of one lifecycle phase of a `pack build` ("DETECTING", "BUILDING", ...):
        the lines after pack's `===> NAME` header, up to the next header."""
        lines: list[str] = []
        inside = False
        for line in self.log.splitlines():
            if line.startswith("===> "):
                inside = line == f"===> {name}"
            elif inside:
                lines.append(line)
        return "\n".join(lines)


@dataclass(frozen=True)
class Pack:
    binary: Path
    podman: PodmanService
    home: Path  # PACK_HOME: pack's config and caches, away from the host's ~/.pack

    @property
    def env(self) -> dict[str, str]:
        # PACK_VOLUME_KEY names the cache volumes: one key for the session, so rebuilds find
        # the cache of the build before (pack warns and makes a random key otherwise).
        return {
            **self.podman.env,
            "PACK_HOME": str(self.home),
            "PACK_VOLUME_KEY": f"python-buildpack-tests-{self.home.name}",
        }

    def run(self, *args: str, check: bool = True, timeout: float = PACK_TIMEOUT) -> PackResult:
        argv = (str(self.binary), "--no-color", *args)
        self.home.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        proc = subprocess.run(
            argv,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        seconds = time.monotonic() - start
        if check and proc.returncode != 0:
            raise PackError(
                f"`pack {' '.join(args)}` failed with exit code {proc.returncode}:\n{proc.stdout}",
                proc.stdout,
            )
        return PackResult(argv, proc.stdout, seconds)

    def package_buildpack(self, buildpack: Path, output: Path) -> PackResult:
        """`pack buildpack package --format file` of a buildpack directory or .cgz, for this
        machine's arch: without `--target`, pack (depending on where it runs) writes one
        `<name>-linux-<arch>.cnb` per target of buildpack.toml instead of `output`, while still
        reporting `output` as created."""
        config = output.with_suffix(".package.toml")
        config.write_text(f'[buildpack]\nuri = "{buildpack}"\n', encoding="utf-8")
        return self.run(
            "buildpack",
            "package",
            str(output),
            "--config",
            str(config),
            "--format",
            "file",
            "--target",
            f"linux/{go_arch()}",
        )

    def publish_buildpack(self, buildpack: Path, ref: str) -> PackResult:
        """`pack buildpack package REF --publish`: the buildpack as an image in a registry,
        for this machine's arch (see `package_buildpack`)."""
        config = buildpack.parent / f"{buildpack.name}.publish.package.toml"
        config.write_text(f'[buildpack]\nuri = "{buildpack}"\n', encoding="utf-8")
        return self.run(
            "buildpack",
            "package",
            ref,
            "--config",
            str(config),
            "--publish",
            "--target",
            f"linux/{go_arch()}",
        )

    def create_builder(self, config: Path, name: str, *, pull_policy: str = "never") -> PackResult:
        """`pack builder create`; `pull_policy="if-not-present"` when buildpacks or the run
        image are only in a registry (pulled through the engine)."""
        return self.run(
            "builder", "create", name, "--config", str(config), "--pull-policy", pull_policy
        )

    def rebase(
        self,
        image: str,
        *,
        run_image: str | None = None,
        publish: bool = False,
        pull_policy: str = "always",
    ) -> PackResult:
        """`pack rebase`: onto the newest image of the run image's name (or `run_image`, which
        the lifecycle accepts only under that same name or a mirror of it)."""
        args = ["rebase", image, "--pull-policy", pull_policy]
        if run_image:
            args += ["--run-image", run_image]
        if publish:
            args.append("--publish")
        return self.run(*args)

    def build(
        self,
        image: str,
        app: Path,
        *,
        builder: str,
        env: Mapping[str, str] | None = None,
        network: str = "host",
        clear_cache: bool = False,
        trust_builder: bool = True,
        check: bool = True,
        publish: bool = False,
        cache_image: str | None = None,
        pull_policy: str = "never",
        exec_env: str | None = None,
    ) -> PackResult:
        """`pack build`. `publish`: straight to the registry named in `image` (the builder's
        run image must be in a registry too); `cache_image`: the build cache as an image in
        the registry instead of an engine volume (needs `publish`); `exec_env`: `--exec-env`,
        which pack hands to the lifecycle as CNB_EXEC_ENV."""
        args = [
            "build",
            image,
            "--path",
            str(app),
            "--builder",
            builder,
            "--pull-policy",
            pull_policy,
            "--network",
            network,
            # The phases that talk to the daemon get this engine's socket, not the default
            # /var/run/docker.sock.
            "--docker-host",
            "inherit",
        ]
        args.append("--trust-builder" if trust_builder else "--trust-builder=false")
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        if clear_cache:
            args.append("--clear-cache")
        if publish:
            args.append("--publish")
        if cache_image:
            args += ["--cache-image", cache_image]
        if exec_env:
            args += ["--exec-env", exec_env]
        return self.run(*args, check=check)


def builder_toml(
    *,
    buildpack_uri: str,
    buildpack_id: str,
    buildpack_version: str,
    build_image: str,
    run_image: str,
    lifecycle_uri: str,
    more_buildpacks: Sequence[tuple[str, str, str]] = (),
) -> str:
    """A builder.toml with our buildpack in one group, our base images and a local lifecycle.
    `more_buildpacks`: (uri, id, version) of buildpacks that follow ours in the same group."""
    buildpacks = [(buildpack_uri, buildpack_id, buildpack_version), *more_buildpacks]
    return (
        'description = "python-buildpack test builder (Debian 12, no python3 on the build '
        'image)"\n\n'
        + "".join(f'[[buildpacks]]\nuri = "{uri}"\n\n' for uri, _, _ in buildpacks)
        + "[[order]]\n"
        + "".join(
            f'[[order.group]]\nid = "{id_}"\nversion = "{version}"\n\n'
            for _, id_, version in buildpacks
        )
        + "[build]\n"
        f'image = "{build_image}"\n\n'
        "[[run.images]]\n"
        f'image = "{run_image}"\n\n'
        "[lifecycle]\n"
        f'uri = "{lifecycle_uri}"\n\n'
        "[[targets]]\n"
        'os = "linux"\n'
        f'arch = "{go_arch()}"\n'
    )


if __name__ == "__main__":
    print(ensure_pack())
    print(lifecycle_tarball())
