"""The test-runtime harness: Debian source discovery, the archive cache, the test manifest."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import sys
import time
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib
from tests.harness import cpython_sources as cs
from tests.harness import runtimes as rt

SOURCES_INDEX = """\
Package: python3.13
Binary: python3.13, python3.13-venv
Version: 3.13.5-2+deb13u5
Checksums-Sha256:
 {a} 4298 python3.13_3.13.5-2+deb13u5.dsc
 {b} 22856016 python3.13_3.13.5.orig.tar.xz
 {c} 963 python3.13_3.13.5.orig.tar.xz.asc
Directory: pool/main/p/python3.13

Package: python3.13
Version: 3.13.15-1
Checksums-Sha256:
 {d} 23160540 python3.13_3.13.15.orig.tar.xz

Package: python3.11
Version: 3.11.2-6+deb12u8
Checksums-Sha256:
 {e} 26437858 python3.11_3.11.2.orig.tar.gz

Package: python3-defaults
Version: 3.13.5-1
Checksums-Sha256:
 {f} 1 python3-defaults_3.13.5.tar.gz

Package: python3.13-docs
Version: 3.13.5-1
Checksums-Sha256:
 {g} 1 python3.13_3.13.5.orig.tar.xz
""".format(a="a" * 64, b="b" * 64, c="c" * 64, d="d" * 64, e="e" * 64, f="f" * 64, g="g" * 64)


def test_sources_index_yields_upstream_releases_only() -> None:
    found = cs.parse_sources_index(SOURCES_INDEX, "sid")
    assert [(p.package, p.version, p.debian_version) for p in found] == [
        ("python3.13", "3.13.5", "3.13.5-2+deb13u5"),
        ("python3.13", "3.13.15", "3.13.15-1"),
        ("python3.11", "3.11.2", "3.11.2-6+deb12u8"),
    ]
    first = found[0]
    assert first.orig_file == "python3.13_3.13.5.orig.tar.xz"
    assert first.orig_sha256 == "b" * 64
    assert (first.minor, first.suite) == ("3.13", "sid")


def test_candidates_are_newest_first_per_minor() -> None:
    found = cs.parse_sources_index(SOURCES_INDEX, "sid")
    order = [p.version for p in cs.select(found, ["3.11", "3.12", "3.13"])]
    # 3.13.15 sorts above 3.13.5 numerically, not as text.
    assert order == ["3.11.2", "3.13.15", "3.13.5"]


def test_deb_src_entry_mirrors_the_debian_entry() -> None:
    debian_sources = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
    entry = cs.deb_src_entry(debian_sources)
    assert entry is not None
    fields = dict(cs._deb822_fields(entry))
    assert fields == {
        "Types": "deb-src",
        "URIs": "http://deb.debian.org/debian",
        "Suites": "bookworm trixie sid",
        "Components": "main",
        "Signed-By": "/usr/share/keyrings/debian-archive-keyring.gpg",
    }
    assert cs.deb_src_entry("Types: deb\nURIs: https://example.com/apt\n") is None


def fake_runtime(directory: Path, version: str, content: bytes = b"archive") -> rt.BuiltRuntime:
    archive = directory / f"python-{version}-linux-amd64.tar.gz"
    archive.write_bytes(content)
    stat = archive.stat()
    sha256 = cs.sha256_file(archive)
    meta = {
        "sha256": sha256,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }
    rt.metadata_path(archive).write_text(json.dumps(meta))
    return rt.BuiltRuntime(version, "amd64", archive, sha256)


def test_cached_archive_is_found_and_checked(tmp_path: Path) -> None:
    expected = fake_runtime(tmp_path, "3.13.5")
    assert rt.load_cached("3.13.5", "amd64", tmp_path) == expected
    assert rt.load_cached("3.13.6", "amd64", tmp_path) is None
    # A changed archive no longer matches its recorded sha256.
    expected.archive_path.write_bytes(b"truncated")
    assert rt.load_cached("3.13.5", "amd64", tmp_path) is None
    # An archive without metadata (e.g. a build that died) is not trusted.
    fake_runtime(tmp_path, "3.11.2")
    rt.metadata_path(tmp_path / "python-3.11.2-linux-amd64.tar.gz").unlink()
    assert rt.load_cached("3.11.2", "amd64", tmp_path) is None


def test_manifest_lists_minors_with_eol_and_releases(tmp_path: Path) -> None:
    runtimes = [fake_runtime(tmp_path, v) for v in ("3.11.2", "3.13.15", "3.13.5")]
    path = rt.write_test_manifest(runtimes, "http://127.0.0.1:8080/dist/", tmp_path / "m.toml")
    data = tomllib.loads(path.read_text())
    # The end-of-life policy is the shipped one, so test builds warn and fail as real ones do.
    assert data["minors"] == rt.shipped_minors()
    assert data["minors"][0] == {
        "version": "3.10",
        "warn_from": datetime.date(2026, 5, 1),
        "eol": datetime.date(2026, 10, 31),
        "builds_stop": datetime.date(2027, 2, 1),
    }
    assert [r["version"] for r in data["releases"]] == ["3.13.15", "3.13.5", "3.11.2"]
    release = data["releases"][0]
    assert release == {
        "version": "3.13.15",
        "os": "linux",
        "arch": "amd64",
        "libc": "gnu",
        "url": "http://127.0.0.1:8080/dist/python-3.13.15-linux-amd64.tar.gz",
        "sha256": runtimes[1].sha256,
    }


def _hold_lock(lock: Path, marker: Path, seconds: float) -> None:
    with rt.file_lock(lock):
        marker.write_text("held")
        time.sleep(seconds)


def test_file_lock_makes_other_processes_wait(tmp_path: Path) -> None:
    lock, marker = tmp_path / "x.lock", tmp_path / "held"
    other = multiprocessing.get_context("fork").Process(target=_hold_lock, args=(lock, marker, 0.6))
    other.start()
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    with rt.file_lock(lock):
        waited = time.monotonic() - start
    other.join()
    assert waited >= 0.3


def test_versions_env_narrows_the_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(rt.VERSIONS_ENV, "3.13.5, 3.11.2")
    assert rt.wanted_versions() == {"3.13.5", "3.11.2"}
    monkeypatch.setenv(rt.VERSIONS_ENV, "")
    assert rt.wanted_versions() is None


def test_only_the_runtimes_asked_for_are_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `make demo` asks for the newest 3.13 only: on a fresh machine nothing else gets built.
    sources = [
        cs.CachedSource(v, f"python{v[:4]}", f"{v}-1", "sid", tmp_path / f"{v}.tar.xz", "0" * 64)
        for v in ("3.11.2", "3.13.5", "3.13.15")
    ]
    built: list[str] = []

    def build(
        source: cs.CachedSource, arch: str, cache_dir: Path, *, optimize: bool = False
    ) -> rt.BuiltRuntime:
        built.append(source.version + (" optimized" if optimize else ""))
        assert optimize == (cache_dir == tmp_path / "optimized")
        return fake_runtime(cache_dir, source.version)

    monkeypatch.setattr(rt, "RUNTIMES_DIR", tmp_path)
    monkeypatch.setattr(rt, "OPTIMIZED_DIR", tmp_path / "optimized")
    monkeypatch.setattr(rt, "available_sources", lambda: sources)
    monkeypatch.setattr(rt, "build_runtime", build)
    monkeypatch.setattr(rt.runtime_builder, "host_arch", lambda: "amd64")
    monkeypatch.delenv(rt.VERSIONS_ENV, raising=False)

    assert rt.ensure_newest("3.13").version == "3.13.15"
    assert built == ["3.13.15"]
    # Cached now: asking again builds nothing; asking for all builds the rest, once each.
    assert rt.ensure_runtimes(versions={"3.13.15"})[0].version == "3.13.15"
    assert [r.version for r in rt.ensure_runtimes()] == ["3.11.2", "3.13.5", "3.13.15"]
    assert built == ["3.13.15", "3.11.2", "3.13.5"]
    with pytest.raises(RuntimeError, match=r"no CPython 3\.12"):
        rt.ensure_newest("3.12")
    # The benchmarks' runtime, built with PGO and LTO: cached apart from the tests' ones.
    optimized = rt.ensure_newest("3.13", optimized=True)
    assert optimized.archive_path.parent == tmp_path / "optimized"
    assert rt.ensure_newest("3.13", optimized=True) == optimized
    assert built == ["3.13.15", "3.11.2", "3.13.5", "3.13.15 optimized"]
