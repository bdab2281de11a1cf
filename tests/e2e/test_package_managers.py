"""uv, Poetry and Pipenv apps under the real lifecycle: build, launch, rebuild, relock, fail.

Each fixture app has a lock file made by the pinned tool against the local package index on its
fixed port (tests/fixtures/apps/relock.py), so the builds install from 127.0.0.1 only.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BUILDPACK_ID, FIXTURE_APPS, FIXTURE_BUILDPACKS, LAYERS
from tests.harness.lifecycle import BuildpackRef, BuildResult, PhaseFailed, Platform, free_port

pytestmark = pytest.mark.e2e

# tool → (fixture app, the edit that makes its lock file stale, the tool's words about it, fix)
TOOLS: dict[str, tuple[str, tuple[str, str, str], str, str]] = {
    "uv": (
        "uv_app",
        ("pyproject.toml", '"bp-test-alpha==1.0.0"', '"bp-test-alpha==1.1.0"'),
        "The lockfile at `uv.lock` needs to be updated",
        "Run 'uv lock' and commit the uv.lock",
    ),
    "poetry": (
        "poetry_app",
        ("pyproject.toml", '"bp-test-alpha==1.0.0"', '"bp-test-alpha==1.1.0"'),
        "pyproject.toml changed significantly since poetry.lock",
        "Run 'poetry lock' and commit the poetry.lock",
    ),
    "pipenv": (
        "pipenv_app",
        ("Pipfile", 'bp-test-alpha = "==1.0.0"', 'bp-test-alpha = "==1.1.0"'),
        "Pipfile.lock is out-of-date",
        "Run 'pipenv lock' and commit the Pipfile.lock",
    ),
}


def serve(platform: Platform, result: BuildResult) -> Any:
    port = free_port()
    command = ["bash", "-c", "exec gunicorn --bind 127.0.0.1:$PORT app:app"]
    with platform.launch(result, command=command, env={"PORT": str(port)}) as proc:
        proc.wait_for_port(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            return json.loads(response.read())


def launch_layers(result: BuildResult) -> set[str]:
    return {key.split(":", 1)[1] for key in result.layer_digests if key.startswith(BUILDPACK_ID)}


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_lock_file_app_builds_runs_reuses_and_relocks(
    tool: str,
    make_platform: Any,
    packaged_buildpack: Any,
    locked_package_index: Any,
    tmp_path: Path,
    cache_dir: Path,
) -> None:
    name, (stale_file, old, new), tool_message, fix = TOOLS[tool]
    platform = make_platform([packaged_buildpack], env=locked_package_index.pip_env)
    app = tmp_path / name
    shutil.copytree(FIXTURE_APPS / name, app)

    first = platform.build(app, image=name, cache_dir=cache_dir)
    log = first.logs["builder"]
    display = {"uv": "uv", "poetry": "Poetry", "pipenv": "Pipenv"}[tool]
    assert f"[Installing {display}]" in log
    assert f"[Installing dependencies using {display}]" in log
    # The tool and the caches stay out of the image.
    assert launch_layers(first) == {"python", "venv"}
    answer = serve(platform, first)
    assert answer["flask"] == "3.1.3" and answer["alpha"] == "1.0.0"
    assert answer["beta_installed"] is False  # dev dependencies are not installed
    assert answer["prefix"] == f"{LAYERS}/venv"
    assert answer["base_prefix"] == f"{LAYERS}/python"
    assert answer["virtual_env"] == f"{LAYERS}/venv"
    assert not [p for p in answer["path"] if "site-packages" in p and "/venv/" not in p]
    if tool in ("uv", "poetry"):
        # A uv virtual project (no [build-system]) and a Poetry app with package-mode = false:
        # nothing of the project itself is in the venv.
        code = f"import importlib.metadata as m; m.version('{tool}-app')"
        exit_code, output = platform.run(first, command=["python", "-c", code])
        assert exit_code == 1 and "PackageNotFoundError" in output, output

    # Unchanged: the venv layer is reused as it is, the tool does not run.
    with locked_package_index.recording() as rec:
        second = platform.build(app, image=name, cache_dir=cache_dir, previous_image=name)
    log = second.logs["builder"]
    assert f"Using cached {display}" in log
    assert "Using cached virtual environment since" in log
    assert rec.requests == []
    assert second.layer_digest(BUILDPACK_ID, "venv") == first.layer_digest(BUILDPACK_ID, "venv")

    # A new lock file: the venv is rebuilt from scratch.
    for path in (FIXTURE_APPS / f"{name}_upgrade").iterdir():
        shutil.copy2(path, app / path.name)
    third = platform.build(app, image=name, cache_dir=cache_dir, previous_image=name)
    assert "Discarding cached virtual environment since:" in third.logs["builder"]
    assert third.layer_digest(BUILDPACK_ID, "venv") != first.layer_digest(BUILDPACK_ID, "venv")
    assert serve(platform, third)["alpha"] == "1.1.0"

    # A stale lock file fails the build with the tool's message and the fix; nothing exported.
    for path in (FIXTURE_APPS / name).iterdir():
        if path.is_file():
            shutil.copy2(path, app / path.name)
    stale = app / stale_file
    stale.write_text(stale.read_text().replace(old, new))
    with pytest.raises(PhaseFailed) as info:
        platform.build(app, image=f"{name}-stale", cache_dir=cache_dir, previous_image=name)
    failure = info.value
    assert failure.phase == "builder"
    assert tool_message in failure.output
    assert fix in failure.output
    assert "Traceback" not in failure.output
    assert not (platform.layout_repo / f"{name}-stale").exists()


@pytest.mark.parametrize("tool", ["uv", "poetry"])
def test_a_later_buildpack_runs_the_apps_package_manager_on_its_venv(
    tool: str,
    make_platform: Any,
    packaged_buildpack: Any,
    locked_package_index: Any,
    tmp_path: Path,
) -> None:
    # `uv run` / `poetry run` in a later buildpack use the app's venv with its Python and the
    # tool's cache layer: nothing made in the app dir, nothing downloaded but packages.
    later = BuildpackRef.from_dir(FIXTURE_BUILDPACKS / "uses-package-manager")
    platform = make_platform([packaged_buildpack, later], env=locked_package_index.pip_env)
    name = TOOLS[tool][0]
    app = tmp_path / name
    shutil.copytree(FIXTURE_APPS / name, app)
    result = platform.build(app, image=f"later-{tool}")
    assert [bp["id"] for bp in result.group["group"]] == [
        BUILDPACK_ID,
        "tests/uses-package-manager",
    ]
    log = result.logs["builder"].split("--- uses-package-manager ---", 1)[1]
    found = dict(
        line.partition("=")[::2] for line in log.split("--- end ---")[0].splitlines() if "=" in line
    )
    assert found["tool"] == f"{LAYERS}/{tool}/bin/{tool}"
    assert found["VIRTUAL_ENV"] == f"{LAYERS}/venv"
    assert found["prefix"] == f"{LAYERS}/venv"
    assert found["alpha"] == "1.0.0"
    assert found["dotvenv"] == "absent"
    if tool == "uv":
        assert found["UV_PROJECT_ENVIRONMENT"] == f"{LAYERS}/venv"
        assert found["UV_CACHE_DIR"] == f"{LAYERS}/uv-cache"
        assert found["UV_PYTHON_DOWNLOADS"] == "never"
        assert found["beta"] == "1.0.0"  # `uv pip install` went into the venv
    else:
        assert found["POETRY_CACHE_DIR"] == f"{LAYERS}/poetry-cache"
