"""The run image of the e2e tests: a minimal Debian 12 as a one-layer OCI image layout.

`ensure_run_image()` runs `debootstrap --variant=minbase bookworm` once per machine with the
run-time libraries a CPython built with `--enable-shared` links against, adds the `cnb` user
(the build and run user, like a builder's stack), and writes the rootfs as an OCI layout with the
CNB target labels the lifecycle reads (`io.buildpacks.base.distro.name`/`version`; os and
architecture come from the config). Cached under `~/.cache/python-buildpack/run-image/<key>/`,
where the key hashes everything that shapes the image. The unpacked `rootfs/` is kept next to
`layout/`: it is exactly the image's only layer, so launches stack it as an overlay lower
directory instead of unpacking 200 MB for every test.

    python -m tests.harness.lifecycle_run_image
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.harness.cache import CACHE_ROOT, fill_once
from tests.harness.oci_layout import OciImage, read_image, write_image, write_layer_from_directory

SUITE = "bookworm"
DISTRO_NAME = "debian"
DISTRO_VERSION = "12"
RUN_IMAGE_REF = "python-buildpack/run:bookworm"
RUN_IMAGE_ID = "python-buildpack.tests.run.bookworm"
CNB_USER = "cnb"
CNB_UID = 1001
CNB_GID = 1001
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# What a CPython built with --enable-shared loads at run time on Debian 12 (ldd of its
# extension modules), plus the data files a web app expects: CA certificates, time zones,
# /etc/services. libzstd1 and libtinfo6 are already in minbase.
PACKAGES = (
    "ca-certificates",
    "libbz2-1.0",
    "libexpat1",
    "libffi8",
    "libgdbm-compat4",
    "libgdbm6",
    "liblzma5",
    "libncursesw6",
    "libreadline8",
    "libsqlite3-0",
    "libssl3",
    "libuuid1",
    "netbase",
    "tzdata",
    "zlib1g",
)
# bump when the way the image is made changes, so caches are rebuilt
RECIPE_VERSION = 2


class ImageError(Exception):
    """A base image (the run image, or the image tests' build image) could not be made."""


@dataclass(frozen=True)
class RunImage:
    ref: str
    layout: Path
    rootfs: Path

    @property
    def image(self) -> OciImage:
        return read_image(self.layout)

    @property
    def os(self) -> str:
        return str(self.image.config["os"])

    @property
    def arch(self) -> str:
        return str(self.image.config["architecture"])

    def unpacked_layers(self) -> dict[str, Path]:
        """Directories holding the image's layers already unpacked, by diff ID."""
        return {self.image.diff_ids[0]: self.rootfs}


def go_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def host_debian_mirror() -> str:
    """The Debian mirror the host's apt uses (deb822 or one-line sources), else deb.debian.org."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        for uri in re.findall(r"^\s*URIs:\s*(\S+)", text, re.MULTILINE) + re.findall(
            r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+" + SUITE + r"\s", text, re.MULTILINE
        ):
            if str(uri).rstrip("/").endswith("/debian"):
                return str(uri).rstrip("/")
    return DEFAULT_MIRROR


def recipe_key(packages: tuple[str, ...], recipe: int, **more: str) -> str:
    """A short hash of everything that shapes a Debian base image made here: its cache key."""
    shape = {
        "suite": SUITE,
        "packages": packages,
        "uid": CNB_UID,
        "gid": CNB_GID,
        "arch": go_arch(),
        "recipe": recipe,
        **more,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:12]


def debootstrap(rootfs: Path, packages: tuple[str, ...]) -> None:
    """Debian `SUITE` minbase plus `packages` into `rootfs`, from the host's Debian mirror."""
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        SUITE,
        str(rootfs),
        host_debian_mirror(),
    ]
    env = {"PATH": IMAGE_PATH, "HOME": "/root", "LANG": "C.UTF-8"}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ImageError(
            f"`{' '.join(argv)}` failed with exit code {proc.returncode}:\n"
            f"{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
        )


def finish_rootfs(rootfs: Path) -> None:
    """What a run image build does after installing packages: drop apt's caches and the device
    nodes (the container runtime provides /dev), add the unprivileged user."""
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / cache).glob("*"):
            if entry.is_file() and entry.name != "lock":
                entry.unlink()
    for entry in (rootfs / "var/cache/apt").glob("*.bin"):
        entry.unlink()
    for entry in (rootfs / "dev").iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (rootfs / "etc/machine-id").write_text("")
    with (rootfs / "etc/passwd").open("a") as passwd:
        passwd.write(f"{CNB_USER}:x:{CNB_UID}:{CNB_GID}:CNB user:/home/{CNB_USER}:/bin/sh\n")
    with (rootfs / "etc/group").open("a") as group:
        group.write(f"{CNB_USER}:x:{CNB_GID}:\n")
    with (rootfs / "etc/shadow").open("a") as shadow:
        shadow.write(f"{CNB_USER}:*:19000:0:99999:7:::\n")
    home = rootfs / "home" / CNB_USER
    home.mkdir(mode=0o755)
    os.chown(home, CNB_UID, CNB_GID)


def image_config(base_id: str, created_by: str) -> dict[str, object]:
    """The OCI config of a one-layer base image with the CNB labels and env the platform spec
    asks for; fixed dates, so the image is the same on every machine."""
    created = "1980-01-01T00:00:01Z"
    return {
        "created": created,
        "architecture": go_arch(),
        "os": "linux",
        "config": {
            "User": f"{CNB_UID}:{CNB_GID}",
            "Env": [f"PATH={IMAGE_PATH}", f"CNB_USER_ID={CNB_UID}", f"CNB_GROUP_ID={CNB_GID}"],
            "WorkingDir": "/",
            "Labels": {
                "io.buildpacks.base.distro.name": DISTRO_NAME,
                "io.buildpacks.base.distro.version": DISTRO_VERSION,
                "io.buildpacks.base.id": base_id,
            },
        },
        "history": [{"created": created, "created_by": created_by}],
    }


def ensure_run_image() -> RunImage:
    """The cached run image, made on first use (debootstrap ~25-90 s, layer ~10 s)."""
    root = CACHE_ROOT / "run-image"
    final = root / f"{SUITE}-{recipe_key(PACKAGES, RECIPE_VERSION, ref=RUN_IMAGE_REF)}"
    run_image = RunImage(RUN_IMAGE_REF, final / "layout", final / "rootfs")
    fill_once(
        final, root / ".lock", _make_run_image, ready=(final / "layout" / "index.json").is_file
    )
    return run_image


def _make_run_image(staging: Path) -> None:
    debootstrap(staging / "rootfs", PACKAGES)
    finish_rootfs(staging / "rootfs")
    (staging / "layout").mkdir()
    # uncompressed: the lifecycle hashes the run image's layers on every analyze and export,
    # and un-gzipping 140 MB in Go costs ~1.5 s a phase
    layer = write_layer_from_directory(staging / "layout", staging / "rootfs")
    config = image_config(RUN_IMAGE_ID, f"debootstrap --variant=minbase {SUITE}")
    write_image(staging / "layout", [layer], config, ref_name=SUITE)


if __name__ == "__main__":
    image = ensure_run_image()
    print(image.layout, image.image.manifest_digest)
