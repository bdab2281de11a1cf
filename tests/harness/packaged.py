"""Checks of a packaged buildpack (`tools/package.py`): run `bin/detect` the way the lifecycle
does, with a clean env, as another user, and prove it writes nothing into the buildpack.

Used by `tests/contract/test_package.py` and `bench/`; packaging itself only proves the runtime
imports what the buildpack needs.
"""

from __future__ import annotations

import os
import shutil
import stat
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from python_buildpack.archive import iter_tree
from tools.package import CLEAN_PATH, native_arch


class PackageCheckFailed(AssertionError):
    """The packaged buildpack misbehaves."""


@dataclass(frozen=True)
class CheckReport:
    detect_seconds: float  # median of a few runs, requirements.txt app, clean env
    checks: tuple[str, ...]  # what was checked, for the log


@dataclass(frozen=True)
class DetectRun:
    returncode: int
    stdout: str
    stderr: str
    plan: str  # the build plan written, "" if none
    seconds: float


def run_detect(
    package_dir: Path,
    app_dir: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    path: str = CLEAN_PATH,
    user: int | None = None,
) -> DetectRun:
    """`bin/detect` of a packaged buildpack the way the lifecycle runs it, with a clean env."""
    work = Path(tempfile.mkdtemp(prefix="detect-"))
    try:
        platform = work / "platform"
        platform.mkdir()
        plan = work / "plan.toml"
        env = {
            "PATH": path,
            "CNB_BUILDPACK_DIR": str(package_dir),
            "CNB_PLATFORM_DIR": str(platform),
            "CNB_BUILD_PLAN_PATH": str(plan),
            "CNB_TARGET_OS": "linux",
            "CNB_TARGET_ARCH": native_arch() or "amd64",
            **(extra_env or {}),
        }
        command = [str(package_dir / "bin" / "detect"), str(platform), str(plan)]
        if user is not None:
            work.chmod(0o777)
            command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=app_dir, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        return DetectRun(
            result.returncode,
            result.stdout,
            result.stderr,
            plan.read_text(encoding="utf-8") if plan.exists() else "",
            seconds,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _expect(run: DetectRun, code: int, what: str) -> None:
    if run.returncode != code:
        raise PackageCheckFailed(
            f"{what}: bin/detect exited {run.returncode}, expected {code}\n"
            f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
        )


def _others_can_reach(path: Path) -> bool:
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in [path, *path.parents])


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Each path's mtime and size, so that a file rewritten in place shows too."""
    stats = {p: p.lstat() for p in iter_tree(root)}
    return {p.relative_to(root).as_posix(): (s.st_mtime_ns, s.st_size) for p, s in stats.items()}


def check_modes(package_dir: Path) -> list[str]:
    """Paths another user could not read (or enter, or run)."""
    bad = []
    for path in iter_tree(package_dir):
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        needs = stat.S_IROTH
        if path.is_dir() or mode & stat.S_IXUSR:
            needs |= stat.S_IXOTH
        if mode & needs != needs:
            bad.append(path.relative_to(package_dir).as_posix())
    return bad


def verify_package(package_dir: Path, *, runs: int = 5) -> CheckReport:
    """Run the packaged buildpack as the lifecycle would; raise `PackageCheckFailed` if it
    misbehaves."""
    checks = []
    bad_modes = check_modes(package_dir)
    if bad_modes:
        raise PackageCheckFailed("not readable by other users: " + ", ".join(bad_modes[:10]))
    checks.append("every file readable, every directory and executable enterable by all users")
    before = _snapshot(package_dir)
    with tempfile.TemporaryDirectory(prefix="package-check-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        app, empty = root / "app", root / "empty"
        app.mkdir()
        empty.mkdir()
        (app / "requirements.txt").write_text("flask\n", encoding="utf-8")

        run = run_detect(package_dir, app, path="/nonexistent")
        _expect(run, 0, "an app with requirements.txt, no python3 on PATH")
        if "cpython" not in run.plan:
            raise PackageCheckFailed(f"bin/detect passed but wrote no build plan:\n{run.plan}")
        checks.append("detect passes for a requirements.txt app with no python3 on PATH")
        _expect(run_detect(package_dir, empty, path="/nonexistent"), 100, "an empty app")
        checks.append("detect fails (100) for an empty app")
        junk = {"PYTHONPATH": "/bad", "PYTHONHOME": "/bad", "PYTHONSTARTUP": "/bad"}
        _expect(run_detect(package_dir, app, extra_env=junk), 0, "PYTHONPATH/PYTHONHOME set")
        checks.append("detect ignores PYTHONPATH=/bad PYTHONHOME=/bad")
        if os.geteuid() == 0 and shutil.which("setpriv") and _others_can_reach(package_dir):
            run = run_detect(package_dir, app, user=1001)
            _expect(run, 0, "run as uid 1001")
            checks.append("detect passes as uid 1001")
        timings = [run_detect(package_dir, app).seconds for _ in range(runs)]
    after = _snapshot(package_dir)
    if after != before:
        changed = sorted(k for k in after.keys() | before.keys() if after.get(k) != before.get(k))
        raise PackageCheckFailed(
            "running detect wrote into the buildpack (bytecode not precompiled?): "
            + ", ".join(changed[:10])
        )
    checks.append("detect writes nothing into the buildpack")
    return CheckReport(statistics.median(timings), tuple(checks))
