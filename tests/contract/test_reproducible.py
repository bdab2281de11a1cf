"""Two cold builds of the same app give the same launch layers, file for file.

The lifecycle turns each launch layer into a tar with fixed mtimes and owners, so its digest
depends only on the files' paths, modes and bytes: what this test compares, after two builds
from scratch (an empty layers directory, so no cache either) at the same path, as under the
lifecycle where it is always /layers.

The app compiles a C extension from an sdist (the bytes of the .so once varied: its debug info
named pip's random build directory), installs a console script (shebangs) and pure-Python
wheels (their .pyc files are hash-based through SOURCE_DATE_EPOCH).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace

REQUIREMENTS = "bp-test-alpha==1.0.0\nbp-test-cext==1.0.0\nbp-test-script==1.0.0\n"
LAUNCH_LAYERS = ("python", "venv")


def tree(root: Path) -> dict[str, str]:
    """`path → mode and content digest` (or symlink target) of every entry below `root`."""
    entries: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            mode = oct(path.lstat().st_mode)
            if path.is_symlink():
                entries[path.relative_to(root).as_posix()] = f"{mode} -> {path.readlink()}"
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                entries[path.relative_to(root).as_posix()] = f"{mode} {digest}"
            else:
                entries[path.relative_to(root).as_posix()] = mode
    return entries


def cold_build(ws: Workspace) -> dict[str, dict[str, str]]:
    """Build from an empty layers directory; the launch layers' trees."""
    shutil.rmtree(ws.layers)
    ws.layers.mkdir()
    result = ws.build()
    assert result.exit_code == 0, result.output
    assert "Running 'pip install" in result.stdout
    return {layer: tree(ws.layers / layer) for layer in LAUNCH_LAYERS}


def test_two_cold_builds_give_identical_launch_layers(
    ws: Workspace, package_index: PackageIndex
) -> None:
    (ws.app / ".python-version").write_text("3.13\n")
    (ws.app / "requirements.txt").write_text(REQUIREMENTS)
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)

    first = cold_build(ws)
    assert any(p.endswith(".so") and "bp_test_cext" in p for p in first["venv"])
    second = cold_build(ws)
    for layer in LAUNCH_LAYERS:
        a, b = first[layer], second[layer]
        differing = sorted(p for p in a.keys() | b.keys() if a.get(p) != b.get(p))
        assert differing == [], f"the {layer} layer differs between two cold builds: {differing}"
