"""The error catalogue's own rules: every user error says how to fix it."""

from __future__ import annotations

import pytest

from python_buildpack.errors import (
    BrokenPythonArchive,
    PythonArchiveDoesNotRun,
    PythonArchiveHasNoPython,
    PythonArchiveWrongVersion,
    UserError,
)


@pytest.mark.parametrize("fix", ["", " ", "\n\t "])
def test_a_user_error_without_a_fix_is_refused(fix: str) -> None:
    with pytest.raises(ValueError, match="has no fix line"):
        UserError("Something failed", "It failed.", fix)


def test_a_subclass_without_a_fix_is_refused_too() -> None:
    class NoFix(UserError):
        def __init__(self) -> None:
            super().__init__("Something failed", "It failed.", "")

    with pytest.raises(ValueError, match="NoFix"):
        NoFix()


def test_a_user_error_with_a_fix_renders_detail_then_fix() -> None:
    error = UserError("Something failed", "It failed.", "Do this.")
    assert error.render() == "It failed.\n\nDo this."


URL = "https://mirror.example.com/python.tar.zst"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (PythonArchiveHasNoPython(URL), "but it has no python/bin/python3"),
        (
            PythonArchiveDoesNotRun(URL, "\nexec format error\n"),
            "but the installed Python does not run here:\nexec format error",
        ),
        (
            PythonArchiveWrongVersion(URL, "\n", "3.13.5"),
            "it says it is Python (nothing), not 3.13.5",
        ),
        (
            PythonArchiveWrongVersion(URL, "3" * 100, "3.13.5"),
            f"it says it is Python {'3' * 40}, not 3.13.5",
        ),
    ],
)
def test_a_broken_python_archive_says_what_is_wrong_with_it(
    error: BrokenPythonArchive, reason: str
) -> None:
    # Reaching these from a build needs an archive built wrong: the wording is checked here.
    assert error.title == "The Python archive is not usable"
    assert f"The archive downloaded from {URL} was installed" in error.detail
    assert error.detail.endswith(reason)
    assert "python/bin/python3" in error.fix
