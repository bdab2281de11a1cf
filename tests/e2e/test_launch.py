"""`docker run <image>` starts the app: every image here is launched with its default process
(no command), the way a platform runs it, and answers over HTTP."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.conftest import LAYERS
from tests.harness.lifecycle import BuildResult, PhaseFailed, Platform, free_port
from tests.harness.lifecycle_namespace import PrivateNetwork

pytestmark = pytest.mark.e2e

APP_DIR = "/workspace"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(port: int, path: str) -> Response:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Response(response.status, headers, response.read())


def serve_default(
    platform: Platform,
    result: BuildResult,
    *paths: str,
    process: str | None = None,
    port_var: str = "PORT",
) -> list[Response]:
    """Start the image with its default process (or `process`) and GET each path."""
    port = free_port()
    with platform.launch(result, process=process, env={port_var: str(port)}) as proc:
        proc.wait_for_port(port)
        return [fetch(port, path) for path in paths or ("/",)]


def serve_on_private_network(
    platform: Platform, result: BuildResult, *paths: str, port: int = 8080
) -> list[Response]:
    """Start the image's default process in a network namespace of its own and GET each path
    on the namespace's non-loopback address, as a platform's router would: a process that
    listens on 127.0.0.1 only, or not on $PORT, is not reached."""
    with platform.launch(result, env={"PORT": str(port)}, network=PrivateNetwork()) as proc:
        answers = [proc.get(port, path) for path in paths or ("/",)]
    return [Response(a.status, a.headers, a.body) for a in answers]


def test_procfile_processes(python_platform: Any, fixture_app: Any) -> None:
    platform = python_platform()
    result = platform.build(fixture_app("launch_procfile"), image="procfile")
    assert (
        "web: python server.py --port $PORT --name procfile-web (Procfile line 2)"
        in (result.logs["builder"])
    )

    (web,) = serve_default(platform, result)
    answer = web.json()
    assert answer["name"] == "procfile-web"  # not the inferred `python main.py`
    assert answer["argv"][:1] == ["--port"] and answer["argv"][1].isdigit()  # $PORT expanded
    assert answer["cwd"] == APP_DIR
    assert answer["prefix"] == answer["virtual_env"] == f"{LAYERS}/venv"

    (worker,) = serve_default(platform, result, process="worker", port_var="WORKER_PORT")
    assert worker.json()["name"] == "procfile-worker"


def test_launch_command_replaces_the_web_process(python_platform: Any, fixture_app: Any) -> None:
    platform = python_platform(
        env={"BP_LAUNCH_COMMAND": "python server.py --port $PORT --name env"}
    )
    result = platform.build(fixture_app("launch_procfile"), image="launch-command")
    assert "(BP_LAUNCH_COMMAND, replacing the Procfile's)" in result.logs["builder"]
    (web,) = serve_default(platform, result)
    assert web.json()["name"] == "env"


def test_inferred_gunicorn_app(python_platform: Any, fixture_app: Any) -> None:
    platform = python_platform()
    result = platform.build(fixture_app("launch_gunicorn"), image="gunicorn")
    assert (
        "web: gunicorn wsgi:application --bind 0.0.0.0:${PORT:-8000} (inferred: gunicorn is "
        "installed and wsgi.py defines application)" in result.logs["builder"]
    )
    (web,) = serve_default(platform, result)
    answer = web.json()
    assert answer["server"].startswith("gunicorn/")
    assert answer["cwd"] == APP_DIR
    assert answer["prefix"] == f"{LAYERS}/venv"


def test_inferred_django_app_serves_its_collected_static_files(
    python_platform: Any, fixture_app: Any
) -> None:
    platform = python_platform()
    result = platform.build(fixture_app("django_app"), image="django")
    log = result.logs["builder"]
    assert "1 static file copied" in log
    assert "(inferred: a Django project (mysite.settings from manage.py)" in log

    index, static = serve_default(platform, result, "/", "/static/hello/greeting.txt")
    answer = index.json()
    assert answer["django"] == "5.2.19"
    assert answer["server"].startswith("gunicorn/")
    assert answer["static_root"] == f"{APP_DIR}/staticfiles"
    assert answer["collected"] == ["hello/greeting.txt"]
    # WhiteNoise serves only what collectstatic put in STATIC_ROOT (DEBUG is off).
    assert static.body == b"Hello from a collected static file\n"


def test_inferred_fastapi_app_runs_under_uvicorn(python_platform: Any, fixture_app: Any) -> None:
    platform = python_platform()
    result = platform.build(fixture_app("fastapi_app"), image="fastapi")
    assert (
        "web: uvicorn main:app --host 0.0.0.0 --port ${PORT:-8000} (inferred: uvicorn is "
        "installed and main.py defines app (an ASGI app))" in result.logs["builder"]
    )
    (web,) = serve_default(platform, result)
    assert web.headers["server"] == "uvicorn"
    assert web.json() == {"fastapi": "0.165.0", "prefix": f"{LAYERS}/venv"}


def test_collectstatic_skipped_when_staticfiles_is_not_enabled(
    python_platform: Any, fixture_app: Any
) -> None:
    platform = python_platform()
    app = fixture_app("django_app")
    settings = app / "mysite" / "settings.py"
    settings.write_text(
        settings.read_text() + '\nINSTALLED_APPS.remove("django.contrib.staticfiles")\n'
    )
    result = platform.build(app, image="django-nostatic")
    assert "since django.contrib.staticfiles is not in INSTALLED_APPS" in result.logs["builder"]
    (index,) = serve_default(platform, result)
    assert index.json()["collected"] == []


def test_collectstatic_failure_fails_the_build(python_platform: Any, fixture_app: Any) -> None:
    platform = python_platform()
    app = fixture_app("django_app")
    settings = app / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\nSTATIC_ROOT = None\n")
    with pytest.raises(PhaseFailed) as info:
        platform.build(app, image="django-broken")
    failure = info.value
    assert failure.phase == "builder"
    assert "! ERROR: 'python manage.py collectstatic --noinput' failed" in failure.output
    assert "STATIC_ROOT setting to a filesystem path" in failure.output
    assert "BP_DISABLE_COLLECTSTATIC=1" in failure.output
    assert "exporter" not in failure.logs


PYTHON_APP_FIXTURES = [
    ("stdlib_313", "python app.py", "python"),
    ("stdlib_311", "python app.py", "python"),
    ("pyproject_only", "python app.py", "alpha"),
    ("c_extension", "python app.py", "sum"),
    ("flask_gunicorn", "gunicorn app:app --bind 0.0.0.0:${PORT:-8000}", "flask"),
]


@pytest.mark.parametrize(
    ("name", "process", "key"), [pytest.param(*case, id=case[0]) for case in PYTHON_APP_FIXTURES]
)
def test_every_python_app_fixture_starts_by_default(
    python_platform: Any, fixture_app: Any, name: str, process: str, key: str
) -> None:
    """The apps of test_python_apps.py (launched there with explicit commands) start with the
    process the buildpack infers for them."""
    platform = python_platform()
    result = platform.build(fixture_app(name), image=name)
    assert f"web: {process} (inferred: " in result.logs["builder"]
    (web,) = serve_default(platform, result)
    assert key in web.json()


def test_inferred_flask_development_server_listens_on_all_addresses_and_port(
    python_platform: Any, fixture_app: Any
) -> None:
    # The app's own PYTHONPATH: its vendored module reaches the app at launch, and never the
    # buildpack's pip (a `pip` package there would break every install).
    app = fixture_app("flask_dev")
    (app / "vendor" / "pip").mkdir(parents=True)
    (app / "vendor" / "pip" / "__init__.py").write_text(
        "raise SystemExit('the app PYTHONPATH reached the buildpack pip')\n"
    )
    (app / "vendor" / "greeting.py").write_text("TEXT = 'vendored'\n")
    platform = python_platform(env={"PYTHONPATH": f"{APP_DIR}/vendor"})
    result = platform.build(app, image="flask-dev")
    log = result.logs["builder"]
    assert (
        "web: flask --app main:app run --host 0.0.0.0 --port ${PORT:-8000} (inferred: main.py "
        "defines app (a Flask app) and gunicorn is not installed)" in log
    )
    assert "Note: Flask's development server will serve the app" in log

    (web,) = serve_on_private_network(platform, result)
    answer = web.json()
    assert answer["server"].startswith("Werkzeug/")
    assert answer["debug"] is False  # `flask run` without --debug: no debugger
    assert answer["prefix"] == f"{LAYERS}/venv"
    assert answer["pythonpath"] == f"{APP_DIR}/vendor"
    assert answer["greeting"] == "vendored"


def test_inferred_project_script_is_the_web_process(python_platform: Any, fixture_app: Any) -> None:
    platform = python_platform()
    result = platform.build(fixture_app("project_script"), image="project-script")
    assert (
        "web: serve (inferred: pyproject.toml's [project.scripts] script named 'serve')"
        in result.logs["builder"]
    )
    (web,) = serve_on_private_network(platform, result)
    assert web.json() == {"script": "serve", "prefix": f"{LAYERS}/venv", "cwd": APP_DIR}
