"""Layers: new, restored and kept, discarded with reasons, and metadata written last."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from python_buildpack.cnb import layers as layers_module
from python_buildpack.cnb.env import LayerEnv, Scope
from python_buildpack.cnb.layers import (
    Cause,
    Layer,
    Layers,
    LayerState,
    empty_directory,
    validate_layer_name,
)
from python_buildpack.cnb.models import LayerTypes
from python_buildpack.cnb.toml_io import read_toml_dict

CACHED = LayerTypes(build=True, launch=True, cache=True)
LAUNCH_ONLY = LayerTypes(launch=True)


class RuntimeMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    arch: str = "amd64"


def keep_version(version: str) -> Callable[[RuntimeMetadata], list[str]]:
    def keep(old: RuntimeMetadata) -> list[str]:
        if old.version == version:
            return []
        return [f"the version changed from {old.version} to {version}"]

    return keep


def restore(layers_dir: Path, name: str, metadata_toml: str, *, contents: bool) -> Path:
    """What the lifecycle's analyze/restore phases leave: `<name>.toml` without [types] and,
    for cached layers, the files."""
    layers_dir.mkdir(parents=True, exist_ok=True)
    (layers_dir / f"{name}.toml").write_text(metadata_toml)
    (layers_dir / f"{name}.sbom.cdx.json").write_text("{}")
    layer = layers_dir / name
    if contents:
        (layer / "bin").mkdir(parents=True)
        (layer / "bin" / "python").write_text("old python")
        (layer / "env").mkdir()
        (layer / "env" / "PYTHONHOME.override").write_text(str(layer))
    return layer


def cached(
    layers_dir: Path, version: str = "3.13.1", types: LayerTypes = CACHED
) -> Layer[RuntimeMetadata]:
    return Layers(layers_dir).cached_layer(
        "python", types=types, metadata_model=RuntimeMetadata, keep=keep_version(version)
    )


def test_new_layer_is_empty_and_clears_stale_files(tmp_path: Path) -> None:
    stale = tmp_path / "python" / "leftover"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an interrupted build")
    layer = cached(tmp_path)
    assert (layer.state, layer.cause, layer.reasons) == (LayerState.EMPTY, Cause.NEW, ())
    assert layer.old_metadata is None
    assert layer.path == tmp_path / "python"
    assert layer.has_contents and list(layer.path.iterdir()) == []


def test_restored_layer_is_kept_when_nothing_changed(tmp_path: Path) -> None:
    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=True)
    layer = cached(tmp_path)
    assert (layer.state, layer.cause, layer.reasons) == (LayerState.RESTORED, Cause.KEPT, ())
    assert layer.old_metadata == RuntimeMetadata(version="3.13.1")
    assert (layer.path / "bin" / "python").read_text() == "old python"
    assert (tmp_path / "python.sbom.cdx.json").exists()
    layer.complete(RuntimeMetadata(version="3.13.1"))
    assert read_toml_dict(layer.toml_path) == {
        "types": {"launch": True, "build": True, "cache": True},
        "metadata": {"version": "3.13.1", "arch": "amd64"},
    }
    # env=None leaves the restored env files alone.
    assert (layer.path / "env" / "PYTHONHOME.override").exists()


def test_changed_layer_is_discarded_with_reasons(tmp_path: Path) -> None:
    restore(tmp_path, "python", '[metadata]\nversion = "3.12.0"\n', contents=True)
    layer = cached(tmp_path, "3.13.1")
    assert (layer.state, layer.cause) == (LayerState.EMPTY, Cause.CHANGED)
    assert layer.reasons == ("the version changed from 3.12.0 to 3.13.1",)
    assert layer.old_metadata == RuntimeMetadata(version="3.12.0")
    assert list(layer.path.iterdir()) == []
    assert not layer.toml_path.exists()
    assert not (tmp_path / "python.sbom.cdx.json").exists()


@pytest.mark.parametrize(
    ("toml", "reasons"),
    [
        (
            '[metadata]\nversoin = "3.13.1"\n',
            ("version: Field required", "versoin: Extra inputs are not permitted"),
        ),
        ("[metadata]\nversion = 3\n", ("version: Input should be a valid string",)),
        (
            '[types]\nlaunch = "maybe"\n[metadata]\nversion = "3.13.1"\n',
            ("types.launch: Input should be a valid boolean, unable to interpret input",),
        ),
    ],
)
def test_unreadable_metadata_is_discarded(
    tmp_path: Path, toml: str, reasons: tuple[str, ...]
) -> None:
    restore(tmp_path, "python", toml, contents=True)
    calls: list[RuntimeMetadata] = []

    def keep(old: RuntimeMetadata) -> list[str]:
        calls.append(old)
        return []

    layer = Layers(tmp_path).cached_layer(
        "python", types=CACHED, metadata_model=RuntimeMetadata, keep=keep
    )
    assert (layer.state, layer.cause, layer.reasons) == (
        LayerState.EMPTY,
        Cause.INVALID_METADATA,
        reasons,
    )
    assert calls == []
    assert list(layer.path.iterdir()) == []
    assert not layer.toml_path.exists()


def test_malformed_toml_is_invalid_metadata(tmp_path: Path) -> None:
    restore(tmp_path, "python", "[metadata\n", contents=True)
    layer = cached(tmp_path)
    assert layer.cause is Cause.INVALID_METADATA
    assert layer.reasons[0].startswith("the file is not valid TOML")


def test_launch_layer_restored_as_metadata_only(tmp_path: Path) -> None:
    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=False)
    layer = cached(tmp_path, types=LAUNCH_ONLY)
    assert (layer.state, layer.cause) == (LayerState.RESTORED, Cause.KEPT)
    assert not layer.has_contents
    env = LayerEnv().override(Scope.LAUNCH, "PYTHONHOME", "/x")
    layer.complete(RuntimeMetadata(version="3.13.1"), env=env)
    # No directory: the lifecycle then reuses the previous image's layer as it was.
    assert not layer.path.exists()
    assert read_toml_dict(layer.toml_path)["types"] == {
        "launch": True,
        "build": False,
        "cache": False,
    }
    with pytest.raises(ValueError, match="restored without contents"):
        layer.complete(RuntimeMetadata(version="3.13.1"), types=LayerTypes(launch=True, cache=True))


def test_metadata_only_layer_cannot_be_a_build_or_cache_layer(tmp_path: Path) -> None:
    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=False)
    layer = cached(tmp_path, types=CACHED)
    assert (layer.state, layer.cause) == (LayerState.EMPTY, Cause.MISSING_CONTENTS)
    assert layer.reasons == ("its files were not restored from the cache",)
    assert layer.has_contents and not layer.toml_path.exists()


def test_cached_layer_restored_as_metadata_only_may_be_reused_without_its_files(
    tmp_path: Path,
) -> None:
    """`without_files` decides, from the old metadata, whether a build/cache layer whose files
    stayed in the previous image is reused as `launch = true` alone, or discarded and why."""
    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=False)
    asked: list[RuntimeMetadata] = []

    def reuse(old: RuntimeMetadata) -> str | None:
        asked.append(old)
        return None

    layer = Layers(tmp_path).cached_layer(
        "python", types=CACHED, metadata_model=RuntimeMetadata, keep=keep_version("3.13.1"),
        without_files=reuse,
    )  # fmt: skip
    assert (layer.state, layer.cause) == (LayerState.RESTORED, Cause.KEPT)
    assert asked == [RuntimeMetadata(version="3.13.1")]
    assert not layer.has_contents
    with pytest.raises(ValueError, match="restored without contents"):
        layer.complete(RuntimeMetadata(version="3.13.1"))
    layer.complete(RuntimeMetadata(version="3.13.1"), types=LAUNCH_ONLY)
    assert not layer.path.exists()
    assert read_toml_dict(layer.toml_path)["types"]["launch"] is True

    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=False)
    refused = Layers(tmp_path).cached_layer(
        "python", types=CACHED, metadata_model=RuntimeMetadata, keep=keep_version("3.13.1"),
        without_files=lambda old: "the previous image has another copy",
    )  # fmt: skip
    assert (refused.state, refused.cause) == (LayerState.EMPTY, Cause.MISSING_CONTENTS)
    assert refused.reasons == ("the previous image has another copy",)


def test_a_launch_only_layer_restored_as_metadata_asks_without_files_when_given(
    tmp_path: Path,
) -> None:
    """A launch-only layer always comes back without its files: without `without_files` it is
    reused as it is; with it, that decides (the python layer asks whether the previous image
    holds what this build would make)."""
    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=False)
    plain = Layers(tmp_path).cached_layer(
        "python", types=LAUNCH_ONLY, metadata_model=RuntimeMetadata, keep=keep_version("3.13.1"),
    )  # fmt: skip
    assert (plain.state, plain.has_contents) == (LayerState.RESTORED, False)

    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=False)
    asked = Layers(tmp_path).cached_layer(
        "python", types=LAUNCH_ONLY, metadata_model=RuntimeMetadata, keep=keep_version("3.13.1"),
        without_files=lambda old: None,
    )  # fmt: skip
    assert (asked.state, asked.has_contents) == (LayerState.RESTORED, False)

    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=False)
    refused = Layers(tmp_path).cached_layer(
        "python", types=LAUNCH_ONLY, metadata_model=RuntimeMetadata, keep=keep_version("3.13.1"),
        without_files=lambda old: f"the image holds {old.version} made otherwise",
    )  # fmt: skip
    assert (refused.state, refused.cause) == (LayerState.EMPTY, Cause.MISSING_CONTENTS)
    assert refused.reasons == ("the image holds 3.13.1 made otherwise",)
    assert refused.has_contents and not refused.toml_path.exists()


def test_without_files_is_not_asked_about_a_changed_layer_or_one_with_files(
    tmp_path: Path,
) -> None:
    def never(old: RuntimeMetadata) -> str | None:
        raise AssertionError("asked")

    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=False)
    changed = Layers(tmp_path).cached_layer(
        "python", types=CACHED, metadata_model=RuntimeMetadata, keep=keep_version("3.14.0"),
        without_files=never,
    )  # fmt: skip
    assert changed.cause is Cause.CHANGED
    remove_all(tmp_path)
    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=True)
    kept = Layers(tmp_path).cached_layer(
        "python", types=CACHED, metadata_model=RuntimeMetadata, keep=keep_version("3.13.1"),
        without_files=never,
    )  # fmt: skip
    assert kept.state is LayerState.RESTORED and kept.has_contents


def remove_all(layers_dir: Path) -> None:
    layers_module.remove_layer(layers_dir, "python")


def test_completed_layer_leaves_its_files_to_the_previous_image(tmp_path: Path) -> None:
    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=True)
    layer = cached(tmp_path)
    with pytest.raises(ValueError, match="not complete"):
        layer.leave_files_to_previous_image()
    layer.complete(RuntimeMetadata(version="3.13.1"))
    assert layer.written_metadata == {"version": "3.13.1", "arch": "amd64"}
    layer.leave_files_to_previous_image()
    # The exporter reuses the previous image's layer: no files, launch = true alone, the same
    # metadata; the SBOM stays for the image's SBOM.
    assert not layer.path.exists()
    toml = read_toml_dict(layer.toml_path)
    assert toml["types"] == {"launch": True, "build": False, "cache": False}
    assert toml["metadata"] == {"version": "3.13.1", "arch": "amd64"}
    assert layer.sbom_path("cdx.json").is_file()


def has_python(path: Path) -> bool:
    return (path / "bin" / "python").is_file()


def checked(
    layers_dir: Path,
    contents_ok: Callable[[Path], bool],
    version: str = "3.13.1",
    types: LayerTypes = CACHED,
) -> Layer[RuntimeMetadata]:
    return Layers(layers_dir).cached_layer(
        "python",
        types=types,
        metadata_model=RuntimeMetadata,
        keep=keep_version(version),
        contents_ok=contents_ok,
    )


def test_restored_files_that_fail_the_contents_check_are_discarded(tmp_path: Path) -> None:
    layer_dir = restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=True)
    (layer_dir / "bin" / "python").unlink()
    seen: list[Path] = []

    def contents_ok(path: Path) -> bool:
        seen.append(path)
        return has_python(path)

    layer = checked(tmp_path, contents_ok)
    assert seen == [layer_dir]
    assert (layer.state, layer.cause, layer.reasons) == (
        LayerState.EMPTY,
        Cause.MISSING_CONTENTS,
        ("its files are incomplete",),
    )
    assert layer.old_metadata == RuntimeMetadata(version="3.13.1")
    assert list(layer.path.iterdir()) == [] and not layer.toml_path.exists()
    assert not (tmp_path / "python.sbom.cdx.json").exists()


def test_whole_restored_files_pass_the_contents_check(tmp_path: Path) -> None:
    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=True)
    layer = checked(tmp_path, has_python)
    assert (layer.state, layer.cause) == (LayerState.RESTORED, Cause.KEPT)
    assert (layer.path / "bin" / "python").read_text() == "old python"


def test_contents_check_runs_only_for_a_kept_layer_with_files(tmp_path: Path) -> None:
    def never(path: Path) -> bool:
        raise AssertionError(f"checked {path}")

    # A changed layer is discarded for its reasons, not its files.
    restore(tmp_path, "python", '[metadata]\nversion = "3.12.0"\n', contents=True)
    changed = checked(tmp_path, never)
    assert changed.cause is Cause.CHANGED
    # A launch-only layer restored as metadata alone has no files to check: it is reused.
    restore(tmp_path / "launch", "python", '[metadata]\nversion = "3.13.1"\n', contents=False)
    launch = checked(tmp_path / "launch", never, types=LAUNCH_ONLY)
    assert (launch.state, launch.cause) == (LayerState.RESTORED, Cause.KEPT)


def test_uncached_layer_always_starts_empty(tmp_path: Path) -> None:
    restore(tmp_path, "venv", "[metadata]\nanything = 1\n", contents=True)
    layer = Layers(tmp_path).uncached_layer("venv", types=LayerTypes(build=True))
    assert (layer.state, layer.cause) == (LayerState.EMPTY, Cause.UNCACHED)
    assert list(layer.path.iterdir()) == []
    assert not layer.toml_path.exists()
    assert not (tmp_path / "venv.sbom.cdx.json").exists()
    layer.complete({"built": True})
    assert read_toml_dict(layer.toml_path) == {
        "types": {"launch": False, "build": True, "cache": False},
        "metadata": {"built": True},
    }


def test_complete_writes_env_then_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layer = cached(tmp_path)
    (layer.path / "bin").mkdir()
    env = LayerEnv().override(Scope.ALL, "PYTHONHOME", str(layer.path))
    seen_at_toml_time: list[bool] = []
    real_write_toml = layers_module.write_toml  # type: ignore[attr-defined]

    def spy(path: Path, data: object) -> None:
        seen_at_toml_time.append((layer.path / "env" / "PYTHONHOME.override").exists())
        real_write_toml(path, data)  # type: ignore[arg-type]

    monkeypatch.setattr(layers_module, "write_toml", spy)
    layer.complete(RuntimeMetadata(version="3.13.1"), env=env)
    assert seen_at_toml_time == [True]
    assert layer.completed


def test_failure_while_filling_leaves_no_metadata(tmp_path: Path) -> None:
    restore(tmp_path, "python", '[metadata]\nversion = "3.12.0"\n', contents=True)
    layer = cached(tmp_path, "3.13.1")
    # The old metadata is gone before the first new file appears...
    assert not layer.toml_path.exists()
    with pytest.raises(RuntimeError):
        (layer.path / "bin").mkdir()
        (layer.path / "bin" / "python").write_text("half")
        raise RuntimeError("download failed")
    # ...so the half-filled directory has no <name>.toml claiming it is complete.
    assert not layer.toml_path.exists()
    assert cached(tmp_path, "3.13.1").cause is Cause.NEW


def test_failing_env_write_leaves_no_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = cached(tmp_path)

    def broken(self: LayerEnv, layer_dir: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(LayerEnv, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        layer.complete(
            RuntimeMetadata(version="3.13.1"), env=LayerEnv().override(Scope.ALL, "A", "b")
        )
    assert not layer.toml_path.exists()
    assert not layer.completed


def test_complete_checks_metadata_against_the_model(tmp_path: Path) -> None:
    layer = cached(tmp_path)
    with pytest.raises(ValidationError):
        layer.complete({"versoin": "3.13.1"})
    assert not layer.toml_path.exists()
    layer.complete({"version": "3.13.1"}, types=LayerTypes(cache=True))
    assert read_toml_dict(layer.toml_path) == {
        "types": {"launch": False, "build": False, "cache": True},
        "metadata": {"version": "3.13.1"},
    }


def test_rebuild_cycle(tmp_path: Path) -> None:
    first = cached(tmp_path, "3.13.1")
    (first.path / "bin").mkdir()
    first.complete(RuntimeMetadata(version="3.13.1"), env=LayerEnv().override(Scope.ALL, "V", "1"))
    # The lifecycle restores the metadata without [types] (the files stay for cached layers).
    data = read_toml_dict(first.toml_path)
    first.toml_path.write_text(f'[metadata]\nversion = "{data["metadata"]["version"]}"\n')

    second = cached(tmp_path, "3.13.1")
    assert second.state is LayerState.RESTORED
    assert second.env().apply({}, Scope.BUILD) == {"V": "1"}

    third = cached(tmp_path, "3.13.2")
    assert (third.state, third.reasons) == (
        LayerState.EMPTY,
        ("the version changed from 3.13.1 to 3.13.2",),
    )


def test_manual_discard(tmp_path: Path) -> None:
    restore(tmp_path, "python", '[metadata]\nversion = "3.13.1"\n', contents=True)
    layer = cached(tmp_path)
    assert layer.state is LayerState.RESTORED
    layer.discard(["the interpreter does not start"])
    assert (layer.state, layer.cause, layer.reasons) == (
        LayerState.EMPTY,
        Cause.CHANGED,
        ("the interpreter does not start",),
    )
    assert list(layer.path.iterdir()) == [] and not layer.toml_path.exists()


def test_apply_env_of_a_layer(tmp_path: Path) -> None:
    layer = cached(tmp_path)
    (layer.path / "bin").mkdir()
    layer.complete(
        RuntimeMetadata(version="1.0.0"),
        env=LayerEnv().default(Scope.BUILD, "PIP_NO_INPUT", "1"),
    )
    assert layer.apply_env({"PATH": "/usr/bin"}, Scope.BUILD) == {
        "PATH": f"{layer.path}/bin:/usr/bin",
        "PIP_NO_INPUT": "1",
    }
    assert layer.apply_env({}, Scope.LAUNCH) == {"PATH": f"{layer.path}/bin"}


@pytest.mark.parametrize("name", ["build", "launch", "store", "", ".", "..", "a/b", "a\0b"])
def test_reserved_and_impossible_layer_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        validate_layer_name(name)
    with pytest.raises(ValueError):
        Layers(tmp_path).uncached_layer(name, types=LayerTypes())


@pytest.mark.parametrize("name", ["python", "pip-cache", "Abc 123.-_!", "build-tools", "launcher"])
def test_valid_layer_names(name: str) -> None:
    assert validate_layer_name(name) == name


def test_empty_directory_keeps_the_directory_and_never_follows_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kept").write_text("not ours")
    layer = tmp_path / "python"
    (layer / "lib" / "sub").mkdir(parents=True)
    (layer / "bin").write_text("")
    (layer / "link").symlink_to(outside)
    empty_directory(layer)
    assert layer.is_dir() and list(layer.iterdir()) == []
    assert (outside / "kept").read_text() == "not ours"
    empty_directory(tmp_path / "missing")
    assert (tmp_path / "missing").is_dir()
