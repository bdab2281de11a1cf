"""Installing a pure wheel by unpacking it: what pip does, for the tools pip itself comes from.

A wheel is a zip with a defined layout (PEP 427, the "binary distribution format"): the files of
the root go to site-packages, `<name>-<version>.data/{purelib,platlib}/` there too and
`.data/scripts/` to `bin/`; console scripts are listed in the `.dist-info/entry_points.txt` and
written by the installer. `INSTALLER` and `RECORD` are kept consistent with what is written, so
pip (`pip list`, `pip uninstall`) sees an ordinary installation.

Reproducible by construction: members are written in sorted order with fixed modes and one fixed
mtime (the lifecycle's own, 1980-01-01T00:00:01Z), so a layer holds the same bytes every time.
No `.pyc` is compiled here: compiling all of pip costs about a second, which the pip layer
spends in a process of its own while the dependencies install (`layers.pip_zip`).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import WheelDistInfoNotOne, WheelMemberOutside, WheelSchemeUnsupported
from .fixed_mtime import FIXED_MTIME

INSTALLER = "python-buildpack"


@dataclass(frozen=True)
class Installed:
    dist_info: Path
    scripts: list[Path]


def install_wheel(
    wheel: Path,
    site_packages: Path,
    bin_dir: Path,
    python: Path,
    *,
    console_scripts: Sequence[str] | None = None,
    script_aliases: Sequence[str] = (),
) -> Installed:
    """Unpack `wheel` into `site_packages` (its scripts into `bin_dir`, run by `python`).

    `console_scripts`: which entry points to write (None: all); `script_aliases` adds copies
    of the first one under other names (pip's `pip3.13`)."""
    written: list[tuple[Path, bytes]] = []
    with zipfile.ZipFile(wheel) as archive:
        members = sorted(archive.infolist(), key=lambda info: info.filename)
        dist_info = _dist_info_dir(wheel, [m.filename for m in members])
        data_dir = dist_info.removesuffix(".dist-info") + ".data"
        for member in members:
            if member.is_dir():
                continue
            relative = _safe(wheel, member.filename)
            top = relative.parts[0]
            if top == data_dir:
                scheme, rest = relative.parts[1], PurePosixPath(*relative.parts[2:])
                if scheme in ("purelib", "platlib"):
                    target = site_packages / rest
                elif scheme == "scripts":
                    target = bin_dir / rest
                else:
                    raise WheelSchemeUnsupported(str(wheel), member.filename, scheme)
                content = archive.read(member)
                if scheme == "scripts" and content.startswith(b"#!python"):
                    content = b"#!" + str(python).encode() + content[len(b"#!python") :]
                executable = scheme == "scripts" or bool(member.external_attr >> 16 & 0o111)
            else:
                target = site_packages / relative
                content = archive.read(member)
                executable = bool(member.external_attr >> 16 & 0o111)
            if relative.as_posix() == f"{dist_info}/RECORD":
                continue
            _write(target, content, executable)
            written.append((target, content))
        record = archive.read(f"{dist_info}/RECORD").decode()
        entry_points = (
            archive.read(f"{dist_info}/entry_points.txt").decode()
            if f"{dist_info}/entry_points.txt" in archive.namelist()
            else ""
        )

    scripts = []
    for name, entry_point in _console_scripts(entry_points, console_scripts, script_aliases):
        module, _, function = entry_point.partition(":")
        content = (
            f"#!{python}\nimport sys\nfrom {module} import {function.split('.')[0]}\n"
            f"if __name__ == '__main__':\n    sys.exit({function}())\n"
        ).encode()
        path = bin_dir / name
        _write(path, content, executable=True)
        written.append((path, content))
        scripts.append(path)

    installer = site_packages / dist_info / "INSTALLER"
    _write(installer, f"{INSTALLER}\n".encode(), executable=False)
    written.append((installer, f"{INSTALLER}\n".encode()))
    _write_record(site_packages, site_packages / dist_info / "RECORD", record, written)
    return Installed(site_packages / dist_info, scripts)


def _dist_info_dir(wheel: Path, names: Sequence[str]) -> str:
    found = {
        name.split("/", 1)[0] for name in names if name.split("/", 1)[0].endswith(".dist-info")
    }
    if len(found) != 1:
        raise WheelDistInfoNotOne(str(wheel), found)
    return found.pop()


def _safe(wheel: Path, name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or not path.parts:
        raise WheelMemberOutside(str(wheel), name)
    return path


def _write(path: Path, content: bytes, executable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(0o755 if executable else 0o644)
    os.utime(path, (FIXED_MTIME, FIXED_MTIME))


def _console_scripts(
    entry_points: str, wanted: Sequence[str] | None, aliases: Sequence[str]
) -> list[tuple[str, str]]:
    section = ""
    found: list[tuple[str, str]] = []
    for raw in entry_points.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.strip("[]").strip()
        elif section == "console_scripts" and "=" in line:
            name, _, target = line.partition("=")
            if wanted is None or name.strip() in wanted:
                found.append((name.strip(), target.strip()))
    if found and aliases:
        found += [(alias, found[0][1]) for alias in aliases]
    return found


def _write_record(
    site_packages: Path, path: Path, original: str, written: Sequence[tuple[Path, bytes]]
) -> None:
    """RECORD lists every file written, with its hash and size (the wheel's own entries for the
    files it carried, rewritten where the content changed, e.g. a script's shebang)."""
    rows: dict[str, list[str]] = {}
    for row in csv.reader(io.StringIO(original)):
        if row:
            rows[row[0]] = row
    for target, content in written:
        name = os.path.relpath(target, site_packages).replace(os.sep, "/")
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        rows[name] = [name, f"sha256={digest.decode()}", str(len(content))]
    record_name = os.path.relpath(path, site_packages).replace(os.sep, "/")
    rows[record_name] = [record_name, "", ""]
    # Entries of the wheel's .data directory move with their files.
    for name in [n for n in rows if n.split("/", 1)[0].endswith(".data")]:
        del rows[name]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for name in sorted(rows):
        writer.writerow(rows[name])
    _write(path, out.getvalue().encode(), executable=False)
