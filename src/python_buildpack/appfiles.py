"""The one way to read a file of the app.

Invariants, whoever reads (detect, the version sources, the Procfile, requirements and their
includes, pyproject.toml, lock files, Python sources for process inference):

- Only regular files are read. A named pipe, socket or device is an error naming the file, and
  is never opened for reading in a way that could block: the type is checked with `stat` first,
  the file is opened with `O_NONBLOCK` and checked again with `fstat` on the open descriptor.
- A symlink is followed only when it resolves inside the app directory (the app dir may itself
  be reached through a symlink). `requirements.txt -> /etc/passwd` or `Procfile ->
  /proc/self/environ` is an error that shows nothing of the target.
- Each kind of file has a size cap; a bigger file is an error that quotes nothing of it.
- Text is UTF-8; invalid UTF-8 or a NUL byte is an error with the line number.

This module is imported by `detect`, so it imports nothing beyond the standard library's basics
and `errors`.
"""

from __future__ import annotations

import enum
import errno
import os
import stat
from pathlib import Path

from .errors import (
    AppFileDanglingSymlink,
    AppFileHasNul,
    AppFileNotRegular,
    AppFileNotUtf8,
    AppFileOsError,
    AppFileOutsideApp,
    AppFileSymlinkLoop,
    AppFileTooLarge,
    ConfigFileUnreadable,
)

KIB = 1024
MIB = 1024 * KIB


class Kind(enum.Enum):
    """What a file is, and how big it may be. Caps are far above any real file of the kind."""

    VERSION = 64 * KIB  # .python-version, runtime.txt
    PROCFILE = 1 * MIB
    REQUIREMENTS = 8 * MIB  # requirements.txt and every -r/-c include
    PROJECT = 4 * MIB  # pyproject.toml, Pipfile, uv.toml, poetry.toml
    LOCK = 64 * MIB  # uv.lock, poetry.lock, Pipfile.lock
    SOURCE = 16 * MIB  # Python modules read for process inference

    @property
    def limit(self) -> int:
        return self.value


_KINDS_OF_FILE = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def describe_mode(mode: int) -> str:
    return _KINDS_OF_FILE.get(stat.S_IFMT(mode), "not a regular file")


def _display(app_dir: Path, path: Path) -> str:
    try:
        return str(path.relative_to(app_dir))
    except ValueError:
        return str(path)


def _real_root(app_dir: Path) -> str:
    return os.path.realpath(app_dir)


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def locate(app_dir: Path, relative: str | Path) -> tuple[str, str, os.stat_result] | None:
    """(shown name, real path, stat) of an app file that may be read, or None when absent.

    Raises the errors of the module docstring; a directory is reported like any other
    non-regular file (callers that treat a directory as absent check `is_dir` first).
    """
    path = Path(app_dir) / relative
    shown = _display(Path(app_dir), path)
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise AppFileOsError(shown, error.strerror or str(error)) from None
    root = _real_root(Path(app_dir))
    real = os.path.realpath(path)
    if not _inside(root, real):
        target = str(path.readlink()) if stat.S_ISLNK(link.st_mode) else None
        raise AppFileOutsideApp(shown, target)
    try:
        info = path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise AppFileSymlinkLoop(shown) from None
        if isinstance(error, FileNotFoundError):
            raise AppFileDanglingSymlink(shown) from None
        raise AppFileOsError(shown, error.strerror or str(error)) from None
    if not stat.S_ISREG(info.st_mode):
        raise AppFileNotRegular(shown, describe_mode(info.st_mode))
    return shown, real, info


def is_readable_app_file(app_dir: Path, name: str) -> tuple[bool, str]:
    """Whether `read_app_file` could read `name` (present and safe), and why not."""
    try:
        found = locate(app_dir, name)
    except ConfigFileUnreadable as error:
        return False, error.reason
    return found is not None, "" if found else "it does not exist"


def read_app_bytes(
    app_dir: Path, relative: str | Path, kind: Kind, *, directory_is_absent: bool = False
) -> bytes | None:
    """The bytes of an app file, or None when it does not exist."""
    path = Path(app_dir) / relative
    inside = directory_is_absent and _inside(_real_root(app_dir), os.path.realpath(path))
    if inside and path.is_dir():
        return None
    found = locate(app_dir, relative)
    if found is None:
        return None
    shown, real, _ = found
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as error:
        raise AppFileOsError(shown, error.strerror or str(error)) from None
    try:
        # The file may have been swapped for a pipe since `stat`: check what was opened.
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise AppFileNotRegular(shown, describe_mode(mode))
        chunks: list[bytes] = []
        size = 0
        while size <= kind.limit:
            chunk = os.read(fd, min(MIB, kind.limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise AppFileOsError(shown, error.strerror or str(error)) from None
    finally:
        os.close(fd)
    if size > kind.limit:
        raise AppFileTooLarge(shown, kind.limit)
    return b"".join(chunks)


def decode_text(data: bytes, shown: str) -> str:
    """UTF-8 text with no NUL byte, or an error that names the line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise AppFileNotUtf8(shown, data[error.start], error.start, line) from None
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise AppFileHasNul(shown, line)
    return text


def read_app_file(
    app_dir: Path, relative: str | Path, kind: Kind, *, directory_is_absent: bool = False
) -> str | None:
    """The text of an app file, or None when it does not exist."""
    data = read_app_bytes(app_dir, relative, kind, directory_is_absent=directory_is_absent)
    if data is None:
        return None
    return decode_text(data, _display(Path(app_dir), Path(app_dir) / relative))
