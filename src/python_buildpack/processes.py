"""The image's launch processes (`launch.toml`): Procfile, BP_LAUNCH_COMMAND, or inferred.

So that `docker run <image>` starts the app. In order:

1. every `<type>: <command>` of the app's Procfile is a process;
2. BP_LAUNCH_COMMAND, when set, is the `web` process (replacing the Procfile's);
3. with neither, the `web` process is inferred from the app's files and the installed packages
   (`infer_web_process`), and the log says why. Inference reads source files with `ast`; it
   never imports or runs the app. An inferred command always listens on `0.0.0.0:$PORT`: a
   module that only a loopback or development server could start (`python main.py` running
   `app.run()`) is not inferred, and a note names the server to add.

`web` is the default process (or the only process of a Procfile without one). Commands run
through bash so `$PORT` and other variables expand at launch, in the app directory (the
lifecycle's default working directory), with the venv's `bin` first on PATH.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .app_snapshot import AppSnapshot
from .cnb.models import LaunchToml, Process
from .config import BuildConfig
from .django import DjangoProject, find_project, parse_source
from .layers.venv import VenvInstall
from .output import Log
from .procfile import PROCFILE, Procfile

WEB = "web"
BIND = "0.0.0.0:${PORT:-8000}"
# Module files that may define a WSGI/ASGI app object, in the order they are tried.
APP_MODULES = ("app.py", "main.py", "wsgi.py", "asgi.py")
APP_NAMES = ("app", "application")
SCRIPTS = ("main.py", "app.py")
ASGI_FRAMEWORKS = frozenset({"fastapi", "starlette"})
# `[project.scripts]` entries that are the web process even beside other scripts.
WEB_SCRIPT_NAMES = ("start", "serve")
# The files a Streamlit or Gradio app is usually in (Streamlit's and Hugging Face's defaults
# first); any other top-level module that imports the framework comes after, by name.
UI_APP_FILES = ("streamlit_app.py", "app.py", "main.py", "Home.py")
PORT = "${PORT:-8000}"


@dataclass(frozen=True)
class Inference:
    """The inferred web command (None when nothing fits), why, and notes for the log."""

    command: str | None
    reason: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppObject:
    module: str  # "app" for app.py
    name: str  # "app" or "application"
    file: str
    asgi: bool  # an ASGI app, which gunicorn cannot serve
    flask: bool = False  # the module imports flask (so `flask run` can serve it)

    @property
    def target(self) -> str:
        return f"{self.module}:{self.name}"


@dataclass(frozen=True)
class PlannedProcess:
    type: str
    command: str
    default: bool
    source: str  # for the log: "from Procfile line 1", "inferred: ..."


def gunicorn(target: str) -> str:
    return f"gunicorn {target} --bind {BIND}"


def uvicorn(target: str) -> str:
    return f"uvicorn {target} --host 0.0.0.0 --port {PORT}"


def flask_run(target: str) -> str:
    return f"flask --app {target} run --host 0.0.0.0 --port {PORT}"


def streamlit_run(file: str) -> str:
    # headless: no attempt to open a browser, no first-run prompt.
    return (
        f"streamlit run {file} --server.address 0.0.0.0 --server.port {PORT} --server.headless true"
    )


def gradio_run(file: str) -> str:
    # Gradio's launch() takes its defaults for the address and port from these variables.
    return f"GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT={PORT} python {file}"


def infer_web_process(
    app: AppSnapshot,
    installed: Iterable[str],
    environ: Mapping[str, str],
    console_scripts: Iterable[str] = (),
) -> Inference:
    """The `web` command for an app without a Procfile or BP_LAUNCH_COMMAND.

    `installed` are the venv's distributions, `console_scripts` the commands in its `bin/`.
    """
    app_dir = app.app_dir
    packages = frozenset(installed)
    notes: list[str] = []

    script = _project_script(app, frozenset(console_scripts), notes)
    if script is not None:
        return Inference(script[0], script[1], tuple(notes))

    django = find_project(app_dir, environ)
    if django is not None:
        found = _django_command(django, packages, notes)
        if found is not None:
            return Inference(found[0], found[1], tuple(notes))

    objects = [obj for obj in (find_app_object(app_dir, f) for f in APP_MODULES) if obj]
    wsgi = next((obj for obj in objects if not obj.asgi), None)
    if "gunicorn" in packages and wsgi is not None:
        return Inference(
            gunicorn(wsgi.target),
            f"gunicorn is installed and {wsgi.file} defines {wsgi.name}",
            tuple(notes),
        )
    asgi = next((obj for obj in objects if obj.asgi), None)
    if asgi is not None:
        if "uvicorn" in packages:
            return Inference(
                uvicorn(asgi.target),
                f"uvicorn is installed and {asgi.file} defines {asgi.name} (an ASGI app)",
                tuple(notes),
            )
        notes.append(
            f"{asgi.file} defines {asgi.name} (an ASGI app), but uvicorn is not installed: add "
            "uvicorn to the dependencies to serve it"
        )

    ui = _ui_app(app_dir, packages, notes)
    if ui is not None:
        return Inference(ui[0], ui[1], tuple(notes))

    if wsgi is not None:
        if "flask" in packages and wsgi.flask:
            notes.append(
                "Flask's development server will serve the app: it is not made for production "
                "traffic. Add gunicorn to the dependencies and the app is served by it instead."
            )
            return Inference(
                flask_run(wsgi.target),
                f"{wsgi.file} defines {wsgi.name} (a Flask app) and gunicorn is not installed",
                tuple(notes),
            )
        notes.append(
            f"{wsgi.file} defines {wsgi.name} (a WSGI app), but gunicorn is not installed: add "
            "gunicorn to the dependencies to serve it"
        )

    for name in SCRIPTS:
        tree = parse_source(app_dir / name)
        if tree is None:
            continue
        if _mentions_port(tree):
            return Inference(f"python {name}", f"{name} reads $PORT", tuple(notes))
        notes.append(
            f"{name} exists, but it never reads $PORT, so 'python {name}' would not listen "
            "where the platform sends requests; it is not used as the web process"
        )
    return Inference(
        None,
        "no Procfile, no BP_LAUNCH_COMMAND, and no app this buildpack knows how to start",
        tuple(notes),
    )


def _project_script(
    app: AppSnapshot, console_scripts: frozenset[str], notes: list[str]
) -> tuple[str, str] | None:
    """A console script of the project that is its web process: the one named `start` or
    `serve`, or the project's only script. Only when it is installed in the venv."""
    declared = app.project_scripts
    if not declared:
        return None
    named = [name for name in WEB_SCRIPT_NAMES if name in declared]
    if named:
        chosen = named[0]
        why = f"pyproject.toml's {declared[chosen]} script named '{chosen}'"
    elif len(declared) == 1:
        chosen = next(iter(declared))
        why = f"the only script in pyproject.toml's {declared[chosen]}"
    else:
        return None
    table = declared[chosen]
    if chosen not in console_scripts:
        notes.append(
            f"pyproject.toml declares the script '{chosen}' ({table}), but it is not installed "
            "in the virtual environment, so it is not used as the web process"
        )
        return None
    notes.append(f"'{chosen}' must listen on 0.0.0.0:$PORT to be reachable")
    return chosen, why


def _ui_app(app_dir: Path, packages: frozenset[str], notes: list[str]) -> tuple[str, str] | None:
    """A Streamlit or Gradio app: the first module (see UI_APP_FILES) importing an installed
    one of them."""
    frameworks = [name for name in ("streamlit", "gradio") if name in packages]
    if not frameworks:
        return None
    for file in _top_level_modules(app_dir):
        tree = parse_source(app_dir / file)
        if tree is None:
            continue
        imported = _imported_roots(tree)
        if "streamlit" in frameworks and "streamlit" in imported:
            return streamlit_run(file), f"{file} imports streamlit"
        if "gradio" in frameworks and "gradio" in imported:
            if _passes_keyword(tree, {"server_name", "server_port"}):
                notes.append(
                    f"{file} passes server_name or server_port to Gradio itself, which wins "
                    "over GRADIO_SERVER_NAME/GRADIO_SERVER_PORT: leave them out so the app "
                    "listens on 0.0.0.0:$PORT"
                )
            return gradio_run(file), f"{file} imports gradio"
    return None


def _top_level_modules(app_dir: Path) -> list[str]:
    try:
        others = sorted(path.name for path in app_dir.glob("*.py") if path.name not in UI_APP_FILES)
    except OSError:
        others = []
    return [*UI_APP_FILES, *others]


def _passes_keyword(tree: ast.Module, names: set[str]) -> bool:
    return any(
        isinstance(node, ast.Call) and any(kw.arg in names for kw in node.keywords)
        for node in ast.walk(tree)
    )


def _mentions_port(tree: ast.Module) -> bool:
    """Whether the module reads the PORT variable (os.environ["PORT"], os.getenv("PORT"), …):
    the best sign, without running it, that a script listens where the platform expects."""
    return any(isinstance(node, ast.Constant) and node.value == "PORT" for node in ast.walk(tree))


def _django_command(
    project: DjangoProject, packages: frozenset[str], notes: list[str]
) -> tuple[str, str] | None:
    settings = (
        f" ({project.settings.name} from {project.settings.source})" if project.settings else ""
    )
    if project.wsgi_module is None and project.asgi_module is None:
        notes.append(
            f"manage.py exists, but no wsgi.py or asgi.py of the Django project{settings} was found"
        )
        return None
    what = f"a Django project{settings}"
    if project.wsgi_module and "gunicorn" in packages:
        return gunicorn(project.wsgi_module), f"{what} with {project.wsgi_module} and gunicorn"
    if project.asgi_module and "uvicorn" in packages:
        return (
            uvicorn(f"{project.asgi_module}:application"),
            f"{what} with {project.asgi_module} and uvicorn",
        )
    server = "gunicorn" if project.wsgi_module else "uvicorn"
    notes.append(
        f"found {what}, but {server} is not installed: add {server} to the dependencies to serve it"
    )
    return None


def find_app_object(app_dir: Path, file: str) -> AppObject | None:
    """The `app` or `application` object a module defines at its top level, read with ast."""
    tree = parse_source(app_dir / file)
    if tree is None:
        return None
    bound = _top_level_names(tree.body)
    name = next((candidate for candidate in APP_NAMES if candidate in bound), None)
    if name is None:
        return None
    # asgi.py is ASGI by convention (Django's, say); other modules by the framework they import.
    imported = _imported_roots(tree)
    asgi = file == "asgi.py" or bool(imported & ASGI_FRAMEWORKS)
    return AppObject(file.removesuffix(".py"), name, file, asgi, "flask" in imported)


def _top_level_names(body: list[ast.stmt]) -> set[str]:
    """Names bound at module level, including in top-level `if`/`try`/`with` blocks, but not in
    an `if __name__ == "__main__":` block (which does not run under a server)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_target_names(target))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.If):
            if not _is_main_guard(node.test):
                names |= _top_level_names(node.body) | _top_level_names(node.orelse)
        elif isinstance(node, ast.Try):
            names |= _top_level_names(node.body) | _top_level_names(node.orelse)
            for handler in node.handlers:
                names |= _top_level_names(handler.body)
        elif isinstance(node, ast.With):
            names |= _top_level_names(node.body)
    return names


def _target_names(target: ast.expr) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        return {name for element in target.elts for name in _target_names(element)}
    return set()


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _imported_roots(tree: ast.Module) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


# --- the build step ---------------------------------------------------------------------------


def plan_processes(
    app: AppSnapshot,
    procfile: Procfile | None,
    launch_command: str | None,
    environ: Mapping[str, str],
    installed: Iterable[str],
    scripts: Iterable[str] = (),
) -> tuple[list[PlannedProcess], Inference | None]:
    """The processes of the image, and the inference when there was one to make."""
    planned: list[PlannedProcess] = []
    if procfile is not None:
        planned = [
            PlannedProcess(entry.type, entry.command, False, f"{PROCFILE} line {entry.line}")
            for entry in procfile.entries
        ]
    inference = None
    if launch_command is not None:
        replaced = any(process.type == WEB for process in planned)
        planned = [p for p in planned if p.type != WEB]
        source = "BP_LAUNCH_COMMAND" + (", replacing the Procfile's" if replaced else "")
        planned.insert(0, PlannedProcess(WEB, launch_command, False, source))
    elif procfile is None:
        inference = infer_web_process(app, installed, environ, scripts)
        if inference.command is not None:
            planned.append(
                PlannedProcess(WEB, inference.command, False, f"inferred: {inference.reason}")
            )
    default = next((p.type for p in planned if p.type == WEB), None)
    if default is None and len(planned) == 1:
        default = planned[0].type
    processes = [PlannedProcess(p.type, p.command, p.type == default, p.source) for p in planned]
    return processes, inference


def launch_toml(planned: Iterable[PlannedProcess]) -> LaunchToml:
    return LaunchToml(
        processes=[
            Process(type=p.type, command=["bash", "-c", p.command], default=p.default)
            for p in planned
        ]
    )


def configure_processes(config: BuildConfig, venv: VenvInstall, log: Log) -> LaunchToml:
    """Decide the processes, log them with where each came from, and return launch.toml."""
    planned, inference = plan_processes(
        config.app,
        config.procfile,
        config.launch_command,
        config.environ,
        set(venv.distributions),
        set(venv.bin),
    )
    log_processes(planned, inference, log)
    return launch_toml(planned)


def log_processes(planned: list[PlannedProcess], inference: Inference | None, log: Log) -> None:
    log.header("Configuring processes")
    for note in inference.notes if inference else ():
        log.info(f"Note: {note}")
    for process in planned:
        log.info(f"{process.type}: {process.command} ({process.source})")
    default = next((p for p in planned if p.default), None)
    if default is not None:
        if default.type != WEB:
            log.info(f"Default process: {default.type} (the Procfile's only process)")
    elif planned:
        log.info(
            f"No default process: the {PROCFILE} has no 'web' process, so starting the image "
            "needs a process type (e.g. /cnb/process/worker) or a command"
        )
    else:
        reason = inference.reason if inference else "no process was declared"
        log.info(f"No default process: {reason}.")
        log.info(
            "To set the command that starts the app, add a file named Procfile to the app's "
            "root, for example:\n  web: gunicorn myapp.wsgi --bind 0.0.0.0:$PORT\nor set "
            "BP_LAUNCH_COMMAND at build time."
        )
