"""Launch layers left to the previous image (`layers.previous_image`): what store.toml records,
when a layer restored as metadata alone is reused without its files, and which files a build
leaves to the image."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from python_buildpack.cnb.env import LayerEnv, Scope
from python_buildpack.cnb.layers import Layer, Layers
from python_buildpack.cnb.models import LayerTypes
from python_buildpack.cnb.toml_io import read_toml_dict
from python_buildpack.layers.previous_image import (
    NOT_RESTORED,
    STORE_TOML,
    PreviousImage,
    content_digest,
)

CACHED = LayerTypes(build=True, launch=True, cache=True)
METADATA = {"version": "3.13.1"}


class Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str


def env(value: str = "1") -> LayerEnv:
    return LayerEnv().default(Scope.LAUNCH, "PYTHONUNBUFFERED", value)


def digest(value: str = "1") -> str:
    return content_digest(METADATA, env(value))


def write_store(layers: Path, text: str) -> None:
    layers.mkdir(parents=True, exist_ok=True)
    (layers / STORE_TOML).write_text(text)


def restored(layers: Path, *, files: bool) -> Layer[Metadata]:
    """The `python` layer as the lifecycle restores it, then kept by this build."""
    (layers / "python.toml").write_text('[metadata]\nversion = "3.13.1"\n')
    (layers / "python.sbom.cdx.json").write_text("{}")
    if files:
        (layers / "python" / "bin").mkdir(parents=True)
        (layers / "python" / "bin" / "python3").write_text("")
    return Layers(layers).cached_layer(
        "python", types=CACHED, metadata_model=Metadata, keep=lambda old: [],
        without_files=lambda old: None,
    )  # fmt: skip


def test_the_digest_covers_the_files_written_when_given() -> None:
    """The python layer's exec.d programs change with the buildpack, not its metadata."""
    programs = {"exec.d/web-concurrency": "a" * 64}
    with_programs = content_digest(METADATA, env(), programs)
    assert with_programs != digest()
    assert content_digest(METADATA, env(), {"exec.d/web-concurrency": "b" * 64}) != with_programs
    # None written: the digest of layers recorded before the argument existed (the venv's).
    assert content_digest(METADATA, env(), {}) == content_digest(METADATA, env()) == digest()


def test_the_digest_covers_metadata_and_env() -> None:
    assert digest() == digest()
    assert digest() != digest("0")
    assert content_digest({"version": "3.13.2"}, env()) != digest()


def test_without_store_toml_there_is_no_previous_image_to_reuse_from(tmp_path: Path) -> None:
    image = PreviousImage.read(tmp_path)
    assert image.recorded is None
    assert image.why_not_reuse("python", digest()) == NOT_RESTORED


def test_reuse_needs_the_same_digest_in_the_previous_image(tmp_path: Path) -> None:
    write_store(tmp_path, f'[metadata.launch_layers]\npython = "{digest()}"\n')
    image = PreviousImage.read(tmp_path)
    assert image.why_not_reuse("python", digest()) is None
    assert "another version of this buildpack" in (image.why_not_reuse("python", digest("0")) or "")
    # A layer the image does not hold.
    assert image.why_not_reuse("venv", digest()) == NOT_RESTORED


def test_files_needed_at_build_time_are_never_left_to_the_image(tmp_path: Path) -> None:
    write_store(tmp_path, f'[metadata.launch_layers]\npython = "{digest()}"\n')
    image = PreviousImage.read(tmp_path, needed_at_build="Django's collectstatic")
    why = image.why_not_reuse("python", digest())
    assert why == "its files stayed in the previous image, and Django's collectstatic may need them"


@pytest.mark.parametrize(
    "text", ["not toml [", '[metadata]\nlaunch_layers = "python"\n', "[metadata]\nother = 1\n"]
)
def test_an_unreadable_or_foreign_store_reuses_nothing(tmp_path: Path, text: str) -> None:
    write_store(tmp_path, text)
    image = PreviousImage.read(tmp_path)
    assert image.why_not_reuse("python", digest()) == NOT_RESTORED


def test_finish_leaves_unchanged_files_to_the_image_and_records_each_layer(
    tmp_path: Path,
) -> None:
    write_store(tmp_path, f'[metadata.launch_layers]\npython = "{digest()}"\n')
    image = PreviousImage.read(tmp_path)
    layer = restored(tmp_path, files=True)
    layer.complete(METADATA, env=env())
    image.export(layer, env())
    assert image.finish() == ["python"]
    assert not layer.path.exists()
    assert read_toml_dict(layer.toml_path)["types"] == {
        "launch": True,
        "build": False,
        "cache": False,
    }
    assert read_toml_dict(tmp_path / STORE_TOML) == {
        "metadata": {"launch_layers": {"python": digest()}}
    }


def test_finish_records_the_digest_with_the_files_written(tmp_path: Path) -> None:
    programs = {"exec.d/web-concurrency": "a" * 64}
    image = PreviousImage.read(tmp_path)
    layer = Layers(tmp_path).uncached_layer("python", types=LayerTypes(launch=True))
    layer.complete(METADATA, env=env())
    image.export(layer, env(), programs)
    image.finish()
    recorded = PreviousImage.read(tmp_path)
    assert recorded.why_not_reuse("python", content_digest(METADATA, env(), programs)) is None
    assert recorded.why_not_reuse("python", digest()) is not None


def test_finish_keeps_files_the_image_does_not_have(tmp_path: Path) -> None:
    # The previous image's copy differs (another env): this build's files go into the image.
    write_store(tmp_path, f'[metadata.launch_layers]\npython = "{digest("0")}"\n')
    image = PreviousImage.read(tmp_path)
    layer = restored(tmp_path, files=True)
    layer.complete(METADATA, env=env())
    image.export(layer, env())
    assert image.finish() == []
    assert layer.path.is_dir()
    assert read_toml_dict(layer.toml_path)["types"]["cache"] is True
    # And records them for the next build.
    assert read_toml_dict(tmp_path / STORE_TOML)["metadata"]["launch_layers"] == {
        "python": digest()
    }


def test_finish_keeps_new_files_and_those_needed_at_build(tmp_path: Path) -> None:
    write_store(tmp_path, f'[metadata.launch_layers]\npython = "{digest()}"\n')
    image = PreviousImage.read(tmp_path)
    new = Layers(tmp_path).uncached_layer("python", types=CACHED)  # filled by this build
    new.complete(METADATA, env=env())
    image.export(new, env())
    assert image.finish() == []
    assert new.path.is_dir()

    needed = PreviousImage.read(tmp_path, needed_at_build="a later buildpack")
    layer = restored(tmp_path, files=True)
    layer.complete(METADATA, env=env())
    needed.export(layer, env())
    assert needed.finish() == []
    assert layer.path.is_dir()


def test_finish_keeps_the_files_of_a_layer_needed_on_every_build(tmp_path: Path) -> None:
    write_store(tmp_path, f'[metadata.launch_layers]\npython = "{digest()}"\n')
    image = PreviousImage.read(tmp_path)
    layer = restored(tmp_path, files=True)
    layer.complete(METADATA, env=env())
    image.need_files("python", "the dependencies are installed with it on every build")
    assert image.why_not_reuse("python", digest()) == (
        "its files stayed in the previous image, and the dependencies are installed with it on "
        "every build"
    )
    image.export(layer, env())
    assert image.finish() == []
    assert layer.path.is_dir()
    # Its digest is recorded all the same, for a later build that no longer needs the files.
    assert read_toml_dict(tmp_path / STORE_TOML)["metadata"]["launch_layers"] == {
        "python": digest()
    }


def test_a_layer_reused_without_files_is_recorded_again(tmp_path: Path) -> None:
    write_store(tmp_path, f'[metadata.launch_layers]\npython = "{digest()}"\n')
    image = PreviousImage.read(tmp_path)
    layer = restored(tmp_path, files=False)
    layer.complete(METADATA, types=LayerTypes(launch=True))
    image.export(layer, env())
    assert image.finish() == []
    assert read_toml_dict(tmp_path / STORE_TOML)["metadata"]["launch_layers"] == {
        "python": digest()
    }
