"""A local Python package index for the tests: builds install app dependencies offline.

    with PackageIndex.start() as index:   # builds or reuses the cached tree, starts a server
        index.url              # "http://127.0.0.1:PORT/simple" (for PIP_INDEX_URL)
        index.pip_env          # {"PIP_INDEX_URL": ..., "PIP_TRUSTED_HOST": ...} for a build
        index.pins             # {"flask": "3.1.3", ...}: the real packages, all pinned
        index.requirements("flask", "gunicorn")  # ["blinker==1.9.0", "click==...", ...]
        index.requests         # every request path, in order
        index.file_requests()  # only the distribution files (/files/...)
        index.server           # the FileServer, for fault injection (not_found, fail_once, ...)

The tree holds a PEP 503 "simple" index (`simple/index.html`, `simple/<name>/index.html`, links
`../../files/<file>#sha256=<hex>` with `data-requires-python`) over `files/`:

- the real packages of `REAL_PACKAGES` (every transitive dependency pinned too, so an app's
  requirements.txt can pin everything; `SECOND_VERSIONS` where one needs another version), as
  wheels for CPython `TARGET_PYTHONS` on manylinux x86_64, downloaded once from PyPI with
  `pip download`;
- the tiny packages of `tests/fixtures/packages/`, built here with setuptools (`TEST_PACKAGES`
  says which formats each one gets; `bp-test-cext` is an sdist only, so installing it compiles C).

It is built once per machine into `~/.cache/python-buildpack/package-index/<content key>/`,
where the key hashes the package list and the fixture sources: editing either builds a new tree.

The conflict scenario: pip's resolver refuses conflicting requirements, and requirements files
cannot carry `--no-deps` (only index, find-links, binary, hash and constraint options are allowed
there), so an install that succeeds but leaves `pip check` failing needs `PIP_NO_DEPS=1` in the
environment, with requirements `bp-test-alpha==1.1.0` and `bp-test-conflict==1.0.0` (which needs
`bp-test-alpha<1.1`): pip installs both as asked and `pip check` reports the conflict. See
`CONFLICT_REQUIREMENTS` and `CONFLICT_ENV`.

For a session-wide index in a conftest:

    @pytest.fixture(scope="session")
    def package_index() -> Iterator[PackageIndex]:
        yield from serve_package_index()

and `with package_index.recording() as rec: ...; assert rec.file_requests() == []` to count the
requests of one test on the shared server.

    python -m tests.harness.package_index [--rebuild] [--serve]
"""

from __future__ import annotations

import argparse
import email.parser
import gzip
import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from .cache import file_lock
from .cpython_sources import CACHE
from .http_server import FileServer

# Every real package of the index, pinned, with its transitive dependencies (checked at build
# time: a dependency missing here fails the build of the index).
REAL_PACKAGES: dict[str, str] = {
    # flask 3.1.3 and its dependencies
    "flask": "3.1.3",
    "blinker": "1.9.0",
    "click": "8.5.1",
    "itsdangerous": "2.2.0",
    "jinja2": "3.1.6",
    "markupsafe": "3.0.4",
    "werkzeug": "3.1.9",
    "gunicorn": "27.0.1",
    # what build isolation needs to build sdists
    "setuptools": "84.2.1",
    "wheel": "0.48.0",
    "packaging": "26.3",
    # the build backend `uv init --package` writes (uv 0.13.6's bound, `>=0.13.6,<0.14.0`;
    # 0.13.6 is the newest release this host's PyPI serves): tests/fixtures/apps/uv_init_app
    "uv-build": "0.13.6",
    # the pip the buildpack installs into its pip layer (requirements/pip.txt), so builds in
    # tests bootstrap it from here rather than from PyPI
    "pip": "26.3",
    # django, newest 5.x
    "django": "5.2.19",
    "asgiref": "3.13.0",
    "sqlparse": "0.6.1",
    "whitenoise": "6.12.0",
    # fastapi and uvicorn
    "fastapi": "0.165.0",
    "annotated-doc": "0.0.7",
    "annotated-types": "0.8.0",
    "anyio": "4.16.0",
    "idna": "3.20",
    "opentelemetry-api": "1.45.2",
    "pydantic": "2.14.4",
    "pydantic-core": "2.50.5",
    "starlette": "1.10.0",
    "typing-extensions": "4.16.0",
    "typing-inspection": "0.4.5",
    "uvicorn": "0.54.0",
    "h11": "0.16.0",
    # streamlit 1.67.0 and gradio 6.31.0 (the UI apps of the process inference) and their
    # dependencies not pinned above; both resolve with the pins above on 3.11 and 3.13
    "streamlit": "1.67.0",
    "altair": "6.3.0",
    "attrs": "26.1.0",
    "jsonschema": "4.26.0",
    "jsonschema-specifications": "2025.9.1",
    "narwhals": "2.29.0",
    "numpy": "2.4.6",
    "pandas": "3.1.1",
    "pillow": "12.3.0",
    "protobuf": "7.36.2",
    "pyarrow": "26.0.1",
    "pydeck": "0.9.3",
    "python-dateutil": "4.0.0",
    "pytz": "2026.6",
    "referencing": "0.37.0",
    "rpds-py": "2026.9.1",
    "tzdata": "2026.6",
    "watchdog": "7.1.0",
    "gradio": "6.31.0",
    "brotli": "1.2.1",
    "fsspec": "2026.9.0",
    "gradio-client": "2.7.2",
    "groovy": "0.1.2",
    "hf-gradio": "0.4.1",
    "hf-xet": "1.8.0",
    "httpcore": "1.0.9",
    "httpx": "0.28.1",
    "huggingface-hub": "2.4.0",
    "markdown-it-py": "4.3.0",
    "mdurl": "0.1.2",
    "orjson": "3.13.0",
    "pydub": "0.25.1",
    "pygments": "2.21.0",
    "python-multipart": "0.0.34",
    "pyyaml": "6.0.4",
    "rich": "15.0.0",
    "safehttpx": "0.1.7",
    "semantic-version": "2.10.0",
    "tqdm": "4.70.1",
    "typer": "0.29.2",
    "websockets": "17.4",
    "audioop-lts": "0.2.2",
}
# Real packages only some of `TARGET_PYTHONS` need (a marker of a dependency): pip evaluates
# markers for the Python it runs on, not the one it downloads for, so the index does it here.
PYTHON_MARKERS: dict[str, str] = {"audioop-lts": 'python_version >= "3.13"'}
# A second version of a project the tools pin, for a real package that excludes the tools' one:
# gradio needs tomlkit<0.15, Poetry's requirements pin 0.15.2. `pins` (and `requirements()`)
# keep the tools' version; an app that needs this one pins it itself.
SECOND_VERSIONS: dict[str, str] = {"tomlkit": "0.14.0"}
TARGET_PYTHONS: tuple[str, ...] = ("3.11", "3.13")
# manylinux2014 is manylinux_2_17 (glibc 2.17): every build image we target is newer (Debian 12
# has glibc 2.36). Some of Poetry's dependencies (rapidfuzz, dulwich) only ship 2_27/2_28 wheels.
PLATFORMS: tuple[str, ...] = (
    "manylinux2014_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_34_x86_64",
)
# The package managers the buildpack installs from `requirements/<tool>.txt` (fully pinned and
# hashed, with markers): the index carries each one's files for `TARGET_PYTHONS`, so builds in
# tests install uv, Poetry and Pipenv from here rather than from PyPI.
REPO_DIR = Path(__file__).resolve().parents[2]
TOOL_REQUIREMENTS: tuple[str, ...] = ("uv", "poetry", "pipenv")
# Lock files record their index URL (uv.lock, poetry.lock via [[tool.poetry.source]],
# Pipfile.lock `_meta.sources`), so the fixture apps with committed lock files need the index on
# a port that never changes (see `serve_locked_package_index`).
LOCKED_PORT = 47913
LOCKED_URL = f"http://127.0.0.1:{LOCKED_PORT}/simple"
LOCKED_PORT_LOCK = CACHE / "package-index-locked-port.lock"

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "packages"
# Fixture directory → the formats the index carries for it.
TEST_PACKAGES: dict[str, tuple[str, ...]] = {
    "bp-test-alpha-1.0.0": ("wheel", "sdist"),
    "bp-test-alpha-1.1.0": ("wheel", "sdist"),
    "bp-test-beta-1.0.0": ("wheel", "sdist"),
    "bp-test-cext-1.0.0": ("sdist",),
    "bp-test-conflict-1.0.0": ("wheel", "sdist"),
    "bp-test-script-1.0.0": ("wheel", "sdist"),
}
CONFLICT_REQUIREMENTS = "bp-test-alpha==1.1.0\nbp-test-conflict==1.0.0\n"
CONFLICT_ENV: dict[str, str] = {"PIP_NO_DEPS": "1"}

INDEX_ROOT = CACHE / "package-index"
LOCK_FILE = CACHE / "package-index.lock"
MANIFEST = "index.json"
# Part of the content key: bump it when the layout of the tree or the way files are built changes.
LAYOUT_VERSION = 3
# Wheel and sdist timestamps (1980-01-01, the oldest a zip can hold) for reproducible builds.
SOURCE_DATE_EPOCH = 315532800
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Logger = Callable[[str], None]


class PackageIndexError(Exception):
    """The index could not be built (PyPI unreachable, an unpinned dependency, a bad fixture)."""


@dataclass(frozen=True)
class IndexFile:
    filename: str
    project: str  # canonical name
    version: str
    sha256: str
    requires_python: str | None
    requires_dist: tuple[str, ...]
    real: bool  # from PyPI, or one of the fixtures

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


def _stderr(message: str) -> None:
    print(f"[package-index] {message}", file=sys.stderr, flush=True)


# --- the content key


def content_key(fixtures_dir: Path = FIXTURES_DIR) -> str:
    """A short hash of everything the tree is made of."""
    digest = hashlib.sha256()
    spec = {
        "layout": LAYOUT_VERSION,
        "real": REAL_PACKAGES,
        "second": SECOND_VERSIONS,
        "markers": PYTHON_MARKERS,
        "pythons": TARGET_PYTHONS,
        "platforms": PLATFORMS,
        "test_packages": TEST_PACKAGES,
        "tools": {python: tool_pins(python) for python in TARGET_PYTHONS},
    }
    digest.update(json.dumps(spec, sort_keys=True).encode())
    for path in sorted(p for p in fixtures_dir.rglob("*") if _is_source(p, fixtures_dir)):
        digest.update(b"\0" + path.relative_to(fixtures_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _marker_environment(python: str) -> dict[str, str]:
    return {
        "python_version": python,
        "python_full_version": python + ".0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


def tool_pins(python: str, tools: Sequence[str] = TOOL_REQUIREMENTS) -> dict[str, str]:
    """`{name: version}` of what `requirements/<tool>.txt` installs on `python` (Linux x86_64)."""
    pins: dict[str, str] = {}
    for tool in tools:
        text = (REPO_DIR / "requirements" / f"{tool}.txt").read_text()
        for line in text.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            requirement = Requirement(line.split(" --hash", 1)[0].strip())
            if requirement.marker is not None and not requirement.marker.evaluate(
                _marker_environment(python)
            ):
                continue
            (spec,) = requirement.specifier
            name = canonicalize_name(requirement.name)
            if pins.setdefault(name, spec.version) != spec.version:
                raise PackageIndexError(f"{tool}.txt pins {name} twice for Python {python}")
    return pins


def real_packages(python: str) -> dict[str, str]:
    """The part of REAL_PACKAGES that `python` needs (see PYTHON_MARKERS)."""
    environment = _marker_environment(python)
    return {
        name: version
        for name, version in REAL_PACKAGES.items()
        if name not in PYTHON_MARKERS or Marker(PYTHON_MARKERS[name]).evaluate(environment)
    }


def all_pins() -> dict[str, str]:
    """REAL_PACKAGES plus the tools' pins; a version both pin differently is an error."""
    pins = dict(REAL_PACKAGES)
    for python in TARGET_PYTHONS:
        for name, version in tool_pins(python).items():
            if pins.setdefault(name, version) != version:
                raise PackageIndexError(
                    f"{name}: REAL_PACKAGES (or another Python) pins {pins[name]}, "
                    f"requirements/*.txt pins {version}: make them agree"
                )
    return pins


def _is_source(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return path.is_file() and not any(
        part == "__pycache__" or part == "build" or part.endswith(".egg-info") for part in parts
    )


# --- building the tree


def ensure_index(*, rebuild: bool = False, root: Path = INDEX_ROOT, log: Logger = _stderr) -> Path:
    """The directory of the index tree (with `simple/`, `files/`, `index.json`), built if needed."""
    tree = root / content_key()
    with file_lock(LOCK_FILE):
        if rebuild and tree.exists():
            shutil.rmtree(tree)
        if (tree / MANIFEST).is_file():
            return tree
        root.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f".{tree.name}-", dir=root) as staging:
            build_tree(Path(staging) / "tree", Path(staging) / "work", log)
            seconds = time.monotonic() - started
            manifest = json.loads((Path(staging) / "tree" / MANIFEST).read_text())
            manifest["build_seconds"] = round(seconds, 1)
            (Path(staging) / "tree" / MANIFEST).write_text(json.dumps(manifest, indent=2))
            # A rename is atomic: other workers see either no tree or a complete one.
            (Path(staging) / "tree").rename(tree)
        log(f"built {tree} in {seconds:.1f} s")
        return tree


def build_tree(tree: Path, work: Path, log: Logger = _stderr) -> None:
    files_dir = tree / "files"
    files_dir.mkdir(parents=True)
    work.mkdir(parents=True)
    log(f"downloading {len(REAL_PACKAGES)} pinned packages from PyPI for {TARGET_PYTHONS}")
    real = download_real_packages(files_dir, work / "pip-home")
    setuptools_wheel = next(f for f in real if f.project == "setuptools")
    log(f"building {len(TEST_PACKAGES)} test packages from {FIXTURES_DIR}")
    built = build_test_packages(files_dir, files_dir / setuptools_wheel.filename, work)
    files = sorted([*real, *built], key=lambda f: (f.project, f.filename))
    write_simple_index(tree, files)
    manifest = {
        "content_key": content_key(),
        "pins": all_pins(),
        "pythons": TARGET_PYTHONS,
        "files": [asdict(f) for f in files],
    }
    (tree / MANIFEST).write_text(json.dumps(manifest, indent=2))


def clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a build image has: no host pip settings (PIP_FIND_LINKS, /etc/pip.conf, ...)."""
    return {
        "PATH": CLEAN_PATH,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **(extra or {}),
    }


def download_real_packages(files_dir: Path, home: Path) -> list[IndexFile]:
    home.mkdir(parents=True, exist_ok=True)
    # A fresh HOME keeps the host's pip config out; the host's CA bundle is still needed when
    # PyPI is reached through an intercepting proxy.
    extra = {k: v for k, v in os.environ.items() if k in ("PIP_CERT", "SSL_CERT_FILE")}
    extra["PIP_CACHE_DIR"] = str(Path.home() / ".cache" / "pip")
    env = clean_env(home, extra)
    for python in TARGET_PYTHONS:
        requirements = [
            f"{name}=={version}"
            for name, version in {**real_packages(python), **SECOND_VERSIONS}.items()
        ]
        abi = "cp" + python.replace(".", "")
        # A real package that shares a dependency with a tool (requests, certifi, ...) gets the
        # tool's pin, not whatever is newest on PyPI today.
        constraints = home / f"tool-constraints-{python}.txt"
        constraints.write_text(
            "".join(
                f"{name}=={version}\n"
                for name, version in tool_pins(python).items()
                if name not in SECOND_VERSIONS
            )
        )
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(files_dir),
            "--only-binary=:all:", "--implementation", "cp", "--python-version", python,
            "--abi", abi, "--abi", "abi3", "--abi", "none",
            *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
            "--constraint", str(constraints),
            *requirements,
        ]  # fmt: skip
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PackageIndexError(
                f"pip download for Python {python} failed ({result.returncode}):\n"
                + result.stdout + result.stderr
            )  # fmt: skip
        # The tools' requirement files are complete (compiled, with markers): no resolving.
        # (pip download fails if a pinned file is missing for this Python.)
        tools = [f"{name}=={version}" for name, version in tool_pins(python).items()]
        options = command[: -len(requirements)]
        result = subprocess.run(
            [*options, "--no-deps", *tools], env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise PackageIndexError(
                f"pip download of the tools for Python {python} failed ({result.returncode}):\n"
                + result.stdout + result.stderr
            )  # fmt: skip
    files = [describe_file(path, real=True) for path in sorted(files_dir.iterdir())]
    pins = all_pins()
    unpinned = sorted(
        f"{f.project}=={f.version}"
        for f in files
        if f.version not in (pins.get(f.project), SECOND_VERSIONS.get(f.project))
    )
    if unpinned:
        raise PackageIndexError(
            "Dependencies missing from REAL_PACKAGES (pin them there): " + ", ".join(unpinned)
        )
    for python in TARGET_PYTHONS:
        supported = _supported_tags(python)
        fitting = {
            f.project
            for f in files
            if f.is_wheel and not supported.isdisjoint(parse_wheel_filename(f.filename)[3])
        }
        missing = sorted(set(real_packages(python)) - fitting)
        if missing:
            raise PackageIndexError(f"No wheel for Python {python} of: {', '.join(missing)}")
    return files


def _supported_tags(python: str) -> set[Tag]:
    """The wheel tags CPython `python` accepts on `PLATFORMS` (abi3 and py3 wheels included)."""
    version = tuple(int(part) for part in python.split("."))
    abi = "cp" + python.replace(".", "")
    return {
        *cpython_tags(version, abis=[abi], platforms=PLATFORMS),
        *compatible_tags(version, interpreter=abi, platforms=PLATFORMS),
    }


# Runs with only the extracted setuptools on sys.path (python -S), inside a copy of the fixture.
_BUILD_SCRIPT = """
import sys
from setuptools import build_meta
out, kinds = sys.argv[1], sys.argv[2:]  # read first: setuptools rewrites sys.argv
for kind in kinds:
    print(getattr(build_meta, "build_" + kind)(out))
"""


def build_test_packages(files_dir: Path, setuptools_wheel: Path, work: Path) -> list[IndexFile]:
    site = work / "setuptools"
    with zipfile.ZipFile(setuptools_wheel) as wheel:
        wheel.extractall(site)
    env = clean_env(
        work / "build-home",
        {"PYTHONPATH": str(site), "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)},
    )
    built: list[IndexFile] = []
    for name, formats in TEST_PACKAGES.items():
        source = FIXTURES_DIR / name
        if not (source / "pyproject.toml").is_file():
            raise PackageIndexError(f"{source} has no pyproject.toml")
        copy = work / "src" / name
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        for path in [copy, *copy.rglob("*")]:
            os.utime(path, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        out = work / "dist" / name
        out.mkdir(parents=True)
        result = subprocess.run(
            [sys.executable, "-S", "-c", _BUILD_SCRIPT, str(out), *formats],
            cwd=copy, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise PackageIndexError(
                f"building {name} ({', '.join(formats)}) failed:\n{result.stdout}{result.stderr}"
            )
        produced = sorted(out.iterdir())
        if len(produced) != len(formats):
            raise PackageIndexError(f"building {name} gave {[p.name for p in produced]}")
        for path in produced:
            if path.name.endswith(".tar.gz"):
                normalise_sdist(path, files_dir / path.name)
            else:
                shutil.copy2(path, files_dir / path.name)
            built.append(describe_file(files_dir / path.name, real=False))
    return built


def normalise_sdist(source: Path, dest: Path) -> None:
    """Rewrite an sdist so the same sources give the same bytes.

    setuptools stamps the files it generates (PKG-INFO, egg-info) with the build time and
    gzip stamps the archive: fixed times, owners and order make the sha256 reproducible.
    """
    with tarfile.open(source) as original, dest.open("wb") as raw:
        members = sorted(original.getmembers(), key=lambda m: m.name)
        with (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as out,
        ):
            for member in members:
                member.mtime = SOURCE_DATE_EPOCH
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                member.pax_headers = {}
                data = original.extractfile(member) if member.isfile() else None
                out.addfile(member, data)


def describe_file(path: Path, *, real: bool) -> IndexFile:
    if path.name.endswith(".whl"):
        name, version, _, _ = parse_wheel_filename(path.name)
        metadata = _wheel_metadata(path)
    elif path.name.endswith(".tar.gz"):
        name, version = parse_sdist_filename(path.name)
        metadata = _sdist_metadata(path)
    else:
        raise PackageIndexError(f"Not a wheel or an sdist: {path}")
    headers = email.parser.HeaderParser().parsestr(metadata)
    return IndexFile(
        filename=path.name,
        project=canonicalize_name(name),
        version=str(version),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        requires_python=headers.get("Requires-Python"),
        requires_dist=tuple(headers.get_all("Requires-Dist") or ()),
        real=real,
    )


def _wheel_metadata(path: Path) -> str:
    with zipfile.ZipFile(path) as wheel:
        # The top-level .dist-info only: wheels may vendor other packages' metadata.
        names = [
            n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        if len(names) != 1:
            raise PackageIndexError(f"{path.name} has {len(names)} top-level METADATA files")
        return wheel.read(names[0]).decode()


def _sdist_metadata(path: Path) -> str:
    with tarfile.open(path) as sdist:
        for member in sdist.getmembers():
            if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                handle = sdist.extractfile(member)
                if handle is not None:
                    return handle.read().decode()
    raise PackageIndexError(f"{path.name} has no PKG-INFO")


def write_simple_index(tree: Path, files: Sequence[IndexFile]) -> None:
    """PEP 503 pages: one for the list of projects, one per project with its files."""
    projects: dict[str, list[IndexFile]] = {}
    for file in files:
        projects.setdefault(file.project, []).append(file)
    simple = tree / "simple"
    simple.mkdir(parents=True)
    links = [f'<a href="{name}/">{name}</a>' for name in sorted(projects)]
    (simple / "index.html").write_text(_page("Simple index", links))
    for name, project_files in projects.items():
        links = []
        for file in sorted(project_files, key=lambda f: f.filename):
            requires = (
                f' data-requires-python="{html.escape(file.requires_python)}"'
                if file.requires_python
                else ""
            )
            href = f"../../files/{file.filename}#sha256={file.sha256}"
            links.append(f'<a href="{html.escape(href)}"{requires}>{file.filename}</a>')
        (simple / name).mkdir()
        (simple / name / "index.html").write_text(_page(f"Links for {name}", links))


def _page(title: str, links: Iterable[str]) -> str:
    body = "<br/>\n".join(links)
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta name="pypi:repository-version" content="1.0">\n'
        f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{body}\n</body>\n</html>\n"
    )


# --- serving


def cache_headers(path: str) -> dict[str, str]:
    """PyPI's caching: files never change, pages may. Without these pip's HTTP cache keeps
    nothing and a warm PIP_CACHE_DIR would download every wheel again."""
    if path.startswith("/files/"):
        return {"Cache-Control": "max-age=365000000, immutable, public"}
    return {"Cache-Control": "max-age=600, public"}


class Recording:
    """The requests made to the index since the recording started."""

    def __init__(self, server: FileServer) -> None:
        self._server = server
        self._start = len(server.requests)

    @property
    def requests(self) -> list[str]:
        return self._server.requests[self._start :]

    def file_requests(self) -> list[str]:
        return [path for path in self.requests if path.startswith("/files/")]


class PackageIndex:
    """The index tree served over HTTP on 127.0.0.1 (a random port) while started."""

    def __init__(self, tree: Path, port: int = 0) -> None:
        self.tree = tree
        manifest = json.loads((tree / MANIFEST).read_text())
        self.files: list[IndexFile] = [
            IndexFile(**{**f, "requires_dist": tuple(f["requires_dist"])})
            for f in manifest["files"]
        ]
        self.pins: dict[str, str] = dict(manifest["pins"])
        self.build_seconds: float | None = manifest.get("build_seconds")
        self.server = FileServer(tree, headers=cache_headers, port=port)

    @classmethod
    def start(cls, *, rebuild: bool = False, port: int = 0) -> PackageIndex:
        """Build (or reuse) the cached tree and start serving it; use it as a context manager.

        `port` 0 is a random free port; see `serve_locked_package_index` for a fixed one."""
        index = cls(ensure_index(rebuild=rebuild), port=port)
        index.server.start()
        return index

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> PackageIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The index URL for pip (`--index-url` / `PIP_INDEX_URL`)."""
        return self.server.url + "/simple"

    @property
    def trusted_host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    @property
    def pip_env(self) -> dict[str, str]:
        """The pip settings of a build that uses this index.

        PIP_TRUSTED_HOST is not about TLS here: pip's HTTP cache keeps responses fetched over
        plain http only from trusted hosts, and without it a warm PIP_CACHE_DIR would still
        download every wheel (real builds use https, which pip always caches).
        """
        return {"PIP_INDEX_URL": self.url, "PIP_TRUSTED_HOST": self.trusted_host}

    @property
    def requests(self) -> list[str]:
        return self.server.requests

    def file_requests(self) -> list[str]:
        """Requests for distribution files: the downloads, as opposed to index pages."""
        return [path for path in self.requests if path.startswith("/files/")]

    def reset(self) -> None:
        """Forget the recorded requests (and any injected faults)."""
        self.server.reset()

    @contextmanager
    def recording(self) -> Iterator[Recording]:
        yield Recording(self.server)

    def files_of(self, project: str) -> list[IndexFile]:
        name = canonicalize_name(project)
        return [f for f in self.files if f.project == name]

    def requirements(self, *names: str, python: str = "3.11") -> list[str]:
        """`name==version` lines for `names` and all their dependencies on `python`, sorted.

        Only for the real packages (the pinned set); markers are evaluated for Linux.
        """
        environment = {
            "python_version": python,
            "python_full_version": python + ".0",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "os_name": "posix",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "extra": "",
        }
        requires = {f.project: f.requires_dist for f in self.files if f.real}
        wanted: set[str] = set()
        todo = [canonicalize_name(n) for n in names]
        while todo:
            name = todo.pop()
            if name in wanted:
                continue
            if name not in self.pins:
                raise KeyError(f"{name} is not one of the pinned real packages")
            wanted.add(name)
            for line in requires[name]:
                requirement = Requirement(line)
                if requirement.marker is None or requirement.marker.evaluate(environment):
                    todo.append(canonicalize_name(requirement.name))
        return [f"{name}=={self.pins[name]}" for name in sorted(wanted)]


def serve_package_index() -> Iterator[PackageIndex]:
    """The body of a session-scoped pytest fixture: `yield from serve_package_index()`."""
    with PackageIndex.start() as index:
        yield index


def serve_locked_package_index() -> Iterator[PackageIndex]:
    """The body of a fixture for apps with committed lock files: the index on `LOCKED_PORT`.

    Only one test session at a time can listen there, so the fixture holds a file lock while it
    serves (a concurrent session waits). Module-scoped fixtures keep that wait short.
    """
    with file_lock(LOCKED_PORT_LOCK), PackageIndex.start(port=LOCKED_PORT) as index:
        yield index


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="build the tree again")
    parser.add_argument("--serve", action="store_true", help="serve it until interrupted")
    parser.add_argument(
        "--locked-port", action="store_true", help=f"serve on port {LOCKED_PORT} (lock files)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    port = LOCKED_PORT if args.locked_port else 0
    with PackageIndex.start(rebuild=args.rebuild, port=port) as index:
        print(f"tree: {index.tree}")
        print(f"ready in {time.monotonic() - started:.2f} s (cold build: {index.build_seconds} s)")
        for name, version in sorted(index.pins.items()):
            print(f"  {name}=={version}")
        if args.serve:
            print(f"serving {index.url} (Ctrl-C to stop)", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
