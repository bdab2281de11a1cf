"""Make an unpacked CPython archive usable as a build tool from wherever it was unpacked.

CPython itself finds its stdlib relative to the executable, but the build configuration it
records (`sysconfig`, `python3-config`, `pkg-config` files) still names the prefix the archive
was built for (`/install` for python-build-standalone, `/python` for ours). Tools that build C
extensions from sdists read those values, so they are rewritten to the real location. Archives
built with clang (python-build-standalone) also name a compiler the build image may not have.
"""

from __future__ import annotations

import ast
import pprint
import re
import shutil
from pathlib import Path
from typing import Any

# Compiler settings that start with the compiler's name.
COMPILER_VARS = ("CC", "CXX", "LDSHARED", "LDCXXSHARED", "BLDSHARED", "LINKCC", "CPP")
COMPILER_SUBSTITUTES = {"clang": "cc", "clang++": "c++"}
# Flags that only make sense on the machine that built python-build-standalone: its private
# dependency tree under /tools and the lld linker, which build images rarely have.
BUILD_HOST_ONLY_FLAGS = ("-I/tools/", "-L/tools/", "-fuse-ld=lld", "-Wl,--exclude-libs")


def sysconfigdata_files(python_dir: Path) -> list[Path]:
    return sorted(python_dir.glob("lib/python3.*/_sysconfigdata_*.py"))


def recorded_prefix(python_dir: Path) -> str | None:
    for path in sysconfigdata_files(python_dir):
        values = _read_build_time_vars(path)
        prefix = values.get("prefix")
        if isinstance(prefix, str) and prefix:
            return prefix
    return None


def relocate(python_dir: Path, *, has_compiler: Any = shutil.which) -> str | None:
    """Rewrite build-time paths to `python_dir`; return the prefix that was replaced."""
    old_prefix = recorded_prefix(python_dir)
    new_prefix = str(python_dir)
    for path in sysconfigdata_files(python_dir):
        values = _read_build_time_vars(path)
        patched = {
            key: _patch_value(key, value, old_prefix, new_prefix, has_compiler)
            for key, value in values.items()
        }
        path.write_text(
            "# Rewritten by python-buildpack for this location.\n"
            f"build_time_vars = {pprint.pformat(patched, width=100)}\n"
        )
        for cached in (path.parent / "__pycache__").glob(path.stem + ".*.pyc"):
            cached.unlink()
    if old_prefix and old_prefix != new_prefix:
        for pc_file in _regular_files(python_dir, "lib/pkgconfig/*.pc"):
            _rewrite_prefix_line(pc_file, old_prefix, new_prefix)
        for makefile in _regular_files(python_dir, "lib/python3.*/config-3.*/Makefile"):
            text = makefile.read_text(errors="surrogateescape")
            makefile.write_text(
                _replace_prefix(text, old_prefix, new_prefix), errors="surrogateescape"
            )
    return old_prefix


def _regular_files(root: Path, pattern: str) -> list[Path]:
    # `python3.pc` is a link to `python-3.13.pc`: rewriting both would rewrite the file twice,
    # and the new prefix may itself contain the old one (`/python` in `/layers/.../python`).
    return sorted(p for p in root.glob(pattern) if p.is_file() and not p.is_symlink())


def _read_build_time_vars(path: Path) -> dict[str, Any]:
    # The module is a plain dict literal; reading it with ast avoids running code from the
    # archive under the buildpack's own interpreter.
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "build_time_vars" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, dict):
                return value
    raise ValueError(f"{path} has no build_time_vars dict")


def _replace_prefix(text: str, old: str | None, new: str) -> str:
    if not old or old == new:
        return text
    # Only whole path components: `/install` must not match `/installer`.
    return re.sub(re.escape(old) + r"(?=/|\s|$|'|\"|:)", new, text)


def _patch_value(key: str, value: Any, old: str | None, new: str, has_compiler: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = _replace_prefix(value, old, new)
    if any(token in value for token in BUILD_HOST_ONLY_FLAGS):
        value = " ".join(
            word for word in value.split(" ") if not word.startswith(BUILD_HOST_ONLY_FLAGS)
        )
    if key in COMPILER_VARS:
        first, sep, rest = value.partition(" ")
        substitute = COMPILER_SUBSTITUTES.get(first)
        if substitute and not has_compiler(first):
            value = substitute + sep + rest
    return value


def _rewrite_prefix_line(path: Path, old: str, new: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(_replace_prefix(line, old, new) for line in lines))
