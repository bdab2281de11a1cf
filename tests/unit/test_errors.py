"""The error catalogue's own rules: every user error says how to fix it."""

from __future__ import annotations

import pytest

from python_buildpack.errors import UserError


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
