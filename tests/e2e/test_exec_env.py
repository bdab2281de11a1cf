"""CNB_EXEC_ENV under the real lifecycle: a test build installs the test requirements and the
PEP 735 dependency groups too, and the production build after it does not reuse that venv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness.lifecycle import BuildResult, Platform

pytestmark = pytest.mark.e2e

IMPORTS = (
    "import importlib.util as u; "
    "print(','.join(m for m in ('bp_test_alpha', 'bp_test_beta', 'bp_test_script') "
    "if u.find_spec(m)))"
)


def importable(platform: Platform, result: BuildResult) -> str:
    exit_code, output = platform.run(result, command=["python", "-c", IMPORTS])
    assert exit_code == 0, output
    return output.strip().splitlines()[-1]


def test_test_build_installs_test_requirements(
    python_platform: Any, tmp_path: Path, cache_dir: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("bp-test-alpha==1.0.0\n")
    (app / "requirements-test.txt").write_text("bp-test-beta==1.0.0\n")
    (app / "pyproject.toml").write_text('[dependency-groups]\ntest = ["bp-test-script==1.0.0"]\n')
    platform: Platform = python_platform()

    platform.lifecycle_env["CNB_EXEC_ENV"] = "test"
    test = platform.build(app, image="exec-env", cache_dir=cache_dir)
    log = test.logs["builder"]
    assert "Execution environment: test (CNB_EXEC_ENV)" in log
    assert "requirements.txt and requirements-test.txt and the dependency groups test" in log
    assert importable(platform, test) == "bp_test_alpha,bp_test_beta,bp_test_script"

    del platform.lifecycle_env["CNB_EXEC_ENV"]
    production = platform.build(
        app, image="exec-env", cache_dir=cache_dir, previous_image="exec-env"
    )
    log = production.logs["builder"]
    assert "Execution environment" not in log
    assert "Using cached virtual environment" not in log
    assert importable(platform, production) == "bp_test_alpha"
