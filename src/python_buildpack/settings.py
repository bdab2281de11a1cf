"""Typed reading of the `BP_*` configuration variables users set on the platform."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

from .errors import EnvNameHasEquals, EnvNotAChoice, EnvNotBoolean, EnvNotSeconds, EnvValueHasNul

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})

E = TypeVar("E", bound=enum.Enum)


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise EnvNotBoolean(name, raw)


def choice(env: Mapping[str, str], name: str, kind: type[E], default: E) -> E:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    for member in kind:
        if member.value == raw.strip().lower():
            return member
    raise EnvNotAChoice(name, raw, [str(member.value) for member in kind])


def text(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw.strip()


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive duration in seconds, e.g. BP_PYTHON_DOWNLOAD_TIMEOUT=600."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not 0 < value < 86400 * 7:
        raise EnvNotSeconds(name, raw)
    return value


def check_env_values(platform_env: Mapping[str, str]) -> None:
    """Platform env variables no process can be given: a NUL byte in the value (the variable's
    file holds binary data) or a name that is not a variable name."""
    for name, value in platform_env.items():
        if "\0" in value:
            raise EnvValueHasNul(name, value)
        if "=" in name or not name:
            raise EnvNameHasEquals(name)
