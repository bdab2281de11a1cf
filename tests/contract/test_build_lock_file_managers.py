"""bin/build with a lock-file package manager: uv (uv.lock), Poetry (poetry.lock), Pipenv
(Pipfile.lock).

Each manager gets a build+cache tool layer (uv and Poetry also a cache layer) and fills the
`venv` layer from its lock file. The cases every manager shares are parametrised over `MANAGERS`;
what only one manager does (BP_POETRY_GROUPS, uv's pip interface, a Pipfile with no lock...) has
its own test below them.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from tests.contract.lockfile_apps import (
    assert_hello_app_runs,
    assert_tool_layers,
    build_ok,
    distributions,
    layer_toml,
    lockfile_app,
    pinned,
    pip_zipped_site,
    upgrade,
    venv_python,
)
from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace

UV_SYNC = "Running 'uv sync --locked --no-default-groups --compile-bytecode --no-progress"
POETRY_SYNC = "Running 'poetry sync --only main --no-interaction'"


@dataclass(frozen=True)
class Manager:
    """What the shared cases expect of one package manager."""

    tool: str  # the layer and command name
    display: str  # as the build log names it
    lock: str
    app: str  # the fixture app (`<app>_upgrade` holds its newer lock)
    cache: str | None  # the tool's cache layer
    installing: str  # logged when the tool installs the venv, absent when the venv is reused
    first_build: tuple[str, ...]  # further lines only a first build logs
    reuse: tuple[str, ...]  # further lines a build reusing the venv logs
    changed: str  # the reason a changed lock file discards the venv
    # Outdating the lock: in `file`, `old` becomes `new`; the tool then says `outdated`.
    outdate: tuple[str, str, str]
    outdated: str
    # The project itself (not installed unless it has a build system, see *_scripts_app).
    project: str | None


UV = Manager(
    tool="uv",
    display="uv",
    lock="uv.lock",
    app="uv_app",
    cache="uv-cache",
    installing=UV_SYNC,
    first_build=(
        # No .python-version: the version comes from requires-python.
        "requires-python in pyproject.toml",
        # uv's own rule: no [build-system], so a virtual project, and uv installs no project.
        "The project itself is not installed: it is a virtual project",
        UV_SYNC + "'",
    ),
    reuse=("uv.lock, Python 3.13",),
    changed="uv.lock or pyproject.toml changed",
    outdate=("pyproject.toml", '"bp-test-alpha==1.0.0"', '"bp-test-alpha==1.1.0"'),
    outdated="The lockfile at `uv.lock` needs to be updated",
    project="uv-app",
)
POETRY = Manager(
    tool="poetry",
    display="Poetry",
    lock="poetry.lock",
    app="poetry_app",
    cache="poetry-cache",
    installing=POETRY_SYNC,
    first_build=("The project itself is not installed: package-mode is false",),
    reuse=(),
    changed="poetry.lock, pyproject.toml or the selected groups changed",
    outdate=("pyproject.toml", '"bp-test-alpha==1.0.0"', '"bp-test-alpha==1.1.0"'),
    outdated="pyproject.toml changed significantly since poetry.lock",
    project="poetry-app",
)
PIPENV = Manager(
    tool="pipenv",
    display="Pipenv",
    lock="Pipfile.lock",
    app="pipenv_app",
    cache=None,  # Pipenv only checks and exports the lock: pip installs it, from pip's cache
    installing="Running 'pipenv verify'",
    first_build=(
        "requested in Pipfile.lock",
        "Running 'pip install --no-deps --require-hashes' (from Pipfile.lock)",
    ),
    reuse=(),
    changed="Pipfile.lock or Pipfile changed",
    outdate=("Pipfile", '"==1.0.0"', '"==1.1.0"'),
    outdated="Pipfile.lock is out-of-date",  # Pipenv's words
    project=None,
)
MANAGERS = [pytest.param(m, id=m.tool) for m in (UV, POETRY, PIPENV)]


@pytest.fixture
def app(ws: Workspace, locked_package_index: PackageIndex, manager: Manager) -> Workspace:
    return lockfile_app(ws, locked_package_index, manager.app)


# The fixture apps of the cases only one manager has.
@pytest.fixture
def uv_app(ws: Workspace, locked_package_index: PackageIndex) -> Workspace:
    return lockfile_app(ws, locked_package_index, UV.app)


@pytest.fixture
def poetry_app(ws: Workspace, locked_package_index: PackageIndex) -> Workspace:
    return lockfile_app(ws, locked_package_index, POETRY.app)


@pytest.fixture
def pipenv_app(ws: Workspace, locked_package_index: PackageIndex) -> Workspace:
    return lockfile_app(ws, locked_package_index, PIPENV.app)


# --- every manager --------------------------------------------------------------------------


@pytest.mark.parametrize("manager", MANAGERS)
def test_lock_file_installs_main_dependencies_then_reuses_the_venv(
    manager: Manager, app: Workspace, locked_package_index: PackageIndex
) -> None:
    out = build_ok(app).stdout
    assert f"Package manager: {manager.display} ({manager.lock})" in out
    assert f"[Installing {manager.display}]" in out
    assert f"Installing {manager.display} {pinned(manager.tool)}" in out
    assert manager.installing in out
    for line in manager.first_build:
        assert line in out
    packages = distributions(app)
    assert packages["flask"] == "3.1.3" and packages["bp-test-alpha"] == "1.0.0"
    assert "bp-test-beta" not in packages  # the dev group / dev packages
    if manager.project:
        assert manager.project not in packages
    assert_tool_layers(app, manager.tool, manager.cache)
    assert layer_toml(app, "venv").metadata["tool_version"] == pinned(manager.tool)
    # The tool used the venv the buildpack made, not one of its own.
    assert venv_python(app, "import flask, sys; print(sys.prefix)") == str(app.layers / "venv")
    _assert_no_venv_of_the_tools_own(manager, app, out)

    with locked_package_index.recording() as rec:
        second = build_ok(app).stdout
    assert f"Using cached {manager.display} {pinned(manager.tool)}" in second
    assert "Using cached virtual environment since" in second
    for line in manager.reuse:
        assert line in second
    assert manager.installing not in second
    assert rec.requests == []


def _assert_no_venv_of_the_tools_own(manager: Manager, app: Workspace, out: str) -> None:
    if manager is UV:
        # uv comes from its wheel, and nothing here runs pip: no pip layers at all.
        assert not (app.layers / "pip").exists() and not (app.layers / "pip-cache").exists()
        assert "[Installing pip]" not in out
    elif manager is POETRY:
        assert not list((app.layers / "poetry-cache").glob("virtualenvs/*"))
    else:
        # Pipenv made no virtualenv of its own anywhere in the app.
        assert not (app.app / ".venv").exists()


@pytest.mark.parametrize("manager", MANAGERS)
def test_changed_lock_file_rebuilds_from_the_cache(
    manager: Manager, app: Workspace, locked_package_index: PackageIndex
) -> None:
    build_ok(app)
    # As the lifecycle restores a rebuild: Python's files stayed in the previous image.
    app.restore_for_rebuild()
    upgrade(app, manager.app)
    with locked_package_index.recording() as rec:
        out = build_ok(app).stdout
    assert "Discarding cached virtual environment since:" in out
    assert manager.changed in out
    assert "from the build cache, since the dependencies are installed with it" in out
    assert manager.installing in out
    assert distributions(app)["bp-test-alpha"] == "1.1.0"
    # Everything else comes from the tool's cache layer (pip's, for Pipenv).
    downloads = rec.file_requests()
    assert downloads and all("bp_test_alpha-1.1.0" in path for path in downloads), downloads


@pytest.mark.parametrize("manager", [pytest.param(m, id=m.tool) for m in (POETRY, PIPENV)])
def test_the_cached_pip_reinstalls_the_tool_from_its_zip(manager: Manager, app: Workspace) -> None:
    """Poetry and Pipenv are installed by the pip layer's pip: on a rebuild, pip as one zip
    file (`layers.pip_zip`), with `--python` aimed at the tool's own venv."""
    build_ok(app)
    app.restore_for_rebuild()
    toml = app.layers / f"{manager.tool}.toml"
    text = toml.read_text()
    old_sha = text.split('requirements_sha256 = "', 1)[1].split('"', 1)[0]
    toml.write_text(text.replace(old_sha, "0" * 64))
    out = build_ok(app).stdout
    assert "Using cached pip " in out
    assert f"The pinned dependencies of {manager.display} changed" in out
    # The tool's venv is made by the python layer's Python, unpacked from the cached archive.
    assert f"from the build cache, since {manager.display} is installed with it" in out
    assert f"Installing {manager.display} {pinned(manager.tool)}" in out
    pip_zipped_site(app)
    tool = subprocess.run(
        [app.layers / manager.tool / "bin" / manager.tool, "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert pinned(manager.tool) in tool.stdout


@pytest.mark.parametrize("manager", MANAGERS)
def test_out_of_date_lock_file_fails_with_the_tools_message_and_the_fix(
    manager: Manager, app: Workspace
) -> None:
    name, old, new = manager.outdate
    path = app.app / name
    path.write_text(path.read_text().replace(old, new))
    result = app.build()
    assert result.exit_code == 1
    assert manager.outdated in result.output
    assert f"{manager.lock} is out of date" in result.output
    assert f"Run '{manager.tool} lock' and commit the {manager.lock}" in result.output
    assert "Traceback" not in result.output
    assert not (app.layers / "venv.toml").exists()


@pytest.mark.parametrize(
    ("manager", "scripts_app", "installs_project"),
    [
        # A [build-system] (flat layout, a console script): uv builds and installs the project
        # itself, and says so.
        pytest.param(UV, "uv_scripts_app", "+ uv-scripts-app==0.1.0 (from file://", id="uv"),
        # Not package-mode = false (flat layout, a console script): Poetry installs the
        # project itself, and says so.
        pytest.param(
            POETRY,
            "poetry_scripts_app",
            "Installing the current project: poetry-scripts-app (0.1.0)",
            id="poetry",
        ),
    ],
)
def test_project_with_scripts_is_installed_with_its_console_script(
    ws: Workspace,
    locked_package_index: PackageIndex,
    manager: Manager,
    scripts_app: str,
    installs_project: str,
) -> None:
    app = lockfile_app(ws, locked_package_index, scripts_app)
    out = build_ok(app).stdout
    assert manager.installing in out
    assert installs_project in out
    packages = distributions(app)
    project = scripts_app.replace("_", "-")
    assert packages[project] == "0.1.0" and packages["bp-test-alpha"] == "1.1.0"
    assert_hello_app_runs(app)


# --- uv -------------------------------------------------------------------------------------


def test_switching_from_pip_to_uv_discards_the_venv(uv_app: Workspace) -> None:
    lock = (uv_app.app / "uv.lock").read_text()
    (uv_app.app / "uv.lock").unlink()
    (uv_app.app / "requirements.txt").write_text("bp-test-alpha==1.0.0\n")
    first = build_ok(uv_app)
    assert "Package manager: pip (requirements.txt)" in first.stdout
    assert layer_toml(uv_app, "venv").metadata["package_manager"] == "pip"

    (uv_app.app / "requirements.txt").unlink()
    (uv_app.app / "uv.lock").write_text(lock)
    second = build_ok(uv_app)
    assert "The package manager changed from pip to uv" in second.stdout
    assert distributions(uv_app)["flask"] == "3.1.3"


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


def test_pip_layer_only_when_a_later_buildpack_requires_pip(uv_app: Workspace) -> None:
    # Our own detect's `pip` requirement alone does not make a uv app pay for pip...
    result = uv_app.build(plan=OWN_PLAN)
    assert result.exit_code == 0, result.output
    assert not (uv_app.layers / "pip").exists()

    # ...another buildpack's does: pip is there for it, with PIP_PYTHON aimed at the venv.
    result = uv_app.build(plan=OWN_PLAN + LATER_BUILDPACK_WANTS_PIP)
    assert result.exit_code == 0, result.output
    assert "[Installing pip]" in result.stdout
    pip = layer_toml(uv_app, "pip")
    assert pip.types.build and not pip.types.launch
    pip_zipped_site(uv_app)
    # What the later buildpack runs, with the environment the lifecycle gives it: pip from its
    # zip, aimed at the venv (`--python` restarts it as `pip.zip/pip` in the venv's Python).
    listed = subprocess.run(
        [uv_app.layers / "pip" / "bin" / "pip", "list", "--format=freeze"],
        env={
            "PYTHONUSERBASE": str(uv_app.layers / "pip"),
            "PIP_PYTHON": str(uv_app.layers / "venv"),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert "bp-test-alpha==" in listed.stdout, listed.stdout


# --- Poetry ---------------------------------------------------------------------------------


def test_poetry_groups_adds_groups_and_rebuilds(poetry_app: Workspace) -> None:
    build_ok(poetry_app)
    poetry_app.set_platform_env("BP_POETRY_GROUPS", "dev")
    result = build_ok(poetry_app)
    assert "poetry.lock, pyproject.toml or the selected groups changed" in result.stdout
    assert "Running 'poetry sync --only main,dev --no-interaction" in result.stdout
    assert distributions(poetry_app)["bp-test-beta"] == "1.0.0"


def test_invalid_poetry_groups_fail_before_any_layer(poetry_app: Workspace) -> None:
    poetry_app.set_platform_env("BP_POETRY_GROUPS", "dev;rm -rf")
    result = poetry_app.build()
    assert result.exit_code == 1
    assert "BP_POETRY_GROUPS" in result.output
    assert not any(poetry_app.layers.iterdir())


# --- Pipenv ---------------------------------------------------------------------------------


def test_pipfile_without_a_lock_file_says_to_lock(pipenv_app: Workspace) -> None:
    (pipenv_app.app / "Pipfile.lock").unlink()
    result = pipenv_app.build()
    assert result.exit_code == 1
    assert "Found Pipfile but no Pipfile.lock" in result.output
    assert "pipenv lock" in result.output
    assert not any(pipenv_app.layers.iterdir())


def test_pipenvs_virtualenv_settings_are_accepted_and_change_nothing(
    pipenv_app: Workspace,
) -> None:
    # Pipenv only checks and exports the lock here: where it would put a virtualenv of its own
    # does not matter, so these settings (common in Pipenv users' CI) are not refused.
    workon_home = pipenv_app.app.parent / "workon-home"
    pipenv_app.set_platform_env("PIPENV_VENV_IN_PROJECT", "1")
    pipenv_app.set_platform_env("WORKON_HOME", str(workon_home))
    first = build_ok(pipenv_app)
    assert "Running 'pipenv verify'" in first.stdout
    assert distributions(pipenv_app)["bp-test-alpha"] == "1.0.0"
    assert not (pipenv_app.app / ".venv").exists()
    assert not workon_home.exists()
