from __future__ import annotations

import enum

import pytest

from python_buildpack.errors import (
    EnvNotAChoice,
    EnvNotBoolean,
    EnvNotSeconds,
    EnvValueHasNul,
    InvalidPlatformEnv,
)
from python_buildpack.settings import check_env_values, choice, flag, seconds, text


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
    with pytest.raises(EnvNotBoolean) as info:
        flag({"BP_X": "maybe"}, "BP_X", True)
    assert "true or false" in info.value.render()


def test_choice() -> None:
    assert choice({"M": "Strict"}, "M", Mode, Mode.WARN) is Mode.STRICT
    assert choice({}, "M", Mode, Mode.WARN) is Mode.WARN
    with pytest.raises(EnvNotAChoice, match="warn, strict"):
        choice({"M": "loud"}, "M", Mode, Mode.WARN)


def test_text() -> None:
    assert text({"A": " x "}, "A") == "x"
    assert text({"A": ""}, "A") is None


def test_seconds() -> None:
    assert seconds({}, "T", 900.0) == 900.0
    assert seconds({"T": " 2.5 "}, "T", 900.0) == 2.5
    for junk in ("soon", "0", "-3", "1e99", "nan"):
        with pytest.raises(EnvNotSeconds, match="T"):
            seconds({"T": junk}, "T", 900.0)


def test_a_nul_in_a_platform_env_value_names_the_variable() -> None:
    check_env_values({"OK": "fine", "EMPTY": ""})
    with pytest.raises(EnvValueHasNul) as info:
        check_env_values({"DATABASE_URL": "postgres://db\x00tail"})
    assert info.value.title == "Invalid value for DATABASE_URL"
    assert "NUL byte" in info.value.detail
    assert "tail" not in info.value.detail
    with pytest.raises(InvalidPlatformEnv) as info:
        check_env_values({"GITHUB_TOKEN": "ghp-secret-value\x00"})
    assert "ghp-secret-value" not in str(info.value)
