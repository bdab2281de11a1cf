from __future__ import annotations

from pathlib import Path

import pytest

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.errors import (
    CondaNotSupported,
    InvalidPlatformEnv,
    ManifestMissing,
    MisspelledRequirementsFile,
    MultiplePackageManagerFiles,
    NoPackageManagerFile,
    PackageManagerFileMissing,
    PipfileLockMissing,
    PixiNotSupported,
    PoetryLockMissing,
    RequestedPackageManagerFileMissing,
    UnknownPackageManager,
    UnsupportedPackageManager,
)
from python_buildpack.package_managers import (
    SPECS,
    UV_PIP,
    Tool,
    choose_package_manager,
    venv_spec,
)


def test_requirements_txt_is_pip() -> None:
    manager = choose_package_manager({"requirements.txt", "app.py"}, {})
    assert (manager.tool, manager.file) == (Tool.PIP, "requirements.txt")


def test_requirements_txt_wins_over_a_plain_pyproject() -> None:
    manager = choose_package_manager({"requirements.txt", "pyproject.toml"}, {})
    assert manager.file == "requirements.txt"


def test_pyproject_alone_is_the_pep621_path() -> None:
    manager = choose_package_manager({"pyproject.toml"}, {})
    assert (manager.tool, manager.file) == (Tool.PIP, "pyproject.toml")


def test_several_lock_files_list_them_and_the_way_out() -> None:
    with pytest.raises(MultiplePackageManagerFiles) as info:
        choose_package_manager({"requirements.txt", "poetry.lock", "pyproject.toml"}, {})
    text = info.value.render()
    assert "requirements.txt (pip)" in text
    assert "poetry.lock (Poetry)" in text
    assert "BP_PYTHON_PACKAGE_MANAGER" in text


def test_the_env_var_chooses_among_several() -> None:
    files = {"requirements.txt", "poetry.lock", "pyproject.toml"}
    manager = choose_package_manager(files, {"BP_PYTHON_PACKAGE_MANAGER": "pip"})
    assert manager.file == "requirements.txt"


def test_the_env_var_must_name_a_known_tool_present_in_the_app() -> None:
    with pytest.raises(UnknownPackageManager, match=r"BP_PYTHON_PACKAGE_MANAGER") as unknown:
        choose_package_manager({"requirements.txt"}, {"BP_PYTHON_PACKAGE_MANAGER": "conda"})
    assert "Set it to one of: pip, uv, poetry, pipenv." in unknown.value.render()
    with pytest.raises(RequestedPackageManagerFileMissing, match="no file for Poetry") as missing:
        choose_package_manager({"requirements.txt"}, {"BP_PYTHON_PACKAGE_MANAGER": "poetry"})
    assert "or unset the variable" in missing.value.fix
    # Both are invalid platform env values, with that title.
    assert isinstance(unknown.value, InvalidPlatformEnv)
    assert missing.value.title == "Invalid value for BP_PYTHON_PACKAGE_MANAGER"


def test_pipfile_without_lock_says_to_lock() -> None:
    with pytest.raises(PipfileLockMissing, match="pipenv lock") as info:
        choose_package_manager({"Pipfile"}, {})
    assert info.value.title == "Found Pipfile but no Pipfile.lock"


def test_misspelt_requirements_is_named() -> None:
    with pytest.raises(MisspelledRequirementsFile, match=r"requirments\.txt"):
        choose_package_manager({"requirments.txt", "app.py"}, {})


def test_no_package_manager_file() -> None:
    with pytest.raises(NoPackageManagerFile) as info:
        choose_package_manager({"manage.py"}, {})
    assert "requirements.txt" in info.value.render()


def test_lock_file_without_pyproject() -> None:
    with pytest.raises(ManifestMissing, match=r"pyproject\.toml") as info:
        choose_package_manager({"uv.lock"}, {})
    assert info.value.title == "Found uv.lock but no pyproject.toml"
    assert "Commit the pyproject.toml that uv generated uv.lock from" in info.value.fix


@pytest.mark.parametrize(
    ("files", "tool", "file"),
    [
        ({"uv.lock", "pyproject.toml"}, Tool.UV, "uv.lock"),
        ({"poetry.lock", "pyproject.toml"}, Tool.POETRY, "poetry.lock"),
        ({"Pipfile.lock", "Pipfile"}, Tool.PIPENV, "Pipfile.lock"),
        ({"uv.lock", "pyproject.toml", ".python-version"}, Tool.UV, "uv.lock"),
    ],
)
def test_each_lock_file_picks_its_tool(files: set[str], tool: Tool, file: str) -> None:
    manager = choose_package_manager(files, {})
    assert (manager.tool, manager.file) == (tool, file)


def test_the_env_var_picks_a_lock_file_tool_among_several() -> None:
    files = {"requirements.txt", "uv.lock", "poetry.lock", "pyproject.toml"}
    manager = choose_package_manager(files, {"BP_PYTHON_PACKAGE_MANAGER": "uv"})
    assert (manager.tool, manager.file) == (Tool.UV, "uv.lock")
    with pytest.raises(MultiplePackageManagerFiles) as info:
        choose_package_manager(files, {})
    assert "uv.lock (uv)" in info.value.render() and "poetry.lock (Poetry)" in info.value.render()


def test_pipfile_lock_needs_its_pipfile() -> None:
    with pytest.raises(ManifestMissing, match="Pipfile") as info:
        choose_package_manager({"Pipfile.lock"}, {})
    assert info.value.title == "Found Pipfile.lock but no Pipfile"
    assert "Pipenv checks that Pipfile.lock is current against it" in info.value.fix


# --- package managers we don't run (issue 12, item 9)

POETRY_PYPROJECT = '[tool.poetry]\nname = "app"\n[tool.poetry.dependencies]\npython = "^3.12"\n'


def test_poetry_dependencies_without_a_lock_say_poetry_lock(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(POETRY_PYPROJECT)
    with pytest.raises(PoetryLockMissing) as info:
        choose_package_manager({"pyproject.toml"}, {}, AppSnapshot(tmp_path))
    assert isinstance(info.value, PackageManagerFileMissing)
    assert info.value.title == "Found pyproject.toml but no poetry.lock"
    assert "[tool.poetry.dependencies]" in info.value.render()
    assert "poetry lock" in info.value.render()
    # A requirements.txt beside it, or pip asked for by name, is the user's choice.
    assert choose_package_manager(
        {"pyproject.toml", "requirements.txt"}, {}, AppSnapshot(tmp_path)
    ).tool
    env = {"BP_PYTHON_PACKAGE_MANAGER": "pip"}
    assert choose_package_manager({"pyproject.toml"}, env, AppSnapshot(tmp_path)).tool is Tool.PIP


def test_poetry_settings_without_dependencies_stay_with_pip(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = []\n'
        '[tool.poetry]\npackages = [{include = "app", from = "src"}]\n'
    )
    assert choose_package_manager({"pyproject.toml"}, {}, AppSnapshot(tmp_path)).tool is Tool.PIP


@pytest.mark.parametrize(
    ("files", "named", "tool"),
    [
        (("environment.yml",), "environment.yml", "conda"),
        (("environment.yaml",), "environment.yaml", "conda"),
        (("pixi.toml",), "pixi.toml", "pixi"),
        (("pixi.lock", "pyproject.toml"), "pixi.lock", "pixi"),
    ],
)
def test_conda_and_pixi_are_named_as_not_supported(
    tmp_path: Path, files: tuple[str, ...], named: str, tool: str
) -> None:
    for name in files:
        (tmp_path / name).write_text('[project]\nname = "app"\n' if name.endswith(".toml") else "")
    found = {name for name in files if name == "pyproject.toml"} | {"app.py"}
    with pytest.raises(UnsupportedPackageManager) as info:
        choose_package_manager(found, {}, AppSnapshot(tmp_path))
    assert type(info.value) is {"conda": CondaNotSupported, "pixi": PixiNotSupported}[tool]
    assert info.value.title == f"{tool} is not supported yet"
    assert info.value.fix.startswith("This buildpack")
    assert named in info.value.render()


def test_conda_file_beside_a_supported_one_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    assert choose_package_manager({"requirements.txt"}, {}, AppSnapshot(tmp_path)).tool is Tool.PIP
    assert choose_package_manager({"pyproject.toml"}, {}, AppSnapshot(tmp_path)).tool is Tool.PIP


# --- the package manager table (issue 14, item 3)


def test_every_tool_has_one_spec() -> None:
    assert list(SPECS) == list(Tool)
    for tool, spec in SPECS.items():
        assert spec.tool is tool and tool.spec is spec
        assert spec.name == tool.value
        assert tool.display == spec.display
    lock_files = [spec.lock_file for spec in SPECS.values()]
    assert len(set(lock_files)) == len(lock_files)
    caches = [spec.cache for spec in SPECS.values() if spec.cache]
    assert len({cache.layer for cache in caches}) == len({cache.variable for cache in caches})
    assert len(caches) == len({cache.layer for cache in caches})


def test_spec_facts() -> None:
    uv, poetry, pipenv, pip = (SPECS[t] for t in (Tool.UV, Tool.POETRY, Tool.PIPENV, Tool.PIP))
    assert (uv.lock_file, uv.project_files) == ("uv.lock", ("pyproject.toml", "uv.toml"))
    assert poetry.project_files == ("pyproject.toml", "poetry.toml")
    assert (pipenv.lock_file, pipenv.project_files) == ("Pipfile.lock", ("Pipfile",))
    assert pip.project_files == () and pip.outdated is None and pip.manifest is None
    assert uv.cache and (uv.cache.layer, uv.cache.variable) == ("uv-cache", "UV_CACHE_DIR")
    assert poetry.cache and (poetry.cache.layer, poetry.cache.variable) == (
        "poetry-cache",
        "POETRY_CACHE_DIR",
    )
    assert pip.cache and (pip.cache.layer, pip.cache.variable) == ("pip-cache", "PIP_CACHE_DIR")
    # Pipenv's installs go through pip: pip's cache serves it, and it needs the pip layer.
    assert pipenv.cache is None and pipenv.needs_pip
    assert poetry.needs_pip and not uv.needs_pip
    for spec in (uv, poetry, pipenv):
        assert spec.outdated and spec.outdated.fix_command == f"{spec.name} lock"
        assert spec.manifest == spec.project_files[0]


def test_the_multiple_files_error_lists_the_table_in_order() -> None:
    with pytest.raises(MultiplePackageManagerFiles) as info:
        choose_package_manager({spec.lock_file for spec in SPECS.values()} | {"Pipfile"}, {})
    text = info.value.render()
    listed = [f"{spec.lock_file} ({spec.display})" for spec in SPECS.values()]
    assert [text.index(item) for item in listed] == sorted(text.index(item) for item in listed)


def test_a_venvs_recorded_manager_finds_its_spec() -> None:
    for tool in Tool:
        assert venv_spec(tool.value) is tool.spec
    # uv's pip interface leaves later buildpacks uv's settings.
    assert venv_spec(UV_PIP) is Tool.UV.spec
    assert Tool.UV.spec.venv_variable == "UV_PROJECT_ENVIRONMENT"
    assert not any(spec.later_build_env for spec in (Tool.PIP.spec, Tool.PIPENV.spec))


def test_venv_env_points_the_tool_at_the_venv_with_the_tables_settings() -> None:
    assert Tool.UV.spec.venv_env("/layers/venv") == {
        "UV_PROJECT_ENVIRONMENT": "/layers/venv",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_MANAGED_PYTHON": "1",
    }
    assert Tool.POETRY.spec.venv_env("/layers/venv") == {"POETRY_VIRTUALENVS_CREATE": "false"}
    assert Tool.PIP.spec.venv_env("/layers/venv") == {}
