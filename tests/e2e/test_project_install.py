"""The app's own package is importable in the launched image (issue 12, item 1).

Apps shaped like the ones the tools generate, in the src layout (so `import <pkg>` works only
when the package is really installed, not from the working directory): uv (`uv init --lib`) and
Poetry (`poetry new`) install them editable, pointing at /workspace, which must still resolve in
the image; pip installs a `[build-system]` project as a copy in the venv, console script
included; a Pipfile.lock with an editable `-e .` entry installs the app editable. Flat-layout
apps too (the code beside pyproject.toml): a pip package, and uv and Poetry projects whose
single module has a console script. Everything runs from `/`, so the code is found through the
venv, not the working directory. One build per app, shared by the assertions (module-scoped).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FIXTURE_APPS, LAYERS
from tests.harness.lifecycle import BuildResult, Platform

pytestmark = pytest.mark.e2e

SITE = f"{LAYERS}/venv/lib/python3.13/site-packages"
# app → (package, where its code runs from in the image, its console script if it declares one)
APPS: dict[str, tuple[str, str, str | None]] = {
    "uv_package_app": ("uv_package_app", "/workspace/src/uv_package_app", None),
    "poetry_package_app": ("poetry_package_app", "/workspace/src/poetry_package_app", None),
    "pip_package_app": ("pip_package_app", f"{SITE}/pip_package_app", "pip-package-app"),
    "pip_flat_app": ("pip_flat_app", f"{SITE}/pip_flat_app", "pip-flat-app"),
    "pipenv_editable_app": (
        "pipenv_editable_app",
        "/workspace/src/pipenv_editable_app",
        "pipenv-editable-app",
    ),
}
# Flat-layout projects with one top-level module (`hello_app.py`) and its `hello-app` script,
# installed editable by their tool.
SCRIPT_APPS = ["uv_scripts_app", "poetry_scripts_app"]


@pytest.fixture(scope="module")
def module_index(locked_package_index: Any) -> Any:
    """The fixture apps' lock files name the index on its fixed port."""
    return locked_package_index


@pytest.mark.parametrize("name", sorted(APPS))
def test_the_apps_package_is_importable_in_the_image(
    name: str, platform: Platform, builds: Callable[[str], BuildResult]
) -> None:
    package, location, script = APPS[name]
    result = builds(name)
    # From / (not the app dir): found through the venv, not the working directory.
    code = f"import {package}; print({package}.hello())"
    exit_code, output = platform.run(result, command=["bash", "-c", f"cd / && python -c '{code}'"])
    assert exit_code == 0, output
    assert output.strip().splitlines()[-1] == f"{location}/__init__.py bp-test-alpha=1.1.0"
    if script is not None:
        exit_code, output = platform.run(result, command=["bash", "-c", f"cd / && {script}"])
        assert exit_code == 0, output
        assert output.strip().splitlines()[-1] == f"{location}/__init__.py bp-test-alpha=1.1.0"


@pytest.mark.parametrize("name", SCRIPT_APPS)
def test_a_flat_layout_module_and_its_console_script_run_in_the_image(
    name: str, platform: Platform, builds: Callable[[str], BuildResult]
) -> None:
    result = builds(name)
    code = "import hello_app; print(hello_app.__file__)"
    exit_code, output = platform.run(result, command=["bash", "-c", f"cd / && python -c '{code}'"])
    assert exit_code == 0, output
    assert output.strip().splitlines()[-1] == "/workspace/hello_app.py"
    exit_code, output = platform.run(result, command=["bash", "-c", "cd / && hello-app"])
    assert exit_code == 0, output
    lines = output.strip().splitlines()[-3:]
    assert lines == [
        f"prefix={LAYERS}/venv",
        "bp-test-alpha=1.1.0",
        "module=/workspace/hello_app.py",
    ]


def test_an_app_made_by_uv_init_package_runs_its_script_and_its_changed_code(
    platform: Platform, tmp_path: Path
) -> None:
    """`uv init --package` as it comes (uv 0.13.6; see the fixture's pyproject.toml): its own
    build backend, uv_build, which uv fetches from the index to install the project editable.
    A code change reuses the venv, whose editable install then runs the new code."""
    app = tmp_path / "uv_init_app"
    shutil.copytree(FIXTURE_APPS / "uv_init_app", app)
    cache = tmp_path / "cache"

    def run(build: BuildResult, command: str) -> str:
        exit_code, output = platform.run(build, command=["bash", "-c", f"cd / && {command}"])
        assert exit_code == 0, output
        return output.strip().splitlines()[-1]

    first = platform.build(app, image="uv-init-app", cache_dir=cache)
    assert "Running 'uv sync --locked" in first.logs["builder"]
    assert run(first, "uv-init-app") == "Hello from uv-init-app!"
    code = "import bp_test_alpha, uv_init_app; print(uv_init_app.__file__)"
    assert run(first, f"python -c '{code}'") == "/workspace/src/uv_init_app/__init__.py"

    source = app / "src" / "uv_init_app" / "__init__.py"
    source.write_text(source.read_text().replace("Hello from", "Changed: hello from"))
    second = platform.build(app, image="uv-init-app", cache_dir=cache, previous_image="uv-init-app")
    assert "Using cached virtual environment" in second.logs["builder"]
    assert "Running 'uv sync" not in second.logs["builder"]
    assert run(second, "uv-init-app") == "Changed: hello from uv-init-app!"

    # Without its uv.lock, pip installs the project (a copy), uv_build building its wheel.
    (app / "uv.lock").unlink()
    third = platform.build(app, image="uv-init-app-pip", cache_dir=tmp_path / "pip-cache")
    assert "Running 'pip install" in third.logs["builder"]
    assert run(third, "uv-init-app") == "Changed: hello from uv-init-app!"
    assert run(third, f"python -c '{code}'") == f"{SITE}/uv_init_app/__init__.py"
