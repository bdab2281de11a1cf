"""`pack build --exec-env test`: pack hands the execution environment to the lifecycle, which
gives it to our buildpack as CNB_EXEC_ENV (buildpack.toml declares `test`), and the uv app's
venv also holds its `dev` dependency group (bp-test-beta). Without `--exec-env` the log has no
execution environment line and the venv no bp-test-beta (tests/e2e/test_exec_env.py).

One build: that a production build after it does not reuse this venv is shown under the real
lifecycle (tests/e2e/test_exec_env.py); here the image's layer metadata shows the venv was
recorded as a test one, which is what that rebuild decision reads.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from tests.harness.pack import Pack, PackResult
from tests.harness.podman import PodmanService
from tests.image.conftest import BUILDPACK_ID, FIXTURE_APPS, TIMINGS
from tests.image.test_pack_builds import LAYERS, layers_of, run_app

pytestmark = pytest.mark.image

UV_TEST_IMAGE = "python-buildpack-tests/uv-exec-env-test:1"
VERSIONS = (
    "import importlib.metadata as m, sys; "
    "print(sys.prefix, m.version('bp-test-alpha'), m.version('bp-test-beta'))"
)


@pytest.fixture(scope="module")
def test_build(
    pack: Pack,
    builder: str,
    locked_package_index: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> PackResult:
    # uv_app's uv.lock names the index on its fixed port, hence the locked index.
    app = tmp_path_factory.mktemp("uv-exec-env") / "uv_app"
    shutil.copytree(FIXTURE_APPS / "uv_app", app)
    result = pack.build(
        UV_TEST_IMAGE,
        app,
        builder=builder,
        env=locked_package_index.pip_env,
        exec_env="test",
    )
    TIMINGS["pack build --exec-env test uv_app"] = result.seconds
    return result


def test_exec_env_test_installs_the_dev_group(
    test_build: PackResult, podman: PodmanService
) -> None:
    assert test_build.phase("DETECTING").split() == [BUILDPACK_ID, "0.1.0"], test_build.log
    build = test_build.phase("BUILDING")
    assert "Execution environment: test (CNB_EXEC_ENV)" in build, test_build.log
    assert "[Installing dependencies using uv]" in build
    assert "uv sync --locked --all-groups" in build
    assert layers_of(test_build.phase("EXPORTING"), "Adding") == {"python", "venv"}

    # The dev group's package is in the image's venv, next to the main dependencies.
    code, out = run_app(podman, UV_TEST_IMAGE, ["python", "-c", VERSIONS])
    assert (code, out.split()) == (0, [f"{LAYERS}/venv", "1.0.0", "1.0.0"]), out

    # The venv layer's metadata, as the lifecycle exported it, says what it was built for: a
    # production build restoring it would discard it.
    metadata = json.loads(podman.image_labels(UV_TEST_IMAGE)["io.buildpacks.lifecycle.metadata"])
    (ours,) = [bp for bp in metadata["buildpacks"] if bp["key"] == BUILDPACK_ID]
    assert ours["layers"]["venv"]["data"]["exec_env"] == "test", ours["layers"]["venv"]
