from __future__ import annotations

from pathlib import Path

import pytest

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.errors import InvalidConfigFile
from python_buildpack.pip_inputs import pip_inputs


def test_requirements_txt(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask==3.1.0\n")
    inputs = pip_inputs(AppSnapshot(tmp_path), "requirements.txt", {}, install_project=False)
    assert inputs.install_args == ["--requirement", "requirements.txt"]
    assert inputs.deterministic and inputs.pinned_names == {"flask"}


def test_pep621_dependencies(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["Flask==3.1.0", "gunicorn>=23"]\n'
    )
    inputs = pip_inputs(AppSnapshot(tmp_path), "pyproject.toml", {}, install_project=False)
    assert inputs.install_args == ["Flask==3.1.0", "gunicorn>=23"]
    assert inputs.pinned_names == {"flask"}
    assert not inputs.deterministic
    assert "gunicorn>=23" in inputs.unpinned[0]


BUILD_SYSTEM = (
    '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
)


def test_project_with_a_build_system_is_installed_itself(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["flask==3.1.0"]\n' + BUILD_SYSTEM
    )
    inputs = pip_inputs(AppSnapshot(tmp_path), "pyproject.toml", {}, install_project=None)
    assert inputs.install_args == ["."] and inputs.installs_project
    assert "[build-system]" in inputs.describe
    # The app's code is copied into the venv: never reused, or it would go stale.
    assert not inputs.deterministic


def test_project_without_a_build_system_gives_its_dependencies_only(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["flask==3.1.0"]\n'
        '[project.scripts]\napp = "app:main"\n'
    )
    inputs = pip_inputs(AppSnapshot(tmp_path), "pyproject.toml", {}, install_project=None)
    assert inputs.install_args == ["flask==3.1.0"] and not inputs.installs_project
    assert inputs.deterministic


def test_install_project_setting_overrides_either_way(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\n')
    inputs = pip_inputs(AppSnapshot(tmp_path), "pyproject.toml", {}, install_project=True)
    assert inputs.install_args == ["."]
    assert "BP_PIP_INSTALL_PROJECT" in inputs.describe
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["flask==3.1.0"]\n' + BUILD_SYSTEM
    )
    inputs = pip_inputs(AppSnapshot(tmp_path), "pyproject.toml", {}, install_project=False)
    assert inputs.install_args == ["flask==3.1.0"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[project\n", "not valid TOML"),
        ('[project]\nname = "a"\ndynamic = ["dependencies"]\n', "Add a [build-system]"),
        ('[project]\nname = "a"\ndependencies = ["flask >>> 1"]\n', "not a valid requirement"),
        ("[tool.black]\nline-length = 100\n", "no [project] table"),
    ],
)
def test_bad_pyproject_is_explained(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(InvalidConfigFile, match=expected.replace("[", r"\[")):
        pip_inputs(AppSnapshot(tmp_path), "pyproject.toml", {}, install_project=False)


def test_test_requirement_files_are_installed_with_the_main_ones(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask==3.1.0\n")
    (tmp_path / "requirements-test.txt").write_text("pytest==8.4.0\n")
    main = pip_inputs(AppSnapshot(tmp_path), "requirements.txt", {}, install_project=False)
    test = pip_inputs(
        AppSnapshot(tmp_path), "requirements.txt", {}, install_project=False,
        test_requirements=("requirements-test.txt",),
    )  # fmt: skip
    assert test.install_args == [
        "--requirement", "requirements.txt", "--requirement", "requirements-test.txt",
    ]  # fmt: skip
    assert test.pinned_names == {"flask", "pytest"} and test.deterministic
    assert test.digest != main.digest
    assert test.describe == "requirements.txt and requirements-test.txt"

    (tmp_path / "requirements-test.txt").write_text("pytest>=8\n")
    loose = pip_inputs(
        AppSnapshot(tmp_path), "requirements.txt", {}, install_project=False,
        test_requirements=("requirements-test.txt",),
    )  # fmt: skip
    assert not loose.deterministic and loose.digest != test.digest


def test_dependency_groups_of_a_test_build(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask==3.1.0\n")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.ruff]\nline-length = 100\n\n[dependency-groups]\n"
        'test = ["pytest==8.4.0", {include-group = "lint"}]\nlint = ["ruff>=0.6"]\n'
    )
    main = pip_inputs(AppSnapshot(tmp_path), "requirements.txt", {}, install_project=False)
    test = pip_inputs(
        AppSnapshot(tmp_path), "requirements.txt", {}, install_project=False, dependency_groups=True
    )
    assert main.install_args == ["--requirement", "requirements.txt"]  # production: no groups
    assert test.install_args == [
        "--requirement", "requirements.txt", "--group", "lint", "--group", "test",
    ]  # fmt: skip
    assert test.pinned_names == {"flask", "pytest"}
    assert test.unpinned == ["dependency group lint: ruff>=0.6"]
    assert test.digest != main.digest
    assert "the dependency groups lint, test" in test.describe


def test_dependency_groups_must_be_lists(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "pyproject.toml").write_text('[dependency-groups]\ntest = "pytest"\n')
    with pytest.raises(InvalidConfigFile, match="dependency-groups"):
        pip_inputs(
            AppSnapshot(tmp_path),
            "requirements.txt",
            {},
            install_project=False,
            dependency_groups=True,
        )
