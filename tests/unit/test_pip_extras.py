"""`BP_PIP_EXTRAS`: a pyproject.toml's extras on the PEP 621 path."""

from __future__ import annotations

from pathlib import Path

import pytest

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.errors import PipExtrasWithoutPyproject, SelectionNotInPyproject
from python_buildpack.pip_extras import pip_extras, with_extras
from python_buildpack.pip_inputs import pip_inputs

PYPROJECT = """
[project]
name = "app"
version = "1"
dependencies = ["bp-test-alpha==1.0.0"]

[project.optional-dependencies]
Worker = ["bp-test-beta==1.0.0"]
loose = ["bp-test-cext"]
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return tmp_path


def test_extras_join_the_dependencies(app: Path) -> None:
    extras = pip_extras({"BP_PIP_EXTRAS": "worker"}, AppSnapshot(app), "pyproject.toml")
    assert extras == ("worker",)
    plain = pip_inputs(AppSnapshot(app), "pyproject.toml", {}, False)
    inputs = with_extras(plain, AppSnapshot(app), extras)
    assert inputs.install_args == ["bp-test-alpha==1.0.0", "bp-test-beta==1.0.0"]
    assert inputs.describe.endswith("with the extras worker")
    assert inputs.deterministic and inputs.pinned_names == {"bp-test-alpha", "bp-test-beta"}
    assert inputs.digest != plain.digest

    loose = with_extras(plain, AppSnapshot(app), ("loose",))
    assert not loose.deterministic
    assert with_extras(plain, AppSnapshot(app), ()) is plain


def test_an_installed_project_gets_its_extras(app: Path) -> None:
    inputs = with_extras(
        pip_inputs(AppSnapshot(app), "pyproject.toml", {}, True),
        AppSnapshot(app),
        ("worker", "loose"),
    )
    assert inputs.install_args == [".[worker,loose]"]


def test_unknown_extra_lists_the_defined_ones(app: Path) -> None:
    with pytest.raises(SelectionNotInPyproject) as caught:
        pip_extras({"BP_PIP_EXTRAS": "postgres"}, AppSnapshot(app), "pyproject.toml")
    assert "no extra named 'postgres'" in str(caught.value)
    assert "It defines: loose, worker." in str(caught.value)


def test_extras_are_for_pyproject_apps(app: Path) -> None:
    with pytest.raises(
        PipExtrasWithoutPyproject, match=r"extras belong to a pyproject\.toml project"
    ):
        pip_extras({"BP_PIP_EXTRAS": "worker"}, AppSnapshot(app), "requirements.txt")
