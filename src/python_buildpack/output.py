"""The build log.

A header per step, a line per decision (with its reason), timings for slow steps, and errors
rendered from `errors.UserError` without a traceback. Output goes to stdout so that platforms
interleave it correctly with the output of the commands we run; errors go to stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .errors import UserError
from .redact import sanitize

if TYPE_CHECKING:
    from typing import TextIO

INDENT = "  "


class Log:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout
        self._err = err if err is not None else sys.stderr
        # The step under way (the last header), to say what a file system error interrupted.
        self.step = ""

    def _write(self, stream: TextIO, text: str) -> None:
        stream.write(text + "\n")
        stream.flush()

    def title(self, text: str) -> None:
        """The first line of a phase, e.g. the buildpack name and version."""
        self._write(self._out, f"# {text}")

    def header(self, text: str) -> None:
        """A build step: `[Installing Python]`."""
        self.step = text
        self._write(self._out, f"\n[{text}]")

    def info(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._write(self._out, line)

    def detail(self, text: str) -> None:
        """A sub-point of the previous line (e.g. one reason of several)."""
        for line in text.splitlines():
            self._write(self._out, f"{INDENT}- {line}")

    def command_output(self, line: str) -> None:
        self._write(self._out, f"{INDENT}{line.rstrip()}")

    def warning(self, title: str, body: str = "") -> None:
        lines = [f"\n! WARNING: {sanitize(title)}"]
        lines += [f"! {line}".rstrip() for line in sanitize(body.strip()).split("\n") if body]
        self._write(self._out, "\n".join(lines) + "\n")

    def user_error(self, error: UserError) -> None:
        # The net under every message: whatever a message quotes, the log gets no secret, no
        # control character and no flood.
        lines = [f"\n! ERROR: {sanitize(error.title, max_lines=1, max_line=300)}", "!"]
        lines += [f"! {line}".rstrip() for line in sanitize(error.render()).split("\n")]
        self._write(self._err, "\n".join(lines) + "\n")

    def internal_error(self, traceback_text: str) -> None:
        self._write(
            self._err,
            "\n! INTERNAL ERROR: the buildpack failed unexpectedly.\n"
            "! This is a bug in the buildpack, not in your app. Please report it, with this\n"
            "! build log, at https://github.com/python-buildpack/python-buildpack/issues\n\n"
            + traceback_text,
        )

    @contextmanager
    def timed(self, text: str) -> Iterator[None]:
        """Print `text`, run the block, then say how long it took."""
        self._write(self._out, text)
        start = time.monotonic()
        yield
        self.done(time.monotonic() - start)

    def done(self, seconds: float, note: str = "") -> None:
        """The line that ends a timed step: `(done in 2.4s)`, or `(done in 2.4s, <note>)`."""
        extra = f", {note}" if note else ""
        self._write(self._out, f"{INDENT}(done in {format_duration(seconds)}{extra})")


def format_duration(seconds: float) -> str:
    if seconds < 0.1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m {secs:02d}s"
