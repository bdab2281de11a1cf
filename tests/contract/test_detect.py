"""bin/detect run as the lifecycle runs it: env vars per the Buildpack API, app dir as cwd."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from python_buildpack.cnb.models import BuildPlan
from python_buildpack.cnb.toml_io import load_toml
from tests.harness.phases import SYSTEM_PATH, Workspace, clean_env


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    # Detect needs no runtimes: the checkout itself is the buildpack.
    return Workspace(tmp_path)


def test_passes_for_a_requirements_app_and_writes_the_plan(ws: Workspace) -> None:
    (ws.app / "requirements.txt").write_text("flask==3.1.0\n")
    result = ws.detect()
    assert result.exit_code == 0, result.output
    assert "requirements.txt" in result.output
    plan = load_toml(ws.build_plan, BuildPlan, what="build plan")
    assert [p.name for p in plan.provides] == ["cpython", "pip", "venv"]
    assert [r.name for r in plan.requires] == ["cpython", "pip", "venv"]
    assert [p.name for p in plan.or_[0].provides] == ["cpython", "pip", "venv"]
    assert plan.or_[0].requires == []


@pytest.mark.parametrize("name", ["manage.py", ".python-version", "requirments.txt", "uv.lock"])
def test_half_configured_apps_pass_so_build_can_explain(ws: Workspace, name: str) -> None:
    (ws.app / name).write_text("")
    assert ws.detect().exit_code == 0


def test_fails_with_100_on_an_empty_dir(ws: Workspace) -> None:
    result = ws.detect()
    assert result.exit_code == 100
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "requirements.txt" in lines[0] and "pyproject.toml" in lines[0]
    assert not ws.build_plan.exists()


def test_fails_with_100_for_a_readme_only_app(ws: Workspace) -> None:
    (ws.app / "README.md").write_text("# not python\n")
    assert ws.detect().exit_code == 100


def test_unreadable_app_dir_is_an_error_not_a_fail(ws: Workspace) -> None:
    # Root reads any directory whatever its mode, so make the listing fail another way: the
    # app dir is deleted after the shell enters it and before detect looks at it.
    gone = ws.root / "gone"
    gone.mkdir()
    proc = subprocess.run(
        ["sh", "-c", f'cd "{gone}" && rmdir "{gone}" && exec "{ws.buildpack_dir}/bin/detect"'],
        env=clean_env(
            {
                "CNB_BUILDPACK_DIR": str(ws.buildpack_dir),
                "CNB_PLATFORM_DIR": str(ws.platform),
                "CNB_BUILD_PLAN_PATH": str(ws.build_plan),
            }
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 100), output
    assert "Unable to read the app directory" in output
    assert "Traceback" not in output


def test_no_python_to_run_the_buildpack_is_explained(ws: Workspace, tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin-without-python"
    empty_bin.mkdir()
    (ws.app / "requirements.txt").write_text("")
    result = ws.detect(path=f"{empty_bin}:/nonexistent")
    assert result.exit_code not in (0, 100)
    assert "make package" in result.output


def test_system_path_constant_has_no_dev_venv() -> None:
    assert ".venv" not in SYSTEM_PATH


def test_missing_platform_variables_are_a_clear_error(ws: Workspace) -> None:
    (ws.app / "requirements.txt").write_text("")
    proc = subprocess.run(
        [str(ws.buildpack_dir / "bin" / "build")],
        cwd=ws.app,
        env=clean_env({"CNB_BUILDPACK_DIR": str(ws.buildpack_dir)}),
        capture_output=True,
        text=True,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "did not follow the buildpack contract" in output
    assert "CNB_" in output
    assert "Traceback" not in output


def test_build_rejects_an_unreadable_buildpack_plan(ws: Workspace) -> None:
    (ws.app / "requirements.txt").write_text("")
    result = ws.build(plan="[[entries]\nname = ")
    assert result.exit_code == 1, result.output
    assert "Buildpack Plan" in result.output
    assert "Traceback" not in result.output
    assert not any(ws.layers.iterdir())
