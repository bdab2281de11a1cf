"""Layer files made in a thread while the build goes on.

A cold build installs Python (download, sha256, unpack: 1-2 s), then pip's or uv's wheel
(0.5-1 s). Unpacking those wheels needs nothing of the python layer but its path (for the
scripts' `#!` line) and its version, both known before it exists, so their layers are filled
alongside it. Threads are enough: the work is zlib, sha256 and file writes, which release the
GIL. Measured in-process on 2 cores, medians of 4 (`bench/`): Python alone 0.71 s, Python and
pip together 0.76 s (pip alone 0.19 s), Python and uv together 0.69 s (uv alone 0.48 s).

Nothing is logged from a thread: the step that waits for the files says what was done
(`Fill.log_done`), so the log reads in the same order as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from ..output import Log, format_duration


class Fill:
    """One layer's files, made by `work` in a thread of its own from the moment it is created."""

    def __init__(self, name: str, work: Callable[[], None]) -> None:
        self.name = name
        self._work = work
        self._error: BaseException | None = None
        self._started = time.monotonic()
        self._ended: float | None = None
        self.waited_for = False
        # A daemon: a signal that ends the build ends it too. The layer it was filling has no
        # `<name>.toml` yet, so no later build trusts what it left.
        self._thread = threading.Thread(target=self._run, name=f"fill-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as error:
            # Re-raised by wait(), in the build's thread.
            self._error = error
        finally:
            self._ended = time.monotonic()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def wait(self) -> float:
        """Wait for the files; re-raise what stopped `work`. Returns how long it waited."""
        start = time.monotonic()
        self.waited_for = True
        self._thread.join()
        if self._error is not None:
            raise self._error
        return time.monotonic() - start

    @property
    def seconds(self) -> float:
        """How long `work` took, start to end (once it has ended)."""
        if self._ended is None:
            raise RuntimeError(f"the fill of {self.name!r} has not ended")
        return self._ended - self._started

    def log_done(self, log: Log, text: str, alongside: str) -> None:
        """Wait, then log it as a timed step of its own: `text`, how long the work took, and
        how much of that the build waited for."""
        log.info(f"{text}, alongside {alongside}")
        waited = self.wait()
        log.done(self.seconds, f"the build waited {format_duration(waited)} for it")


# How long a build that failed waits for its fills before it reports its error: long enough
# for a fill about to end to end, short enough that a download stuck in its timeouts (30 s, 3
# attempts) never holds up the report of, say, a Python checksum mismatch.
ERROR_GRACE_SECONDS = 2.0


class Background:
    """The fills started during a build, as a context that checks each was waited for.

    On an error the build waits for its fills up to `ERROR_GRACE_SECONDS` in all, then
    reports its own error (a fill's, never waited for, is dropped: the build's error is the one
    it stopped on). A fill still running then is a daemon thread that ends with the process;
    its layer has no `<name>.toml`, so the next build starts it afresh. Leaving normally with a
    fill nobody waited for is a bug: its layer would be left unfinished."""

    def __init__(self) -> None:
        self._fills: list[Fill] = []

    def start(self, name: str, work: Callable[[], None]) -> Fill:
        fill = Fill(name, work)
        self._fills.append(fill)
        return fill

    def __enter__(self) -> Background:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None:
            deadline = time.monotonic() + ERROR_GRACE_SECONDS
            for fill in self._fills:
                fill.join(max(0.0, deadline - time.monotonic()))
            return
        # Each fill waited for has ended (`wait` joins it); any other is a bug, reported once
        # it has stopped writing.
        forgotten = [fill for fill in self._fills if not fill.waited_for]
        for fill in forgotten:
            fill.join()
        if forgotten:
            names = [fill.name for fill in forgotten]
            raise RuntimeError(f"layer fills started but never waited for: {names}")
