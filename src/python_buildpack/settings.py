"""Typed reading of the `BP_*` configuration variables users set on the platform."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

from .errors import InvalidPlatformEnv

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
    raise InvalidPlatformEnv(name, raw, "it is not a boolean.", f"Set {name} to true or false.")


def choice(env: Mapping[str, str], name: str, kind: type[E], default: E) -> E:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    for member in kind:
        if member.value == raw.strip().lower():
            return member
    allowed = ", ".join(str(member.value) for member in kind)
    raise InvalidPlatformEnv(
        name, raw, "it is not one of the allowed values.", f"Set {name} to one of: {allowed}."
    )


def text(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw.strip()
