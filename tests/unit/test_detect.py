from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from python_buildpack import detect
from python_buildpack.errors import AppDirUnreadable, WorkingDirectoryUnreadable


@pytest.mark.parametrize("name", detect.PYTHON_APP_FILES)
def test_each_python_file_marks_a_python_app(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("")
    assert detect.python_app_files(tmp_path) == [name]


def test_every_package_manager_file_is_detected() -> None:
    for name in ("requirements.txt", "pyproject.toml", "uv.lock", "poetry.lock", "Pipfile.lock"):
        assert name in detect.PYTHON_APP_FILES


def test_directories_named_like_app_files_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").mkdir()
    (tmp_path / "README.md").write_text("# hi")
    assert detect.python_app_files(tmp_path) == []


def test_unreadable_app_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(AppDirUnreadable, match="missing"):
        detect.python_app_files(tmp_path / "missing")


def test_a_working_directory_gone_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def gone() -> Path:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(Path, "cwd", gone)
    with pytest.raises(WorkingDirectoryUnreadable) as caught:
        detect.working_directory()
    assert caught.value.title == "Unable to read the app directory"
    assert "could not read the working directory: No such file or directory." in (
        caught.value.detail
    )


def test_plan_requires_what_it_provides_with_a_provide_only_alternative() -> None:
    plan = detect.build_plan()
    provided = [p["name"] for p in plan["provides"]]  # type: ignore[attr-defined]
    required = [r["name"] for r in plan["requires"]]  # type: ignore[attr-defined]
    assert provided == required == ["cpython", "pip", "venv"]
    (alternative,) = plan["or"]  # type: ignore[misc]
    assert "requires" not in alternative
    assert [p["name"] for p in alternative["provides"]] == provided


def test_detect_path_imports_nothing_heavy() -> None:
    code = (
        "import sys, python_buildpack.__main__, python_buildpack.detect, "
        "python_buildpack.cnb.context;"
        "print(sorted({'pydantic', 'tomli_w', 'dataclasses', 'traceback', 'inspect'} "
        "& set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plan_toml_says_what_build_plan_says() -> None:
    import tomllib

    assert tomllib.loads(detect.plan_toml()) == detect.build_plan()


def test_pip_is_needed_at_build_time_only() -> None:
    requires = {r["name"]: r["metadata"] for r in detect.build_plan()["requires"]}  # type: ignore[attr-defined]
    assert requires["pip"] == {"build": True, "launch": False}
    assert requires["cpython"] == requires["venv"] == {"build": True, "launch": True}


def test_pipes_and_links_out_of_the_app_do_not_count_and_say_why(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "requirements.txt")
    (tmp_path / "pyproject.toml").symlink_to("/etc/hostname")
    (tmp_path / "runtime.txt").symlink_to("runtime.txt")
    (tmp_path / "app.py").symlink_to("src/app.py")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("")
    ignored: dict[str, str] = {}
    assert detect.python_app_files(tmp_path, ignored) == ["app.py"]
    assert ignored["requirements.txt"] == "it is a named pipe (FIFO), not a regular file"
    assert "outside the app directory" in ignored["pyproject.toml"]
    assert "loop" in ignored["runtime.txt"]


def test_required_by_others_tells_our_own_requirement_from_another_buildpacks() -> None:
    from python_buildpack.cnb.models import BuildpackPlan, PlanEntry

    def plan(*entries: tuple[str, dict[str, object]]) -> BuildpackPlan:
        return BuildpackPlan(entries=[PlanEntry(name=n, metadata=m) for n, m in entries])

    own = [(name, detect.own_requirement(name)) for name in detect.NEEDED]
    assert [r["metadata"] for r in detect.build_plan()["requires"]] == [m for _, m in own]  # type: ignore[index]
    for name in detect.NEEDED:
        assert not detect.required_by_others(plan(*own), name)
        assert not detect.required_by_others(plan(), name)
        # Another buildpack's entry: other metadata, or a second one like ours.
        assert detect.required_by_others(plan(*own, (name, {"build": True})), name)
        assert detect.required_by_others(plan(*own, (name, detect.own_requirement(name))), name)
