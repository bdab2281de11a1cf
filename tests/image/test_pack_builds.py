"""The packaged buildpack in a builder made by `pack`, building and running app images on podman.

The builder's build image has no python3 at all: detect and build run on the buildpack's own
runtime. The Flask app runs its default process under pytest-docker (compose file here).
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
from tests.harness.podman import PodmanService, cli_ref
from tests.image.conftest import BUILDPACK_ID, FLASK_IMAGE, TIMINGS

pytestmark = pytest.mark.image

LAYERS = "/layers/python-buildpack_python"
CEXT_IMAGE = "python-buildpack-tests/cext:1"
# Lists what a build could run as python, as the build user on the build image's PATH.
FIND_PYTHON = (
    'IFS=:; for d in $PATH; do ls "$d"/python* 2>/dev/null; done; command -v python3 python; id -u'
)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def responds(url: str) -> bool:
    try:
        get_json(url)
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return True


def run_app(podman: PodmanService, image: str, command: list[str]) -> tuple[int, str]:
    """`command` in an app image, with the launch env (`launcher -- cmd`: run directly, instead
    of appended to the default process's arguments)."""
    proc = podman.run_container(image, ["--", *command], entrypoint="/cnb/lifecycle/launcher")
    return proc.returncode, proc.stdout + proc.stderr


def layers_of(log: str, verb: str) -> set[str]:
    """Layers of our buildpack the exporter says it is "Adding" or "Reusing"."""
    pattern = verb + r" layer '" + re.escape(BUILDPACK_ID) + r":([\w-]+)'"
    return set(re.findall(pattern, log))


def test_detect_and_build_run_on_a_build_image_without_python(
    podman: PodmanService, builder: str, flask_build: tuple[Path, PackResult]
) -> None:
    probe = podman.run_container(builder, ["-c", FIND_PYTHON], entrypoint="/bin/sh")
    assert probe.stdout.split() == ["1001"], probe.stdout + probe.stderr

    _, result = flask_build
    assert result.phase("DETECTING").split() == [BUILDPACK_ID, "0.1.0"], result.log
    build = result.phase("BUILDING")
    for header in (
        "[Installing Python]",
        "[Installing dependencies using pip]",
        "[Configuring processes]",
    ):
        assert header in build, result.log
    assert "Python 3.13" in build and "requested in .python-version" in build
    assert layers_of(result.phase("EXPORTING"), "Adding") == {"python", "venv"}
    metadata = json.loads(podman.image_labels(FLASK_IMAGE)["io.buildpacks.build.metadata"])
    assert [bp["id"] for bp in metadata["buildpacks"]] == [BUILDPACK_ID]
    assert [p["type"] for p in metadata["processes"]] == ["web"]


def test_flask_app_runs_its_web_process_under_compose(
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

    containers = podman.podman(
        "ps", "--filter", f"ancestor={cli_ref(FLASK_IMAGE)}", "--format", "{{.ID}}"
    ).stdout.split()
    assert len(containers) == 1
    # No command in the compose file: the launcher exec'd the default process, gunicorn.
    cmdline = podman.podman("exec", containers[0], "cat", "/proc/1/cmdline").stdout
    assert "gunicorn" in cmdline.split("\0")[1], cmdline
    # The compose file's health check passes in the running container.
    health = podman.podman("healthcheck", "run", containers[0], check=False)
    assert health.returncode == 0, podman.podman("inspect", containers[0]).stdout


def test_rebuild_reuses_the_cache(
    pack: Pack,
    builder: str,
    package_index: Any,
    flask_build: tuple[Path, PackResult],
    podman: PodmanService,
) -> None:
    app, _ = flask_build
    with package_index.recording() as rec:
        second = pack.build(FLASK_IMAGE, app, builder=builder, env=package_index.pip_env)
    TIMINGS["pack build flask_gunicorn (rebuild)"] = second.seconds
    build = second.phase("BUILDING")
    assert "Using cached Python 3.13" in build, second.log
    assert "Using cached virtual environment since" in build
    assert "Running 'pip install" not in build
    assert rec.requests == []
    # The launch layers go into the new image as they were.
    assert layers_of(second.phase("EXPORTING"), "Reusing") == {"python", "venv"}, second.log
    code, out = run_app(
        podman,
        FLASK_IMAGE,
        ["python", "-c", "import flask, sys; print(flask.__name__, sys.prefix)"],
    )
    assert (code, out.split()) == (0, ["flask", f"{LAYERS}/venv"]), out

    # The rebuild left the venv to the image it replaced (the daemon's, pack's previous
    # image): the next one restores only its metadata and the exporter reuses the layer.
    third = pack.build(FLASK_IMAGE, app, builder=builder, env=package_index.pip_env)
    TIMINGS["pack build flask_gunicorn (rebuild, venv from the image)"] = third.seconds
    build = third.phase("BUILDING")
    assert "Using cached Python 3.13" in build, third.log
    assert "Using cached virtual environment from the previous image since" in build
    assert 'Restoring data for "python-buildpack/python:venv"' not in third.log
    assert layers_of(third.phase("EXPORTING"), "Reusing") == {"python", "venv"}, third.log
    code, out = run_app(
        podman,
        FLASK_IMAGE,
        ["python", "-c", "import flask, sys; print(flask.__name__, sys.prefix)"],
    )
    assert (code, out.split()) == (0, ["flask", f"{LAYERS}/venv"]), out


def test_c_extension_compiles_on_the_build_image(
    pack: Pack, builder: str, package_index: Any, fixture_app: Any, podman: PodmanService
) -> None:
    with package_index.recording() as rec:
        result = pack.build(
            CEXT_IMAGE, fixture_app("c_extension"), builder=builder, env=package_index.pip_env
        )
    TIMINGS["pack build c_extension"] = result.seconds
    # Only the sdist exists: the .so below was compiled by the build image's gcc.
    downloads = [p.rsplit("/", 1)[-1] for p in rec.file_requests() if "cext" in p]
    assert downloads == ["bp_test_cext-1.0.0.tar.gz"], downloads
    code, out = run_app(
        podman,
        CEXT_IMAGE,
        ["python", "-c", "import bp_test_cext as m; print(m.add(40, 2), m.__file__)"],
    )
    words = out.split()
    assert (code, words[:1]) == (0, ["42"]), out
    assert words[1].startswith(f"{LAYERS}/venv/") and words[1].endswith(".so"), out
