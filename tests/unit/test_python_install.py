"""`PythonInstall`: Python's files left to the previous image are unpacked when first needed,
once, and nothing can run the interpreter before that."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from python_buildpack.layers.python import PythonInstall, written_files
from python_buildpack.output import Log


def test_the_interpreter_is_only_given_once_the_files_are_there(tmp_path: Path) -> None:
    unpacked: list[str] = []
    install = PythonInstall(
        tmp_path, "3.13.5", {}, unpack_later=lambda log, why: unpacked.append(why)
    )
    with pytest.raises(RuntimeError, match="ensure_files"):
        _ = install.python
    log = Log(out=io.StringIO(), err=io.StringIO())
    install.ensure_files(log, "the dependencies are installed with it")
    install.ensure_files(log, "pip is packed with it")
    assert unpacked == ["the dependencies are installed with it"]
    assert install.python == tmp_path / "bin" / "python3"


def test_a_python_with_its_files_needs_no_unpacking(tmp_path: Path) -> None:
    install = PythonInstall(tmp_path, "3.13.5", {})
    install.ensure_files(Log(out=io.StringIO(), err=io.StringIO()), "unused")
    assert install.python == tmp_path / "bin" / "python3"


def test_the_written_files_name_the_layers_interpreter(tmp_path: Path) -> None:
    """The exec.d programs' `#!` line names the layer's path: another path, another digest."""
    assert set(written_files(tmp_path)) == {"exec.d/web-concurrency"}
    assert written_files(tmp_path) == written_files(tmp_path)
    assert written_files(tmp_path) != written_files(tmp_path / "elsewhere")
