"""Running subprocesses the way a build log wants them.

Commands always get an explicit environment, stream their output to the log (indented) and keep
the tail of it so a failure can be explained without scrolling.
"""

from __future__ import annotations

import shlex
import subprocess
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    with subprocess.Popen(
        [str(c) for c in cmd],
        env=dict(env),
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
    cmd: Sequence[str | Path], *, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a short command whose output we parse rather than show."""
    return subprocess.run(
        [str(c) for c in cmd],
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
