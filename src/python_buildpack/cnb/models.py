"""pydantic models of the TOML files of the Buildpack API 0.12 contract.

Each model follows the "Data Format" section of the spec. Models of files the spec defines in
full forbid unknown keys, so a typo fails loudly instead of being silently ignored by the
lifecycle. Free-form tables (`metadata`) are plain dicts. Field names are Python names; the
spec's hyphenated or keyword keys are aliases, and both spellings are accepted on input.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from .target import Target

# --- shared --------------------------------------------------------------------------------


class ContractModel(BaseModel):
    """A table whose every key the spec defines."""

    # defer_build: a model's validator is built when it first validates, not at import; a warm
    # rebuild validates a few of these models and pays for no other (measured: bench/startup.py).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]


def _validate_exec_env(value: str) -> str:
    """An execution environment name (API 0.12): not empty, no `/` (reserved by the spec)."""
    if not value:
        raise ValueError("an execution environment name must not be empty")
    if "/" in value:
        raise ValueError(f"{value!r} is not an execution environment name: '/' is reserved")
    return value


def _exec_env_names(value: Any) -> Any:
    # The spec writes `[[buildpack.exec-env]] name = "test"`; lifecycle 0.21 reads a plain
    # `exec-env = ["test"]` (a table there fails its decoding). Both load; the list is written.
    if isinstance(value, list):
        return [item.get("name") if isinstance(item, dict) else item for item in value]
    return value


ExecEnvName = Annotated[str, AfterValidator(_validate_exec_env)]
ExecEnvList = Annotated[list[ExecEnvName], BeforeValidator(_exec_env_names)]


def validation_error_lines(error: ValidationError) -> list[str]:
    """One readable line per problem: "processes[0].command: Field required"."""
    lines = []
    for item in error.errors(include_url=False):
        location = _format_location(item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{location}: {message}" if location else message)
    return lines


def _format_location(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# --- buildpack.toml ------------------------------------------------------------------------

_API_RE = re.compile(r"^\d+(\.\d+)?$")
_BUILDPACK_ID_RE = re.compile(r"^[A-Za-z0-9./-]+$")
_RESERVED_BUILDPACK_IDS = frozenset({"app", "config", "generated", "sbom"})
_VERSION_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
SBOM_MEDIA_TYPES = {
    "application/vnd.cyclonedx+json": "cdx.json",
    "application/spdx+json": "spdx.json",
    "application/vnd.syft+json": "syft.json",
}


def _validate_api_version(value: str) -> str:
    if not _API_RE.match(value):
        raise ValueError(
            f"{value!r} is not a Buildpack API version: expected <major>.<minor> such as '0.10'"
        )
    return value


def _validate_buildpack_id(value: str) -> str:
    if not _BUILDPACK_ID_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid buildpack ID: use only letters, numbers, '.', '/' and '-'"
        )
    if value.lower() in _RESERVED_BUILDPACK_IDS:
        raise ValueError(f"{value!r} is reserved and cannot be a buildpack ID")
    return value


def _validate_buildpack_version(value: str) -> str:
    if not _VERSION_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid buildpack version: expected X.Y.Z with non-negative "
            "integers without leading zeros"
        )
    return value


class License(ContractModel):
    type: str | None = None
    uri: str | None = None


class BuildpackInfo(ContractModel):
    id: Annotated[str, AfterValidator(_validate_buildpack_id)]
    name: NonEmptyStr
    version: Annotated[str, AfterValidator(_validate_buildpack_version)]
    homepage: str | None = None
    description: str | None = None
    keywords: list[str] = Field(default_factory=list)
    licenses: list[License] = Field(default_factory=list)
    clear_env: bool = Field(default=False, alias="clear-env")
    sbom_formats: list[str] = Field(default_factory=list, alias="sbom-formats")
    # The execution environments the buildpack supports; none listed means all of them.
    exec_env: ExecEnvList | None = Field(default=None, alias="exec-env")

    @field_validator("sbom_formats")
    @classmethod
    def _known_sbom_formats(cls, value: list[str]) -> list[str]:
        unknown = [media_type for media_type in value if media_type not in SBOM_MEDIA_TYPES]
        if unknown:
            raise ValueError(
                f"unsupported SBOM media type(s) {', '.join(unknown)}: expected one of "
                + ", ".join(SBOM_MEDIA_TYPES)
            )
        return value


class Distro(ContractModel):
    name: str | None = None
    version: str | None = None


class BuildpackTarget(ContractModel):
    """A `[[targets]]` entry; a field left out matches anything."""

    os: str | None = None
    arch: str | None = None
    variant: str | None = None
    distros: list[Distro] = Field(default_factory=list)

    def matches(self, target: Target) -> bool:
        """Whether the lifecycle's target (CNB_TARGET_*) satisfies this entry, per the spec."""
        if self.os is not None and self.os != target.os:
            return False
        if self.arch is not None and self.arch != target.arch:
            return False
        if self.variant is not None and self.variant != target.arch_variant:
            return False
        if not self.distros:
            return True
        return any(
            (d.name is None or d.name == target.distro_name)
            and (d.version is None or d.version == target.distro_version)
            for d in self.distros
        )


class GroupEntry(ContractModel):
    id: str
    version: str
    optional: bool = False
    exec_env: ExecEnvList | None = Field(default=None, alias="exec-env")


class OrderGroup(ContractModel):
    group: list[GroupEntry]


class Stack(ContractModel):
    """Deprecated since API 0.10 (replaced by `targets`); accepted so old descriptors load."""

    id: str
    mixins: list[str] = Field(default_factory=list)


class BuildpackDescriptor(ContractModel):
    """`buildpack.toml`."""

    api: Annotated[str, AfterValidator(_validate_api_version)]
    buildpack: BuildpackInfo
    order: list[OrderGroup] = Field(default_factory=list)
    targets: list[BuildpackTarget] = Field(default_factory=list)
    stacks: list[Stack] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


# --- detect: build plan --------------------------------------------------------------------


class Provide(ContractModel):
    name: NonEmptyStr


class Require(ContractModel):
    name: NonEmptyStr
    metadata: dict[str, Any] = Field(default_factory=dict)


class PlanAlternative(ContractModel):
    provides: list[Provide] = Field(default_factory=list)
    requires: list[Require] = Field(default_factory=list)


class BuildPlan(ContractModel):
    """What `/bin/detect` writes to `$CNB_BUILD_PLAN_PATH`."""

    provides: list[Provide] = Field(default_factory=list)
    requires: list[Require] = Field(default_factory=list)
    or_: list[PlanAlternative] = Field(default_factory=list, alias="or")


# --- build: buildpack plan -----------------------------------------------------------------


class PlanEntry(BaseModel):
    # Written by the lifecycle, not by us: unknown keys (e.g. a legacy `version`) are ignored
    # rather than failing a build over a file the user cannot change.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    name: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class BuildpackPlan(BaseModel):
    """`$CNB_BP_PLAN_PATH`: the entries this buildpack is expected to provide."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    entries: list[PlanEntry] = Field(default_factory=list)

    def entries_named(self, name: str) -> list[PlanEntry]:
        return [entry for entry in self.entries if entry.name == name]


# --- build: <layer>.toml -------------------------------------------------------------------


class LayerTypes(ContractModel):
    launch: bool = False
    build: bool = False
    cache: bool = False


class LayerContentMetadata(ContractModel):
    """`<layers>/<layer>.toml`. A restored file has no `[types]`: the spec strips it.

    API 0.12 reserves `exec-env` (a list) in `[metadata]`, to limit a layer to some execution
    environments; it is left to the layer's own metadata model.
    """

    types: LayerTypes = Field(default_factory=LayerTypes)
    metadata: dict[str, Any] = Field(default_factory=dict)


# --- build: launch.toml, build.toml, store.toml --------------------------------------------

_PROCESS_TYPE_RE = re.compile(r"^[A-Za-z0-9._-]+$")


class Label(ContractModel):
    key: NonEmptyStr
    value: str


class Process(ContractModel):
    type: str
    command: list[str]
    args: list[str] = Field(default_factory=list)
    default: bool = False
    working_dir: str | None = Field(default=None, alias="working-dir")
    # Where the launcher offers the process: none listed means every execution environment,
    # "*" too; otherwise only those named (API 0.12).
    exec_env: ExecEnvList | None = Field(default=None, alias="exec-env")

    @field_validator("type")
    @classmethod
    def _process_type_charset(cls, value: str) -> str:
        if not _PROCESS_TYPE_RE.match(value):
            raise ValueError(
                f"{value!r} is not a valid process type: use only letters, numbers, '.', '_' "
                "and '-'"
            )
        return value

    @field_validator("command")
    @classmethod
    def _command_names_executable(cls, value: list[str]) -> list[str]:
        if not value or not value[0]:
            raise ValueError("must start with the executable to run")
        return value


class Slice(ContractModel):
    paths: list[str] = Field(default_factory=list)


class LaunchToml(ContractModel):
    """`<layers>/launch.toml` in its API 0.12 form (`command` is a list, `exec-env` per process)."""

    labels: list[Label] = Field(default_factory=list)
    processes: list[Process] = Field(default_factory=list)
    slices: list[Slice] = Field(default_factory=list)

    @field_validator("labels")
    @classmethod
    def _unique_label_keys(cls, value: list[Label]) -> list[Label]:
        _reject_duplicates("label key", [label.key for label in value])
        return value

    @field_validator("processes")
    @classmethod
    def _unique_types_one_default(cls, value: list[Process]) -> list[Process]:
        _reject_duplicates("process type", [process.type for process in value])
        defaults = [process.type for process in value if process.default]
        if len(defaults) > 1:
            raise ValueError(
                f"only one process may be the default, but {', '.join(defaults)} all are"
            )
        return value


def _reject_duplicates(what: str, values: list[str]) -> None:
    duplicates = sorted(value for value, count in Counter(values).items() if count > 1)
    if duplicates:
        raise ValueError(f"duplicate {what}(s): {', '.join(duplicates)}")


class Unmet(ContractModel):
    name: NonEmptyStr


class BuildToml(ContractModel):
    """`<layers>/build.toml`: Buildpack Plan entries this buildpack left for later ones."""

    unmet: list[Unmet] = Field(default_factory=list)


class StoreToml(ContractModel):
    """`<layers>/store.toml`: values that persist to the next build."""

    metadata: dict[str, Any] = Field(default_factory=dict)


__all__ = [
    "SBOM_MEDIA_TYPES",
    "BuildPlan",
    "BuildToml",
    "BuildpackDescriptor",
    "BuildpackInfo",
    "BuildpackPlan",
    "BuildpackTarget",
    "Distro",
    "GroupEntry",
    "Label",
    "LaunchToml",
    "LayerContentMetadata",
    "LayerTypes",
    "License",
    "OrderGroup",
    "PlanAlternative",
    "PlanEntry",
    "Process",
    "Provide",
    "Require",
    "Slice",
    "Stack",
    "StoreToml",
    "Unmet",
    "validation_error_lines",
]
