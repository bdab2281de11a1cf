"""An air-gapped build: the offline package (`tools/package.py --offline`) carries its CPython,
and the build runs in a network namespace with only loopback, installing the app's
dependencies from a package index served inside that namespace.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LAYERS
from tests.harness.lifecycle import BuildpackRef
from tests.harness.lifecycle_install import LifecycleBinaries
from tests.harness.lifecycle_run_image import RunImage
from tests.harness.phases import REPO

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def offline_buildpack(
    packaged_buildpack: BuildpackRef, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The packaged buildpack with the test CPython 3.13 bundled (downloaded from the test
    mirror while the network is still there)."""
    from python_buildpack.output import Log
    from tools.package import bundle_python_archives
    from tools.runtime_builder import host_arch

    work = tmp_path_factory.mktemp("offline")
    dest = work / "python-buildpack"
    shutil.copytree(packaged_buildpack.path, dest, symlinks=True)
    bundled = bundle_python_archives(
        dest, host_arch(), ["3.13"], Log(), cache=work / "download-cache"
    )
    assert [b.version[:4] for b in bundled] == ["3.13"]
    return dest


def test_offline_package_builds_without_any_network(
    offline_buildpack: Path,
    fixture_app: Any,
    tmp_path: Path,
    lifecycle_binaries: LifecycleBinaries,
    run_image: RunImage,
    package_index: Any,
    python_mirror: Any,
) -> None:
    # The lifecycle, the run image and the index tree are cached by the fixtures above: the
    # namespace needs nothing from outside. The mirror the manifest names is the host's.
    request = {
        "buildpack": str(offline_buildpack),
        "app": str(fixture_app("flask_gunicorn")),
        "work": str(tmp_path / "platform"),
        "unreachable": python_mirror.url + "/",
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    proc = subprocess.run(
        [
            "unshare",
            "--net",
            "--",
            sys.executable,
            "-m",
            "tests.harness.offline_build",
            str(tmp_path / "request.json"),
            str(tmp_path / "result.json"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["error"] is None, result.get("build_log", "") + str(result["error"])

    # No network but loopback: the mirror in the manifest cannot be reached from there.
    assert result["interfaces"] == ["lo"]
    assert "Connection refused" in result["unreachable_error"], result["unreachable_error"]
    log = result["build_log"]
    assert "from the archive bundled in the buildpack" in log, log
    assert "Installing dependencies using pip" in log
    answer = result["answer"]
    assert answer["app"] == "flask_gunicorn"
    assert answer["flask"] == "3.1.3"
    assert answer["prefix"] == f"{LAYERS}/venv"
    assert answer["base_prefix"] == f"{LAYERS}/python"
