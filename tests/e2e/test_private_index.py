"""A private package index behind a corporate CA and basic auth, under the real lifecycle.

The index is the local test index served over HTTPS on 127.0.0.1 with a certificate from a CA
made for this test, refusing every request without the right credentials. The build gets the CA
from a `ca-certificates` binding, the credentials from a `.netrc` in a `pip` binding, and its
`pip.conf` (same binding) adds, for the app's install, a path of the index only it names (as an
extra index: PIP_INDEX_URL, which the build's own tool installs need, wins over pip.conf). Then
the secret is searched for everywhere a build leaves things: its output, every blob of the OCI
layout (layer tarballs decompressed), the cache volume and the layers volume.

The same for a Poetry and a Pipenv app whose only source is that index: their lock files are made
by the pinned tools against it when the test runs (its port is random), with the test's own copy
of the CA and credentials. The build is given nothing but the bindings (and `PIP_INDEX_URL`, for
installing the tools): Poetry reads the `.netrc` and `REQUESTS_CA_BUNDLE` itself, Pipenv only
exports the lock and pip installs it.
"""

from __future__ import annotations

import base64
import gzip
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.apps.relock import install_tool, python313
from tests.harness.http_server import FileServer
from tests.harness.lifecycle import BuildResult, Platform
from tests.harness.package_index import clean_env, ensure_index
from tests.harness.tls_certs import Certificates, make_certificates

pytestmark = pytest.mark.e2e

USER = "build-robot"
SECRET = "Pr1vate-Index-S3cret-7f3a9c"


@dataclass
class PrivateBuild:
    installer: str
    result: BuildResult
    platform: Platform
    server: FileServer
    cache_dir: Path
    build_tmp: Path


POETRY_PROJECT = """\
[project]
name = "private-poetry-app"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["bp-test-alpha==1.0.0"]

[tool.poetry]
package-mode = false

[[tool.poetry.source]]
name = "corp"
url = "{url}/simple"
priority = "primary"
"""
PIPFILE = """\
[[source]]
url = "{url}/simple"
verify_ssl = true
name = "corp"

[packages]
bp-test-alpha = "==1.0.0"

[requires]
python_version = "3.13"
"""
# tool → (manifest, its text, the lock command)
LOCKED_APPS = {
    "poetry": ("pyproject.toml", POETRY_PROJECT, ("lock", "--no-interaction")),
    "pipenv": ("Pipfile", PIPFILE, ("lock",)),
}


class Lockers:
    """The pinned Poetry and Pipenv, installed once (from the plain local index) on a test
    CPython, to lock the apps against the private index from the test's side."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.python: Path | None = None
        self.tools: dict[str, Path] = {}

    def lock(self, tool: str, app: Path, url: str, certs: Certificates) -> None:
        manifest, text, command = LOCKED_APPS[tool]
        (app / manifest).write_text(text.format(url=url))
        if self.python is None:
            self.python = python313(self.work)
        if tool not in self.tools:
            with FileServer(ensure_index()) as plain:
                self.tools[tool] = install_tool(
                    self.python,
                    tool,
                    self.work,
                    clean_env(self.work / "home"),
                    plain.url + "/simple",
                )
        netrc = self.work / "netrc"
        netrc.write_text(f"machine 127.0.0.1 login {USER} password {SECRET}\n")
        env = clean_env(
            self.work / "home",
            {
                "PATH": f"{self.python.parent}:/usr/bin:/bin",
                "NETRC": str(netrc),
                # The private index is the only host the locking talks to.
                "REQUESTS_CA_BUNDLE": str(certs.directory / "ca.pem"),
                "SSL_CERT_FILE": str(certs.directory / "ca.pem"),
                "PIP_CERT": str(certs.directory / "ca.pem"),
                "POETRY_CACHE_DIR": str(self.work / "poetry-cache"),
                # Pipenv's venv for locking stays out of the app (a committed venv fails a build).
                "WORKON_HOME": str(self.work / "pipenv-venvs"),
                "PIPENV_VERBOSITY": "-1",
                "PIPENV_NOSPIN": "1",
            },
        )
        subprocess.run([self.tools[tool], *command], env=env, cwd=app, check=True)


@pytest.fixture(scope="module")
def lockers(tmp_path_factory: pytest.TempPathFactory) -> Lockers:
    return Lockers(tmp_path_factory.mktemp("lockers"))


@pytest.fixture(scope="module", params=["pip", "uv", "poetry", "pipenv"])
def private_build(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    lifecycle_binaries: Any,
    run_image: Any,
    packaged_buildpack: Any,
    lockers: Lockers,
) -> Iterator[PrivateBuild]:
    installer = request.param
    work = tmp_path_factory.mktemp(f"private-{installer}")
    certs = make_certificates(work / "certs")
    tree = ensure_index()
    # /simple and /files as the shared index has them, and /private/ naming the same tree: only
    # pip.conf names it, so requests under /private/ show that pip read pip.conf.
    root = work / "root"
    root.mkdir()
    for name in ("simple", "files"):
        (root / name).symlink_to(tree / name)
    (root / "private").symlink_to(tree)

    app = work / "app"
    app.mkdir()
    (app / ".python-version").write_text("3.13\n")

    with FileServer(root, tls=certs.server_context(), basic_auth=(USER, SECRET)) as server:
        if installer in LOCKED_APPS:
            lockers.lock(installer, app, server.url, certs)
            server.reset()
        else:
            (app / "requirements.txt").write_text("bp-test-alpha==1.0.0\n")
        env = {"PIP_INDEX_URL": f"{server.url}/simple"}
        if installer == "uv":
            env["BP_PIP_INSTALLER"] = "uv"
        platform = Platform.create(
            work / "platform",
            [packaged_buildpack],
            run_image=run_image,
            lifecycle=lifecycle_binaries,
            env=env,
            bindings={
                "corp-ca": {"type": "ca-certificates", "ca.pem": certs.ca_pem},
                "private-index": {
                    "type": "pip",
                    ".netrc": f"machine 127.0.0.1 login {USER} password {SECRET}\n",
                    "pip.conf": f"[global]\nextra-index-url = {server.url}/private/simple\n",
                },
            },
        )
        cache_dir = work / "cache"
        result = platform.build(app, image=f"private-{installer}", cache_dir=cache_dir)
        build_tmp = platform.base / "builds" / "1" / "tmp"
        yield PrivateBuild(installer, result, platform, server, cache_dir, build_tmp)


def test_the_index_was_reached_with_the_bound_ca_and_credentials(
    private_build: PrivateBuild,
) -> None:
    log = private_build.result.logs["builder"]
    assert "CA certificates: 1 certificate from binding 'corp-ca'" in log
    assert ".netrc from binding 'private-index' (as NETRC)" in log
    assert "pip.conf from binding 'private-index' (as PIP_CONFIG_FILE)" in log
    requests = private_build.server.request_log
    downloads = [r.path for r in requests if r.authorized and r.path.endswith(".whl")]
    assert any("bp_test_alpha-1.0.0" in path for path in downloads)
    if private_build.installer in ("pip", "pipenv"):
        # pip read the bound pip.conf: the app's install went to the index it names.
        assert any(r.authorized and r.path.startswith("/private/simple/") for r in requests)


def test_the_app_has_its_dependency(private_build: PrivateBuild) -> None:
    exit_code, output = private_build.platform.run(
        private_build.result,
        command=[
            "python",
            "-c",
            "import importlib.metadata as m; print(m.version('bp-test-alpha'))",
        ],
    )
    assert (exit_code, output.strip()) == (0, "1.0.0")


def _contents(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _files_holding(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = _contents(path)
            if any(needle in data for needle in needles):
                found.append(str(path.relative_to(root)))
    return found


def test_the_secret_is_nowhere(private_build: PrivateBuild) -> None:
    needles = [SECRET.encode(), base64.b64encode(f"{USER}:{SECRET}".encode())]
    result = private_build.result
    assert SECRET not in result.output
    assert needles[1].decode() not in result.output
    assert _files_holding(private_build.platform.layout_repo, needles) == []
    assert _files_holding(private_build.cache_dir, needles) == []
    assert _files_holding(result.layers_dir, needles) == []
    # Nor do the tools' settings: no layer env file or image env points at the bindings or
    # the CA bundle (they were for the build's tool runs only).
    where = [b"/platform/bindings", b"python-buildpack-ca-"]
    assert _files_holding(result.layers_dir, where) == []
    assert _files_holding(private_build.cache_dir, where) == []
    assert not set(result.image.env) & {"NETRC", "PIP_CONFIG_FILE", "PIP_CERT", "SSL_CERT_FILE"}
    # The CA bundle lived in the build's temp dir, and went with the build process.
    assert not list(private_build.build_tmp.glob("python-buildpack-ca-*"))
