from __future__ import annotations

import hashlib
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import tomli_w

from python_buildpack.distributions import (
    ArchivePlatform,
    DownloadSource,
    Manifest,
    MinorEntry,
    Support,
    archive_url,
    bundled_path,
    mirror_from_env,
    read_dependency_mappings,
)
from python_buildpack.errors import (
    InvalidDependencyMapping,
    InvalidManifest,
    InvalidPlatformEnv,
    ManifestNotToml,
    ManifestUnreadable,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
AMD64 = ArchivePlatform("linux", "amd64")
ARM64 = ArchivePlatform("linux", "arm64")
TODAY = date(2026, 1, 15)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def minor(version: str, eol_day: date, **overrides: Any) -> dict[str, Any]:
    """A [[minors]] table with the shipped policy for an October 31st end of life: warnings from
    May 1st, builds until January 31st."""
    entry: dict[str, Any] = {
        "version": version,
        "warn_from": date(eol_day.year, 5, 1),
        "eol": eol_day,
        "builds_stop": date(eol_day.year + 1, 2, 1),
    }
    entry.update(overrides)
    return entry


def release(version: str, arch: str = "amd64", **overrides: Any) -> dict[str, Any]:
    entry = {
        "version": version,
        "os": "linux",
        "arch": arch,
        "libc": "gnu",
        "url": f"https://example.com/dl/cpython-{version}%2B2025-{arch}.tar.gz",
        "sha256": sha(f"{version}-{arch}"),
    }
    entry.update(overrides)
    return entry


def manifest_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "minors": [
            minor("3.11", date(2027, 10, 31)),
            minor("3.12", date(2028, 10, 31)),
            minor("3.13", date(2029, 10, 31)),
            minor("3.14", date(2030, 10, 31)),
        ],
        "releases": [
            release("3.11.9"),
            release("3.12.3"),
            release("3.12.10"),
            release("3.12.10", "arm64"),
            release("3.13.5"),
            release("3.14.0rc1"),
        ],
    }
    data.update(overrides)
    return data


def write_manifest(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def problems_of(data: dict[str, Any]) -> str:
    with pytest.raises(InvalidManifest) as info:
        Manifest.from_data(data, "python-versions.toml")
    return info.value.render()


# --- loading and validation -------------------------------------------------------------------


def test_load_round_trips_the_documented_format(tmp_path: Path) -> None:
    path = tmp_path / "python-versions.toml"
    path.write_text(
        "[[minors]]\n"
        'version = "3.13"\n'
        "warn_from = 2029-05-01\n"
        "eol = 2029-10-31\n"
        "builds_stop = 2030-02-01\n"
        "[[releases]]\n"
        'version = "3.13.5"\n'
        'os = "linux"\n'
        'arch = "amd64"\n'
        'libc = "gnu"\n'
        'url = "https://example.com/cpython-3.13.5.tar.gz"\n'
        f'sha256 = "{"AB" * 32}"\n'
    )
    manifest = Manifest.load(path)
    assert manifest.minors[0].eol == date(2029, 10, 31)
    assert manifest.minors[0].warn_from == date(2029, 5, 1)
    assert manifest.minors[0].builds_stop == date(2030, 2, 1)
    assert manifest.minors[0].last_build_day == date(2030, 1, 31)
    (rel,) = manifest.releases
    assert rel.platform == AMD64
    assert rel.sha256 == "ab" * 32  # normalised to lower case
    assert rel.filename == "cpython-3.13.5.tar.gz"


def test_load_reports_toml_syntax_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("[[minors]\nversion = 3.13\n")
    with pytest.raises(ManifestNotToml) as info:
        Manifest.load(path)
    assert "not valid TOML" in info.value.render()
    assert str(path) in info.value.render()


def test_load_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestUnreadable, match="manifest") as info:
        Manifest.load(tmp_path / "missing.toml")
    assert "cannot read the file" in info.value.render()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"version": "3.13"}, "[[releases]] #1 (version 3.13): version: must look like 3.13.5"),
        ({"version": "3.13.5-dev"}, "version: must look like 3.13.5"),
        ({"sha256": "abc"}, "sha256: must be 64 hexadecimal characters, got 'abc'"),
        ({"sha256": "g" * 64}, "sha256: must be 64 hexadecimal characters"),
        ({"arch": "x86_64"}, "arch: must be a CNB/Go architecture name such as amd64"),
        ({"os": "windows"}, "os: must be 'linux'"),
        ({"libc": "uclibc"}, "libc: Input should be 'gnu' or 'musl'"),
        ({"url": "ftp://example.com/a.tar.gz"}, "url: must be an https://, http:// or file://"),
        ({"checksum": "x"}, "checksum: Extra inputs are not permitted"),
    ],
)
def test_release_validation_names_entry_and_field(change: dict[str, Any], expected: str) -> None:
    entry = release("3.13.5")
    entry.update(change)
    data = manifest_data(releases=[entry])
    assert expected in problems_of(data)


def test_missing_release_key_is_reported() -> None:
    entry = release("3.13.5")
    del entry["sha256"]
    assert "[[releases]] #1 (version 3.13.5): sha256: Field required" in problems_of(
        manifest_data(releases=[entry])
    )


@pytest.mark.parametrize(
    ("minor", "expected"),
    [
        (minor("3.13.1", date(2029, 10, 31)), "must look like 3.13 (major.minor)"),
        (minor("3.13", date(2029, 10, 31), eol="soon"), "eol: Input should be a valid date"),
        ({"version": "3.13"}, "eol: Field required"),
        ({"version": "3.13", "eol": date(2029, 10, 31)}, "builds_stop: Field required"),
        ({"version": "3.13", "eol": date(2029, 10, 31)}, "warn_from: Field required"),
        (minor("3.13", date(2029, 10, 31), grace="90d"), "grace: Extra inputs are not permitted"),
        (
            minor("3.13", date(2029, 10, 31), builds_stop=date(2029, 10, 31)),
            "(version 3.13): dates must be in the order warn_from <= eol < builds_stop",
        ),
        (
            minor("3.13", date(2029, 10, 31), warn_from=date(2029, 11, 1)),
            "got warn_from = 2029-11-01, eol = 2029-10-31, builds_stop = 2030-02-01",
        ),
    ],
)
def test_minor_validation(minor: dict[str, Any], expected: str) -> None:
    message = problems_of(manifest_data(minors=[minor], releases=[]))
    assert "[[minors]] #1" in message
    assert expected in message


def test_every_problem_is_listed() -> None:
    data = manifest_data(releases=[release("3.13.5", sha256="x"), release("3.13", arch="x86")])
    message = problems_of(data)
    assert "[[releases]] #1 (version 3.13.5): sha256" in message
    assert "[[releases]] #2 (version 3.13): version" in message
    assert "[[releases]] #2 (version 3.13): arch" in message


def test_release_needs_a_minor_entry() -> None:
    data = manifest_data(releases=[release("3.9.18")])
    assert "release 3.9.18 has no [[minors]] entry for 3.9" in problems_of(data)


def test_duplicate_version_and_target_is_rejected() -> None:
    data = manifest_data(releases=[release("3.13.5"), release("3.13.5", url="https://x/y.tgz")])
    assert "release 3.13.5 for linux/amd64 (gnu libc) is listed more than once" in problems_of(data)


def test_same_version_for_two_targets_is_fine() -> None:
    manifest = Manifest.from_data(
        manifest_data(releases=[release("3.13.5"), release("3.13.5", "arm64")])
    )
    assert len(manifest.releases) == 2


def test_duplicate_minor_is_rejected() -> None:
    minors = [minor("3.13", date(2029, 10, 31))] * 2
    assert "[[minors]] lists 3.13 more than once" in problems_of(
        manifest_data(minors=minors, releases=[])
    )


# --- queries ----------------------------------------------------------------------------------


@pytest.fixture
def manifest() -> Manifest:
    return Manifest.from_data(manifest_data())


def test_releases_for_target_newest_first(manifest: Manifest) -> None:
    versions = [r.version for r in manifest.releases_for(AMD64)]
    assert versions == ["3.14.0rc1", "3.13.5", "3.12.10", "3.12.3", "3.11.9"]
    assert [r.version for r in manifest.releases_for(ARM64)] == ["3.12.10"]
    assert manifest.releases_for(ArchivePlatform("linux", "amd64", "musl")) == []


def test_newest_patch_is_numeric_not_lexical(manifest: Manifest) -> None:
    newest = manifest.newest_patch((3, 12), AMD64)
    assert newest is not None
    assert newest.version == "3.12.10"


def test_newest_patch_ignores_prereleases(manifest: Manifest) -> None:
    assert manifest.newest_patch((3, 14), AMD64) is None
    assert manifest.newest_patch((3, 10), AMD64) is None


def test_supported_and_default_minors(manifest: Manifest) -> None:
    supported = [e.version for e in manifest.supported_minors(AMD64, TODAY)]
    # 3.14 has only a release candidate, so it is not supported yet.
    assert supported == ["3.11", "3.12", "3.13"]
    default = manifest.default_minor(AMD64, TODAY)
    assert default is not None
    assert default.version == "3.13"
    arm_default = manifest.default_minor(ARM64, TODAY)
    assert arm_default is not None
    assert arm_default.version == "3.12"


def test_supported_minors_keep_the_grace_period(manifest: Manifest) -> None:
    # 3.11: eol 2027-10-31, builds stop 2028-02-01.
    in_grace = date(2027, 11, 1)
    assert [e.version for e in manifest.supported_minors(AMD64, in_grace)] == [
        "3.11",
        "3.12",
        "3.13",
    ]
    last_day = date(2028, 1, 31)
    assert manifest.supported_minors(AMD64, last_day)[0].version == "3.11"
    stopped = date(2028, 2, 1)
    assert [e.version for e in manifest.supported_minors(AMD64, stopped)] == ["3.12", "3.13"]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2027, 4, 30), Support.SUPPORTED),
        (date(2027, 5, 1), Support.ENDING),  # warn_from
        (date(2027, 10, 31), Support.ENDING),  # the eol day itself is still supported
        (date(2027, 11, 1), Support.GRACE),
        (date(2028, 1, 31), Support.GRACE),  # the last day builds pass
        (date(2028, 2, 1), Support.ENDED),  # builds_stop
        (date(2035, 1, 1), Support.ENDED),
    ],
)
def test_support_follows_the_dates(today: date, expected: Support) -> None:
    entry = MinorEntry.model_validate(minor("3.11", date(2027, 10, 31)))
    assert entry.support(today) is expected
    assert expected.builds == (expected is not Support.ENDED)


def test_minors_older_than_3_10_are_never_supported() -> None:
    data = manifest_data(minors=[minor("3.9", date(2099, 10, 31))], releases=[release("3.9.18")])
    assert Manifest.from_data(data).supported_minors(AMD64, TODAY) == []
    assert Manifest.from_data(data).minors[0].support(TODAY) is Support.ENDED


# --- the shipped manifest ---------------------------------------------------------------------


def test_shipped_manifest_is_valid_and_complete() -> None:
    manifest = Manifest.load(REPO_ROOT / "python-versions.toml")
    expected_minors = [(3, 10), (3, 11), (3, 12), (3, 13), (3, 14)]
    assert [e.minor for e in manifest.minors] == expected_minors
    for target, triple in ((AMD64, "x86_64"), (ARM64, "aarch64")):
        for minor in expected_minors:
            rel = manifest.newest_patch(minor, target)
            assert rel is not None, (minor, target)
            assert rel.url.startswith(
                "https://github.com/astral-sh/python-build-standalone/releases/download/"
            )
            assert rel.url.endswith(f"-{triple}-unknown-linux-gnu-install_only_stripped.tar.gz")
            assert f"cpython-{rel.version}%2B" in rel.url
    # Each archive is a different file.
    assert len({r.sha256 for r in manifest.releases}) == len(manifest.releases)
    default = manifest.default_minor(AMD64, date(2026, 6, 1))
    assert default is not None
    assert default.version == "3.14"


def test_shipped_policy_gives_notice_and_grace() -> None:
    """Every minor warns for six months before its end of life, and builds for three after."""
    manifest = Manifest.load(REPO_ROOT / "python-versions.toml")
    for entry in manifest.minors:
        assert (entry.eol - entry.warn_from).days >= 180, entry.version
        assert (entry.builds_stop - entry.eol).days >= 90, entry.version
    py310 = manifest.minor_entry((3, 10))
    assert py310 is not None
    assert py310.support(date(2026, 11, 30)) is Support.GRACE


# --- mirrors and mappings ---------------------------------------------------------------------


def test_archive_url_from_manifest(manifest: Manifest) -> None:
    rel = manifest.releases[0]
    assert archive_url(rel, None, {}) == DownloadSource(rel.url, "manifest")


@pytest.mark.parametrize(
    "mirror", ["https://mirror.internal/python", "https://mirror.internal/python/"]
)
def test_mirror_keeps_only_the_file_name(manifest: Manifest, mirror: str) -> None:
    rel = manifest.releases[0]
    source = archive_url(rel, mirror, {})
    assert source == DownloadSource(
        "https://mirror.internal/python/cpython-3.11.9%2B2025-amd64.tar.gz", "mirror"
    )


def test_mapping_wins_over_mirror(manifest: Manifest) -> None:
    rel = manifest.releases[0]
    mappings = {rel.sha256: "file:///deps/python.tar.gz"}
    assert archive_url(rel, "https://mirror.internal", mappings) == DownloadSource(
        "file:///deps/python.tar.gz", "binding"
    )
    other = manifest.releases[1]
    assert archive_url(other, "https://m", mappings).via == "mirror"


def test_bundled_archive_wins_over_every_other_source(manifest: Manifest, tmp_path: Path) -> None:
    rel = manifest.releases[0]
    bundled = bundled_path(tmp_path, rel)
    # keyed by checksum, under the plain file name (the URL's `%2B` decoded)
    assert bundled == tmp_path / "dependencies" / rel.sha256 / "cpython-3.11.9+2025-amd64.tar.gz"
    mappings = {rel.sha256: "file:///deps/python.tar.gz"}
    assert archive_url(rel, "https://m", mappings, tmp_path).via == "binding"
    bundled.parent.mkdir(parents=True)
    bundled.write_bytes(b"archive")
    source = archive_url(rel, "https://m", mappings, tmp_path)
    assert source.via == "bundled"
    assert source.url.startswith("file:///")
    # the URL names the file (what download() copies, checking the sha256)
    assert urllib.request.url2pathname(urlsplit(source.url).path) == str(bundled)
    # another release's archive is not taken for this one
    other = manifest.releases[1]
    assert archive_url(other, None, {}, tmp_path) == DownloadSource(other.url, "manifest")


def test_mirror_from_env() -> None:
    assert mirror_from_env({}) is None
    assert mirror_from_env({"BP_PYTHON_MIRROR": "  "}) is None
    assert mirror_from_env({"BP_PYTHON_MIRROR": "https://m.example/py"}) == "https://m.example/py"
    assert mirror_from_env({"BP_PYTHON_MIRROR": "file:///srv/python"}) == "file:///srv/python"
    with pytest.raises(InvalidPlatformEnv) as info:
        mirror_from_env({"BP_PYTHON_MIRROR": "mirror.example.com/python"})
    assert "BP_PYTHON_MIRROR" in info.value.title


def make_binding(root: Path, name: str, kind: str, entries: dict[str, str]) -> Path:
    binding = root / name
    binding.mkdir(parents=True)
    (binding / "type").write_text(kind + "\n")
    for key, value in entries.items():
        (binding / key).write_text(value)
    return binding


def test_mappings_from_platform_bindings(tmp_path: Path) -> None:
    platform = tmp_path / "platform"
    a, b, c = sha("a"), sha("b"), sha("c")
    make_binding(
        platform / "bindings",
        "python-archives",
        "dependency-mapping",
        {
            a: " file:///deps/a.tar.gz\n",
            f"sha256:{b}": "https://internal/b.tar.gz",
            f"sha256_{c.upper()}": "http://internal/c.tar.gz",
            "provider": "acme",
            "README": "not a checksum",
        },
    )
    make_binding(platform / "bindings", "db", "postgresql", {sha("d"): "https://nope"})
    (platform / "bindings" / "stray-file").write_text("x")
    assert read_dependency_mappings(platform, {}) == {
        a: "file:///deps/a.tar.gz",
        b: "https://internal/b.tar.gz",
        c: "http://internal/c.tar.gz",
    }


def test_service_binding_root_takes_precedence(tmp_path: Path) -> None:
    platform = tmp_path / "platform"
    make_binding(platform / "bindings", "m", "dependency-mapping", {sha("a"): "file:///p"})
    root = tmp_path / "sbr"
    make_binding(root, "m", "dependency-mapping", {sha("a"): "file:///sbr"})
    assert read_dependency_mappings(platform, {"SERVICE_BINDING_ROOT": str(root)}) == {
        sha("a"): "file:///sbr"
    }
    assert read_dependency_mappings(platform, {"CNB_BINDINGS": str(root)}) == {
        sha("a"): "file:///sbr"
    }


def test_first_binding_by_name_wins(tmp_path: Path) -> None:
    root = tmp_path / "bindings"
    make_binding(root, "b-second", "dependency-mapping", {sha("a"): "file:///second"})
    make_binding(root, "a-first", "dependency-mapping", {sha("a"): "file:///first"})
    assert read_dependency_mappings(tmp_path, {}) == {sha("a"): "file:///first"}


def test_legacy_cnb_binding_layout(tmp_path: Path) -> None:
    metadata = tmp_path / "bindings" / "old" / "metadata"
    metadata.mkdir(parents=True)
    (metadata / "kind").write_text("dependency-mapping")
    (metadata / sha("a")).write_text("file:///legacy")
    assert read_dependency_mappings(tmp_path, {}) == {sha("a"): "file:///legacy"}


def test_no_bindings_dir(tmp_path: Path) -> None:
    assert read_dependency_mappings(tmp_path, {}) == {}


def test_mapping_to_something_not_a_url(tmp_path: Path) -> None:
    make_binding(tmp_path / "bindings", "m", "dependency-mapping", {sha("a"): "/deps/a.tgz"})
    with pytest.raises(InvalidDependencyMapping) as info:
        read_dependency_mappings(tmp_path, {})
    assert sha("a") in info.value.render()
    assert "/deps/a.tgz" in info.value.render()


def test_mapping_end_to_end_with_a_manifest(tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "python-versions.toml", manifest_data())
    manifest = Manifest.load(path)
    rel = manifest.newest_patch((3, 13), AMD64)
    assert rel is not None
    make_binding(tmp_path / "bindings", "m", "dependency-mapping", {rel.sha256: "file:///x.tgz"})
    mappings = read_dependency_mappings(tmp_path, {})
    assert archive_url(rel, None, mappings) == DownloadSource("file:///x.tgz", "binding")


def test_a_release_may_cap_its_unpacked_size() -> None:
    data = manifest_data(releases=[release("3.13.5", max_unpacked_bytes=500_000_000)])
    manifest = Manifest.from_data(data, "python-versions.toml")
    assert manifest.releases[0].max_unpacked_bytes == 500_000_000
    assert Manifest.from_data(manifest_data(), "m").releases[0].max_unpacked_bytes is None
    assert "max_unpacked_bytes" in problems_of(
        manifest_data(releases=[release("3.13.5", max_unpacked_bytes=0)])
    )
