"""Start-up and warm own time of `bin/build`: issue 15's target 4 (<= 0.3 s on a warm rebuild).

    .venv/bin/python bench/startup.py [--runs 10] [--compare /path/to/other/checkout] [--top 15]
                                      [--instructions]

Packages the buildpack (its own CPython 3.13, vendored dependencies, precompiled bytecode, as
`make package` ships it) and, with `--compare`, another checkout the same way, then for each:

- import: `import python_buildpack.build` by the packaged runtime, the way `bin/python-buildpack`
  imports it (`-I`, `src` and `vendor` on sys.path), against a bare `python3 -I -c pass`;
- first line: from starting `bin/build` until its first line of output, on a warm rebuild;
- warm own time: the whole `bin/build` of a rebuild where nothing changed (bench/apps/web, pip),
  run the way the lifecycle runs it (clean env, the harness of the contract tests), after a cold
  build and one warm-up rebuild.

Runs are interleaved (one of each variant in turn) so that load from other processes hits all
alike; figures are median (min-max) in seconds. `--instructions` adds one run of each under
valgrind (cachegrind), whose instruction counts the load does not move. Needs no root and no
lifecycle. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/startup.py` puts bench/, not the checkout, first
    sys.path.insert(0, str(REPO))

from bench.runtimes import add_runtime_argument, bench_runtimes  # noqa: E402
from bench.stats import Series  # noqa: E402
from tests.harness.buildpack_dir import make_buildpack_dir  # noqa: E402
from tests.harness.http_server import FileServer  # noqa: E402
from tests.harness.package_index import PackageIndex  # noqa: E402
from tests.harness.phases import PhaseResult, Workspace, clean_env  # noqa: E402
from tests.harness.runtimes import BuiltRuntime  # noqa: E402
from tools.package import CLEAN_PATH, package_buildpack  # noqa: E402

WEB_APP = REPO / "bench" / "apps" / "web"
REUSED = "Using cached virtual environment since"
# What bin/python-buildpack runs, up to the import of the build phase.
IMPORT_BUILD = "import sys; sys.path[:0] = sys.argv[1:3]\nimport python_buildpack.build\n"
# One run under valgrind counts the instructions a run executes: a figure the load of a shared
# machine does not move (the wall times above it does), for comparing checkouts.
CACHEGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
INSTRUCTIONS_LINE = re.compile(r"I\s+refs:\s+([\d,]+)")
IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


class TimedWorkspace(Workspace):
    """A workspace whose phases are timed: in total and until their first line of output."""

    seconds: float = 0.0
    first_line_seconds: float = 0.0
    wrapper: tuple[str, ...] = ()  # e.g. valgrind, to count instructions instead

    def _run(self, phase: str, cnb_env: Mapping[str, str], path: str | None) -> PhaseResult:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*self.wrapper, str(self.buildpack_dir / "bin" / phase)],
            cwd=self.app,
            env=clean_env(cnb_env, path=path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        self.first_line_seconds = time.perf_counter() - started
        rest, stderr = proc.communicate(timeout=1800)
        self.seconds = time.perf_counter() - started
        return PhaseResult(proc.returncode, first + rest, stderr)


@dataclass
class Variant:
    """One checkout, packaged, with its own workspace."""

    name: str
    package: Path
    workspace: TimedWorkspace
    import_build: Series = field(default_factory=Series)
    bare_python: Series = field(default_factory=Series)
    first_line: Series = field(default_factory=Series)
    warm: Series = field(default_factory=Series)

    @property
    def python(self) -> Path:
        return self.package / "runtime" / "bin" / "python3"

    def import_command(self, *flags: str) -> list[str]:
        src, vendor = self.package / "src", self.package / "vendor"
        return [str(self.python), "-I", *flags, "-c", IMPORT_BUILD, str(src), str(vendor)]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env={"PATH": CLEAN_PATH}, check=True)
    return time.perf_counter() - started


def measure_imports(variant: Variant) -> None:
    variant.import_build.add(timed(variant.import_command()))
    variant.bare_python.add(timed([str(variant.python), "-I", "-c", "pass"]))


def warm_rebuild(variant: Variant) -> None:
    ws = variant.workspace
    result = ws.build()
    if result.exit_code != 0 or REUSED not in result.stdout:
        raise RuntimeError(f"{variant.name}: not a warm rebuild:\n{result.output}")
    variant.warm.add(ws.seconds)
    variant.first_line.add(ws.first_line_seconds)


def instructions(variant: Variant) -> tuple[int, int]:
    """Instructions of the import and of a warm `bin/build` (its launcher included)."""
    proc = subprocess.run(
        [*CACHEGRIND, *variant.import_command()],
        env={"PATH": CLEAN_PATH},
        capture_output=True,
        text=True,
        check=True,
    )
    imports = sum(int(n.replace(",", "")) for n in INSTRUCTIONS_LINE.findall(proc.stderr))
    ws = variant.workspace
    ws.wrapper = (*CACHEGRIND, "--trace-children=yes")
    try:
        result = ws.build()
    finally:
        ws.wrapper = ()
    if result.exit_code != 0 or REUSED not in result.stdout:
        raise RuntimeError(f"{variant.name}: not a warm rebuild:\n{result.output}")
    warm = sum(int(n.replace(",", "")) for n in INSTRUCTIONS_LINE.findall(result.stderr))
    return imports, warm


def importtime_top(variant: Variant, top: int) -> list[str]:
    """The `top` modules of `-X importtime` by their own time (one run, after the others)."""
    proc = subprocess.run(
        variant.import_command("-X", "importtime"),
        env={"PATH": CLEAN_PATH},
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for match in IMPORTTIME_LINE.finditer(proc.stderr):
        own, cumulative, _, name = match.groups()
        rows.append((int(own), int(cumulative), name))
    total = sum(own for own, _, _ in rows)
    lines = [f"{variant.name}: {len(rows)} modules, {total / 1e6:.3f}s of own import time"]
    for own, cumulative, name in sorted(rows, reverse=True)[:top]:
        lines.append(f"  {own / 1e3:7.1f} ms own {cumulative / 1e3:8.1f} ms cum  {name}")
    return lines


def prepare(
    name: str,
    checkout: Path,
    work: Path,
    runtime: BuiltRuntime,
    runtimes: list[BuiltRuntime],
    mirror_url: str,
    index: PackageIndex,
) -> Variant:
    packaged = package_buildpack(
        runtime.arch, runtime.archive_path, work / f"package-{name}", repo=checkout
    )
    bp_dir = make_buildpack_dir(
        work / f"buildpack-{name}", runtimes, mirror_url, source=packaged.dir
    )
    ws = TimedWorkspace(work / f"ws-{name}", buildpack_dir=bp_dir)
    ws.copy_app(WEB_APP)
    (ws.app / ".python-version").write_text(runtime.minor + "\n")
    for variable, value in index.pip_env.items():
        ws.set_platform_env(variable, value)
    variant = Variant(name, packaged.dir, ws)
    cold = ws.build()
    if cold.exit_code != 0:
        raise RuntimeError(f"{name}: the cold build failed:\n{cold.output}")
    warm_rebuild(variant)  # warm-up: the page cache, the first run of each file
    variant.warm, variant.first_line = Series(), Series()
    return variant


def show(series: Series) -> str:
    return series.show(digits=3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--compare", type=Path, help="another checkout to measure alongside")
    parser.add_argument("--top", type=int, default=15, help="modules listed by own import time")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions (needs valgrind)"
    )
    add_runtime_argument(parser)
    args = parser.parse_args(argv)

    bench_python = bench_runtimes(args.runtime)
    runtime, runtimes = bench_python.runtime, bench_python.runtimes
    work = Path(tempfile.mkdtemp(prefix="python-buildpack-startup-"))
    checkouts = {"this": REPO}
    if args.compare:
        checkouts["compare"] = args.compare.resolve()
    try:
        with FileServer(bench_python.mirror_root) as mirror, PackageIndex.start() as index:
            variants = [
                prepare(name, path, work, runtime, runtimes, mirror.url, index)
                for name, path in checkouts.items()
            ]
            for _ in range(args.runs):
                for variant in variants:
                    measure_imports(variant)
                    warm_rebuild(variant)
            tops = [importtime_top(v, args.top) for v in variants] if args.top else []
            counts = [instructions(v) for v in variants] if args.instructions else []
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(
        f"cores: {os.cpu_count()}, load average at the end: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, runs: {args.runs}, "
        f"runtime: {bench_python.describe}"
    )
    for name, path in checkouts.items():
        print(f"{name}: {path}")
    header = f"{'':28}" + "".join(f"{v.name:>28}" for v in variants)
    print(header)
    rows = {
        "python3 -I -c pass": lambda v: v.bare_python,
        "import python_buildpack.build": lambda v: v.import_build,
        "bin/build, first line (warm)": lambda v: v.first_line,
        "bin/build, warm own time": lambda v: v.warm,
    }
    for label, pick in rows.items():
        print(f"{label:28}" + "".join(f"{show(pick(v)):>28}" for v in variants))
    for variant, (imports, warm) in zip(variants, counts, strict=False):
        print(
            f"{variant.name}: instructions: import {imports / 1e9:.3f} G, "
            f"warm bin/build {warm / 1e9:.3f} G"
        )
    for variant in variants:
        status = "met" if variant.warm.median <= 0.3 else "missed"
        print(f"target 4 (warm own time <= 0.3s), {variant.name}: {status}")
    for lines in tops:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
