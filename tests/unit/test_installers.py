"""The pure parts of the package-manager installers: settings, reasons, env mapping."""

from __future__ import annotations

import io
import types
from pathlib import Path

import pytest

from python_buildpack.config import poetry_groups
from python_buildpack.errors import PipInstallFailed, PoetryGroupsInvalid
from python_buildpack.installers import pipenv, poetry, uv
from python_buildpack.installers.pip import PipInstaller, uv_pip_env
from python_buildpack.layers.python import PythonInstall
from python_buildpack.output import Log
from python_buildpack.pip_inputs import PipInputs


@pytest.mark.parametrize(
    ("raw", "groups"),
    [("", ()), ("dev", ("dev",)), ("dev, docs,dev", ("dev", "docs")), ("main,test", ("test",))],
)
def test_poetry_groups(raw: str, groups: tuple[str, ...]) -> None:
    assert poetry_groups({"BP_POETRY_GROUPS": raw}) == groups


def test_poetry_groups_rejects_what_is_not_a_group_name() -> None:
    with pytest.raises(PoetryGroupsInvalid, match="BP_POETRY_GROUPS"):
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


def test_uv_note_follows_uvs_own_rule() -> None:
    build = {"build-system": {"requires": ["setuptools"]}}
    assert "installed (editable)" in uv.project_note(build)
    assert "virtual project" in uv.project_note({"project": {"scripts": {"a": "a:main"}}})
    assert "not installed" in uv.project_note({**build, "tool": {"uv": {"package": False}}})
    assert "installed (editable)" in uv.project_note({"tool": {"uv": {"package": True}}})


def test_poetry_note_follows_package_mode() -> None:
    assert "installed (editable)" in poetry.project_note({"project": {"name": "a"}})
    off = {"tool": {"poetry": {"package-mode": False}}}
    assert "not installed" in poetry.project_note(off)


def test_uv_lock_local_copies_block_reuse_editables_do_not() -> None:
    lock = {
        "package": [
            {"name": "app", "source": {"editable": "."}},
            {"name": "root", "source": {"virtual": "."}},
            {"name": "flask", "source": {"registry": "https://pypi.org/simple"}},
            {"name": "lib", "source": {"directory": "libs/lib"}},
            {"name": "wheel", "source": {"path": "dist/w-1-py3-none-any.whl"}},
        ]
    }
    assert uv.copied_sources(lock) == [
        "lib (from libs/lib)",
        "wheel (from dist/w-1-py3-none-any.whl)",
    ]
    assert uv.copied_sources({}) == []


def test_poetry_lock_local_copies_block_reuse_develop_does_not() -> None:
    lock = {
        "package": [
            {"name": "flask"},
            {"name": "dev", "develop": True, "source": {"type": "directory", "url": "libs/dev"}},
            {"name": "lib", "develop": False, "source": {"type": "directory", "url": "libs/lib"}},
            {"name": "w", "source": {"type": "file", "url": "dist/w.whl"}},
            {"name": "git", "source": {"type": "git", "url": "https://x/y.git"}},
        ]
    }
    assert poetry.copied_sources(lock) == ["lib (from libs/lib)", "w (from dist/w.whl)"]


def test_pipfile_lock_local_copies_block_reuse_editables_do_not() -> None:
    lock = {
        "default": {
            "app": {"path": ".", "editable": True},
            "lib": {"path": "./libs/lib"},
            "w": {"file": "dist/w.whl"},
            "remote": {"file": "https://example.com/r.whl"},
            "flask": {"version": "==3.1.3", "hashes": ["sha256:x"]},
        }
    }
    assert pipenv.copied_sources(lock) == ["lib (from ./libs/lib)", "w (from dist/w.whl)"]
    assert pipenv.copied_sources(None) == [] and pipenv.copied_sources([]) == []


def test_pipenv_export_splits_what_has_no_hash() -> None:
    export = (
        "-i http://127.0.0.1:1/simple\n"
        "bp-test-alpha==1.1.0 --hash=sha256:aa ; python_version >= '3.8'\n"
        "-e .\n"
        "git+https://example.com/x.git@abc#egg=x\n"
    )
    hashed, unhashed = pipenv.split_export(export)
    assert hashed.requirements == [
        "bp-test-alpha==1.1.0 --hash=sha256:aa ; python_version >= '3.8'"
    ]
    assert unhashed.requirements == ["-e .", "git+https://example.com/x.git@abc#egg=x"]
    assert hashed.options == unhashed.options == ["-i http://127.0.0.1:1/simple"]
    assert unhashed.text.startswith("-i http://127.0.0.1:1/simple\n-e .\n")
