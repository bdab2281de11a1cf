"""DetectContext / BuildContext from what the lifecycle passes (Buildpack API 0.12)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from python_buildpack.cnb import BUILDPACK_API, CnbEnvError, CnbError, CnbFileError
from python_buildpack.cnb.context import BuildContext, DetectContext, read_platform_env
from python_buildpack.cnb.models import (
    BuildpackDescriptor,
    BuildPlan,
    BuildToml,
    LaunchToml,
    Provide,
    Require,
    Unmet,
)
from python_buildpack.cnb.target import Target
from python_buildpack.cnb.toml_io import load_toml, read_toml_dict

REPO = Path(__file__).resolve().parents[3]


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "CNB_BUILDPACK_DIR": str(tmp_path / "buildpack"),
        "CNB_PLATFORM_DIR": str(tmp_path / "platform"),
        "CNB_TARGET_OS": "linux",
        "CNB_TARGET_ARCH": "amd64",
    }


def detect_env(tmp_path: Path) -> dict[str, str]:
    return {**base_env(tmp_path), "CNB_BUILD_PLAN_PATH": str(tmp_path / "plan.toml")}


def build_env(tmp_path: Path) -> dict[str, str]:
    return {
        **base_env(tmp_path),
        "CNB_LAYERS_DIR": str(tmp_path / "layers"),
        "CNB_BP_PLAN_PATH": str(tmp_path / "bp-plan.toml"),
    }


def test_detect_context_from_env(tmp_path: Path) -> None:
    app = tmp_path / "app"
    environ = {
        **detect_env(tmp_path),
        "CNB_TARGET_ARCH_VARIANT": "v8",
        "CNB_TARGET_DISTRO_NAME": "ubuntu",
        "CNB_TARGET_DISTRO_VERSION": "24.04",
    }
    context = DetectContext.from_environ([], environ, app)
    assert context.app_dir == app
    assert context.buildpack_dir == tmp_path / "buildpack"
    assert context.platform_dir == tmp_path / "platform"
    assert context.plan_path == tmp_path / "plan.toml"
    assert context.target == Target("linux", "amd64", "v8", "ubuntu", "24.04")
    assert context.target.describe() == "linux/amd64/v8 (ubuntu 24.04)"
    assert context.platform_env == {}


def test_build_context_from_env(tmp_path: Path) -> None:
    context = BuildContext.from_environ([], build_env(tmp_path), tmp_path / "app")
    assert context.layers_dir == tmp_path / "layers"
    assert context.buildpack_plan_path == tmp_path / "bp-plan.toml"
    assert context.platform_dir == tmp_path / "platform"
    assert context.target == Target(os="linux", arch="amd64")
    assert context.target.describe() == "linux/amd64"
    assert context.exec_env == "production"  # unset: the spec's default


@pytest.mark.parametrize("value", ["test", "development", "staging"])
def test_exec_env_is_read_in_both_phases(tmp_path: Path, value: str) -> None:
    build = BuildContext.from_environ([], {**build_env(tmp_path), "CNB_EXEC_ENV": value}, tmp_path)
    detect = DetectContext.from_environ(
        [], {**detect_env(tmp_path), "CNB_EXEC_ENV": value}, tmp_path
    )
    assert build.exec_env == detect.exec_env == value


def test_exec_env_with_a_slash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CnbEnvError) as caught:
        BuildContext.from_environ([], {**build_env(tmp_path), "CNB_EXEC_ENV": "a/b"}, tmp_path)
    assert caught.value.variable == "CNB_EXEC_ENV"
    assert "reserves" in caught.value.reason


def test_env_wins_over_positional_arguments(tmp_path: Path) -> None:
    argv = ["/elsewhere/layers", "/elsewhere/platform", "/elsewhere/plan.toml"]
    context = BuildContext.from_environ(argv, build_env(tmp_path), tmp_path)
    assert context.layers_dir == tmp_path / "layers"


def test_positional_arguments_are_the_fallback(tmp_path: Path) -> None:
    environ = {
        k: v
        for k, v in build_env(tmp_path).items()
        if k not in ("CNB_LAYERS_DIR", "CNB_PLATFORM_DIR", "CNB_BP_PLAN_PATH")
    }
    context = BuildContext.from_environ(["/l", "/p", "/p/plan.toml"], environ, tmp_path)
    assert (context.layers_dir, context.platform_dir, context.buildpack_plan_path) == (
        Path("/l"),
        Path("/p"),
        Path("/p/plan.toml"),
    )
    environ = {
        k: v
        for k, v in detect_env(tmp_path).items()
        if k not in ("CNB_PLATFORM_DIR", "CNB_BUILD_PLAN_PATH")
    }
    detect = DetectContext.from_environ(["/p", "/plan.toml"], environ, tmp_path)
    assert (detect.platform_dir, detect.plan_path) == (Path("/p"), Path("/plan.toml"))


def test_relative_paths_are_resolved_against_the_working_dir(tmp_path: Path) -> None:
    environ = {**detect_env(tmp_path), "CNB_BUILD_PLAN_PATH": "out/plan.toml"}
    context = DetectContext.from_environ([], environ, tmp_path)
    assert context.plan_path == tmp_path / "out" / "plan.toml"


@pytest.mark.parametrize(
    "variable",
    ["CNB_BUILDPACK_DIR", "CNB_LAYERS_DIR", "CNB_BP_PLAN_PATH", "CNB_TARGET_OS", "CNB_TARGET_ARCH"],
)
def test_missing_build_variable_is_named(tmp_path: Path, variable: str) -> None:
    environ = build_env(tmp_path)
    del environ[variable]
    with pytest.raises(CnbEnvError) as caught:
        BuildContext.from_environ([], environ, tmp_path)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: not set")
    assert isinstance(caught.value, CnbError)


@pytest.mark.parametrize("variable", ["CNB_PLATFORM_DIR", "CNB_BUILD_PLAN_PATH"])
def test_missing_detect_variable_is_named(tmp_path: Path, variable: str) -> None:
    environ = detect_env(tmp_path)
    del environ[variable]
    with pytest.raises(CnbEnvError, match=f"^{variable}: not set and not given as positional"):
        DetectContext.from_environ([], environ, tmp_path)


def test_empty_target_arch_is_an_error_but_empty_optionals_are_unknown(tmp_path: Path) -> None:
    environ = {**build_env(tmp_path), "CNB_TARGET_DISTRO_NAME": ""}
    assert BuildContext.from_environ([], environ, tmp_path).target.distro_name is None
    environ["CNB_TARGET_ARCH"] = ""
    with pytest.raises(CnbEnvError, match="CNB_TARGET_ARCH: set but empty"):
        BuildContext.from_environ([], environ, tmp_path)


def test_platform_env_is_read_verbatim(tmp_path: Path) -> None:
    env_dir = tmp_path / "platform" / "env"
    env_dir.mkdir(parents=True)
    (env_dir / "BP_PYTHON_VERSION").write_text("3.13\n")
    (env_dir / "EMPTY").write_text("")
    (env_dir / "MULTI").write_bytes(b"a\nb  ")
    (env_dir / "nested").mkdir()
    (env_dir / "link-to-dir").symlink_to(env_dir / "nested")
    (env_dir / "LINKED").symlink_to(env_dir / "MULTI")
    context = DetectContext.from_environ([], detect_env(tmp_path), tmp_path)
    assert context.platform_env == {
        "BP_PYTHON_VERSION": "3.13\n",
        "EMPTY": "",
        "LINKED": "a\nb  ",
        "MULTI": "a\nb  ",
    }


def test_platform_env_without_env_dir_is_empty(tmp_path: Path) -> None:
    assert read_platform_env(tmp_path / "nope") == {}


def test_read_buildpack_plan(tmp_path: Path) -> None:
    context = BuildContext.from_environ([], build_env(tmp_path), tmp_path)
    with pytest.raises(CnbFileError, match="does not exist"):
        context.read_buildpack_plan()
    context.buildpack_plan_path.write_text(
        '[[entries]]\nname = "python"\n[entries.metadata]\nversion = "3.12"\n'
    )
    plan = context.read_buildpack_plan()
    assert plan.entries[0].name == "python"
    assert plan.entries[0].metadata == {"version": "3.12"}
    context.buildpack_plan_path.write_text("[[entries]]\n")
    with pytest.raises(CnbFileError) as caught:
        context.read_buildpack_plan()
    assert caught.value.reason == "entries[0].name: Field required"


def test_write_outputs(tmp_path: Path) -> None:
    detect = DetectContext.from_environ([], detect_env(tmp_path), tmp_path)
    detect.write_build_plan(BuildPlan(provides=[Provide(name="p")], requires=[Require(name="p")]))
    assert read_toml_dict(detect.plan_path)["provides"] == [{"name": "p"}]

    build = BuildContext.from_environ([], build_env(tmp_path), tmp_path)
    build.write_launch(LaunchToml.model_validate({"processes": [{"type": "w", "command": ["x"]}]}))
    build.write_build(BuildToml(unmet=[Unmet(name="p")]))
    assert read_toml_dict(tmp_path / "layers" / "launch.toml")["processes"][0]["type"] == "w"
    assert read_toml_dict(tmp_path / "layers" / "build.toml") == {"unmet": [{"name": "p"}]}
    assert build.layers().layers_dir == tmp_path / "layers"


def test_project_descriptor_loads_and_declares_the_api_this_library_implements() -> None:
    descriptor = load_toml(REPO / "buildpack.toml", BuildpackDescriptor, what="buildpack.toml")
    assert descriptor.buildpack.id
    assert descriptor.api == BUILDPACK_API


@pytest.mark.parametrize(
    "module",
    [
        "python_buildpack.cnb.context",
        "python_buildpack.cnb.env",
        "python_buildpack.cnb.target",
        "python_buildpack.cnb.toml_io",
    ],
)
def test_detect_side_modules_do_not_import_pydantic(module: str) -> None:
    code = (
        f"import {module}, sys; "
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pydantic_core', 'tomli_w'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("module", ["models", "target"])
def test_the_contract_models_and_the_target_never_import_the_contexts(module: str) -> None:
    # One direction only (type-checking imports included): `context` reads contract files with
    # the models, the models match a `Target` and know nothing of the phases.
    source = REPO / "src" / "python_buildpack" / "cnb" / f"{module}.py"
    imported = {
        node.module
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.ImportFrom)
    }
    assert "context" not in imported
