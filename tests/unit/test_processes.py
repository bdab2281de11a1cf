from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.errors import AppFileNotToml
from python_buildpack.output import Log
from python_buildpack.processes import (
    Inference,
    PlannedProcess,
    find_app_object,
    infer_web_process,
    launch_toml,
    log_processes,
    plan_processes,
)
from python_buildpack.procfile import parse_procfile

GUNICORN_BIND = "--bind 0.0.0.0:${PORT:-8000}"
UVICORN_BIND = "--host 0.0.0.0 --port ${PORT:-8000}"

FLASK_APP = "from flask import Flask\n\napp = Flask(__name__)\n"
WSGI_FUNCTION = "def application(environ, start_response):\n    return [b'']\n"
FASTAPI_APP = "from fastapi import FastAPI\n\napp = FastAPI()\n"
MANAGE_PY = (
    "import os, sys\n\n"
    "def main():\n"
    "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
    "    from django.core.management import execute_from_command_line\n"
    "    execute_from_command_line(sys.argv)\n"
)


def write(app: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = app / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return app


def django_app(app: Path, *, wsgi: bool = True, asgi: bool = True) -> Path:
    files = {"manage.py": MANAGE_PY, "mysite/__init__.py": "", "mysite/settings.py": ""}
    if wsgi:
        files["mysite/wsgi.py"] = "application = None\n"
    if asgi:
        files["mysite/asgi.py"] = "application = None\n"
    return write(app, files)


def infer(app: Path, *installed: str, **environ: str) -> Inference:
    return infer_web_process(AppSnapshot(app), set(installed), environ)


# --- inference: Django --------------------------------------------------------------------


def test_django_with_gunicorn(tmp_path: Path) -> None:
    inference = infer(django_app(tmp_path), "django", "gunicorn", "uvicorn")
    assert inference.command == f"gunicorn mysite.wsgi {GUNICORN_BIND}"
    assert "Django project (mysite.settings from manage.py)" in inference.reason
    assert "gunicorn" in inference.reason


def test_django_asgi_with_uvicorn_only(tmp_path: Path) -> None:
    inference = infer(django_app(tmp_path), "django", "uvicorn")
    assert inference.command == f"uvicorn mysite.asgi:application {UVICORN_BIND}"


def test_django_asgi_module_alone_is_not_served_by_gunicorn(tmp_path: Path) -> None:
    inference = infer(django_app(tmp_path, wsgi=False), "django", "gunicorn", "uvicorn")
    assert inference.command == f"uvicorn mysite.asgi:application {UVICORN_BIND}"


def test_django_settings_package_from_the_environment(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "manage.py": MANAGE_PY,
            "config/__init__.py": "",
            "config/settings/__init__.py": "",
            "config/settings/production.py": "",
            "config/wsgi.py": "application = None\n",
        },
    )
    inference = infer(
        tmp_path, "django", "gunicorn", DJANGO_SETTINGS_MODULE="config.settings.production"
    )
    assert inference.command == f"gunicorn config.wsgi {GUNICORN_BIND}"
    assert "config.settings.production from DJANGO_SETTINGS_MODULE" in inference.reason


def test_django_project_package_without_a_settings_module(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "manage.py": "print('no settings here')\n",
            "docs/index.md": "",
            "proj/__init__.py": "",
            "proj/wsgi.py": "application = None\n",
        },
    )
    inference = infer(tmp_path, "gunicorn")
    assert inference.command == f"gunicorn proj.wsgi {GUNICORN_BIND}"


def test_django_without_a_server_falls_through_with_a_note(tmp_path: Path) -> None:
    django_app(tmp_path)
    assert infer(tmp_path, "django").command is None
    write(tmp_path, {"main.py": "import os\nprint(os.environ['PORT'])\n"})
    inference = infer(tmp_path, "django")
    assert inference.command == "python main.py"
    assert any("gunicorn is not installed" in note for note in inference.notes)


def test_manage_py_without_a_wsgi_module(tmp_path: Path) -> None:
    write(tmp_path, {"manage.py": MANAGE_PY, "app.py": FLASK_APP})
    inference = infer(tmp_path, "gunicorn")
    assert inference.command == f"gunicorn app:app {GUNICORN_BIND}"
    assert any("no wsgi.py or asgi.py" in note for note in inference.notes)


# --- inference: WSGI / ASGI apps and scripts ----------------------------------------------


@pytest.mark.parametrize(
    ("files", "target"),
    [
        ({"app.py": FLASK_APP}, "app:app"),
        ({"main.py": WSGI_FUNCTION}, "main:application"),
        (
            {"wsgi.py": "from proj import create_app\napplication = create_app()\n"},
            "wsgi:application",
        ),
        ({"app.py": FLASK_APP, "main.py": WSGI_FUNCTION}, "app:app"),
        ({"app.py": "print('no app')\n", "wsgi.py": WSGI_FUNCTION}, "wsgi:application"),
        ({"app.py": "from factory import app\n"}, "app:app"),
        ({"app.py": "try:\n    app = make()\nexcept ImportError:\n    raise\n"}, "app:app"),
        ({"app.py": "app: object\napp, other = make()\n"}, "app:app"),
    ],
)
def test_gunicorn_serves_the_app_object(tmp_path: Path, files: dict[str, str], target: str) -> None:
    write(tmp_path, files)
    inference = infer(tmp_path, "gunicorn", "flask")
    assert inference.command == f"gunicorn {target} {GUNICORN_BIND}"
    module, name = target.split(":")
    assert inference.reason == f"gunicorn is installed and {module}.py defines {name}"


def test_an_app_only_in_the_main_guard_is_not_an_app_object(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"app.py": "if __name__ == '__main__':\n    app = make()\n    app.run(port=PORT)\n"},
    )
    assert find_app_object(tmp_path, "app.py") is None
    assert infer(tmp_path, "gunicorn").command is None


def test_fastapi_app_is_served_by_uvicorn_even_with_gunicorn(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": FASTAPI_APP})
    inference = infer(tmp_path, "fastapi", "uvicorn", "gunicorn")
    assert inference.command == f"uvicorn main:app {UVICORN_BIND}"
    assert "main.py defines app (an ASGI app)" in inference.reason


def test_starlette_application(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"app.py": "from starlette.applications import Starlette\napplication = Starlette()\n"},
    )
    assert infer(tmp_path, "uvicorn").command == f"uvicorn app:application {UVICORN_BIND}"


def test_fastapi_without_uvicorn_is_not_started_with_python(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": FASTAPI_APP})
    inference = infer(tmp_path, "fastapi")
    assert inference.command is None
    assert any("uvicorn is not installed" in note for note in inference.notes)
    assert any("never reads $PORT" in note for note in inference.notes)


def test_wsgi_app_beside_an_asgi_app_with_gunicorn(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": FASTAPI_APP, "wsgi.py": WSGI_FUNCTION})
    assert infer(tmp_path, "gunicorn").command == f"gunicorn wsgi:application {GUNICORN_BIND}"


def test_a_top_level_asgi_module_is_never_given_to_gunicorn(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "asgi.py": "from django.core.asgi import get_asgi_application\n"
            "application = get_asgi_application()\n"
        },
    )
    assert infer(tmp_path, "gunicorn").command is None
    assert infer(tmp_path, "gunicorn", "uvicorn").command == (
        f"uvicorn asgi:application {UVICORN_BIND}"
    )


def test_flask_without_gunicorn_runs_flask_on_all_addresses_and_port(tmp_path: Path) -> None:
    # What `flask` tutorials write: `app.run()` in the main guard, Flask's debug server on
    # 127.0.0.1:5000. `python app.py` would be unreachable; `flask run` binds where told.
    write(tmp_path, {"app.py": FLASK_APP + "\nif __name__ == '__main__':\n    app.run()\n"})
    inference = infer(tmp_path, "flask")
    assert inference.command == f"flask --app app:app run {UVICORN_BIND}"
    assert inference.reason == "app.py defines app (a Flask app) and gunicorn is not installed"
    assert any(
        "Flask's development server" in note and "gunicorn" in note for note in inference.notes
    )
    # main.py, the other usual name
    other = write(tmp_path / "other", {"main.py": FLASK_APP})
    assert infer(other, "flask").command == f"flask --app main:app run {UVICORN_BIND}"


def test_gunicorn_wins_over_the_flask_development_server(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": FLASK_APP})
    inference = infer(tmp_path, "flask", "gunicorn")
    assert inference.command == f"gunicorn main:app {GUNICORN_BIND}"
    assert not inference.notes


def test_a_wsgi_app_without_any_server_names_gunicorn(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "import bottle\napp = bottle.Bottle()\napp.run()\n"})
    inference = infer(tmp_path, "bottle", "flask")
    assert inference.command is None
    assert any("add gunicorn" in note for note in inference.notes)


def test_scripts_run_with_python_only_when_they_read_port(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "print('hi')\n"})
    inference = infer(tmp_path)
    assert inference.command is None
    assert any("main.py exists, but it never reads $PORT" in note for note in inference.notes)
    server = "import os\nfrom http.server import HTTPServer\nport = int(os.environ['PORT'])\n"
    write(tmp_path, {"main.py": server})
    inference = infer(tmp_path)
    assert inference.command == "python main.py"
    assert inference.reason == "main.py reads $PORT"


STREAMLIT_APP = "import streamlit as st\n\nst.title('Hello')\n"
GRADIO_APP = (
    "import gradio as gr\n\n"
    "demo = gr.Interface(fn=lambda x: x, inputs='text', outputs='text')\n"
    "demo.launch()\n"
)


def test_streamlit_app(tmp_path: Path) -> None:
    write(tmp_path, {"streamlit_app.py": STREAMLIT_APP, "helpers.py": "import streamlit\n"})
    inference = infer(tmp_path, "streamlit")
    assert inference.command == (
        "streamlit run streamlit_app.py --server.address 0.0.0.0 --server.port ${PORT:-8000} "
        "--server.headless true"
    )
    assert inference.reason == "streamlit_app.py imports streamlit"
    # any top-level module name, when none of the usual ones is there
    other = write(tmp_path / "other", {"dashboard.py": STREAMLIT_APP})
    assert infer(other, "streamlit").command.startswith("streamlit run dashboard.py ")  # type: ignore[union-attr]
    # not without streamlit installed
    assert infer(tmp_path).command is None


def test_gradio_app_takes_address_and_port_from_the_env(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": GRADIO_APP})
    inference = infer(tmp_path, "gradio")
    assert inference.command == (
        "GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=${PORT:-8000} python app.py"
    )
    assert not inference.notes
    write(tmp_path, {"app.py": GRADIO_APP.replace("launch()", "launch(server_port=7860)")})
    inference = infer(tmp_path, "gradio")
    assert inference.command is not None
    assert any("server_port" in note for note in inference.notes)


def test_gradio_env_reaches_the_app_through_bash(tmp_path: Path) -> None:
    command = infer(write(tmp_path, {"app.py": GRADIO_APP}), "gradio").command
    assert command is not None
    shown = command.replace("python app.py", 'echo "$GRADIO_SERVER_NAME:$GRADIO_SERVER_PORT"')
    # The assignments are for the command only; here `echo` gets them through env.
    shown = shown.replace("echo", "env | grep ^GRADIO_ | sort; :")
    out = subprocess.run(
        ["bash", "-c", shown],
        env={"PORT": "5123", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["GRADIO_SERVER_NAME=0.0.0.0", "GRADIO_SERVER_PORT=5123"]


PYPROJECT_SCRIPTS = "[project]\nname = 'web'\nversion = '1'\n\n[project.scripts]\n{scripts}\n"


def scripts_app(app: Path, scripts: str) -> Path:
    return write(app, {"pyproject.toml": PYPROJECT_SCRIPTS.format(scripts=scripts)})


def test_a_single_project_script_is_the_web_process(tmp_path: Path) -> None:
    scripts_app(tmp_path, "webapp = 'webapp:main'")
    write(tmp_path, {"app.py": FLASK_APP})  # the script wins over the file heuristics
    inference = infer_web_process(AppSnapshot(tmp_path), {"gunicorn"}, {}, {"webapp", "python"})
    assert inference.command == "webapp"
    assert inference.reason == "the only script in pyproject.toml's [project.scripts]"
    assert any("0.0.0.0:$PORT" in note for note in inference.notes)


def test_a_start_or_serve_script_among_others(tmp_path: Path) -> None:
    scripts_app(tmp_path, "migrate = 'w:m'\nserve = 'w:s'\ncli = 'w:c'")
    inference = infer_web_process(AppSnapshot(tmp_path), set(), {}, {"migrate", "serve", "cli"})
    assert inference.command == "serve"
    assert inference.reason == "pyproject.toml's [project.scripts] script named 'serve'"
    scripts_app(tmp_path, "migrate = 'w:m'\ncli = 'w:c'")
    assert infer_web_process(AppSnapshot(tmp_path), set(), {}, {"migrate", "cli"}).command is None


def test_poetry_scripts_count_too(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.poetry.scripts]\nstart = 'w:main'\n"})
    inference = infer_web_process(AppSnapshot(tmp_path), set(), {}, {"start"})
    assert inference.command == "start"
    assert "[tool.poetry.scripts]" in inference.reason


def test_a_declared_script_that_is_not_installed_falls_through(tmp_path: Path) -> None:
    scripts_app(tmp_path, "serve = 'w:s'")
    write(tmp_path, {"app.py": FLASK_APP})
    inference = infer_web_process(AppSnapshot(tmp_path), {"gunicorn"}, {}, set())
    assert inference.command == f"gunicorn app:app {GUNICORN_BIND}"
    assert any("'serve'" in note and "not installed" in note for note in inference.notes)


def test_an_invalid_pyproject_is_an_error_not_a_project_without_scripts(tmp_path: Path) -> None:
    # One policy for every app file: decide() reads pyproject.toml when the web process may be
    # inferred, and a file that does not parse fails the build there, before any layer.
    write(tmp_path, {"pyproject.toml": "[project\n"})
    with pytest.raises(AppFileNotToml, match=r"Invalid pyproject\.toml"):
        infer_web_process(AppSnapshot(tmp_path), set(), {}, {"serve"})


def test_nothing_to_start(tmp_path: Path) -> None:
    write(tmp_path, {"worker.py": "print('hi')\n"})
    inference = infer(tmp_path, "gunicorn")
    assert inference.command is None
    assert "no Procfile" in inference.reason


def test_inference_never_runs_app_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(
        tmp_path,
        {
            "app.py": f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\napp = 1\n",
            "manage.py": f"open({str(marker)!r}, 'w').close()\n",
        },
    )
    assert infer(tmp_path, "gunicorn").command == f"gunicorn app:app {GUNICORN_BIND}"
    assert not marker.exists()


def test_unparsable_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "app = (\n", "main.py": WSGI_FUNCTION})
    (tmp_path / "wsgi.py").write_bytes(b"application = '\xff\xfe'\x00\n")
    assert infer(tmp_path, "gunicorn").command == f"gunicorn main:application {GUNICORN_BIND}"


# --- planning -----------------------------------------------------------------------------


def plan(
    app: Path, procfile: str | None = None, command: str | None = None, *installed: str
) -> tuple[list[PlannedProcess], Inference | None]:
    parsed = parse_procfile(procfile) if procfile is not None else None
    return plan_processes(AppSnapshot(app), parsed, command, {}, set(installed), {"serve"})


def test_procfile_processes_with_web_as_default(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": FLASK_APP})
    planned, inference = plan(tmp_path, "worker: python w.py\nweb: python web.py\n", None)
    assert inference is None  # a Procfile is never second-guessed
    assert planned == [
        PlannedProcess("worker", "python w.py", False, "Procfile line 1"),
        PlannedProcess("web", "python web.py", True, "Procfile line 2"),
    ]


def test_a_single_procfile_process_is_the_default(tmp_path: Path) -> None:
    planned, _ = plan(tmp_path, "worker: python w.py\n")
    assert [(p.type, p.default) for p in planned] == [("worker", True)]
    planned, _ = plan(tmp_path, "worker: python w.py\nclock: python c.py\n")
    assert not any(p.default for p in planned)


def test_launch_command_replaces_the_procfile_web(tmp_path: Path) -> None:
    planned, _ = plan(tmp_path, "web: python web.py\nworker: python w.py\n", "python other.py")
    assert planned == [
        PlannedProcess(
            "web", "python other.py", True, "BP_LAUNCH_COMMAND, replacing the Procfile's"
        ),
        PlannedProcess("worker", "python w.py", False, "Procfile line 2"),
    ]


def test_launch_command_without_a_procfile_skips_inference(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": FLASK_APP})
    planned, inference = plan(tmp_path, None, "gunicorn app:app -b :$PORT", "gunicorn")
    assert inference is None
    assert planned == [
        PlannedProcess("web", "gunicorn app:app -b :$PORT", True, "BP_LAUNCH_COMMAND")
    ]


def test_inferred_web_process(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": FLASK_APP})
    planned, inference = plan(tmp_path, None, None, "gunicorn")
    assert inference is not None
    assert planned == [
        PlannedProcess(
            "web",
            f"gunicorn app:app {GUNICORN_BIND}",
            True,
            "inferred: gunicorn is installed and app.py defines app",
        )
    ]
    planned, inference = plan(tmp_path / "nothing", None, None)
    assert planned == [] and inference is not None and inference.command is None
    scripts_app(tmp_path, "serve = 'w:s'")
    planned, _ = plan(tmp_path, None, None, "gunicorn")
    assert [(p.command, p.default) for p in planned] == [("serve", True)]
    # a Procfile and BP_LAUNCH_COMMAND still come first
    planned, _ = plan(tmp_path, "web: python web.py\n", None)
    assert [p.command for p in planned] == ["python web.py"]
    planned, _ = plan(tmp_path, None, "python other.py")
    assert [p.command for p in planned] == ["python other.py"]


# --- launch.toml and the log --------------------------------------------------------------


def test_launch_toml_runs_commands_through_bash() -> None:
    toml = launch_toml(
        [
            PlannedProcess("web", "python app.py", True, ""),
            PlannedProcess("worker", "python w.py", False, ""),
        ]
    )
    dumped = toml.model_dump(by_alias=True, exclude_none=True)
    assert dumped["processes"] == [
        {"type": "web", "command": ["bash", "-c", "python app.py"], "args": [], "default": True},
        {"type": "worker", "command": ["bash", "-c", "python w.py"], "args": [], "default": False},
    ]


@pytest.mark.parametrize(("port", "expected"), [(None, "0.0.0.0:8000"), ("5001", "0.0.0.0:5001")])
def test_the_bind_address_expands_in_bash(port: str | None, expected: str) -> None:
    command = f"echo {GUNICORN_BIND.split()[1]}"
    env = {"PATH": "/usr/bin:/bin", **({"PORT": port} if port else {})}
    output = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True)
    assert output.stdout.strip() == expected


def logged(planned: list[PlannedProcess], inference: Inference | None) -> str:
    out = io.StringIO()
    log_processes(planned, inference, Log(out, out))
    return out.getvalue()


def test_log_of_an_inferred_process() -> None:
    inference = Inference("gunicorn app:app", "gunicorn is installed", ("a note",))
    text = logged(
        [PlannedProcess("web", "gunicorn app:app", True, "inferred: gunicorn is installed")],
        inference,
    )
    assert "[Configuring processes]" in text
    assert "Note: a note" in text
    assert "web: gunicorn app:app (inferred: gunicorn is installed)" in text
    assert "No default process" not in text


def test_log_without_any_process_says_how_to_add_one() -> None:
    text = logged([], Inference(None, "no app found"))
    assert "No default process: no app found." in text
    assert "add a file named Procfile" in text
    assert "BP_LAUNCH_COMMAND" in text


def test_log_of_procfiles_without_web() -> None:
    text = logged([PlannedProcess("worker", "python w.py", True, "Procfile line 1")], None)
    assert "Default process: worker (the Procfile's only process)" in text
    text = logged(
        [
            PlannedProcess("worker", "python w.py", False, "Procfile line 1"),
            PlannedProcess("clock", "python c.py", False, "Procfile line 2"),
        ],
        None,
    )
    assert "No default process: the Procfile has no 'web' process" in text
