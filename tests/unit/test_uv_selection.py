"""`BP_UV_GROUPS` / `BP_UV_EXTRAS`: parsed, checked against pyproject.toml, turned into flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.errors import SelectionNamesInvalid, SelectionNotInPyproject
from python_buildpack.uv_selection import UvSelection, defined_names, uv_selection

PYPROJECT = """
[project]
name = "app"
version = "1"
dependencies = []

[project.optional-dependencies]
Postgres = ["psycopg"]
redis = ["redis"]

[dependency-groups]
dev = ["pytest"]
docs_build = ["sphinx"]
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return tmp_path


def test_nothing_set_selects_nothing_and_reads_nothing(tmp_path: Path) -> None:
    selection = uv_selection({}, AppSnapshot(tmp_path))
    assert selection == UvSelection()
    assert selection.sync_args == [] and selection.options == []


def test_groups_and_extras_become_uv_sync_flags(app: Path) -> None:
    selection = uv_selection(
        {"BP_UV_GROUPS": "docs-build, dev,dev", "BP_UV_EXTRAS": "postgres"}, AppSnapshot(app)
    )
    assert selection.groups == ("docs-build", "dev")
    assert selection.sync_args == [
        "--group", "docs-build", "--group", "dev", "--extra", "postgres",
    ]  # fmt: skip
    assert selection.options == ["groups=docs-build,dev", "extras=postgres"]


def test_unknown_group_lists_the_defined_ones(app: Path) -> None:
    with pytest.raises(SelectionNotInPyproject) as caught:
        uv_selection({"BP_UV_GROUPS": "dev,test"}, AppSnapshot(app))
    message = str(caught.value)
    assert "BP_UV_GROUPS" in message and "'test'" in message
    assert "It defines: dev, docs-build." in message


def test_unknown_extra_without_any_extras(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "1"\n')
    with pytest.raises(SelectionNotInPyproject) as caught:
        uv_selection({"BP_UV_EXTRAS": "redis"}, AppSnapshot(tmp_path))
    assert "defines no extras ([project.optional-dependencies])" in str(caught.value)


def test_invalid_names_are_refused(app: Path) -> None:
    with pytest.raises(SelectionNamesInvalid, match="not a valid name"):
        uv_selection({"BP_UV_GROUPS": "dev;rm -rf /"}, AppSnapshot(app))


def test_uv_legacy_dev_dependencies_are_the_dev_group() -> None:
    groups, extras = defined_names({"tool": {"uv": {"dev-dependencies": ["pytest"]}}})
    assert (groups, extras) == (["dev"], [])
