"""The packaged buildpack under the lifecycle exporting to a registry, as a CI pipeline's
platform does (kpack, Tekton, `pack build --publish`), rather than to an OCI layout: the
previous image, and the venv layer left to it, are then the registry's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BUILDPACK_ID
from tests.e2e.test_python_apps import gunicorn, launch_layers, serve
from tests.harness.lifecycle import BuildpackRef, PlatformFactory
from tests.harness.registry import Registry

pytestmark = pytest.mark.e2e

LAYOUT_MODE = "export to OCI layout format"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry.start(tmp_path_factory.mktemp("registry")) as served:
        yield served


def test_rebuilds_reuse_the_registry_images_layers(
    make_platform: PlatformFactory,
    packaged_buildpack: BuildpackRef,
    package_index: Any,
    registry: Registry,
    fixture_app: Any,
    cache_dir: Path,
) -> None:
    platform = make_platform([packaged_buildpack], env=package_index.pip_env, registry=registry)
    app = fixture_app("flask_gunicorn")
    ref = registry.ref("flask")

    first = platform.build(app, image="flask", cache_dir=cache_dir)
    assert not any(LAYOUT_MODE in log for log in first.logs.values())
    assert f"Saving {ref}" in first.logs["exporter"]
    assert registry.digest(ref) is not None
    # The image pulled back for the test is the one in the registry.
    assert registry.config(ref)["rootfs"]["diff_ids"] == first.image.diff_ids
    assert launch_layers(first) == {"python", "venv"}
    assert serve(platform, first, gunicorn())["flask"] == "3.1.3"

    # The second build restores the venv from the cache and leaves it to the image; the third
    # takes the registry image's layer as it is, without its files.
    platform.build(app, image="flask", cache_dir=cache_dir, previous_image="flask")
    second = registry.digest(ref)
    third = platform.build(app, image="flask", cache_dir=cache_dir, previous_image="flask")
    assert f"Reusing layers from image '{ref}@" in third.logs["exporter"]
    assert "Using cached virtual environment from the previous image since" in third.logs["builder"]
    assert f'Restoring data for "{BUILDPACK_ID}:venv"' not in third.logs["restorer"]
    for layer in ("python", "venv"):
        assert f"Reusing layer '{BUILDPACK_ID}:{layer}'" in third.logs["exporter"]
        assert third.layer_digest(BUILDPACK_ID, layer) == first.layer_digest(BUILDPACK_ID, layer)
    # Nothing changed since the second build, so neither did the image. (The first differs in
    # its metadata: there the venv layer was still cached, as no previous image held it.)
    assert registry.digest(ref) == second
    assert serve(platform, third, gunicorn())["flask"] == "3.1.3"
