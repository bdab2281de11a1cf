"""Layer fills in a thread (`layers.background`): they run while the build goes on, their
errors reach the build's thread, and a build never leaves one behind."""

from __future__ import annotations

import io
import re
import threading
import time

import pytest

from python_buildpack.errors import UserError
from python_buildpack.layers import background as background_module
from python_buildpack.layers.background import Background
from python_buildpack.output import Log


class Broken(UserError):
    def __init__(self) -> None:
        super().__init__("The wheel is broken", "Its sha256 did not match.", "Try again.")


def test_a_fill_runs_while_the_build_goes_on() -> None:
    started, go_on = threading.Event(), threading.Event()
    done: list[str] = []

    def work() -> None:
        started.set()
        # Blocks until the build's thread says so: it can only say so while the fill runs.
        assert go_on.wait(5)
        done.append("pip")

    with Background() as background:
        fill = background.start("pip", work)
        assert started.wait(5)
        assert done == []
        go_on.set()
        fill.wait()
    assert done == ["pip"]
    assert fill.seconds >= 0


def test_its_error_is_raised_where_the_build_waits_for_it() -> None:
    def work() -> None:
        raise Broken()

    with Background() as background:
        fill = background.start("uv", work)
        with pytest.raises(Broken):
            fill.wait()


def test_an_error_of_the_build_waits_for_its_fills_and_wins() -> None:
    release = threading.Event()
    ended: list[str] = []

    def work() -> None:
        release.wait(5)
        time.sleep(0.2)
        ended.append("pip")
        raise Broken()

    with pytest.raises(ValueError, match="Python failed"), Background() as background:
        background.start("pip", work)
        release.set()
        raise ValueError("Python failed")
    # Not left writing into its layer while the build reports its error.
    assert ended == ["pip"]


def test_a_fill_never_waited_for_is_a_bug() -> None:
    with (
        pytest.raises(RuntimeError, match=r"never waited for: \['pip'\]"),
        Background() as background,
    ):
        background.start("pip", lambda: None)


def test_its_log_says_how_long_it_took_and_how_long_the_build_waited() -> None:
    out = io.StringIO()
    with Background() as background:
        fill = background.start("uv", lambda: None)
        fill.log_done(Log(out, out), "Installing uv 0.13.9", alongside="Python")
    lines = out.getvalue().splitlines()
    assert lines[0] == "Installing uv 0.13.9, alongside Python"
    assert re.fullmatch(r"  \(done in \d+ms, the build waited \d+ms for it\)", lines[1])


def test_a_fill_stuck_in_a_download_never_holds_up_the_build_s_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(background_module, "ERROR_GRACE_SECONDS", 0.2)
    stuck = threading.Event()
    start = time.monotonic()
    with pytest.raises(ValueError, match="checksum"), Background() as background:
        background.start("uv", lambda: stuck.wait(30))
        raise ValueError("Python's checksum did not match")
    assert time.monotonic() - start < 5
    stuck.set()
