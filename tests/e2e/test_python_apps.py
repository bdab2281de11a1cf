"""The packaged buildpack under the real CNB lifecycle: build, export, launch, rebuild."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BUILDPACK_ID, FIXTURE_BUILDPACKS, LAYERS
from tests.harness.lifecycle import BuildpackRef, BuildResult, PhaseFailed, Platform, free_port

pytestmark = pytest.mark.e2e

SERVE_WSGI = ["python", "app.py"]


def get(port: int, path: str = "/") -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def serve(platform: Platform, result: BuildResult, command: list[str], path: str = "/") -> Any:
    port = free_port()
    with platform.launch(result, command=command, env={"PORT": str(port)}) as proc:
        proc.wait_for_port(port)
        return get(port, path)


def gunicorn(port_var: str = "$PORT") -> list[str]:
    # Through a shell so $PORT expands the way a Procfile command would.
    return ["bash", "-c", f"exec gunicorn --bind 127.0.0.1:{port_var} app:app"]


def launch_layers(result: BuildResult) -> set[str]:
    return {key.split(":", 1)[1] for key in result.layer_digests if key.startswith(BUILDPACK_ID)}


def test_flask_app_builds_runs_and_rebuilds_from_cache(
    python_platform: Any, fixture_app: Any, cache_dir: Path, package_index: Any
) -> None:
    platform = python_platform()
    app = fixture_app("flask_gunicorn")
    first = platform.build(app, image="flask", cache_dir=cache_dir)

    # Detection chose this buildpack alone, and it asked the plan for what it provides.
    assert [bp["id"] for bp in first.group["group"]] == [BUILDPACK_ID]
    assert BUILDPACK_ID in first.logs["detector"]
    planned = {req["name"] for entry in first.plan["entries"] for req in entry["requires"]}
    assert planned == {"cpython", "pip", "venv"}
    log = first.logs["builder"]
    for header in (
        "[Reading the app's configuration]",
        "[Installing Python]",
        "[Installing pip]",
        "[Installing dependencies using pip]",
    ):
        assert header in log
    assert "Python 3.13" in log and "requested in .python-version" in log
    assert "Every installed package is pinned" in log

    # One image layer per launch layer; pip and the caches stay out of the image.
    assert launch_layers(first) == {"python", "venv"}

    answer = serve(platform, first, gunicorn(), "/")
    assert answer["flask"] == "3.1.3"
    assert answer["prefix"] == f"{LAYERS}/venv"
    assert answer["base_prefix"] == f"{LAYERS}/python"
    assert not [p for p in answer["path"] if "site-packages" in p and "/venv/" not in p]

    env = serve(platform, first, gunicorn(), "/env")
    assert env["VIRTUAL_ENV"] == f"{LAYERS}/venv"
    assert env["PATH"].split(":")[0] == f"{LAYERS}/venv/bin"
    assert env["PYTHONUNBUFFERED"] == "1"
    for build_only in (
        "PIP_PYTHON",
        "SOURCE_DATE_EPOCH",
        "PIP_CACHE_DIR",
        "PYTHONUSERBASE",
        "PIP_INDEX_URL",
        "PIP_TRUSTED_HOST",
        "CPATH",
    ):
        assert build_only not in env, build_only
    assert not any("/pip/" in part or part.endswith("/pip/bin") for part in env["PATH"].split(":"))

    # Rebuild, unchanged: both launch layers are reused as they are, pip does not run.
    with package_index.recording() as rec:
        second = platform.build(app, image="flask", cache_dir=cache_dir, previous_image="flask")
    log = second.logs["builder"]
    assert "Using cached Python 3.13" in log and " from the previous image" in log
    assert "Using cached virtual environment since" in log
    assert "Running 'pip install" not in log
    assert rec.requests == []
    # Python's files are never cached: the cache restores the archive (one file) instead.
    assert f'Restoring data for "{BUILDPACK_ID}:python"' not in second.logs["restorer"]
    assert f'Restoring data for "{BUILDPACK_ID}:python-archive"' in second.logs["restorer"]
    for layer in ("python", "venv"):
        assert second.layer_digest(BUILDPACK_ID, layer) == first.layer_digest(BUILDPACK_ID, layer)
    assert serve(platform, second, gunicorn())["flask"] == "3.1.3"

    # The image already held the venv as it was: the second build left it to it (out of the
    # cache). The third restores only its metadata, and the exporter takes the previous
    # image's layer as it is; Python's likewise, its archive cached for a dependency change.
    third = platform.build(app, image="flask", cache_dir=cache_dir, previous_image="flask")
    log = third.logs["builder"]
    assert "Using cached Python 3.13" in log and " from the previous image" in log
    assert "Using cached virtual environment from the previous image since" in log
    assert f'Restoring data for "{BUILDPACK_ID}:venv"' not in third.logs["restorer"]
    assert f'Restoring data for "{BUILDPACK_ID}:python"' not in third.logs["restorer"]
    assert f'Restoring data for "{BUILDPACK_ID}:python-archive"' in third.logs["restorer"]
    for layer in ("python", "venv"):
        assert f"Reusing layer '{BUILDPACK_ID}:{layer}'" in third.logs["exporter"]
        assert third.layer_digest(BUILDPACK_ID, layer) == first.layer_digest(BUILDPACK_ID, layer)
    assert launch_layers(third) == {"python", "venv"}
    assert serve(platform, third, gunicorn())["flask"] == "3.1.3"


def layer_files(build: BuildResult, layer: str) -> dict[Path, bytes]:
    root = build.layers_dir / LAYERS.rsplit("/", 1)[1] / layer
    return {path.relative_to(root): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_changed_python_version_and_pin_under_the_lifecycle(
    python_platform: Any, fixture_app: Any, cache_dir: Path, package_index: Any, runtimes: Any
) -> None:
    platform = python_platform()
    app = fixture_app("pyproject_only")
    (app / "requirements.txt").write_text("bp-test-alpha==1.0.0\nbp-test-beta==1.0.0\n")
    versions = sorted(
        (r.version for r in runtimes if r.minor == "3.13"),
        key=lambda v: tuple(map(int, v.split("."))),
    )
    (app / ".python-version").write_text(versions[0] + "\n")
    first = platform.build(app, image="pins", cache_dir=cache_dir)
    assert serve(platform, first, SERVE_WSGI)["alpha"] == "1.0.0"

    # A pin changes: the venv is rebuilt from the pip cache, only the new wheel is downloaded.
    (app / "requirements.txt").write_text("bp-test-alpha==1.1.0\n")
    with package_index.recording() as rec:
        second = platform.build(app, image="pins", cache_dir=cache_dir, previous_image="pins")
    log = second.logs["builder"]
    assert "Discarding cached virtual environment since:" in log
    assert "The requirements changed" in log
    assert all("bp_test_alpha-1.1.0" in path for path in rec.file_requests()), rec.file_requests()
    # Python's files came from the cached archive, not the cache's copy of the layer nor a
    # download, and make the same layer again.
    assert f'Restoring data for "{BUILDPACK_ID}:python"' not in second.logs["restorer"]
    assert (
        f"Installing Python {versions[0]} from the build cache, since the dependencies are "
        "installed with it"
    ) in log
    assert second.layer_digest(BUILDPACK_ID, "python") == first.layer_digest(BUILDPACK_ID, "python")
    # The cached pip layer is pip as one zip file with its bytecode (two files to restore):
    # pip ran from it and wrote nothing, so the restored layer is the first build's.
    pip_layer = second.layers_dir / LAYERS.rsplit("/", 1)[1] / "pip"
    (site,) = (pip_layer / "lib").glob("python3.*/site-packages")
    assert sorted(p.name for p in site.iterdir()) == ["pip-26.3.dist-info", "pip.pth", "pip.zip"]
    assert layer_files(second, "pip") == layer_files(first, "pip")
    exit_code, output = platform.run(
        second,
        command=["python", "-c", "import importlib.util as u; print(u.find_spec('bp_test_beta'))"],
    )
    assert exit_code == 0 and output.strip().endswith("None")

    if len(versions) > 1:
        # The Python patch changes: the python layer is reinstalled, and says why.
        (app / ".python-version").write_text(versions[-1] + "\n")
        third = platform.build(app, image="pins", cache_dir=cache_dir, previous_image="pins")
        log = third.logs["builder"]
        assert f"Discarding cached Python {versions[0]} since:" in log
        assert f"The Python version changed from {versions[0]} to {versions[-1]}" in log
        assert third.layer_digest(BUILDPACK_ID, "python") != first.layer_digest(
            BUILDPACK_ID, "python"
        )


def test_unpinned_requirements_keep_python_in_the_cache_under_the_lifecycle(
    python_platform: Any, fixture_app: Any, cache_dir: Path
) -> None:
    """Unpinned requirements are installed on every build, with Python: the restorer brings its
    files back beside the other layers, so no build unpacks it from the archive."""
    platform = python_platform()
    app = fixture_app("pyproject_only")
    (app / "requirements.txt").write_text("bp-test-alpha\n")
    first = platform.build(app, image="unpinned", cache_dir=cache_dir)
    assert serve(platform, first, SERVE_WSGI)["alpha"]
    second = platform.build(app, image="unpinned", cache_dir=cache_dir, previous_image="unpinned")
    log = second.logs["builder"]
    assert f'Restoring data for "{BUILDPACK_ID}:python"' in second.logs["restorer"]
    assert "Running 'pip install" in log
    assert re.search(r"Using cached Python 3\.\d+\.\d+\n", log), log
    assert "from the build cache" not in log
    assert second.layer_digest(BUILDPACK_ID, "python") == first.layer_digest(BUILDPACK_ID, "python")
    assert serve(platform, second, SERVE_WSGI)["alpha"]


@pytest.mark.parametrize(("name", "minor"), [("stdlib_311", "3.11"), ("stdlib_313", "3.13")])
def test_python_version_file_picks_the_runtime(
    python_platform: Any, fixture_app: Any, name: str, minor: str
) -> None:
    platform = python_platform()
    result = platform.build(fixture_app(name), image=name)
    answer = serve(platform, result, SERVE_WSGI)
    assert answer["python"].startswith(minor + ".")
    assert answer["prefix"] == f"{LAYERS}/venv"


def test_c_extension_from_sdist(python_platform: Any, fixture_app: Any) -> None:
    platform = python_platform()
    result = platform.build(fixture_app("c_extension"), image="cext")
    answer = serve(platform, result, SERVE_WSGI)
    assert answer["sum"] == 42
    assert answer["module"].startswith(f"{LAYERS}/venv/")


def test_pyproject_only_app(python_platform: Any, fixture_app: Any) -> None:
    platform = python_platform()
    result = platform.build(fixture_app("pyproject_only"), image="pyproject")
    assert "the dependencies in pyproject.toml" in result.logs["builder"]
    assert serve(platform, result, SERVE_WSGI) == {"alpha": "1.1.0"}


def test_console_script_works_after_export(python_platform: Any, fixture_app: Any) -> None:
    platform = python_platform()
    app = fixture_app("stdlib_313")
    (app / "requirements.txt").write_text("bp-test-script==1.0.0\n")
    result = platform.build(app, image="script")
    exit_code, output = platform.run(result, command=["bp-test-script"])
    assert exit_code == 0, output
    assert f"{LAYERS}/venv" in output


@pytest.mark.parametrize(
    ("name", "phase", "message"),
    [
        ("fail_no_package_manager", "builder", "No Python package manager files found"),
        ("fail_bad_python_version", "builder", "python-3.13"),
        ("fail_unknown_python_version", "builder", "3.99"),
        ("fail_broken_requirement", "builder", "bp-test-does-not-exist"),
    ],
)
def test_failing_apps_export_nothing(
    python_platform: Any, fixture_app: Any, name: str, phase: str, message: str
) -> None:
    platform = python_platform()
    with pytest.raises(PhaseFailed) as info:
        platform.build(fixture_app(name), image=name)
    failure = info.value
    assert failure.phase == phase
    assert message in failure.output
    assert "! ERROR:" in failure.output
    assert "Traceback" not in failure.output
    assert "exporter" not in failure.logs
    assert not (platform.layout_repo / name).exists()


def test_a_later_buildpack_uses_our_python_and_pip(python_platform: Any, fixture_app: Any) -> None:
    needs_python = BuildpackRef.from_dir(FIXTURE_BUILDPACKS / "needs-python")
    platform = python_platform(extra=[needs_python])
    app = fixture_app("stdlib_313")
    (app / "requirements.txt").write_text("bp-test-alpha==1.1.0\n")
    result = platform.build(app, image="group")
    assert [bp["id"] for bp in result.group["group"]] == [BUILDPACK_ID, "tests/needs-python"]
    required = {req["name"] for entry in result.plan["entries"] for req in entry["requires"]}
    assert "cpython" in required
    log = result.logs["builder"].split("--- needs-python ---", 1)[1]
    assert f"python={LAYERS}/venv/bin/python" in log
    assert f"pip={LAYERS}/pip/bin/pip" in log
    assert f"VIRTUAL_ENV={LAYERS}/venv" in log
    assert f"PIP_PYTHON={LAYERS}/venv" in log
    assert f"PIP_CACHE_DIR={LAYERS}/pip-cache" in log
    assert f"sys.prefix={LAYERS}/venv" in log
    assert "alpha=1.1.0" in log
    assert "listed=bp-test-alpha==1.1.0" in log
