"""bin/build with uv: the `uv`, `uv-cache` and `venv` layers, from a committed uv.lock."""

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

APP = "uv_app"
SYNC = "Running 'uv sync --locked --no-default-groups --compile-bytecode --no-progress"


@pytest.fixture
def app(ws: Workspace, locked_package_index: PackageIndex) -> Workspace:
    return lockfile_app(ws, locked_package_index, APP)


def test_uv_lock_installs_main_dependencies_then_reuses_the_venv(
    app: Workspace, locked_package_index: PackageIndex
) -> None:
    first = build_ok(app)
    out = first.stdout
    assert "Package manager: uv (uv.lock)" in out
    # No .python-version: the version comes from requires-python.
    assert "requires-python in pyproject.toml" in out
    assert "[Installing uv]" in out and f"Installing uv {pinned('uv')}" in out
    assert "[Installing dependencies using uv]" in out
    # uv's own rule: no [build-system], so a virtual project, and uv installs no project.
    assert "The project itself is not installed: it is a virtual project" in out
    assert SYNC + "'" in out
    packages = distributions(app)
    assert packages["flask"] == "3.1.3" and packages["bp-test-alpha"] == "1.0.0"
    assert "bp-test-beta" not in packages  # the dev group
    assert "uv-app" not in packages
    assert_tool_layers(app, "uv", "uv-cache")
    # uv comes from its wheel, and nothing here runs pip: no pip layers at all.
    assert not (app.layers / "pip").exists() and not (app.layers / "pip-cache").exists()
    assert "[Installing pip]" not in out
    assert layer_toml(app, "venv").metadata["tool_version"] == pinned("uv")
    assert venv_python(app, "import sys; print(sys.prefix)") == str(app.layers / "venv")

    with locked_package_index.recording() as rec:
        second = build_ok(app)
    assert f"Using cached uv {pinned('uv')}" in second.stdout
    assert "Using cached virtual environment since" in second.stdout
    assert "uv.lock, Python 3.13" in second.stdout
    assert "Running 'uv sync" not in second.stdout
    assert rec.requests == []


def test_changed_lock_file_rebuilds_from_the_uv_cache(
    app: Workspace, locked_package_index: PackageIndex
) -> None:
    build_ok(app)
    upgrade(app, APP)
    with locked_package_index.recording() as rec:
        result = build_ok(app)
    assert "Discarding cached virtual environment since:" in result.stdout
    assert "uv.lock or pyproject.toml changed" in result.stdout
    assert SYNC in result.stdout
    assert distributions(app)["bp-test-alpha"] == "1.1.0"
    # Everything else comes from the uv-cache layer.
    downloads = rec.file_requests()
    assert downloads and all("bp_test_alpha-1.1.0" in path for path in downloads), downloads


def test_out_of_date_lock_file_fails_with_uvs_message_and_the_fix(app: Workspace) -> None:
    pyproject = app.app / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"bp-test-alpha==1.0.0"', '"bp-test-alpha==1.1.0"')
    )
    result = app.build()
    assert result.exit_code == 1
    assert "The lockfile at `uv.lock` needs to be updated" in result.output
    assert "uv.lock is out of date" in result.output
    assert "Run 'uv lock' and commit the uv.lock" in result.output
    assert "Traceback" not in result.output
    assert not (app.layers / "venv.toml").exists()


def test_switching_from_pip_to_uv_discards_the_venv(app: Workspace) -> None:
    lock = (app.app / "uv.lock").read_text()
    (app.app / "uv.lock").unlink()
    (app.app / "requirements.txt").write_text("bp-test-alpha==1.0.0\n")
    first = build_ok(app)
    assert "Package manager: pip (requirements.txt)" in first.stdout
    assert layer_toml(app, "venv").metadata["package_manager"] == "pip"

    (app.app / "requirements.txt").unlink()
    (app.app / "uv.lock").write_text(lock)
    second = build_ok(app)
    assert "The package manager changed from pip to uv" in second.stdout
    assert distributions(app)["flask"] == "3.1.3"


def test_pip_installer_uv_gives_the_same_packages_as_pip(
    ws: Workspace, tmp_path_factory: pytest.TempPathFactory, package_index: PackageIndex
) -> None:
    requirements = "\n".join(package_index.requirements("flask", "gunicorn")) + "\n"
    results = {}
    for installer in ("pip", "uv"):
        app = Workspace(tmp_path_factory.mktemp(installer), buildpack_dir=ws.buildpack_dir)
        (app.app / "requirements.txt").write_text(requirements)
        (app.app / ".python-version").write_text("3.13\n")
        for variable, value in package_index.pip_env.items():
            app.set_platform_env(variable, value)
        app.set_platform_env("BP_PIP_INSTALLER", installer)
        result = build_ok(app)
        results[installer] = distributions(app)
        if installer == "uv":
            assert "[Installing uv]" in result.stdout
            assert "Running 'uv pip install --requirement requirements.txt'" in result.stdout
            assert layer_toml(app, "venv").metadata["package_manager"] == "uv-pip"
            assert layer_toml(app, "venv").metadata["reusable"] is True
            assert not (app.layers / "pip").exists()
            with package_index.recording() as rec:
                again = build_ok(app)
            assert "Using cached virtual environment" in again.stdout
            assert rec.requests == []
    assert results["uv"] == results["pip"]
    assert results["uv"]["flask"] == "3.1.3"


def test_project_with_scripts_is_installed_with_its_console_script(
    ws: Workspace, locked_package_index: PackageIndex
) -> None:
    app = lockfile_app(ws, locked_package_index, "uv_scripts_app")
    out = build_ok(app).stdout
    # A [build-system] (flat layout, a console script): uv builds and installs the project
    # itself, and says so.
    assert SYNC + "'" in out
    assert "+ uv-scripts-app==0.1.0 (from file://" in out
    packages = distributions(app)
    assert packages["uv-scripts-app"] == "0.1.0" and packages["bp-test-alpha"] == "1.1.0"
    assert_hello_app_runs(app)


def test_a_failed_uv_pip_install_names_uv(ws: Workspace, package_index: PackageIndex) -> None:
    (ws.app / "requirements.txt").write_text("bp-no-such-package==1.0\n")
    (ws.app / ".python-version").write_text("3.13\n")
    for variable, value in package_index.pip_env.items():
        ws.set_platform_env(variable, value)
    ws.set_platform_env("BP_PIP_INSTALLER", "uv")
    result = ws.build()
    assert result.exit_code == 1, result.output
    assert "! ERROR: Installing requirements.txt with uv (pip interface) failed" in result.stderr
    assert "with pip failed" not in result.stderr
    assert "'uv pip install'" in result.stderr


OWN_PLAN = """
[[entries]]
name = "cpython"
[entries.metadata]
build = true
launch = true

[[entries]]
name = "pip"
[entries.metadata]
build = true
launch = false

[[entries]]
name = "venv"
[entries.metadata]
build = true
launch = true
"""

LATER_BUILDPACK_WANTS_PIP = """
[[entries]]
name = "pip"
[entries.metadata]
version = "any"
"""


def test_pip_layer_only_when_a_later_buildpack_requires_pip(app: Workspace) -> None:
    # Our own detect's `pip` requirement alone does not make a uv app pay for pip...
    result = app.build(plan=OWN_PLAN)
    assert result.exit_code == 0, result.output
    assert not (app.layers / "pip").exists()

    # ...another buildpack's does: pip is there for it, with PIP_PYTHON aimed at the venv.
    result = app.build(plan=OWN_PLAN + LATER_BUILDPACK_WANTS_PIP)
    assert result.exit_code == 0, result.output
    assert "[Installing pip]" in result.stdout
    pip = layer_toml(app, "pip")
    assert pip.types.build and not pip.types.launch
    (site,) = (app.layers / "pip" / "lib").glob("python3.*/site-packages")
    assert (site / "pip").is_dir() and (app.layers / "pip" / "bin" / "pip").is_file()
