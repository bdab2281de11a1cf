"""Putting the fixed mtime back on restored sources, so their timestamp .pyc files stay valid."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import struct
from pathlib import Path

from python_buildpack.fixed_mtime import FIXED_MTIME, reset_mtimes


def pyc_source_mtime(pyc: Path) -> int:
    flags, mtime = struct.unpack("<II", pyc.read_bytes()[4:12])
    assert flags == 0  # timestamp-based, what the import system writes
    return int(mtime)


def test_restored_sources_get_the_fixed_mtime_back(tmp_path: Path) -> None:
    package = tmp_path / "lib" / "pkg"
    package.mkdir(parents=True)
    source = package / "mod.py"
    source.write_text("X = 1\n")
    data = package / "data.txt"
    data.write_text("not Python\n")
    os.utime(source, (FIXED_MTIME, FIXED_MTIME))
    pyc = Path(importlib.util.cache_from_source(str(source)))
    py_compile.compile(str(source), cfile=str(pyc), doraise=True)
    assert pyc_source_mtime(pyc) == FIXED_MTIME

    # What the lifecycle's restorer does: every file gets the time of the restore.
    restored_at = FIXED_MTIME + 1_500_000_000
    for path in (source, data, pyc):
        os.utime(path, (restored_at, restored_at))
    assert pyc_source_mtime(pyc) != int(source.stat().st_mtime)  # stale: would be recompiled

    assert reset_mtimes(tmp_path / "lib") == 1
    assert source.stat().st_mtime == FIXED_MTIME
    assert pyc_source_mtime(pyc) == int(source.stat().st_mtime)  # valid again
    assert data.stat().st_mtime == restored_at  # only sources matter
    assert reset_mtimes(tmp_path / "lib") == 0
