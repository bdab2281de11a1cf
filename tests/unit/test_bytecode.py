"""Compiling installed packages to bytecode in parallel (`bytecode`)."""

from __future__ import annotations

import importlib.util
import io
import os
import struct
import sys
from pathlib import Path

import pytest

from python_buildpack import bytecode
from python_buildpack.bytecode import compile_venv, usable_cpus
from python_buildpack.output import Log

PYTHON = Path(sys.executable)
# The .pyc header's flags: 0b11 is a hash-based .pyc whose source is checked.
CHECKED_HASH = 0b11


def site_packages(root: Path) -> Path:
    site = root / "lib" / "python3.x" / "site-packages"
    for package in ("alpha", "beta", "gamma"):
        (site / package / "sub").mkdir(parents=True)
        (site / package / "__init__.py").write_text(f"NAME = {package!r}\n")
        (site / package / "sub" / "mod.py").write_text("def f(x):\n    return [x, 'sub']\n")
    (site / "single.py").write_text("VALUE = 1\n")
    return site


def pyc(source: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(source)))


def env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SOURCE_DATE_EPOCH": "315532801"}


def all_pycs(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*.pyc"))}


def test_every_module_gets_hash_based_bytecode(
    tmp_path: Path, log: Log, log_output: io.StringIO
) -> None:
    site = site_packages(tmp_path)
    compile_venv(PYTHON, tmp_path, env(), log)
    sources = list(site.rglob("*.py"))
    assert len(sources) == 7
    for source in sources:
        header = pyc(source).read_bytes()[:8]
        assert struct.unpack("<I", header[4:8])[0] == CHECKED_HASH, source
    lines = log_output.getvalue().splitlines()
    assert lines[0].startswith("Compiling bytecode (") and lines[1].startswith("  (done in ")
    assert len(lines) == 2


def test_the_same_bytes_whatever_the_number_of_workers(
    tmp_path: Path, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = site_packages(tmp_path)
    monkeypatch.setattr(bytecode, "usable_cpus", lambda: 1)
    compile_venv(PYTHON, tmp_path, env(), log)
    sequential = all_pycs(site)
    for path in site.rglob("*.pyc"):
        path.unlink()
    monkeypatch.setattr(bytecode, "usable_cpus", lambda: 3)
    compile_venv(PYTHON, tmp_path, env(), log)
    assert all_pycs(site) == sequential and len(sequential) == 7


def test_a_file_that_is_not_valid_python_is_named_and_the_build_goes_on(
    tmp_path: Path, log: Log, log_output: io.StringIO
) -> None:
    site = site_packages(tmp_path)
    template = site / "beta" / "templates" / "{{name}}.py"
    template.parent.mkdir()
    template.write_text("def {{ name }}():\n    pass\n")
    compile_venv(PYTHON, tmp_path, env(), log)
    assert pyc(site / "alpha" / "sub" / "mod.py").is_file()
    assert not pyc(template).exists()
    assert (
        "Some files are not valid Python for this version and have no bytecode, e.g. "
        "beta/templates/{{name}}.py (as pip leaves them: a module compiles when it is imported)"
    ) in log_output.getvalue()


def test_workers_that_cannot_start_fall_back_to_one_process(
    tmp_path: Path, log: Log, log_output: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Python whose compileall workers fail before compiling anything (as without /dev/shm).
    python = tmp_path / "python"
    python.write_text(
        "#!/bin/sh\n"
        'for arg; do [ "$prev" = -j ] && [ "$arg" != 1 ] && exit 1; prev=$arg; done\n'
        f'exec {PYTHON} "$@"\n'
    )
    python.chmod(0o755)
    monkeypatch.setattr(bytecode, "usable_cpus", lambda: 2)
    site = site_packages(tmp_path / "venv")
    compile_venv(python, tmp_path / "venv", env(), log)
    assert len(all_pycs(site)) == 7
    output = log_output.getvalue()
    assert "Compiling bytecode (2 processes)\n" in output
    assert "compileall's workers failed (status 1): in one process now\n" in output


def test_a_venv_without_site_packages_compiles_nothing(
    tmp_path: Path, log: Log, log_output: io.StringIO
) -> None:
    # A "Python" that fails if it is run at all: compileall with no directory would compile
    # its own sys.path (the python layer's standard library).
    compile_venv(Path("/bin/false"), tmp_path, env(), log)
    assert log_output.getvalue() == ""


def test_usable_cpus_counts_this_process_s_cpu_set() -> None:
    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)
