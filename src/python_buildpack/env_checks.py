"""User environment variables that would break the build or the image.

The lifecycle passes the platform's env vars (e.g. `pack build --env`) to the buildpack, and we
pass them on to the package managers so that index URLs and credentials work. A few variables,
however, would move the installs, caches or interpreter out of the buildpack's layers (packages
somewhere other than the `venv` layer, a Python other than ours, a cache the next build cannot
see), so they are refused up front rather than producing a subtly broken image. The list comes
from each tool's documented variables (CPython, pip, uv, Poetry, Pipenv); anything that only
changes *how* a tool works (indexes, credentials, timeouts, verbosity) is passed through. None of
Pipenv's are refused: here it only checks and exports `Pipfile.lock` (it never makes or picks a
virtual environment), and pip installs the export.

`PYTHONPATH` is accepted: it reaches Django's collectstatic and, through the `venv` layer's
launch env, the app. It is only kept away from the tools' own runs (`TOOL_RUN_HIDDEN`), where a
directory of the app ahead of site-packages could shadow pip or uv's build backends.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ForbiddenEnvVars

_OUT_OF_VENV = "it would install packages outside the app's virtual environment"
_VENV_PLACE = "the buildpack chooses where the virtual environment lives"
_OUR_PYTHON = "the buildpack chooses the Python interpreter itself"
_OUR_CACHE = "the buildpack keeps this cache in its own cache layer"

FORBIDDEN: dict[str, str] = {
    # CPython
    "PYTHONHOME": "it makes Python look for its standard library in the wrong place",
    "PYTHONPLATLIBDIR": "it makes Python look for its compiled modules in the wrong place",
    "PYTHONUSERBASE": "it moves user site-packages, where the buildpack's pip lives",
    "PYTHONNOUSERSITE": "it hides the buildpack's own pip from Python",
    "PYTHONPYCACHEPREFIX": "it writes compiled bytecode outside the layers, so the image lacks it",
    "PYTHONINSPECT": "it leaves every Python the build runs waiting for interactive input",
    "VIRTUAL_ENV": "the buildpack creates and activates the app's virtual environment itself",
    # pip
    "PIP_PYTHON": "the buildpack points pip at the app's virtual environment itself",
    "PIP_TARGET": _OUT_OF_VENV,
    "PIP_PREFIX": _OUT_OF_VENV,
    "PIP_ROOT": _OUT_OF_VENV,
    "PIP_USER": _OUT_OF_VENV,
    "PIP_CACHE_DIR": _OUR_CACHE,
    # uv
    "UV_PROJECT_ENVIRONMENT": "the buildpack points uv at the app's virtual environment itself",
    "UV_PROJECT": "it points uv at another project than the app's",
    "UV_PYTHON": _OUR_PYTHON,
    "UV_PYTHON_DOWNLOADS": "uv must use the buildpack's Python, never download one",
    "UV_MANAGED_PYTHON": "uv must use the buildpack's Python, not one it manages",
    "UV_PYTHON_PREFERENCE": _OUR_PYTHON,
    "UV_CACHE_DIR": _OUR_CACHE,
    "UV_NO_CACHE": "it moves uv's cache to a temporary directory, out of the cache layer",
    # Poetry
    "POETRY_HOME": "it moves Poetry's own installation, which the buildpack provides",
    "POETRY_DATA_DIR": "it moves Poetry's data directory out of the buildpack's Poetry layer",
    "POETRY_CACHE_DIR": _OUR_CACHE,
    "POETRY_VIRTUALENVS_CREATE": "the buildpack creates the virtual environment itself",
    "POETRY_VIRTUALENVS_IN_PROJECT": _VENV_PLACE,
    "POETRY_VIRTUALENVS_PATH": _VENV_PLACE,
    "POETRY_VIRTUALENVS_USE_POETRY_PYTHON": _OUR_PYTHON,
}

# Accepted from the user, but not given to the buildpack's own runs of pip, uv, Poetry, Pipenv
# and `python -m venv`.
TOOL_RUN_HIDDEN = ("PYTHONPATH",)


def tool_run_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` for the buildpack's own tool runs: without the app's PYTHONPATH."""
    return {name: value for name, value in environ.items() if name not in TOOL_RUN_HIDDEN}


def app_only_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environ` that `tool_run_env` leaves out: for the app's own runs."""
    return {name: environ[name] for name in TOOL_RUN_HIDDEN if name in environ}


def check_environment(environ: Mapping[str, str]) -> None:
    """Raise `ForbiddenEnvVars` naming every forbidden variable that is set (even to '')."""
    found = {name: reason for name, reason in FORBIDDEN.items() if name in environ}
    if found:
        raise ForbiddenEnvVars(found)
