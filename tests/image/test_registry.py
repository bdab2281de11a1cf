"""The buildpack in a registry pipeline: published with `pack buildpack package --publish`,
composed from its registry reference into a builder with a buildpack that requires `cpython`
from it, apps built straight to the registry with a cache image, then rebased onto a newer run
image without a rebuild.

Everything goes through a real OCI registry on 127.0.0.1 (`crane registry serve`, the
`registry` fixture). The run image has to be in the registry too: a published build and a
rebase read it from there, not from the engine.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness.images import BaseImages
from tests.harness.lifecycle_install import ensure_lifecycle
from tests.harness.lifecycle_run_image import SUITE, ensure_run_image
from tests.harness.pack import Pack, PackResult, builder_toml, lifecycle_tarball
from tests.harness.podman import PodmanService
from tests.harness.registry import Registry
from tests.image.conftest import BUILDPACK_ID, FIXTURE_APPS, TIMINGS, timed
from tests.image.test_pack_builds import get_json, layers_of, run_app

pytestmark = pytest.mark.image

FIXTURE_BUILDPACKS = FIXTURE_APPS.parent / "buildpacks"
NEEDS_PYTHON = "tests/needs-python"
REGISTRY_BUILDER = "python-buildpack-tests/registry-builder:bookworm"
LAYERS = "/layers/python-buildpack_python"
RUN_IMAGE_MARK = "/etc/python-buildpack-tests-run-image"


def label_json(labels: dict[str, str], name: str) -> Any:
    return json.loads(labels[name])


def wait_for_json(url: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return get_json(url)
        except (OSError, urllib.error.URLError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@dataclass(frozen=True)
class RegistryRefs:
    buildpack: str
    run_image: str
    app: str
    cache: str


@pytest.fixture(scope="module")
def refs(registry: Registry) -> RegistryRefs:
    return RegistryRefs(
        buildpack=registry.ref("python-buildpack/python:0.1.0"),
        run_image=registry.ref("python-buildpack-tests/run:bookworm"),
        app=registry.ref("python-buildpack-tests/flask-needs-python:1"),
        cache=registry.ref("python-buildpack-tests/flask-needs-python-cache:1"),
    )


@pytest.fixture(scope="module")
def registry_run_image(podman: PodmanService, registry: Registry, refs: RegistryRefs) -> str:
    """The e2e tier's run image, pushed to the registry as a Docker v2 schema 2 image: pack's
    rebase writes that manifest type whatever the base's, and podman refuses to pull one that
    lists OCI layers."""
    layout = ensure_run_image().layout
    argv = [
        "skopeo",
        "copy",
        "--quiet",
        "--format",
        "v2s2",
        "--dest-tls-verify=false",
        f"oci:{layout}:{SUITE}",
        f"docker://{refs.run_image}",
    ]
    proc = subprocess.run(argv, env=podman.env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return refs.run_image


@pytest.fixture(scope="module")
def published_buildpack(pack: Pack, image_buildpack: Path, refs: RegistryRefs) -> PackResult:
    with timed("pack buildpack package --publish"):
        return pack.publish_buildpack(image_buildpack, refs.buildpack)


@pytest.fixture(scope="module")
def registry_builder(
    pack: Pack,
    base_images: BaseImages,
    published_buildpack: PackResult,
    registry_run_image: str,
    refs: RegistryRefs,
    tmp_path_factory: pytest.TempPathFactory,
) -> PackResult:
    """A builder whose python buildpack comes from its registry reference, followed by a
    buildpack that requires `cpython` (tests/fixtures/buildpacks/needs-python) in one group,
    and whose run image is the registry's."""
    from tools.package import buildpack_version

    config = tmp_path_factory.mktemp("registry-builder") / "builder.toml"
    config.write_text(
        builder_toml(
            # The bare reference: pack 0.40.6 checks a `docker://` URI by parsing it whole, so
            # a registry with a port (`docker://127.0.0.1:PORT/...`) is taken for a file URI.
            buildpack_uri=refs.buildpack,
            buildpack_id=BUILDPACK_ID,
            buildpack_version=buildpack_version(),
            build_image=base_images.build,
            run_image=registry_run_image,
            lifecycle_uri=lifecycle_tarball(ensure_lifecycle()).as_uri(),
            more_buildpacks=[
                ((FIXTURE_BUILDPACKS / "needs-python").as_uri(), NEEDS_PYTHON, "0.0.1")
            ],
        ),
        encoding="utf-8",
    )
    # if-not-present: the build image is the engine's, the buildpack and the run image are
    # pulled from the registry through the engine.
    with timed("pack builder create (from the registry)"):
        return pack.create_builder(config, REGISTRY_BUILDER, pull_policy="if-not-present")


@pytest.fixture(scope="module")
def needs_python_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """flask_gunicorn, plus the package the needs-python buildpack imports at build time."""
    app = tmp_path_factory.mktemp("registry-app") / "flask_gunicorn"
    shutil.copytree(FIXTURE_APPS / "flask_gunicorn", app)
    with (app / "requirements.txt").open("a", encoding="utf-8") as f:
        f.write("bp-test-alpha==1.0.0\n")
    return app


@dataclass(frozen=True)
class PublishedBuilds:
    first: PackResult
    second: PackResult
    first_digest: str
    second_digest: str
    second_downloads: list[str]


@pytest.fixture(scope="module")
def published_builds(
    pack: Pack,
    registry: Registry,
    registry_builder: PackResult,
    needs_python_app: Path,
    package_index: Any,
    refs: RegistryRefs,
) -> PublishedBuilds:
    """Two `pack build --publish --cache-image` of the same app: no engine volume holds the
    cache, only the cache image in the registry."""

    def build() -> PackResult:
        return pack.build(
            refs.app,
            needs_python_app,
            builder=REGISTRY_BUILDER,
            env=package_index.pip_env,
            publish=True,
            cache_image=refs.cache,
        )

    first = build()
    TIMINGS["pack build --publish --cache-image (first)"] = first.seconds
    first_digest = registry.digest(refs.app)
    assert first_digest is not None, first.log
    with package_index.recording() as rec:
        second = build()
    TIMINGS["pack build --publish --cache-image (second)"] = second.seconds
    second_digest = registry.digest(refs.app)
    assert second_digest is not None, second.log
    return PublishedBuilds(first, second, first_digest, second_digest, rec.file_requests())


def test_builder_is_composed_from_the_published_buildpack(
    registry: Registry,
    podman: PodmanService,
    published_buildpack: PackResult,
    registry_builder: PackResult,
    refs: RegistryRefs,
) -> None:
    # The buildpack is an image in the registry...
    package_labels = registry.labels(refs.buildpack)
    package_meta = label_json(package_labels, "io.buildpacks.buildpackage.metadata")
    assert package_meta["id"] == BUILDPACK_ID, package_labels
    package_layers = label_json(package_labels, "io.buildpacks.buildpack.layers")
    diff_id = package_layers[BUILDPACK_ID]["0.1.0"]["layerDiffID"]
    assert diff_id in registry.config(refs.buildpack)["rootfs"]["diff_ids"]

    # ...and the builder holds that very layer, with both buildpacks in one group.
    labels = podman.image_labels(REGISTRY_BUILDER)
    builder_layers = label_json(labels, "io.buildpacks.buildpack.layers")
    assert builder_layers[BUILDPACK_ID]["0.1.0"]["layerDiffID"] == diff_id
    order = label_json(labels, "io.buildpacks.buildpack.order")
    assert [[entry["id"] for entry in group["group"]] for group in order] == [
        [BUILDPACK_ID, NEEDS_PYTHON]
    ]
    metadata = label_json(labels, "io.buildpacks.builder.metadata")
    assert metadata["lifecycle"]["version"] == ensure_lifecycle().version


def test_publish_builds_to_the_registry_and_reuses_the_cache_image(
    registry: Registry, published_builds: PublishedBuilds, refs: RegistryRefs
) -> None:
    first, second = published_builds.first, published_builds.second
    assert first.phase("DETECTING").split() == [BUILDPACK_ID, "0.1.0", NEEDS_PYTHON, "0.0.1"]
    # The second buildpack ran on our Python and venv.
    needs = first.phase("BUILDING").split("--- needs-python ---", 1)[1]
    assert f"sys.prefix={LAYERS}/venv" in needs, first.log
    assert "alpha=1.0.0" in needs
    # The image went to the registry, with our layers and the registry's run image.
    labels = registry.labels(refs.app)
    build_meta = label_json(labels, "io.buildpacks.build.metadata")
    assert [bp["id"] for bp in build_meta["buildpacks"]] == [BUILDPACK_ID, NEEDS_PYTHON]
    lifecycle_meta = label_json(labels, "io.buildpacks.lifecycle.metadata")
    assert lifecycle_meta["runImage"]["reference"].startswith(registry.host), lifecycle_meta
    assert registry.digest(refs.cache) is not None
    assert "Adding cache layer" in first.phase("EXPORTING"), first.log

    # The second build restored its layers from the cache image: nothing downloaded or
    # installed again, and the launch layers went into the new image as they were.
    build = second.phase("BUILDING")
    assert "Using cached Python 3.13" in build, second.log
    assert "Using cached virtual environment since" in build
    assert "Running 'pip install" not in build
    assert published_builds.second_downloads == []
    assert layers_of(second.phase("EXPORTING"), "Reusing") >= {"python", "venv"}, second.log
    assert "Reusing cache layer" in second.phase("EXPORTING"), second.log


def _marker_layer(path: Path) -> Path:
    """A one-file layer (`/etc/python-buildpack-tests-run-image`): the "security update" of
    the newer run image."""
    content = b"run image 2\n"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("etc")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        info = tarfile.TarInfo(RUN_IMAGE_MARK.lstrip("/"))
        info.size, info.mode = len(content), 0o644
        tar.addfile(info, io.BytesIO(content))
    return path


@dataclass(frozen=True)
class RunImageUpdate:
    old_layers: list[str]
    new_layers: list[str]
    new_top_layer: str


@pytest.fixture(scope="module")
def run_image_update(
    registry: Registry, registry_run_image: str, tmp_path_factory: pytest.TempPathFactory
) -> RunImageUpdate:
    """The run image's tag moved to the same image plus one layer (same labels and distro):
    what a base image update is. The lifecycle rebases only onto the run image name the app
    image records (or a mirror of it), so the update has to come under that name."""
    old_layers = registry.layer_digests(registry_run_image)
    layer = _marker_layer(tmp_path_factory.mktemp("run-image-2") / "layer.tar.gz")
    registry.crane(
        "append", "--base", registry_run_image, "--new_layer", str(layer), "-t", registry_run_image
    )
    return RunImageUpdate(
        old_layers,
        registry.layer_digests(registry_run_image),
        registry.config(registry_run_image)["rootfs"]["diff_ids"][-1],
    )


def test_rebase_onto_a_newer_run_image_keeps_the_app_working(
    pack: Pack,
    podman: PodmanService,
    registry: Registry,
    published_builds: PublishedBuilds,
    run_image_update: RunImageUpdate,  # after the builds: it moves the run image's tag
    refs: RegistryRefs,
) -> None:
    old_layers = registry.layer_digests(refs.app)
    update = run_image_update
    assert update.new_layers[: len(update.old_layers)] == update.old_layers
    assert len(update.new_layers) == len(update.old_layers) + 1
    assert old_layers[: len(update.old_layers)] == update.old_layers

    result = pack.rebase(refs.app, publish=True)
    TIMINGS["pack rebase --publish"] = result.seconds
    assert "===> BUILDING" not in result.log and "Running 'pip" not in result.log

    # Only the run image's layers changed under the app's: the python and venv layers (and
    # everything else of the build) are the very same blobs.
    rebased = registry.layer_digests(refs.app)
    assert rebased[: len(update.new_layers)] == update.new_layers
    assert rebased[len(update.new_layers) :] == old_layers[len(update.old_layers) :]
    lifecycle_meta = label_json(registry.labels(refs.app), "io.buildpacks.lifecycle.metadata")
    assert lifecycle_meta["runImage"]["topLayer"] == update.new_top_layer

    # The rebased image runs: its web process answers on loopback, from the same venv, on
    # the newer base.
    podman.podman("pull", "--quiet", refs.app)
    code, out = run_app(podman, refs.app, ["cat", RUN_IMAGE_MARK])
    assert (code, out.strip()) == (0, "run image 2"), out
    with podman.serve(refs.app, 8080, env={"PORT": "8080"}) as port:
        answer = wait_for_json(f"http://127.0.0.1:{port}/")
    assert answer["app"] == "flask_gunicorn"
    assert answer["prefix"] == f"{LAYERS}/venv"
