"""bin/build with Poetry: the `poetry`, `poetry-cache` and `venv` layers, from poetry.lock."""

from __future__ import annotations

import pytest

from tests.contract.lockfile_apps import (
    assert_hello_app_runs,
    assert_tool_layers,
    build_ok,
    distributions,
    layer_toml,
    lockfile_app,
    pinned,
    upgrade,
    venv_python,
)
from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace

APP = "poetry_app"
SYNC = "Running 'poetry sync --only main --compile --no-interaction'"


@pytest.fixture
def app(ws: Workspace, locked_package_index: PackageIndex) -> Workspace:
    return lockfile_app(ws, locked_package_index, APP)


def test_poetry_lock_installs_main_group_then_reuses_the_venv(
    app: Workspace, locked_package_index: PackageIndex
) -> None:
    first = build_ok(app)
    out = first.stdout
    assert "Package manager: Poetry (poetry.lock)" in out
    assert "[Installing Poetry]" in out and f"Installing Poetry {pinned('poetry')}" in out
    assert "[Installing dependencies using Poetry]" in out
    assert SYNC in out
    assert "The project itself is not installed: package-mode is false" in out
    assert "poetry-app" not in distributions(app)
    packages = distributions(app)
    assert packages["flask"] == "3.1.3" and packages["bp-test-alpha"] == "1.0.0"
    assert "bp-test-beta" not in packages  # the dev group
    assert "poetry-app" not in packages  # the project itself has no scripts
    assert_tool_layers(app, "poetry", "poetry-cache")
    assert layer_toml(app, "venv").metadata["tool_version"] == pinned("poetry")
    # Poetry used the venv the buildpack made, not one of its own.
    assert venv_python(app, "import flask, sys; print(sys.prefix)") == str(app.layers / "venv")
    assert not list((app.layers / "poetry-cache").glob("virtualenvs/*"))

    with locked_package_index.recording() as rec:
        second = build_ok(app)
    assert f"Using cached Poetry {pinned('poetry')}" in second.stdout
    assert "Using cached virtual environment since" in second.stdout
    assert "Running 'poetry sync" not in second.stdout
    assert rec.requests == []


def test_poetry_groups_adds_groups_and_rebuilds(app: Workspace) -> None:
    build_ok(app)
    app.set_platform_env("BP_POETRY_GROUPS", "dev")
    result = build_ok(app)
    assert "poetry.lock, pyproject.toml or the selected groups changed" in result.stdout
    assert "Running 'poetry sync --only main,dev --compile" in result.stdout
    assert distributions(app)["bp-test-beta"] == "1.0.0"


def test_changed_lock_file_rebuilds_from_the_poetry_cache(
    app: Workspace, locked_package_index: PackageIndex
) -> None:
    build_ok(app)
    upgrade(app, APP)
    with locked_package_index.recording() as rec:
        result = build_ok(app)
    assert "Discarding cached virtual environment since:" in result.stdout
    assert SYNC in result.stdout
    assert distributions(app)["bp-test-alpha"] == "1.1.0"
    downloads = rec.file_requests()
    assert downloads and all("bp_test_alpha-1.1.0" in path for path in downloads), downloads


def test_out_of_date_lock_file_fails_with_poetrys_message_and_the_fix(app: Workspace) -> None:
    pyproject = app.app / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"bp-test-alpha==1.0.0"', '"bp-test-alpha==1.1.0"')
    )
    result = app.build()
    assert result.exit_code == 1
    assert "pyproject.toml changed significantly since poetry.lock" in result.output
    assert "poetry.lock is out of date" in result.output
    assert "Run 'poetry lock' and commit the poetry.lock" in result.output
    assert "Traceback" not in result.output
    assert not (app.layers / "venv.toml").exists()


def test_invalid_poetry_groups_fail_before_any_layer(app: Workspace) -> None:
    app.set_platform_env("BP_POETRY_GROUPS", "dev;rm -rf")
    result = app.build()
    assert result.exit_code == 1
    assert "BP_POETRY_GROUPS" in result.output
    assert not any(app.layers.iterdir())


def test_project_with_scripts_is_installed_with_its_console_script(
    ws: Workspace, locked_package_index: PackageIndex
) -> None:
    app = lockfile_app(ws, locked_package_index, "poetry_scripts_app")
    out = build_ok(app).stdout
    # Not package-mode = false (flat layout, a console script): Poetry installs the project
    # itself, and says so.
    assert "Running 'poetry sync --only main --compile --no-interaction'" in out
    assert "Installing the current project: poetry-scripts-app (0.1.0)" in out
    packages = distributions(app)
    assert packages["poetry-scripts-app"] == "0.1.0" and packages["bp-test-alpha"] == "1.1.0"
    assert_hello_app_runs(app)
