"""Session fixtures shared by the contract and end-to-end tiers.

Heavy artifacts (CPython archives, the lifecycle, the run image, the package index) are built
once per machine and cached under ~/.cache/python-buildpack/; here they are only served.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness.buildpack_dir import make_buildpack_dir
from tests.harness.http_server import FileServer
from tests.harness.package_index import (
    PackageIndex,
    serve_locked_package_index,
    serve_package_index,
)
from tests.harness.runtimes import RUNTIMES_DIR, BuiltRuntime, ensure_runtimes

FIXTURE_APPS = Path(__file__).resolve().parent / "fixtures" / "apps"


@pytest.fixture(scope="session")
def runtimes() -> list[BuiltRuntime]:
    return ensure_runtimes()


@pytest.fixture(scope="session")
def python_mirror(runtimes: list[BuiltRuntime]) -> Iterator[FileServer]:
    with FileServer(RUNTIMES_DIR) as server:
        yield server


@pytest.fixture(scope="session")
def test_buildpack(
    tmp_path_factory: pytest.TempPathFactory,
    runtimes: list[BuiltRuntime],
    python_mirror: FileServer,
) -> Path:
    root = tmp_path_factory.mktemp("buildpack")
    return make_buildpack_dir(root / "python-buildpack", runtimes, python_mirror.url)


def runtime_by_minor(runtimes: list[BuiltRuntime], minor: str) -> BuiltRuntime:
    matching = [r for r in runtimes if r.minor == minor]
    if not matching:
        raise LookupError(f"no test runtime for Python {minor}")
    return matching[-1]


@pytest.fixture(scope="session")
def package_index() -> Iterator[PackageIndex]:
    yield from serve_package_index()


@pytest.fixture(scope="module")
def locked_package_index() -> Iterator[PackageIndex]:
    """The index on its fixed port, for fixture apps whose committed lock files name it."""
    yield from serve_locked_package_index()


@pytest.fixture
def fixture_app(tmp_path: Path) -> Callable[[str], Path]:
    """`fixture_app("flask_gunicorn")`: a writable copy of tests/fixtures/apps/<name>."""

    def copy(name: str) -> Path:
        dest = tmp_path / "apps" / name
        shutil.copytree(FIXTURE_APPS / name, dest)
        return dest

    return copy
