"""Fixtures of the end-to-end tests: the CNB lifecycle platform (tests/harness/lifecycle.py).

The session fixtures install the pinned lifecycle and make the Debian 12 run image on first use
(cached under ~/.cache/python-buildpack/, ~0.3 s when cached), so `make test` needs nothing done
by hand. The harness uses mount namespaces, overlayfs and chroot: it needs root.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.harness.lifecycle import BuildpackRef, BuildResult, Platform, PlatformFactory
from tests.harness.lifecycle_install import LifecycleBinaries, ensure_lifecycle
from tests.harness.lifecycle_run_image import RunImage, ensure_run_image

FIXTURE_BUILDPACKS = Path(__file__).resolve().parents[1] / "fixtures" / "buildpacks"


@pytest.fixture(scope="session")
def lifecycle_binaries() -> LifecycleBinaries:
    if os.geteuid() != 0:
        pytest.fail("the e2e harness runs the lifecycle in mount namespaces: run the tests as root")
    return ensure_lifecycle()


@pytest.fixture(scope="session")
def run_image() -> RunImage:
    return ensure_run_image()


@pytest.fixture
def make_platform(
    tmp_path: Path, lifecycle_binaries: LifecycleBinaries, run_image: RunImage
) -> PlatformFactory:
    """`make_platform([BuildpackRef...], env=..., bindings=..., order=...)` → a Platform laid out
    under its own directory of tmp_path (call it again for a second, independent platform)."""
    count = 0

    def factory(buildpacks: Sequence[BuildpackRef], **kwargs: Any) -> Platform:
        nonlocal count
        count += 1
        kwargs.setdefault("run_image", run_image)
        kwargs.setdefault("lifecycle", lifecycle_binaries)
        return Platform.create(tmp_path / f"platform-{count}", buildpacks, **kwargs)

    return factory


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A build cache volume shared by the builds of one test."""
    return tmp_path / "cache"


@pytest.fixture
def hello_buildpack() -> BuildpackRef:
    return BuildpackRef.from_dir(FIXTURE_BUILDPACKS / "hello")


# --- python-buildpack under the lifecycle -----------------------------------------------------

FIXTURE_APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"
BUILDPACK_ID = "python-buildpack/python"
LAYERS = "/layers/python-buildpack_python"


@pytest.fixture(scope="session")
def packaged_buildpack(
    tmp_path_factory: pytest.TempPathFactory, runtimes: list[Any], python_mirror: Any
) -> BuildpackRef:
    """The buildpack as shipped (its own runtime/ and vendor/), listing the test runtimes.

    The lifecycle runs buildpacks as an unprivileged user on a build "image" with no Python of
    its own to offer, exactly the case the packaged runtime exists for.
    """
    from tests.harness.buildpack_dir import make_buildpack_dir
    from tests.harness.runtimes import BuiltRuntime
    from tools.package import package_buildpack

    runtime = max(
        (r for r in runtimes if isinstance(r, BuiltRuntime) and r.minor == "3.13"),
        key=lambda r: tuple(int(p) for p in r.version.split(".")),
    )
    work = tmp_path_factory.mktemp("package")
    packaged = package_buildpack(runtime.arch, runtime.archive_path, work / "build")
    bp_dir = make_buildpack_dir(
        work / "python-buildpack", runtimes, python_mirror.url, source=packaged.dir, copy=True
    )
    return BuildpackRef.from_dir(bp_dir)


@pytest.fixture
def python_platform(
    make_platform: PlatformFactory, packaged_buildpack: BuildpackRef, package_index: Any
) -> Any:
    """`python_platform(extra_buildpacks=(), env={})`: a platform whose builds install from the
    local package index."""

    def factory(extra: Sequence[BuildpackRef] = (), env: dict[str, str] | None = None) -> Platform:
        return make_platform(
            [packaged_buildpack, *extra], env={**package_index.pip_env, **(env or {})}
        )

    return factory


# --- one platform per module, for modules whose apps take long to build --------------------


@pytest.fixture(scope="module")
def module_index(package_index: Any) -> Any:
    """The package index the module's builds install from; a module overrides this fixture to
    use another (e.g. `locked_package_index` for fixture apps whose lock files name it)."""
    return package_index


@pytest.fixture(scope="module")
def platform(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    lifecycle_binaries: LifecycleBinaries,
    run_image: RunImage,
    packaged_buildpack: BuildpackRef,
    module_index: Any,
) -> Platform:
    """A platform shared by the tests of one module, building with the packaged buildpack."""
    return Platform.create(
        tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]),
        [packaged_buildpack],
        env=module_index.pip_env,
        run_image=run_image,
        lifecycle=lifecycle_binaries,
    )


@pytest.fixture(scope="module")
def builds(
    platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], BuildResult]:
    """`builds(name)`: the fixture app `name` built once per module, with a cache of its own."""
    results: dict[str, BuildResult] = {}
    apps = tmp_path_factory.mktemp("apps")

    def build(name: str) -> BuildResult:
        if name not in results:
            app = apps / name
            shutil.copytree(FIXTURE_APPS / name, app)
            results[name] = platform.build(
                app, image=name.replace("_", "-"), cache_dir=platform.base / "caches" / name
            )
        return results[name]

    return build
