"""The lifecycle's `group.toml`: which buildpacks build the app, in order.

The spec does not hand it to buildpacks, but the lifecycle writes it (its `-group` default) in
the layers directory, beside each buildpack's own (`<layers>/<escaped id>/`): a buildpack can
tell from it whether others build after it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from . import CnbFileError
from .toml_io import load_toml


class GroupMember(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    id: str


class GroupToml(BaseModel):
    """`<layers>/group.toml` as the lifecycle writes it (more keys than buildpack.toml's)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    group: list[GroupMember] = []


def buildpacks_after(layers_dir: Path) -> list[str] | None:
    """The ids of the buildpacks that build after the one whose layers are `layers_dir`, or None
    when that can't be told (no readable group.toml where the lifecycle writes it, or this
    buildpack not in it)."""
    layers_dir = Path(layers_dir)
    path = layers_dir.parent / "group.toml"
    try:
        group = load_toml(path, GroupToml, what="group.toml").group
    except (CnbFileError, ValidationError, OSError):
        return None
    escaped = [member.id.replace("/", "_") for member in group]
    if layers_dir.name not in escaped:
        return None
    return [member.id for member in group[escaped.index(layers_dir.name) + 1 :]]


__all__ = ["GroupToml", "buildpacks_after"]
