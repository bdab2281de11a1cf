from __future__ import annotations

import enum

import pytest

from python_buildpack.errors import InvalidPlatformEnv
from python_buildpack.settings import choice, flag, text


class Mode(enum.Enum):
    WARN = "warn"
    STRICT = "strict"


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("OFF", False)])
def test_flag_values(raw: str, expected: bool) -> None:
    assert flag({"X": raw}, "X", not expected) is expected


def test_flag_default_when_unset_or_blank() -> None:
    assert flag({}, "X", True) is True
    assert flag({"X": "  "}, "X", False) is False


def test_flag_rejects_junk_with_the_fix() -> None:
    with pytest.raises(InvalidPlatformEnv) as info:
        flag({"BP_X": "maybe"}, "BP_X", True)
    assert "true or false" in info.value.render()


def test_choice() -> None:
    assert choice({"M": "Strict"}, "M", Mode, Mode.WARN) is Mode.STRICT
    assert choice({}, "M", Mode, Mode.WARN) is Mode.WARN
    with pytest.raises(InvalidPlatformEnv, match="warn, strict"):
        choice({"M": "loud"}, "M", Mode, Mode.WARN)


def test_text() -> None:
    assert text({"A": " x "}, "A") == "x"
    assert text({"A": ""}, "A") is None
