"""The `venv` layer's env: what the app and later buildpacks get."""

from __future__ import annotations

from pathlib import Path

from python_buildpack.cnb.env import Behaviour, Scope
from python_buildpack.layers.venv import venv_env

VENV = Path("/layers/bp/venv")


def variables(package_manager: str, pythonpath: str | None = None) -> dict[tuple[str, str], str]:
    env = venv_env(VENV, package_manager, pythonpath)
    return {(e.scope.value, e.name): e.value for e in env.entries() if e.value is not None}


def test_pip_apps_give_later_buildpacks_pip_into_the_venv() -> None:
    found = variables("pip")
    assert found[("env", "VIRTUAL_ENV")] == str(VENV)
    assert found[("env.build", "PIP_PYTHON")] == str(VENV)
    assert not any(name.startswith(("UV_", "POETRY_")) for _, name in found)


def test_uv_apps_give_later_buildpacks_uv_on_the_venv() -> None:
    for manager in ("uv", "uv-pip"):
        found = variables(manager)
        assert found[("env.build", "UV_PROJECT_ENVIRONMENT")] == str(VENV)
        assert found[("env.build", "UV_PYTHON_DOWNLOADS")] == "never"
        assert found[("env.build", "UV_NO_MANAGED_PYTHON")] == "1"
        assert ("env.launch", "UV_PROJECT_ENVIRONMENT") not in found


def test_poetry_apps_never_let_a_later_poetry_make_a_venv() -> None:
    found = variables("poetry")
    assert found[("env.build", "POETRY_VIRTUALENVS_CREATE")] == "false"


def test_the_apps_pythonpath_is_a_launch_default() -> None:
    env = venv_env(VENV, "pip", "src")
    assert env.get(Scope.LAUNCH, "PYTHONPATH", Behaviour.DEFAULT) == "src"
    assert env.get(Scope.BUILD, "PYTHONPATH", Behaviour.DEFAULT) is None
    assert venv_env(VENV, "pip", None).get(Scope.LAUNCH, "PYTHONPATH", Behaviour.DEFAULT) is None
