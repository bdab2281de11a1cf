from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.errors import (
    ConfigFileUnreadable,
    InvalidProcfile,
    ProcfileCommandMissing,
    ProcfileControlCharacters,
    ProcfileHasNoProcess,
    ProcfileLineHasNoColon,
    ProcfileTypeInvalid,
    ProcfileTypeMissing,
    ProcfileTypeTwice,
)
from python_buildpack.procfile import Procfile, ProcfileEntry, parse_procfile, read_procfile


def test_each_line_is_a_process_with_its_line_number() -> None:
    procfile = parse_procfile(
        "# processes\n"
        "web: gunicorn app:app --bind 0.0.0.0:$PORT\n"
        "\n"
        "   \n"
        "worker:python worker.py --queue=default\n"
        "release.task :  python manage.py migrate  \n"
    )
    assert procfile.entries == (
        ProcfileEntry("web", "gunicorn app:app --bind 0.0.0.0:$PORT", 2),
        ProcfileEntry("worker", "python worker.py --queue=default", 5),
        ProcfileEntry("release.task", "python manage.py migrate", 6),
    )
    assert procfile.types == ["web", "worker", "release.task"]
    assert procfile.get("worker") == procfile.entries[1]
    assert procfile.get("clock") is None


def test_windows_line_endings_and_byte_order_mark() -> None:
    procfile = parse_procfile("\ufeffweb: python app.py\r\nworker: python w.py\r\n")
    assert procfile.types == ["web", "worker"]
    assert procfile.entries[0].command == "python app.py"


def test_only_the_first_colon_separates_type_and_command() -> None:
    (entry,) = parse_procfile("web: uvicorn main:app --host 0.0.0.0:8000\n").entries
    assert entry.command == "uvicorn main:app --host 0.0.0.0:8000"


@pytest.mark.parametrize(
    ("text", "line", "error", "words"),
    [
        ("web: python app.py\nworker python worker.py\n", 2, ProcfileLineHasNoColon, "no ':'"),
        ("# c\n: python app.py\n", 2, ProcfileTypeMissing, "no process type"),
        (
            "my web: python app.py\n",
            1,
            ProcfileTypeInvalid,
            "'my web' is not a valid process type",
        ),
        ("web/1: python app.py\n", 1, ProcfileTypeInvalid, "not a valid process type"),
        ("web:\n", 1, ProcfileCommandMissing, "the web process has no command"),
        ("web:   \t\n", 1, ProcfileCommandMissing, "has no command"),
        ("web: a\nworker: b\nweb: c\n", 3, ProcfileTypeTwice, "already defined on line 1"),
    ],
)
def test_malformed_lines_name_their_line(
    text: str, line: int, error: type[InvalidProcfile], words: str
) -> None:
    with pytest.raises(error) as info:
        parse_procfile(text)
    error = info.value
    assert error.line_number == line
    assert f"(line {line})" in error.title
    assert words in error.detail
    assert f"  {line} | " in error.detail  # the offending line is shown
    assert "web: gunicorn" in error.fix  # an example of the right format


@pytest.mark.parametrize("text", ["", "\n\n", "# web: python app.py\n"])
def test_a_procfile_without_processes_is_an_error(text: str) -> None:
    with pytest.raises(ProcfileHasNoProcess) as info:
        parse_procfile(text)
    assert info.value.line_number is None
    assert "defines no process" in info.value.detail


def test_read_procfile(tmp_path: Path) -> None:
    assert read_procfile(AppSnapshot(tmp_path)) is None
    (tmp_path / "Procfile").write_text("web: python app.py\n")
    assert read_procfile(AppSnapshot(tmp_path)) == Procfile(
        (ProcfileEntry("web", "python app.py", 1),)
    )


def test_unreadable_procfiles(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_bytes(b"web: python caf\xe9.py\n")
    with pytest.raises(ConfigFileUnreadable, match="Procfile") as info:
        read_procfile(AppSnapshot(tmp_path))
    assert "UTF-8" in info.value.detail
    (tmp_path / "Procfile").unlink()
    (tmp_path / "Procfile").mkdir()
    with pytest.raises(ConfigFileUnreadable, match="Procfile"):
        read_procfile(AppSnapshot(tmp_path))


def test_a_dangling_symlink_is_unreadable_not_absent(tmp_path: Path) -> None:
    (tmp_path / "Procfile").symlink_to(tmp_path / "missing")
    with pytest.raises(ConfigFileUnreadable):
        read_procfile(AppSnapshot(tmp_path))


_types = st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True)
_commands = st.from_regex(r"[A-Za-z0-9$:{}=./ -]{0,30}[A-Za-z0-9$}]", fullmatch=True)


@given(st.dictionaries(_types, _commands, min_size=1, max_size=6))
def test_written_procfiles_parse_back(processes: dict[str, str]) -> None:
    text = "".join(f"{name}: {command}\n" for name, command in processes.items())
    parsed = parse_procfile(text)
    assert {entry.type: entry.command for entry in parsed.entries} == {
        name: command.strip() for name, command in processes.items()
    }
    assert [entry.line for entry in parsed.entries] == list(range(1, len(processes) + 1))


@pytest.mark.parametrize("char", ["\x1b", "\r", "\x0c", "\x1c", "\x7f", "\x85"])
def test_control_characters_in_a_command_are_refused(char: str) -> None:
    with pytest.raises(ProcfileControlCharacters) as info:
        parse_procfile(f"web: gunicorn app{char}:app --x\nworker: python w.py\n")
    assert info.value.line_number == 1
    assert "control characters" in info.value.detail
    assert char not in info.value.detail


def test_tabs_and_crlf_line_ends_are_fine() -> None:
    parsed = parse_procfile("web:\tgunicorn app:app\r\nworker: python w.py\r\n")
    assert [e.command for e in parsed.entries] == ["gunicorn app:app", "python w.py"]


def test_a_procfile_that_is_a_fifo_or_links_out_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "Procfile")
    with pytest.raises(ConfigFileUnreadable, match="Procfile"):
        read_procfile(AppSnapshot(tmp_path))
    (tmp_path / "Procfile").unlink()
    (tmp_path / "Procfile").symlink_to("/proc/self/environ")
    with pytest.raises(ConfigFileUnreadable) as info:
        read_procfile(AppSnapshot(tmp_path))
    assert "outside the app directory" in info.value.detail
