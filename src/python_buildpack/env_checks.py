"""User environment variables that would break the build or the image.

The lifecycle passes the platform's env vars (e.g. `pack build --env`) to the buildpack, and we
pass them on to pip so that index URLs and credentials work. A few variables, however, would
silently send packages somewhere other than the `venv` layer, or make the relocated Python load
the wrong stdlib, so they are refused up front rather than producing a subtly broken image.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ForbiddenEnvVars

FORBIDDEN: dict[str, str] = {
    "PYTHONHOME": "it makes Python look for its standard library in the wrong place",
    "PYTHONPATH": "it puts directories ahead of the standard library on sys.path",
    "PYTHONUSERBASE": "it moves user site-packages, which the buildpack's tools rely on",
    "PYTHONNOUSERSITE": "it hides the buildpack's own pip from Python",
    "VIRTUAL_ENV": "the buildpack creates and activates the app's virtual environment itself",
    "PIP_PYTHON": "the buildpack points pip at the app's virtual environment itself",
    "PIP_TARGET": "it would install packages outside the app's virtual environment",
    "PIP_PREFIX": "it would install packages outside the app's virtual environment",
    "PIP_ROOT": "it would install packages outside the app's virtual environment",
    "PIP_USER": "user installs bypass the app's virtual environment",
    "PIP_REQUIRE_VIRTUALENV": "it stops the buildpack installing pip into its own layer",
    "PIP_BREAK_SYSTEM_PACKAGES": "it is never needed with a virtual environment",
    "UV_PROJECT_ENVIRONMENT": "the buildpack points uv at the app's virtual environment itself",
    "UV_PYTHON": "the buildpack chooses the Python interpreter itself",
    "POETRY_VIRTUALENVS_PATH": "the buildpack chooses where the virtual environment lives",
    "POETRY_VIRTUALENVS_CREATE": "the buildpack creates the virtual environment itself",
    "PIPENV_VENV_IN_PROJECT": "the buildpack chooses where the virtual environment lives",
    "WORKON_HOME": "the buildpack chooses where the virtual environment lives",
}


def check_environment(environ: Mapping[str, str]) -> None:
    """Raise `ForbiddenEnvVars` naming every forbidden variable that is set (even to '')."""
    found = {name: reason for name, reason in FORBIDDEN.items() if name in environ}
    if found:
        raise ForbiddenEnvVars(found)
