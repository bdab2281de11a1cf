from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from python_buildpack.appfiles import Kind, is_readable_app_file, read_app_bytes, read_app_file
from python_buildpack.errors import (
    AppFileNotRegular,
    AppFileOutsideApp,
    AppFileTooLarge,
    ConfigFileUnreadable,
)


def test_reads_a_regular_file_and_says_none_when_absent(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: x\n")
    assert read_app_file(tmp_path, "Procfile", Kind.PROCFILE) == "web: x\n"
    assert read_app_file(tmp_path, "missing", Kind.PROCFILE) is None


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "requirements.txt")
    start = time.monotonic()
    with pytest.raises(AppFileNotRegular) as info:
        read_app_file(tmp_path, "requirements.txt", Kind.REQUIREMENTS)
    assert time.monotonic() - start < 1
    assert "requirements.txt" in info.value.title
    assert "named pipe (FIFO)" in info.value.detail


def test_a_socket_and_a_device_are_refused(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "runtime.txt"))
        with pytest.raises(AppFileNotRegular, match=r"runtime\.txt"):
            read_app_file(tmp_path, "runtime.txt", Kind.VERSION)
    (tmp_path / "Procfile").symlink_to("/dev/zero")
    with pytest.raises(AppFileOutsideApp):
        read_app_file(tmp_path, "Procfile", Kind.PROCFILE)


def test_a_directory_is_an_error_unless_asked_to_treat_it_as_absent(tmp_path: Path) -> None:
    (tmp_path / ".python-version").mkdir()
    with pytest.raises(AppFileNotRegular, match="directory"):
        read_app_file(tmp_path, ".python-version", Kind.VERSION)
    assert (
        read_app_file(tmp_path, ".python-version", Kind.VERSION, directory_is_absent=True) is None
    )


def test_links_inside_the_app_are_followed_links_outside_are_not(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "config").mkdir(parents=True)
    (app / "config" / "version").write_text("3.13\n")
    (app / ".python-version").symlink_to("config/version")
    assert read_app_file(app, ".python-version", Kind.VERSION) == "3.13\n"

    (tmp_path / "secret").write_text("hunter2\n")
    (app / "runtime.txt").symlink_to(tmp_path / "secret")
    with pytest.raises(AppFileOutsideApp) as info:
        read_app_file(app, "runtime.txt", Kind.VERSION)
    assert "hunter2" not in str(info.value)
    assert str(tmp_path / "secret") in info.value.detail
    (app / "Procfile").symlink_to("../secret")
    with pytest.raises(AppFileOutsideApp):
        read_app_file(app, "Procfile", Kind.PROCFILE)
    with pytest.raises(AppFileOutsideApp, match="outside the app directory"):
        read_app_file(app, "../secret", Kind.REQUIREMENTS)


def test_an_app_dir_reached_through_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "version").write_text("3.12\n")
    (real / ".python-version").symlink_to(real / "version")  # absolute, but inside
    (tmp_path / "app").symlink_to(real)
    assert read_app_file(tmp_path / "app", ".python-version", Kind.VERSION) == "3.12\n"


def test_loops_and_dangling_links(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(ConfigFileUnreadable, match="Unable to read a") as info:
        read_app_file(tmp_path, "a", Kind.VERSION)
    assert "loop" in info.value.detail
    (tmp_path / "c").symlink_to("missing")
    with pytest.raises(ConfigFileUnreadable) as info:
        read_app_file(tmp_path, "c", Kind.VERSION)
    assert "missing file" in info.value.detail


def test_size_caps(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_bytes(b"3" * (Kind.VERSION.limit + 1))
    with pytest.raises(AppFileTooLarge) as info:
        read_app_file(tmp_path, ".python-version", Kind.VERSION)
    assert "64 KiB" in info.value.detail
    assert len(info.value.render()) < 500
    (tmp_path / ".python-version").write_bytes(b"3" * Kind.VERSION.limit)
    assert read_app_bytes(tmp_path, ".python-version", Kind.VERSION) is not None


def test_utf8_and_nul(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_bytes(b"ok\nflask # caf\xe9\n")
    with pytest.raises(ConfigFileUnreadable) as info:
        read_app_file(tmp_path, "r.txt", Kind.REQUIREMENTS)
    assert "not valid UTF-8" in info.value.detail and "line 2" in info.value.detail
    (tmp_path / "r.txt").write_bytes(b"a\nb\nc\x00d\n")
    with pytest.raises(ConfigFileUnreadable, match="NUL byte") as info:
        read_app_file(tmp_path, "r.txt", Kind.REQUIREMENTS)
    assert "line 3" in info.value.detail
    # Bytes are bytes: a Python source may be anything ast accepts.
    assert read_app_bytes(tmp_path, "r.txt", Kind.SOURCE) == b"a\nb\nc\x00d\n"


def test_is_readable_app_file_says_why_not(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "file").write_text("")
    assert is_readable_app_file(tmp_path, "file") == (True, "")
    assert is_readable_app_file(tmp_path, "pipe") == (
        False,
        "it is a named pipe (FIFO), not a regular file",
    )
    assert is_readable_app_file(tmp_path, "absent") == (False, "it does not exist")
