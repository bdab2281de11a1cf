"""bin/build on rebuilds: the venv and Python left to the previous image
(`layers.previous_image`), Python unpacked from the cached archive when it must run.

Each rebuild starts from the layers directory the lifecycle would restore
(`Workspace.restore_for_rebuild`); tests/e2e/test_python_apps.py runs the same under the real
lifecycle, whose exporter then reuses the image's layer.
"""

from __future__ import annotations

import shutil

import pytest
import tomllib

from python_buildpack.cnb.models import LayerTypes
from tests.contract.lockfile_apps import (
    build_ok,
    layer_toml,
    lockfile_app,
    pip_zipped_site,
    venv_python,
)
from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace


@pytest.fixture
def app(ws: Workspace, package_index: PackageIndex) -> Workspace:
    (ws.app / ".python-version").write_text("3.13\n")
    (ws.app / "requirements.txt").write_text(
        "\n".join(package_index.requirements("flask", "gunicorn")) + "\n"
    )
    (ws.app / "Procfile").write_text("web: gunicorn app:app\n")
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)
    return ws


def store(ws: Workspace) -> dict[str, str]:
    data = tomllib.loads((ws.layers / "store.toml").read_text())
    layers: dict[str, str] = data["metadata"]["launch_layers"]
    return layers


def launch_toml(ws: Workspace) -> str:
    return (ws.layers / "launch.toml").read_text()


def left_to_image(ws: Workspace, name: str) -> bool:
    types = layer_toml(ws, name).types
    files = (ws.layers / name).exists()
    assert types.launch
    if not files:
        assert not types.build and not types.cache, f"{name}: build/cache without files"
    return not files


def archive_cached(ws: Workspace) -> bool:
    """The python-archive layer holds the runtime's archive as a cache-only layer."""
    types = layer_toml(ws, "python-archive").types
    assert types.cache and not types.launch and not types.build
    return (ws.layers / "python-archive" / "archive").is_file()


def test_an_unchanged_venv_is_taken_from_the_previous_image(app: Workspace) -> None:
    first = build_ok(app)
    assert set(store(app)) == {"python", "venv"}
    digest = store(app)
    processes = launch_toml(app)
    assert not left_to_image(app, "venv")
    # Python's files go to the image and never to the cache: its archive does.
    assert not left_to_image(app, "python")
    assert layer_toml(app, "python").types == LayerTypes(launch=True)
    assert archive_cached(app)
    assert "Installing Python 3.13" in first.stdout

    # First rebuild: the files came back from the cache; the image already holds the same
    # layer, so it is left to it (the exporter takes it from there) and leaves the cache.
    app.restore_for_rebuild()
    second = build_ok(app)
    assert "Using cached virtual environment since" in second.stdout
    assert left_to_image(app, "venv")
    assert (app.layers / "venv.sbom.cdx.json").is_file()
    assert store(app) == digest and launch_toml(app) == processes
    # Python was restored as metadata alone, and nothing ran it.
    assert "Using cached Python 3.13.15 from the previous image" in second.stdout
    assert "Installing Python" not in second.stdout.replace("[Installing Python]", "")
    assert left_to_image(app, "python") and archive_cached(app)

    # From then on only its metadata is restored: nothing to unpack, tar or cache.
    app.restore_for_rebuild()
    assert not (app.layers / "venv").exists()
    third = build_ok(app)
    assert "Using cached virtual environment from the previous image since" in third.stdout
    assert "Running 'pip install" not in third.stdout
    assert left_to_image(app, "venv") and left_to_image(app, "python")
    # The processes were chosen from the recorded contents of the venv: the same as before.
    assert store(app) == digest and launch_toml(app) == processes


def test_a_changed_requirement_rebuilds_a_venv_left_to_the_image(
    app: Workspace, package_index: PackageIndex
) -> None:
    build_ok(app)
    app.restore_for_rebuild()
    build_ok(app)  # left to the image
    app.restore_for_rebuild()
    requirements = [*package_index.requirements("flask", "gunicorn"), "bp-test-alpha==1.0.0"]
    (app.app / "requirements.txt").write_text("\n".join(requirements) + "\n")
    assert not (app.layers / "python").exists()
    changed = build_ok(app)
    assert "Discarding cached virtual environment since:" in changed.stdout
    assert "The requirements changed" in changed.stdout
    # Python's files are unpacked from the cached archive, with no download, to install with.
    assert "Using cached Python 3.13.15 from the previous image" in changed.stdout
    assert (
        "Installing Python 3.13.15 from the build cache, since the dependencies are installed "
        "with it"
    ) in changed.stdout
    types = layer_toml(app, "venv").types
    assert types.build and types.launch and types.cache
    assert venv_python(app, "import bp_test_alpha, flask; print('ok')") == "ok"
    # A whole layer again, exec.d programs included, exported with its files.
    assert (app.layers / "python" / "exec.d" / "web-concurrency").is_file()
    assert layer_toml(app, "python").types == LayerTypes(launch=True)
    assert archive_cached(app)
    # The next rebuild leaves it to the image again.
    app.restore_for_rebuild()
    again = build_ok(app)
    assert "Using cached Python 3.13.15 from the previous image" in again.stdout
    assert left_to_image(app, "python") and left_to_image(app, "venv")


def test_pip_installed_anew_is_packed_by_python_unpacked_from_the_cache(app: Workspace) -> None:
    """The venv is reused, but the pip layer left the cache: the new pip is packed into its
    zip by the python layer's own Python, which must be unpacked for that."""
    build_ok(app)
    app.restore_for_rebuild()
    (app.layers / "pip.toml").unlink()
    shutil.rmtree(app.layers / "pip")
    result = build_ok(app)
    assert "Using cached virtual environment since" in result.stdout
    assert "Installing Python 3.13.15 from the build cache, since pip is packed with it" in (
        result.stdout
    )
    pip_zipped_site(app)
    assert not left_to_image(app, "python")


def test_without_the_previous_image_the_venv_comes_from_the_cache_or_is_installed(
    app: Workspace,
) -> None:
    build_ok(app)
    # A new image name (no previous image), the same cache: as before this change.
    app.restore_for_rebuild(previous_image=False)
    second = build_ok(app)
    assert "Using cached virtual environment since" in second.stdout
    assert not left_to_image(app, "venv")

    # Left to an image, then built under a new name: installed again, never half-reused.
    app.restore_for_rebuild()
    build_ok(app)
    app.restore_for_rebuild(previous_image=False)
    assert not (app.layers / "venv.toml").exists()
    third = build_ok(app)
    assert "Running 'pip install" in third.stdout
    assert not left_to_image(app, "venv")


def test_a_previous_image_made_differently_is_not_reused(app: Workspace) -> None:
    build_ok(app)
    app.restore_for_rebuild()
    build_ok(app)  # left to the image
    app.restore_for_rebuild()
    # The app's build-time PYTHONPATH goes into the venv's launch env: the image's copy of
    # the venv has another env, so it cannot serve.
    app.set_platform_env("PYTHONPATH", "/workspace/src")
    third = build_ok(app)
    assert "Discarding cached virtual environment since:" in third.stdout
    assert "which has them as another version of this buildpack" in third.stdout
    assert (app.layers / "venv" / "env.launch" / "PYTHONPATH.default").read_text() == (
        "/workspace/src"
    )


def test_an_unreadable_store_toml_reuses_nothing(app: Workspace) -> None:
    build_ok(app)
    app.restore_for_rebuild()
    build_ok(app)  # left to the image
    app.restore_for_rebuild()
    (app.layers / "store.toml").write_text("[metadata\n")
    result = build_ok(app)
    assert "its files were not restored from the cache" in result.stdout
    assert "Running 'pip install" in result.stdout
    assert "Installing Python 3.13.15 from the build cache" in result.stdout
    assert set(store(app)) == {"python", "venv"}


def test_collectstatic_and_later_buildpacks_keep_the_files_at_build_time(
    app: Workspace,
) -> None:
    # A later buildpack that requires cpython runs it at build time: the files stay.
    plan = '[[entries]]\nname = "cpython"\n[entries.metadata]\nbuild = true\n'
    build_ok(app)
    app.restore_for_rebuild()
    result = app.build(plan=plan)
    assert result.exit_code == 0, result.output
    assert not left_to_image(app, "venv")

    # Left to the image by a build without it; then the later buildpack is back.
    app.restore_for_rebuild()
    assert app.build(plan="").exit_code == 0
    assert left_to_image(app, "venv")
    app.restore_for_rebuild()
    result = app.build(plan=plan)
    assert result.exit_code == 0, result.output
    assert "a later buildpack that requires 'cpython' may need them" in result.stdout
    assert not left_to_image(app, "venv")
    assert venv_python(app, "import flask; print('ok')") == "ok"
    # Python too: unpacked from the cached archive, then a build layer, cached with its files
    # while the later buildpack is there.
    assert "Installing Python 3.13.15 from the build cache" in result.stdout
    python = layer_toml(app, "python").types
    assert not left_to_image(app, "python") and python.build and python.cache
    app.restore_for_rebuild()
    assert (app.layers / "python" / "bin" / "python3").exists()
    again = app.build(plan=plan)
    assert again.exit_code == 0, again.output
    assert "Using cached Python 3.13.15\n" in again.stdout
    assert "Installing Python" not in again.stdout.replace("[Installing Python]", "")

    # A Django app (manage.py): collectstatic may run the app, every build.
    (app.app / "manage.py").write_text("import sys\nsys.exit(0)\n")
    app.restore_for_rebuild()
    result = app.build(plan="")
    assert result.exit_code == 0, result.output
    assert not left_to_image(app, "venv")
    assert "Using cached Python 3.13.15\n" in result.stdout
    assert layer_toml(app, "python").types == LayerTypes(build=True, launch=True, cache=True)


def test_a_later_buildpack_in_the_group_keeps_the_venv_at_build_time(app: Workspace) -> None:
    """An inline buildpack of project.toml (or any other) may run the app's Python without a
    word in the plan: it must find the venv on every build, as on the first."""
    app.set_group(["python-buildpack/python", "example/inline-tests"])
    build_ok(app)
    app.restore_for_rebuild()
    build_ok(app)
    assert not left_to_image(app, "venv")
    assert layer_toml(app, "venv").types.build

    # Left to the image while this buildpack built alone; then one is added after it.
    app.set_group(["python-buildpack/python"])
    app.restore_for_rebuild()
    build_ok(app)
    assert left_to_image(app, "venv")
    app.set_group(["python-buildpack/python", "example/inline-tests"])
    app.restore_for_rebuild()
    result = build_ok(app)
    assert "the later buildpack example/inline-tests may need them" in result.stdout
    assert not left_to_image(app, "venv")
    assert venv_python(app, "import flask; print('ok')") == "ok"


def test_python_stays_cached_while_the_venv_is_installed_on_every_build(
    app: Workspace, package_index: PackageIndex
) -> None:
    """Unpinned requirements install the venv anew on every build, with Python: its files are
    restored by the restorer beside the other layers, not unpacked by the build every time."""
    pinned = package_index.requirements("flask", "gunicorn")
    (app.app / "requirements.txt").write_text("\n".join([*pinned, "bp-test-alpha"]) + "\n")
    build_ok(app)
    assert layer_toml(app, "python").types == LayerTypes(build=True, launch=True, cache=True)
    for _ in range(2):
        app.restore_for_rebuild()
        assert (app.layers / "python" / "bin" / "python3").exists()
        result = build_ok(app)
        assert "Running 'pip install" in result.stdout
        assert "Using cached Python 3.13.15\n" in result.stdout
        assert "Installing Python" not in result.stdout.replace("[Installing Python]", "")
        assert not left_to_image(app, "python")
        assert layer_toml(app, "python").types.cache

    # Pinned now: this install is the last one, then Python goes back to the image alone.
    (app.app / "requirements.txt").write_text("\n".join([*pinned, "bp-test-alpha==1.0.0"]) + "\n")
    app.restore_for_rebuild()
    result = build_ok(app)
    # Restored with its files, used once more, then left to the image.
    assert "Using cached Python 3.13.15\n" in result.stdout
    assert left_to_image(app, "python")
    app.restore_for_rebuild()
    result = build_ok(app)
    assert "Using cached virtual environment since" in result.stdout
    assert left_to_image(app, "python") and left_to_image(app, "venv")
    app.restore_for_rebuild()
    result = build_ok(app)
    assert "Using cached Python 3.13.15 from the previous image" in result.stdout


def test_python_left_to_the_image_is_unpacked_once_for_a_venv_installed_on_every_build(
    app: Workspace, package_index: PackageIndex
) -> None:
    build_ok(app)
    app.restore_for_rebuild()
    build_ok(app)
    assert left_to_image(app, "python")
    # BP_PIP_REUSE_VENV=false: the venv is installed on every build from now on.
    app.set_platform_env("BP_PIP_REUSE_VENV", "false")
    app.restore_for_rebuild()
    result = build_ok(app)
    assert (
        "its files stayed in the previous image, and the dependencies are installed with it "
        "on every build (BP_PIP_REUSE_VENV is false)"
    ) in result.stdout
    assert "Installing Python 3.13.15 from the build cache" in result.stdout
    assert layer_toml(app, "python").types == LayerTypes(build=True, launch=True, cache=True)
    app.restore_for_rebuild()
    again = build_ok(app)
    assert "Using cached Python 3.13.15\n" in again.stdout
    assert "Running 'pip install" in again.stdout


@pytest.mark.parametrize(
    ("tool", "lock_file", "where", "runs"),
    [
        ("uv", "uv.lock", "libs/greet", "Running 'uv sync"),
        ("poetry", "poetry.lock", "libs/greet", "Running 'poetry sync"),
        ("pipenv", "Pipfile.lock", "./libs/greet", "Running 'pip install"),
    ],
)
def test_python_stays_cached_for_a_lock_file_that_installs_the_apps_code_as_a_copy(
    ws: Workspace,
    locked_package_index: PackageIndex,
    tool: str,
    lock_file: str,
    where: str,
    runs: str,
) -> None:
    """The lock file installs the app's own library (`libs/greet`, a path dependency) as a
    copy, so the venv is installed on every build: known from the lock file before Python is
    installed, which is then cached with its files from the first build on, never unpacked
    again. The next venv holds the library's changed code, whatever the tool caches."""
    app = lockfile_app(ws, locked_package_index, f"{tool}_path_dep_app")
    first = build_ok(app)
    assert f"{lock_file} installs code of the app dir as a copy, not editable:" in first.stdout
    assert f"greet (from {where})" in first.stdout
    assert layer_toml(app, "python").types == LayerTypes(build=True, launch=True, cache=True)
    assert venv_python(app, "import greet; print(greet.GREETING)") == "hello from libs/greet"

    library = app.app / "libs" / "greet" / "greet.py"
    library.write_text(library.read_text().replace("hello from", "changed in"))
    app.restore_for_rebuild()
    second = build_ok(app)
    assert "Using cached Python 3.13.15\n" in second.stdout
    assert "from the build cache" not in second.stdout
    assert runs in second.stdout
    assert layer_toml(app, "python").types.cache
    assert venv_python(app, "import greet; print(greet.GREETING)") == "changed in libs/greet"
