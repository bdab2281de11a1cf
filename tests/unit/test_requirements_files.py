from __future__ import annotations

import os
from pathlib import Path

import pytest

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.errors import (
    InvalidConfigFile,
    RequirementsIncludeCycle,
    RequirementsIncludeMissing,
    RequirementsIncludeUnreadable,
)
from python_buildpack.requirements_files import read_requirements


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_fully_pinned_with_includes_and_comments(tmp_path: Path) -> None:
    write(tmp_path / "reqs/base.txt", "flask==3.1.0  # web\nitsdangerous==2.2.0\n")
    root = write(
        tmp_path / "requirements.txt",
        "# top\n--index-url https://example.com/simple\n-r reqs/base.txt\ngunicorn==23.0.0\n",
    )
    result = read_requirements(root, AppSnapshot(tmp_path), {})
    assert result.fully_pinned, result.unpinned
    assert result.pinned_names == {"flask", "itsdangerous", "gunicorn"}
    assert [p.name for p in result.files] == ["requirements.txt", "base.txt"]


def test_digest_changes_with_an_included_file(tmp_path: Path) -> None:
    base = write(tmp_path / "base.txt", "flask==3.1.0\n")
    root = write(tmp_path / "requirements.txt", "-r base.txt\n")
    first = read_requirements(root, AppSnapshot(tmp_path), {}).digest
    base.write_text("flask==3.1.1\n")
    assert read_requirements(root, AppSnapshot(tmp_path), {}).digest != first


def test_unpinned_lines_are_reported_with_location(tmp_path: Path) -> None:
    root = write(
        tmp_path / "requirements.txt",
        "flask>=3\nrequests==2.*\n-e ./lib\nhttps://user:secret@example.com/x.whl\n",
    )
    result = read_requirements(root, AppSnapshot(tmp_path), {})
    assert not result.fully_pinned
    text = "\n".join(result.unpinned)
    assert "requirements.txt line 1: flask>=3" in text
    assert "line 2" in text and "line 3" in text
    assert "secret" not in text


def test_hashes_pin_and_continuations_join(tmp_path: Path) -> None:
    root = write(
        tmp_path / "requirements.txt",
        "flask==3.1.0 \\\n    --hash=sha256:aaaa \\\n    --hash=sha256:bbbb\n"
        "blinker --hash=sha256:c\n",
    )
    result = read_requirements(root, AppSnapshot(tmp_path), {})
    assert result.fully_pinned
    assert result.pinned_names == {"flask", "blinker"}


def test_constraints_pin_loose_requirements(tmp_path: Path) -> None:
    write(tmp_path / "constraints.txt", "Flask==3.1.0\n")
    root = write(tmp_path / "requirements.txt", "-c constraints.txt\nflask\n")
    assert read_requirements(root, AppSnapshot(tmp_path), {}).fully_pinned


def test_vcs_pinned_only_to_a_full_commit(tmp_path: Path) -> None:
    sha = "a" * 40
    root = write(
        tmp_path / "requirements.txt",
        f"lib @ git+https://example.com/lib.git@{sha}\nother @ git+https://example.com/o.git@main\n",
    )
    result = read_requirements(root, AppSnapshot(tmp_path), {})
    assert result.pinned_names == {"lib"}
    assert len(result.unpinned) == 1 and "other" in result.unpinned[0]


def test_env_vars_are_expanded_into_the_digest(tmp_path: Path) -> None:
    root = write(tmp_path / "requirements.txt", "pkg==${PKG_VERSION}\n")
    one = read_requirements(root, AppSnapshot(tmp_path), {"PKG_VERSION": "1.0"})
    two = read_requirements(root, AppSnapshot(tmp_path), {"PKG_VERSION": "2.0"})
    assert one.fully_pinned and one.digest != two.digest


def test_missing_include_names_file_and_line(tmp_path: Path) -> None:
    root = write(tmp_path / "requirements.txt", "flask==3.1.0\n-r missing.txt\n")
    with pytest.raises(RequirementsIncludeMissing) as info:
        read_requirements(root, AppSnapshot(tmp_path), {})
    assert "requirements.txt line 2" in str(info.value)
    assert "missing.txt" in str(info.value)


def test_include_cycles_are_an_error_naming_the_chain(tmp_path: Path) -> None:
    # pip refuses them too ("recursively references itself"); we say so before any layer.
    write(tmp_path / "a.txt", "-r requirements.txt\nx==1\n")
    root = write(tmp_path / "requirements.txt", "-r a.txt\n")
    with pytest.raises(RequirementsIncludeCycle, match="cycle") as info:
        read_requirements(root, AppSnapshot(tmp_path), {})
    assert "requirements.txt -> a.txt -> requirements.txt" in info.value.detail


def test_a_file_included_twice_is_not_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / "common.txt", "x==1\n")
    write(tmp_path / "a.txt", "-r common.txt\n")
    root = write(tmp_path / "requirements.txt", "-r a.txt\n-r common.txt\n")
    assert read_requirements(root, AppSnapshot(tmp_path), {}).pinned_names == {"x"}


def test_include_of_a_directory_says_so(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    root = write(tmp_path / "requirements.txt", "-r reqs\n")
    with pytest.raises(InvalidConfigFile) as info:
        read_requirements(root, AppSnapshot(tmp_path), {})
    assert "requirements.txt line 1" in info.value.title
    assert "is a directory" in info.value.detail
    assert "does not exist" not in info.value.detail


def test_include_leaving_the_app_dir_is_refused(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    write(tmp_path / "outside.txt", "x==1\n")
    root = write(app / "requirements.txt", "-r ../outside.txt\n")
    with pytest.raises(RequirementsIncludeUnreadable, match="outside the app directory"):
        read_requirements(root, AppSnapshot(app), {})


def test_include_that_is_a_fifo_fails_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "more.txt")
    root = write(tmp_path / "requirements.txt", "-r more.txt\n")
    with pytest.raises(RequirementsIncludeUnreadable, match="named pipe"):
        read_requirements(root, AppSnapshot(tmp_path), {})


def test_more_lines_than_any_app_has_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "more.txt", "".join(f"b{n}\n" for n in range(15_000)))
    root = write(
        tmp_path / "requirements.txt", "-r more.txt\n" + "".join(f"a{n}\n" for n in range(6_000))
    )
    with pytest.raises(InvalidConfigFile, match="more than 20000 requirement lines"):
        read_requirements(root, AppSnapshot(tmp_path), {})
