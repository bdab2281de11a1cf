"""Fixtures of the end-to-end tests: the CNB lifecycle platform (tests/harness/lifecycle.py).

The session fixtures install the pinned lifecycle and make the Debian 12 run image on first use
(cached under ~/.cache/python-buildpack/, ~0.3 s when cached), so `make test` needs nothing done
by hand. The harness uses mount namespaces, overlayfs and chroot: it needs root.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.harness.lifecycle import BuildpackRef, Platform, PlatformFactory
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
