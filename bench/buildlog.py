"""Times read back from the buildpack's build log.

The log has a `[Header]` per step and `(done in 2.4s)` after each timed command (see
`python_buildpack.output.Log.timed`); the run ends with `Done (20.0s)`. Timed commands are summed
per header, so "Installing Python" is download + verify + unpack + relocate, and "Installing
dependencies using pip" is venv creation + the install command (not `pip check`, which is not
timed in the log: it lands in "other"). A layer filled alongside Python (pip's, uv's) counts its
own time, most of which overlapped with Python's.
"""

from __future__ import annotations

import re

HEADER = re.compile(r"^\[(?P<title>[^\]]+)\]\s*$")
# `(done in 0.5s, the build waited 3ms for it)` for a layer filled alongside another
# (`python_buildpack.layers.background`): the first figure is the fill's own time.
DONE_IN = re.compile(r"^\s+\(done in (?P<duration>[^,)]+)(?:, [^)]*)?\)\s*$")
TOTAL = re.compile(r"^Done \((?P<duration>[^)]+)\)\s*$")
DURATION = re.compile(r"^(?:(?P<m>\d+)m\s*(?P<ms>\d+)s|(?P<s>[\d.]+)s|(?P<milli>\d+)ms)$")


def parse_duration(text: str) -> float:
    """`20ms`, `2.4s` or `1m 05s` (the formats of `output.format_duration`) in seconds."""
    match = DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    if match["m"] is not None:
        return int(match["m"]) * 60 + int(match["ms"])
    if match["s"] is not None:
        return float(match["s"])
    return int(match["milli"]) / 1000


def step_times(log: str) -> dict[str, float]:
    """Seconds of timed work under each `[Header]` of the log, in order of appearance."""
    steps: dict[str, float] = {}
    header = ""
    for line in log.splitlines():
        if match := HEADER.match(line):
            header = match["title"]
            continue
        if (match := DONE_IN.match(line)) and header:
            steps[header] = steps.get(header, 0.0) + parse_duration(match["duration"])
    return steps


def total_time(log: str) -> float | None:
    """The buildpack's own `Done (…)` time: from its first line to its last, in process."""
    for line in reversed(log.splitlines()):
        if match := TOTAL.match(line):
            return parse_duration(match["duration"])
    return None
