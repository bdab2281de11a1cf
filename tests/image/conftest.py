"""Fixtures of the image tests: `pack` against a private podman engine's Docker API.

A session makes, once:
- an OCI registry on 127.0.0.1 (`crane registry serve`, `tests/harness/registry.py`) and a
  podman engine with its own storage under the session's tmp dir (`tests/harness/podman.py`),
  which reaches that registry over plain HTTP; both removed at the end: nothing of a run
  survives but the caches below;
- the base images, loaded from OCI layouts cached under ~/.cache/python-buildpack/: a Debian 12
  build image with a C toolchain and **no python3** (`tests/harness/images.py`) and the e2e
  tier's run image;
- the buildpack packaged with `tools/package.py`, listing the test CPython runtimes (served from
  127.0.0.1, which the build reaches through `pack build --network host`), then turned into a
  `.cnb` by `pack buildpack package --format file`;
- a builder, `pack builder create` of that `.cnb`, the base images and a lifecycle tarball of
  the pinned release (`tests/harness/pack.py`).

The apps are run by pytest-docker through Debian's `docker-compose` (v1, which talks to the
Docker API of `DOCKER_HOST`; podman-compose would bypass the API and the `docker compose` v2
plugin is not packaged in Debian 12).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.images import BaseImages, load_base_images
from tests.harness.lifecycle_install import ensure_lifecycle
from tests.harness.pack import Pack, PackResult, builder_toml, ensure_pack, lifecycle_tarball
from tests.harness.podman import PodmanService
from tests.harness.registry import Registry, ensure_crane

HERE = Path(__file__).resolve().parent
FIXTURE_APPS = HERE.parent / "fixtures" / "apps"
BUILDPACK_ID = "python-buildpack/python"
BUILDER = "python-buildpack-tests/builder:bookworm"
COMPOSE_FILE = HERE / "docker-compose.yml"

# Wall-clock times of the session's setup steps, reported at the end of the session.
TIMINGS: dict[str, float] = {}


class timed:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.start = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        TIMINGS[self.name] = time.monotonic() - self.start


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "image tier timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An OCI registry on a free loopback port (`crane registry serve`), for the session."""
    with timed("crane binary"):
        crane = ensure_crane()
    with Registry.start(tmp_path_factory.mktemp("registry"), crane) as served:
        yield served


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[PodmanService]:
    if os.geteuid() != 0:
        pytest.fail("the image tests run podman as root: run them as root")
    for tool in ("podman", "skopeo", "docker-compose", "debootstrap"):
        if shutil.which(tool) is None:
            pytest.fail(f"`{tool}` is missing: run `make system-deps`")
    start = time.monotonic()
    # The registry is known before the engine starts: its registries.conf names it insecure.
    with PodmanService.start(
        tmp_path_factory.mktemp("podman"), insecure_registries=[registry.host]
    ) as service:
        TIMINGS["podman service start"] = time.monotonic() - start
        yield service


@pytest.fixture(scope="session")
def pack(podman: PodmanService, tmp_path_factory: pytest.TempPathFactory) -> Pack:
    with timed("pack binary"):
        binary = ensure_pack()
    return Pack(binary, podman, home=tmp_path_factory.mktemp("pack-home"))


@pytest.fixture(scope="session")
def base_images(podman: PodmanService) -> BaseImages:
    with timed("base images (make if uncached, load into podman)"):
        return load_base_images(podman)


@pytest.fixture(scope="session")
def image_buildpack(
    tmp_path_factory: pytest.TempPathFactory, runtimes: list[Any], python_mirror: Any
) -> Path:
    """The packaged buildpack (its own runtime/ and vendor/), listing the test runtimes."""
    from tests.harness.buildpack_dir import make_buildpack_dir
    from tools.package import package_buildpack

    runtime = max(
        (r for r in runtimes if r.minor == "3.13"),
        key=lambda r: tuple(int(p) for p in r.version.split(".")),
    )
    work = tmp_path_factory.mktemp("image-package")
    with timed("tools/package.py"):
        packaged = package_buildpack(runtime.arch, runtime.archive_path, work / "build")
    return make_buildpack_dir(
        work / "python-buildpack", runtimes, python_mirror.url, source=packaged.dir, copy=True
    )


@pytest.fixture(scope="session")
def buildpack_cnb(pack: Pack, image_buildpack: Path) -> Path:
    """`pack buildpack package --format file` of the packaged buildpack."""
    output = image_buildpack.parent / "python-buildpack.cnb"
    with timed("pack buildpack package --format file"):
        pack.package_buildpack(image_buildpack, output)
    assert output.is_file(), f"pack did not write {output}"
    return output


@pytest.fixture(scope="session")
def builder(pack: Pack, base_images: BaseImages, buildpack_cnb: Path) -> str:
    from tools.package import buildpack_version

    with timed("lifecycle tarball"):
        tarball = lifecycle_tarball(ensure_lifecycle())
    config = buildpack_cnb.parent / "builder.toml"
    config.write_text(
        builder_toml(
            buildpack_uri=buildpack_cnb.as_uri(),
            buildpack_id=BUILDPACK_ID,
            buildpack_version=buildpack_version(),
            build_image=base_images.build,
            run_image=base_images.run,
            lifecycle_uri=tarball.as_uri(),
        ),
        encoding="utf-8",
    )
    with timed("pack builder create"):
        pack.create_builder(config, BUILDER)
    return BUILDER


# --- pytest-docker ----------------------------------------------------------------------------
# Its `docker_services` fixture runs compose up/down around the session (it is session-scoped):
# the image a test wants to run is chosen through `APP_IMAGE`, which the first test to ask for
# `docker_services` must have built. Tests that need their own container use `compose_app`.

FLASK_IMAGE = "python-buildpack-tests/flask:1"


@pytest.fixture(scope="session")
def flask_build(
    pack: Pack, builder: str, package_index: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, PackResult]]:
    app = tmp_path_factory.mktemp("flask-app") / "flask_gunicorn"
    shutil.copytree(FIXTURE_APPS / "flask_gunicorn", app)
    result = pack.build(FLASK_IMAGE, app, builder=builder, env=package_index.pip_env)
    TIMINGS["pack build flask_gunicorn (first)"] = result.seconds
    yield app, result


@pytest.fixture(scope="session")
def docker_compose_file() -> list[str]:
    return [str(COMPOSE_FILE)]


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"pbtests{os.getpid()}"


@pytest.fixture(scope="session")
def docker_compose_command(podman: PodmanService, flask_build: Any) -> str:
    # pytest-docker runs this through a shell; the env is the engine's, not the host's Docker.
    return f"env DOCKER_HOST={podman.docker_host} APP_IMAGE={FLASK_IMAGE} docker-compose"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    # `up --wait` is compose v2 only; the tests wait for the health check themselves.
    return ["up -d"]
