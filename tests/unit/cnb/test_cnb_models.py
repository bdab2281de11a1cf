"""Models of the contract files: spec key names in and out, readable rejections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from python_buildpack.cnb import CnbFileError
from python_buildpack.cnb.models import (
    BuildpackDescriptor,
    BuildpackPlan,
    BuildpackTarget,
    BuildPlan,
    BuildToml,
    Distro,
    LaunchToml,
    LayerContentMetadata,
    LayerTypes,
    PlanAlternative,
    Process,
    Provide,
    Require,
    StoreToml,
    validation_error_lines,
)
from python_buildpack.cnb.target import Target
from python_buildpack.cnb.toml_io import load_toml, read_toml_dict, write_toml

REPO = Path(__file__).resolve().parents[3]


def errors_of(model: type[BaseModel], data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return validation_error_lines(caught.value)


def round_trip(tmp_path: Path, model: BaseModel) -> dict[str, Any]:
    path = tmp_path / "file.toml"
    write_toml(path, model)
    assert load_toml(path, type(model), what="test") == model
    return read_toml_dict(path)


DESCRIPTOR = """
api = "0.10"

[buildpack]
id = "example/python"
name = "Python"
version = "1.2.3"
homepage = "https://example.com"
description = "d"
keywords = ["a", "b"]
clear-env = true
sbom-formats = ["application/vnd.cyclonedx+json"]

[[buildpack.licenses]]
type = "BSD-3-Clause"
uri = "https://example.com/license"

[[targets]]
os = "linux"
arch = "arm64"
variant = "v8"
[[targets.distros]]
name = "ubuntu"
version = "24.04"

[metadata]
anything = { goes = [1, 2] }
"""


def test_descriptor_reads_every_spec_key(tmp_path: Path) -> None:
    path = tmp_path / "buildpack.toml"
    path.write_text(DESCRIPTOR)
    descriptor = load_toml(path, BuildpackDescriptor, what="buildpack.toml")
    info = descriptor.buildpack
    assert (descriptor.api, info.id, info.name, info.version) == (
        "0.10",
        "example/python",
        "Python",
        "1.2.3",
    )
    assert info.clear_env is True
    assert info.sbom_formats == ["application/vnd.cyclonedx+json"]
    assert info.licenses[0].type == "BSD-3-Clause"
    assert descriptor.targets[0].variant == "v8"
    assert descriptor.targets[0].distros == [Distro(name="ubuntu", version="24.04")]
    assert descriptor.metadata == {"anything": {"goes": [1, 2]}}
    data = round_trip(tmp_path, descriptor)
    assert data["buildpack"]["clear-env"] is True
    assert "sbom-formats" in data["buildpack"]


def test_project_descriptor_is_valid() -> None:
    descriptor = load_toml(REPO / "buildpack.toml", BuildpackDescriptor, what="buildpack.toml")
    assert descriptor.api == "0.12"
    assert descriptor.targets
    assert descriptor.buildpack.sbom_formats == ["application/vnd.cyclonedx+json"]


def test_exec_env_lists_in_both_spellings(tmp_path: Path) -> None:
    # The spec's table form and the plain list that lifecycle 0.21 decodes read the same;
    # the list is what gets written.
    tables = BuildpackDescriptor.model_validate(
        {
            "api": "0.12",
            "buildpack": {
                "id": "a/b",
                "name": "B",
                "version": "1.0.0",
                "exec-env": [{"name": "production"}, {"name": "test"}],
            },
            "order": [{"group": [{"id": "x", "version": "1.0.0", "exec-env": ["test"]}]}],
        }
    )
    listed = BuildpackDescriptor.model_validate(
        {
            "api": "0.12",
            "buildpack": {
                "id": "a/b",
                "name": "B",
                "version": "1.0.0",
                "exec-env": ["production", "test"],
            },
        }
    )
    assert tables.buildpack.exec_env == listed.buildpack.exec_env == ["production", "test"]
    assert tables.order[0].group[0].exec_env == ["test"]
    data = round_trip(tmp_path, listed)
    assert data["buildpack"]["exec-env"] == ["production", "test"]


def test_exec_env_names_are_checked() -> None:
    lines = errors_of(Process, {"type": "web", "command": ["x"], "exec-env": ["test", "a/b", ""]})
    assert lines == [
        "exec-env[1]: 'a/b' is not an execution environment name: '/' is reserved",
        "exec-env[2]: an execution environment name must not be empty",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"api": "0.x"}, "api: '0.x' is not a Buildpack API version"),
        ({"api": "v0.10"}, "api: 'v0.10' is not a Buildpack API version"),
        ({"id": "app"}, "buildpack.id: 'app' is reserved"),
        ({"id": "Config"}, "buildpack.id: 'Config' is reserved"),
        ({"id": "a b"}, "buildpack.id: 'a b' is not a valid buildpack ID"),
        ({"id": "a_b"}, "buildpack.id: 'a_b' is not a valid buildpack ID"),
        ({"id": ""}, "buildpack.id: '' is not a valid buildpack ID"),
        ({"version": ""}, "buildpack.version: '' is not a valid buildpack version"),
        ({"version": "1.02.3"}, "buildpack.version: '1.02.3' is not a valid buildpack version"),
        ({"version": "1.2"}, "buildpack.version: '1.2' is not a valid buildpack version"),
        ({"name": " "}, "buildpack.name: must not be empty"),
        ({"sbom-formats": ["text/plain"]}, "buildpack.sbom-formats: unsupported SBOM media"),
        ({"clear-env": "maybe"}, "buildpack.clear-env: Input should be a valid boolean"),
        ({"stray": 1}, "buildpack.stray: Extra inputs are not permitted"),
    ],
)
def test_descriptor_rejections_are_readable(change: dict[str, Any], expected: str) -> None:
    data: dict[str, Any] = {
        "api": "0.10",
        "buildpack": {"id": "example/python", "name": "Python", "version": "1.2.3"},
    }
    if "api" in change:
        data["api"] = change["api"]
    else:
        data["buildpack"].update(change)
    lines = errors_of(BuildpackDescriptor, data)
    assert len(lines) == 1
    assert lines[0].startswith(expected)


def test_descriptor_requires_id_name_version() -> None:
    lines = errors_of(BuildpackDescriptor, {"api": "0.10", "buildpack": {}})
    assert lines == [
        "buildpack.id: Field required",
        "buildpack.name: Field required",
        "buildpack.version: Field required",
    ]


def test_descriptor_rejects_unknown_target_keys() -> None:
    lines = errors_of(
        BuildpackDescriptor,
        {
            "api": "0.10",
            "buildpack": {"id": "a", "name": "A", "version": "0.0.1"},
            "targets": [{"os": "linux", "distros": [{"name": "debian", "ver": "12"}]}],
        },
    )
    assert lines == ["targets[0].distros[0].ver: Extra inputs are not permitted"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (BuildpackTarget(), True),
        (BuildpackTarget(os="linux", arch="amd64"), True),
        (BuildpackTarget(os="linux", arch="arm64"), False),
        (BuildpackTarget(os="windows"), False),
        (BuildpackTarget(variant="v8"), False),
        (BuildpackTarget(distros=[Distro(name="debian", version="12")]), True),
        (BuildpackTarget(distros=[Distro(name="debian")]), True),
        (BuildpackTarget(distros=[Distro(name="ubuntu"), Distro(version="12")]), True),
        (BuildpackTarget(distros=[Distro(name="ubuntu", version="12")]), False),
    ],
)
def test_target_matching(target: BuildpackTarget, expected: bool) -> None:
    runtime = Target(os="linux", arch="amd64", distro_name="debian", distro_version="12")
    assert target.matches(runtime) is expected


def test_build_plan_or_alias_round_trips(tmp_path: Path) -> None:
    plan = BuildPlan(
        provides=[Provide(name="python")],
        requires=[Require(name="python", metadata={"version": "3.13", "build": True})],
        or_=[PlanAlternative(requires=[Require(name="python")])],
    )
    data = round_trip(tmp_path, plan)
    assert data["or"] == [{"provides": [], "requires": [{"name": "python", "metadata": {}}]}]
    assert "or_" not in data
    assert BuildPlan.model_validate({"or": [{"provides": [{"name": "x"}]}]}).or_[0].provides == [
        Provide(name="x")
    ]


def test_build_plan_rejections() -> None:
    assert errors_of(BuildPlan, {"requires": [{"name": ""}]}) == [
        "requires[0].name: must not be empty"
    ]
    # The API 0.3 `version` key is gone: it belongs in metadata now.
    assert errors_of(BuildPlan, {"requires": [{"name": "x", "version": "1"}]}) == [
        "requires[0].version: Extra inputs are not permitted"
    ]
    assert errors_of(BuildPlan, {"or": [{"provides": [{}]}]}) == [
        "or[0].provides[0].name: Field required"
    ]


def test_buildpack_plan_reads_lifecycle_output(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(
        '[[entries]]\nname = "python"\nversion = "legacy"\n[entries.metadata]\nversion = "3.13"\n'
        '[[entries]]\nname = "other"\n'
    )
    plan = load_toml(path, BuildpackPlan, what="Buildpack Plan")
    assert [e.name for e in plan.entries] == ["python", "other"]
    assert plan.entries_named("python")[0].metadata == {"version": "3.13"}
    assert plan.entries_named("other")[0].metadata == {}
    round_trip(tmp_path, plan)
    assert errors_of(BuildpackPlan, {"entries": [{"metadata": {}}]}) == [
        "entries[0].name: Field required"
    ]


def test_layer_content_metadata_defaults_and_round_trip(tmp_path: Path) -> None:
    restored = LayerContentMetadata.model_validate({"metadata": {"v": "1"}})
    assert restored.types == LayerTypes(launch=False, build=False, cache=False)
    layer = LayerContentMetadata(types=LayerTypes(launch=True, cache=True), metadata={"a": [1]})
    data = round_trip(tmp_path, layer)
    assert data == {
        "types": {"launch": True, "build": False, "cache": True},
        "metadata": {"a": [1]},
    }
    assert errors_of(LayerContentMetadata, {"types": {"lunch": True}}) == [
        "types.lunch: Extra inputs are not permitted"
    ]
    assert errors_of(LayerContentMetadata, {"types": {"launch": "yes please"}}) == [
        "types.launch: Input should be a valid boolean, unable to interpret input"
    ]


def test_launch_toml_round_trip_uses_spec_keys(tmp_path: Path) -> None:
    launch = LaunchToml.model_validate(
        {
            "labels": [{"key": "k", "value": "v"}],
            "processes": [
                {
                    "type": "web",
                    "command": ["gunicorn", "app:app"],
                    "args": ["--workers", "2"],
                    "default": True,
                    "working-dir": "/workspace/src",
                },
                {"type": "worker.v2_x-y", "command": ["celery"]},
                {"type": "test", "command": ["pytest"], "exec-env": ["test"]},
            ],
            "slices": [{"paths": ["static/*"]}],
        }
    )
    assert launch.processes[0].working_dir == "/workspace/src"
    data = round_trip(tmp_path, launch)
    assert data["processes"][0]["working-dir"] == "/workspace/src"
    assert "working-dir" not in data["processes"][1]
    assert data["processes"][1] == {
        "type": "worker.v2_x-y",
        "command": ["celery"],
        "args": [],
        "default": False,
    }
    assert data["processes"][2]["exec-env"] == ["test"]


def test_process_by_python_name() -> None:
    process = Process(type="web", command=["x"], working_dir="/w")
    assert process.model_dump(by_alias=True, exclude_none=True)["working-dir"] == "/w"


@pytest.mark.parametrize(
    ("processes", "expected"),
    [
        ([{"type": "web"}], ["processes[0].command: Field required"]),
        (
            [{"type": "web", "command": "gunicorn"}],
            ["processes[0].command: Input should be a valid list"],
        ),
        (
            [{"type": "web", "command": []}],
            ["processes[0].command: must start with the executable to run"],
        ),
        (
            [{"type": "web server", "command": ["x"]}],
            [
                "processes[0].type: 'web server' is not a valid process type: use only letters, "
                "numbers, '.', '_' and '-'"
            ],
        ),
        (
            [{"type": "web", "command": ["a"]}, {"type": "web", "command": ["b"]}],
            ["processes: duplicate process type(s): web"],
        ),
        (
            [
                {"type": "web", "command": ["a"], "default": True},
                {"type": "worker", "command": ["b"], "default": True},
            ],
            ["processes: only one process may be the default, but web, worker all are"],
        ),
        (
            [{"type": "web", "command": ["a"], "direct": True}],
            ["processes[0].direct: Extra inputs are not permitted"],
        ),
    ],
)
def test_launch_toml_rejections(processes: list[dict[str, Any]], expected: list[str]) -> None:
    assert errors_of(LaunchToml, {"processes": processes}) == expected


def test_launch_toml_rejects_duplicate_labels() -> None:
    labels = [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]
    assert errors_of(LaunchToml, {"labels": labels}) == ["labels: duplicate label key(s): a"]


def test_launch_toml_file_error_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "launch.toml"
    path.write_text('[[processes]]\ntype = "web"\n')
    with pytest.raises(CnbFileError) as caught:
        load_toml(path, LaunchToml, what="launch.toml")
    assert caught.value.reason == "processes[0].command: Field required"


def test_build_and_store_toml(tmp_path: Path) -> None:
    data = round_trip(tmp_path, BuildToml.model_validate({"unmet": [{"name": "node"}]}))
    assert data == {"unmet": [{"name": "node"}]}
    assert errors_of(BuildToml, {"unmet": [{}]}) == ["unmet[0].name: Field required"]
    assert errors_of(BuildToml, {"bom": []}) == ["bom: Extra inputs are not permitted"]
    store = StoreToml(metadata={"last": "3.13"})
    assert round_trip(tmp_path, store) == {"metadata": {"last": "3.13"}}
