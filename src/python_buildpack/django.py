"""Django apps: where the project's settings and WSGI/ASGI modules are, and `collectstatic`.

Everything here that looks at the app's code reads it with `ast`: the build never imports or
runs the app's modules just to learn their layout. Only `collectstatic` (and its probe) run the
app's `manage.py`, exactly as the user would.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .appfiles import Kind, read_app_bytes
from .commands import run
from .config import BuildConfig
from .env_checks import app_only_env
from .errors import CollectstaticFailed, ConfigFileUnreadable, DjangoConfigurationUnreadable
from .layers.venv import VenvInstall
from .output import Log
from .redact import secrets_in_env

MANAGE_PY = "manage.py"
SETTINGS_VARIABLE = "DJANGO_SETTINGS_MODULE"


@dataclass(frozen=True)
class SettingsModule:
    name: str  # e.g. "mysite.settings"
    source: str  # where it came from, for the log


@dataclass(frozen=True)
class DjangoProject:
    settings: SettingsModule | None
    wsgi_module: str | None  # e.g. "mysite.wsgi"
    asgi_module: str | None

    @property
    def package(self) -> str:
        module = self.wsgi_module or self.asgi_module or ""
        return module.rpartition(".")[0] or module


def settings_module(app_dir: Path, environ: Mapping[str, str]) -> SettingsModule | None:
    """DJANGO_SETTINGS_MODULE from the build env, else the default `manage.py` sets."""
    value = environ.get(SETTINGS_VARIABLE, "").strip()
    if value:
        return SettingsModule(value, SETTINGS_VARIABLE)
    found = _settings_in_manage_py(app_dir / MANAGE_PY)
    return SettingsModule(found, MANAGE_PY) if found else None


def _settings_in_manage_py(path: Path) -> str | None:
    """The module of `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")` or of
    `os.environ["DJANGO_SETTINGS_MODULE"] = "..."` in manage.py."""
    tree = parse_source(path)
    if tree is None:
        return None
    for node in ast.walk(tree):
        found: str | None = None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and len(node.args) == 2
            and _is_str(node.args[0], SETTINGS_VARIABLE)
        ):
            found = _str_value(node.args[1])
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Subscript)
            and _is_str(node.targets[0].slice, SETTINGS_VARIABLE)
        ):
            found = _str_value(node.value)
        if found:
            return found
    return None


def find_project(app_dir: Path, environ: Mapping[str, str]) -> DjangoProject | None:
    """The Django project of an app with a `manage.py`, or None for any other app.

    The WSGI/ASGI modules sit beside the settings (or in a parent package of a settings
    package such as `mysite.settings.production`); without a known settings module, the one
    top-level package with a wsgi.py or asgi.py is the project.
    """
    if not (app_dir / MANAGE_PY).is_file():
        return None
    settings = settings_module(app_dir, environ)
    packages: list[str] = []
    if settings:
        parts = settings.name.split(".")
        packages = [".".join(parts[:end]) for end in range(len(parts) - 1, -1, -1)]
    else:
        candidates = sorted(
            child.name
            for child in _subdirectories(app_dir)
            if (child / "wsgi.py").is_file() or (child / "asgi.py").is_file()
        )
        if len(candidates) == 1:
            packages = candidates
    for package in packages:
        wsgi = _module_if_present(app_dir, package, "wsgi")
        asgi = _module_if_present(app_dir, package, "asgi")
        if wsgi or asgi:
            return DjangoProject(settings, wsgi, asgi)
    return DjangoProject(settings, None, None)


def _subdirectories(app_dir: Path) -> list[Path]:
    try:
        return [child for child in app_dir.iterdir() if child.is_dir()]
    except OSError:
        return []


def _module_if_present(app_dir: Path, package: str, name: str) -> str | None:
    module = f"{package}.{name}" if package else name
    return module if (app_dir / (module.replace(".", "/") + ".py")).is_file() else None


def parse_source(path: Path) -> ast.Module | None:
    """The syntax tree of a Python file, or None when it is missing, not valid Python, or not
    a file the buildpack reads (a pipe, a link out of the app: see `appfiles`)."""
    try:
        source = read_app_bytes(path.parent, path.name, Kind.SOURCE)
        return None if source is None else ast.parse(source, filename=str(path))
    except (ConfigFileUnreadable, SyntaxError, ValueError):
        return None


def _is_str(node: ast.AST, value: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == value


def _str_value(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
        return node.value.strip()
    return None


# --- collectstatic ----------------------------------------------------------------------------


def may_collect_static(config: BuildConfig) -> bool:
    """Whether `collect_static_files` may run the app at build time (it also needs Django in
    the venv, which is not known before the venv is)."""
    return config.collectstatic and (config.app_dir / MANAGE_PY).is_file()


def collect_static_files(config: BuildConfig, venv: VenvInstall, log: Log) -> bool:
    """Run `manage.py collectstatic --noinput` when the app is a Django app that uses
    django.contrib.staticfiles. True when it ran."""
    if not (config.app_dir / MANAGE_PY).is_file():
        return False
    if "django" not in venv.distributions:
        return False
    log.header("Generating Django static files")
    if not config.collectstatic:
        log.info("Skipping 'manage.py collectstatic' since BP_DISABLE_COLLECTSTATIC is set")
        return False

    python = venv.path / "bin" / "python"
    # .pyc files written into the app now would be stale in the image anyway: the lifecycle
    # resets the app's mtimes, which timestamp-based .pyc files are checked against.
    # The app's own PYTHONPATH (kept from the tools' runs) is the app's: manage.py gets it.
    env = {**venv.build_env, **app_only_env(config.environ), "PYTHONDONTWRITEBYTECODE": "1"}
    secrets = secrets_in_env(env)
    # `help collectstatic` loads the settings the way `collectstatic` will (through manage.py,
    # with whatever it sets up), and tells "staticfiles is not enabled" (an unknown command)
    # apart from broken settings (a traceback), which `help --commands` would hide.
    probe = run(
        [python, MANAGE_PY, "help", "collectstatic"],
        env=env,
        cwd=config.app_dir,
        log=log,
        quiet=True,
        redact=secrets,
    )
    if not probe.ok:
        if "Unknown command" in probe.output and "collectstatic" in probe.output:
            log.info(
                "Skipping 'manage.py collectstatic' since django.contrib.staticfiles is not in "
                "INSTALLED_APPS"
            )
            return False
        raise DjangoConfigurationUnreadable(probe.exit_code, probe.output)

    with log.timed("Running 'python manage.py collectstatic --noinput'"):
        result = run(
            [python, MANAGE_PY, "collectstatic", "--noinput"],
            env=env,
            cwd=config.app_dir,
            log=log,
            redact=secrets,
        )
    if not result.ok:
        raise CollectstaticFailed(result.exit_code, result.output)
    return True
