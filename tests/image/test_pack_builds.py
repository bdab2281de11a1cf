"""The packaged buildpack in a builder made by `pack`, building and running app images on podman.

The builder's build image has no python3 at all: detect and build run on the buildpack's own
runtime. The Flask app runs under pytest-docker (compose file in this directory).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.harness.pack import Pack, PackResult
from tests.harness.podman import PodmanService
from tests.image.conftest import BUILDPACK_ID, FLASK_IMAGE, TIMINGS

pytestmark = pytest.mark.image

LAYERS = "/layers/python-buildpack_python"
CEXT_IMAGE = "localhost/python-buildpack-tests/cext:1"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def responds(url: str) -> bool:
    try:
        get_json(url)
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return True


def step_log(log: str, phase: str) -> str:
    """The lines pack prints for one lifecycle phase (`[detector] ...`), prefixes removed."""
    prefix = f"[{phase}] "
    return "\n".join(
        line.split(prefix, 1)[1] for line in log.splitlines() if prefix in line
    )


def reused_layers(log: str) -> set[str]:
    """Layers of our buildpack the exporter took unchanged from the previous image."""
    return set(re.findall(r"Reusing layer '" + re.escape(BUILDPACK_ID) + r":([\w-]+)'", log))


def test_builder_has_no_python_yet_detect_and_build_run(
    podman: PodmanService, builder: str, flask_build: tuple[Path, PackResult]
) -> None:
    # Nothing named python* on the build image's PATH, as the build user sees it.
    probe = podman.run_container(
        builder,
        ["-c", "for d in $(echo $PATH | tr : ' '); do ls $d/python* 2>/dev/null; done; "
         "command -v python3 python; id -u"],
        entrypoint="/bin/sh",
    )
    assert probe.stdout.strip() == "1001", probe.stdout + probe.stderr

    _, result = flask_build
    detect = step_log(result.log, "detector")
    assert f"{BUILDPACK_ID}" in detect, result.log
    build = step_log(result.log, "builder")
    for header in ("[Installing Python]", "[Installing dependencies using pip]"):
        assert header in build, result.log
    assert "Python 3.13" in build
    labels = podman.image_labels(FLASK_IMAGE)
    metadata = json.loads(labels["io.buildpacks.build.metadata"])
    assert [bp["id"] for bp in metadata["buildpacks"]] == [BUILDPACK_ID]


def test_flask_app_runs_under_compose(
    docker_services: Any, docker_ip: str, podman: PodmanService
) -> None:
    port = docker_services.port_for("web", 8080)
    url = f"http://{docker_ip}:{port}/"
    docker_services.wait_until_responsive(lambda: responds(url), timeout=60, pause=0.5)
    answer = get_json(url)
    assert answer["app"] == "flask_gunicorn"
    assert answer["flask"] == "3.1.3"
    assert answer["prefix"] == f"{LAYERS}/venv"
    assert answer["base_prefix"] == f"{LAYERS}/python"
    env = get_json(url + "env")
    assert env["PORT"] == "8080"
    assert env["VIRTUAL_ENV"] == f"{LAYERS}/venv"
    # the compose file's health check passes inside the container
    containers = podman.podman(
        "ps", "--filter", f"ancestor={FLASK_IMAGE}", "--format", "{{.ID}}"
    ).stdout.split()
    assert len(containers) == 1
    health = podman.podman("healthcheck", "run", containers[0], check=False)
    assert health.returncode == 0, health.stdout + health.stderr


def test_rebuild_reuses_the_cache(
    pack: Pack, builder: str, package_index: Any, flask_build: tuple[Path, PackResult],
    podman: PodmanService,
) -> None:
    app, first = flask_build
    with package_index.recording() as rec:
        second = pack.build(FLASK_IMAGE, app, builder=builder, env=package_index.pip_env)
    TIMINGS["pack build flask_gunicorn (rebuild)"] = second.seconds
    build = step_log(second.log, "builder")
    assert "Using cached Python 3.13" in build, second.log
    assert "Reusing the virtual environment from the previous build" in build
    assert "Running 'pip install" not in build
    assert rec.requests == []
    # the launch layers go into the new image unchanged
    assert {"python", "venv"} <= reused_layers(second.log), second.log
    run = podman.run_container(
        FLASK_IMAGE, ["python", "-c", "import flask, sys; print(flask.__name__, sys.prefix)"]
    )
    assert run.stdout.split() == ["flask", f"{LAYERS}/venv"], run.stdout + run.stderr


def test_c_extension_compiles_on_the_build_image(
    pack: Pack, builder: str, package_index: Any, fixture_app: Any, podman: PodmanService
) -> None:
    result = pack.build(
        CEXT_IMAGE, fixture_app("c_extension"), builder=builder, env=package_index.pip_env
    )
    TIMINGS["pack build c_extension"] = result.seconds
    run = podman.run_container(
        CEXT_IMAGE,
        ["python", "-c", "import bp_test_cext as m; print(m.add(40, 2), m.__file__)"],
    )
    out = run.stdout.split()
    assert out[0] == "42", run.stdout + run.stderr
    assert out[1].startswith(f"{LAYERS}/venv/") and out[1].endswith(".so")
