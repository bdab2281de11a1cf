"""The python and venv layers load on the run image, and the python layer needs only what the
run-image contract lists (README "What the run image must provide";
`runtime_builder.run_image_libraries`).

Each app is built once and checked from its exported image: `ldd` runs inside the image (the run
image's layer plus the exported ones, as `docker run` would stack them) on every ELF file of both
layers, and `readelf -d` lists the NEEDED entries of the python layer's ELF files on the host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BUILDPACK_ID, LAYERS
from tests.harness.lifecycle import BuildResult, Platform
from tests.harness.oci_layout import extract_layer
from tools.runtime_builder import (
    host_arch,
    is_elf,
    needed_libraries,
    run_image_libraries,
)

pytestmark = pytest.mark.e2e

# Prints, per file, ldd's output and exit code, then the run image's linker cache. Run by the
# launcher directly (`--`: its shell mode would expand `$f` in every argument); `env -i`: the
# launcher's LD_LIBRARY_PATH would hide a missing RUNPATH.
LDD_SCRIPT = r"""
for f in "$@"; do
  echo "@@file $f"
  env -i PATH=/usr/bin:/bin ldd "$f" 2>&1
  echo "@@exit $?"
done
echo "@@ldconfig"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ldconfig -p
"""


def exported_layer(result: BuildResult, layer: str, dest: Path) -> Path:
    """Unpack the image's `layer` of this buildpack into `dest`; returns its directory there."""
    diff_id = result.layer_digest(BUILDPACK_ID, layer)
    image = result.image
    for descriptor, layer_diff_id in zip(image.layers, image.diff_ids, strict=True):
        if layer_diff_id == diff_id:
            extract_layer(image.blob_path(descriptor.digest), descriptor.media_type, dest)
            return dest / LAYERS.lstrip("/") / layer
    raise AssertionError(f"the image has no layer with diff ID {diff_id}")


def elf_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if is_elf(p))


def run_ldd(
    platform: Platform, result: BuildResult, paths: list[str]
) -> tuple[dict[str, tuple[str, int]], str]:
    """{image path: (ldd output, exit code)} and `ldconfig -p`, from inside the image."""
    exit_code, output = platform.run(
        result, command=["--", "/bin/bash", "-c", LDD_SCRIPT, "ldd-all", *paths], timeout=120
    )
    assert exit_code == 0, output
    body, _, ldconfig = output.partition("@@ldconfig\n")
    reports: dict[str, tuple[str, int]] = {}
    current, lines = "", []
    for line in body.splitlines():
        if line.startswith("@@file "):
            current, lines = line.removeprefix("@@file "), []
        elif line.startswith("@@exit "):
            reports[current] = ("\n".join(lines), int(line.removeprefix("@@exit ")))
        else:
            lines.append(line)
    return reports, ldconfig


@pytest.mark.parametrize(
    ("app", "python", "venv_elf"),
    [
        # 3.11 has the modules that needed more than a run image has: _tkinter and nis.
        ("stdlib_311", "python3.11", None),
        # 3.13, with a C extension built from an sdist in the venv.
        ("c_extension", "python3.13", "bp_test_cext"),
    ],
)
def test_every_elf_file_of_the_python_and_venv_layers_loads_on_the_run_image(
    python_platform: Any,
    fixture_app: Any,
    tmp_path: Path,
    app: str,
    python: str,
    venv_elf: str | None,
) -> None:
    platform = python_platform()
    result = platform.build(fixture_app(app), image=app)
    unpacked = tmp_path / "exported"
    python_layer = exported_layer(result, "python", unpacked)
    venv_layer = exported_layer(result, "venv", unpacked)
    python_elves = elf_files(python_layer)
    venv_elves = elf_files(venv_layer)

    # Not vacuous: the interpreter, libpython and the stdlib's extension modules are there.
    names = {p.name for p in python_elves}
    assert python in names and f"lib{python}.so.1.0" in names
    assert {"_ssl", "_ctypes", "_sqlite3"} <= {n.split(".")[0] for n in names}
    assert not any(n.startswith(("_tkinter.", "nis.")) for n in names)
    if venv_elf:
        assert any(venv_elf in p.as_posix() for p in venv_elves), venv_elves

    in_image = {f"/{p.relative_to(unpacked).as_posix()}": p for p in python_elves + venv_elves}
    reports, ldconfig = run_ldd(platform, result, sorted(in_image))
    assert set(reports) == set(in_image)
    # (Modules that need no library at all, not even libc, are "statically linked" to ldd.)
    broken = {
        path: text for path, (text, code) in reports.items() if code != 0 or "not found" in text
    }
    assert not broken, "\n".join(f"{path}:\n{text}" for path, text in broken.items())

    # The contract: what the python layer needs beyond itself is listed, and the run image has it.
    contract = set(run_image_libraries(host_arch()))
    shipped = {p.name for p in (python_layer / "lib").iterdir()}
    needed = {name for path in python_elves for name in needed_libraries(path)}
    assert needed - shipped <= contract, sorted(needed - shipped - contract)
    cached = {line.split()[0] for line in ldconfig.splitlines() if "=>" in line}
    assert contract <= cached, sorted(contract - cached)
