"""A buildpack directory for tests: this checkout, with a manifest of the test runtimes.

The real buildpack reads `python-versions.toml` from its own directory, so tests lay out a
buildpack whose manifest lists the archives built here and served from 127.0.0.1, instead of
adding a test-only switch to the buildpack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .phases import REPO
from .runtimes import BuiltRuntime, write_test_manifest

SHIPPED = ("bin", "src", "requirements", "buildpack.toml")


def make_buildpack_dir(
    dest: Path,
    runtimes: Sequence[BuiltRuntime],
    base_url: str,
    *,
    source: Path = REPO,
    copy: bool = False,
    minors: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """`dest` becomes a buildpack: links (or copies) of `source`'s files plus a test manifest.

    `source` is this checkout (runs with a python3 from PATH) or a packaged buildpack (carries
    its own runtime/ and vendor/). `minors` replaces the manifest's end-of-life policy (see
    `write_test_manifest`).
    """
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    names = [p.name for p in source.iterdir()] if source != REPO else list(SHIPPED)
    for name in names:
        if name == "python-versions.toml":
            continue
        source_path = source / name
        target = dest / name
        if copy:
            if source_path.is_dir():
                shutil.copytree(source_path, target, symlinks=True)
            else:
                shutil.copy2(source_path, target)
        else:
            target.symlink_to(source_path)
    write_test_manifest(runtimes, base_url, dest / "python-versions.toml", minors=minors)
    return dest
