"""The base images of the image tests: a Debian 12 build image without Python, and the run image.

`ensure_build_image()` debootstraps Debian 12 minbase once per machine with what buildpacks need
to build (a C toolchain for sdists, git, CA certificates, and the libraries the test CPython
runtimes load) but **no python3**: the build image of a real builder promises no Python, which
is why the packaged buildpack carries its own. It adds the `cnb` user (uid/gid 1001, the same as
the run image's) and writes the rootfs as a one-layer OCI layout with the CNB labels and env the
platform spec asks of a build image. Cached under `~/.cache/python-buildpack/podman/build-image/
<key>/`, where the key hashes everything that shapes the image.

The run image is the e2e tier's (`tests.harness.lifecycle_run_image`), reused as it is: the
same Debian 12 rootfs, labels and `cnb` user.

`load_base_images(podman)` copies both layouts into a podman storage with skopeo (a few seconds
each), under the names a builder.toml refers to.

    python -m tests.harness.images
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.harness.cache import CACHE_ROOT, fill_once
from tests.harness.lifecycle_run_image import (
    IMAGE_PATH,
    SUITE,
    ImageError,
    debootstrap,
    ensure_run_image,
    finish_rootfs,
    image_config,
    recipe_key,
)
from tests.harness.lifecycle_run_image import PACKAGES as RUN_PACKAGES
from tests.harness.oci_layout import write_image, write_layer_from_directory
from tests.harness.podman import PodmanService

BUILD_IMAGE_REF = "python-buildpack-tests/build:bookworm"
RUN_IMAGE_REF = "python-buildpack-tests/run:bookworm"
BUILD_IMAGE_ID = "python-buildpack.tests.build.bookworm"
# The run image's libraries (the test CPython runs during the build too), plus a C toolchain
# for sdists with extensions and git for VCS requirements. Nothing here may depend on python3:
# `_check_no_python` fails the image if something drags it in.
BUILD_PACKAGES = (*RUN_PACKAGES, "build-essential", "git", "pkg-config")
# bump when the way the image is made changes, so caches are rebuilt
RECIPE_VERSION = 1


@dataclass(frozen=True)
class BaseImages:
    build: str
    run: str


def pythons_in(rootfs: Path) -> list[str]:
    """Python interpreters a build could find on the image's PATH."""
    found = []
    for directory in IMAGE_PATH.split(":"):
        bin_dir = rootfs / directory.lstrip("/")
        if bin_dir.is_dir():
            found += [f"{directory}/{p.name}" for p in bin_dir.glob("python*")]
    return sorted(found)


def ensure_build_image_layout() -> Path:
    """The cached build image as an OCI layout, made on first use (debootstrap ~60-120 s)."""
    root = CACHE_ROOT / "podman" / "build-image"
    final = root / f"{SUITE}-{recipe_key(BUILD_PACKAGES, RECIPE_VERSION)}"
    fill_once(
        final, root / ".lock", _make_build_image, ready=(final / "layout" / "index.json").is_file
    )
    return final / "layout"


def _make_build_image(staging: Path) -> None:
    rootfs = staging / "rootfs"
    debootstrap(rootfs, BUILD_PACKAGES)
    finish_rootfs(rootfs)
    found = pythons_in(rootfs)
    if found:
        raise ImageError(
            f"the build image must have no Python, but {', '.join(found)} came with "
            f"{' '.join(BUILD_PACKAGES)}"
        )
    (staging / "layout").mkdir()
    layer = write_layer_from_directory(staging / "layout", rootfs)
    created_by = f"debootstrap --variant=minbase {SUITE} + {' '.join(BUILD_PACKAGES)}"
    write_image(
        staging / "layout", [layer], image_config(BUILD_IMAGE_ID, created_by), ref_name=SUITE
    )
    # the rootfs is only the layer's source: the layout is what gets loaded
    shutil.rmtree(rootfs)


def load_base_images(podman: PodmanService) -> BaseImages:
    """Both base images in `podman`'s storage, made first if need be."""
    build_layout = ensure_build_image_layout()
    run_layout = ensure_run_image().layout
    for layout, ref in ((build_layout, BUILD_IMAGE_REF), (run_layout, RUN_IMAGE_REF)):
        if not podman.image_exists(ref):
            podman.copy_oci_layout(layout, SUITE, ref)
    return BaseImages(build=BUILD_IMAGE_REF, run=RUN_IMAGE_REF)


if __name__ == "__main__":
    print(ensure_build_image_layout())
