from __future__ import annotations

from pathlib import Path

import pytest

from python_buildpack.django import DjangoProject, SettingsModule, find_project, settings_module
from python_buildpack.errors import CollectstaticFailed, DjangoConfigurationUnreadable

STANDARD_MANAGE_PY = """#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
"""


def app_with(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("manage_py", "expected"),
    [
        (STANDARD_MANAGE_PY, "mysite.settings"),
        ("import os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'conf.prod'\n", "conf.prod"),
        ("from os import environ\nenviron.setdefault('DJANGO_SETTINGS_MODULE', ' a.b ')\n", "a.b"),
        ("import os\nos.environ.setdefault('OTHER', 'x.settings')\n", None),
        ("import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', compute())\n", None),
        ("def broken(:\n", None),
    ],
)
def test_settings_module_from_manage_py(
    tmp_path: Path, manage_py: str, expected: str | None
) -> None:
    app_with(tmp_path, {"manage.py": manage_py})
    found = settings_module(tmp_path, {})
    assert (found.name if found else None) == expected
    if found:
        assert found.source == "manage.py"


def test_settings_module_from_the_environment_wins(tmp_path: Path) -> None:
    app_with(tmp_path, {"manage.py": STANDARD_MANAGE_PY})
    found = settings_module(tmp_path, {"DJANGO_SETTINGS_MODULE": "mysite.settings_prod"})
    assert found == SettingsModule("mysite.settings_prod", "DJANGO_SETTINGS_MODULE")
    assert settings_module(tmp_path, {"DJANGO_SETTINGS_MODULE": " "}) == SettingsModule(
        "mysite.settings", "manage.py"
    )


def test_no_manage_py_is_no_django_project(tmp_path: Path) -> None:
    app_with(tmp_path, {"mysite/wsgi.py": "", "mysite/settings.py": ""})
    assert find_project(tmp_path, {}) is None


def test_standard_project_layout(tmp_path: Path) -> None:
    app_with(
        tmp_path,
        {
            "manage.py": STANDARD_MANAGE_PY,
            "mysite/settings.py": "",
            "mysite/wsgi.py": "",
            "mysite/asgi.py": "",
        },
    )
    project = find_project(tmp_path, {})
    assert project == DjangoProject(
        SettingsModule("mysite.settings", "manage.py"), "mysite.wsgi", "mysite.asgi"
    )
    assert project.package == "mysite"


def test_settings_package_finds_the_wsgi_module_in_a_parent(tmp_path: Path) -> None:
    app_with(
        tmp_path,
        {
            "manage.py": STANDARD_MANAGE_PY,
            "config/settings/base.py": "",
            "config/settings/prod.py": "",
            "config/wsgi.py": "",
        },
    )
    project = find_project(tmp_path, {"DJANGO_SETTINGS_MODULE": "config.settings.prod"})
    assert project is not None
    assert (project.wsgi_module, project.asgi_module) == ("config.wsgi", None)


def test_top_level_settings_and_wsgi_modules(tmp_path: Path) -> None:
    app_with(
        tmp_path,
        {
            "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n",
            "settings.py": "",
            "wsgi.py": "",
        },
    )
    project = find_project(tmp_path, {})
    assert project is not None and project.wsgi_module == "wsgi"


def test_unknown_settings_uses_the_one_project_package(tmp_path: Path) -> None:
    app_with(tmp_path, {"manage.py": "", "static/app.css": "", "proj/asgi.py": ""})
    project = find_project(tmp_path, {})
    assert project == DjangoProject(None, None, "proj.asgi")
    # Two candidates: no guess.
    app_with(tmp_path, {"other/wsgi.py": ""})
    assert find_project(tmp_path, {}) == DjangoProject(None, None, None)


def test_settings_module_whose_package_has_no_wsgi_module(tmp_path: Path) -> None:
    app_with(tmp_path, {"manage.py": STANDARD_MANAGE_PY, "mysite/settings.py": ""})
    assert find_project(tmp_path, {}) == DjangoProject(
        SettingsModule("mysite.settings", "manage.py"), None, None
    )


def test_collectstatic_errors_explain_and_offer_the_opt_out() -> None:
    output = "\n".join(f"line {n}" for n in range(50)) + (
        "\ndjango.core.exceptions.ImproperlyConfigured: You're using the staticfiles app "
        "without having set the required STATIC_ROOT setting to a filesystem path."
    )
    error = CollectstaticFailed(1, output)
    assert "exit status 1" in error.title
    assert "STATIC_ROOT setting to a filesystem path" in error.detail
    assert "line 49" in error.detail and "line 44" not in error.detail  # only the tail
    assert 'STATIC_ROOT = BASE_DIR / "staticfiles"' in error.detail
    assert "BP_DISABLE_COLLECTSTATIC=1" in error.fix

    probe = DjangoConfigurationUnreadable(1, "ModuleNotFoundError: No module named 'nope'")
    assert "No module named 'nope'" in probe.detail
    assert "manage.py help collectstatic" in probe.detail
    assert "BP_DISABLE_COLLECTSTATIC=1" in probe.fix
    assert "STATIC_ROOT" not in probe.detail
