"""pip as one zip file in its layer: packing (`pack_pip.py`, run by the layer's Python), the
swap from the tree, and the check that a restored layer is whole."""

from __future__ import annotations

import importlib.util
import io
import os
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from python_buildpack.layers.pip_zip import (
    ASIDE,
    PACK_SCRIPT,
    PTH_NAME,
    ZIP_NAME,
    packed,
    packing_alongside,
    use_zip,
)
from python_buildpack.output import Log

PYTHON = Path(sys.executable)
MTIME = 315532801

# A stand-in for pip's wheel: pip's own `__main__` logic (run as `pip.zip/pip`, it puts the zip
# on sys.path), a subpackage, data, a module that does not compile and the dist-info.
SOURCES = {
    "pip/__init__.py": "__version__ = '1.0'\n",
    "pip/__main__.py": (
        "import os, sys\n"
        "if not __spec__ or __spec__.parent == '':\n"
        "    sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\n"
        "if __name__ == '__main__':\n"
        "    from pip._internal.cli import main\n"
        "    main()\n"
    ),
    "pip/_internal/__init__.py": "",
    "pip/_internal/cli.py": (
        "import sys\ndef main():\n    import pip\n    print(pip.__file__, *sys.argv[1:])\n"
    ),
    "pip/_vendor/data.txt": "not Python\n",
    "pip/_vendor/py2only.py": "print 'hello'\n",
    "pip-1.0.dist-info/METADATA": "Name: pip\nVersion: 1.0\n",
}


def fake_pip(site: Path) -> Path:
    for name, text in SOURCES.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.utime(path, (MTIME, MTIME))
    (site / "other.py").write_text("NOT_PIP = 1\n")  # not pip's: stays out of the zip
    return site


def pack(site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-I", "-S", PACK_SCRIPT, site], capture_output=True, text=True, check=False
    )


def test_the_zip_holds_every_file_and_unchecked_bytecode_beside_each_module(
    tmp_path: Path,
) -> None:
    site = fake_pip(tmp_path / "site-packages")
    result = pack(site)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(site / ZIP_NAME) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        compiled = ["pip/__init__.py", "pip/__main__.py", "pip/_internal/__init__.py"]
        compiled.append("pip/_internal/cli.py")
        # pip's .dist-info stays out: pip's subprocesses, run with the zip first on sys.path,
        # would find pip installed in the environment they install into.
        pip_files = [name for name in SOURCES if name.startswith("pip/")]
        assert names == sorted([*pip_files, *(name + "c" for name in compiled)])
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.compress_type for info in infos} == {zipfile.ZIP_STORED}
        for name in compiled:
            source, pyc = archive.read(name), archive.read(name + "c")
            assert pyc[:4] == importlib.util.MAGIC_NUMBER
            assert struct.unpack("<I", pyc[4:8])[0] == 0b01  # hash-based, unchecked
            assert pyc[8:16] == importlib.util.source_hash(source)
    # Left to compile on import, as compileall leaves it.
    assert "pip/_vendor/py2only.pyc" not in names


def test_the_tree_gets_timestamp_bytecode_for_the_pip_running_meanwhile(tmp_path: Path) -> None:
    site = fake_pip(tmp_path / "site-packages")
    assert pack(site).returncode == 0
    source = site / "pip" / "_internal" / "cli.py"
    header = Path(importlib.util.cache_from_source(str(source))).read_bytes()[:16]
    flags, mtime, size = struct.unpack("<III", header[4:16])
    assert (flags, mtime, size) == (0, MTIME, source.stat().st_size)
    assert not list(site.rglob("*.partial"))


def test_the_same_pip_packs_to_the_same_listing(tmp_path: Path) -> None:
    listings = []
    for name in ("one", "two"):
        site = fake_pip(tmp_path / name)
        assert pack(site).returncode == 0
        with zipfile.ZipFile(site / ZIP_NAME) as archive:
            listings.append(
                [(i.filename, i.date_time, i.external_attr) for i in archive.infolist()]
            )
    assert listings[0] == listings[1]


def test_no_pip_under_the_directory_is_an_error(tmp_path: Path) -> None:
    result = pack(tmp_path)
    assert result.returncode == 1 and "no pip modules under" in result.stderr
    assert not (tmp_path / ZIP_NAME).exists()


def test_after_the_swap_pip_runs_from_the_zip_and_its_bytecode(tmp_path: Path) -> None:
    site = fake_pip(tmp_path / "site-packages")
    assert pack(site).returncode == 0
    assert not packed(site)  # the tree is still there
    assert use_zip(site) == 6 + 4  # the package's files, and the tree's bytecode
    assert packed(site)
    assert (site / PTH_NAME).read_text() == f"{ZIP_NAME}\n"
    assert sorted(p.name for p in site.iterdir()) == [
        "other.py",
        "pip-1.0.dist-info",
        PTH_NAME,
        ZIP_NAME,
    ]

    # What `pip --python` and build isolation run: the `pip` directory inside the zip. A
    # module zipimport loads from bytecode has the `.pyc` entry as its `__file__`.
    run = subprocess.run(
        [PYTHON, "-I", site / ZIP_NAME / "pip", "install"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.split() == [str(site / ZIP_NAME / "pip" / "__init__.pyc"), "install"]

    # What `python -m pip` with the layer as the user base does: `site` reads the .pth file,
    # which puts the zip on sys.path (-S, then the site directory alone: this test's Python
    # has a pip of its own).
    as_main = "import runpy; runpy.run_module('pip', run_name='__main__', alter_sys=True)"
    module = subprocess.run(
        [PYTHON, "-I", "-S", "-c", f"import site; site.addsitedir({str(site)!r}); {as_main}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert module.stdout.split()[0] == str(site / ZIP_NAME / "pip" / "__init__.pyc")


@pytest.mark.parametrize("left", ["tree", "aside", "no pth", "no zip"])
def test_an_interrupted_swap_is_not_trusted(tmp_path: Path, left: str) -> None:
    site = fake_pip(tmp_path / "site-packages")
    assert pack(site).returncode == 0
    use_zip(site)
    if left == "tree":
        (site / "pip").mkdir()
    elif left == "aside":
        (site / ASIDE).mkdir()
    elif left == "no pth":
        (site / PTH_NAME).unlink()
    else:
        (site / ZIP_NAME).unlink()
    assert not packed(site)


def fake_python(tmp_path: Path, script: str) -> Path:
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\n{script}\n")
    python.chmod(0o755)
    return python


def test_packing_alongside_swaps_once_the_block_is_done(tmp_path: Path) -> None:
    site = fake_pip(tmp_path / "site-packages")
    out = io.StringIO()
    with packing_alongside(PYTHON, site, Log(out, out)):
        assert (site / "pip").is_dir()  # the block's pip runs from the tree
    assert packed(site)
    assert "Compiling and packing pip into one zip file in the background" in out.getvalue()
    assert "Packed pip's 10 files into pip.zip (the build waited " in out.getvalue()


def test_a_failed_packing_leaves_the_tree_and_says_why(tmp_path: Path) -> None:
    site = fake_pip(tmp_path / "site-packages")
    python = fake_python(tmp_path, "echo 'OSError: [Errno 28] No space left on device' >&2; exit 1")
    out = io.StringIO()
    with packing_alongside(python, site, Log(out, out)):
        pass
    assert (site / "pip" / "__init__.py").is_file() and not packed(site)
    assert (
        "Packing pip into pip.zip failed (exit status 1: OSError: [Errno 28] No space left on "
        "device): pip stays unpacked for this build, and the next build installs it again"
    ) in out.getvalue()


@pytest.mark.timeout(30)  # the "Python" sleeps for 60 s: waited for, not killed, it fails
def test_packing_alongside_is_killed_when_the_block_fails(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    python = fake_python(
        tmp_path, f"echo $$ > {pid_file}.new\nmv {pid_file}.new {pid_file}\nexec sleep 60"
    )
    site = fake_pip(tmp_path / "site-packages")
    with pytest.raises(ValueError), packing_alongside(python, site, Log(io.StringIO())):
        for _ in range(1000):
            if pid_file.exists():
                break
            time.sleep(0.01)
        raise ValueError("the install failed")
    # Killed and reaped: no such process any more; the tree is as it was.
    assert not Path(f"/proc/{pid_file.read_text().strip()}").exists()
    assert (site / "pip").is_dir() and not (site / PTH_NAME).exists()
