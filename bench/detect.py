"""Detect time: `bin/detect` of the packaged buildpack against a bare start of its interpreter."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.stats import Series
from tests.harness.packaged import run_detect
from tools.package import CLEAN_PATH


def interpreter_start(runtime_python: Path) -> float:
    """Seconds for `python3 -I -c pass`: the floor any Python buildpack's detect pays."""
    started = time.perf_counter()
    subprocess.run([runtime_python, "-I", "-c", "pass"], env={"PATH": CLEAN_PATH}, check=True)
    return time.perf_counter() - started


def measure_detect(package_dir: Path, app: Path, runs: int) -> tuple[Series, Series]:
    """`runs` of each, interleaved so that a burst of load hits both alike; a warm-up first."""
    detect, python = Series(), Series()
    runtime_python = package_dir / "runtime" / "bin" / "python3"
    run_detect(package_dir, app)
    interpreter_start(runtime_python)
    for _ in range(runs):
        result = run_detect(package_dir, app)
        if result.returncode != 0:
            raise RuntimeError(f"bin/detect failed on {app}:\n{result.stdout}\n{result.stderr}")
        detect.add(result.seconds)
        python.add(interpreter_start(runtime_python))
    return detect, python
