"""The in-process dependency check says what `pip check` says, on the same venvs.

Each venv is a real one (made by the test runner's Python) holding hand-written `.dist-info`
metadata, so missing and conflicting requirements, markers, extras and prereleases can all be
set up without an index; real pip (the test venv's) checks it through `--python`.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from python_buildpack import dependency_check
from python_buildpack.dist_info import read_venv


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def add_dist(venv: Path, name: str, version: str, *requires: str) -> None:
    site = next(venv.glob("lib/python3.*/site-packages"))
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (dist_info / "METADATA").write_text("\n".join(lines) + "\n\nA description: with colons\n")


def pip_check(venv: Path) -> tuple[int, list[str]]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PIP_CONFIG_FILE": os.devnull}
    env["HOME"] = str(venv)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "check"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, lines


def ours(venv: Path) -> list[str]:
    return dependency_check.check(read_venv(venv), platform.python_version())


def test_consistent_venv_has_no_problems(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    add_dist(
        venv, "Flask", "3.1.3", "click>=8.1", "Jinja2>=3.1.2", "asgiref>=3.2; extra == 'async'"
    )
    add_dist(venv, "click", "8.5.1")
    add_dist(venv, "jinja2", "3.1.6", "MarkupSafe>=2.0")
    add_dist(venv, "markupsafe", "3.0.4")
    code, lines = pip_check(venv)
    assert (code, lines) == (0, ["No broken requirements found."])
    assert ours(venv) == []


def test_missing_and_conflicting_read_like_pip(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    py = platform.python_version_tuple()
    add_dist(venv, "bp-test-alpha", "1.1.0")
    add_dist(
        venv,
        "BP_Test.Conflict",
        "1.0",
        "bp-test-alpha<1.1",
        "Absent-Package>=1",
        "bp-test-gamma[extra]==2.0rc1",
        f"only-old-python; python_version < '{py[0]}.{py[1]}'",
        f"only-this-python>1; python_version == '{py[0]}.{py[1]}'",
        "only-with-extra; extra == 'speed'",
        "bp-test-prerelease>=1.0",
    )
    add_dist(venv, "bp-test-gamma", "2.0rc1")
    add_dist(venv, "bp-test-prerelease", "2.0b1", "bp_test_alpha >=1.0, !=1.1.0")
    add_dist(venv, "only-this-python", "1")
    code, lines = pip_check(venv)
    assert code == 1
    assert sorted(ours(venv)) == sorted(lines)
    # The lines the tests and users rely on, spelt out once.
    assert (
        "bp-test-conflict 1.0 has requirement bp-test-alpha<1.1, but you have bp-test-alpha 1.1.0."
        in lines
    )
    assert "bp-test-conflict 1.0 requires absent-package, which is not installed." in lines


def test_markers_are_evaluated_for_the_venv_python_not_ours(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    add_dist(venv, "app-lib", "1.0", "tomli>=1; python_version < '3.11'")
    assert dependency_check.check(read_venv(venv), "3.10.16") == [
        "app-lib 1.0 requires tomli, which is not installed."
    ]
    assert dependency_check.check(read_venv(venv), "3.13.15") == []


@pytest.mark.parametrize("metadata", ["Name: broken\n", "Version: 1.0\n", "Name: x\nVersion: ?\n"])
def test_unreadable_metadata_is_skipped(tmp_path: Path, metadata: str) -> None:
    venv = make_venv(tmp_path / "venv")
    site = next(venv.glob("lib/python3.*/site-packages"))
    (site / "broken-1.0.dist-info").mkdir()
    (site / "broken-1.0.dist-info" / "METADATA").write_text(metadata)
    assert ours(venv) == []
