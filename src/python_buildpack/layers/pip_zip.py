"""The `pip` layer's pip as one zip file: `site-packages/pip.zip`, put on `sys.path` by
`site-packages/pip.pth`, beside pip's `.dist-info` (see `pack_pip.py` for why it stays out).

Every warm rebuild pays for the pip layer's files twice without running pip: the lifecycle's
restorer writes them out of the cache and its exporter reads them back to checksum the layer.
Unpacked with its bytecode, pip is about 960 files; packed, it is about ten. pip supports running
from a zip: `--python` and build isolation start their pip subprocesses from `pip.zip/pip`
(pip's `get_runnable_pip`), whose `__main__` puts the zip on `sys.path` itself.

A cold build unpacks pip's wheel as before, so that the dependencies install with pip from the
tree. Meanwhile `pack_pip.py`, run by the layer's Python, compiles pip (its bytecode serves
that pip install as it did) and writes the zip with the bytecode inside. When the install is
done, `use_zip` swaps the tree for the zip. Any state an interrupted swap leaves fails `packed`,
so no later build trusts it: the tree is moved aside before `pip.pth` exists, and deleted after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ..cnb.toml_io import atomic_write_bytes
from ..commands import start_quiet
from ..output import Log, format_duration

ZIP_NAME = "pip.zip"  # `pack_pip.ZIP_NAME`: that script runs alone, importing nothing of ours
PTH_NAME = "pip.pth"
# Where the tree goes while it is deleted: not an importable name.
ASIDE = ".pip-unpacked"
# The script the layer's Python runs: in this package, stdlib only.
PACK_SCRIPT = Path(__file__).with_name("pack_pip.py")


def packed(site: Path) -> bool:
    """Whether pip under `site` is the zip alone, with the `.pth` file that finds it."""
    return (
        (site / ZIP_NAME).is_file()
        and (site / PTH_NAME).is_file()
        and not (site / "pip").exists()
        and not (site / ASIDE).exists()
    )


def use_zip(site: Path) -> int:
    """Swap pip's tree under `site` for `pip.zip`; return how many files the tree had."""
    aside = site / ASIDE
    shutil.rmtree(aside, ignore_errors=True)
    (site / "pip").rename(aside)
    files = sum(len(names) for _, _, names in os.walk(aside))
    atomic_write_bytes(site / PTH_NAME, f"{ZIP_NAME}\n".encode())
    shutil.rmtree(aside)
    return files


@contextlib.contextmanager
def packing_alongside(python: Path, site: Path, log: Log) -> Iterator[None]:
    """Compile and pack pip in a process of its own while the block runs (the dependencies'
    install), then swap the tree for the zip. A block that fails kills it; a packing that
    fails leaves the tree, which the next build, finding no zip, installs again."""
    log.info(
        "Compiling and packing pip into one zip file in the background, while the dependencies "
        "install"
    )
    with tempfile.TemporaryFile() as errors:
        command: list[str | Path] = [python, "-I", "-S", PACK_SCRIPT, site]
        packing = start_quiet(
            command, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, stderr=errors
        )
        try:
            yield
        except BaseException:
            packing.kill()
            packing.wait()
            raise
        start = time.monotonic()
        status = packing.wait()
        if status == 0:
            files = use_zip(site)
            waited = format_duration(time.monotonic() - start)
            log.info(
                f"Packed pip's {files} files into {ZIP_NAME} (the build waited {waited} for it)"
            )
            return
        errors.seek(0)
        lines = errors.read().decode(errors="replace").strip().splitlines() or ["no output"]
        log.info(
            f"Packing pip into {ZIP_NAME} failed (exit status {status}: {lines[-1]}): pip stays "
            "unpacked for this build, and the next build installs it again"
        )


__all__ = ["PACK_SCRIPT", "PTH_NAME", "ZIP_NAME", "packed", "packing_alongside", "use_zip"]
