"""What a warm rebuild pays before its first line: `bin/build` imports `python_buildpack.build`
on every build, so what only a cold layer or a binding needs stays out of it (issue 15; the
figures are `bench/startup.py`'s, no time is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys

# Each was on the warm path before, for a download, an archive, a service binding or (`email`)
# the SBOM's reading of METADATA files.
COLD_ONLY = ("ssl", "http.client", "urllib.request", "tarfile", "configparser", "netrc", "email")
# Models a warm rebuild of a pip app never validates: their schema is built on first use.
NOT_BUILT_AT_IMPORT = (
    "python_buildpack.cnb.models:BuildpackDescriptor",
    "python_buildpack.cnb.models:BuildToml",
    "python_buildpack.cnb.models:StoreToml",
    "python_buildpack.layers.tool:ToolLayerMetadata",
    "python_buildpack.distributions:Manifest",
)


def _after_import(code: str) -> object:
    """Run `code` in a fresh interpreter (isolated, as the launcher runs) after importing the
    build phase; it prints JSON."""
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys, json, python_buildpack.build\n{code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_build_phase_imports_no_download_archive_or_binding_modules() -> None:
    loaded = _after_import(f"print(json.dumps(sorted(set({COLD_ONLY!r}) & set(sys.modules))))")
    assert loaded == []


def test_models_are_built_when_first_validated_not_at_import() -> None:
    code = (
        "import importlib\n"
        "built = []\n"
        f"for name in {NOT_BUILT_AT_IMPORT!r}:\n"
        "    module, _, cls = name.partition(':')\n"
        "    if getattr(importlib.import_module(module), cls).__pydantic_complete__:\n"
        "        built.append(name)\n"
        "print(json.dumps(built))"
    )
    assert _after_import(code) == []


def test_a_deferred_model_still_validates_and_rejects() -> None:
    from python_buildpack.cnb.models import BuildToml, LayerTypes

    assert LayerTypes.model_validate({"launch": True}).launch is True
    try:
        BuildToml.model_validate({"unknown": 1})
    except ValueError as error:
        assert "unknown" in str(error)
    else:  # pragma: no cover - the assertion message is the point
        raise AssertionError("an unknown key of build.toml must be rejected")
