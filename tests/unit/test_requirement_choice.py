"""`BP_PIP_REQUIREMENT`: which files, checked up front, installed together."""

from __future__ import annotations

from pathlib import Path

import pytest

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.errors import PipRequirementFileInvalid, PipRequirementWithOtherManager
from python_buildpack.package_managers import Tool
from python_buildpack.pip_inputs import pip_inputs
from python_buildpack.requirement_choice import (
    candidates,
    pip_requirements_manager,
    requirement_files,
)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "prod.txt").write_text("bp-test-alpha==1.0.0\n")
    (tmp_path / "requirements" / "extra.txt").write_text("bp-test-beta\n")
    (tmp_path / "dev-requirements.txt").write_text("pytest\n")
    (tmp_path / "notes.txt").write_text("not requirements\n")
    return tmp_path


def test_unset_is_requirements_txt_as_usual(app: Path) -> None:
    assert requirement_files({}, app) == ()


def test_several_files_in_order(app: Path) -> None:
    setting = {"BP_PIP_REQUIREMENT": "requirements/prod.txt, requirements/extra.txt"}
    files = requirement_files(setting, app)
    assert files == ("requirements/prod.txt", "requirements/extra.txt")
    inputs = pip_inputs(AppSnapshot(app), "requirements.txt", {}, False, requirement_files=files)
    assert inputs.install_args == [
        "--requirement", "requirements/prod.txt", "--requirement", "requirements/extra.txt",
    ]  # fmt: skip
    assert inputs.describe == "requirements/prod.txt, requirements/extra.txt"
    assert inputs.pinned_names == {"bp-test-alpha"}
    assert not inputs.deterministic  # bp-test-beta is not pinned
    # Each file is part of the digest: editing the second changes it.
    before = inputs.digest
    (app / "requirements" / "extra.txt").write_text("bp-test-beta==1.0.0\n")
    after = pip_inputs(AppSnapshot(app), "requirements.txt", {}, False, requirement_files=files)
    assert after.digest != before and after.deterministic


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("requirements/missing.txt", "the app has no file 'requirements/missing.txt'"),
        ("/etc/passwd", "'/etc/passwd' is not a path inside the app"),
        ("../outside.txt", "'../outside.txt' is not a path inside the app"),
        ("requirements", "the app has no file 'requirements'"),
    ],
)
def test_bad_paths_list_the_requirements_files_there_are(
    app: Path, value: str, problem: str
) -> None:
    with pytest.raises(PipRequirementFileInvalid) as caught:
        requirement_files({"BP_PIP_REQUIREMENT": value}, app)
    message = str(caught.value)
    assert problem in message
    assert (
        "The app's requirements files: dev-requirements.txt, requirements/extra.txt, "
        "requirements/prod.txt." in message
    )


def test_a_link_out_of_the_app_is_refused(
    app: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "reqs.txt"
    outside.write_text("flask\n")
    (app / "linked.txt").symlink_to(outside)
    with pytest.raises(PipRequirementFileInvalid, match="leads outside the app"):
        requirement_files({"BP_PIP_REQUIREMENT": "linked.txt"}, app)


def test_no_candidates(tmp_path: Path) -> None:
    assert candidates(tmp_path) == []
    with pytest.raises(
        PipRequirementFileInvalid, match="no file that looks like a requirements file"
    ):
        requirement_files({"BP_PIP_REQUIREMENT": "x.txt"}, tmp_path)


def test_it_makes_a_pip_app_unless_another_manager_is_asked_for() -> None:
    manager = pip_requirements_manager(("a.txt", "b.txt"), {})
    assert manager.tool is Tool.PIP and manager.describe == "pip (a.txt, b.txt)"
    with pytest.raises(PipRequirementWithOtherManager, match="BP_PIP_REQUIREMENT is set too"):
        pip_requirements_manager(("a.txt",), {"BP_PYTHON_PACKAGE_MANAGER": "uv"})
