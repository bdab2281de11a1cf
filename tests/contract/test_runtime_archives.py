"""The cached test runtimes, fetched through the local mirror the way a build fetches them.

The first run builds the archives (minutes per version); later runs reuse
~/.cache/python-buildpack/runtimes-v<N>/ (N: `runtimes.RECIPE_VERSION`).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib
from tests.harness.http_server import FileServer
from tests.harness.runtimes import BuiltRuntime, ensure_runtimes, write_test_manifest

CLEAN_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def runtimes() -> list[BuiltRuntime]:
    return ensure_runtimes()


def test_runtimes_cover_two_minors_and_two_patches_of_one(runtimes: list[BuiltRuntime]) -> None:
    minors = {r.minor for r in runtimes}
    assert {"3.11", "3.13"} <= minors
    assert any(sum(r.minor == m for r in runtimes) >= 2 for m in minors)


def test_each_runtime_downloads_and_runs_from_the_mirror(
    runtimes: list[BuiltRuntime], tmp_path: Path
) -> None:
    root = runtimes[0].archive_path.parent
    with FileServer(root) as srv:
        manifest = write_test_manifest(runtimes, srv.url, tmp_path / "python-versions.toml")
        releases = tomllib.loads(manifest.read_text())["releases"]
        assert len(releases) == len(runtimes)
        for release in releases:
            target = tmp_path / release["version"]
            target.mkdir()
            archive = target / "python.tar.gz"
            with urllib.request.urlopen(release["url"], timeout=30) as response:
                archive.write_bytes(response.read())
            assert hashlib.sha256(archive.read_bytes()).hexdigest() == release["sha256"]
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
            python = target / "python" / "bin" / "python3"
            out = subprocess.run(
                [str(python), "-c", "import sys, ssl, sqlite3; print(sys.version.split()[0])"],
                capture_output=True,
                text=True,
                env=CLEAN_ENV,
                check=True,
            ).stdout
            assert out.strip() == release["version"]
            subprocess.run(
                [str(python), "-m", "venv", "--without-pip", str(target / "venv")],
                env=CLEAN_ENV,
                check=True,
            )
            assert (target / "venv" / "bin" / "python").exists()
        assert sorted(srv.requests) == sorted(f"/{r.filename}" for r in runtimes)
