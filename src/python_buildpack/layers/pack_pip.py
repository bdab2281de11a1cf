"""Compile pip and pack it into one zip file, for the `pip` layer (`layers.pip_zip`).

A self-contained stdlib script, run by the layer's own Python (`python -I -S pack_pip.py
SITE_PACKAGES`) so that the bytecode and its hashes are that Python's. It reads the unpacked
`pip/` under SITE_PACKAGES and:

- compiles each module once, and writes its timestamp `.pyc` into the tree's `__pycache__`
  (atomically, as the import system does) for the pip that runs from the tree meanwhile;
- writes SITE_PACKAGES/pip.zip (through a temporary name, then a rename): every file, and
  beside each module its bytecode as `<module>.pyc`, where zipimport looks for it. Not
  `pip-*.dist-info`: pip's subprocesses run with the zip first on `sys.path`, and would find
  pip installed in the environment they install into (a venv's own `pip==` requirement was
  then "already satisfied"). It stays beside the zip, where it was. The bytecode
  is unchecked hash-based: zipimport never writes bytecode and, for timestamp `.pyc` files,
  compares them with the zip entry's DOS time in the local time zone; the zip never changes
  after this, and the layer's metadata (pip and Python versions) says when it is stale.

Entries are stored (not deflated: imports read them directly, and the lifecycle compresses
the layer anyway) in name order with one fixed time, so the same pip gives the same listing.
A module that does not compile is packed as its source alone, as `compileall` leaves it.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import zipfile
from pathlib import Path
from types import CodeType

ZIP_NAME = "pip.zip"
# The earliest time a zip entry can hold.
ENTRY_TIME = (1980, 1, 1, 0, 0, 0)
TIMESTAMP, UNCHECKED_HASH = 0b00, 0b01


def _files(site: Path) -> list[Path]:
    """The files of the `pip` package under `site`, sorted, without any `__pycache__`."""
    found = []
    for root, dirs, names in os.walk(site / "pip"):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [Path(root, name) for name in sorted(names)]
    return found


def _pyc(flags: int, fields: bytes, code: CodeType) -> bytes:
    return importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little") + fields + marshal.dumps(code)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def pack(site: Path) -> int:
    """Write `site/pip.zip`; return how many modules it holds bytecode for. With none (no
    pip under `site`), write nothing: a zip without pip would pass for one."""
    archive = site / ZIP_NAME
    entries: dict[str, bytes] = {}
    compiled = 0
    for path in _files(site):
        name = path.relative_to(site).as_posix()
        source = path.read_bytes()
        entries[name] = source
        if path.suffix != ".py":
            continue
        try:
            # Named by its place in the zip: zipimport, unlike the import of a tree, does not
            # rename a code object to where it was found, and tracebacks show this name. The
            # tree's import does, so the same code serves both.
            code = compile(source, str(archive / name), "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        stat = path.stat()
        mtime_and_size = (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (
            stat.st_size & 0xFFFFFFFF
        ).to_bytes(4, "little")
        cached = Path(importlib.util.cache_from_source(str(path)))
        cached.parent.mkdir(exist_ok=True)
        _write_atomically(cached, _pyc(TIMESTAMP, mtime_and_size, code))
        entries[name + "c"] = _pyc(UNCHECKED_HASH, importlib.util.source_hash(source), code)
        compiled += 1
    if compiled == 0:
        return 0
    partial = site / f"{ZIP_NAME}.partial"
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as packed:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, ENTRY_TIME)
            info.external_attr = 0o644 << 16
            packed.writestr(info, entries[name])
    partial.replace(archive)
    return compiled


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -I -S pack_pip.py SITE_PACKAGES")
    if pack(Path(sys.argv[1])) == 0:
        sys.exit(f"no pip modules under {sys.argv[1]}")
