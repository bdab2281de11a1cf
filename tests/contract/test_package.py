"""The packaged buildpack (tools/package.py) built with a test CPython 3.13 runtime.

Packaged once per module (about 10 s with a warm pip cache), in a directory other users can
reach so that detect can also run as the unprivileged user the lifecycle uses.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from python_buildpack.archive import archive_mtime, iter_tree
from tests.conftest import runtime_by_minor
from tests.harness.packaged import check_modes, run_detect, verify_package
from tests.harness.runtimes import BuiltRuntime
from tools.package import CACHE_TAG, PackageResult, package_buildpack, write_cgz

NO_PYTHON_PATH = "/nonexistent"


@pytest.fixture(scope="module")
def runtime(runtimes: list[BuiltRuntime]) -> BuiltRuntime:
    return runtime_by_minor(runtimes, "3.13")


@pytest.fixture(scope="module")
def packaged(runtime: BuiltRuntime) -> Iterator[PackageResult]:
    # Not under pytest's tmp dir: /tmp/pytest-of-root is closed to other users.
    root = Path(tempfile.mkdtemp(prefix="package-test-"))
    root.chmod(0o755)
    try:
        yield package_buildpack(runtime.arch, runtime.archive_path, root / "build")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def apps() -> Iterator[tuple[Path, Path]]:
    """(an app with requirements.txt, an empty app), readable by everyone."""
    root = Path(tempfile.mkdtemp(prefix="package-apps-"))
    root.chmod(0o755)
    app, empty = root / "app", root / "empty"
    app.mkdir()
    empty.mkdir()
    (app / "requirements.txt").write_text("flask==3.1.0\n")
    yield app, empty
    shutil.rmtree(root, ignore_errors=True)


def relative_tree(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in iter_tree(root)]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Each path's mtime and size: rewriting a file in place shows too."""
    return {
        p.relative_to(root).as_posix(): (p.lstat().st_mtime_ns, p.lstat().st_size)
        for p in iter_tree(root)
    }


def test_layout(packaged: PackageResult, runtime: BuiltRuntime) -> None:
    bp = packaged.dir
    assert bp.name == f"buildpack-{runtime.arch}"
    assert sorted(p.name for p in bp.iterdir()) == [
        "LICENSE",
        "README.md",
        "bin",
        "buildpack.toml",
        "python-versions.toml",
        "requirements",
        "runtime",
        "src",
        "vendor",
    ]
    for launcher in ("detect", "build", "python-buildpack"):
        assert os.access(bp / "bin" / launcher, os.X_OK)
    assert (bp / "src" / "python_buildpack" / "__main__.py").is_file()
    # What the build unpacks and runs with ships; the operator tools do not.
    for module in ("archive.py", "commands.py", "download.py"):
        assert (bp / "src" / "python_buildpack" / module).is_file(), module
    assert not [p for p in bp.rglob("*") if p.name.startswith(("runtime_builder", "package.py"))]
    assert not (bp / "tools").exists()
    assert (bp / "requirements" / "pip.txt").is_file()
    assert (bp / "requirements" / "buildpack.txt").is_file()
    assert sorted(p.name for p in (bp / "runtime" / "bin").iterdir()) == ["python3", "python3.13"]
    vendored = {p.name for p in (bp / "vendor").iterdir()}
    for package in ("pydantic", "pydantic_core", "packaging", "tomli_w", "annotated_types"):
        assert package in vendored
    assert "typing_extensions.py" in vendored
    assert "bin" not in vendored
    # The native arch is also reachable as build/buildpack.
    assert (bp.parent / "buildpack").resolve() == bp.resolve()
    assert packaged.archive.name == f"python-buildpack-0.1.0-{runtime.arch}.cgz"
    assert packaged.size_bytes == packaged.archive.stat().st_size
    assert packaged.runtime_version == runtime.version


def test_bytecode_is_the_runtimes_and_unchecked(packaged: PackageResult) -> None:
    for part in ("src", "vendor"):
        sources = list((packaged.dir / part).rglob("*.py"))
        assert sources
        for source in sources:
            pyc = source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc"
            header = pyc.read_bytes()[:8]
            # PEP 552 flags 0b01: hash-based and never checked against the source.
            assert int.from_bytes(header[4:8], "little") == 0b01, pyc
        pycs = list((packaged.dir / part).rglob("*.pyc"))
        # Nothing from the dev tree (its venv is Python 3.11) or the packaging host.
        assert all(p.name.endswith(f".{CACHE_TAG}.pyc") for p in pycs)
        assert len(pycs) == len(sources)
    assert not any(p.name == "tests" for p in (packaged.dir / "src").rglob("*"))


def test_runtime_is_trimmed(packaged: PackageResult) -> None:
    runtime = packaged.dir / "runtime"
    stdlib = runtime / "lib" / "python3.13"
    for gone in ("include", "share", "lib/pkgconfig"):
        assert not (runtime / gone).exists(), gone
    for gone in ("ensurepip", "idlelib", "tkinter", "turtledemo", "pydoc_data", "test"):
        assert not (stdlib / gone).exists(), gone
    assert not (stdlib / "__phello__").exists()
    assert not list(stdlib.glob("config-3.13-*"))
    assert not list(runtime.rglob("*.a"))
    assert not list(runtime.rglob("*.opt-[12].pyc"))
    assert not list((stdlib / "lib-dynload").glob("_tkinter*"))
    # ...but kept what the buildpack needs.
    for kept in ("tomllib", "urllib", "http", "email", "json", "zipfile", "concurrent"):
        assert (stdlib / kept).is_dir(), kept
    for kept in ("tarfile.py", "gzip.py", "lzma.py", "bz2.py", "shutil.py", "ssl.py"):
        assert (stdlib / kept).is_file(), kept


def test_detect_runs_with_no_python_on_path(
    packaged: PackageResult, apps: tuple[Path, Path]
) -> None:
    app, empty = apps
    passed = run_detect(packaged.dir, app, path=NO_PYTHON_PATH)
    assert passed.returncode == 0, passed.stderr
    assert "Detected a Python app (requirements.txt)" in passed.stdout
    assert 'name = "cpython"' in passed.plan
    failed = run_detect(packaged.dir, empty, path=NO_PYTHON_PATH)
    assert failed.returncode == 100, failed.stderr
    assert failed.plan == ""


def test_detect_ignores_the_apps_python_environment(
    packaged: PackageResult, apps: tuple[Path, Path], tmp_path: Path
) -> None:
    # A PYTHONPATH whose modules would break the buildpack if it were honoured.
    poisoned = tmp_path / "poisoned"
    poisoned.mkdir()
    for module in ("tomli_w", "pydantic", "python_buildpack", "encodings"):
        (poisoned / f"{module}.py").write_text("raise SystemExit('poisoned import')\n")
    env = {"PYTHONPATH": str(poisoned), "PYTHONHOME": "/bad", "PYTHONSTARTUP": "/bad"}
    run = run_detect(packaged.dir, apps[0], extra_env=env)
    assert run.returncode == 0, run.stderr
    assert "poisoned" not in run.stdout + run.stderr


def test_runtime_imports_the_vendored_packages_in_isolated_mode(packaged: PackageResult) -> None:
    python = packaged.dir / "runtime" / "bin" / "python3"
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]]\n"
        "import pydantic, packaging, tomli_w, ssl, lzma, bz2, hashlib\n"
        "print(pydantic.__file__)"
    )
    result = subprocess.run(
        [str(python), "-I", "-c", code, str(packaged.dir / "vendor")],
        env={"PATH": NO_PYTHON_PATH, "PYTHONPATH": "/bad", "PYTHONHOME": "/bad"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(packaged.dir / "vendor" / "pydantic"))


def test_other_users_can_run_it(packaged: PackageResult, apps: tuple[Path, Path]) -> None:
    assert check_modes(packaged.dir) == []
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("running as another user needs root and setpriv")
    run = run_detect(packaged.dir, apps[0], user=1001)
    assert run.returncode == 0, run.stderr


def test_verify_package_passes_and_detect_writes_nothing(
    packaged: PackageResult, apps: tuple[Path, Path]
) -> None:
    before = snapshot(packaged.dir)
    report = verify_package(packaged.dir, runs=3)
    assert report.detect_seconds < 2
    assert any("uid 1001" in check for check in report.checks) == (os.geteuid() == 0)
    run_detect(packaged.dir, apps[0])
    assert snapshot(packaged.dir) == before


def test_cgz_holds_the_same_files_reproducibly(packaged: PackageResult, tmp_path: Path) -> None:
    with tarfile.open(packaged.archive, "r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == relative_tree(packaged.dir)
    assert [m.name for m in members] == sorted(
        (m.name for m in members), key=lambda name: name.split("/")
    )
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert {m.mtime for m in members} == {archive_mtime()}
    for member in members:
        path = packaged.dir / member.name
        if member.issym():
            assert str(path.readlink()) == member.linkname
        elif member.isreg():
            assert stat.S_IMODE(path.stat().st_mode) == member.mode
            assert path.stat().st_size == member.size
            assert member.mode in (0o644, 0o755)
        else:
            assert member.isdir() and member.mode == 0o755
    with packaged.archive.open("rb") as f:
        header = f.read(10)
    assert int.from_bytes(header[4:8], "little") == archive_mtime()  # the gzip header's
    again = tmp_path / "again.cgz"
    write_cgz(packaged.dir, again, archive_mtime())
    assert again.read_bytes() == packaged.archive.read_bytes()


def test_unpacked_cgz_detects_without_writing_bytecode(
    packaged: PackageResult, apps: tuple[Path, Path], tmp_path: Path
) -> None:
    # Unpacking gives every file the archive's fixed mtime: timestamp-based bytecode would be
    # stale and recompiled (and, as root, rewritten) at each start.
    unpacked = tmp_path / "bp"
    unpacked.mkdir()
    with tarfile.open(packaged.archive, "r:gz") as tar:
        tar.extractall(unpacked, filter="tar")
    before = snapshot(unpacked)
    run = run_detect(unpacked, apps[0], path=NO_PYTHON_PATH)
    assert run.returncode == 0, run.stderr
    assert snapshot(unpacked) == before
