"""CNB_EXEC_ENV: what a test build installs besides the main dependencies, and the venv reuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from python_buildpack.config import pip_test_requirements
from python_buildpack.errors import PipTestRequirementMissing
from python_buildpack.layers.venv import VenvMetadata, changes


def test_default_pip_test_requirements(tmp_path: Path) -> None:
    assert pip_test_requirements(tmp_path, {}) == ()
    (tmp_path / "requirements-dev.txt").write_text("")
    (tmp_path / "requirements-test.txt").write_text("")
    assert pip_test_requirements(tmp_path, {}) == (
        "requirements-test.txt",
        "requirements-dev.txt",
    )


def test_bp_pip_test_requirement_names_the_files(tmp_path: Path) -> None:
    (tmp_path / "requirements-test.txt").write_text("")
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "test.txt").write_text("")
    settings = {"BP_PIP_TEST_REQUIREMENT": "ci/test.txt, requirements-test.txt"}
    assert pip_test_requirements(tmp_path, settings) == ("ci/test.txt", "requirements-test.txt")


def test_bp_pip_test_requirement_must_name_files_that_exist(tmp_path: Path) -> None:
    (tmp_path / "requirements-test.txt").write_text("")
    with pytest.raises(PipTestRequirementMissing) as caught:
        pip_test_requirements(tmp_path, {"BP_PIP_TEST_REQUIREMENT": "requirements-tests.txt"})
    message = str(caught.value)
    assert "requirements-tests.txt is not a file" in message
    assert "requirements-test.txt" in message  # what exists


def metadata(**changes_: object) -> VenvMetadata:
    fields: dict[str, object] = {
        "package_manager": "pip",
        "inputs_digest": "d",
        "python_version": "3.13.15",
        "tool_version": "26.3",
        "arch": "amd64",
        "distro_name": "debian",
        "distro_version": "12",
        "reusable": True,
    }
    return VenvMetadata.model_validate({**fields, **changes_})


def test_a_test_venv_is_never_reused_for_production_or_the_reverse() -> None:
    production, test = metadata(), metadata(exec_env="test")
    assert production.exec_env == "production"  # venvs of older builds were production ones
    assert changes(production, test) == [
        "The execution environment changed from production to test"
    ]
    assert changes(test, production) == [
        "The execution environment changed from test to production"
    ]
    assert changes(test, metadata(exec_env="test")) == []
