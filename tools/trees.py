"""Helpers the operator tools share for the trees they trim."""

from __future__ import annotations

import shutil
from pathlib import Path


def remove(path: Path) -> bool:
    """Remove a file, symlink (not what it points at) or directory tree; False if none was there."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    else:
        return False
    return True


class Pruner:
    """Removes paths under `root` (`remove`), recording each one that was there, relative to
    `root`: what a trimmed tree lost, for the log and the tests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.removed: list[Path] = []

    def remove(self, path: Path) -> None:
        if remove(path):
            self.removed.append(path.relative_to(self.root))
