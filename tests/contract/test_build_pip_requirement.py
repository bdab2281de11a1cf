"""bin/build with `BP_PIP_REQUIREMENT` (requirements files other than requirements.txt) and
`BP_PIP_EXTRAS`."""

from __future__ import annotations

import pytest

from tests.contract.lockfile_apps import build_ok, distributions
from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace


@pytest.fixture
def app(ws: Workspace, package_index: PackageIndex) -> Workspace:
    (ws.app / ".python-version").write_text("3.13\n")
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)
    (ws.app / "requirements").mkdir()
    (ws.app / "requirements" / "prod.txt").write_text("bp-test-alpha==1.0.0\n")
    (ws.app / "requirements" / "worker.txt").write_text("bp-test-beta==1.0.0\n")
    # A uv.lock too: BP_PIP_REQUIREMENT makes it a pip app all the same.
    (ws.app / "uv.lock").write_text("version = 1\n")
    return ws


def test_the_named_files_are_installed_together(app: Workspace) -> None:
    app.set_platform_env("BP_PIP_REQUIREMENT", "requirements/prod.txt,requirements/worker.txt")
    out = build_ok(app).stdout
    assert "Package manager: pip (requirements/prod.txt, requirements/worker.txt)" in out
    assert (
        "Running 'pip install --requirement requirements/prod.txt --requirement "
        "requirements/worker.txt'" in out
    )
    packages = distributions(app)
    assert packages["bp-test-alpha"] == "1.0.0" and packages["bp-test-beta"] == "1.0.0"


def test_a_missing_file_fails_before_any_layer_listing_what_exists(app: Workspace) -> None:
    app.set_platform_env("BP_PIP_REQUIREMENT", "requirements/production.txt")
    result = app.build()
    assert result.exit_code == 1, result.output
    assert "Invalid value for BP_PIP_REQUIREMENT" in result.output
    assert "requirements/prod.txt, requirements/worker.txt" in result.output
    assert "Traceback" not in result.output
    assert not any(app.layers.iterdir())


def test_pip_extras_install_a_pyproject_extra(ws: Workspace, package_index: PackageIndex) -> None:
    (ws.app / ".python-version").write_text("3.13\n")
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)
    (ws.app / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["bp-test-alpha==1.0.0"]\n\n'
        '[project.optional-dependencies]\nworker = ["bp-test-beta==1.0.0"]\n'
    )
    ws.set_platform_env("BP_PIP_EXTRAS", "worker")
    out = build_ok(ws).stdout
    assert "the dependencies in pyproject.toml with the extras worker" in out
    assert distributions(ws)["bp-test-beta"] == "1.0.0"

    ws.set_platform_env("BP_PIP_EXTRAS", "postgres")
    failed = ws.build()
    assert failed.exit_code == 1
    assert "no extra named 'postgres'" in failed.output and "It defines: worker." in failed.output
