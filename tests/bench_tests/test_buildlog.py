"""bench/buildlog.py reads the log the buildpack's `Log` writes: the two must not drift apart."""

from __future__ import annotations

import io

import pytest

from bench.buildlog import parse_duration, step_times, total_time
from python_buildpack.output import Log, format_duration


@pytest.mark.parametrize(
    ("seconds", "read_back"),
    [(0.003, 0.003), (0.0994, 0.099), (0.1, 0.1), (2.44, 2.4), (59.9, 59.9), (65.2, 65.0)],
)
def test_every_duration_the_log_prints_reads_back(seconds: float, read_back: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(read_back)


def test_not_a_duration_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def a_build_log() -> str:
    """A log written by the buildpack's own `Log`, as `bin/build` writes it."""
    out = io.StringIO()
    log = Log(out, out)
    log.header("Installing Python")
    log.info("Installing Python 3.13.15")
    log.done(0.9)
    log.header("Installing pip")
    log.info("Installing pip 26.3, alongside Python")
    log.done(0.45, "the build waited 0ms for it")
    log.header("Installing dependencies using pip")
    log.done(0.052)
    log.command_output("Successfully installed flask-3.1.3 (in 9.9s)")
    log.done(1.3)
    log.done(0.6)
    log.info("\nDone (3.3s)")
    return out.getvalue()


def test_step_times_sum_the_timed_commands_under_each_header() -> None:
    steps = step_times(a_build_log())
    assert list(steps) == [
        "Installing Python",
        "Installing pip",
        "Installing dependencies using pip",
    ]
    assert steps["Installing Python"] == pytest.approx(0.9)
    # A layer filled alongside Python: its own time, not the build's wait.
    assert steps["Installing pip"] == pytest.approx(0.5)
    assert steps["Installing dependencies using pip"] == pytest.approx(0.052 + 1.3 + 0.6)


def test_total_time_is_the_buildpack_s_done_line() -> None:
    assert total_time(a_build_log()) == pytest.approx(3.3)
    assert total_time("[Installing Python]\n  (done in 0.9s)\n") is None
