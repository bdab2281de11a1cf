"""Helpers of the contract tests of the lock-file package managers (uv, Poetry, Pipenv)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from python_buildpack.cnb.models import LayerContentMetadata
from python_buildpack.cnb.toml_io import load_toml
from python_buildpack.tool_versions import pinned_version
from tests.harness.package_index import PackageIndex
from tests.harness.phases import REPO, PhaseResult, Workspace

FIXTURE_APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"


def pinned(tool: str) -> str:
    """The version of `tool` that requirements/<tool>.txt pins."""
    return pinned_version(REPO, tool)


def lockfile_app(ws: Workspace, index: PackageIndex, name: str) -> Workspace:
    """`ws` with the fixture app `name`, whose lock file names the index on its fixed port; pip
    and the tools are installed from the same index."""
    ws.copy_app(FIXTURE_APPS / name)
    for variable, value in index.pip_env.items():
        ws.set_platform_env(variable, value)
    return ws


def upgrade(ws: Workspace, name: str) -> None:
    """Replace the app's project and lock files with those of `<name>_upgrade` (a newer
    bp-test-alpha, locked)."""
    for path in (FIXTURE_APPS / f"{name}_upgrade").iterdir():
        shutil.copy2(path, ws.app / path.name)


def build_ok(ws: Workspace) -> PhaseResult:
    result = ws.build()
    assert result.exit_code == 0, result.output
    return result


def venv_python(ws: Workspace, code: str) -> str:
    return subprocess.run(
        [ws.layers / "venv" / "bin" / "python", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout.strip()


def assert_hello_app_runs(ws: Workspace) -> None:
    """The `*_scripts_app` fixtures' console script is in the venv and, run directly (its shebang
    names the venv's python, as at launch), sees the venv and the locked bp-test-alpha, and
    runs the app dir's code (the project is installed editable)."""
    script = ws.layers / "venv" / "bin" / "hello-app"
    assert script.is_file()
    output = subprocess.run(
        [script], capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}
    ).stdout.splitlines()
    assert output == [
        f"prefix={ws.layers / 'venv'}",
        "bp-test-alpha=1.1.0",
        f"module={ws.app / 'hello_app.py'}",
    ], output


def distributions(ws: Workspace) -> dict[str, str]:
    """{name: version} of what the venv holds, from its .dist-info directories."""
    (site,) = (ws.layers / "venv" / "lib").glob("python3.*/site-packages")
    found = {}
    for path in site.iterdir():
        if path.suffix == ".dist-info":
            name, version = path.stem.rsplit("-", 1)
            found[name.lower().replace("_", "-")] = version
    return found


def layer_toml(ws: Workspace, name: str) -> LayerContentMetadata:
    return load_toml(ws.layers / f"{name}.toml", LayerContentMetadata, what=name)


def pip_zipped_site(ws: Workspace) -> Path:
    """The pip layer's site-packages, asserted to hold pip as one zip file (`layers.pip_zip`):
    the zip, the `.pth` file that finds it, and pip's `.dist-info` beside them."""
    (site,) = (ws.layers / "pip" / "lib").glob("python3.*/site-packages")
    assert sorted(path.name for path in site.iterdir()) == [
        "pip-26.3.dist-info",
        "pip.pth",
        "pip.zip",
    ]
    return site


def assert_tool_layers(ws: Workspace, tool: str, cache: str | None) -> None:
    """The tool is build + cache and never in the image; so is its cache, whose variable later
    buildpacks get; the venv is made by our python."""
    types = layer_toml(ws, tool).types
    assert types.build and types.cache and not types.launch
    # Later buildpacks get the tool's command on PATH, not its interpreter or dependencies.
    assert sorted(p.name for p in (ws.layers / tool / "bin").iterdir()) == [tool]
    if cache is not None:
        types = layer_toml(ws, cache).types
        assert types.cache and types.build and not types.launch
        variable = {"uv": "UV_CACHE_DIR", "poetry": "POETRY_CACHE_DIR"}[tool]
        assert (ws.layers / cache / "env.build" / f"{variable}.override").read_text() == str(
            ws.layers / cache
        )
    venv = layer_toml(ws, "venv")
    assert venv.types.build and venv.types.launch and venv.types.cache
    assert venv.metadata["package_manager"] == tool
    cfg = (ws.layers / "venv" / "pyvenv.cfg").read_text()
    assert f"home = {ws.layers / 'python' / 'bin'}" in cfg, cfg
    # Bytecode was compiled at build time (the image's layers are read-only at run time).
    assert_compiled(ws, "flask")
    # Nothing of the tool leaked into the app's environment.
    assert not {"pip", "uv", "poetry", "pipenv", "virtualenv"} & set(distributions(ws))


def assert_compiled(ws: Workspace, package: str) -> None:
    """Every module of the venv's `package` has its bytecode, valid for its source and
    hash-based (SOURCE_DATE_EPOCH): the lifecycle resets mtimes, which would make timestamp
    .pyc files stale, and the image's layers are read-only at run time. Checked by the venv's
    own Python (a source hash depends on the Python version)."""
    (site,) = (ws.layers / "venv" / "lib").glob("python3.*/site-packages")
    modules = sorted((site / package).rglob("*.py"))
    assert modules
    check = (
        "import importlib.util, pathlib, sys\n"
        "for module in map(pathlib.Path, sys.argv[1:]):\n"
        "    pyc = pathlib.Path(importlib.util.cache_from_source(str(module)))\n"
        "    header = pyc.read_bytes()[:16] if pyc.is_file() else b''\n"
        "    flags = int.from_bytes(header[4:8], 'little')\n"
        "    if flags != 0b11 or header[8:] != importlib.util.source_hash(module.read_bytes()):\n"
        "        print(module)\n"
    )
    bad = subprocess.run(
        [ws.layers / "venv" / "bin" / "python", "-c", check, *map(str, modules)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout.split()
    assert bad == [], f"{len(bad)} of {len(modules)} modules of {package} lack valid bytecode"
