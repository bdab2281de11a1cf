"""The local package index serves a valid PEP 503 index that pip installs from, offline.

The first run on a machine builds the index (about 25 s, downloading from PyPI); later runs
reuse it from ~/.cache/python-buildpack/package-index/.
"""

from __future__ import annotations

import hashlib
import html.parser
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from python_buildpack import dependency_check
from python_buildpack.dist_info import read_venv
from tests.harness.package_index import (
    CONFLICT_ENV,
    CONFLICT_REQUIREMENTS,
    FIXTURES_DIR,
    REAL_PACKAGES,
    SECOND_VERSIONS,
    TARGET_PYTHONS,
    TEST_PACKAGES,
    PackageIndex,
    all_pins,
    clean_env,
    content_key,
    tool_pins,
)


@pytest.fixture(scope="module")
def index() -> Iterator[PackageIndex]:
    with PackageIndex.start() as started:
        yield started


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def links(url: str) -> list[dict[str, str | None]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        parser = _Links()
        parser.feed(response.read().decode())
    return parser.links


def test_pins_cover_every_real_file_and_both_pythons(index: PackageIndex) -> None:
    pins = all_pins()
    assert index.pins == pins
    assert index.pins.items() >= REAL_PACKAGES.items()
    assert index.pins["flask"] == "3.1.3"
    assert index.pins["poetry"] == tool_pins("3.13")["poetry"]
    real = [f for f in index.files if f.real]
    assert {f.project for f in real} == set(pins)
    second = {(f.project, f.version) for f in real if f.version != pins[f.project]}
    assert second == set(SECOND_VERSIONS.items())
    for python in TARGET_PYTHONS:
        tag = "cp" + python.replace(".", "")
        for binary in ("pydantic-core", "markupsafe"):
            wheels = [f.filename for f in index.files_of(binary)]
            assert any(f"-{tag}-{tag}-manylinux" in name for name in wheels), (binary, python)


def test_test_packages_have_the_formats_asked_for(index: PackageIndex) -> None:
    assert [f.filename for f in index.files_of("bp-test-cext")] == ["bp_test_cext-1.0.0.tar.gz"]
    alpha = {(f.version, f.is_wheel) for f in index.files_of("bp_test_alpha")}
    assert alpha == {("1.0.0", True), ("1.0.0", False), ("1.1.0", True), ("1.1.0", False)}
    conflict = index.files_of("bp-test-conflict")
    assert all(f.requires_dist == ("bp-test-alpha<1.1",) for f in conflict)
    built = sum(len(formats) for formats in TEST_PACKAGES.values())
    assert len([f for f in index.files if not f.real]) == built


def test_simple_pages_link_files_by_hash_and_only_files_count(index: PackageIndex) -> None:
    with index.recording() as rec:
        projects = {link["href"] for link in links(index.url + "/")}
        assert {"flask/", "pydantic-core/", "bp-test-cext/", "bp-test-script/"} <= projects
        page = links(index.url + "/flask/")
        assert len(page) == 1
        href = page[0]["href"]
        assert href is not None and href.startswith("../../files/flask-3.1.3-py3-none-any.whl#")
        assert page[0]["data-requires-python"] == ">=3.9"
        file_url, _, fragment = urllib.parse.urljoin(index.url + "/flask/", href).partition("#")
        with urllib.request.urlopen(file_url, timeout=10) as response:
            body = response.read()
            # pip's HTTP cache keeps a file only when the server says it may.
            assert "max-age" in response.headers["Cache-Control"]
        assert fragment == "sha256=" + hashlib.sha256(body).hexdigest()
        assert rec.file_requests() == ["/files/flask-3.1.3-py3-none-any.whl"]
        assert rec.requests[:2] == ["/simple/", "/simple/flask/"]
    assert index.file_requests()[-1] == "/files/flask-3.1.3-py3-none-any.whl"


def test_requirements_pin_the_closure_with_markers_evaluated(index: PackageIndex) -> None:
    assert index.requirements("Flask") == [
        "blinker==1.9.0",
        "click==8.5.1",
        "flask==3.1.3",
        "itsdangerous==2.2.0",
        "jinja2==3.1.6",
        "markupsafe==3.0.4",
        "werkzeug==3.1.9",
    ]
    # uvicorn needs typing-extensions only before Python 3.11.
    assert index.requirements("uvicorn", python="3.11") == [
        "click==8.5.1",
        "h11==0.16.0",
        "uvicorn==0.54.0",
    ]
    assert "typing-extensions==4.16.0" in index.requirements("uvicorn", python="3.10")
    with pytest.raises(KeyError):
        index.requirements("bp-test-alpha")


def test_content_key_follows_the_fixture_sources(tmp_path: Path) -> None:
    copy = tmp_path / "packages"
    shutil.copytree(FIXTURES_DIR, copy)
    assert content_key(copy) == content_key(FIXTURES_DIR)
    (copy / "bp-test-beta-1.0.0" / "__pycache__").mkdir()
    (copy / "bp-test-beta-1.0.0" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert content_key(copy) == content_key(FIXTURES_DIR)
    module = copy / "bp-test-beta-1.0.0" / "bp_test_beta.py"
    module.write_text(module.read_text() + "# changed\n")
    assert content_key(copy) != content_key(FIXTURES_DIR)


def _venv(path: Path, env: dict[str, str]) -> Path:
    # The buildpack's way: a venv without pip, filled by another pip with `--python`.
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", path], env=env, check=True)
    return path


def _pip(venv: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "--python", str(venv), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def _run(command: list[str | Path], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return result.stdout


def test_pip_installs_offline_compiles_the_sdist_and_reuses_its_cache(
    index: PackageIndex, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home", {**index.pip_env, "PIP_CACHE_DIR": str(tmp_path / "c")})
    wanted = ["flask", "gunicorn", "bp-test-cext", "bp-test-script"]
    first = _venv(tmp_path / "first", env)
    with index.recording() as cold:
        result = _pip(first, env, "install", *wanted)
        assert result.returncode == 0, result.stdout + result.stderr
    downloads = cold.file_requests()
    # The sdist was built with setuptools from this index (build isolation).
    assert "/files/bp_test_cext-1.0.0.tar.gz" in downloads
    assert "/files/setuptools-84.2.1-py3-none-any.whl" in downloads
    assert any(path.startswith("/files/markupsafe-3.0.4-cp311-") for path in downloads)
    code = "import bp_test_cext, flask, gunicorn\n"
    code += "print(bp_test_cext.add(2, 40), bp_test_cext.__file__)"
    out = _run([first / "bin" / "python", "-c", code], env)
    assert out.startswith("42 ") and out.strip().endswith(".so")
    script = _run([first / "bin" / "bp-test-script"], env)
    assert f"sys.prefix={first}" in script
    assert _pip(first, env, "check").returncode == 0

    second = _venv(tmp_path / "second", env)
    with index.recording() as warm:
        result = _pip(second, env, "install", *wanted)
        assert result.returncode == 0, result.stdout + result.stderr
    assert warm.file_requests() == []
    # Pages may come from the cache too (max-age=600, like PyPI's), depending on the pip version.
    assert all(path.startswith("/simple/") for path in warm.requests)
    _run([second / "bin" / "python", "-c", "import bp_test_cext, flask"], env)


def test_conflict_installs_with_no_deps_and_fails_pip_check(
    index: PackageIndex, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home", {**index.pip_env, "PIP_NO_CACHE_DIR": "1"})
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(CONFLICT_REQUIREMENTS)
    venv = _venv(tmp_path / "venv", env)

    refused = _pip(venv, env, "install", "-r", str(requirements))
    assert refused.returncode != 0
    assert "ResolutionImpossible" in refused.stderr

    installed = _pip(venv, {**env, **CONFLICT_ENV}, "install", "-r", str(requirements))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    check = _pip(venv, env, "check")
    assert check.returncode == 1
    assert "bp-test-conflict 1.0.0 has requirement bp-test-alpha<1.1" in check.stdout
    assert "bp-test-alpha 1.1.0" in check.stdout
    # The buildpack's in-process check says the same, on the same venv.
    code = "import platform; print(platform.python_version())"
    version = _run([venv / "bin" / "python", "-c", code], env).strip()
    assert sorted(dependency_check.check(read_venv(venv), version)) == sorted(
        check.stdout.splitlines()
    )
