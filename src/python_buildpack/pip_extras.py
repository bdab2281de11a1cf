"""`BP_PIP_EXTRAS`: `[project.optional-dependencies]` extras for a pip app's `pyproject.toml`.

For the PEP 621 path only (a `pyproject.toml` without a lock file, installed by pip or uv's pip
interface): the extras' requirements join `[project] dependencies`, or, when the project itself
is installed, `pip install .` becomes `pip install .[a,b]`. Names are checked in `decide()`
against the extras `pyproject.toml` defines, which the error lists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace

from packaging.utils import canonicalize_name

from .app_snapshot import AppSnapshot, table
from .errors import PipExtrasWithoutPyproject
from .pip_inputs import PipInputs
from .requirements_files import pinned_name
from .uv_selection import check_defined, defined_names, requested_names

VARIABLE = "BP_PIP_EXTRAS"


def pip_extras(settings: Mapping[str, str], app: AppSnapshot, source_file: str) -> tuple[str, ...]:
    extras = requested_names(settings, VARIABLE)
    if not extras:
        return ()
    if source_file != "pyproject.toml":
        raise PipExtrasWithoutPyproject(extras, source_file)
    _, defined = defined_names(app.pyproject)
    check_defined(VARIABLE, "extra", "[project.optional-dependencies]", extras, defined)
    return tuple(extras)


def optional_dependencies(app: AppSnapshot) -> dict[str, list[str]]:
    optional = table(app.pyproject, "project", "optional-dependencies")
    return {
        canonicalize_name(name): [d for d in deps if isinstance(d, str)]
        for name, deps in optional.items()
        if isinstance(deps, list)
    }


def with_extras(inputs: PipInputs, app: AppSnapshot, extras: tuple[str, ...]) -> PipInputs:
    """`inputs` (the PEP 621 path's) with the extras added."""
    if not extras:
        return inputs
    label = f"{inputs.describe} with the extras {', '.join(extras)}"
    if inputs.installs_project:
        spec = f".[{','.join(extras)}]"
        args = [spec if arg == "." else arg for arg in inputs.install_args]
        return replace(inputs, install_args=args, describe=label)
    optional = optional_dependencies(app)
    lines = list(dict.fromkeys(dep for extra in extras for dep in optional.get(extra, [])))
    digest = hashlib.sha256(f"{inputs.digest}\0{chr(10).join(lines)}".encode()).hexdigest()
    pins = {pinned_name(dep) for dep in lines}
    return replace(
        inputs,
        describe=label,
        install_args=[*inputs.install_args, *lines],
        digest=digest,
        unpinned=[
            *inputs.unpinned,
            *(f"pyproject.toml extra dependency {d}" for d in lines if pinned_name(d) is None),
        ],
        pinned_names=inputs.pinned_names | {name for name in pins if name},
    )
