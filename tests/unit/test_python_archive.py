"""The cached Python archive (`layers.python_archive`): kept as downloaded and only once the
download completed, reused by its sha256, discarded with the reason, absent for an archive
bundled in the buildpack."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from python_buildpack.cnb.layers import Cause, LayerState
from python_buildpack.cnb.models import LayerContentMetadata, LayerTypes
from python_buildpack.cnb.toml_io import load_toml
from python_buildpack.errors import FilesystemError
from python_buildpack.layers.python_archive import (
    ARCHIVE,
    LAYER_NAME,
    ArchiveCache,
    TeeReader,
    open_archive_cache,
)
from python_buildpack.output import Log

SHA = "a" * 64


def config(
    layers: Path, *, sha256: str = SHA, version: str = "3.13.5", via: str = "manifest"
) -> Any:
    return SimpleNamespace(
        layers_dir=layers,
        python=SimpleNamespace(version=version, release=SimpleNamespace(sha256=sha256)),
        python_source=SimpleNamespace(url="https://example.invalid/python.tar.gz", via=via),
    )


def opened(layers: Path, **options: str) -> tuple[ArchiveCache | None, str]:
    out = io.StringIO()
    cache = open_archive_cache(config(layers, **options), Log(out=out, err=out))
    return cache, out.getvalue()


def layer_toml(layers: Path) -> LayerContentMetadata:
    return load_toml(layers / f"{LAYER_NAME}.toml", LayerContentMetadata, what="archive")


def download(cache: ArchiveCache, attempts: list[bytes], *, unread: bytes = b"") -> None:
    """Stream each attempt through the kept copy, the last one in full (then `unread`, as a
    fetch's trailing bytes that the unpacker left, drained through the copy)."""
    with cache.keeping() as kept:
        for body in attempts:
            reader = kept.tee(io.BytesIO(body + unread))
            assert reader.read(len(body)) == body
        reader.drain()


def restore_for_rebuild(layers: Path) -> None:
    """What the restorer leaves of a cache-only layer: its files and metadata, no [types]."""
    content = layer_toml(layers)
    (layers / f"{LAYER_NAME}.toml").write_text(
        "[metadata]\n" + "".join(f'{k} = "{v}"\n' for k, v in content.metadata.items())
    )


def cached_for_rebuild(layers: Path) -> None:
    """A first build that downloads and keeps the archive, then the restorer's rebuild."""
    cache, _ = opened(layers)
    assert cache is not None
    download(cache, [b"archive"])
    restore_for_rebuild(layers)


def test_a_download_is_kept_whole_as_the_last_attempt_read_it(tmp_path: Path) -> None:
    cache, log = opened(tmp_path)
    assert cache is not None and cache.archive is None and log == ""
    download(cache, [b"partial first attempt", b"the whole archive"], unread=b" and its end")
    assert (tmp_path / LAYER_NAME / ARCHIVE).read_bytes() == b"the whole archive and its end"
    assert sorted(p.name for p in (tmp_path / LAYER_NAME).iterdir()) == [ARCHIVE]
    content = layer_toml(tmp_path)
    assert content.types == LayerTypes(cache=True)
    assert content.metadata == {"python_version": "3.13.5", "archive_sha256": SHA}


def test_a_failed_download_keeps_nothing(tmp_path: Path) -> None:
    cache, _ = opened(tmp_path)
    assert cache is not None
    with pytest.raises(RuntimeError, match="checksum"), cache.keeping() as kept:
        kept.tee(io.BytesIO(b"wrong bytes")).read()
        raise RuntimeError("checksum mismatch")
    assert not (tmp_path / f"{LAYER_NAME}.toml").exists()
    assert list((tmp_path / LAYER_NAME).iterdir()) == []


def test_the_same_archive_is_reused_and_kept_cached(tmp_path: Path) -> None:
    cached_for_rebuild(tmp_path)
    again, log = opened(tmp_path)
    assert again is not None and log == ""
    assert again.archive == tmp_path / LAYER_NAME / ARCHIVE
    again.keep_cached()
    assert layer_toml(tmp_path).types == LayerTypes(cache=True)
    # Asked again (Python unpacked from it later in the build): written once.
    (tmp_path / f"{LAYER_NAME}.toml").unlink()
    again.keep_cached()
    assert not (tmp_path / f"{LAYER_NAME}.toml").exists()


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"sha256": "b" * 64}, "The archive changed (sha256 aaaaaaaaaaaa… to bbbbbbbbbbbb…)"),
        ({"version": "3.13.6"}, "The Python version changed from 3.13.5 to 3.13.6"),
    ],
)
def test_another_archive_discards_the_cached_one_with_the_reason(
    tmp_path: Path, options: dict[str, str], reason: str
) -> None:
    cached_for_rebuild(tmp_path)
    again, log = opened(tmp_path, **options)
    assert again is not None and again.archive is None
    assert log.splitlines() == ["Discarding cached Python archive 3.13.5 since:", f"  - {reason}"]
    assert not (tmp_path / LAYER_NAME / ARCHIVE).exists()


def test_a_layer_without_its_archive_is_discarded(tmp_path: Path) -> None:
    cached_for_rebuild(tmp_path)
    (tmp_path / LAYER_NAME / ARCHIVE).unlink()
    again, log = opened(tmp_path)
    assert again is not None and again.archive is None
    assert "its files are incomplete" in log


def test_a_forgotten_archive_is_no_longer_cached(tmp_path: Path) -> None:
    cached_for_rebuild(tmp_path)
    again, _ = opened(tmp_path)
    assert again is not None
    again.forget("the archive's sha256 did not match")
    assert (again.layer.state, again.layer.cause) == (LayerState.EMPTY, Cause.MISSING_CONTENTS)
    assert again.archive is None and not (tmp_path / f"{LAYER_NAME}.toml").exists()
    # A new download replaces it.
    download(again, [b"downloaded again"])
    assert (tmp_path / LAYER_NAME / ARCHIVE).read_bytes() == b"downloaded again"


def test_a_bundled_archive_has_no_layer_and_drops_an_earlier_one(tmp_path: Path) -> None:
    cache, _ = opened(tmp_path)
    assert cache is not None
    download(cache, [b"archive"])
    bundled, log = opened(tmp_path, via="bundled")
    assert bundled is None and log == ""
    assert not (tmp_path / f"{LAYER_NAME}.toml").exists()
    assert not (tmp_path / LAYER_NAME).exists()


def test_a_full_disk_under_the_kept_copy_is_a_filesystem_error(tmp_path: Path) -> None:
    """Not an OSError: the unpacker reading through the copy would report a broken archive."""
    cache, _ = opened(tmp_path)
    assert cache is not None
    # Every write to /dev/full fails with ENOSPC.
    full = open("/dev/full", "wb", buffering=0)  # noqa: SIM115, PTH123
    with pytest.raises(FilesystemError) as info, cache.keeping() as kept:
        reader = TeeReader(io.BytesIO(b"archive"), full, kept.path)
        reader.read()
    full.close()
    assert info.value.title == "File system error while unpacking Python"
    assert "No space left on device" in info.value.render()
    assert str(kept.path) in info.value.render()
    assert not (tmp_path / f"{LAYER_NAME}.toml").exists()


def test_a_full_disk_when_the_copy_is_closed_keeps_nothing(tmp_path: Path) -> None:
    """The last buffered bytes reach the disk when the copy is closed, at the block's end."""
    cache, _ = opened(tmp_path)
    assert cache is not None
    with pytest.raises(FilesystemError) as info, cache.keeping() as kept:
        kept.tee(io.BytesIO(b"archive")).read()
        kept.close()
        kept._file = open("/dev/full", "wb")  # noqa: SIM115, PTH123
        kept._file.write(b"buffered")
    assert "No space left on device" in info.value.render()
    assert list((tmp_path / LAYER_NAME).iterdir()) == []
    assert not (tmp_path / f"{LAYER_NAME}.toml").exists()
