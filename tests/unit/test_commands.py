"""`commands`: the one way to start a program, and the error when one cannot be started."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from python_buildpack import commands
from python_buildpack.errors import (
    CommandExecFailed,
    CommandNotExecutable,
    CommandNotFound,
    CommandNotStarted,
    CommandWorkDirMissing,
    CommandWrongFormat,
)
from python_buildpack.output import Log

ENV = {"PATH": "/usr/bin:/bin"}


def test_run_streams_indented_output_redacts_and_keeps_the_tail(
    log: Log, log_output: io.StringIO
) -> None:
    result = commands.run(
        ["sh", "-c", "echo one; echo 'token s3cret' >&2; exit 3"],
        env=ENV,
        log=log,
        redact=["s3cret"],
    )
    assert (result.exit_code, result.ok) == (3, False)
    assert result.output == "one\ntoken ***"
    assert log_output.getvalue() == "  one\n  token ***\n"


def test_run_gives_only_the_env_it_is_passed(log: Log, log_output: io.StringIO) -> None:
    result = commands.run(["sh", "-c", "env"], env={"ONLY": "this"}, log=log, quiet=True)
    assert log_output.getvalue() == ""
    # sh itself adds PWD (and sometimes SHLVL, _); nothing of the host's env comes along.
    names = {line.split("=", 1)[0] for line in result.output.splitlines()}
    assert "ONLY" in names and "HOME" not in names and "PATH" not in names


def test_a_missing_program_is_a_clear_error(tmp_path: Path, log: Log) -> None:
    missing = tmp_path / "bin" / "pip"
    with pytest.raises(CommandNotFound) as info:
        commands.run([missing, "install", "flask"], env=ENV, log=log)
    error = info.value
    assert error.title == f"Unable to run '{missing} install flask'"
    assert f"{missing} was not found at that path" in error.render()
    assert error.fix and "installed" in error.fix
    with pytest.raises(CommandNotFound, match="no-such-program-here was not found on PATH"):
        commands.capture(["no-such-program-here"], env=ENV)


def test_a_file_that_is_not_executable_is_a_clear_error(tmp_path: Path, log: Log) -> None:
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(CommandNotExecutable) as info:
        commands.run([script], env=ENV, log=log)
    assert f"{script} is not executable (permission denied)" in info.value.render()
    assert "chmod +x" in info.value.fix
    with pytest.raises(CommandNotExecutable):
        commands.capture([script], env=ENV)
    with pytest.raises(CommandNotExecutable):
        commands.capture([tmp_path], env=ENV)  # a directory


def test_a_file_of_another_format_is_a_clear_error(tmp_path: Path) -> None:
    # Executable, but neither ELF nor a script: what a binary for another CPU looks like to exec.
    binary = tmp_path / "python3"
    binary.write_bytes(b"\x00\x01\x02not a program")
    binary.chmod(0o755)
    with pytest.raises(CommandWrongFormat, match="exec format error") as info:
        commands.capture([binary, "-V"], env=ENV)
    assert "built for this machine's CPU" in info.value.fix


def test_any_other_start_failure_names_the_program_and_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def popen(*args: object, **kwargs: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(commands.subprocess, "Popen", popen)
    with pytest.raises(CommandExecFailed) as info:
        commands.capture(["pip", "install"], env=ENV)
    assert isinstance(info.value, CommandNotStarted)
    assert info.value.command == "pip install"
    assert "starting pip failed: Resource temporarily unavailable" in info.value.render()


def test_a_missing_working_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(CommandWorkDirMissing, match=r"working directory .*gone does not exist"):
        commands.capture(["true"], env=ENV, cwd=tmp_path / "gone")


def test_capture_keeps_stdout_and_stderr_apart_and_takes_input(tmp_path: Path) -> None:
    result = commands.capture(["sh", "-c", "cat; echo err >&2; exit 2"], env=ENV, input="in\n")
    assert (result.returncode, result.stdout, result.stderr) == (2, "in\n", "err\n")
    source = tmp_path / "stdin"
    source.write_bytes(b"from a file\n")
    with source.open("rb") as f:
        assert commands.capture(["cat"], env=ENV, stdin=f).stdout == "from a file\n"
    assert commands.capture(["cat"], env=ENV).stdout == ""  # no stdin: nothing to read


def test_capture_kills_a_command_past_its_timeout() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        commands.capture(["sleep", "30"], env=ENV, timeout=0.2)


def test_reading_streams_stdout_then_reports_the_exit_status() -> None:
    with commands.reading(["sh", "-c", "echo a; echo b; echo oops >&2; exit 4"], env=ENV) as cmd:
        assert cmd.stdout.readline() == b"a\n"
    # What the block left unread was drained before waiting.
    assert (cmd.exit_code, cmd.stderr) == (4, "oops")
    with pytest.raises(CommandNotFound), commands.reading(["/nonexistent/zstd"], env=ENV):
        pass
