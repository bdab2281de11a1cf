"""The shared layer lifecycle: every metadata field's change has a reason, and one log wording.

Each metadata model gets a test that changes every one of its fields (iterating over
`model_fields`, so a field added later is covered without touching the test) and expects a
reason for each.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from python_buildpack.cnb.layers import Layer, Layers
from python_buildpack.cnb.models import LayerTypes
from python_buildpack.errors import ToolInstallFailed, ToolVenvCreationFailed, VenvCreationFailed
from python_buildpack.layers import download_cache, pip, python, python_archive, tool, venv
from python_buildpack.layers.common import (
    BUILT_FOR_REASONS,
    BuiltFor,
    ChangeReasons,
    built_for,
    log_layer_state,
    open_layer,
)
from python_buildpack.layers.download_cache import CacheMetadata
from python_buildpack.layers.pip import PipLayerMetadata
from python_buildpack.layers.python import PythonLayerMetadata
from python_buildpack.layers.python_archive import PythonArchiveMetadata
from python_buildpack.layers.tool import ToolLayerMetadata
from python_buildpack.layers.venv import INSTALL_RULES, VenvMetadata
from python_buildpack.output import Log

TARGET = {
    "python_version": "3.13.5",
    "arch": "amd64",
    "distro_name": "debian",
    "distro_version": "12",
}


def other(value: object) -> object:
    """A value of the same type as `value`, and different from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "-changed"
    if value is None or isinstance(value, list):
        return [*(value or []), "changed"]
    raise AssertionError(f"no other value for {value!r}: extend `other`")


Changes = Callable[[Any, Any], list[str]]


def assert_every_field_change_has_a_reason(
    old: BaseModel,
    changes: Changes,
    judged_on_old: frozenset[str] = frozenset(),
    outputs: frozenset[str] = frozenset(),
) -> None:
    """`judged_on_old`: fields whose reason depends on the old value alone; they are changed
    in the old metadata instead. `outputs`: fields that record what the layer holds, never a
    reason to discard it."""
    assert changes(old, old) == []
    for field in type(old).model_fields:
        changed = old.model_copy(update={field: other(getattr(old, field))})
        before, after = (changed, old) if field in judged_on_old else (old, changed)
        if field in outputs:
            assert changes(before, after) == [], f"{field} is not a reason to discard"
        else:
            assert changes(before, after), f"no reason when {field} changes"


def test_every_python_metadata_field_change_has_a_reason() -> None:
    old = PythonLayerMetadata(**TARGET, archive_sha256="a" * 64)
    assert_every_field_change_has_a_reason(old, python.changes)


def test_every_python_archive_metadata_field_change_has_a_reason() -> None:
    old = PythonArchiveMetadata(python_version="3.13.5", archive_sha256="a" * 64)
    assert_every_field_change_has_a_reason(old, python_archive.changes)
    # Another version is another archive: the version change says it.
    new = PythonArchiveMetadata(python_version="3.13.6", archive_sha256="b" * 64)
    assert python_archive.changes(old, new) == ["The Python version changed from 3.13.5 to 3.13.6"]
    rebuilt = PythonArchiveMetadata(python_version="3.13.5", archive_sha256="b" * 64)
    assert python_archive.changes(old, rebuilt) == [
        "The archive changed (sha256 aaaaaaaaaaaa… to bbbbbbbbbbbb…)"
    ]


def test_every_pip_metadata_field_change_has_a_reason() -> None:
    old = PipLayerMetadata(python_version="3.13.5", pip_version="26.3")
    assert_every_field_change_has_a_reason(old, pip.changes)


def test_every_tool_metadata_field_change_has_a_reason() -> None:
    old = ToolLayerMetadata(**TARGET, tool_version="0.13.8", requirements_sha256="x")
    assert_every_field_change_has_a_reason(old, lambda a, b: tool.changes(a, b, "uv"))


def test_every_cache_metadata_field_change_has_a_reason() -> None:
    assert_every_field_change_has_a_reason(CacheMetadata(**TARGET), download_cache.changes)


def venv_metadata(**update: object) -> VenvMetadata:
    base = VenvMetadata(
        **TARGET,
        package_manager="pip",
        inputs_digest="a",
        tool_version="26.3",
        reusable=True,
        install_rules=INSTALL_RULES,
    )
    return base.model_copy(update=update)


def test_every_venv_metadata_field_change_has_a_reason() -> None:
    # `reusable` is judged on the old venv alone: a new unpinned install has nothing to reuse.
    # `distributions` and `bin` record what the venv holds, which the other fields decide.
    assert_every_field_change_has_a_reason(
        venv_metadata(),
        venv.changes,
        judged_on_old=frozenset({"reusable"}),
        outputs=frozenset({"distributions", "bin"}),
    )
    # A venv from an older buildpack (rules 1: the project itself was skipped without scripts)
    # is rebuilt with a reason, though its lock file did not change.
    assert venv.changes(venv_metadata(install_rules=1), venv_metadata()) == [
        f"The buildpack now installs from the same inputs differently (install rules 1 to "
        f"{INSTALL_RULES})"
    ]
    # Metadata written before the field existed reads as rules 1.
    old = VenvMetadata.model_validate(
        {k: v for k, v in venv_metadata().model_dump().items() if k != "install_rules"}
    )
    assert old.install_rules == 1 and venv.changes(old, venv_metadata())


def test_venv_metadata_of_older_builds_still_reads() -> None:
    """Caches written before `exec_env` and `install_rules` existed, field for field."""
    old = VenvMetadata.model_validate(
        {
            "package_manager": "pip",
            "inputs_digest": "a",
            "python_version": "3.13.5",
            "tool_version": "26.3",
            "arch": "amd64",
            "distro_name": "debian",
            "distro_version": "12",
            "reusable": True,
        }
    )
    assert (old.exec_env, old.install_rules) == ("production", 1)
    assert venv.changes(old, venv_metadata(install_rules=1)) == []


def test_switching_package_manager_names_the_switch_not_the_tool_version() -> None:
    new = venv_metadata(package_manager="uv", tool_version="0.13.9", inputs_digest="b")
    assert venv.changes(venv_metadata(), new, "uv", "uv.lock or pyproject.toml") == [
        "The package manager changed from pip to uv"
    ]


def test_lock_file_and_tool_changes_are_named() -> None:
    old = venv_metadata(package_manager="poetry", tool_version="2.4.0")
    new = venv_metadata(package_manager="poetry", tool_version="2.5.1", inputs_digest="b")
    assert venv.changes(old, new, "Poetry", "poetry.lock or pyproject.toml") == [
        "poetry.lock or pyproject.toml changed",
        "The Poetry version changed from 2.4.0 to 2.5.1",
    ]
    assert venv.changes(old, old.model_copy(update={"reusable": False})) == []
    assert venv.changes(old.model_copy(update={"reusable": False}), old) == [
        "The previous install was not fully pinned"
    ]


def test_target_changes_read_the_same_for_every_layer() -> None:
    moved = {"arch": "arm64", "distro_name": "ubuntu", "distro_version": "24.04"}
    expected = [
        "The CPU architecture changed from amd64 to arm64",
        "The OS changed from debian 12 to ubuntu 24.04",
    ]
    python_old = PythonLayerMetadata(**TARGET, archive_sha256="a")
    tool_old = ToolLayerMetadata(**TARGET, tool_version="1", requirements_sha256="x")
    cache_old = CacheMetadata(**TARGET)
    venv_old = venv_metadata()
    assert python.changes(python_old, python_old.model_copy(update=moved)) == expected
    assert tool.changes(tool_old, tool_old.model_copy(update=moved), "uv") == expected
    assert download_cache.changes(cache_old, cache_old.model_copy(update=moved)) == expected
    assert venv.changes(venv_old, venv_old.model_copy(update=moved)) == expected
    # A new OS version alone is still told as the whole OS.
    assert download_cache.changes(
        cache_old, cache_old.model_copy(update={"distro_version": "13"})
    ) == ["The OS changed from debian 12 to debian 13"]


def test_python_reasons_name_the_version_not_its_archive() -> None:
    old = PythonLayerMetadata(**TARGET, archive_sha256="a" * 64)
    upgraded = old.model_copy(update={"python_version": "3.13.15", "archive_sha256": "b" * 64})
    assert python.changes(old, upgraded) == ["The Python version changed from 3.13.5 to 3.13.15"]
    rebuilt = old.model_copy(update={"archive_sha256": "b" * 64})
    assert python.changes(old, rebuilt) == [
        f"The Python archive changed (sha256 {'a' * 12}… to {'b' * 12}…)"
    ]


def test_tool_layer_reasons() -> None:
    old = ToolLayerMetadata(**TARGET, tool_version="0.13.8", requirements_sha256="x")
    assert tool.changes(old, old, "uv") == []
    new = old.model_copy(update={"tool_version": "0.13.9", "python_version": "3.13.15"})
    assert tool.changes(old, new, "uv") == [
        "The uv version changed from 0.13.8 to 0.13.9",
        "The Python version changed from 3.13.5 to 3.13.15",
    ]
    rehashed = old.model_copy(update={"requirements_sha256": "y"})
    assert tool.changes(old, rehashed, "Poetry") == ["The pinned dependencies of Poetry changed"]


def test_pip_reasons() -> None:
    old = PipLayerMetadata(python_version="3.13.5", pip_version="26.3")
    new = PipLayerMetadata(python_version="3.13.15", pip_version="26.4")
    assert pip.changes(old, new) == [
        "The Python version changed from 3.13.5 to 3.13.15",
        "The pip version changed from 26.3 to 26.4",
    ]


def test_pip_metadata_from_before_the_zip_reads_and_is_discarded_with_the_reason() -> None:
    old = PipLayerMetadata.model_validate({"python_version": "3.13.5", "pip_version": "26.3"})
    new = PipLayerMetadata(python_version="3.13.5", pip_version="26.3", layout=pip.LAYOUT)
    assert pip.changes(old, new) == ["The layout of pip's files changed from unpacked to zip"]


def test_layer_metadata_keeps_its_toml_field_names() -> None:
    """Caches written by earlier builds must still read: the same names, nothing more."""
    target = {"python_version", "arch", "distro_name", "distro_version"}
    assert set(PythonLayerMetadata.model_fields) == target | {"archive_sha256"}
    # `layout` came later, with a default that reads what was written before it.
    assert set(PipLayerMetadata.model_fields) == {"python_version", "pip_version", "layout"}
    assert set(ToolLayerMetadata.model_fields) == target | {"tool_version", "requirements_sha256"}
    assert set(CacheMetadata.model_fields) == target
    assert set(VenvMetadata.model_fields) == target | {
        "package_manager",
        "inputs_digest",
        "tool_version",
        "reusable",
        "exec_env",
        "install_rules",
        "distributions",
        "bin",
    }


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    sha256: str


def test_change_reasons_refuse_a_field_without_a_reason() -> None:
    with pytest.raises(TypeError, match=r"missing \['sha256'\]"):
        ChangeReasons(Model, {"version": "version"})


def test_change_reasons_refuse_unknown_and_twice_told_fields() -> None:
    with pytest.raises(TypeError, match=r"not fields \['size'\]"):
        ChangeReasons(Model, {"version": "version", "sha256": "digest", "size": "size"})
    with pytest.raises(TypeError, match=r"told twice \['version'\]"):
        ChangeReasons(
            Model,
            {"version": "version", ("version", "sha256"): lambda a, b: None},
        )
    with pytest.raises(TypeError, match="need a function"):
        ChangeReasons(Model, {("version", "sha256"): "release"})


def test_change_reasons_labels_and_functions_in_mapping_order() -> None:
    reasons = ChangeReasons(
        Model,
        {
            "sha256": lambda old, new: "rebuilt" if old.sha256 != new.sha256 else None,
            "version": "version",
        },
    )
    old, new = Model(version="1", sha256="a"), Model(version="2", sha256="b")
    assert reasons(old, new) == ["rebuilt", "The version changed from 1 to 2"]
    assert reasons(old, old) == []


def test_built_for_reasons_cover_the_base_model() -> None:
    ChangeReasons(BuiltFor, BUILT_FOR_REASONS)


def test_built_for_fills_every_field_of_the_base_model_and_records_an_unknown_distro() -> None:
    config: Any = SimpleNamespace(
        python=SimpleNamespace(version="3.13.5"),
        target=SimpleNamespace(arch="arm64", distro_name=None, distro_version=""),
    )
    fields = built_for(config)
    assert BuiltFor.model_validate(fields).model_dump() == fields
    assert fields == {
        "python_version": "3.13.5",
        "arch": "arm64",
        "distro_name": "unknown",
        "distro_version": "unknown",
    }


# --- the one log of a cached layer ------------------------------------------------------------


class Runtime(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str


runtime_changes = ChangeReasons(Runtime, {"version": "version"})


def restore(layers_dir: Path, toml: str, *, files: bool = True) -> None:
    layers_dir.mkdir(parents=True, exist_ok=True)
    (layers_dir / "runtime.toml").write_text(toml)
    if files:
        (layers_dir / "runtime" / "bin").mkdir(parents=True)
        (layers_dir / "runtime" / "bin" / "run").write_text("")


def opened(
    layers_dir: Path, version: str = "1.0", *, kept_because: str = ""
) -> tuple[Layer[Runtime], list[str]]:
    out = io.StringIO()
    layer = open_layer(
        layers_dir,
        "runtime",
        types=LayerTypes(build=True, cache=True),
        metadata=Runtime(version=version),
        changes=runtime_changes,
        log=Log(out=out, err=out),
        what="Runtime",
        version=lambda old: old.version,
        contents_ok=lambda path: (path / "bin" / "run").is_file(),
        kept_because=kept_because,
    )
    return layer, out.getvalue().splitlines()


def test_a_new_layer_logs_nothing(tmp_path: Path) -> None:
    layer, lines = opened(tmp_path)
    assert layer.is_empty and lines == []


def test_a_kept_layer_is_used_with_its_version(tmp_path: Path) -> None:
    restore(tmp_path, '[metadata]\nversion = "1.0"\n')
    layer, lines = opened(tmp_path, kept_because="its inputs are unchanged")
    assert not layer.is_empty
    assert lines == ["Using cached Runtime 1.0 since its inputs are unchanged"]
    restore(tmp_path / "plain", '[metadata]\nversion = "1.0"\n')
    assert opened(tmp_path / "plain")[1] == ["Using cached Runtime 1.0"]


def test_a_changed_layer_is_discarded_with_its_old_version_and_reasons(tmp_path: Path) -> None:
    restore(tmp_path, '[metadata]\nversion = "1.0"\n')
    layer, lines = opened(tmp_path, "2.0")
    assert layer.is_empty
    assert lines == [
        "Discarding cached Runtime 1.0 since:",
        "  - The version changed from 1.0 to 2.0",
    ]


def test_unreadable_metadata_is_discarded_without_a_version(tmp_path: Path) -> None:
    restore(tmp_path, '[metadata]\nversoin = "1.0"\n')
    layer, lines = opened(tmp_path)
    assert layer.is_empty
    assert lines == ["Discarding cached Runtime since its metadata can't be read"]


def test_incomplete_or_missing_files_are_discarded_with_the_reason(tmp_path: Path) -> None:
    restore(tmp_path, '[metadata]\nversion = "1.0"\n')
    (tmp_path / "runtime" / "bin" / "run").unlink()
    layer, lines = opened(tmp_path)
    assert layer.is_empty
    assert lines == ["Discarding cached Runtime 1.0 since:", "  - its files are incomplete"]
    restore(tmp_path / "bare", '[metadata]\nversion = "1.0"\n', files=False)
    assert opened(tmp_path / "bare")[1] == [
        "Discarding cached Runtime 1.0 since:",
        "  - its files were not restored from the cache",
    ]


def logged_discard(layers_dir: Path, reasons: list[str], what: str) -> list[str]:
    """The log of a restored layer discarded for `reasons`, shown as `what` (no version)."""
    restore(layers_dir, '[metadata]\nversion = "1.0"\n')
    layer = Layers(layers_dir).cached_layer(
        "runtime", types=LayerTypes(cache=True), metadata_model=Runtime, keep=lambda old: reasons
    )
    out = io.StringIO()
    log_layer_state(layer, Log(out=out, err=out), what)
    return out.getvalue().splitlines()


def test_a_layer_without_a_version_is_named_alone(tmp_path: Path) -> None:
    reasons = runtime_changes(Runtime(version="1.0"), Runtime(version="2.0"))
    assert logged_discard(tmp_path, reasons, "download cache") == [
        "Discarding cached download cache since:",
        "  - The version changed from 1.0 to 2.0",
    ]


def test_reasons_are_printed_as_given(tmp_path: Path) -> None:
    reasons = ["uv.lock or pyproject.toml changed"]
    assert logged_discard(tmp_path, reasons, "virtual environment") == [
        "Discarding cached virtual environment since:",
        "  - uv.lock or pyproject.toml changed",
    ]


# --- errors of the layers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (VenvCreationFailed(1), "Creating the virtual environment failed (exit status 1)"),
        (ToolVenvCreationFailed("Poetry", 2), "Creating the venv of Poetry failed (exit status 2)"),
        (
            ToolInstallFailed("poetry", "Poetry", "2.1.0", 1),
            "'pip install poetry==2.1.0' failed (exit status 1)",
        ),
    ],
)
def test_layer_errors_say_what_failed_and_how_to_fix_it(error: Exception, words: str) -> None:
    assert str(error).startswith(words)
    assert getattr(error, "fix", "").strip()
    assert getattr(error, "exit_code", None) is not None
