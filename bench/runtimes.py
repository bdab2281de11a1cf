"""The CPython the benchmarks build with, for the buildpack's own runtime and the apps' Python.

What ships runs on python-build-standalone's archives (the manifest's), built with PGO and LTO;
the tests' runtimes (`tests/harness/runtimes.py`) are built without, to keep a fresh machine's
test run short, and run pure Python about 1.5 times slower. So by default the benchmarks build
the newest 3.13 with PGO and LTO (`--runtime optimized`: about 30 minutes on 2 cores the first
time, then cached under ~/.cache/python-buildpack/), the figures of what ships; `--runtime test`
takes the tests' runtimes instead, with nothing to build.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from tests.harness.cpython_sources import version_key
from tests.harness.runtimes import RUNTIMES_DIR, BuiltRuntime, ensure_newest, ensure_runtimes

BENCH_MINOR = "3.13"  # every app of the benchmarks asks for it
CHOICES = {
    "optimized": "built with PGO and LTO, like the archives that ship",
    "test": "the tests' runtime, built without PGO and LTO",
}


@dataclass(frozen=True)
class BenchRuntimes:
    kind: str
    # The buildpack's own runtime and the apps' Python (the newest 3.13).
    runtime: BuiltRuntime
    # The manifest of the buildpack under test, served from `mirror_root`.
    runtimes: list[BuiltRuntime]
    mirror_root: Path

    @property
    def describe(self) -> str:
        return f"CPython {self.runtime.version}, {CHOICES[self.kind]}"


def add_runtime_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        choices=tuple(CHOICES),
        default="optimized",
        help="the CPython of the buildpack and the apps: built with PGO and LTO like what "
        "ships (default; about 30 minutes to build the first time), or the tests' runtime",
    )


def bench_runtimes(kind: str) -> BenchRuntimes:
    if kind == "optimized":
        runtime = ensure_newest(BENCH_MINOR, optimized=True)
        return BenchRuntimes(kind, runtime, [runtime], runtime.archive_path.parent)
    runtimes = ensure_runtimes()
    return BenchRuntimes(kind, newest(runtimes, BENCH_MINOR), runtimes, RUNTIMES_DIR)


def newest(runtimes: list[BuiltRuntime], minor: str) -> BuiltRuntime:
    return max((r for r in runtimes if r.minor == minor), key=lambda r: version_key(r.version))
