"""bin/build with pip: the `pip`, `pip-cache` and `venv` layers, against a local index."""

from __future__ import annotations

import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tests.contract.lockfile_apps import (
    assert_compiled,
    build_ok,
    layer_toml,
    pip_zipped_site,
    venv_python,
)
from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace


@pytest.fixture
def app(ws: Workspace, package_index: PackageIndex) -> Workspace:
    (ws.app / ".python-version").write_text("3.13\n")
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)
    return ws


def requirements(ws: Workspace, *lines: str) -> None:
    (ws.app / "requirements.txt").write_text("\n".join(lines) + "\n")


def site_packages(ws: Workspace) -> set[str]:
    (site,) = (ws.layers / "venv" / "lib").glob("python3.*/site-packages")
    return {p.name.split("-")[0].lower() for p in site.iterdir() if p.suffix == ".dist-info"}


def test_fresh_install_then_reuse_without_pip(app: Workspace, package_index: PackageIndex) -> None:
    requirements(app, *package_index.requirements("flask", "gunicorn"))
    first = build_ok(app)
    assert "[Installing pip]" in first.stdout and "Installing pip 26.3" in first.stdout
    assert "Running 'pip install --requirement requirements.txt'" in first.stdout
    assert venv_python(app, "import flask, gunicorn; print(flask.__name__)") == "flask"
    # pip installs without compiling; the venv is compiled afterwards, on every CPU.
    assert "Compiling bytecode (" in first.stdout
    assert_compiled(app, "flask")
    assert_compiled(app, "gunicorn")
    # pip, setuptools and wheel stay out of the app's environment.
    assert not {"pip", "setuptools", "wheel"} & site_packages(app)

    venv = layer_toml(app, "venv")
    assert venv.types.build and venv.types.launch and venv.types.cache
    assert venv.metadata["reusable"] is True
    pip = layer_toml(app, "pip")
    assert pip.types.build and pip.types.cache and not pip.types.launch
    # pip's wheel was unpacked by the buildpack (no pip ran to install pip), then packed into
    # one zip file with its bytecode, which `site` finds through pip.pth; its script works.
    pip_site = pip_zipped_site(app)
    assert (pip_site / "pip-26.3.dist-info" / "INSTALLER").read_text() == "python-buildpack\n"
    assert "Compiling and packing pip into one zip file in the background" in first.stdout
    assert "Packed pip's " in first.stdout and " files into pip.zip" in first.stdout
    with zipfile.ZipFile(pip_site / "pip.zip") as packed:
        names = set(packed.namelist())
    # Every module of pip, not only those the install imported, so the next build's pip
    # starts from bytecode.
    modules = [name for name in names if name.startswith("pip/") and name.endswith(".py")]
    assert len(modules) > 300 and [m for m in modules if m + "c" not in names] == []
    version = subprocess.run(
        [app.layers / "pip" / "bin" / "pip", "--version"],
        env={"PYTHONUSERBASE": str(app.layers / "pip"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith(f"pip 26.3 from {pip_site / 'pip.zip' / 'pip'}")
    assert (app.layers / "venv" / "env" / "VIRTUAL_ENV.override").read_text() == str(
        app.layers / "venv"
    )
    assert (app.layers / "venv" / "env.build" / "PIP_PYTHON.override").exists()
    cache = layer_toml(app, "pip-cache").types
    assert cache.cache and cache.build and not cache.launch

    with package_index.recording() as rec:
        second = build_ok(app)
    assert "Using cached pip 26.3\n" in second.stdout
    assert "Using cached pip download/wheel cache\n" in second.stdout
    assert (
        "Using cached virtual environment since requirements.txt, Python 3.13."
    ) in second.stdout
    assert " and pip 26.3 are unchanged\n" in second.stdout
    assert "Running 'pip install" not in second.stdout
    assert "Compiling and packing pip" not in second.stdout
    assert rec.requests == []


def test_a_venv_with_incomplete_files_is_rebuilt_with_the_reason(app: Workspace) -> None:
    requirements(app, "bp-test-alpha==1.0.0")
    build_ok(app)
    (app.layers / "venv" / "pyvenv.cfg").unlink()
    result = build_ok(app)
    assert (
        "Discarding cached virtual environment since:\n  - its files are incomplete\n"
    ) in result.stdout
    assert "Running 'pip install --requirement requirements.txt'" in result.stdout
    assert (app.layers / "venv" / "pyvenv.cfg").is_file()


def test_changed_pin_rebuilds_and_removed_packages_disappear(
    app: Workspace, package_index: PackageIndex
) -> None:
    requirements(app, "bp-test-alpha==1.0.0", "bp-test-beta==1.0.0")
    build_ok(app)
    assert site_packages(app) >= {"bp_test_alpha", "bp_test_beta"}

    requirements(app, "bp-test-alpha==1.1.0")
    with package_index.recording() as rec:
        result = build_ok(app)
    assert "Discarding cached virtual environment since:" in result.stdout
    assert "The requirements changed" in result.stdout
    assert "bp_test_beta" not in site_packages(app)
    assert venv_python(app, "import bp_test_alpha; print(bp_test_alpha.VERSION)") == "1.1.0"
    # Only the new pin is downloaded; the pip layer and its cache are reused.
    downloads = rec.file_requests()
    assert len(downloads) == 1 and "bp_test_alpha-1.1.0" in downloads[0], downloads
    assert "Using cached pip 26.3" in result.stdout


def test_pip_runs_from_its_zip_and_leaves_the_restored_layer_unchanged(app: Workspace) -> None:
    requirements(app, "bp-test-alpha==1.0.0")
    build_ok(app)
    pip_layer = app.layers / "pip"
    files = {path: path.read_bytes() for path in pip_layer.rglob("*") if path.is_file()}
    # What the lifecycle's restorer does to a cached layer: every file gets the time of the
    # restore (not the mtime the layer was exported with).
    restored_at = time.time()
    for path in pip_layer.rglob("*"):
        os.utime(path, (restored_at, restored_at))

    # A new pin, and an sdist: pip builds it in an isolated environment, with a pip
    # subprocess started from the zip (`pip.zip/pip`).
    requirements(app, "bp-test-alpha==1.1.0", "bp-test-cext==1.0.0")
    result = build_ok(app)
    assert "Using cached pip 26.3\n" in result.stdout
    assert "Running 'pip install --requirement requirements.txt'" in result.stdout
    assert venv_python(app, "import bp_test_cext; print(bp_test_cext.add(2, 3))") == "5"
    # The bytecode in the zip is hash-based and unchecked: pip found it valid whatever the
    # mtimes, and wrote nothing into its layer.
    after = {path: path.read_bytes() for path in pip_layer.rglob("*") if path.is_file()}
    assert after == files


def test_an_app_that_requires_pip_gets_it_from_the_zipped_pip_too(app: Workspace) -> None:
    # pip's .dist-info stays out of the zip: the pip subprocess that installs into the venv
    # runs with the zip first on sys.path and would take pip for installed there already.
    requirements(app, "bp-test-alpha==1.0.0", "pip==26.3")
    build_ok(app)
    assert "pip" in site_packages(app)
    requirements(app, "bp-test-alpha==1.1.0", "pip==26.3")
    result = build_ok(app)
    assert "Using cached pip 26.3\n" in result.stdout
    assert "Running 'pip install --requirement requirements.txt'" in result.stdout
    assert "pip" in site_packages(app)
    assert venv_python(app, "import pip; print(pip.__version__)") == "26.3"


def test_a_pip_layer_of_unpacked_files_is_replaced_with_the_reason(app: Workspace) -> None:
    requirements(app, "bp-test-alpha==1.0.0")
    build_ok(app)
    # What a build before pip was packed left: metadata without a layout.
    toml = app.layers / "pip.toml"
    toml.write_text(toml.read_text().replace('layout = "zip"\n', ""))
    result = build_ok(app)
    assert (
        "Discarding cached pip 26.3 since:\n"
        "  - The layout of pip's files changed from unpacked to zip\n"
    ) in result.stdout
    assert "Installing pip 26.3, alongside Python" in result.stdout
    assert 'layout = "zip"' in toml.read_text()


def test_unpinned_requirements_always_rebuild(app: Workspace) -> None:
    requirements(app, "bp-test-alpha>=1.0")
    first = build_ok(app)
    assert "not every installed package is pinned" in first.stdout
    assert "bp-test-alpha>=1.0" in first.stdout
    assert layer_toml(app, "venv").types.cache is False
    second = build_ok(app)
    assert "Running 'pip install" in second.stdout


def test_transitive_dependencies_must_be_pinned_too(
    app: Workspace, package_index: PackageIndex
) -> None:
    requirements(app, f"flask=={package_index.pins['flask']}")
    first = build_ok(app)
    assert "(installed as a dependency)" in first.stdout
    assert layer_toml(app, "venv").metadata["reusable"] is False


def test_reuse_can_be_disabled(app: Workspace) -> None:
    requirements(app, "bp-test-alpha==1.0.0")
    build_ok(app)
    app.set_platform_env("BP_PIP_REUSE_VENV", "false")
    result = build_ok(app)
    assert "BP_PIP_REUSE_VENV is false" in result.stdout
    assert "Running 'pip install" in result.stdout
    # Never reused, so never cached: the restorer does not bring its files back for nothing.
    assert not layer_toml(app, "venv").types.cache
    again = build_ok(app)
    assert "Running 'pip install" in again.stdout


def test_sdist_with_a_c_extension_compiles(app: Workspace) -> None:
    requirements(app, "bp-test-cext==1.0.0")
    build_ok(app)
    assert venv_python(app, "import bp_test_cext; print(bp_test_cext.add(2, 3))") == "5"


def test_editable_local_path(app: Workspace) -> None:
    pkg = app.app / "localpkg"
    (pkg / "localpkg").mkdir(parents=True)
    (pkg / "localpkg" / "__init__.py").write_text("NAME = 'local'\n")
    (pkg / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "localpkg"\nversion = "0.1"\n'
    )
    requirements(app, "-e ./localpkg")
    result = build_ok(app)
    assert venv_python(app, "import localpkg; print(localpkg.NAME)") == "local"
    assert "-e ./localpkg" in result.stdout  # named as the reason it is rebuilt each time


def test_hash_mode(app: Workspace, package_index: PackageIndex) -> None:
    (wheel,) = [
        f for f in package_index.files_of("bp-test-alpha") if f.version == "1.0.0" and f.is_wheel
    ]
    requirements(app, f"bp-test-alpha==1.0.0 --hash=sha256:{wheel.sha256}")
    build_ok(app)
    assert layer_toml(app, "venv").metadata["reusable"] is True

    requirements(app, "bp-test-alpha==1.0.0 --hash=sha256:" + "0" * 64)
    result = app.build()
    assert result.exit_code == 1
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in result.output
    assert "Installing requirements.txt with pip failed" in result.output


def test_console_scripts_use_the_venv_python(app: Workspace) -> None:
    requirements(app, "bp-test-script==1.0.0")
    build_ok(app)
    script = app.layers / "venv" / "bin" / "bp-test-script"
    assert script.read_text().splitlines()[0] == f"#!{app.layers / 'venv' / 'bin' / 'python'}"
    out = subprocess.run([script], capture_output=True, text=True, check=True).stdout
    assert str(app.layers / "venv") in out


def test_pyproject_only_app_installs_its_dependencies(app: Workspace) -> None:
    (app.app / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["bp-test-alpha==1.1.0"]\n'
    )
    result = build_ok(app)
    assert "the dependencies in pyproject.toml" in result.stdout
    assert venv_python(app, "import bp_test_alpha; print(bp_test_alpha.VERSION)") == "1.1.0"
    assert "app" not in site_packages(app)


def test_forbidden_env_var_fails_before_any_layer(app: Workspace) -> None:
    requirements(app, "bp-test-alpha==1.0.0")
    app.set_platform_env("PYTHONHOME", "/somewhere")
    app.set_platform_env("PIP_TARGET", "/elsewhere")
    result = app.build()
    assert result.exit_code == 1
    # Both offenders in one error, each with its reason.
    assert "PYTHONHOME" in result.output and "standard library" in result.output
    assert "PIP_TARGET" in result.output
    assert "Traceback" not in result.output
    assert not any(app.layers.iterdir())


def test_credentials_never_reach_the_log_or_launch_layers(
    app: Workspace, package_index: PackageIndex
) -> None:
    secret = "s3cretPassw0rd"
    port = package_index.server.port
    app.set_platform_env("PIP_INDEX_URL", f"http://builder:{secret}@127.0.0.1:{port}/simple")
    requirements(app, "bp-test-alpha==1.0.0", "bp-test-script==1.0.0")
    result = build_ok(app)
    assert secret not in result.output
    for name in ("python", "venv"):
        assert layer_toml(app, name).types.launch
        for path in (app.layers / name).rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert secret.encode() not in path.read_bytes(), path
    assert secret not in (app.layers / "venv.toml").read_text()


def test_pip_failure_keeps_pip_output_and_explains(app: Workspace) -> None:
    requirements(app, "bp-test-does-not-exist==1.0")
    result = app.build()
    assert result.exit_code == 1
    assert "No matching distribution found for bp-test-does-not-exist" in result.output
    assert "Installing requirements.txt with pip failed" in result.output
    assert "Traceback" not in result.output
    # No metadata claims the half-built venv, so the next build cannot trust it.
    assert not (app.layers / "venv.toml").exists()


def test_pip_check_conflict_warns_or_fails(app: Workspace) -> None:
    requirements(app, "bp-test-alpha==1.1.0", "bp-test-conflict==1.0.0")
    app.set_platform_env("PIP_NO_DEPS", "1")
    result = build_ok(app)
    assert "The installed packages have conflicting requirements" in result.stdout
    assert "bp-test-conflict 1.0.0 has requirement bp-test-alpha<1.1" in result.stdout

    app.set_platform_env("BP_PIP_CHECK", "strict")
    app.set_platform_env("BP_PIP_REUSE_VENV", "false")
    result = app.build()
    assert result.exit_code == 1
    assert "BP_PIP_CHECK=strict" in result.output


@pytest.mark.parametrize("names", [(".venv",), ("env", "venv")])
def test_committed_venv_is_an_error(app: Workspace, names: tuple[str, ...]) -> None:
    requirements(app, "bp-test-alpha==1.0.0")
    for name in names:
        (app.app / name / "bin").mkdir(parents=True)
        (app.app / name / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (app.app / "venvs").mkdir()  # a directory that is not a venv is no problem
    result = app.build()
    assert result.exit_code == 1
    assert "The app contains a virtual environment" in result.output
    listed = ", ".join(f"{name}/" for name in names)
    assert f"{listed} in the app is a Python virtual environment" in result.output
    assert "another Python" in result.output  # why it is refused
    assert "[io.buildpacks]" in result.output and "exclude = [" in result.output  # the fix
    assert "Traceback" not in result.output
    assert not any(app.layers.iterdir())  # refused before any layer


def test_several_package_managers_is_an_error(app: Workspace) -> None:
    requirements(app, "bp-test-alpha==1.0.0")
    (app.app / "poetry.lock").write_text("")
    (app.app / "pyproject.toml").write_text("[tool.poetry]\n")
    result = app.build()
    assert result.exit_code == 1
    assert "requirements.txt (pip)" in result.output and "poetry.lock (Poetry)" in result.output
    assert not any(app.layers.iterdir())


def test_later_buildpacks_get_pip_aimed_at_the_venv(app: Workspace) -> None:
    requirements(app, "bp-test-alpha==1.0.0")
    build_ok(app)
    env_build = app.layers / "venv" / "env.build"
    assert (env_build / "PIP_PYTHON.override").read_text() == str(app.layers / "venv")
    assert (app.layers / "pip-cache" / "env.build" / "PIP_CACHE_DIR.override").exists()
    assert not (app.layers / "venv" / "env" / "PIP_PYTHON.override").exists()


def test_a_pip_wheel_that_fails_while_python_installs_stops_the_build_at_pip(
    app: Workspace, tmp_path: Path
) -> None:
    """pip's layer fills alongside Python (`layers.background`): its failure is reported at
    its own step, after Python's, and leaves no pip layer metadata a later build would trust."""
    requirements(app, "bp-test-alpha==1.0.0")
    empty_index = tmp_path / "empty-index"
    (empty_index / "pip").mkdir(parents=True)
    app.set_platform_env("PIP_INDEX_URL", empty_index.as_uri())
    result = app.build()
    assert result.exit_code == 1, result.output
    assert "! ERROR: Unable to find the wheel of pip 26.3" in result.stderr, result.output
    assert "Traceback" not in result.output
    # Python's step ran to its end first; the log is in step order.
    assert result.stdout.index("[Installing Python]") < result.stdout.index("[Installing pip]")
    assert layer_toml(app, "python").types.launch
    assert not (app.layers / "pip.toml").exists()
