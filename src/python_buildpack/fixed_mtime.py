"""The one mtime of the files the buildpack unpacks itself, and putting it back after a restore.

1980-01-01T00:00:01Z is the lifecycle's own (what it gives every file of a layer it exports). The
`.pyc` files Python writes on import are timestamp-based: they hold their source's mtime and are
stale once it differs. The lifecycle's restorer gives the files it restores from the cache the
time of the restore, so without `reset_mtimes` every `.pyc` of a cached layer of unpacked wheels
(the `pip` layer) is stale on every build: pip recompiled the ~330 modules it imports each time
it started, and rewrote them, so the cached layer changed with every build too.
"""

from __future__ import annotations

import os
from pathlib import Path

FIXED_MTIME = 315532801


def reset_mtimes(root: Path) -> int:
    """Give the `.py` files under `root` the fixed mtime again; return how many needed it."""
    # os.scandir and one stat per source: every build walks the pip layer's ~900 sources, and
    # `Path.rglob` with `is_file()` and `stat()` took twice as long.
    changed = 0
    pending = [os.fspath(root)]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif (
                entry.name.endswith(".py")
                and entry.is_file()
                and entry.stat().st_mtime != FIXED_MTIME
            ):
                os.utime(entry.path, (FIXED_MTIME, FIXED_MTIME))
                changed += 1
    return changed
