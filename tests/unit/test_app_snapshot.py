"""The app snapshot: `decide()` reads each app file once, parses it once, fails on a bad one
before any layer, and what follows it (installers, launch processes) never reads the disk."""

from __future__ import annotations

import io
import shutil
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from python_buildpack import app_snapshot
from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.cnb.context import BuildContext, Target
from python_buildpack.config import BuildConfig, decide
from python_buildpack.errors import (
    AppFileMissing,
    AppFileNotJson,
    AppFileNotToml,
    AppFileNotUtf8,
    ConfigFileUnreadable,
    InvalidConfigFile,
    RequirementsIncludeUnreadable,
)
from python_buildpack.installers.pipenv import PipenvInstaller
from python_buildpack.installers.poetry import PoetryInstaller
from python_buildpack.installers.uv import UvInstaller
from python_buildpack.layers.python import PythonInstall
from python_buildpack.layers.tool import ToolInstall
from python_buildpack.output import Log
from python_buildpack.processes import plan_processes
from python_buildpack.toml_compat import tomllib

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "apps"
TODAY = date(2026, 9, 1)


def context(app: Path, tmp_path: Path, **platform_env: str) -> BuildContext:
    (tmp_path / "layers").mkdir(exist_ok=True)
    (tmp_path / "platform").mkdir(exist_ok=True)
    return BuildContext(
        app_dir=app,
        buildpack_dir=REPO,
        platform_dir=tmp_path / "platform",
        layers_dir=tmp_path / "layers",
        buildpack_plan_path=tmp_path / "plan.toml",
        target=Target("linux", "amd64", None, "debian", "12"),
        platform_env=dict(platform_env),
    )


def run_decide(app: Path, tmp_path: Path, **platform_env: str) -> BuildConfig:
    out = io.StringIO()
    environ = {"PATH": "/usr/bin:/bin", **platform_env}
    return decide(
        context(app, tmp_path, **platform_env), Log(out, out), environ=environ, today=TODAY
    )


def fixture_app(name: str, tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / name, app)
    return app


PIP_APP = {
    "requirements.txt": "-r base.txt\nbp-test-beta==1.0.0\n",
    "base.txt": "bp-test-alpha==1.1.0\n",
    "pyproject.toml": '[project]\nname = "app"\nversion = "1"\n[project.scripts]\nserve = "a:b"\n',
    ".python-version": "3.13\n",
    "runtime.txt": "python-3.12\n",
}


def write(app: Path, files: dict[str, str]) -> Path:
    app.mkdir(exist_ok=True)
    for name, text in files.items():
        (app / name).write_text(text)
    return app


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> tuple[Counter[str], list[str]]:
    """Every read of an app file (by name) and every TOML text parsed."""
    reads: Counter[str] = Counter()
    parsed: list[str] = []
    read = app_snapshot.read_app_bytes
    loads = tomllib.loads

    def counting_read(app_dir: Path, name: str | Path, *args: Any, **kwargs: Any) -> Any:
        reads[str(name)] += 1
        return read(app_dir, name, *args, **kwargs)

    def counting_loads(text: str, **kwargs: Any) -> dict[str, Any]:
        parsed.append(text)
        return loads(text, **kwargs)

    monkeypatch.setattr(app_snapshot, "read_app_bytes", counting_read)
    monkeypatch.setattr(tomllib, "loads", counting_loads)
    return reads, parsed


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("uv_scripts_app", {"uv.lock", "pyproject.toml", "uv.toml", "poetry.toml", "Pipfile"}),
        ("poetry_app", {"poetry.lock", "pyproject.toml", "uv.toml", "poetry.toml", "Pipfile"}),
        ("pipenv_app", {"Pipfile.lock", "pyproject.toml", "uv.toml", "poetry.toml", "Pipfile"}),
    ],
)
def test_decide_reads_and_parses_each_file_once(
    tmp_path: Path, counted: tuple[Counter[str], list[str]], name: str, read: set[str]
) -> None:
    reads, parsed = counted
    app = fixture_app(name, tmp_path)
    config = run_decide(app, tmp_path)
    # Absent files are looked for once too; the version files on the way to a version source.
    version_files = {".python-version", "runtime.txt", "Procfile"}
    assert set(reads) - version_files == read, reads
    assert all(count == 1 for count in reads.values()), reads
    for file in ("pyproject.toml", "uv.toml", "poetry.toml"):
        if (app / file).is_file():
            assert parsed.count((app / file).read_text()) == 1, file
    # A lock file is read (for the digest) but parsed only when the installer asks, after its
    # tool has checked it: a rebuild that reuses the venv never pays for parsing it.
    for file in ("uv.lock", "poetry.lock"):
        if (app / file).is_file():
            assert parsed.count((app / file).read_text()) == 0, file
            lock = config.app.toml(file)
            assert lock and parsed.count((app / file).read_text()) == 1
            assert config.app.toml(file) is lock
    assert config.app.names  # the marker files detection found


def test_a_pip_apps_requirements_and_includes_are_read_once(
    tmp_path: Path, counted: tuple[Counter[str], list[str]]
) -> None:
    reads, parsed = counted
    config = run_decide(write(tmp_path / "app", PIP_APP), tmp_path)
    assert config.pip_inputs is not None and config.pip_inputs.deterministic
    # .python-version answers: runtime.txt is never read, nor lock files.
    assert set(reads) == {"requirements.txt", "base.txt", ".python-version", "Procfile",
                          "pyproject.toml"}  # fmt: skip
    assert all(count == 1 for count in reads.values()), reads
    assert parsed.count(PIP_APP["pyproject.toml"]) == 1


def test_a_pip_app_with_a_procfile_does_not_parse_an_unused_pyproject(
    tmp_path: Path, counted: tuple[Counter[str], list[str]]
) -> None:
    reads, parsed = counted
    files = {**PIP_APP, "Procfile": "web: gunicorn app:app\n", "pyproject.toml": "[tool.x\n"}
    run_decide(write(tmp_path / "app", files), tmp_path)
    assert "pyproject.toml" not in reads and parsed.count(files["pyproject.toml"]) == 0


BAD = [
    ("uv_app", "pyproject.toml", "[project\n", AppFileNotToml),
    ("uv_app", "uv.toml", "[pip\n", AppFileNotToml),
    ("poetry_app", "poetry.toml", "[virtualenvs\n", AppFileNotToml),
    ("poetry_app", "pyproject.toml", 'x = "\n', AppFileNotToml),
    ("pipenv_app", "Pipfile.lock", "{not json", AppFileNotJson),
    ("pipenv_app", "Pipfile", "\xff", AppFileNotUtf8),
    ("uv_app", "uv.lock", "\xff", AppFileNotUtf8),
    ("poetry_app", "poetry.lock", "\xff", AppFileNotUtf8),
    (None, "pyproject.toml", "[project\n", AppFileNotToml),
    # An include's problem names the line that includes it.
    (None, "base.txt", "\xff", RequirementsIncludeUnreadable),
]


@pytest.mark.parametrize(("name", "file", "content", "error"), BAD)
def test_a_bad_file_fails_decide_naming_it(
    tmp_path: Path, name: str | None, file: str, content: str, error: type[Exception]
) -> None:
    app = fixture_app(name, tmp_path) if name else write(tmp_path / "app", PIP_APP)
    if content == "\xff":
        (app / file).write_bytes(b"ok\n\xff\n")
    else:
        (app / file).write_text(content)
    with pytest.raises(error) as info:
        run_decide(app, tmp_path)
    assert isinstance(info.value, (InvalidConfigFile, ConfigFileUnreadable))
    shown = "requirements.txt line 1" if file == "base.txt" else file
    assert info.value.title in (f"Invalid {shown}", f"Unable to read {shown}")
    assert file in str(info.value)
    assert info.value.fix
    assert list((tmp_path / "layers").iterdir()) == []


def installers(config: BuildConfig, tmp_path: Path) -> list[Any]:
    python = PythonInstall(tmp_path / "python", "3.13.5", {})
    tool = ToolInstall("uv", tmp_path / "tool", "1")
    return [
        UvInstaller(config, python, tool),
        PoetryInstaller(config, python, tool),
        PipenvInstaller(config, python, tool),
    ]


@pytest.mark.parametrize(("name", "index"), [("uv_scripts_app", 0), ("poetry_app", 1)])
def test_installers_and_processes_read_the_snapshot_not_the_disk(
    tmp_path: Path, name: str, index: int
) -> None:
    app = fixture_app(name, tmp_path)
    config = run_decide(app, tmp_path)
    installer = installers(config, tmp_path)[index]
    digest, label = installer.inputs_digest, installer.inputs_label
    lock = config.app.toml(installer.lock_file)
    for path in app.iterdir():
        path.write_bytes(b"changed on disk after decide()\n")
    assert installer.inputs_digest == digest and installer.inputs_label == label
    assert config.app.toml(installer.lock_file) == lock
    for path in app.iterdir():
        path.unlink()
    assert installer.inputs_digest == digest
    planned, _ = plan_processes(config.app, None, None, {}, set(), {"hello-app"})
    if name == "uv_scripts_app":
        assert [p.command for p in planned] == ["hello-app"]


def test_pipenv_copied_sources_come_from_the_snapshot(tmp_path: Path) -> None:
    app = fixture_app("pipenv_app", tmp_path)
    config = run_decide(app, tmp_path)
    installer = installers(config, tmp_path)[2]
    digest = installer.inputs_digest
    shutil.rmtree(app)
    assert installer.inputs_digest == digest
    assert config.app.json("Pipfile.lock")["default"]


def test_the_digest_is_of_the_bytes_the_tool_reads(tmp_path: Path) -> None:
    app = fixture_app("uv_app", tmp_path)
    first = installers(run_decide(app, tmp_path), tmp_path)[0].inputs_digest
    assert installers(run_decide(app, tmp_path), tmp_path)[0].inputs_digest == first
    (app / "uv.toml").write_text("# a comment changes what uv reads\n")
    assert installers(run_decide(app, tmp_path), tmp_path)[0].inputs_digest != first


def test_a_sealed_snapshot_never_reads_what_decide_did_not(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("version = 1\n")
    snapshot = AppSnapshot(tmp_path)
    assert snapshot.toml("uv.toml") is None
    snapshot.seal()
    assert snapshot.toml("uv.toml") is None  # known absent
    with pytest.raises(RuntimeError, match=r"uv\.lock was not read"):
        snapshot.read_bytes("uv.lock")


def test_one_policy_for_a_missing_pyproject(tmp_path: Path) -> None:
    snapshot = AppSnapshot(tmp_path)
    assert snapshot.pyproject == {} and snapshot.project_scripts == {}
    with pytest.raises(AppFileMissing, match=r"pyproject\.toml"):
        snapshot.project  # noqa: B018


def test_a_directory_named_like_a_marker_file_is_absent(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").mkdir()
    (tmp_path / "Procfile").mkdir()
    snapshot = AppSnapshot(tmp_path)
    assert snapshot.toml("pyproject.toml") is None
    with pytest.raises(ConfigFileUnreadable, match="Procfile"):
        snapshot.text("Procfile")


def test_scripts_of_both_tables(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project.scripts]\nserve = "a:b"\n[tool.poetry.scripts]\nworker = "c:d"\n'
    )
    assert AppSnapshot(tmp_path).project_scripts == {
        "serve": "[project.scripts]",
        "worker": "[tool.poetry.scripts]",
    }
