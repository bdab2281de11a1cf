"""The pure parts of the package-manager installers: settings, reasons, env mapping."""

from __future__ import annotations

import io
import types
from pathlib import Path

import pytest

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.config import poetry_groups
from python_buildpack.errors import (
    LockedPackagesInstallFailed,
    LockFileOutdated,
    PackageManagerInstallFailed,
    PipInstallFailed,
    PoetryGroupsInvalid,
)
from python_buildpack.installers import (
    LOCK_FILE_INSTALLERS,
    lock_file_installer,
    pipenv,
    poetry,
    rebuilt_on_every_build,
    uv,
)
from python_buildpack.installers.pip import PipInstaller, uv_pip_env
from python_buildpack.layers.python import PythonInstall
from python_buildpack.layers.tool import ToolInstall
from python_buildpack.output import Log
from python_buildpack.package_managers import PackageManager, Tool
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


def test_a_failed_install_of_pipenvs_exported_lock_names_the_lock_file() -> None:
    error = LockedPackagesInstallFailed("Pipfile.lock", 1)
    assert isinstance(error, PipInstallFailed)
    assert error.title == "Installing the packages of Pipfile.lock with pip failed (exit status 1)"
    assert "'pip install'" in error.fix


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


# --- installers read the package manager table (issue 14, item 3)


def test_every_lock_file_manager_has_an_installer_reading_its_spec() -> None:
    assert set(LOCK_FILE_INSTALLERS) == {tool for tool in Tool if tool is not Tool.PIP}
    for tool, installer in LOCK_FILE_INSTALLERS.items():
        assert installer.spec is tool.spec


@pytest.mark.parametrize("tool", [Tool.UV, Tool.POETRY, Tool.PIPENV])
def test_lock_file_installer_log_strings_come_from_the_spec(tmp_path: Path, tool: Tool) -> None:
    spec = tool.spec
    config = types.SimpleNamespace(
        app_dir=tmp_path,
        app=AppSnapshot(tmp_path),
        package_manager=PackageManager(tool, "x"),
        uv=types.SimpleNamespace(options=[]),
        poetry_groups=(),
    )
    python = PythonInstall(tmp_path / "python", "3.13.5", {})
    installer = lock_file_installer(
        config,  # type: ignore[arg-type]
        python,
        ToolInstall(spec.name, tmp_path / spec.name, "1.0"),
    )
    assert (installer.display, installer.package_manager) == (spec.display, spec.name)
    assert (installer.describe, installer.lock_file) == (spec.lock_file, spec.lock_file)
    assert installer.inputs == spec.project_files
    # What the digest covers, as the log names it: the lock file and the files present.
    groups = ["the selected groups"] if tool is Tool.POETRY else []
    assert installer.options == (["groups="] if groups else [])
    assert installer.inputs_label == " or ".join([spec.lock_file, *groups])
    assert spec.manifest is not None
    (tmp_path / spec.manifest).write_text("")
    # The label names what the snapshot of the app (read by decide()) holds.
    config.app = AppSnapshot(tmp_path)
    label = ", ".join([spec.lock_file, spec.manifest, *groups][:-1])
    assert installer.inputs_label == f"{label} or {[spec.manifest, *groups][-1]}"


@pytest.mark.parametrize("tool", [Tool.UV, Tool.POETRY, Tool.PIPENV])
def test_a_stale_lock_file_is_named_with_the_specs_fix(tmp_path: Path, tool: Tool) -> None:
    spec = tool.spec
    assert spec.outdated is not None
    executable = tmp_path / spec.name
    executable.write_text(f"#!/bin/sh\necho 'error: {spec.outdated.marker}' >&2\nexit 1\n")
    executable.chmod(0o755)
    config = types.SimpleNamespace(app_dir=tmp_path, package_manager=PackageManager(tool, "x"))
    python = PythonInstall(tmp_path / "python", "3.13.5", {})
    installer = LOCK_FILE_INSTALLERS[tool](
        config,  # type: ignore[arg-type]
        python,
        ToolInstall(spec.name, tmp_path, "1.0"),
    )
    out = io.StringIO()
    env = {"PATH": "/usr/bin:/bin"}
    with pytest.raises(LockFileOutdated) as info:
        installer.run_tool([executable, "sync"], env, Log(out, out))
    assert info.value.title == f"{spec.lock_file} is out of date"
    assert f"no longer matches {spec.manifest}" in info.value.detail
    assert f"Run '{spec.outdated.fix_command}' and commit the {spec.lock_file}" in info.value.fix
    # Other failures name the command, not the lock file's age.
    executable.write_text("#!/bin/sh\necho 'error: something else' >&2\nexit 1\n")
    with pytest.raises(PackageManagerInstallFailed) as failed:
        installer.run_tool([executable, "sync"], env, Log(out, out))
    assert (
        failed.value.title
        == f"Installing the dependencies with {spec.display} failed (exit status 1)"
    )


@pytest.mark.parametrize(
    ("unpinned", "reuse", "why"),
    [
        ([], True, None),
        (["flask"], True, "Not every requirement is pinned to one version"),
        ([], False, "BP_PIP_REUSE_VENV is false"),
    ],
)
def test_a_pip_venv_installed_on_every_build_is_known_before_python(
    unpinned: list[str], reuse: bool, why: str | None
) -> None:
    inputs = PipInputs("requirements.txt", [], "d", unpinned=unpinned)
    pip = types.SimpleNamespace(tool=Tool.PIP)
    config = types.SimpleNamespace(pip_inputs=inputs, reuse_venv=reuse, package_manager=pip)
    assert rebuilt_on_every_build(config) == why  # type: ignore[arg-type]


# Each tool's lock file as the tool writes it, with one package from the app dir as a copy.
COPYING_LOCKS = {
    Tool.UV: (
        '[[package]]\nname = "greet"\nversion = "0.1.0"\nsource = { directory = "libs/greet" }\n'
    ),
    Tool.POETRY: (
        '[[package]]\nname = "greet"\nversion = "0.1.0"\ndevelop = false\n\n'
        '[package.source]\ntype = "directory"\nurl = "libs/greet"\n'
    ),
    Tool.PIPENV: '{"default": {"greet": {"path": "./libs/greet"}}}',
}


@pytest.mark.parametrize("tool", [Tool.UV, Tool.POETRY, Tool.PIPENV], ids=lambda t: t.value)
def test_a_lock_file_copying_the_apps_code_is_known_before_python(
    tool: Tool, tmp_path: Path
) -> None:
    lock_file = tool.spec.lock_file
    config = types.SimpleNamespace(
        app=AppSnapshot(tmp_path), package_manager=types.SimpleNamespace(tool=tool)
    )
    (tmp_path / lock_file).write_text(COPYING_LOCKS[tool])
    reason = rebuilt_on_every_build(config)  # type: ignore[arg-type]
    assert reason == f"{lock_file} installs code of the app dir as a copy, not editable"

    # None of the words a local entry holds: not parsed at all (a large lock file would cost
    # the build more than its other work), so even a broken one passes here, for the tool to
    # reject.
    other = tmp_path / "other"
    other.mkdir()
    (other / lock_file).write_text("{[ not a lock file, no local entries")
    config.app = AppSnapshot(other)
    assert rebuilt_on_every_build(config) is None  # type: ignore[arg-type]
    # The same package editable is no copy.
    editable = COPYING_LOCKS[tool].replace("{ directory =", "{ editable =")
    editable = editable.replace("develop = false", "develop = true")
    editable = editable.replace('"./libs/greet"}', '"./libs/greet", "editable": true}')
    (other / lock_file).write_text(editable)
    config.app = AppSnapshot(other)
    assert rebuilt_on_every_build(config) is None  # type: ignore[arg-type]
