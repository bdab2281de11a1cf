"""`cnb.group`: the buildpacks after this one, from the lifecycle's group.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from python_buildpack.cnb.group import buildpacks_after

GROUP = """
[[group]]
id = "example/first"
version = "1.0.0"
api = "0.12"

[[group]]
id = "python-buildpack/python"
version = "0.1.0"
api = "0.12"
homepage = "https://example.com"

[[group]]
id = "example/after"
version = "2.0.0"
api = "0.12"

[[group-extensions]]
id = "example/extension"
version = "1.0.0"
"""


def layers(tmp_path: Path, group: str | None) -> Path:
    own = tmp_path / "python-buildpack_python"
    own.mkdir()
    if group is not None:
        (tmp_path / "group.toml").write_text(group)
    return own


def test_the_buildpacks_after_this_one(tmp_path: Path) -> None:
    assert buildpacks_after(layers(tmp_path, GROUP)) == ["example/after"]


def test_the_last_buildpack_has_none_after_it(tmp_path: Path) -> None:
    last = GROUP.split('[[group]]\nid = "example/after"')[0]
    assert buildpacks_after(layers(tmp_path, last)) == []


@pytest.mark.parametrize(
    "group",
    [None, "not toml [", '[[group]]\nid = "example/other"\n', "[[group]]\nversion = 1\n"],
)
def test_unknown_when_the_group_cannot_tell(tmp_path: Path, group: str | None) -> None:
    assert buildpacks_after(layers(tmp_path, group)) is None
