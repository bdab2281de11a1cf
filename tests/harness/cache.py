"""Where the test harness keeps heavy artifacts between runs, and how it fills them safely.

`~/.cache/python-buildpack/` (or `$PYTHON_BUILDPACK_CACHE`, else `$XDG_CACHE_HOME/
python-buildpack`): CPython sources and archives, the lifecycle, the run image, the package
index. Each entry is keyed by version, so a repeat run reuses it and a new pin builds anew.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _cache_root() -> Path:
    explicit = os.environ.get("PYTHON_BUILDPACK_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "python-buildpack"


CACHE_ROOT = _cache_root()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every process on the machine, to fill a cache entry once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fill_once(
    entry: Path, lock: Path, fill: Callable[[Path], None], *, ready: Callable[[], bool]
) -> None:
    """Make the cache directory `entry` unless `ready()` says it is there already.

    `fill(staging)` fills a fresh directory next to `entry`, which is renamed into place only
    once complete: no process ever sees half an entry, and a failed fill leaves nothing. `lock`
    serialises the processes (of any session) filling the same entry.
    """
    if ready():
        return
    with file_lock(lock):
        if ready():
            return
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
        try:
            fill(staging)
            staging.chmod(0o755)
            staging.rename(entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
