"""A buildpack directory for tests: this checkout, with a manifest of the test runtimes.

The real buildpack reads `python-versions.toml` from its own directory, so tests lay out a
buildpack whose manifest lists the archives built here and served from 127.0.0.1, instead of
adding a test-only switch to the buildpack.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .phases import REPO
from .runtimes import BuiltRuntime, write_test_manifest

SHIPPED = ("bin", "src", "requirements", "buildpack.toml")


def make_buildpack_dir(
    dest: Path, runtimes: Sequence[BuiltRuntime], base_url: str, *, copy: bool = False
) -> Path:
    """`dest` becomes a buildpack: links (or copies) of the shipped files plus a test manifest."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        source = REPO / name
        target = dest / name
        if copy:
            if source.is_dir():
                shutil.copytree(
                    source, target, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True
                )
            else:
                shutil.copy2(source, target)
        else:
            target.symlink_to(source)
    write_test_manifest(runtimes, base_url, dest / "python-versions.toml")
    return dest
