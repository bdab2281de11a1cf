"""bin/build and the `python` layer, against runtimes served from 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from python_buildpack.cnb.models import LayerContentMetadata, LayerTypes
from python_buildpack.cnb.toml_io import load_toml, write_toml
from tests.conftest import runtime_by_minor
from tests.harness.buildpack_dir import make_buildpack_dir
from tests.harness.http_server import FileServer
from tests.harness.phases import Workspace
from tests.harness.runtimes import RUNTIMES_DIR, BuiltRuntime


def python_toml(ws: Workspace) -> LayerContentMetadata:
    return load_toml(ws.layers / "python.toml", LayerContentMetadata, what="python layer")


def archive_layer(ws: Workspace) -> LayerContentMetadata:
    return load_toml(ws.layers / "python-archive.toml", LayerContentMetadata, what="archive")


def pin(ws: Workspace, version: str) -> None:
    (ws.app / ".python-version").write_text(version + "\n")
    (ws.app / "requirements.txt").write_text("")


def test_fresh_install_then_cached(ws: Workspace, runtimes: list[BuiltRuntime]) -> None:
    runtime = runtime_by_minor(runtimes, "3.13")
    pin(ws, runtime.minor)
    first = ws.build()
    assert first.exit_code == 0, first.output
    assert "[Installing Python]" in first.stdout
    assert f"Installing Python {runtime.version}" in first.stdout
    assert "3.13 requested in .python-version" in first.stdout

    layer = python_toml(ws)
    # A launch layer whose files are never cached: the archive is, byte for byte.
    assert layer.types == LayerTypes(launch=True)
    assert archive_layer(ws).types == LayerTypes(cache=True)
    assert archive_layer(ws).metadata == {
        "python_version": runtime.version,
        "archive_sha256": runtime.sha256,
    }
    kept = ws.layers / "python-archive" / "archive"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == runtime.sha256
    assert [path.name for path in kept.parent.iterdir()] == ["archive"]
    assert layer.metadata["python_version"] == runtime.version
    assert layer.metadata["archive_sha256"] == runtime.sha256
    assert (ws.layers / "python" / "env.build" / "PYTHONUNBUFFERED.override").read_text() == "1"
    assert (ws.layers / "python" / "env.launch" / "PYTHONUNBUFFERED.default").read_text() == "1"
    # The launcher runs exec.d programs; this one sets WEB_CONCURRENCY (tests/e2e/).
    execd = ws.layers / "python" / "exec.d" / "web-concurrency"
    assert execd.stat().st_mode & 0o111
    assert execd.read_text().startswith(f"#!{ws.layers / 'python' / 'bin' / 'python3'} -IS\n")
    assert (ws.layers / "python" / "env.build" / "SOURCE_DATE_EPOCH.default").read_text() == (
        "315532801"
    )

    # The archive was built for /python; it runs from the layer's path all the same, and its
    # build configuration points at where it is now.
    python = ws.layers / "python" / "bin" / "python3"
    out = subprocess.run(
        [
            python,
            "-c",
            "import sys, sysconfig; print(sys.prefix); "
            "print(sysconfig.get_config_var('INCLUDEPY'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout.split()
    assert out == [str(ws.layers / "python"), str(ws.layers / "python" / "include" / "python3.13")]

    # C extensions find the headers through pkg-config with the layer's build env.
    pkg_config_path = (ws.layers / "python" / "env.build" / "PKG_CONFIG_PATH.prepend").read_text()
    cflags = subprocess.run(
        ["pkg-config", "--cflags", "python3"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PKG_CONFIG_PATH": pkg_config_path},
    ).stdout.split()
    assert f"-I{ws.layers / 'python' / 'include' / 'python3.13'}" in cflags

    second = ws.build()
    assert second.exit_code == 0, second.output
    assert f"Using cached Python {runtime.version}" in second.stdout
    assert "Installing Python" not in second.stdout.replace("[Installing Python]", "")

    # Under a new image name (no previous image), from the same cache: unpacked from the
    # cached archive, not downloaded.
    ws.restore_for_rebuild(previous_image=False)
    assert not (ws.layers / "python").exists() and kept.is_file()
    third = ws.build()
    assert third.exit_code == 0, third.output
    assert f"Installing Python {runtime.version} from the build cache\n" in third.stdout
    assert subprocess.run([python, "-c", "pass"], check=False).returncode == 0
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == runtime.sha256


def test_a_damaged_cached_archive_is_downloaded_again(
    ws: Workspace, runtimes: list[BuiltRuntime]
) -> None:
    runtime = runtime_by_minor(runtimes, "3.13")
    pin(ws, runtime.minor)
    assert ws.build().exit_code == 0
    ws.restore_for_rebuild(previous_image=False)
    kept = ws.layers / "python-archive" / "archive"
    kept.write_bytes(kept.read_bytes()[:-1000])
    result = ws.build()
    assert result.exit_code == 0, result.output
    assert "The cached archive is damaged (" in result.stdout
    assert f"Installing Python {runtime.version}\n" in result.stdout
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == runtime.sha256
    assert archive_layer(ws).types == LayerTypes(cache=True)
    assert (ws.layers / "python" / "bin" / "python3").exists()


def test_changed_version_discards_with_the_reason(
    ws: Workspace, runtimes: list[BuiltRuntime]
) -> None:
    old, new = runtime_by_minor(runtimes, "3.11"), runtime_by_minor(runtimes, "3.13")
    pin(ws, old.version)
    assert ws.build().exit_code == 0
    pin(ws, new.version)
    result = ws.build()
    assert result.exit_code == 0, result.output
    assert f"Discarding cached Python {old.version} since:" in result.stdout
    assert f"The Python version changed from {old.version} to {new.version}" in result.stdout
    assert python_toml(ws).metadata["python_version"] == new.version
    # pip and its wheel cache were made for the old Python: both go, each saying why.
    assert "Discarding cached pip 26.3 since:" in result.stdout
    assert "Discarding cached pip download/wheel cache since:" in result.stdout


def test_changed_arch_and_distro_are_reasons(ws: Workspace, runtimes: list[BuiltRuntime]) -> None:
    pin(ws, "3.13")
    assert ws.build().exit_code == 0
    # Pretend the cached layer came from an arm64 Ubuntu build.
    toml = python_toml(ws)
    toml.metadata.update(arch="arm64", distro_name="ubuntu", distro_version="24.04")
    write_toml(ws.layers / "python.toml", toml)
    result = ws.build()
    assert result.exit_code == 0, result.output
    assert "The CPU architecture changed from arm64 to amd64" in result.stdout
    assert "The OS changed from ubuntu 24.04 to debian 12" in result.stdout


def test_unreadable_metadata_discards(ws: Workspace) -> None:
    pin(ws, "3.13")
    assert ws.build().exit_code == 0
    (ws.layers / "python.toml").write_text("[types]\nlaunch = true\n[metadata]\nversion = 3\n")
    result = ws.build()
    assert result.exit_code == 0, result.output
    assert "Discarding cached Python since its metadata can't be read" in result.stdout


def test_incomplete_files_discard_with_the_reason(ws: Workspace) -> None:
    pin(ws, "3.13")
    assert ws.build().exit_code == 0
    version = python_toml(ws).metadata["python_version"]
    (ws.layers / "python" / "bin" / "python3").unlink()
    result = ws.build()
    assert result.exit_code == 0, result.output
    assert (
        f"Discarding cached Python {version} since:\n  - its files are incomplete\n"
    ) in result.stdout
    assert (ws.layers / "python" / "bin" / "python3").exists()


def test_checksum_mismatch_names_both_sums(ws: Workspace, runtimes: list[BuiltRuntime]) -> None:
    wanted, other = runtime_by_minor(runtimes, "3.13"), runtime_by_minor(runtimes, "3.11")
    pin(ws, wanted.version)
    binding = ws.platform / "bindings" / "mirror"
    binding.mkdir(parents=True)
    (binding / "type").write_text("dependency-mapping")
    (binding / wanted.sha256).write_text(other.archive_path.as_uri())
    result = ws.build()
    assert result.exit_code == 1, result.output
    assert wanted.sha256 in result.output and other.sha256 in result.output
    assert "Traceback" not in result.output
    assert not (ws.layers / "python.toml").exists()
    # Nothing of the download is kept for a later build to trust.
    assert not (ws.layers / "python-archive.toml").exists()
    assert not any((ws.layers / "python-archive").iterdir())


def test_missing_archive_is_a_clear_error(ws: Workspace) -> None:
    pin(ws, "3.13")
    with FileServer(RUNTIMES_DIR / "nowhere") as empty:
        ws.set_platform_env("BP_PYTHON_MIRROR", empty.url)
        result = ws.build()
    assert result.exit_code == 1
    assert "404" in result.output or "not found" in result.output.lower()
    assert "Traceback" not in result.output
    assert not (ws.layers / "python.toml").exists()


def test_a_dropped_connection_is_retried(ws: Workspace, runtimes: list[BuiltRuntime]) -> None:
    runtime = runtime_by_minor(runtimes, "3.13")
    pin(ws, runtime.version)
    with FileServer(RUNTIMES_DIR) as mirror:
        mirror.fail_once("/" + runtime.filename, mid_body=True)
        ws.set_platform_env("BP_PYTHON_MIRROR", mirror.url)
        result = ws.build()
        assert mirror.count("/" + runtime.filename) == 2
    assert result.exit_code == 0, result.output
    assert "retrying" in result.stdout.lower()
    # The kept copy started again with the retry.
    kept = ws.layers / "python-archive" / "archive"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == runtime.sha256


def _evil_archive(path: Path) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("python/bin/python3", b"#!/bin/sh\n"), ("python/../../evil", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def test_archive_escaping_the_layer_is_rejected(tmp_path: Path) -> None:
    archives = tmp_path / "archives"
    archives.mkdir()
    evil = archives / "python-3.13.99-linux-amd64.tar.gz"
    sha = _evil_archive(evil)
    runtime = BuiltRuntime("3.13.99", "amd64", evil, sha)
    with FileServer(archives) as server:
        buildpack = make_buildpack_dir(tmp_path / "bp", [runtime], server.url)
        ws = Workspace(tmp_path / "ws", buildpack_dir=buildpack)
        pin(ws, "3.13.99")
        result = ws.build()
    assert result.exit_code == 1, result.output
    assert "evil" in result.output
    assert not (tmp_path / "evil").exists() and not (ws.root / "evil").exists()
    assert not (ws.layers / "python.toml").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("3.13\n3.11\n", "more than one"),
        ("\ufeff3.13\n", "<U+FEFF>"),
        ("3.9\n", "3.9"),
        ("3.99\n", "3.99"),
    ],
)
def test_bad_python_version_fails_before_any_layer(
    ws: Workspace, content: str, expected: str
) -> None:
    (ws.app / ".python-version").write_text(content)
    (ws.app / "requirements.txt").write_text("")
    result = ws.build()
    assert result.exit_code == 1
    assert expected in result.output
    assert ".python-version" in result.output
    assert "Traceback" not in result.output
    assert not any(ws.layers.iterdir())


def _offline_buildpack(tmp_path: Path, runtime: BuiltRuntime, content: bytes | None) -> Path:
    """A buildpack whose manifest URLs lead nowhere, with `runtime`'s archive bundled (or
    `content` in its place)."""
    import shutil

    from python_buildpack.distributions import ArchivePlatform, Manifest, bundled_path

    with FileServer(tmp_path / "nothing-served") as nowhere:
        buildpack = make_buildpack_dir(tmp_path / "bp", [runtime], nowhere.url)
    release = Manifest.load(buildpack / "python-versions.toml").find_release(
        runtime.version, ArchivePlatform("linux", runtime.arch)
    )
    assert release is not None
    bundled = bundled_path(buildpack, release)
    bundled.parent.mkdir(parents=True)
    if content is None:
        shutil.copyfile(runtime.archive_path, bundled)
    else:
        bundled.write_bytes(content)
    return buildpack


def test_a_bundled_archive_is_installed_without_downloading(
    tmp_path: Path, runtimes: list[BuiltRuntime]
) -> None:
    runtime = runtime_by_minor(runtimes, "3.13")
    ws = Workspace(tmp_path / "ws", buildpack_dir=_offline_buildpack(tmp_path, runtime, None))
    pin(ws, runtime.version)
    result = ws.build()
    assert result.exit_code == 0, result.output
    assert (
        f"Installing Python {runtime.version} from the archive bundled in the buildpack"
        in result.stdout
    )
    assert python_toml(ws).metadata["archive_sha256"] == runtime.sha256
    # The buildpack holds the archive: no copy in the cache.
    assert not (ws.layers / "python-archive.toml").exists()
    assert not (ws.layers / "python-archive").exists()


def test_a_bundled_archive_is_checked_like_a_download(
    tmp_path: Path, runtimes: list[BuiltRuntime]
) -> None:
    runtime = runtime_by_minor(runtimes, "3.13")
    ws = Workspace(
        tmp_path / "ws", buildpack_dir=_offline_buildpack(tmp_path, runtime, b"tampered")
    )
    pin(ws, runtime.version)
    result = ws.build()
    assert result.exit_code == 1, result.output
    assert runtime.sha256 in result.output
    assert hashlib.sha256(b"tampered").hexdigest() in result.output
    assert "Traceback" not in result.output
    assert not (ws.layers / "python.toml").exists()
