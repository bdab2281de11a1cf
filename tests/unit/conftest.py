"""Fixtures the unit tests share."""

from __future__ import annotations

import io

import pytest

from python_buildpack.output import Log


@pytest.fixture
def log_output() -> io.StringIO:
    """What `log` wrote, stdout and stderr together."""
    return io.StringIO()


@pytest.fixture
def log(log_output: io.StringIO) -> Log:
    return Log(out=log_output, err=log_output)
