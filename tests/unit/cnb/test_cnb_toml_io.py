"""toml_io: readable failures, atomic writes, and what TOML cannot hold."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from python_buildpack.cnb import CnbError, CnbFileError
from python_buildpack.cnb.models import LaunchToml
from python_buildpack.cnb.toml_io import load_toml, read_toml_dict, write_toml


class Sample(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    name: str
    working_dir: str | None = Field(default=None, alias="working-dir")
    count: int = 0


def test_read_toml_dict_parses(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('a = 1\n[b]\nc = "d"\n')
    assert read_toml_dict(path) == {"a": 1, "b": {"c": "d"}}


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "launch.toml"
    with pytest.raises(CnbFileError) as caught:
        load_toml(path, LaunchToml, what="launch.toml")
    assert caught.value.path == path
    assert "does not exist" in caught.value.reason
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, CnbError)


def test_invalid_toml_is_reported_with_the_parser_message(tmp_path: Path) -> None:
    path = tmp_path / "launch.toml"
    path.write_text("[[processes]\n")
    with pytest.raises(CnbFileError) as caught:
        load_toml(path, LaunchToml, what="launch.toml")
    assert caught.value.reason.startswith("the file is not valid TOML")


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_bytes(b'a = "\xff"\n')
    with pytest.raises(CnbFileError, match="not UTF-8"):
        read_toml_dict(path)


def test_schema_errors_are_one_line_each_with_their_location(tmp_path: Path) -> None:
    path = tmp_path / "launch.toml"
    path.write_text(
        '[[processes]]\ntype = "web"\n\n'
        '[[processes]]\ntype = "worker"\ncommand = ["x"]\nbogus = 1\n'
    )
    with pytest.raises(CnbFileError) as caught:
        load_toml(path, LaunchToml, what="launch.toml")
    lines = caught.value.reason.splitlines()
    assert lines == [
        "processes[0].command: Field required",
        "processes[1].bogus: Extra inputs are not permitted",
    ]
    message = str(caught.value)
    assert message.startswith(f"launch.toml ({path}):\n")
    assert "  processes[0].command: Field required" in message


def test_write_uses_aliases_drops_none_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "sample.toml"
    write_toml(path, Sample(name="a", working_dir="/w"))
    assert read_toml_dict(path) == {"name": "a", "working-dir": "/w", "count": 0}
    write_toml(path, Sample(name="b"))
    assert read_toml_dict(path) == {"name": "b", "count": 0}
    assert load_toml(path, Sample, what="sample") == Sample(name="b")


def test_write_dict_drops_nested_none(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    write_toml(path, {"a": None, "b": {"c": None, "d": 1}, "e": [1, None, 2]})
    assert read_toml_dict(path) == {"b": {"d": 1}, "e": [1, 2]}


def test_write_leaves_no_temp_file_and_readable_mode(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    write_toml(path, {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["x.toml"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_failed_write_keeps_the_old_file_and_no_toml_named_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.toml"
    write_toml(path, {"a": 1})

    def explode(self: Path, target: object) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", explode)
    with pytest.raises(OSError, match="disk full"):
        write_toml(path, {"a": 2})
    monkeypatch.undo()
    assert read_toml_dict(path) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.toml"]


def test_unserialisable_value_does_not_touch_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    write_toml(path, {"a": 1})
    with pytest.raises(TypeError):
        write_toml(path, {"a": object()})
    assert read_toml_dict(path) == {"a": 1}
