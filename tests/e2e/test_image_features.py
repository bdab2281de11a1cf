"""What the image carries besides the app: SBOMs of its layers and launch-time defaults.

One Flask + gunicorn app is built once, and rebuilt from the cache, for every test here:
- the SBOMs are read from the exported image (the lifecycle's SBOM layer), validated against
  the CycloneDX schema and compared with what the image's venv holds, after both builds;
- WEB_CONCURRENCY is set at launch by the python layer's exec.d program, through the image's
  real launcher, from made-up cgroup trees mounted at /sys/fs/cgroup (v2, then v1).
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packaging.utils import canonicalize_name

from tests.e2e.conftest import BUILDPACK_ID, FIXTURE_APPS
from tests.harness.lifecycle import BuildResult, Platform, free_port

pytestmark = pytest.mark.e2e

SBOM_DIR = f"layers/sbom/launch/{BUILDPACK_ID.replace('/', '_')}"
MIB = 1024 * 1024
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted([d.metadata['Name'], d.version] for d in m.distributions())))"
)


@dataclass
class Builds:
    platform: Platform
    first: BuildResult
    second: BuildResult
    # The second build left the venv layer to the image: the third reuses it from there.
    third: BuildResult


@pytest.fixture(scope="module")
def builds(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Builds:
    """flask_gunicorn built, then rebuilt twice from the last image and the same cache."""
    base = tmp_path_factory.mktemp("image-features")
    app = base / "app"
    shutil.copytree(FIXTURE_APPS / "flask_gunicorn", app)
    cache = base / "cache"
    first = platform.build(app, image="features", cache_dir=cache)
    second = platform.build(app, image="features", cache_dir=cache, previous_image="features")
    third = platform.build(app, image="features", cache_dir=cache, previous_image="features")
    return Builds(platform, first, second, third)


def image_files(result: BuildResult, wanted: set[str]) -> dict[str, bytes]:
    """The files `wanted` (paths without the leading /) as the image's layers hold them."""
    found: dict[str, bytes] = {}
    for layer in result.image.layers:
        with tarfile.open(result.image.blob_path(layer.digest), "r:*") as tar:
            for member in tar:
                name = member.name.lstrip("./").lstrip("/")
                if name in wanted and member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    found[name] = extracted.read()  # a later layer wins, as in the image
    return found


def sboms(result: BuildResult) -> dict[str, dict[str, Any]]:
    paths = {f"{SBOM_DIR}/{layer}/sbom.cdx.json": layer for layer in ("python", "venv")}
    files = image_files(result, set(paths))
    assert set(files) == set(paths), f"SBOMs missing from the image: {set(paths) - set(files)}"
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    documents = {}
    for path, content in files.items():
        errors = validator.validate_str(content.decode())
        assert errors is None, f"{path}: {errors}"
        documents[paths[path]] = json.loads(content)
    return documents


def venv_distributions(builds: Builds, result: BuildResult) -> set[tuple[str, str]]:
    exit_code, output = builds.platform.run(result, command=["python", "-c", LIST_DISTRIBUTIONS])
    assert exit_code == 0, output
    listed = json.loads(output.strip().splitlines()[-1])
    return {(canonicalize_name(name), version) for name, version in listed}


@pytest.mark.parametrize("which", ["first", "second", "third"])
def test_sboms_in_the_image_match_the_venv(builds: Builds, which: str) -> None:
    result: BuildResult = getattr(builds, which)
    documents = sboms(result)

    (cpython,) = documents["python"]["components"]
    assert cpython["name"] == "CPython" and cpython["version"].startswith("3.13.")
    assert len(cpython["hashes"][0]["content"]) == 64

    venv = documents["venv"]
    listed = {(c["name"], c["version"]) for c in venv["components"]}
    assert listed == venv_distributions(builds, result)
    assert {c["purl"] for c in venv["components"]} >= {
        "pkg:pypi/flask@3.1.3",
        "pkg:pypi/gunicorn@27.0.1",
    }
    graph = {d["ref"]: set(d["dependsOn"]) for d in venv["dependencies"]}
    assert graph["pkg:pypi/flask@3.1.3"] >= {
        "pkg:pypi/werkzeug@3.1.9",
        "pkg:pypi/jinja2@3.1.6",
        "pkg:pypi/click@8.5.1",
    }
    assert graph["pkg:pypi/jinja2@3.1.6"] == {"pkg:pypi/markupsafe@3.0.4"}
    licensed = {c["name"] for c in venv["components"] if c.get("licenses")}
    assert "flask" in licensed and "gunicorn" in licensed


def test_rebuild_reuses_the_layers_and_keeps_their_sboms(builds: Builds) -> None:
    log = builds.second.logs["builder"]
    assert "Using cached Python" in log
    assert "Using cached virtual environment since" in log
    for layer in ("python", "venv"):
        assert builds.second.layer_digest(BUILDPACK_ID, layer) == builds.first.layer_digest(
            BUILDPACK_ID, layer
        )
    assert sboms(builds.second) == sboms(builds.first)
    # The venv taken from the previous image without its files: the same layers and SBOMs.
    assert "virtual environment from the previous image" in builds.third.logs["builder"]
    for layer in ("python", "venv"):
        assert builds.third.layer_digest(BUILDPACK_ID, layer) == builds.first.layer_digest(
            BUILDPACK_ID, layer
        )
    assert sboms(builds.third) == sboms(builds.first)


# --- WEB_CONCURRENCY --------------------------------------------------------------------------


def cgroup_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content + "\n")
    return root


@pytest.fixture
def cgroup_v2(tmp_path: Path) -> Path:
    # 1 CPU would give 3 workers; 512 MiB allows 2.
    return cgroup_tree(
        tmp_path / "cgroup-v2",
        {
            "cgroup.controllers": "cpuset cpu io memory pids",
            "cpu.max": "100000 100000",
            "memory.max": str(512 * MIB),
        },
    )


@pytest.fixture
def cgroup_v1(tmp_path: Path) -> Path:
    # Half a CPU gives 2 workers; 256 MiB allows 1.
    return cgroup_tree(
        tmp_path / "cgroup-v1",
        {
            "cpu,cpuacct/cpu.cfs_quota_us": "50000",
            "cpu,cpuacct/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": str(256 * MIB),
        },
    )


def get_json(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def test_inferred_gunicorn_runs_as_many_workers_as_the_limits_allow(
    builds: Builds, cgroup_v2: Path
) -> None:
    port = free_port()
    with builds.platform.launch(
        builds.first, env={"PORT": str(port)}, binds={"/sys/fs/cgroup": cgroup_v2}
    ) as proc:
        proc.wait_for_port(port)
        env = get_json(port, "/env")
        assert env["WEB_CONCURRENCY"] == "2"
        assert env["PYTHONUNBUFFERED"] == "1"
        # gunicorn logs one line per worker it starts: it took WEB_CONCURRENCY as its count.
        booted = _wait_for(lambda: proc.output.count("Booting worker with pid"), 2)
        assert booted == 2, proc.output


def _wait_for(read: Callable[[], int], expected: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    value = read()
    while value < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    return value


def print_var(builds: Builds, binds: dict[str, Path], env: dict[str, str] | None = None) -> str:
    exit_code, output = builds.platform.run(
        builds.first,
        command=["python", "-c", "import os; print(os.environ.get('WEB_CONCURRENCY'))"],
        binds=binds,
        env=env,
    )
    assert exit_code == 0, output
    return output.strip().splitlines()[-1]


def test_cgroup_v1_limits(builds: Builds, cgroup_v1: Path) -> None:
    assert print_var(builds, {"/sys/fs/cgroup": cgroup_v1}) == "1"


def test_a_value_the_user_set_wins(builds: Builds, cgroup_v2: Path) -> None:
    assert print_var(builds, {"/sys/fs/cgroup": cgroup_v2}, {"WEB_CONCURRENCY": "7"}) == "7"
