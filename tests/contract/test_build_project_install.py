"""bin/build: whether the app's own package is installed follows each tool's own rule (issue 12).

uv installs a package (a `[build-system]`) editable and a virtual project not at all; Poetry
installs the project editable unless `package-mode = false`; pip installs a `[build-system]`
project itself (`pip install .`); Pipenv installs what its lock has, `-e .` included. The apps
are shaped like the ones the tools generate (`uv init --lib`, `poetry new`), in the src layout,
so `import <pkg>` only works when the package is really installed.
"""

from __future__ import annotations

import subprocess

from tests.contract.lockfile_apps import (
    FIXTURE_APPS,
    build_ok,
    distributions,
    layer_toml,
    lockfile_app,
    venv_python,
)
from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace


def hello(ws: Workspace, package: str) -> str:
    """`<package>.hello()` run by the venv's python outside the app dir."""
    return venv_python(ws, f"import {package}; print({package}.hello())")


def import_fails(ws: Workspace, package: str) -> bool:
    python = ws.layers / "venv" / "bin" / "python"
    result = subprocess.run(
        [python, "-c", f"import {package}"], capture_output=True, text=True, check=False
    )
    return result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_uv_package_without_scripts_is_installed_editable_and_reused(
    ws: Workspace, locked_package_index: PackageIndex
) -> None:
    app = lockfile_app(ws, locked_package_index, "uv_package_app")
    out = build_ok(app).stdout
    assert "The project itself is installed (editable): it has a [build-system]" in out
    assert "--no-install-project" not in out
    assert distributions(app)["uv-package-app"] == "0.1.0"
    source = app.app / "src" / "uv_package_app" / "__init__.py"
    assert hello(app, "uv_package_app") == f"{source} bp-test-alpha=1.1.0"

    # Editable: the reused venv runs the app dir's current code.
    source.write_text(source.read_text().replace("bp-test-alpha=", "alpha="))
    again = build_ok(app).stdout
    assert "Using cached virtual environment since" in again
    assert hello(app, "uv_package_app") == f"{source} alpha=1.1.0"


def test_uv_project_with_package_false_is_not_installed(
    ws: Workspace, locked_package_index: PackageIndex
) -> None:
    app = lockfile_app(ws, locked_package_index, "uv_virtual_app")
    out = build_ok(app).stdout
    assert "The project itself is not installed: tool.uv.package is false" in out
    packages = distributions(app)
    assert packages["bp-test-alpha"] == "1.1.0" and "uv-virtual-app" not in packages
    assert import_fails(app, "uv_virtual_app")


def test_poetry_new_project_is_installed_editable(
    ws: Workspace, locked_package_index: PackageIndex
) -> None:
    app = lockfile_app(ws, locked_package_index, "poetry_package_app")
    out = build_ok(app).stdout
    assert "The project itself is installed (editable): package-mode is not false" in out
    assert "Installing the current project: poetry-package-app (0.1.0)" in out
    assert "--no-root" not in out
    source = app.app / "src" / "poetry_package_app" / "__init__.py"
    assert hello(app, "poetry_package_app") == f"{source} bp-test-alpha=1.1.0"
    assert layer_toml(app, "venv").metadata["reusable"] is True


def test_poetry_project_whose_package_is_missing_says_package_mode(
    ws: Workspace, locked_package_index: PackageIndex
) -> None:
    # poetry_app is a web app (no package of its own) with package-mode = false: without it,
    # Poetry looks for a package named poetry_app and fails.
    app = lockfile_app(ws, locked_package_index, "poetry_app")
    pyproject = app.app / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("package-mode = false\n", ""))
    result = app.build()
    assert result.exit_code == 1, result.output
    assert "Poetry could not install the project itself" in result.output
    assert "package-mode = false" in result.output
    assert "Traceback" not in result.output
    assert not (app.layers / "venv.toml").exists()


def test_pip_installs_a_build_system_project_with_its_console_script(
    ws: Workspace, package_index: PackageIndex
) -> None:
    ws.copy_app(FIXTURE_APPS / "pip_package_app")
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)
    out = build_ok(ws).stdout
    assert "the project in pyproject.toml with its dependencies (it has a [build-system])" in out
    assert "Running 'pip install .'" in out
    (site,) = (ws.layers / "venv" / "lib").glob("python3.*/site-packages")
    installed = site / "pip_package_app" / "__init__.py"
    assert hello(ws, "pip_package_app") == f"{installed} bp-test-alpha=1.1.0"
    script = ws.layers / "venv" / "bin" / "pip-package-app"
    output = subprocess.run([script], capture_output=True, text=True, check=True).stdout
    assert output.strip() == f"{installed} bp-test-alpha=1.1.0"

    # A copy of the app's code: never reused, so a change of the code is installed.
    source = ws.app / "src" / "pip_package_app" / "__init__.py"
    source.write_text(source.read_text().replace("bp-test-alpha=", "alpha="))
    again = build_ok(ws).stdout
    assert "Using cached virtual environment" not in again
    assert hello(ws, "pip_package_app") == f"{installed} alpha=1.1.0"


def test_pip_install_project_false_installs_only_the_dependencies(
    ws: Workspace, package_index: PackageIndex
) -> None:
    ws.copy_app(FIXTURE_APPS / "pip_package_app")
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)
    ws.set_platform_env("BP_PIP_INSTALL_PROJECT", "false")
    out = build_ok(ws).stdout
    assert "Installing the dependencies in pyproject.toml" in out
    assert venv_python(ws, "import bp_test_alpha; print(bp_test_alpha.VERSION)") == "1.1.0"
    assert import_fails(ws, "pip_package_app")


def test_pipenv_editable_entry_is_installed_editable(
    ws: Workspace, locked_package_index: PackageIndex
) -> None:
    app = lockfile_app(ws, locked_package_index, "pipenv_editable_app")
    out = build_ok(app).stdout
    assert "Running 'pip install --no-deps --require-hashes' (from Pipfile.lock)" in out
    assert "Running 'pip install --no-deps' (from Pipfile.lock)" in out
    source = app.app / "src" / "pipenv_editable_app" / "__init__.py"
    assert hello(app, "pipenv_editable_app") == f"{source} bp-test-alpha=1.1.0"
    script = app.layers / "venv" / "bin" / "pipenv-editable-app"
    output = subprocess.run([script], capture_output=True, text=True, check=True).stdout
    assert output.strip() == f"{source} bp-test-alpha=1.1.0"
    again = build_ok(app).stdout
    assert "Using cached virtual environment since" in again


# --- package managers we don't run (item 9): fail early, naming the file


def failed_build(ws: Workspace) -> str:
    result = ws.build()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not any(ws.layers.iterdir())
    return result.output


def test_poetry_pyproject_without_a_lock_says_poetry_lock(ws: Workspace) -> None:
    (ws.app / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "app"\nversion = "0.1.0"\n\n'
        '[tool.poetry.dependencies]\npython = "^3.12"\nflask = "^3.1"\n'
    )
    (ws.app / "app.py").write_text("")
    output = failed_build(ws)
    assert "Found pyproject.toml but no poetry.lock" in output
    assert "Run 'poetry lock'" in output
    assert "no [project] table" not in output


def test_conda_environment_file_is_named_as_not_supported(ws: Workspace) -> None:
    (ws.app / "environment.yml").write_text("name: app\ndependencies:\n  - python=3.13\n")
    (ws.app / "app.py").write_text("")
    output = failed_build(ws)
    assert "conda is not supported yet" in output
    assert "environment.yml" in output
    assert "No Python package manager files found" not in output


def test_pixi_project_is_named_as_not_supported(ws: Workspace) -> None:
    (ws.app / "pixi.toml").write_text('[workspace]\nname = "app"\nchannels = ["conda-forge"]\n')
    (ws.app / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\n')
    output = failed_build(ws)
    assert "pixi is not supported yet" in output
    assert "pixi.toml" in output


BUILD_SYSTEM = (
    '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
)


def test_pip_flat_layout_package_with_a_console_script(
    ws: Workspace, package_index: PackageIndex
) -> None:
    (ws.app / "pyproject.toml").write_text(
        '[project]\nname = "flat-app"\nversion = "0.1.0"\ndependencies = ["bp-test-alpha==1.1.0"]\n'
        '[project.scripts]\nflat-app = "flat_app:main"\n' + BUILD_SYSTEM
    )
    (ws.app / "flat_app").mkdir()
    (ws.app / "flat_app" / "__init__.py").write_text("def main():\n    print(__file__)\n")
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)
    build_ok(ws)
    script = ws.layers / "venv" / "bin" / "flat-app"
    output = subprocess.run([script], capture_output=True, text=True, check=True, cwd="/").stdout
    (site,) = (ws.layers / "venv" / "lib").glob("python3.*/site-packages")
    assert output.strip() == str(site / "flat_app" / "__init__.py")


def test_pip_project_that_does_not_build_points_at_install_project_false(
    ws: Workspace, package_index: PackageIndex
) -> None:
    # Two top-level modules in a flat layout: setuptools refuses to guess what the package is.
    (ws.app / "pyproject.toml").write_text(
        '[project]\nname = "web"\nversion = "0.1.0"\ndependencies = ["bp-test-alpha==1.1.0"]\n'
        + BUILD_SYSTEM
    )
    (ws.app / "app.py").write_text("")
    (ws.app / "worker.py").write_text("")
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)
    result = ws.build()
    assert result.exit_code == 1, result.output
    assert "Multiple top-level modules discovered in a flat-layout" in result.output
    assert "set BP_PIP_INSTALL_PROJECT=false" in result.output
    assert "Traceback" not in result.output
    assert not (ws.layers / "venv.toml").exists()

    ws.set_platform_env("BP_PIP_INSTALL_PROJECT", "false")
    build_ok(ws)
    assert import_fails(ws, "worker")
