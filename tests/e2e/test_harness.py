"""The lifecycle harness itself, proven with the tiny `tests/hello` buildpack
(tests/fixtures/buildpacks/hello): build, launch, rebuild with the cache, failures."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pytest

from tests.harness.lifecycle import (
    BuildpackRef,
    LaunchedProcess,
    LaunchFailed,
    PhaseFailed,
    PlatformFactory,
    _wait_precisely,
    free_port,
    image_ref_path,
)
from tests.harness.lifecycle_namespace import PrivateNetwork
from tests.harness.lifecycle_run_image import RunImage, go_arch
from tests.harness.oci_layout import MEDIA_LAYER_TAR, extract_layer

pytestmark = pytest.mark.e2e

GREETING = "Hello from the fixture app"


def write_app(directory: Path, greeting: str = GREETING) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hello.txt").write_text(greeting)
    (directory / "README").write_text("an app for the hello test buildpack\n")
    return directory


def section(output: str, start: str) -> dict[str, str]:
    """The `NAME=value` lines the fixture prints between `start` and `--- end ---`."""
    lines = output.split(start, 1)[1].split("--- end ---", 1)[0].strip().splitlines()
    return dict(line.partition("=")[::2] for line in lines)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app")


def test_build_exports_an_oci_image_for_the_run_image_target(
    make_platform: PlatformFactory,
    hello_buildpack: BuildpackRef,
    app: Path,
    cache_dir: Path,
    run_image: RunImage,
) -> None:
    platform = make_platform(
        [hello_buildpack],
        env={"HELLO_NAME": "tester"},
        bindings={"db": {"type": "postgresql", "uri": "postgres://127.0.0.1/db"}},
    )
    result = platform.build(app, image="hello-app", cache_dir=cache_dir)

    assert result.exit_codes == dict.fromkeys(
        ["analyzer", "detector", "restorer", "builder", "exporter"], 0
    )
    build_log = result.logs["builder"]
    assert f"Target: linux/{go_arch()} debian 12" in build_log
    assert "Build user: 1001:1001 HOME=/home/cnb" in build_log
    assert "Platform env HELLO_NAME=tester" in build_log
    assert "Binding db of type postgresql" in build_log
    assert "Creating tools layer (version 1)" in build_log
    assert "Creating launch layer hello" in build_log
    # a build image's environment, not this host's (which exports PIP_* and has /etc/pip.conf)
    build_env = section(build_log, "--- build env ---")
    assert not [name for name in build_env if name.startswith(("PIP_", "PYTHON"))]
    assert build_env["HOME"] == "/home/cnb"
    assert build_env["CNB_LAYERS_DIR"] == "/layers/tests_hello"  # the buildpack's own
    assert "Host pip config visible: no" in build_log

    target = result.analyzed["run-image"]["target"]
    assert (target["os"], target["arch"]) == ("linux", go_arch())
    assert target["distro"] == {"name": "debian", "version": "12"}
    assert result.group["group"][0]["id"] == "tests/hello"

    image = result.image
    assert image.path == platform.layout_repo / "index.docker.io/library/hello-app/latest"
    assert image.diff_ids[0] == run_image.image.diff_ids[0]
    assert image.entrypoint == ["/cnb/process/web"]
    assert image.working_dir == "/workspace"
    assert image.env["CNB_LAYERS_DIR"] == "/layers"
    assert image.env["CNB_APP_DIR"] == "/workspace"
    assert image.labels["io.buildpacks.base.distro.version"] == "12"
    assert {p["type"] for p in result.build_metadata["processes"]} == {"web", "hello"}
    # launch layers are in the image, the build-only cached layer is not
    assert set(result.layer_digests) == {"tests/hello:hello"}
    assert result.layer_digest("tests/hello", "hello") in image.diff_ids
    assert set(result.app_layer_digests) <= set(image.diff_ids)
    assert result.report["image"]["tags"] == [
        str(Path("/layout-repo") / image_ref_path("hello-app"))
    ]


def test_launch_gives_the_process_the_image_env(
    make_platform: PlatformFactory, hello_buildpack: BuildpackRef, app: Path, cache_dir: Path
) -> None:
    platform = make_platform([hello_buildpack])
    result = platform.build(app, image="hello-app", cache_dir=cache_dir)

    exit_code, output = platform.run(result, process="hello", env={"EXTRA": "from-run"})

    assert exit_code == 0, output
    env = section(output, "--- env ---")
    assert env["PATH"].split(":")[0] == "/layers/tests_hello/hello/bin"
    assert env["HELLO_GREETING"] == GREETING  # env.launch/ default
    assert env["HELLO_PROCESS"] == "hello"  # env.launch/hello/, this process only
    assert env["EXTRA"] == "from-run"
    assert env["HOME"] == "/home/cnb"
    assert not [name for name in env if name.startswith(("PIP_", "PYTHON"))]
    assert "hello args: from-process" in output
    assert "uid=1001 gid=1001 cwd=/workspace" in output

    # a command through the launcher gets the layers' env but not a process's own env
    exit_code, output = platform.run(result, command=["hello", "direct"])
    assert exit_code == 0, output
    env = section(output, "--- env ---")
    assert env["HELLO_GREETING"] == GREETING
    assert "HELLO_PROCESS" not in env
    assert "hello args: direct" in output


def test_launched_web_process_is_reachable_on_localhost(
    make_platform: PlatformFactory, hello_buildpack: BuildpackRef, app: Path, cache_dir: Path
) -> None:
    platform = make_platform([hello_buildpack])
    result = platform.build(app, image="hello-app", cache_dir=cache_dir)
    port = free_port()

    with platform.launch(result, env={"PORT": str(port)}) as proc:  # the default process: web
        proc.wait_for_port(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            body = response.read().decode()
        assert body == GREETING + "\n"
    assert proc.returncode is not None  # stopped when the block ends


# Listens on 127.0.0.1 only (perl-base is in the run image), like a development server.
LOOPBACK_SERVER = (
    "$| = 1; use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', "
    "LocalPort => $ENV{PORT}, Listen => 5, ReuseAddr => 1) or die $!; "
    'print "listening\\n"; while (my $c = $s->accept) { close $c }'
)


def test_a_private_network_tells_all_addresses_from_loopback_only(
    make_platform: PlatformFactory, hello_buildpack: BuildpackRef, app: Path, cache_dir: Path
) -> None:
    platform = make_platform([hello_buildpack])
    result = platform.build(app, image="hello-net", cache_dir=cache_dir)
    network = PrivateNetwork()
    # hello-server binds 0.0.0.0: reachable on the namespace's own non-loopback address.
    with platform.launch(result, env={"PORT": "8080"}, network=network) as proc:
        response = proc.get(8080, "/")
        assert response.status == 200 and response.body == (GREETING + "\n").encode()
    # A server on 127.0.0.1 is not, though it listens (and the same port is free on the host:
    # the namespace is the process's own).
    # `--`: the launcher runs it directly, not through a shell that would expand the `$`s.
    command = ["--", "perl", "-e", LOOPBACK_SERVER]
    with platform.launch(result, command=command, env={"PORT": "8080"}, network=network) as proc:
        with pytest.raises(LaunchFailed, match=r"nothing listened on 192\.0\.2\.10:8080"):
            proc.get(8080, "/", timeout=3)
        assert "listening" in proc.output


def test_rebuild_restores_cached_layers_and_reuses_unchanged_launch_layers(
    make_platform: PlatformFactory,
    hello_buildpack: BuildpackRef,
    tmp_path: Path,
    cache_dir: Path,
) -> None:
    platform = make_platform([hello_buildpack])
    app = write_app(tmp_path / "app")
    first = platform.build(app, image="hello-app", cache_dir=cache_dir)
    assert not first.analyzed.get("image", {}).get("reference")  # no previous image

    second = platform.build(app, image="hello-app", cache_dir=cache_dir)

    assert second.analyzed["image"]["reference"].startswith("/layout-repo/")
    assert 'Restoring data for "tests/hello:tools" from cache' in second.logs["restorer"]
    assert "Reusing cached tools layer (version 1)" in second.logs["builder"]
    assert "Reusing launch layer hello" in second.logs["builder"]
    assert "Reusing layer 'tests/hello:hello'" in second.logs["exporter"]
    assert second.layer_digests == first.layer_digests
    exit_code, output = platform.run(second, process="hello")
    assert exit_code == 0, output
    assert section(output, "--- env ---")["HELLO_GREETING"] == GREETING

    # the digest comparison can fail: a changed app makes a new launch layer
    changed = write_app(tmp_path / "changed-app", greeting="Hello again")
    third = platform.build(changed, image="hello-app", cache_dir=cache_dir)
    assert "Creating launch layer hello" in third.logs["builder"]
    assert "Reusing cached tools layer (version 1)" in third.logs["builder"]
    assert third.layer_digest("tests/hello", "hello") != first.layer_digest("tests/hello", "hello")


def test_failing_phase_raises_with_its_name_exit_code_and_output(
    make_platform: PlatformFactory, hello_buildpack: BuildpackRef, tmp_path: Path
) -> None:
    platform = make_platform([hello_buildpack], log_level="debug")
    not_an_app = tmp_path / "empty"
    not_an_app.mkdir()

    with pytest.raises(PhaseFailed) as failure:
        platform.build(not_an_app, image="nothing")

    assert failure.value.phase == "detector"
    assert failure.value.exit_code == 20  # the platform API's "no buildpack group passed"
    assert "no hello.txt in the app" in failure.value.output
    assert "lifecycle detector failed with exit code 20" in str(failure.value)
    assert set(failure.value.logs) == {"analyzer", "detector"}


def test_oci_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    blob = tmp_path / "layer.tar"
    with tarfile.open(blob, "w") as tar:
        for name, data in [("etc/.wh.old.conf", b""), ("opt/.wh..wh..opq", b""), ("opt/new", b"x")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    dest = tmp_path / "unpacked"

    extract_layer(blob, MEDIA_LAYER_TAR, dest)

    whiteout = (dest / "etc" / "old.conf").lstat()
    assert stat.S_ISCHR(whiteout.st_mode)
    assert whiteout.st_rdev == os.makedev(0, 0)
    assert os.getxattr(dest / "opt", "trusted.overlay.opaque") == b"y"
    assert (dest / "opt" / "new").read_bytes() == b"x"


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        ("myapp", "index.docker.io/library/myapp/latest"),
        ("python-buildpack/run:bookworm", "index.docker.io/python-buildpack/run/bookworm"),
        ("localhost:5000/team/app:v1", "localhost:5000/team/app/v1"),
        ("registry.example/app@sha256:abc", "registry.example/app/sha256/abc"),
    ],
)
def test_image_ref_paths_match_the_lifecycle_layout_paths(ref: str, path: str) -> None:
    assert image_ref_path(ref) == Path(path)


def test_a_get_waits_for_the_process_to_have_its_own_network(tmp_path: Path) -> None:
    # Right after spawning, /proc/<pid>/ns/net is still the host's until `unshare` has run:
    # entering it then would aim the GET for the namespace's address at the host's network.
    log_path = tmp_path / "out.log"
    log_path.write_text("")
    host = subprocess.Popen(["sleep", "30"])
    try:
        same = LaunchedProcess(host, log_path, ["sleep"], PrivateNetwork())
        with pytest.raises(LaunchFailed, match="never got a network namespace of its own"):
            same._open_own_network(timeout=0.5)
    finally:
        host.kill()
        host.wait()
    own = subprocess.Popen(["unshare", "--net", "--", "sleep", "30"])
    try:
        os.close(LaunchedProcess(own, log_path, ["unshare"], PrivateNetwork())._open_own_network())
    finally:
        own.kill()
        own.wait()


def test_a_phase_is_waited_for_on_its_pidfd() -> None:
    assert _wait_precisely(subprocess.Popen(["sh", "-c", "exit 3"]), timeout=10) == 3
    slow = subprocess.Popen(["sleep", "10"])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            _wait_precisely(slow, timeout=0.2)
    finally:
        slow.kill()
        slow.wait()
