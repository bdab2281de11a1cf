"""File trees of layers: their size, and which files differ between two builds."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def tree_bytes(root: Path) -> int:
    """Apparent size of the files under `root` (what the layer's tar holds, before gzip)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            total += Path(dirpath, name).lstat().st_size
    return total


def tree_digests(root: Path) -> dict[str, str]:
    """`relative path → sha256 of the content` (or the target of a symlink, or the mode bits)."""
    digests: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames) + dirnames:
            path = Path(dirpath, name)
            relative = path.relative_to(root).as_posix()
            mode = oct(path.lstat().st_mode & 0o7777)
            if path.is_symlink():
                digests[relative] = f"-> {path.readlink()}"
            elif path.is_dir():
                digests[relative] = f"dir {mode}"
            else:
                digests[relative] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {mode}"
    return digests


def differing_paths(first: Path, second: Path, limit: int = 20) -> list[str]:
    """Paths whose content, mode or presence differs between two trees (sorted, at most `limit`)."""
    a, b = tree_digests(first), tree_digests(second)
    paths = sorted(p for p in a.keys() | b.keys() if a.get(p) != b.get(p))
    return paths[:limit]
