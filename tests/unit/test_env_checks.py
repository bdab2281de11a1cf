from __future__ import annotations

import pytest

from python_buildpack.env_checks import (
    FORBIDDEN,
    app_only_env,
    check_environment,
    tool_run_env,
)
from python_buildpack.errors import ForbiddenEnvVars


def test_clean_environment_passes() -> None:
    check_environment({"PATH": "/bin", "PIP_INDEX_URL": "https://u:p@example.com/simple"})


def test_every_forbidden_var_is_named_with_its_reason_in_one_error() -> None:
    with pytest.raises(ForbiddenEnvVars) as info:
        check_environment(
            {"PYTHONHOME": "/x", "PIP_USER": "1", "UV_CACHE_DIR": "/c", "PATH": "/bin"}
        )
    text = info.value.title + info.value.render()
    assert "Unsupported environment variables set: PYTHONHOME, PIP_USER, UV_CACHE_DIR" in text
    assert "- PYTHONHOME: it makes Python look for its standard library" in text
    assert "- PIP_USER: it would install packages outside the app's virtual environment" in text
    assert "- UV_CACHE_DIR: the buildpack keeps this cache in its own cache layer" in text
    assert "- PATH:" not in text


def test_set_to_empty_still_counts() -> None:
    with pytest.raises(ForbiddenEnvVars, match="VIRTUAL_ENV"):
        check_environment({"VIRTUAL_ENV": ""})


@pytest.mark.parametrize(
    "name",
    [
        # what moves installs, caches or the interpreter out of the layers, per tool
        "PYTHONPLATLIBDIR",
        "PYTHONINSPECT",
        "PYTHONPYCACHEPREFIX",
        "PIP_CACHE_DIR",
        "PIP_TARGET",
        "UV_CACHE_DIR",
        "UV_NO_CACHE",
        "UV_PYTHON_DOWNLOADS",
        "UV_MANAGED_PYTHON",
        "UV_PYTHON_PREFERENCE",
        "UV_PROJECT",
        "POETRY_HOME",
        "POETRY_DATA_DIR",
        "POETRY_CACHE_DIR",
        "POETRY_VIRTUALENVS_IN_PROJECT",
        "POETRY_VIRTUALENVS_USE_POETRY_PYTHON",
    ],
)
def test_refused(name: str) -> None:
    with pytest.raises(ForbiddenEnvVars, match=name):
        check_environment({name: "1"})


@pytest.mark.parametrize(
    "name",
    [
        # what users of other buildpacks set, and what only changes how a tool works
        "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
        "PIP_EXTRA_INDEX_URL",
        "PIP_NO_CACHE_DIR",
        "PIP_REQUIRE_VIRTUALENV",
        "UV_INDEX",
        "UV_LINK_MODE",
        "UV_NO_MANAGED_PYTHON",
        "POETRY_HTTP_BASIC_PRIVATE_PASSWORD",
        "POETRY_INSTALLER_PARALLEL",
        # Pipenv only checks and exports the lock here: it never makes or picks a venv
        "PIPENV_VENV_IN_PROJECT",
        "WORKON_HOME",
        "PIPENV_PYTHON",
    ],
)
def test_accepted(name: str) -> None:
    check_environment({name: "1"})
    assert name not in FORBIDDEN


def test_pythonpath_is_kept_from_the_tools_and_given_to_the_app() -> None:
    environ = {"PATH": "/bin", "PYTHONPATH": "src:vendor", "PIP_INDEX_URL": "x"}
    assert tool_run_env(environ) == {"PATH": "/bin", "PIP_INDEX_URL": "x"}
    assert app_only_env(environ) == {"PYTHONPATH": "src:vendor"}
    assert app_only_env({"PATH": "/bin"}) == {}
