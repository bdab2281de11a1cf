"""`fill_once`: a cache entry appears whole or not at all, and is made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.cache import fill_once


def test_an_entry_is_filled_once_then_found(tmp_path: Path) -> None:
    entry, calls = tmp_path / "tool" / "1.0", []

    def fill(staging: Path) -> None:
        calls.append(staging)
        (staging / "bin").write_text("built")

    for _ in range(2):
        fill_once(entry, tmp_path / ".lock", fill, ready=(entry / "bin").is_file)
    assert len(calls) == 1
    assert (entry / "bin").read_text() == "built"
    assert sorted(p.name for p in entry.parent.iterdir()) == ["1.0"]  # no staging left


def test_a_failed_fill_leaves_nothing(tmp_path: Path) -> None:
    entry = tmp_path / "tool" / "1.0"

    def fill(staging: Path) -> None:
        (staging / "half").write_text("half")
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError):
        fill_once(entry, tmp_path / ".lock", fill, ready=entry.is_dir)
    assert list(entry.parent.iterdir()) == []
