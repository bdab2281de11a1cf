"""bin/build writes launch.toml and runs Django's collectstatic (against the local index)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from python_buildpack.cnb.models import LaunchToml
from python_buildpack.cnb.toml_io import load_toml
from tests.harness.package_index import PackageIndex
from tests.harness.phases import PhaseResult, Workspace

FIXTURE_APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"


@pytest.fixture
def app(ws: Workspace, package_index: PackageIndex) -> Workspace:
    for name, value in package_index.pip_env.items():
        ws.set_platform_env(name, value)
    return ws


def copy_fixture(ws: Workspace, name: str) -> None:
    ws.copy_app(FIXTURE_APPS / name)


def build_ok(ws: Workspace) -> PhaseResult:
    result = ws.build()
    assert result.exit_code == 0, result.output
    return result


def processes(ws: Workspace) -> dict[str, tuple[list[str], bool]]:
    launch = load_toml(ws.layers / "launch.toml", LaunchToml, what="launch.toml")
    return {p.type: (p.command, p.default) for p in launch.processes}


def test_procfile_and_launch_command(app: Workspace) -> None:
    copy_fixture(app, "launch_procfile")
    result = build_ok(app)
    assert "[Configuring processes]" in result.stdout
    assert "web: python server.py --port $PORT --name procfile-web (Procfile line 2)" in (
        result.stdout
    )
    assert processes(app) == {
        "web": (["bash", "-c", "python server.py --port $PORT --name procfile-web"], True),
        "worker": (
            ["bash", "-c", "python server.py --port ${WORKER_PORT:-9000} --name procfile-worker"],
            False,
        ),
    }

    app.set_platform_env("BP_LAUNCH_COMMAND", "python server.py --port $PORT --name env-web\n")
    result = build_ok(app)
    assert (
        "web: python server.py --port $PORT --name env-web (BP_LAUNCH_COMMAND, replacing the "
        "Procfile's)" in result.stdout
    )
    found = processes(app)
    assert found["web"] == (["bash", "-c", "python server.py --port $PORT --name env-web"], True)
    assert found["worker"][1] is False


def test_a_malformed_procfile_fails_before_any_layer(app: Workspace) -> None:
    copy_fixture(app, "launch_procfile")
    (app.app / "Procfile").write_text("web: python server.py\nworker python worker.py\n")
    result = app.build()
    assert result.exit_code != 0
    assert "! ERROR: Invalid Procfile (line 2)" in result.stderr
    assert "2 | worker python worker.py" in result.stderr
    assert "Traceback" not in result.output
    assert "[Installing Python]" not in result.stdout
    assert list(app.layers.iterdir()) == []


def test_no_default_process_says_how_to_add_one(app: Workspace) -> None:
    (app.app / "requirements.txt").write_text("")
    (app.app / "worker.py").write_text("print('working')\n")
    result = build_ok(app)
    assert "No default process: no Procfile" in result.stdout
    assert "add a file named Procfile" in result.stdout
    assert processes(app) == {}


def test_django_collectstatic_and_its_switches(app: Workspace) -> None:
    copy_fixture(app, "django_app")
    settings = app.app / "mysite" / "settings.py"
    original_settings = settings.read_text()
    static_root = app.app / "staticfiles"

    result = build_ok(app)
    log = result.stdout
    assert log.index("[Installing dependencies using pip]") < log.index(
        "[Generating Django static files]"
    )
    assert "Running 'python manage.py collectstatic --noinput'" in log
    assert "1 static file copied" in log
    assert (static_root / "hello" / "greeting.txt").read_text().startswith("Hello")
    assert not list(app.app.rglob("__pycache__"))  # the app's code left as it was sent
    assert (
        "web: gunicorn mysite.wsgi --bind 0.0.0.0:${PORT:-8000} (inferred: a Django project "
        "(mysite.settings from manage.py) with mysite.wsgi and gunicorn)" in log
    )
    assert processes(app) == {
        "web": (["bash", "-c", "gunicorn mysite.wsgi --bind 0.0.0.0:${PORT:-8000}"], True)
    }

    # The staticfiles app is not enabled: skipped without a fuss.
    shutil.rmtree(static_root)
    settings.write_text(
        original_settings + '\nINSTALLED_APPS.remove("django.contrib.staticfiles")\n'
    )
    result = build_ok(app)
    assert "Using cached virtual environment" in result.stdout
    assert "Skipping 'manage.py collectstatic' since django.contrib.staticfiles is not" in (
        result.stdout
    )
    assert "WARNING" not in result.stdout
    assert not static_root.exists()

    # BP_DISABLE_COLLECTSTATIC: not even probed, so broken static settings do not matter.
    settings.write_text(original_settings + "\nSTATIC_ROOT = None\n")
    app.set_platform_env("BP_DISABLE_COLLECTSTATIC", "1")
    result = build_ok(app)
    assert "Skipping 'manage.py collectstatic' since BP_DISABLE_COLLECTSTATIC is set" in (
        result.stdout
    )
    assert not static_root.exists()

    # Without the switch, the same settings fail the build with Django's own words.
    (app.platform / "env" / "BP_DISABLE_COLLECTSTATIC").unlink()
    result = app.build()
    assert result.exit_code == 1, result.output
    assert "! ERROR: 'python manage.py collectstatic --noinput' failed (exit status 1)" in (
        result.stderr
    )
    assert "ImproperlyConfigured" in result.stderr and "STATIC_ROOT" in result.stderr
    assert "BP_DISABLE_COLLECTSTATIC=1" in result.stderr

    # Settings that cannot even be loaded: the probe fails, with the traceback's last lines.
    settings.write_text("import module_that_does_not_exist\n" + original_settings)
    result = app.build()
    assert result.exit_code == 1, result.output
    assert "! ERROR: Unable to inspect the Django configuration" in result.stderr
    assert "No module named 'module_that_does_not_exist'" in result.stderr
    assert "Running 'python manage.py collectstatic" not in result.stdout


def test_pythonpath_reaches_collectstatic_and_launch_but_not_the_tools(app: Workspace) -> None:
    copy_fixture(app, "django_app")
    extra = app.app / "extra"
    # The settings need a module only PYTHONPATH finds; a `pip` package there would break
    # every pip run that saw it.
    (extra / "pip").mkdir(parents=True)
    (extra / "pip" / "__init__.py").write_text("raise SystemExit('PYTHONPATH reached pip')\n")
    (extra / "extra_settings.py").write_text("STATIC_FROM_EXTRA = True\n")
    settings = app.app / "mysite" / "settings.py"
    settings.write_text("from extra_settings import STATIC_FROM_EXTRA\n" + settings.read_text())
    app.set_platform_env("PYTHONPATH", str(extra))

    result = build_ok(app)
    assert "PYTHONPATH reached pip" not in result.output
    assert "1 static file copied" in result.stdout
    launch_env = app.layers / "venv" / "env.launch" / "PYTHONPATH.default"
    assert launch_env.read_text() == str(extra)
    assert not (app.layers / "venv" / "env.build").joinpath("PYTHONPATH.default").exists()
