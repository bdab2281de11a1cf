"""The pure parts of the package-manager installers: settings, reasons, env mapping."""

from __future__ import annotations

import io
import types
from pathlib import Path

import pytest

from python_buildpack.config import poetry_groups
from python_buildpack.errors import InvalidPlatformEnv, PipInstallFailed
from python_buildpack.installers.locked import has_scripts
from python_buildpack.installers.pip import PipInstaller, uv_pip_env
from python_buildpack.layers.python import PythonInstall
from python_buildpack.layers.tool import ToolLayerMetadata
from python_buildpack.layers.tool import changes as tool_changes
from python_buildpack.layers.venv import VenvMetadata, changes
from python_buildpack.output import Log
from python_buildpack.pip_inputs import PipInputs


def venv_metadata(**update: object) -> VenvMetadata:
    base = VenvMetadata(
        package_manager="pip",
        inputs_digest="a",
        python_version="3.13.5",
        tool_version="26.3",
        arch="amd64",
        distro_name="debian",
        distro_version="12",
        reusable=True,
    )
    return base.model_copy(update=update)


def test_switching_package_manager_names_the_switch_not_the_tool_version() -> None:
    new = venv_metadata(package_manager="uv", tool_version="0.13.9", inputs_digest="b")
    assert changes(venv_metadata(), new, "uv", "uv.lock or pyproject.toml") == [
        "The package manager changed from pip to uv"
    ]


def test_lock_file_and_tool_changes_are_named() -> None:
    old = venv_metadata(package_manager="poetry", tool_version="2.4.0")
    new = venv_metadata(package_manager="poetry", tool_version="2.5.1", inputs_digest="b")
    assert changes(old, new, "Poetry", "poetry.lock or pyproject.toml") == [
        "poetry.lock or pyproject.toml changed",
        "The Poetry version changed from 2.4.0 to 2.5.1",
    ]
    assert changes(old, old.model_copy(update={"reusable": False})) == []
    assert "not fully pinned" in changes(old.model_copy(update={"reusable": False}), old)[0]


def test_tool_layer_reasons() -> None:
    old = ToolLayerMetadata(
        tool_version="0.13.8",
        requirements_sha256="x",
        python_version="3.13.5",
        arch="amd64",
        distro_name="debian",
        distro_version="12",
    )
    assert tool_changes(old, old, "uv") == []
    new = old.model_copy(update={"tool_version": "0.13.9", "python_version": "3.13.15"})
    assert tool_changes(old, new, "uv") == [
        "The uv version changed from 0.13.8 to 0.13.9",
        "The Python version changed from 3.13.5 to 3.13.15",
    ]
    rehashed = old.model_copy(update={"requirements_sha256": "y"})
    assert tool_changes(old, rehashed, "Poetry") == ["The pinned dependencies of Poetry changed"]


@pytest.mark.parametrize(
    ("raw", "groups"),
    [("", ()), ("dev", ("dev",)), ("dev, docs,dev", ("dev", "docs")), ("main,test", ("test",))],
)
def test_poetry_groups(raw: str, groups: tuple[str, ...]) -> None:
    assert poetry_groups({"BP_POETRY_GROUPS": raw}) == groups


def test_poetry_groups_rejects_what_is_not_a_group_name() -> None:
    with pytest.raises(InvalidPlatformEnv, match="BP_POETRY_GROUPS"):
        poetry_groups({"BP_POETRY_GROUPS": "dev;rm -rf /"})


def test_uv_pip_gets_pips_index_settings_unless_uv_ones_are_set() -> None:
    env = uv_pip_env(
        {
            "PIP_INDEX_URL": "https://mirror/simple",
            "PIP_EXTRA_INDEX_URL": "https://extra/simple",
            "PIP_CERT": "/ca.pem",
            "UV_INSECURE_HOST": "mine",
            "PIP_TRUSTED_HOST": "theirs",
        }
    )
    assert env["UV_DEFAULT_INDEX"] == "https://mirror/simple"
    assert env["UV_INDEX"] == "https://extra/simple"
    # pip looks at every index for the best match; uv must too for the same result.
    assert env["UV_INDEX_STRATEGY"] == "unsafe-best-match"
    assert env["SSL_CERT_FILE"] == "/ca.pem"
    assert env["UV_INSECURE_HOST"] == "mine"
    assert "UV_DEFAULT_INDEX" not in uv_pip_env({})


def test_scripts_decide_whether_the_project_is_installed() -> None:
    assert not has_scripts({"project": {"name": "a"}})
    assert has_scripts({"project": {"scripts": {"a": "a:main"}}})
    assert has_scripts({"tool": {"poetry": {"scripts": {"a": "a:main"}}}})


def test_a_failed_uv_pip_install_names_uv_not_pip(tmp_path: Path) -> None:
    uv = tmp_path / "uv"
    uv.write_text("#!/bin/sh\necho 'error: no solution found' >&2\nexit 2\n")
    uv.chmod(0o755)
    inputs = PipInputs("requirements.txt", ["--requirement", "requirements.txt"], "d")
    python = PythonInstall(tmp_path / "python", "3.13.5", {})
    config = types.SimpleNamespace(app_dir=tmp_path)
    installer = PipInstaller(config, python, inputs, "26.3", uv, "0.9.0")  # type: ignore[arg-type]
    out = io.StringIO()
    with pytest.raises(PipInstallFailed) as info:
        installer.install(tmp_path / "venv", {"PATH": "/usr/bin:/bin"}, Log(out, out))
    assert (
        info.value.title
        == "Installing requirements.txt with uv (pip interface) failed (exit status 2)"
    )
    assert "uv (pip interface) could not install" in info.value.detail
    assert "'uv pip install'" in info.value.fix
    assert "error: no solution found" in out.getvalue()
