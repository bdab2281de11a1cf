"""The runtime builder's steps that need no compiler: source checks, trim, scripts, archive."""

from __future__ import annotations

import io
import marshal
import os
import py_compile
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from python_buildpack import archive
from tests.harness.http_server import FileServer
from tools import runtime_builder as rb
from tools.runtime_builder import (
    RuntimeArchiveBroken,
    RuntimeBuildDependenciesMissing,
    RuntimeBuildStepFailed,
    RuntimeInstallIncomplete,
    RuntimeSourceDownloadFailed,
    RuntimeSourceInvalid,
    RuntimeSourceMissing,
    RuntimeToolFailed,
)

MINOR = "3.13"


def make_fake_install(prefix: Path) -> Path:
    """A tree shaped like `make install DESTDIR=...` output for CPython 3.13."""
    files = {
        f"bin/python{MINOR}": "\x7fELF-not-really",
        f"bin/python{MINOR}-config": "#!/bin/sh\necho config\n",
        "bin/pydoc3.13": "#!/python/bin/python3.13\nimport pydoc\npydoc.cli()\n",
        "bin/idle3.13": "#!/python/bin/python3.13\nimport idlelib\n",
        "bin/2to3-3.13": "#!/python/bin/python3.13\nimport lib2to3\n",
        f"lib/libpython{MINOR}.so.1.0": "lib",
        f"lib/libpython{MINOR}.a": "static",
        f"lib/python{MINOR}/config-{MINOR}-x86_64-linux-gnu/libpython{MINOR}.a": "static",
        f"lib/pkgconfig/python-{MINOR}.pc": "prefix=/python\n",
        f"include/python{MINOR}/Python.h": "/* header */\n",
        "lib/python3.13/os.py": "import sys\n",
        "lib/python3.13/__pycache__/os.cpython-313.pyc": "pyc",
        "lib/python3.13/__pycache__/os.cpython-313.opt-1.pyc": "pyc",
        "lib/python3.13/test/test_os.py": "import unittest\n",
        "lib/python3.13/test/__pycache__/test_os.cpython-313.pyc": "pyc",
        "lib/python3.13/idlelib/idle.py": "",
        "lib/python3.13/tkinter/__init__.py": "",
        "lib/python3.13/turtledemo/__init__.py": "",
        "lib/python3.13/lib2to3/tests/data/bom.py": "",
        "lib/python3.13/lib2to3/pytree.py": "",
        "lib/python3.13/unittest/test/test_case.py": "",
        "lib/python3.13/unittest/case.py": "",
        "lib/python3.13/ensurepip/_bundled/pip-25.1-py3-none-any.whl": "wheel",
        "lib/python3.13/lib-dynload/_ssl.cpython-313-x86_64-linux-gnu.so": "so",
        "lib/python3.13/lib-dynload/_tkinter.cpython-313-x86_64-linux-gnu.so": "so",
        # 3.11 and 3.12 have it; shaped as a 3.13 tree here for brevity.
        "lib/python3.13/lib-dynload/nis.cpython-313-x86_64-linux-gnu.so": "so",
        "lib/python3.13/turtle.py": "import tkinter\n",
    }
    for rel, content in files.items():
        path = prefix / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (prefix / f"bin/python{MINOR}").chmod(0o755)
    (prefix / "bin/pydoc3.13").chmod(0o755)
    (prefix / "bin/python3").symlink_to(f"python{MINOR}")
    (prefix / "bin/pydoc3").symlink_to("pydoc3.13")
    return prefix


def relative_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


# --- sources ----------------------------------------------------------------------------------


def write_tarball(
    path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None
) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def test_inspect_source_reads_the_version_from_the_top_directory(tmp_path: Path) -> None:
    # Debian's orig tarballs have their own file name; the top directory is what counts.
    tarball = write_tarball(
        tmp_path / "python3.13_3.13.5.orig.tar.gz", {"Python-3.13.5/configure": b"#!/bin/sh\n"}
    )
    source = rb.inspect_source(tarball)
    assert (source.version, source.minor) == ("3.13.5", "3.13")
    assert (rb.unpack_source(source, tmp_path / "work") / "configure").is_file()


def test_a_tarball_that_is_not_cpython_is_rejected(tmp_path: Path) -> None:
    tarball = write_tarball(tmp_path / "x.tar.gz", {"node-v20.1.0/configure": b""})
    with pytest.raises(RuntimeSourceInvalid, match=r"node-v20\.1\.0") as info:
        rb.inspect_source(tarball)
    assert "Python-X.Y.Z" in info.value.render()


def test_a_corrupt_tarball_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "Python-3.13.5.tar.xz"
    bad.write_bytes(b"this is not a tar archive at all")
    with pytest.raises(RuntimeSourceInvalid, match="not a readable tar archive"):
        rb.inspect_source(bad)


def test_a_source_url_is_downloaded(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    write_tarball(served / "Python-3.12.4.tar.xz", {"Python-3.12.4/configure": b""})
    (tmp_path / "work").mkdir()
    with FileServer(served) as srv:
        got = rb.fetch_source(srv.url_for("Python-3.12.4.tar.xz"), tmp_path / "work")
        assert got == tmp_path / "work" / "Python-3.12.4.tar.xz"
        assert rb.inspect_source(got).version == "3.12.4"
        with pytest.raises(RuntimeSourceDownloadFailed, match=r"download failed.*404"):
            rb.fetch_source(srv.url_for("Python-3.99.0.tar.xz"), tmp_path / "work")


def test_a_missing_source_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeSourceMissing, match="does not exist"):
        rb.fetch_source(str(tmp_path / "nope.tar.xz"), tmp_path)


def test_links_escaping_the_source_tree_are_refused(tmp_path: Path) -> None:
    tarball = write_tarball(
        tmp_path / "Python-3.13.5.tgz",
        {"Python-3.13.5/configure": b""},
        symlinks={"Python-3.13.5/evil": "../../../etc/passwd"},
    )
    with pytest.raises(RuntimeSourceInvalid, match="leads outside"):
        rb.unpack_source(rb.inspect_source(tarball), tmp_path / "work")


def test_missing_headers_are_named_with_their_debian_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rb, "BUILD_HEADERS", {"zlib.h": "zlib1g-dev", "no/such.h": "libnosuch-dev"})
    missing = rb.missing_build_dependencies()
    assert missing == {"no/such.h": "libnosuch-dev"}
    message = RuntimeBuildDependenciesMissing(missing).render()
    assert "no/such.h" in message and "apt-get install libnosuch-dev" in message


# --- trim ------------------------------------------------------------------------------------


def test_trim_removes_tests_guis_static_libs_and_bytecode(tmp_path: Path) -> None:
    prefix = make_fake_install(tmp_path / "python")
    removed = rb.trim(prefix, MINOR)
    left = relative_files(prefix)
    for gone in (
        "lib/python3.13/test/test_os.py",
        "lib/python3.13/idlelib/idle.py",
        "lib/python3.13/tkinter/__init__.py",
        # the extension module goes with its package: it needs Tcl/Tk, which run images lack
        "lib/python3.13/lib-dynload/_tkinter.cpython-313-x86_64-linux-gnu.so",
        "lib/python3.13/lib-dynload/nis.cpython-313-x86_64-linux-gnu.so",
        "lib/python3.13/turtle.py",
        "lib/python3.13/turtledemo/__init__.py",
        "lib/python3.13/lib2to3/tests/data/bom.py",
        "lib/python3.13/unittest/test/test_case.py",
        "lib/python3.13/__pycache__/os.cpython-313.pyc",
        "bin/idle3.13",
        "bin/2to3-3.13",
        "lib/libpython3.13.a",
        "lib/python3.13/config-3.13-x86_64-linux-gnu/libpython3.13.a",
    ):
        assert gone not in left
    for kept in (
        "bin/python3.13",
        "bin/python3",
        "lib/libpython3.13.so.1.0",
        "lib/pkgconfig/python-3.13.pc",
        "include/python3.13/Python.h",
        "lib/python3.13/os.py",
        "lib/python3.13/lib2to3/pytree.py",
        "lib/python3.13/unittest/case.py",
        "lib/python3.13/ensurepip/_bundled/pip-25.1-py3-none-any.whl",
        "lib/python3.13/lib-dynload/_ssl.cpython-313-x86_64-linux-gnu.so",
    ):
        assert kept in left
    assert Path("lib/python3.13/test") in removed
    # Trimming twice is harmless (nothing left to remove).
    assert rb.trim(prefix, MINOR) == []


def test_python_links_point_at_the_versioned_interpreter(tmp_path: Path) -> None:
    prefix = make_fake_install(tmp_path / "python")
    rb.ensure_python_links(prefix, MINOR)
    for name in ("python", "python3"):
        link = prefix / "bin" / name
        assert link.is_symlink() and link.readlink() == Path("python3.13")


def test_missing_interpreter_is_reported(tmp_path: Path) -> None:
    (tmp_path / "python" / "bin").mkdir(parents=True)
    with pytest.raises(RuntimeInstallIncomplete, match=r"bin/python3\.13"):
        rb.ensure_python_links(tmp_path / "python", MINOR)


def test_scripts_with_absolute_shebangs_run_from_anywhere(tmp_path: Path) -> None:
    prefix = make_fake_install(tmp_path / "python")
    interpreter = prefix / "bin" / "python3.13"
    # A stand-in interpreter that shows what it was asked to run.
    interpreter.write_text('#!/bin/sh\necho "ran $1 with $2"\n')
    assert rb.relocate_scripts(prefix, MINOR) == [
        Path("bin/2to3-3.13"),
        Path("bin/idle3.13"),
        Path("bin/pydoc3.13"),
    ]
    script = prefix / "bin" / "pydoc3.13"
    assert script.read_text().endswith("import pydoc\npydoc.cli()\n")
    moved = tmp_path / "elsewhere"
    prefix.rename(moved)
    out = subprocess.run(
        [str(moved / "bin" / "pydoc3"), "arg"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"ran {moved / 'bin' / 'pydoc3'} with arg"
    # The header is valid Python too: the rest of the script runs unchanged.
    compile((moved / "bin" / "pydoc3.13").read_text(), "pydoc3", "exec")


def test_only_elf_files_are_stripped(tmp_path: Path) -> None:
    elf = tmp_path / "bin"
    elf.write_bytes(b"\x7fELF\x02\x01\x01")
    (tmp_path / "script").write_text("#!/bin/sh\n")
    (tmp_path / "link").symlink_to("bin")
    assert [rb.is_elf(p) for p in (elf, tmp_path / "script", tmp_path / "link")] == [
        True,
        False,
        False,
    ]


# --- archive ---------------------------------------------------------------------------------


def test_archive_is_reproducible_and_normalised(tmp_path: Path) -> None:
    first = make_fake_install(tmp_path / "a" / "python")
    second = make_fake_install(tmp_path / "b" / "python")
    # Different owners' umasks, mtimes and creation order must not matter.
    os.utime(second / "lib/python3.13/os.py", (1_700_000_000, 1_700_000_000))
    (second / "include/python3.13/Python.h").chmod(0o600)
    sha_a = rb.write_archive(first, tmp_path / "a.tar.gz", mtime=1234)
    sha_b = rb.write_archive(second, tmp_path / "b.tar.gz", mtime=1234)
    assert sha_a == sha_b == archive.sha256_file(tmp_path / "a.tar.gz")
    assert not (tmp_path / "a.tar.gz.partial").exists()

    header = (tmp_path / "a.tar.gz").read_bytes()[:10]
    # gzip header: no embedded file name (FLG.FNAME unset), MTIME = the fixed mtime.
    assert header[3] & 0x08 == 0
    assert int.from_bytes(header[4:8], "little") == 1234
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == "python"
    assert all(n == "python" or n.startswith("python/") for n in names)
    assert "python/bin/python3" in names and "python/include/python3.13/Python.h" in names
    assert names.index("python/bin") < names.index("python/bin/python3")
    assert all((m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 1234) for m in members)
    by_name = {m.name: m for m in members}
    assert by_name["python/bin/python3"].issym()
    assert by_name["python/bin/python3"].linkname == "python3.13"
    assert by_name["python/bin/python3.13"].mode == 0o755
    assert by_name["python/include/python3.13/Python.h"].mode == 0o644
    assert by_name["python/lib"].mode == 0o755


def test_archive_mtime_follows_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert archive.archive_mtime() == 1700000000
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert archive.archive_mtime() == archive.DEFAULT_MTIME


def test_manifest_entry_is_the_release_table() -> None:
    entry = rb.manifest_entry(
        "3.13.5", "amd64", "http://x/python-3.13.5-linux-amd64.tar.gz", "ab" * 32
    )
    assert tomllib.loads(entry) == {
        "releases": [
            {
                "version": "3.13.5",
                "os": "linux",
                "arch": "amd64",
                "libc": "gnu",
                "url": "http://x/python-3.13.5-linux-amd64.tar.gz",
                "sha256": "ab" * 32,
            }
        ]
    }
    assert rb.archive_name("3.13.5", "arm64") == "python-3.13.5-linux-arm64.tar.gz"


def test_runpath_is_read_from_the_elf(tmp_path: Path) -> None:
    # A real ELF linked with the same escaped flag the builder gives make.
    source = tmp_path / "main.c"
    source.write_text("int main(void) { return 0; }\n")
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        f"LDFLAGS_NODIST={rb.RPATH_LDFLAGS}\nmain: main.c\n\tcc -o $@ $< $(LDFLAGS_NODIST)\n"
    )
    subprocess.run(["make", "-s", "-C", str(tmp_path)], check=True, env=rb.build_env())
    assert rb.runpath(tmp_path / "main") == rb.EXPECTED_RUNPATH == "$ORIGIN/../lib"


def _cc(tmp_path: Path, output: Path, *args: str) -> None:
    source = tmp_path / "empty.c"
    source.write_text("int bp_fake(void) { return 0; }\n")
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", str(output), str(source), *args],
        check=True,
        env=rb.build_env(),
    )


def test_needs_outside_the_run_image_contract_are_found(tmp_path: Path) -> None:
    # Real ELF files: a library of the tree itself (as libpython is), a module that needs only
    # it and the contract's libc, and one that needs a library no run image promises.
    prefix = tmp_path / "python"
    lib = prefix / "lib"
    _cc(tmp_path, lib / "libbp-own.so.1", "-Wl,-soname,libbp-own.so.1")
    _cc(tmp_path, tmp_path / "elsewhere" / "libbp-foreign.so.2", "-Wl,-soname,libbp-foreign.so.2")
    dynload = lib / "python3.13" / "lib-dynload"
    _cc(tmp_path, dynload / "ok.so", "-Wl,--no-as-needed", f"-L{lib}", "-l:libbp-own.so.1", "-lc")
    _cc(
        tmp_path,
        dynload / "bad.so",
        "-Wl,--no-as-needed",
        f"-L{tmp_path / 'elsewhere'}",
        "-l:libbp-foreign.so.2",
        "-lm",
    )
    assert rb.needed_libraries(dynload / "ok.so") == ["libbp-own.so.1", "libc.so.6"]
    assert rb.unlisted_libraries(prefix, "amd64") == {
        "lib/python3.13/lib-dynload/bad.so": ["libbp-foreign.so.2"]
    }


def test_cli_requires_a_source_or_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        rb.parse_args(["--output-dir", "out"])
    assert "--source or --version" in capsys.readouterr().err
    options = rb.parse_args(["--version", "3.12.4", "--output-dir", "out", "--jobs", "3"])
    assert options.source == "https://www.python.org/ftp/python/3.12.4/Python-3.12.4.tar.xz"
    assert (options.jobs, options.expected_version) == (3, "3.12.4")


def test_cli_reports_a_bad_source_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "Python-3.13.5.tar.xz"
    bad.write_bytes(b"garbage")
    code = rb.main(["--source", str(bad), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "Unusable CPython source" in err and "Traceback" not in err


def test_timestamp_bytecode_is_detected(tmp_path: Path) -> None:
    cache = tmp_path / "lib" / "__pycache__"
    cache.mkdir(parents=True)
    magic = b"\xf3\r\r\n"
    (cache / "hashed.cpython-313.pyc").write_bytes(magic + (1).to_bytes(4, "little") + b"h" * 8)
    (cache / "stamped.cpython-313.pyc").write_bytes(magic + (0).to_bytes(4, "little") + b"t" * 8)
    assert rb.timestamp_pycs(tmp_path) == [Path("lib/__pycache__/stamped.cpython-313.pyc")]


def test_stdlib_bytecode_is_hash_based_and_names_the_final_prefix(tmp_path: Path) -> None:
    # A prefix whose interpreter is the one running the tests, so no CPython build is needed.
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    prefix = tmp_path / "staging" / "python"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / f"python{minor}").symlink_to(sys.executable)
    stdlib = prefix / "lib" / f"python{minor}"
    (stdlib / "pkg").mkdir(parents=True)
    (stdlib / "pkg" / "__init__.py").write_text("def f():\n    return 1\n")
    # A stale timestamp-based .pyc (as `make install` or an import leaves) must be replaced.
    py_compile.compile(str(stdlib / "pkg" / "__init__.py"), doraise=True)
    assert rb.timestamp_pycs(prefix)
    rb.compile_stdlib(prefix, minor, 1, rb.BuildLog(tmp_path / "build.log"))
    assert rb.timestamp_pycs(prefix) == []
    (pyc,) = (stdlib / "pkg" / "__pycache__").glob("*.pyc")
    code = marshal.loads(pyc.read_bytes()[16:])
    assert code.co_filename == f"/python/lib/python{minor}/pkg/__init__.py"


def test_zstd_archive_has_the_same_members(tmp_path: Path) -> None:
    tree = make_fake_install(tmp_path / "python")
    rb.write_archive(tree, tmp_path / "a.tar.gz", mtime=1)
    rb.write_zstd_archive(tree, tmp_path / "a.tar.zst", mtime=1)
    plain = subprocess.run(
        ["zstd", "-d", "-c", str(tmp_path / "a.tar.zst")], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(plain)) as zst, tarfile.open(tmp_path / "a.tar.gz") as gz:
        assert [m.get_info() for m in zst.getmembers()] == [m.get_info() for m in gz.getmembers()]


def test_a_failed_build_step_names_the_command_and_the_build_log(tmp_path: Path) -> None:
    log = rb.BuildLog(tmp_path / "build.log")
    with pytest.raises(RuntimeBuildStepFailed) as info:
        log.run(
            ["sh", "-c", "echo compiling; echo 'error: no cc' >&2; exit 2"], cwd=tmp_path, env={}
        )
    error = info.value
    assert (error.command, error.exit_code) == ("sh -c", 2)
    assert "compiling" in error.detail and "error: no cc" in error.detail
    assert str(tmp_path / "build.log") in error.fix
    text = (tmp_path / "build.log").read_text()
    assert "$ sh -c" in text and "error: no cc" in text


def test_a_failed_tool_and_a_broken_archive_are_their_own_errors(tmp_path: Path) -> None:
    with pytest.raises(RuntimeToolFailed, match="'readelf -d' failed") as info:
        rb.runpath(tmp_path / "missing.so")
    assert "binutils" in info.value.fix
    broken = RuntimeArchiveBroken(tmp_path / "a.tar.gz", ["bin/python3 is missing"])
    assert "  - bin/python3 is missing" in broken.render()
    assert broken.fix
