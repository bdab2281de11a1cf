"""bin/build with `BP_UV_GROUPS` / `BP_UV_EXTRAS` on the uv fixture app (a `dev` group, no
extras)."""

from __future__ import annotations

import pytest

from tests.contract.lockfile_apps import build_ok, distributions, lockfile_app
from tests.harness.package_index import PackageIndex
from tests.harness.phases import Workspace


@pytest.fixture
def app(ws: Workspace, locked_package_index: PackageIndex) -> Workspace:
    return lockfile_app(ws, locked_package_index, "uv_app")


def test_uv_groups_adds_the_group_and_rebuilds(app: Workspace) -> None:
    build_ok(app)
    assert "bp-test-beta" not in distributions(app)
    app.set_platform_env("BP_UV_GROUPS", "dev")
    result = build_ok(app)
    assert "the selected groups changed" in result.stdout
    assert "--no-progress --group dev" in result.stdout
    assert distributions(app)["bp-test-beta"] == "1.0.0"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("BP_UV_GROUPS", "dev,test", ["no dependency group named 'test'", "It defines: dev."]),
        ("BP_UV_EXTRAS", "postgres", ["no extra named 'postgres'", "defines no extras"]),
    ],
)
def test_unknown_names_fail_before_any_layer(
    app: Workspace, variable: str, value: str, words: list[str]
) -> None:
    app.set_platform_env(variable, value)
    result = app.build()
    assert result.exit_code == 1, result.output
    assert f"Invalid value for {variable}" in result.output
    for word in words:
        assert word in result.output
    assert "Traceback" not in result.output
    assert not any(app.layers.iterdir())
