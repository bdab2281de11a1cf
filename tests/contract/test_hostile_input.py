"""Hostile and faulty input at the `bin/detect`/`bin/build` level: one test per case.

Every case runs the real launchers in a clean environment whose platform env (as files and, as
the lifecycle passes it, in the process env) holds canary secrets. Each asserts the exit code,
the error title, no traceback, an end within a bound (the subprocess timeout), nothing written
outside the layers dir (app dir, platform dir and TMPDIR unchanged), no layer metadata left
behind by a failed step, and the canaries nowhere in the output or under the layers dir.

No case needs a real CPython: the buildpack dir's manifest lists a small fake archive served
from 127.0.0.1, so the suite runs on an empty cache in seconds.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.buildpack_dir import make_buildpack_dir
from tests.harness.http_server import FileServer
from tests.harness.phases import PhaseResult, Workspace, clean_env
from tests.harness.runtimes import BuiltRuntime, write_test_manifest

CANARY_TOKEN = "canary-token-7f3a9c1e"
CANARY_PASSWORD = "canary-pass-4b8d2e6f"
CANARIES = (CANARY_TOKEN, CANARY_PASSWORD)
SECRET_ENV = {
    "API_TOKEN": CANARY_TOKEN,
    "PIP_EXTRA_INDEX_URL": f"https://deploy:{CANARY_PASSWORD}@127.0.0.1:9/simple",
}
# Generous for a shared 2-core machine: every case ends in a few seconds when it works, and
# hangs for ever when it does not.
BOUND = 120
VERSION = "3.13.15"
OUTPUT_LIMIT = 64 * 1024


# --- fake Python archives -----------------------------------------------------------------


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def entry(
    name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755
    info.linkname = link
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


def fake_python(extra: list[tuple[tarfile.TarInfo, bytes | None]] | None = None) -> bytes:
    return tar_gz(
        [
            entry("python", kind=tarfile.DIRTYPE),
            entry("python/bin", kind=tarfile.DIRTYPE),
            entry("python/bin/python3", b"#!/bin/sh\nexit 0\n"),
            *(extra or []),
        ]
    )


def gzip_bomb(size: int) -> bytes:
    """A tar.gz of one file of `size` zero bytes: a few hundred KB that unpack to `size`."""
    info = tarfile.TarInfo("python/bin/python3")
    info.size = size
    info.mode = 0o755
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as gz:
        gz.write(info.tobuf(format=tarfile.GNU_FORMAT))
        zeros = bytes(1024 * 1024)
        for _ in range(size // len(zeros)):
            gz.write(zeros)
        gz.write(bytes(1024))  # end-of-archive blocks
    return out.getvalue()


@dataclass
class Mirror:
    server: FileServer
    root: Path


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    root = tmp_path_factory.mktemp("mirror")
    with FileServer(root) as server:
        yield Mirror(server, root)


def buildpack_serving(
    root: Path, mirror: Mirror, archive: bytes, *, max_unpacked_bytes: int | None = None
) -> Path:
    """A buildpack dir whose manifest's only 3.13 release is `archive`, served by `mirror`."""
    digest = hashlib.sha256(archive).hexdigest()
    name = f"cpython-{VERSION}-{digest[:12]}.tar.gz"
    (mirror.root / name).write_bytes(archive)
    fake = BuiltRuntime(VERSION, "amd64", mirror.root / name, digest)
    buildpack = make_buildpack_dir(root, [], mirror.server.url)
    manifest = write_test_manifest([fake], mirror.server.url, buildpack / "python-versions.toml")
    if max_unpacked_bytes is not None:
        text = manifest.read_text()
        sha_line = f'sha256 = "{digest}"'
        manifest.write_text(
            text.replace(sha_line, f"{sha_line}\nmax_unpacked_bytes = {max_unpacked_bytes}")
        )
    return buildpack


@pytest.fixture(scope="module")
def plain_buildpack(tmp_path_factory: pytest.TempPathFactory, mirror: Mirror) -> Path:
    return buildpack_serving(tmp_path_factory.mktemp("bp") / "buildpack", mirror, fake_python())


# --- running the phases -------------------------------------------------------------------


@dataclass
class HostileWorkspace(Workspace):
    """A workspace whose runs are bounded, can be wrapped (e.g. in a mount namespace), carry
    the canary secrets, and get a private TMPDIR to check nothing is left there."""

    wrap: tuple[str, ...] = ()
    extra_env: Mapping[str, str] | None = None

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def _run(self, phase: str, cnb_env: Mapping[str, str], path: str | None) -> PhaseResult:
        self.tmp.mkdir(exist_ok=True)
        env = clean_env(
            {**cnb_env, **SECRET_ENV, "TMPDIR": str(self.tmp), **(self.extra_env or {})}
        )
        proc = subprocess.run(
            [*self.wrap, str(self.buildpack_dir / "bin" / phase)],
            cwd=self.app,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=BOUND,
            check=False,
        )
        return PhaseResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def ws(tmp_path: Path, plain_buildpack: Path) -> HostileWorkspace:
    workspace = HostileWorkspace(tmp_path, buildpack_dir=plain_buildpack)
    for name, value in SECRET_ENV.items():
        workspace.set_platform_env(name, value)
    return workspace


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """What is under `root` (without following links): path -> (mode, size)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_mode, info.st_size)
    return found


def run_build(ws: HostileWorkspace) -> PhaseResult:
    """bin/build, with the checks every case shares: nothing outside the layers dir changed,
    no traceback, no flood, and no canary in the output or under the layers dir."""
    before = {"app": snapshot(ws.app), "platform": snapshot(ws.platform)}
    result = ws.build()
    assert snapshot(ws.app) == before["app"], "the build changed the app dir"
    assert snapshot(ws.platform) == before["platform"], "the build changed the platform dir"
    assert not any(ws.tmp.iterdir()), f"left in TMPDIR: {list(ws.tmp.iterdir())}"
    assert_clean_output(result)
    assert_no_canary_under(ws.layers)
    return result


def assert_clean_output(result: PhaseResult) -> None:
    assert "Traceback" not in result.output, result.output
    assert "INTERNAL ERROR" not in result.output, result.output
    assert len(result.output) < OUTPUT_LIMIT, f"{len(result.output)} characters of output"
    for canary in CANARIES:
        assert canary not in result.output, result.output


def assert_no_canary_under(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                for canary in CANARIES:
                    assert canary.encode() not in data, f"{canary} in {path}"


def assert_failed(result: PhaseResult, title: str, ws: HostileWorkspace) -> None:
    assert result.exit_code == 1, result.output
    assert f"! ERROR: {title}" in result.stderr, result.output
    # A failed build leaves no layer metadata claiming finished contents.
    tomls = [p.name for p in ws.layers.glob("*.toml")]
    assert tomls == [], tomls


def assert_before_any_layer(result: PhaseResult, ws: HostileWorkspace) -> None:
    assert "[Installing Python]" not in result.stdout, result.stdout
    assert list(ws.layers.iterdir()) == []


def minimal_app(ws: HostileWorkspace) -> None:
    (ws.app / "requirements.txt").write_text("")
    (ws.app / ".python-version").write_text("3.13\n")


# --- named pipes --------------------------------------------------------------------------

FIFO_FILES = [
    ".python-version",
    "runtime.txt",
    "pyproject.toml",
    "Procfile",
    "requirements.txt",
    "uv.lock",
    "manage.py",
]


@pytest.mark.parametrize("name", FIFO_FILES)
def test_a_named_pipe_as_an_app_file_fails_the_build_without_blocking(
    ws: HostileWorkspace, name: str
) -> None:
    (ws.app / "app.py").write_text("print('hi')\n")
    if name != "requirements.txt":
        (ws.app / "requirements.txt").write_text("")
    os.mkfifo(ws.app / name)
    result = run_build(ws)
    assert_failed(result, f"Unable to read {name}", ws)
    assert "named pipe (FIFO)" in result.stderr
    assert_before_any_layer(result, ws)


def test_a_named_pipe_as_a_requirements_include_fails_without_blocking(
    ws: HostileWorkspace,
) -> None:
    (ws.app / "requirements.txt").write_text("-r more.txt\n")
    os.mkfifo(ws.app / "more.txt")
    result = run_build(ws)
    assert_failed(result, "Invalid requirements.txt line 1", ws)
    assert "named pipe" in result.stderr
    assert_before_any_layer(result, ws)


def test_detect_neither_blocks_nor_passes_on_a_named_pipe(ws: HostileWorkspace) -> None:
    os.mkfifo(ws.app / "requirements.txt")
    result = ws.detect()
    assert result.exit_code == 100, result.output
    assert "Ignoring requirements.txt: it is a named pipe (FIFO)" in result.stdout
    assert_clean_output(result)
    assert not ws.build_plan.exists()


# --- symbolic links -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target"),
    [
        (".python-version", "/etc/shadow"),
        ("Procfile", "/etc/passwd"),
        ("Procfile", "/proc/self/environ"),
        (".python-version", "/proc/self/environ"),
        ("runtime.txt", "/proc/self/environ"),
        ("requirements.txt", "../outside.txt"),
    ],
)
def test_an_app_file_linking_outside_the_app_is_refused_unread(
    ws: HostileWorkspace, name: str, target: str
) -> None:
    (ws.root / "outside.txt").write_text(f"flask=={CANARY_TOKEN}\n")
    minimal_app(ws)
    (ws.app / name).unlink(missing_ok=True)
    (ws.app / name).symlink_to(target)
    result = run_build(ws)
    assert_failed(result, f"Unable to read {name}", ws)
    assert "outside the app directory" in result.stderr
    assert "root:" not in result.output  # nothing of /etc/passwd or /etc/shadow
    assert "CNB_" not in result.stderr  # nothing of the environment
    assert_before_any_layer(result, ws)


def test_a_symlink_loop_is_a_clear_error(ws: HostileWorkspace) -> None:
    minimal_app(ws)
    (ws.app / ".python-version").unlink()
    (ws.app / ".python-version").symlink_to("loop-b")
    (ws.app / "loop-b").symlink_to(".python-version")
    result = run_build(ws)
    assert_failed(result, "Unable to read .python-version", ws)
    assert "symbolic link loop" in result.stderr
    assert_before_any_layer(result, ws)


def test_links_inside_an_app_dir_that_is_itself_a_link_are_followed(
    ws: HostileWorkspace,
) -> None:
    real = ws.root / "real-app"
    real.mkdir()
    ws.app.rmdir()
    ws.app.symlink_to(real)
    (real / "requirements.txt").write_text("")
    (real / "config").mkdir()
    (real / "config" / "python-version").write_text("3.13.x\n")
    (real / ".python-version").symlink_to("config/python-version")
    detect = ws.detect()
    assert detect.exit_code == 0, detect.output
    result = run_build(ws)
    # The link was read (its content is what the error quotes), not refused.
    assert_failed(result, "Invalid Python version in .python-version", ws)
    assert "'3.13.x'" in result.stderr


def test_a_hard_linked_app_file_is_read_as_the_apps_own(ws: HostileWorkspace) -> None:
    # A hard link is a name in the app dir for content put there: read like any file.
    minimal_app(ws)
    outside = ws.root / "shared-procfile"
    outside.write_text("web: gunicorn app:app\nworker\n")
    os.link(outside, ws.app / "Procfile")
    result = run_build(ws)
    assert_failed(result, "Invalid Procfile (line 2)", ws)
    assert_before_any_layer(result, ws)


# --- sizes and floods ---------------------------------------------------------------------


def test_a_10_mb_python_version_fails_with_a_short_message(ws: HostileWorkspace) -> None:
    (ws.app / "requirements.txt").write_text("")
    (ws.app / ".python-version").write_text("3.13 3.12\n" * 1_000_000)
    result = run_build(ws)
    assert_failed(result, "Unable to read .python-version", ws)
    assert "larger than 64 KiB" in result.stderr
    assert len(result.output) < 4096, result.output
    assert_before_any_layer(result, ws)


def test_a_million_line_requirements_file_fails_fast(ws: HostileWorkspace) -> None:
    # Short lines: under the size cap, so the line cap is what stops it.
    (ws.app / "requirements.txt").write_text("".join(f"a{n}\n" for n in range(1_000_000)))
    result = run_build(ws)
    assert_failed(result, "Invalid requirements.txt", ws)
    assert "more than 20000 requirement lines" in result.stderr
    assert_before_any_layer(result, ws)


def test_a_huge_requirements_file_fails_at_the_size_cap(ws: HostileWorkspace) -> None:
    (ws.app / "requirements.txt").write_text(
        "".join(f"package-{n}==1.0.{n}\n" for n in range(1_000_000))
    )
    result = run_build(ws)
    assert_failed(result, "Unable to read requirements.txt", ws)
    assert "larger than 8 MiB" in result.stderr
    assert_before_any_layer(result, ws)


def test_a_long_invalid_version_is_quoted_short(ws: HostileWorkspace) -> None:
    (ws.app / "requirements.txt").write_text("")
    (ws.app / ".python-version").write_text("3." + "9" * 20_000 + "x\n")
    result = run_build(ws)
    assert_failed(result, "Invalid Python version in .python-version", ws)
    assert "more characters" in result.stderr
    assert len(result.output) < 4096


# --- requirements includes, Procfile, process commands, the platform env -------------------


@dataclass(frozen=True)
class Refused:
    """App files and platform env a build refuses with `title`, before any layer: its message
    shows each of `shows` and the output none of `hides` (raw control characters, say)."""

    files: Mapping[str, str | bytes | None]  # None: a directory; a path may lead out of the app
    title: str
    shows: tuple[str, ...] = ()
    hides: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None


MINIMAL_APP: dict[str, str | bytes | None] = {"requirements.txt": "", ".python-version": "3.13\n"}
REFUSED = {
    "requirements include cycle": Refused(
        {"requirements.txt": "-r a.txt\n", "a.txt": "-r b.txt\n", "b.txt": "-r a.txt\n"},
        "Invalid a.txt",
        shows=("a.txt -> b.txt -> a.txt",),
    ),
    "requirements include of a directory": Refused(
        {"requirements.txt": "-r reqs\n", "reqs": None},
        "Invalid requirements.txt line 1",
        shows=("is a directory",),
        hides=("does not exist",),
    ),
    "requirements include escaping the app dir": Refused(
        {"../secrets.txt": f"{CANARY_TOKEN}\n", "requirements.txt": "-r ../secrets.txt\n"},
        "Invalid requirements.txt line 1",
        shows=("outside the app directory",),
    ),
    # A file name cannot hold a NUL on Linux; the nearest a user gets is naming one in a file.
    "control characters in an include name are escaped": Refused(
        {"requirements.txt": "-r evil\x1b[2J\x07.txt\n"},
        "Invalid requirements.txt line 1",
        shows=("evil\\x1b[2J\\x07.txt",),
        hides=("\x1b", "\x07"),
    ),
    "a NUL in a requirements file": Refused(
        {"requirements.txt": "flask==3.1.0\n-r more\x00.txt\n"},
        "Unable to read requirements.txt",
        shows=("NUL byte (line 2)",),
    ),
    "a NUL in the Procfile": Refused(
        {**MINIMAL_APP, "Procfile": b"web: gunicorn app:app\x00; rm -rf /\n"},
        "Unable to read Procfile",
        shows=("NUL byte (line 1)",),
    ),
    "control characters in a Procfile command": Refused(
        {**MINIMAL_APP, "Procfile": "web: gunicorn app:app\x1b[8m --hidden\r echo\n"},
        "Invalid Procfile (line 1)",
        shows=("control characters (\\x1b, \\x0d)",),
        hides=("\x1b",),
    ),
    "a NUL in BP_LAUNCH_COMMAND": Refused(
        MINIMAL_APP,
        "Invalid value for BP_LAUNCH_COMMAND",
        hides=("\x1b", "\x00"),
        env={"BP_LAUNCH_COMMAND": "gunicorn app:app\x00--evil"},
    ),
    "control characters in BP_LAUNCH_COMMAND": Refused(
        MINIMAL_APP,
        "Invalid value for BP_LAUNCH_COMMAND",
        hides=("\x1b", "\x00"),
        env={"BP_LAUNCH_COMMAND": "gunicorn app:app\x1b[2J"},
    ),
    "a NUL in any platform env value names the variable": Refused(
        MINIMAL_APP,
        "Invalid value for DATABASE_URL",
        shows=("NUL byte",),
        env={"DATABASE_URL": "postgres://db\x00junk", "SERVICE_TOKEN": f"{CANARY_TOKEN}\x00junk"},
    ),
    "a NUL in a secret platform env value hides the value": Refused(
        MINIMAL_APP,
        "Invalid value for SERVICE_TOKEN",
        shows=("hidden",),
        env={"SERVICE_TOKEN": f"{CANARY_TOKEN}\x00junk"},
    ),
}


def write_app_files(ws: HostileWorkspace, files: Mapping[str, str | bytes | None]) -> None:
    for name, content in files.items():
        path = ws.app / name
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_input_fails_before_any_layer(ws: HostileWorkspace, case: str) -> None:
    refused = REFUSED[case]
    write_app_files(ws, refused.files)
    for name, value in (refused.env or {}).items():
        ws.set_platform_env(name, value)
    result = run_build(ws)
    assert_failed(result, refused.title, ws)
    for text in refused.shows:
        assert text in result.stderr, result.stderr
    for text in refused.hides:
        assert text not in result.output, result.output
    assert_before_any_layer(result, ws)


def test_a_named_pipe_in_the_platform_env_dir(ws: HostileWorkspace) -> None:
    minimal_app(ws)
    os.mkfifo(ws.platform / "env" / "BP_PYTHON_VERSION")
    result = run_build(ws)
    assert_failed(result, "The platform did not follow the buildpack contract", ws)
    assert "it is not a regular file" in result.stderr
    assert_before_any_layer(result, ws)


# --- config errors come before any layer (issue 12, item 4) -------------------------------

CONFIG_ERRORS = {
    "pyproject without a dependencies table": (
        {"pyproject.toml": "[tool.black]\nline-length = 100\n"},
        "Invalid pyproject.toml",
    ),
    "pyproject with dynamic dependencies": (
        {"pyproject.toml": '[project]\nname = "x"\nversion = "1"\ndynamic = ["dependencies"]\n'},
        "Invalid pyproject.toml",
    ),
    "pyproject that is not TOML": (
        {"pyproject.toml": "[project\nname = 'x'\n"},
        "Invalid pyproject.toml",
    ),
    "uv app whose pyproject is not TOML": (
        {"pyproject.toml": "[project\n", "uv.lock": "version = 1\n"},
        "Invalid pyproject.toml",
    ),
    "Pipenv app whose Pipfile.lock is not JSON": (
        {"Pipfile": "", "Pipfile.lock": "{not json", ".python-version": "3.13\n"},
        "Invalid Pipfile.lock",
    ),
    "requirements with an invalid include": (
        {"requirements.txt": "-r missing.txt\n"},
        "Invalid requirements.txt line 1",
    ),
    "requirements not UTF-8": (
        {"requirements.txt": b"flask==3.1.0 # caf\xe9\n"},
        "Unable to read requirements.txt",
    ),
    "Procfile with no process": (
        {"requirements.txt": "", "Procfile": "# nothing\n"},
        "Invalid Procfile",
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_ERRORS))
def test_config_errors_come_before_installing_python(ws: HostileWorkspace, case: str) -> None:
    files, title = CONFIG_ERRORS[case]
    write_app_files(ws, files)
    result = run_build(ws)
    assert_failed(result, title, ws)
    assert_before_any_layer(result, ws)
    assert not (ws.layers / "python").exists()


# --- the file system under the layers -----------------------------------------------------


# CI and this machine run as root; elsewhere these two cases cannot mount their tmpfs.
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a tmpfs in a private mount namespace needs root"
)


def in_mount_namespace(layers: Path, options: str) -> tuple[str, ...]:
    """A wrapper running the phase in a private mount namespace with a tmpfs on `layers`;
    after the phase it lists the layers' .toml files (the mount vanishes with the namespace)."""
    script = (
        'mount -t tmpfs -o "$1" tmpfs "$2" || exit 99; layers="$2"; shift 2; "$@"; rc=$?; '
        'for f in "$layers"/*.toml; do [ -e "$f" ] && echo "LEFT: $f" >&2; done; '
        'grep -rl "$CANARY" "$layers" >&2 && echo "CANARY UNDER LAYERS" >&2; exit $rc'
    )
    return (
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
        options,
        str(layers),
    )


@pytest.fixture
def big_archive_buildpack(tmp_path_factory: pytest.TempPathFactory, mirror: Mirror) -> Path:
    noise = os.urandom(4 * 1024 * 1024)  # incompressible: needs 4 MB on disk
    archive = fake_python([entry("python/lib.bin", noise)])
    return buildpack_serving(tmp_path_factory.mktemp("bp") / "buildpack", mirror, archive)


@needs_root
def test_a_full_disk_while_unpacking_python(
    ws: HostileWorkspace, big_archive_buildpack: Path
) -> None:
    minimal_app(ws)
    ws.buildpack_dir = big_archive_buildpack
    ws.wrap = in_mount_namespace(ws.layers, "size=1m")
    ws.extra_env = {"CANARY": CANARY_TOKEN}
    result = run_build(ws)
    assert result.exit_code == 1, result.output
    assert "! ERROR: File system error while unpacking Python" in result.stderr, result.output
    assert "No space left on device" in result.stderr
    # Whichever fills the disk first: a file of the layer, or the archive kept for the cache
    # as it is read. Either is named, and neither leaves metadata behind.
    named = re.search(r"while unpacking Python \(([^)]*)\)", " ".join(result.stderr.split()))
    assert named is not None, result.stderr
    assert named.group(1).startswith(
        (f"{ws.layers / 'python'}/", f"{ws.layers / 'python-archive'}/")
    ), result.stderr
    assert "LEFT:" not in result.stderr and "CANARY UNDER LAYERS" not in result.stderr


@needs_root
def test_a_read_only_layers_dir(ws: HostileWorkspace) -> None:
    minimal_app(ws)
    ws.wrap = in_mount_namespace(ws.layers, "ro,size=1m")
    ws.extra_env = {"CANARY": CANARY_TOKEN}
    result = run_build(ws)
    assert result.exit_code == 1, result.output
    assert "! ERROR: File system error while installing Python" in result.stderr, result.output
    assert "Read-only file system" in result.stderr
    assert str(ws.layers) in result.stderr
    assert "LEFT:" not in result.stderr


# --- archives and downloads ---------------------------------------------------------------


def test_a_gzip_bomb_stops_at_the_unpacked_size_cap(
    ws: HostileWorkspace, tmp_path_factory: pytest.TempPathFactory, mirror: Mirror
) -> None:
    bomb = gzip_bomb(512 * 1024 * 1024)
    assert len(bomb) < 4 * 1024 * 1024
    ws.buildpack_dir = buildpack_serving(
        tmp_path_factory.mktemp("bp") / "buildpack", mirror, bomb, max_unpacked_bytes=32 * 1024**2
    )
    minimal_app(ws)
    result = run_build(ws)
    assert_failed(result, "The Python archive unpacks to too much data", ws)
    assert "more than 32 MiB" in result.stderr
    # Nothing of the bomb stays behind in the layer.
    leftover = sum(p.stat().st_size for p in ws.layers.rglob("*") if p.is_file())
    assert leftover < 33 * 1024**2


def test_a_hard_link_to_an_absolute_target_is_reported_as_such(
    ws: HostileWorkspace, tmp_path_factory: pytest.TempPathFactory, mirror: Mirror
) -> None:
    archive = fake_python([entry("python/lib/passwd", kind=tarfile.LNKTYPE, link="/etc/passwd")])
    ws.buildpack_dir = buildpack_serving(
        tmp_path_factory.mktemp("bp") / "buildpack", mirror, archive
    )
    minimal_app(ws)
    result = run_build(ws)
    assert_failed(result, "Refusing to unpack an unsafe archive", ws)
    assert "'python/lib/passwd'" in result.stderr
    assert "hard link to an absolute path (/etc/passwd)" in result.stderr


class TricklingServer:
    """Answers every request with headers promising 1 MB, then one byte every 0.2 s."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
                while not self.stop.is_set():
                    conn.sendall(b"x")
                    time.sleep(0.2)
            except OSError:
                return

    def __enter__(self) -> TricklingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def test_a_trickling_mirror_fails_within_the_download_deadline(ws: HostileWorkspace) -> None:
    minimal_app(ws)
    ws.set_platform_env("BP_PYTHON_DOWNLOAD_TIMEOUT", "2")
    with TricklingServer() as server:
        ws.set_platform_env("BP_PYTHON_MIRROR", server.url)
        result = run_build(ws)
    assert_failed(result, "Unable to download Python", ws)
    assert "after 3 attempts: it took longer than 2s" in result.stderr


def test_an_invalid_download_timeout(ws: HostileWorkspace) -> None:
    minimal_app(ws)
    ws.set_platform_env("BP_PYTHON_DOWNLOAD_TIMEOUT", "soon")
    result = run_build(ws)
    assert_failed(result, "Invalid value for BP_PYTHON_DOWNLOAD_TIMEOUT", ws)
    assert_before_any_layer(result, ws)


def test_the_fake_archive_installs(ws: HostileWorkspace) -> None:
    """The control case: the suite's buildpack and fake Python get through download and
    unpacking to the Python check, so the failures above are the cases', not the setup's."""
    minimal_app(ws)
    result = run_build(ws)
    # The fake is a script that exits 0: the Python check, which wants the version, stops it.
    assert result.exit_code == 1
    assert "! ERROR: The Python archive is not usable" in result.stderr
    assert f"it says it is Python (nothing), not {VERSION}" in result.stderr
    assert "Traceback" not in result.output
    assert not (ws.layers / "python.toml").exists()
