"""Installing a packaging tool from its hash-pinned wheel, without pip.

The wheels here are made by the tests (a zip with the PEP 427 layout): one pure, with console
scripts (like pip), one carrying a binary in `.data/scripts` per platform (like uv).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import ssl
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.tags import Tag

from python_buildpack.errors import (
    ToolWheelChecksumMismatch,
    ToolWheelNotFound,
    UnsafeArchive,
    WheelDistInfoNotOne,
    WheelMemberOutside,
    WheelSchemeUnsupported,
)
from python_buildpack.fixed_mtime import FIXED_MTIME
from python_buildpack.pinned_wheels import (
    IndexSettings,
    Pin,
    fetch_wheel,
    find_wheel,
    pinned_wheel,
    read_pin,
)
from python_buildpack.wheel_install import install_wheel
from tests.harness.http_server import FileServer
from tests.harness.tls_certs import make_certificates

X86 = Tag("py3", "none", "manylinux_2_17_x86_64")
ARM = Tag("py3", "none", "manylinux_2_17_aarch64")


def make_wheel(
    path: Path, files: dict[str, bytes], dist_info: str = "bp_tool-1.0.dist-info"
) -> Path:
    files = {
        **files,
        f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: bp-tool\nVersion: 1.0\n",
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
    }
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        writer.writerow([name, f"sha256={digest.decode()}", len(content)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 5))
            info.external_attr = (0o755 if name.endswith("/bp-tool-bin") else 0o644) << 16
            archive.writestr(info, content)
    return path


PURE = {
    "bp_tool/__init__.py": b"def main():\n    print('bp-tool ran')\n    return 0\n",
    "bp_tool-1.0.dist-info/entry_points.txt": (
        b"[console_scripts]\nbp-tool = bp_tool:main\n\n[other]\nx = y:z\n"
    ),
}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pure_wheel_installs_with_working_scripts_and_consistent_record(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "bp_tool-1.0-py3-none-any.whl", PURE)
    site = tmp_path / "layer" / "lib" / "site-packages"
    bin_dir = tmp_path / "layer" / "bin"
    installed = install_wheel(
        wheel, site, bin_dir, Path(sys.executable), script_aliases=["bp-tool3"]
    )
    assert [p.name for p in installed.scripts] == ["bp-tool", "bp-tool3"]
    assert (installed.dist_info / "INSTALLER").read_text() == "python-buildpack\n"

    # RECORD lists every file written, with the hashes of what is on disk.
    rows = list(csv.reader((installed.dist_info / "RECORD").read_text().splitlines()))
    on_disk = sorted(
        os.path.relpath(p, site) for p in (tmp_path / "layer").rglob("*") if p.is_file()
    )
    assert sorted(row[0] for row in rows) == on_disk
    for name, digest, size in rows:
        if name.endswith("RECORD"):
            assert digest == size == ""
            continue
        content = (site / name).read_bytes()
        assert size == str(len(content))
        expected = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        assert digest == f"sha256={expected.decode()}"
    # Fixed modes and mtimes, so the layer holds the same bytes and metadata every time.
    for path in (tmp_path / "layer").rglob("*"):
        if path.is_file():
            assert path.stat().st_mtime == FIXED_MTIME
            assert path.stat().st_mode & 0o777 == (0o755 if path.parent == bin_dir else 0o644)
    env = {"PYTHONPATH": str(site), "PATH": os.environ["PATH"]}
    ran = subprocess.run([bin_dir / "bp-tool3"], env=env, capture_output=True, text=True)
    assert ran.stdout == "bp-tool ran\n" and ran.returncode == 0


def test_install_is_reproducible(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "bp_tool-1.0-py3-none-any.whl", PURE)
    trees = []
    for n in (1, 2):
        root = tmp_path / f"layer{n}"
        install_wheel(wheel, root / "site", root / "bin", Path("/layers/python/bin/python3"))
        trees.append({p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()})
    assert trees[0] == trees[1]


def test_binary_in_data_scripts_goes_to_bin(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path / "bp_tool-1.0-py3-none-manylinux_2_17_x86_64.whl",
        {
            "bp_tool/__init__.py": b"",
            "bp_tool-1.0.data/scripts/bp-tool-bin": b"\x7fELF binary",
            "bp_tool-1.0.data/scripts/helper": b"#!python\nprint('hi')\n",
        },
    )
    install_wheel(wheel, tmp_path / "site", tmp_path / "bin", Path("/py/bin/python3"))
    binary = tmp_path / "bin" / "bp-tool-bin"
    assert binary.read_bytes() == b"\x7fELF binary" and os.access(binary, os.X_OK)
    assert (tmp_path / "bin" / "helper").read_text().startswith("#!/py/bin/python3\n")
    assert not (tmp_path / "site" / "bp_tool-1.0.data").exists()


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("../evil.py", WheelMemberOutside, "points outside the install directory"),
        ("/etc/evil", WheelMemberOutside, "points outside the install directory"),
        ("bp_tool-1.0.data/headers/x.h", WheelSchemeUnsupported, "which installs to 'headers'"),
        ("other-2.0.dist-info/METADATA", WheelDistInfoNotOne, "is not one .dist-info directory"),
    ],
)
def test_unsafe_members_are_refused(
    tmp_path: Path, name: str, error: type[UnsafeArchive], words: str
) -> None:
    wheel = make_wheel(tmp_path / "bp_tool-1.0-py3-none-any.whl", {name: b"x"})
    with pytest.raises(error) as caught:
        install_wheel(wheel, tmp_path / "site", tmp_path / "bin", Path("/py"))
    assert words in caught.value.detail
    assert not (tmp_path / "evil.py").exists()


def write_index(root: Path, wheels: list[Path], hashes: bool = True) -> str:
    """A PEP 503 tree under `root/simple` with the files under `root/files`."""
    (root / "files").mkdir(parents=True)
    page = root / "simple" / "bp-tool"
    page.mkdir(parents=True)
    links = []
    for wheel in wheels:
        (root / "files" / wheel.name).write_bytes(wheel.read_bytes())
        fragment = f"#sha256={sha(wheel)}" if hashes else ""
        links.append(f'<a href="../../files/{wheel.name}{fragment}">{wheel.name}</a>')
    (page / "index.html").write_text("<html><body>" + "\n".join(links) + "</body></html>")
    return (root / "simple").as_uri()


def platform_wheels(tmp_path: Path) -> list[Path]:
    tmp_path.mkdir()
    made = []
    for tag in ("manylinux_2_17_aarch64", "manylinux_2_17_x86_64", "musllinux_1_1_x86_64"):
        made.append(
            make_wheel(
                tmp_path / f"bp_tool-1.0-py3-none-{tag}.whl",
                {"bp_tool-1.0.data/scripts/bp-tool-bin": tag.encode()},
            )
        )
    return made


def test_the_best_pinned_wheel_for_the_platform_is_found_and_fetched(tmp_path: Path) -> None:
    wheels = platform_wheels(tmp_path / "built")
    pin = Pin("bp-tool", "1.0", frozenset(sha(w) for w in wheels))
    index = write_index(tmp_path / "index", wheels)
    settings = IndexSettings.from_environ({"PIP_INDEX_URL": index})
    link = find_wheel(pin, settings, tags=[X86, ARM])
    assert link.filename == "bp_tool-1.0-py3-none-manylinux_2_17_x86_64.whl"
    fetched = fetch_wheel(link, pin, tmp_path, settings)
    assert sha(fetched) == sha(wheels[1])
    assert find_wheel(pin, settings, tags=[ARM]).filename.endswith("aarch64.whl")


def test_only_pinned_hashes_count(tmp_path: Path) -> None:
    wheels = platform_wheels(tmp_path / "built")
    # The index offers x86_64, but only the aarch64 hash is pinned: nothing for this platform.
    pin = Pin("bp-tool", "1.0", frozenset({sha(wheels[0])}))
    index = write_index(tmp_path / "index", wheels)
    settings = IndexSettings.from_environ({"PIP_INDEX_URL": index})
    with pytest.raises(ToolWheelNotFound) as raised:
        find_wheel(pin, settings, tags=[X86])
    assert "simple/bp-tool/" in raised.value.detail


def test_a_file_without_a_listed_hash_is_checked_after_download(tmp_path: Path) -> None:
    wheels = platform_wheels(tmp_path / "built")
    pin = Pin("bp-tool", "1.0", frozenset({"0" * 64}))
    index = write_index(tmp_path / "index", wheels, hashes=False)
    settings = IndexSettings.from_environ({"PIP_INDEX_URL": index})
    link = find_wheel(pin, settings, tags=[X86])
    with pytest.raises(ToolWheelChecksumMismatch):
        fetch_wheel(link, pin, tmp_path, settings)
    assert not (tmp_path / link.filename).exists()


def test_find_links_directory_comes_first_and_missing_index_is_reported(tmp_path: Path) -> None:
    wheels = platform_wheels(tmp_path / "built")
    pin = Pin("bp-tool", "1.0", frozenset(sha(w) for w in wheels))
    environ = {
        "PIP_FIND_LINKS": str(tmp_path / "built"),
        "PIP_INDEX_URL": (tmp_path / "nowhere").as_uri(),
    }
    link = find_wheel(pin, IndexSettings.from_environ(environ), tags=[X86])
    assert link.url == (tmp_path / "built" / wheels[1].name).as_uri()
    with pytest.raises(ToolWheelNotFound) as raised:
        find_wheel(pin, IndexSettings.from_environ({"PIP_INDEX_URL": environ["PIP_INDEX_URL"]}))
    assert "nowhere" in raised.value.detail


def test_pinned_wheel_reads_the_pin_and_the_index_settings(tmp_path: Path) -> None:
    (tmp_path / "built").mkdir()
    pure = make_wheel(tmp_path / "built" / "bp_tool-1.0-py3-none-any.whl", {"bp_tool.py": b""})
    requirements = tmp_path / "bp-tool.txt"
    requirements.write_text(f"bp-tool==1.0 --hash=sha256:{sha(pure)}\n")
    environ = {"PIP_INDEX_URL": write_index(tmp_path / "index", [pure])}
    with pinned_wheel(requirements, "bp-tool", environ) as fetched:
        assert fetched.name == pure.name and sha(fetched) == sha(pure)
    assert not fetched.exists()


def test_read_pin_reads_continued_hash_lines(tmp_path: Path) -> None:
    requirements = tmp_path / "uv.txt"
    requirements.write_text(
        "# comment\nuv==0.13.9 \\\n    --hash=sha256:" + "a" * 64 + " \\\n"
        "    --hash=sha256:" + "b" * 64 + "\n"
    )
    assert read_pin(requirements, "uv") == Pin("uv", "0.13.9", frozenset({"a" * 64, "b" * 64}))


def test_buildpack_pins_read() -> None:
    root = Path(__file__).resolve().parents[2] / "requirements"
    assert read_pin(root / "pip.txt", "pip").version
    assert len(read_pin(root / "uv.txt", "uv").hashes) > 5


def test_an_index_behind_a_private_ca_and_basic_auth_is_read_with_pip_cert_and_netrc(
    tmp_path: Path,
) -> None:
    # What a build gets from `ca-certificates` and `pip` bindings: PIP_CERT and NETRC only.
    wheels = platform_wheels(tmp_path / "built")
    pin = Pin("bp-tool", "1.0", frozenset(sha(w) for w in wheels))
    index = Path(write_index(tmp_path / "index", wheels).removeprefix("file://")).parent
    certs = make_certificates(tmp_path / "certs")
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text("machine 127.0.0.1 login robot password s3cret\n")
    with FileServer(index, tls=certs.server_context(), basic_auth=("robot", "s3cret")) as server:
        environ = {
            "PIP_INDEX_URL": f"{server.url}/simple",
            "PIP_CERT": str(tmp_path / "certs" / "ca.pem"),
        }
        with pytest.raises(ToolWheelNotFound) as raised:
            find_wheel(pin, IndexSettings.from_environ(environ), tags=[X86])
        assert "401" in raised.value.detail
        settings = IndexSettings.from_environ({**environ, "NETRC": str(netrc_file)})
        link = find_wheel(pin, settings, tags=[X86])
        assert sha(fetch_wheel(link, pin, tmp_path, settings)) == sha(wheels[1])
        assert {r.authorized for r in server.request_log if r.path.endswith(".whl")} == {True}


def test_tls_settings_only_for_https_and_made_once() -> None:
    from urllib.parse import urlsplit

    from python_buildpack import pinned_wheels

    settings = IndexSettings(
        find_links=(),
        indexes=("https://pypi.example.com/simple",),
        trusted_hosts=frozenset({"mirror.internal:8443"}),
        cert=None,
    )
    # Plain http has no certificates to load (about 20 ms each time).
    assert (
        pinned_wheels._ssl_context(urlsplit("http://127.0.0.1:8080/simple/uv/"), settings) is None
    )
    verified = pinned_wheels._ssl_context(urlsplit("https://pypi.example.com/simple/uv/"), settings)
    assert verified is not None and verified.verify_mode == ssl.CERT_REQUIRED
    assert verified.check_hostname
    # The index page and the wheel share one context.
    again = pinned_wheels._ssl_context(
        urlsplit("https://files.example.com/packages/uv.whl"), settings
    )
    assert again is verified
    trusted = pinned_wheels._ssl_context(
        urlsplit("https://user:pw@mirror.internal:8443/simple/uv/"), settings
    )
    assert trusted is not None and trusted.verify_mode == ssl.CERT_NONE
