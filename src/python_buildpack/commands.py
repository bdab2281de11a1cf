"""Running subprocesses: the one way the buildpack and its operator tools start a program.

Every command gets an explicit environment (never the host's by accident). `run` streams the
output to the build log (indented, secrets redacted) and keeps its tail so a failure can be
explained without scrolling; `capture` runs a short command whose output is parsed rather than
shown; `reading` streams a command's stdout to the caller (a decompressor, say). A program that
cannot be started at all (missing, not executable, wrong format) is a `CommandNotStarted` that
names the command and the reason, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import shlex
import subprocess
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import (
    CommandExecFailed,
    CommandNotExecutable,
    CommandNotFound,
    CommandNotStarted,
    CommandWorkDirMissing,
    CommandWrongFormat,
)
from .output import Log

TAIL_LINES = 40


@dataclass(frozen=True)
class Result:
    exit_code: int
    output: str  # the last TAIL_LINES lines, stdout and stderr merged

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def display(cmd: Sequence[str | Path]) -> str:
    return shlex.join(str(c) for c in cmd)


def _not_started(cmd: Sequence[str], cwd: Path | None, error: OSError) -> CommandNotStarted:
    """The error for a program the kernel would not start, by what is wrong with it."""
    shown = display(cmd)
    if cwd is not None and str(error.filename) == str(cwd):
        # Popen names the working directory when it is the one missing.
        return CommandWorkDirMissing(shown, str(cwd))
    if isinstance(error, FileNotFoundError):
        return CommandNotFound(shown, cmd[0])
    if isinstance(error, PermissionError):
        return CommandNotExecutable(shown, cmd[0])
    if error.errno == errno.ENOEXEC:
        return CommandWrongFormat(shown, cmd[0])
    return CommandExecFailed(shown, cmd[0], error.strerror or str(error))


def _popen(
    cmd: Sequence[str | Path], *, env: Mapping[str, str], cwd: Path | None, **kwargs: Any
) -> subprocess.Popen[Any]:
    args = [str(c) for c in cmd]
    try:
        return subprocess.Popen(args, env=dict(env), cwd=cwd, **kwargs)
    except OSError as e:
        raise _not_started(args, cwd, e) from None


def run(
    cmd: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    log: Log,
    cwd: Path | None = None,
    quiet: bool = False,
    redact: Sequence[str] = (),
) -> Result:
    """Run `cmd`, streaming merged stdout/stderr to the log unless `quiet`.

    `redact` lists secrets that must never reach the log (they are replaced by `***`).
    """
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with _popen(
        cmd,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            for secret in redact:
                if secret:
                    line = line.replace(secret, "***")
            tail.append(line.rstrip("\n"))
            if not quiet:
                log.command_output(line)
        exit_code = proc.wait()
    return Result(exit_code, "\n".join(tail))


def capture(
    cmd: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    input: str | None = None,
    stdin: IO[bytes] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a short command whose output we parse rather than show; stdout and stderr apart.

    `input` is text for its stdin, or `stdin` a file to read from (else it reads nothing).
    A command still running after `timeout` seconds is killed (`subprocess.TimeoutExpired`).
    """
    with _popen(
        cmd,
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE if input is not None else (stdin or subprocess.DEVNULL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    ) as proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    args = [str(c) for c in cmd]
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


def start_quiet(
    cmd: Sequence[str | Path], *, env: Mapping[str, str], stderr: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """Start a command whose output nobody reads as it runs (stdin, stdout on /dev/null; stderr
    too, or into the file `stderr`, to explain a failure), for work alongside the build; the
    caller waits for it, or kills it."""
    quiet = subprocess.DEVNULL
    popen: subprocess.Popen[bytes] = _popen(
        cmd, env=env, cwd=None, stdin=quiet, stdout=quiet, stderr=stderr or quiet
    )
    return popen


@dataclass
class Reading:
    """A command whose stdout is being read; `exit_code` and `stderr` once it has ended."""

    stdout: IO[bytes]
    exit_code: int = 0
    stderr: str = ""


@contextlib.contextmanager
def reading(cmd: Sequence[str | Path], *, env: Mapping[str, str]) -> Iterator[Reading]:
    """Start `cmd` and hand its stdout (bytes) to the block; on the way out, read what is left
    of it (so the exit status means the whole output was written) and wait for it to end."""
    proc = _popen(
        cmd,
        env=env,
        cwd=None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    reading = Reading(proc.stdout)
    try:
        yield reading
        while proc.stdout.read(1024 * 1024):
            pass
    finally:
        proc.stdout.close()
        reading.stderr = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        reading.exit_code = proc.wait()
