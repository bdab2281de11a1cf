"""tools/package.py's pieces that need no runtime: trimming, modes, the archive, checks."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from tests.harness.packaged import check_modes
from tools.package import (
    PackageError,
    check_runtime,
    normalise_modes,
    pip_env,
    stdlib_needs_compiling,
    trim_runtime,
    write_cgz,
)

KEPT = (
    "bin/python3.13",
    "lib/libpython3.13.so.1.0",
    "lib/python3.13/os.py",
    "lib/python3.13/__pycache__/os.cpython-313.pyc",
    "lib/python3.13/tomllib/__init__.py",
    "lib/python3.13/lib-dynload/_ssl.cpython-313-x86_64-linux-gnu.so",
    "lib/python3.13/site-packages/README.txt",
)
TRIMMED = (
    "bin/pip3",
    "bin/python3.13-config",
    "bin/idle3.13",
    "include/python3.13/Python.h",
    "share/man/man1/python3.1",
    "lib/pkgconfig/python3.pc",
    "lib/libtcl8.6.so",
    "lib/tcl8.6/init.tcl",
    "lib/tk8.6/tk.tcl",
    "lib/itcl4.2.4/itcl.tcl",
    "lib/thread2.8.9/pkgIndex.tcl",
    "lib/python3.13/__pycache__/os.cpython-313.opt-1.pyc",
    "lib/python3.13/__pycache__/turtle.cpython-313.pyc",
    "lib/python3.13/turtle.py",
    "lib/python3.13/ensurepip/__init__.py",
    "lib/python3.13/idlelib/idle.py",
    "lib/python3.13/tkinter/__init__.py",
    "lib/python3.13/test/test_os.py",
    "lib/python3.13/config-3.13-x86_64-linux-gnu/libpython3.13.a",
    "lib/python3.13/site-packages/pip/__init__.py",
    "lib/python3.13/lib-dynload/_tkinter.cpython-313-x86_64-linux-gnu.so",
    "lib/python3.13/lib-dynload/_testcapi.cpython-313-x86_64-linux-gnu.so",
    "lib/libfoo.a",
)


def make_tree(root: Path, paths: tuple[str, ...]) -> None:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)


def test_trim_runtime_keeps_what_the_buildpack_runs_on(tmp_path: Path) -> None:
    make_tree(tmp_path, KEPT + TRIMMED)
    (tmp_path / "bin" / "python3").symlink_to("python3.13")
    removed = trim_runtime(tmp_path)
    for rel in (*KEPT, "bin/python3"):
        assert (tmp_path / rel).exists(), rel
    for rel in TRIMMED:
        assert not (tmp_path / rel).exists(), rel
    assert "include" in removed and "lib/tcl8.6" in removed


def test_check_runtime_wants_a_313_elf_of_the_arch(tmp_path: Path) -> None:
    binary = tmp_path / "bin" / "python3.13"
    binary.parent.mkdir()
    header = bytearray(b"\x7fELF" + bytes(60))
    header[18:20] = (62).to_bytes(2, "little")  # x86-64
    binary.write_bytes(bytes(header))
    check_runtime(tmp_path, "amd64")
    assert (tmp_path / "bin" / "python3").readlink() == Path("python3.13")
    with pytest.raises(PackageError, match="not for arm64"):
        check_runtime(tmp_path, "arm64")
    binary.rename(tmp_path / "bin" / "python3.12")
    with pytest.raises(PackageError, match=r"not CPython 3\.13"):
        check_runtime(tmp_path, "amd64")


def test_stdlib_needs_compiling_unless_all_bytecode_is_unchecked_hash(tmp_path: Path) -> None:
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "os.py").write_text("")
    pyc = tmp_path / "__pycache__" / "os.cpython-313.pyc"
    assert stdlib_needs_compiling(tmp_path)
    pyc.write_bytes(b"\xf3\x0d\x0d\x0a" + (0).to_bytes(4, "little") + bytes(8))  # timestamp
    assert stdlib_needs_compiling(tmp_path)
    pyc.write_bytes(b"\xf3\x0d\x0d\x0a" + (1).to_bytes(4, "little") + bytes(8))  # unchecked
    assert not stdlib_needs_compiling(tmp_path)


def test_modes_are_normalised_for_other_users(tmp_path: Path) -> None:
    make_tree(tmp_path, ("bin/detect", "src/a.py", "src/sub/b.py"))
    (tmp_path / "bin" / "detect").chmod(0o700)
    (tmp_path / "src" / "a.py").chmod(0o600)
    (tmp_path / "src" / "sub").chmod(0o700)
    assert set(check_modes(tmp_path)) == {"bin/detect", "src/a.py", "src/sub"}
    normalise_modes(tmp_path)
    assert check_modes(tmp_path) == []
    assert (tmp_path / "bin" / "detect").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "src" / "a.py").stat().st_mode & 0o777 == 0o644


def test_cgz_does_not_depend_on_mtimes_or_owners(tmp_path: Path) -> None:
    trees = []
    for name, mtime in (("one", 1_000_000_000), ("two", 1_700_000_000)):
        tree = tmp_path / name
        make_tree(tree, ("buildpack.toml", "bin/detect", "runtime/bin/python3.13"))
        (tree / "runtime" / "bin" / "python3").symlink_to("python3.13")
        for path in tree.rglob("*"):
            os.utime(path, (mtime, mtime), follow_symlinks=False)
        normalise_modes(tree)
        trees.append(tree)
    one, two = tmp_path / "one.cgz", tmp_path / "two.cgz"
    write_cgz(trees[0], one, 315532800)
    write_cgz(trees[1], two, 315532800)
    assert one.read_bytes() == two.read_bytes()
    with tarfile.open(one) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [
        "bin",
        "bin/detect",
        "buildpack.toml",
        "runtime",
        "runtime/bin",
        "runtime/bin/python3",
        "runtime/bin/python3.13",
    ]
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, 315532800)}
    assert members[5].issym() and members[5].linkname == "python3.13"


def test_pip_env_drops_the_hosts_pip_config_but_keeps_network_settings() -> None:
    env = pip_env(
        {
            "PATH": "/usr/bin",
            "HOME": "/root",
            "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
            "PIP_INDEX_URL": "https://pypi.example/simple",
            "PIP_FIND_LINKS": "/opt/wheels",
            "PIP_CONSTRAINT": "/etc/constraints.txt",
        }
    )
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert env["PIP_CERT"] == "/etc/ssl/certs/ca-certificates.crt"
    assert env["PIP_INDEX_URL"] == "https://pypi.example/simple"
    assert "PIP_FIND_LINKS" not in env and "PIP_CONSTRAINT" not in env


def _manifest_with(tmp_path: Path, archives: dict[str, bytes]) -> Path:
    """A package dir whose python-versions.toml lists `archives` (version -> bytes) as file://
    URLs, for amd64, plus one arm64 release that must never be bundled for amd64."""
    import hashlib

    import tomli_w

    source = tmp_path / "archives"
    source.mkdir()
    releases = []
    for version, content in [*archives.items(), ("3.12.1-arm64", b"arm")]:
        plain = version.removesuffix("-arm64")
        arch = "arm64" if version.endswith("-arm64") else "amd64"
        path = source / f"cpython-{plain}+1-{arch}.tar.gz"
        path.write_bytes(content)
        releases.append(
            {
                "version": plain,
                "os": "linux",
                "arch": arch,
                "libc": "gnu",
                "url": path.as_uri().replace("+", "%2B"),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        )
    minors = [
        {"version": v, "warn_from": "2029-06-01", "eol": "2030-01-01", "builds_stop": "2030-04-01"}
        for v in ("3.12", "3.13")
    ]
    package = tmp_path / "package"
    package.mkdir()
    (package / "python-versions.toml").write_text(
        tomli_w.dumps({"minors": minors, "releases": releases})
    )
    return package


def test_offline_bundles_the_chosen_archives_where_the_buildpack_looks(tmp_path: Path) -> None:
    from python_buildpack.distributions import Manifest, archive_url
    from python_buildpack.output import Log
    from tools.package import bundle_python_archives

    package = _manifest_with(tmp_path, {"3.13.2": b"new", "3.13.1": b"old", "3.12.1": b"twelve"})
    cache = tmp_path / "cache"
    bundled = bundle_python_archives(package, "amd64", ["3.13", "3.12.1"], Log(), cache=cache)
    assert [b.version for b in bundled] == ["3.13.2", "3.12.1"]
    manifest = Manifest.load(package / "python-versions.toml")
    for release in manifest.releases:
        source = archive_url(release, "https://mirror.invalid", {}, package)
        expected = release.version in ("3.13.2", "3.12.1") and release.arch == "amd64"
        assert (source.via == "bundled") is expected, release
    assert {p.read_bytes() for p in (package / "dependencies").rglob("*.tar.gz")} == {
        b"new",
        b"twelve",
    }
    # every release of the arch by default
    everything = bundle_python_archives(package, "amd64", [], Log(), cache=cache)
    assert [b.version for b in everything] == ["3.13.2", "3.13.1", "3.12.1"]


def test_offline_checks_the_archives_and_the_versions(tmp_path: Path) -> None:
    from python_buildpack.errors import ChecksumMismatch
    from python_buildpack.output import Log
    from tools.package import bundle_python_archives

    package = _manifest_with(tmp_path, {"3.13.2": b"new"})
    with pytest.raises(PackageError, match=r"no CPython 3\.11 .*it has: 3\.13\.2"):
        bundle_python_archives(package, "amd64", ["3.11"], Log(), cache=tmp_path / "c")
    (tmp_path / "archives" / "cpython-3.13.2+1-amd64.tar.gz").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatch):
        bundle_python_archives(package, "amd64", ["3.13"], Log(), cache=tmp_path / "c")
    assert not (package / "dependencies").exists() or not any(
        (package / "dependencies").rglob("*.tar.gz")
    )


def test_a_runtime_of_another_python_is_reported_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from python_buildpack.archive import write_tar_gz
    from tools.package import main

    runtime = tmp_path / "runtime"
    make_tree(runtime, ("bin/python3.12",))
    archive = tmp_path / "python-3.12.tar.gz"
    write_tar_gz(runtime, archive, top="python", mtime=1)
    out = tmp_path / "out"
    code = main(["--arch", "amd64", "--runtime-archive", str(archive), "--output-dir", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Unusable runtime archive" in err and "python/bin/python3.13" in err
    assert "Pass --runtime-archive a CPython 3.13 archive" in err and "Traceback" not in err
    # Nothing half-made is left where the package would be.
    assert [p.name for p in out.iterdir()] == []
