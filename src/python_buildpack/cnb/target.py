"""The runtime base image the app is built for, as the lifecycle names it (`CNB_TARGET_*`).

Its own module because both sides of the contract need it and neither should import the other
for it: `context` reads it from the environment at every detect (no pydantic allowed there), and
`models.BuildpackTarget` matches it against `buildpack.toml`'s `[[targets]]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from . import CnbEnvError

CNB_TARGET_OS = "CNB_TARGET_OS"
CNB_TARGET_ARCH = "CNB_TARGET_ARCH"
CNB_TARGET_ARCH_VARIANT = "CNB_TARGET_ARCH_VARIANT"
CNB_TARGET_DISTRO_NAME = "CNB_TARGET_DISTRO_NAME"
CNB_TARGET_DISTRO_VERSION = "CNB_TARGET_DISTRO_VERSION"


class Target(NamedTuple):
    """The runtime base image the app is built for (CNB_TARGET_*)."""

    os: str
    arch: str
    arch_variant: str | None = None
    distro_name: str | None = None
    distro_version: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Target:
        # The lifecycle always sets OS and arch (since API 0.10) and sets the optional ones
        # only when known, so an empty optional value means "unknown", like an absent one.
        return cls(
            os=required_variable(environ, CNB_TARGET_OS),
            arch=required_variable(environ, CNB_TARGET_ARCH),
            arch_variant=environ.get(CNB_TARGET_ARCH_VARIANT) or None,
            distro_name=environ.get(CNB_TARGET_DISTRO_NAME) or None,
            distro_version=environ.get(CNB_TARGET_DISTRO_VERSION) or None,
        )

    def describe(self) -> str:
        """e.g. "linux/amd64 (debian 12)", for logs and error messages."""
        text = f"{self.os}/{self.arch}"
        if self.arch_variant:
            text += f"/{self.arch_variant}"
        distro = " ".join(p for p in (self.distro_name, self.distro_version) if p)
        return f"{text} ({distro})" if distro else text


def required_variable(environ: Mapping[str, str], name: str) -> str:
    """A variable the lifecycle sets for buildpacks of API 0.10 and later: set and not empty."""
    value = environ.get(name)
    if value is None:
        raise CnbEnvError(
            name, "not set; the lifecycle sets it for buildpacks of Buildpack API 0.10 and later"
        )
    if not value:
        raise CnbEnvError(name, "set but empty; the lifecycle gives it a value")
    return value


__all__ = ["Target"]
