"""Where the test harness keeps heavy artifacts between runs, and how it fills them safely.

`~/.cache/python-buildpack/` (or `$PYTHON_BUILDPACK_CACHE`, else `$XDG_CACHE_HOME/
python-buildpack`): CPython sources and archives, the lifecycle, the run image, the package
index. Each entry is keyed by version, so a repeat run reuses it and a new pin builds anew.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
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
