"""bin/build and the Python version policy: end-of-life warnings, the grace period, notes.

bin/build takes today's date from the clock, so these tests move the policy instead: each lays
out a buildpack whose `python-versions.toml` puts a test runtime's minor at the wanted point of
its end-of-life policy relative to today.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import runtime_by_minor
from tests.harness.buildpack_dir import make_buildpack_dir
from tests.harness.http_server import FileServer
from tests.harness.phases import Workspace
from tests.harness.runtimes import BuiltRuntime, shipped_minors


def policy(minor: str, *, eol_days_ago: int, builds_stop_in: int) -> list[dict[str, Any]]:
    """The shipped policy, except that `minor` ended `eol_days_ago` and stops building in
    `builds_stop_in` days (negative: stopped that many days ago)."""
    today = date.today()
    eol = today - timedelta(days=eol_days_ago)
    changed = {
        "version": minor,
        "warn_from": eol - timedelta(days=183),
        "eol": eol,
        "builds_stop": today + timedelta(days=builds_stop_in),
    }
    return [changed if entry["version"] == minor else entry for entry in shipped_minors()]


def app_asking_for(ws: Workspace, content: str) -> None:
    (ws.app / ".python-version").write_text(content)
    (ws.app / "requirements.txt").write_text("")


def test_grace_period_builds_with_a_warning_at_the_top_and_the_end(
    tmp_path: Path, runtimes: list[BuiltRuntime], python_mirror: FileServer
) -> None:
    runtime = runtime_by_minor(runtimes, "3.11")
    minors = policy("3.11", eol_days_ago=10, builds_stop_in=60)
    buildpack = make_buildpack_dir(tmp_path / "bp", runtimes, python_mirror.url, minors=minors)
    ws = Workspace(tmp_path / "ws", buildpack_dir=buildpack)
    app_asking_for(ws, "3.11\n")

    result = ws.build()

    assert result.exit_code == 0, result.output
    eol = (date.today() - timedelta(days=10)).isoformat()
    stop = date.today() + timedelta(days=60)
    last = (stop - timedelta(days=1)).isoformat()
    title = (
        f"! WARNING: Python 3.11 reached its end of life on {eol}: builds asking for it fail "
        f"from {stop.isoformat()}"
    )
    assert result.stdout.count(title) == 2, result.stdout
    top, end = result.stdout.index(title), result.stdout.rindex(title)
    assert top < result.stdout.index("[Installing Python]") < end < result.stdout.index("\nDone")
    assert f"grace period, which ends on {last}" in result.stdout
    newest = runtimes[-1].minor
    assert f"Upgrade the app to Python {newest} and write {newest} in .python-version" in (
        result.stdout
    )
    # The warning names the upgrade: no second note about the newer minor.
    assert f"Note: Python {newest} is the newest version" not in result.stdout
    assert f"Installing Python {runtime.version}" in result.stdout


def _unused_runtime(tmp_path: Path, version: str) -> BuiltRuntime:
    """A manifest entry whose archive is never fetched: the build must fail before that."""
    archive = tmp_path / f"python-{version}-linux-amd64.tar.gz"
    archive.write_bytes(b"never downloaded")
    return BuiltRuntime(version, "amd64", archive, hashlib.sha256(archive.read_bytes()).hexdigest())


def test_after_the_grace_period_the_build_fails_with_both_dates(tmp_path: Path) -> None:
    runtimes = [_unused_runtime(tmp_path, "3.11.2"), _unused_runtime(tmp_path, "3.13.5")]
    minors = policy("3.11", eol_days_ago=100, builds_stop_in=-1)
    buildpack = make_buildpack_dir(tmp_path / "bp", runtimes, "http://127.0.0.1:9", minors=minors)
    ws = Workspace(tmp_path / "ws", buildpack_dir=buildpack)
    app_asking_for(ws, "3.11  # the version our CI uses\n")

    result = ws.build()

    assert result.exit_code == 1, result.output
    eol = (date.today() - timedelta(days=100)).isoformat()
    stop = (date.today() - timedelta(days=1)).isoformat()
    assert "! ERROR: Python 3.11 has reached its end of life" in result.stderr
    assert f"reached its end of life on {eol}" in result.stderr
    assert f"they fail from {stop} on" in result.stderr
    assert "ideally 3.13" in result.stderr
    assert "Traceback" not in result.output
    assert not any(ws.layers.iterdir())


def test_an_older_patch_is_noted_and_trailing_comments_are_ignored(
    ws: Workspace, runtimes: list[BuiltRuntime]
) -> None:
    newest = runtime_by_minor(runtimes, "3.13")
    older = next(r for r in runtimes if r.minor == "3.13" and r.version != newest.version)
    app_asking_for(ws, f"# the app's Python\n{older.version}  # pinned for numpy\n")

    result = ws.build()

    assert result.exit_code == 0, result.output
    assert f"Python {older.version} ({older.version} requested in .python-version)" in (
        result.stdout
    )
    notes = [line for line in result.stdout.splitlines() if line.startswith("Note: ")]
    assert notes == [
        f"Note: Python {newest.version} is the newest 3.13 release (with bug and security "
        "fixes); ask for 3.13 to get each new 3.13 release automatically."
    ]
    assert "WARNING" not in result.stdout


def test_no_version_requested_suggests_a_python_version_file(
    ws: Workspace, runtimes: list[BuiltRuntime]
) -> None:
    (ws.app / "requirements.txt").write_text("")

    result = ws.build()

    assert result.exit_code == 0, result.output
    default = runtimes[-1]
    assert f"Python {default.version} (no version requested, using the default)" in result.stdout
    assert f"Add a .python-version file containing {default.minor}" in result.stdout
