from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.phases import Workspace


@pytest.fixture
def ws(tmp_path: Path, test_buildpack: Path) -> Workspace:
    """A workspace whose buildpack lists the test runtimes served from 127.0.0.1."""
    return Workspace(tmp_path, buildpack_dir=test_buildpack)
