"""The layer sequence of each package manager (`build.install_layers`), with the layer
functions replaced by recorders: which layers a build makes, in which order, and what reaches
the installer."""

from __future__ import annotations

import io
import types
from pathlib import Path
from typing import Any

import pytest

from python_buildpack import build
from python_buildpack.cnb.models import BuildpackPlan, PlanEntry
from python_buildpack.config import PipInstallerKind
from python_buildpack.detect import own_requirement
from python_buildpack.installers import PipenvInstaller, PoetryInstaller, UvInstaller
from python_buildpack.layers.pip import PipInstall
from python_buildpack.layers.previous_image import PreviousImage
from python_buildpack.layers.python import PythonInstall
from python_buildpack.layers.tool import ToolInstall
from python_buildpack.output import Log
from python_buildpack.package_managers import CacheSpec, ManagerSpec, PackageManager, Tool

OWN_PLAN = BuildpackPlan(entries=[PlanEntry(name="pip", metadata=own_requirement("pip"))])
# A later buildpack requires pip in the build plan.
LATER_PIP = BuildpackPlan(
    entries=[PlanEntry(name="pip", metadata=own_requirement("pip")), PlanEntry(name="pip")]
)


class Recorder:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.layers: list[str] = []
        # Every call, the layers decided on ahead ("open pip") among the installs.
        self.calls: list[str] = []
        self.installer: Any = None
        self.env: dict[str, str] = {}
        for name in (
            "rebuilt_on_every_build",
            "open_python_layer",
            "open_archive_cache",
            "open_pip_layer",
            "open_tool_layer",
            "install_python",
            "install_pip",
            "prepare_pip_cache",
            "install_tool",
            "prepare_tool_cache",
            "pip_installer",
            "install_dependencies",
        ):
            monkeypatch.setattr(build, name, getattr(self, name))

    def _layer(self, name: str) -> None:
        self.layers.append(name)
        self.calls.append(name)

    def open_pip_layer(
        self, config: object, env: dict[str, str], background: object
    ) -> types.SimpleNamespace:
        self.calls.append("open pip")
        # Restored: no fill, so no bytecode is compiled alongside the install.
        return types.SimpleNamespace(name="opened pip", fill=None)

    def open_tool_layer(
        self, config: object, spec: ManagerSpec, env: dict[str, str], background: object
    ) -> str:
        self.calls.append(f"open {spec.name}")
        return f"opened {spec.name}"

    def rebuilt_on_every_build(self, config: object) -> None:
        return None

    def open_python_layer(
        self, config: object, log: Log, image: PreviousImage, venv_rebuilt: str | None
    ) -> str:
        self.calls.append("open python")
        return "opened python"

    def open_archive_cache(self, config: object, log: Log) -> str:
        self.calls.append("open python-archive")
        return "python-archive"

    def install_python(
        self,
        config: object,
        opened: str,
        env: dict[str, str],
        log: Log,
        image: PreviousImage,
        archive: str,
    ) -> PythonInstall:
        assert (opened, archive) == ("opened python", "python-archive")
        self._layer("python")
        return PythonInstall(Path("/layers/python"), "3.13.5", {**env, "PYTHON": "1"})

    def install_pip(
        self, opened: types.SimpleNamespace, env: dict[str, str], log: Log
    ) -> PipInstall:
        assert opened.name == "opened pip"
        self._layer("pip")
        return PipInstall(Path("/layers/pip"), "26.3", {**env, "PYTHONUSERBASE": "/layers/pip"})

    def prepare_pip_cache(
        self, config: object, env: dict[str, str], log: Log
    ) -> tuple[Path, dict[str, str]]:
        self._layer("pip-cache")
        return Path("/layers/pip-cache"), {**env, "PIP_CACHE_DIR": "/layers/pip-cache"}

    def install_tool(
        self,
        config: object,
        spec: ManagerSpec,
        opened: str,
        python: PythonInstall,
        pip: PipInstall | None,
        log: Log,
    ) -> ToolInstall:
        assert opened == f"opened {spec.name}"
        self._layer(spec.name)
        return ToolInstall(spec.name, Path(f"/layers/{spec.name}"), "1.0")

    def prepare_tool_cache(
        self, config: object, cache: CacheSpec, env: dict[str, str], log: Log
    ) -> tuple[Path, dict[str, str]]:
        self._layer(cache.layer)
        return Path(f"/layers/{cache.layer}"), {**env, cache.variable: f"/layers/{cache.layer}"}

    def pip_installer(
        self,
        config: object,
        python: PythonInstall,
        pip: PipInstall | None,
        uv: ToolInstall | None = None,
    ) -> tuple[str, str | None, str | None]:
        return ("pip", pip.version if pip else None, uv.name if uv else None)

    def install_dependencies(
        self,
        config: object,
        python: PythonInstall,
        installer: Any,
        env: dict[str, str],
        log: Log,
        image: PreviousImage,
    ) -> str:
        self._layer("venv")
        self.installer, self.env = installer, env
        return "venv"


def run(
    monkeypatch: pytest.MonkeyPatch,
    tool: Tool,
    plan: BuildpackPlan = OWN_PLAN,
    pip_installer: PipInstallerKind = PipInstallerKind.PIP,
) -> Recorder:
    recorder = Recorder(monkeypatch)
    config = types.SimpleNamespace(
        package_manager=PackageManager(tool, tool.spec.lock_file), pip_installer=pip_installer
    )
    out = io.StringIO()
    image = PreviousImage(Path("/layers"), None)
    venv = build.install_layers(config, plan, {"PATH": "/bin"}, Log(out, out), image)  # type: ignore[arg-type]
    assert venv == "venv"
    return recorder


@pytest.mark.parametrize("plan", [OWN_PLAN, LATER_PIP])
def test_pip_gets_pip_and_its_cache(monkeypatch: pytest.MonkeyPatch, plan: BuildpackPlan) -> None:
    recorder = run(monkeypatch, Tool.PIP, plan)
    assert recorder.layers == ["python", "pip", "pip-cache", "venv"]
    assert recorder.installer == ("pip", "26.3", None)
    assert recorder.env["PIP_CACHE_DIR"] == "/layers/pip-cache"


def test_pip_with_uv_needs_no_pip_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = run(monkeypatch, Tool.PIP, pip_installer=PipInstallerKind.UV)
    assert recorder.layers == ["python", "uv", "uv-cache", "venv"]
    assert recorder.installer == ("pip", None, "uv")
    assert recorder.env["UV_CACHE_DIR"] == "/layers/uv-cache"
    assert "PIP_CACHE_DIR" not in recorder.env and recorder.env["PYTHON"] == "1"


def test_pip_with_uv_keeps_pip_a_later_buildpack_requires(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = run(monkeypatch, Tool.PIP, LATER_PIP, PipInstallerKind.UV)
    assert recorder.layers == ["python", "pip", "pip-cache", "uv", "uv-cache", "venv"]
    assert recorder.installer == ("pip", "26.3", "uv")
    assert {"PIP_CACHE_DIR", "UV_CACHE_DIR", "PYTHONUSERBASE"} <= set(recorder.env)


@pytest.mark.parametrize(
    ("tool", "plan", "layers", "installer"),
    [
        (Tool.UV, OWN_PLAN, ["python", "uv", "uv-cache", "venv"], UvInstaller),
        (
            Tool.UV,
            LATER_PIP,
            ["python", "pip", "pip-cache", "uv", "uv-cache", "venv"],
            UvInstaller,
        ),
        (
            Tool.POETRY,
            OWN_PLAN,
            ["python", "pip", "pip-cache", "poetry", "poetry-cache", "venv"],
            PoetryInstaller,
        ),
        # Pipenv's installs go through pip: pip-cache is its cache.
        (Tool.PIPENV, OWN_PLAN, ["python", "pip", "pip-cache", "pipenv", "venv"], PipenvInstaller),
    ],
)
def test_lock_file_managers(
    monkeypatch: pytest.MonkeyPatch,
    tool: Tool,
    plan: BuildpackPlan,
    layers: list[str],
    installer: type,
) -> None:
    recorder = run(monkeypatch, tool, plan)
    assert recorder.layers == layers
    assert type(recorder.installer) is installer
    assert recorder.installer.tool.name == tool.spec.name
    cache = tool.spec.cache or Tool.PIP.spec.cache
    assert cache is not None and recorder.env[cache.variable] == f"/layers/{cache.layer}"


@pytest.mark.parametrize(
    ("tool", "pip_installer", "plan", "opened_first"),
    [
        (Tool.PIP, PipInstallerKind.PIP, OWN_PLAN, ["open pip"]),
        (Tool.PIP, PipInstallerKind.UV, OWN_PLAN, ["open uv"]),
        (Tool.UV, PipInstallerKind.PIP, LATER_PIP, ["open pip", "open uv"]),
        (Tool.POETRY, PipInstallerKind.PIP, OWN_PLAN, ["open pip", "open poetry"]),
    ],
)
def test_tool_layers_are_decided_before_python(
    monkeypatch: pytest.MonkeyPatch,
    tool: Tool,
    pip_installer: PipInstallerKind,
    plan: BuildpackPlan,
    opened_first: list[str],
) -> None:
    """So that the ones unpacked from a wheel fill while Python installs (`layers.background`)."""
    recorder = run(monkeypatch, tool, plan, pip_installer)
    expected = ["open python", "open python-archive", *opened_first, "python"]
    assert recorder.calls[: len(expected)] == expected
