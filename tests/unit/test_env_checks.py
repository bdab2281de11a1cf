from __future__ import annotations

import pytest

from python_buildpack.env_checks import check_environment
from python_buildpack.errors import ForbiddenEnvVars


def test_clean_environment_passes() -> None:
    check_environment({"PATH": "/bin", "PIP_INDEX_URL": "https://u:p@example.com/simple"})


def test_every_forbidden_var_is_named_with_its_reason() -> None:
    with pytest.raises(ForbiddenEnvVars) as info:
        check_environment({"PYTHONPATH": "/x", "PIP_USER": "1", "PATH": "/bin"})
    text = info.value.title + info.value.render()
    assert "PYTHONPATH" in text and "PIP_USER" in text
    assert "sys.path" in text
    assert "- PATH:" not in text


def test_set_to_empty_still_counts() -> None:
    with pytest.raises(ForbiddenEnvVars, match="VIRTUAL_ENV"):
        check_environment({"VIRTUAL_ENV": ""})
