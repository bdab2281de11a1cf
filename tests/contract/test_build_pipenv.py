"""bin/build with Pipenv: the `pipenv` layer checks and exports Pipfile.lock, pip installs it."""

from __future__ import annotations

import pytest

from tests.contract.lockfile_apps import (
    assert_tool_layers,
    build_ok,
    distributions,
    layer_toml,
    lockfile_app,
    pinned,
    upgrade,
)
from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace

APP = "pipenv_app"


@pytest.fixture
def app(ws: Workspace, locked_package_index: PackageIndex) -> Workspace:
    return lockfile_app(ws, locked_package_index, APP)


def test_pipfile_lock_installs_default_packages_then_reuses_the_venv(
    app: Workspace, locked_package_index: PackageIndex
) -> None:
    first = build_ok(app)
    out = first.stdout
    assert "Package manager: Pipenv (Pipfile.lock)" in out
    assert "requested in Pipfile.lock" in out
    assert "[Installing Pipenv]" in out and f"Installing Pipenv {pinned('pipenv')}" in out
    assert "Running 'pipenv verify'" in out
    assert "Running 'pip install --no-deps --require-hashes' (from Pipfile.lock)" in out
    packages = distributions(app)
    assert packages["flask"] == "3.1.3" and packages["bp-test-alpha"] == "1.0.0"
    assert "bp-test-beta" not in packages  # a dev package
    assert_tool_layers(app, "pipenv", None)
    assert layer_toml(app, "venv").metadata["tool_version"] == pinned("pipenv")
    # Pipenv made no virtualenv of its own anywhere in the app.
    assert not (app.app / ".venv").exists()

    with locked_package_index.recording() as rec:
        second = build_ok(app)
    assert f"Using cached Pipenv {pinned('pipenv')}" in second.stdout
    assert "Using cached virtual environment since" in second.stdout
    assert "Running 'pipenv verify'" not in second.stdout
    assert rec.requests == []


def test_changed_lock_file_rebuilds_from_the_pip_cache(
    app: Workspace, locked_package_index: PackageIndex
) -> None:
    build_ok(app)
    upgrade(app, APP)
    with locked_package_index.recording() as rec:
        result = build_ok(app)
    assert "Pipfile.lock or Pipfile changed" in result.stdout
    assert distributions(app)["bp-test-alpha"] == "1.1.0"
    downloads = rec.file_requests()
    assert downloads and all("bp_test_alpha-1.1.0" in path for path in downloads), downloads


def test_out_of_date_lock_file_fails_with_pipenvs_message_and_the_fix(app: Workspace) -> None:
    pipfile = app.app / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace('"==1.0.0"', '"==1.1.0"'))
    result = app.build()
    assert result.exit_code == 1
    assert "Pipfile.lock is out-of-date" in result.output  # Pipenv's words
    assert "Pipfile.lock is out of date" in result.output
    assert "Run 'pipenv lock' and commit the Pipfile.lock" in result.output
    assert "Traceback" not in result.output
    assert not (app.layers / "venv.toml").exists()


def test_pipfile_without_a_lock_file_says_to_lock(app: Workspace) -> None:
    (app.app / "Pipfile.lock").unlink()
    result = app.build()
    assert result.exit_code == 1
    assert "Found Pipfile but no Pipfile.lock" in result.output
    assert "pipenv lock" in result.output
    assert not any(app.layers.iterdir())


def test_pipenvs_virtualenv_settings_are_accepted_and_change_nothing(app: Workspace) -> None:
    # Pipenv only checks and exports the lock here: where it would put a virtualenv of its own
    # does not matter, so these settings (common in Pipenv users' CI) are not refused.
    workon_home = app.app.parent / "workon-home"
    app.set_platform_env("PIPENV_VENV_IN_PROJECT", "1")
    app.set_platform_env("WORKON_HOME", str(workon_home))
    first = build_ok(app)
    assert "Running 'pipenv verify'" in first.stdout
    assert distributions(app)["bp-test-alpha"] == "1.0.0"
    assert not (app.app / ".venv").exists()
    assert not workon_home.exists()
