"""bin/build with CNB_EXEC_ENV: a test build of a lock-file app installs its dev dependencies
(the fixture apps' dev group / dev-packages hold bp-test-beta), and a production build after it
discards that venv."""

from __future__ import annotations

import pytest

from tests.contract.lockfile_apps import distributions, lockfile_app
from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace

TEST = {"CNB_EXEC_ENV": "test"}


@pytest.mark.parametrize(
    ("fixture", "command"),
    [
        ("uv_app", "uv sync --locked --all-groups"),
        ("poetry_app", "sync --all-groups"),
        ("pipenv_app", "pip install --no-deps --require-hashes"),
    ],
)
def test_test_build_installs_dev_dependencies_and_production_drops_them(
    ws: Workspace, locked_package_index: PackageIndex, fixture: str, command: str
) -> None:
    app = lockfile_app(ws, locked_package_index, fixture)
    test = app.build(env=TEST)
    assert test.exit_code == 0, test.output
    assert "Execution environment: test (CNB_EXEC_ENV)" in test.stdout
    assert command in test.stdout
    assert "bp-test-beta" in distributions(app)
    assert app.layers.joinpath("venv.toml").read_text().count('exec_env = "test"') == 1

    production = app.build()
    assert production.exit_code == 0, production.output
    assert "The execution environment changed from test to production" in production.stdout
    assert "bp-test-beta" not in distributions(app)
    assert "bp-test-alpha" in distributions(app)
